"""The probe's report: one line per check as it runs, and the same checks as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TextIO

from certbot_dns_iijdpf import __version__

OK = "ok"
INFO = "info"
WARNING = "warning"
FAILED = "failed"


@dataclass(frozen=True)
class Check:
    name: str
    subject: str
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "subject": self.subject,
            "status": self.status,
            "detail": self.detail,
        }

    def line(self) -> str:
        what = f"{self.name} {self.subject}".strip()
        return f"{self.status:<8} {what:<36} {self.detail}"


class Report:
    """The checks so far, printed as they come when ``stream`` is given."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.checks: list[Check] = []
        self.answers: dict[str, Any] = {}
        self._stream = stream

    def add(self, status: str, name: str, subject: str, detail: str) -> Check:
        check = Check(name, subject, status, detail)
        self.checks.append(check)
        if self._stream is not None:
            print(check.line(), file=self._stream, flush=True)
        return check

    def answer(self, key: str, value: Any) -> None:
        # With several zones the first cycle's answer stands; the rest would repeat it.
        self.answers.setdefault(key, value)

    @property
    def failed(self) -> bool:
        return any(c.status == FAILED for c in self.checks)

    def as_json(self, **extra: Any) -> dict[str, Any]:
        return {
            **extra,
            "checks": [c.as_dict() for c in self.checks],
            "answers": self.answers,
            "failed": self.failed,
        }


def rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 2)


def seconds_text(seconds: float | None) -> str:
    return "an unknown time (its answer was lost)" if seconds is None else f"{seconds:.2f} s"


def summary_line(report: Report) -> str:
    if report.failed:
        return "Result: something above would make certbot fail (see the failed lines)."
    warnings = sum(1 for c in report.checks if c.status == WARNING)
    if warnings:
        return f"Result: nothing would make certbot fail; {warnings} warning(s) to read."
    return "Result: nothing found that would make certbot fail."


def dump_json(report: Report, stream: TextIO, **extra: Any) -> None:
    payload = report.as_json(version=__version__, **extra)
    print(json.dumps(payload, indent=2, ensure_ascii=False), file=stream)
