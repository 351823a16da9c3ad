"""States, thresholds and findings of the check, and how they add up.

The states are the Nagios plugin states, whose exit statuses Nagios, Icinga,
Zabbix and Mackerel all read.  For the whole run the worst lineage decides,
in the order OK < WARNING < UNKNOWN < CRITICAL: a lineage that could not be
judged must not hide behind a known warning, nor hide a certain failure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class State(enum.IntEnum):
    """A Nagios state; its value is the exit status."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {State.OK: 0, State.WARNING: 1, State.UNKNOWN: 2, State.CRITICAL: 3}


def worst(states: Iterable[State], default: State = State.OK) -> State:
    found = list(states)
    return max(found, key=lambda s: s.severity) if found else default


# certbot renews a 90-day certificate 30 days before it expires, and (from
# certbot 4) a short-lived one once a third of its life is left: about 15.7
# days for 47 days.  Fewer than 14 days left means renewal has already missed
# days for either lifetime; fewer than 7 leaves a week to fix it by hand.
DEFAULT_WARNING_DAYS = 14.0
DEFAULT_CRITICAL_DAYS = 7.0
DEFAULT_CONFIG_DIR = "/etc/letsencrypt"
# Per account, for the DPF API: a monitoring system waits for the check.
DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class Thresholds:
    """Days left below which a certificate is WARNING, and CRITICAL."""

    warning_days: float = DEFAULT_WARNING_DAYS
    critical_days: float = DEFAULT_CRITICAL_DAYS

    def __post_init__(self) -> None:
        if self.critical_days > self.warning_days:
            raise ValueError("--critical-days must not be more than --warning-days")

    def state(self, days_left: float) -> State:
        if days_left < self.critical_days:
            return State.CRITICAL
        if days_left < self.warning_days:
            return State.WARNING
        return State.OK


@dataclass(frozen=True)
class Finding:
    """The result of one check of one lineage (``subject``: a name, zone or nameserver)."""

    check: str
    state: State
    detail: str
    subject: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "subject": self.subject,
            "state": self.state.name,
            "detail": self.detail,
        }


@dataclass
class LineageResult:
    """Everything the check found about one dns-iijdpf lineage."""

    name: str
    renewal_conf: str
    names: list[str] = field(default_factory=list)
    not_after: float | None = None  # POSIX time the certificate expires
    days_left: float | None = None
    credentials: str | None = None
    endpoint: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, state: State, detail: str, subject: str = "") -> Finding:
        finding = Finding(check, state, detail, subject)
        self.findings.append(finding)
        return finding

    @property
    def state(self) -> State:
        return worst(f.state for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.state is not State.OK]


@dataclass(frozen=True)
class Skipped:
    """A lineage of another authenticator: listed, not judged."""

    name: str
    renewal_conf: str
    authenticator: str


@dataclass
class CheckResult:
    """One run of the check: every lineage, the skipped ones, and run-wide problems."""

    config_dir: str
    thresholds: Thresholds
    checked_at: float
    lineages: list[LineageResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def state(self) -> State:
        return worst([*(r.state for r in self.lineages), *(p.state for p in self.problems)])
