"""What one run measured, the results of a scenario, and the results file (JSON)."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bench import jsonform
from bench.scenarios import RunKind, Scenario, Tool
from bench.settings import dpf_waits


@dataclass
class Measurement:
    """One row of the table (certbot-dns-multi in two zones: the sum of one run per zone)."""

    kind: RunKind
    # Optional: bench/jsonform.py evaluates the hint, and Python 3.9 has no `X | None`.
    tool: Optional[Tool]  # noqa: UP045 (None for the baseline)
    finished: bool = False  # every certbot command ran to its exit (no harness or worker failure)
    certbot_runs: int = 0
    failed_runs: int = 0  # certbot exited non-zero or made the wrong certificate
    wall: float = 0.0  # seconds in the certbot commands, summed
    requests: int = 0  # every request in the emulator's log
    refused: int = 0  # requests the emulator answered with 4xx/5xx, or not at all
    applies: dict[str, int] = field(default_factory=dict)  # completed applies per zone
    jobs: int = 0
    failed_jobs: int = 0
    leftovers: int = 0  # _acme-challenge rows still in the zones after the run
    kinds: dict[str, int] = field(default_factory=dict)  # requests by method and path pattern
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def issued(self) -> bool:
        """The run completed and every certificate it asked for has exactly the names asked."""
        return self.finished and self.certbot_runs > 0 and self.failed_runs == 0

    @property
    def total_applies(self) -> int:
        return sum(self.applies.values())

    @property
    def rate_floor(self) -> float | None:
        """Seconds the client's own rate limit needs for these requests (requests ÷ rate)."""
        if self.tool is None:
            return None
        return self.requests / self.tool.rate


@dataclass
class ScenarioResult:
    scenario: Scenario
    runs: list[Measurement] = field(default_factory=list)

    @property
    def baselines(self) -> list[Measurement]:
        return [m for m in self.runs if m.kind is RunKind.BASELINE]

    @property
    def rows(self) -> list[Measurement]:
        """Every run but the baselines, in plan order."""
        return [m for m in self.runs if m.kind is not RunKind.BASELINE]

    def tool_runs(self, tool: Tool) -> list[Measurement]:
        """The runs in which ``tool`` got the scenario's certificate (or tried to)."""
        return [m for m in self.runs if m.kind is RunKind.TOOL and m.tool == tool]

    @property
    def baseline(self) -> float | None:
        """Median wall time of the baseline runs that issued; None if none did."""
        walls = [m.wall for m in self.baselines if m.issued]
        return statistics.median(walls) if walls else None

    @property
    def floor(self) -> float | None:
        baseline = self.baseline
        return None if baseline is None else dpf_waits() + baseline


@dataclass
class Results:
    """Everything one benchmark run collected; the report and the plot are made from it."""

    started: str  # UTC, as shown in the report
    command: str
    elapsed: float  # seconds, the whole benchmark
    jobs: int
    quick: bool
    versions: dict[str, str]  # tool key: its certbot --version
    scenarios: list[ScenarioResult]

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps(jsonform.dump(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        return jsonform.load(cls, json.loads(path.read_text()))


def write_atomically(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    os.replace(tmp, path)
