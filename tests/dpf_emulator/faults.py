"""Fault injection for the DPF emulator.

HTTP faults hit requests before they reach the API, so a faulted request has no
effect on state (``"latency"`` only delays it and then lets it through)::

    emu.add_fault(FaultRule(action=429, methods={"POST"}, times=1, retry_after=2))
    emu.add_fault(FaultRule(action="drop", path=r"^/zones/[^/]+/changes$", every=2))
    emu.add_fault(FaultRule(action="html"))                 # 502 with an HTML page
    emu.add_fault(FaultRule(action="latency", delay=0.5, path="/jobs/"))
    emu.add_fault(FaultRule(action="hang", path=r"^/zones$"))   # never answered

``"hang"`` holds the request without a byte of answer until the emulator stops
(or for ``delay`` seconds when given, then closes the connection); it stands
for a backend that accepted the connection and went silent, which only a
client-side timeout ends. Other requests are served meanwhile.

``path`` is a regular expression searched (``re.search``) in the path after
``/dpf/v1`` without the query string. ``every=N`` fires on every Nth matching
request, ``times=N`` on the first N; with neither, every matching request is
hit. Counting is per rule and only counts requests the rule matches.

Job faults decide, when a job is accepted, that it will fail or never finish::

    emu.add_fault(JobFaultRule(kind="apply", action="fail", times=1,
                               error_message="There are invalid parameters"))
    emu.add_fault(JobFaultRule(kind="record_post", action="stuck"))

A failed or stuck job has no effect. The JSON form accepted by
``POST /_emulator/faults`` uses the same field names (plus ``"type": "job"``
or a job ``action`` to pick JobFaultRule).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

HTTP_FAULT_STATUSES = (429, 500, 502, 503, 504)
HTTP_FAULT_ACTIONS = ("drop", "html", "latency", "hang")
JOB_KINDS = ("record_post", "record_patch", "record_delete", "record_cancel", "apply", "discard")
JOB_FAULT_ACTIONS = ("fail", "stuck")


class _Counter:
    """Decides per matching request whether an every/times rule fires."""

    def __init__(self) -> None:
        self.matched = 0
        self.fired = 0

    def hit(self, every: int | None, times: int | None) -> bool:
        self.matched += 1
        fire = self.matched <= times if times is not None else self.matched % (every or 1) == 0
        if fire:
            self.fired += 1
        return fire


def _check_counts(every: int | None, times: int | None) -> None:
    if every is not None and times is not None:
        raise ValueError("give every or times, not both")
    if (every is not None and every < 1) or (times is not None and times < 0):
        raise ValueError("every must be >= 1 and times >= 0")


@dataclass
class FaultRule:
    action: int | str
    methods: Collection[str] | None = None
    path: str | None = None
    every: int | None = None
    times: int | None = None
    retry_after: float | None = None
    delay: float = 0.0  # "latency": the delay; "hang": how long (0 = until stop)
    error_type: str | None = None  # e.g. "SystemBusy" for the other 503 body
    _counter: _Counter = field(default_factory=_Counter, init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.action, int):
            if self.action not in HTTP_FAULT_STATUSES:
                raise ValueError(f"status fault must be one of {HTTP_FAULT_STATUSES}")
        elif self.action not in HTTP_FAULT_ACTIONS:
            raise ValueError(f"action must be a status or one of {HTTP_FAULT_ACTIONS}")
        _check_counts(self.every, self.times)
        if self.methods is not None:
            self.methods = frozenset(m.upper() for m in self.methods)
        self._regex = None if self.path is None else re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self._regex is None or self._regex.search(path) is not None

    @property
    def fired(self) -> int:
        return self._counter.fired


@dataclass
class JobFaultRule:
    action: str
    kind: str | None = None
    every: int | None = None
    times: int | None = None
    error_type: str = "Bad Request"
    error_message: str = "There are invalid parameters"
    _counter: _Counter = field(default_factory=_Counter, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in JOB_FAULT_ACTIONS:
            raise ValueError(f"job fault action must be one of {JOB_FAULT_ACTIONS}")
        if self.kind is not None and self.kind not in JOB_KINDS:
            raise ValueError(f"job kind must be one of {JOB_KINDS}")
        _check_counts(self.every, self.times)

    @property
    def fired(self) -> int:
        return self._counter.fired


AnyFault = Union[FaultRule, JobFaultRule]


class FaultSet:
    """The active rules, tried in the order they were added.

    The first rule that fires wins and later rules never see that request, so
    a ``times`` budget is only spent on requests that rule really faulted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http: list[FaultRule] = []
        self._jobs: list[JobFaultRule] = []

    def add(self, rule: AnyFault) -> None:
        with self._lock:
            if isinstance(rule, JobFaultRule):
                self._jobs.append(rule)
            else:
                self._http.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._http.clear()
            self._jobs.clear()

    def for_request(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._http:
                if rule.matches(method, path) and rule._counter.hit(rule.every, rule.times):
                    return rule
            return None

    def for_job(self, kind: str) -> JobFaultRule | None:
        with self._lock:
            for rule in self._jobs:
                if (rule.kind is None or rule.kind == kind) and rule._counter.hit(
                    rule.every, rule.times
                ):
                    return rule
            return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            out: list[dict[str, Any]] = []
            for rule in self._http:
                out.append(
                    {
                        "type": "http",
                        "action": rule.action,
                        "path": rule.path,
                        "methods": None if rule.methods is None else sorted(rule.methods),
                        "every": rule.every,
                        "times": rule.times,
                        "fired": rule.fired,
                    }
                )
            for job_rule in self._jobs:
                out.append(
                    {
                        "type": "job",
                        "action": job_rule.action,
                        "kind": job_rule.kind,
                        "every": job_rule.every,
                        "times": job_rule.times,
                        "fired": job_rule.fired,
                    }
                )
            return out


def fault_from_dict(data: Mapping[str, Any]) -> AnyFault:
    """Build a rule from its JSON form; raises ValueError/TypeError when malformed."""
    data = dict(data)
    kind = data.pop("type", None)
    if kind == "job" or data.get("action") in JOB_FAULT_ACTIONS:
        return JobFaultRule(**data)
    if kind not in (None, "http"):
        raise ValueError("type must be 'http' or 'job'")
    return FaultRule(**data)
