"""Waiting for DPF's asynchronous jobs.

Every DPF write answers 202 with a ``request_id`` and does its work later;
``GET /jobs/{request_id}`` reports ``RUNNING``, ``SUCCESSFUL`` or ``FAILED``.
:class:`JobWaiter` polls a batch of jobs together.  It learns how long jobs
take on this endpoint and makes its first poll of later jobs at about that
time, which saves requests without adding latency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from certbot_dns_iijdpf._internal.client import DpfClient, JsonObject
from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import DpfJobError, DpfProtocolError

logger = logging.getLogger(__name__)

DEFAULT_JOB_TIMEOUT = 600.0
# The shortest pause between two polls of a job.
_MIN_SLEEP = 0.05
# Time left for the request of the last poll before the run's budget ends.
_POLL_MARGIN = 0.5


@dataclass(frozen=True)
class Job:
    """A write DPF accepted: its job's ``request_id``, and what the write was for messages."""

    id: str
    what: str

    def __str__(self) -> str:
        return f"DPF job {self.id} ({self.what})"


class JobWaiter:
    """Polls DPF jobs until they end."""

    def __init__(
        self,
        client: DpfClient,
        *,
        timeout: float = DEFAULT_JOB_TIMEOUT,
        first_poll: float = 0.5,
        max_interval: float = 5.0,
        deadline: Deadline | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._deadline = deadline if deadline is not None else Deadline.unbounded()
        self._timeout = timeout
        self._first_poll = first_poll
        self._max_interval = max_interval
        self._clock = clock
        self._sleep = sleep
        self._typical: float | None = None

    @property
    def typical_seconds(self) -> float | None:
        """How long jobs have taken on this endpoint so far, or None before the first."""
        return self._typical

    def wait(self, jobs: Iterable[Job]) -> dict[str, JsonObject]:
        """Wait for every job and return their final objects by ``request_id``.

        Raises :class:`DpfJobError` naming the first job that FAILED (with
        DPF's ``error_type`` and ``error_message``) or that was still RUNNING
        when the time ran out (``still_running``), and
        :class:`~certbot_dns_iijdpf._internal.errors.RunTimeoutError` when the run's
        budget ends first.  All jobs are read to the end first, so that a
        failure of one does not leave the caller guessing about the others.
        """
        pending = {job.id: job for job in jobs}
        described = dict(pending)
        if not pending:
            return {}
        started = self._clock()
        finished: dict[str, JsonObject] = {}
        first_delay = self._typical if self._typical is not None else self._first_poll
        delay = first_delay
        interval = self._first_poll
        saw_running = False
        while True:
            remaining = self._deadline.remaining()
            if remaining < _POLL_MARGIN + _MIN_SLEEP:
                raise self._deadline.error(str(next(iter(pending.values()))))
            # The last poll comes just before the run's budget or the waiter's
            # own timeout ends, not one (growing) interval before it: a job
            # learnt to take 10 seconds may still end within the 8 left.
            until_timeout = started + self._timeout - self._clock()
            self._sleep(max(_MIN_SLEEP, min(delay, remaining - _POLL_MARGIN, until_timeout)))
            for request_id in list(pending):
                job = self._client.job(request_id)
                status = job.get("status")
                if status == "RUNNING":
                    # A batch's jobs run side by side: once the first is still
                    # running the others almost surely are too.
                    saw_running = True
                    break
                if status not in ("SUCCESSFUL", "FAILED"):
                    raise DpfProtocolError(
                        f"DPF reported job {request_id} with unknown status {status!r}."
                    )
                finished[request_id] = job
                del pending[request_id]
            if not pending:
                self._learn(self._clock() - started if saw_running else first_delay * 0.8)
                break
            if self._clock() - started >= self._timeout:
                raise DpfJobError(
                    f"{next(iter(pending.values()))} was still RUNNING after "
                    f"{self._timeout:.0f} seconds; DPF may be overloaded. Check the zone's "
                    "state in the DPF console before trying again.",
                    still_running=True,
                )
            delay = interval
            interval = min(self._max_interval, interval * 1.5)
        failures = [(rid, job) for rid, job in finished.items() if job.get("status") == "FAILED"]
        if failures:
            request_id, job = failures[0]
            error_type = str(job.get("error_type", ""))
            error_message = str(job.get("error_message", ""))
            raise DpfJobError(f"{described[request_id]} FAILED: {error_type}: {error_message}")
        return finished

    def _learn(self, estimate: float) -> None:
        # A batch seen RUNNING took at most the elapsed time; one already done at
        # the first poll may take less, so the next first poll comes earlier.
        # Either way the estimate converges on the endpoint's job duration.
        estimate = min(max(estimate, 0.1), 10.0)
        self._typical = estimate if self._typical is None else (self._typical + estimate) / 2
