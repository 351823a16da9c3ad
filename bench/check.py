"""Wall time and DPF API requests of ``python -m certbot_dns_iijdpf check``.

Run as root inside the private network namespace (the emulator's nameservers
bind port 53)::

    scripts/in-netns .venvs/main/bin/python -m bench.check [--runs N]

The check only reads what certbot leaves on disk, so the lineages are written
directly (renewal configurations and self-signed certificates,
``tests/harness/lineages.py``), in three zones, against the emulator with the
benchmark's realistic settings (``bench/settings.py``).  Each scenario runs
the check as a monitoring system does, as a fresh process, ``--runs`` times
on one emulator; the table shows the median wall time and the requests of one
run.  Exit status 1 when a run did not end OK, or sent more than one zone
listing per token; 2 outside the namespace.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.settings import API_LATENCY, JOB_SECONDS, NAMESERVERS
from tests.dpf_emulator import Emulator, EmulatorConfig, RequestLogEntry, TokenSpec, ZoneSpec
from tests.harness import REPO_ROOT, in_test_netns
from tests.harness.dpf import RESOLVER, SERVICE_CODE, ZONE, plugin_credentials
from tests.harness.lineages import make_lineage

ZONES = {ZONE: SERVICE_CODE, "example.net.": "dpm00000002", "example.org.": "dpm00000003"}
RUNS = 3
RECORDS = re.compile(r"/zones/[^/]+/records")  # one read of a zone's edit view (a listing)


@dataclass(frozen=True)
class Scenario:
    key: str
    lineages: int
    tokens: int

    @property
    def title(self) -> str:
        return f"{self.lineages} lineage(s), {min(self.lineages, len(ZONES))} zone(s), " + (
            f"{self.tokens} token(s)"
        )


SCENARIOS = (
    Scenario("one", 1, 1),
    Scenario("twenty", 20, 1),
    Scenario("twenty-four-tokens", 20, 4),
)


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    wall: list[float]
    requests: int
    zone_listings: int
    zone_reads: int
    writes: int
    statuses: list[int]

    @property
    def good(self) -> bool:
        return set(self.statuses) == {0} and self.zone_listings == self.scenario.tokens


def lineage_names(index: int) -> tuple[str, list[str]]:
    """Lineage ``index``: a site in one of the three zones, with its www name or wildcard."""
    zone = list(ZONES)[index % len(ZONES)].rstrip(".")
    site = f"site{index:02d}.{zone}"
    second = f"*.{site}" if index % 2 else f"www.{site}"
    return site, [site, second]


def prepare(root: Path, scenario: Scenario, emulator: Emulator) -> Path:
    config_dir = root / scenario.key
    for index in range(scenario.lineages):
        token = f"bench-token-{index % scenario.tokens}"
        ini = plugin_credentials(root / f"{token}.ini", emulator.api_url, token)
        name, names = lineage_names(index)
        make_lineage(config_dir, name, names, days_left=30 + index, credentials=ini)
    return config_dir


def count(log: list[RequestLogEntry]) -> tuple[int, int, int, int]:
    listings = sum(1 for e in log if e.method == "GET" and e.path == "/zones")
    reads = sum(
        1 for e in log if e.method == "GET" and re.fullmatch(r"/zones/[^/]+/records", e.path)
    )
    writes = sum(1 for e in log if e.method != "GET")
    return len(log), listings, reads, writes


def measure(scenario: Scenario, root: Path, runs: int) -> Outcome:
    config = EmulatorConfig(
        zones=[ZoneSpec(name, code) for name, code in ZONES.items()],
        tokens=[TokenSpec(f"bench-token-{i}", operator=f"SA{i:07d}") for i in range(4)],
        nameservers=list(NAMESERVERS),
        resolver=RESOLVER,
        job_seconds=JOB_SECONDS,
        api_latency=API_LATENCY,
    )
    walls: list[float] = []
    statuses: list[int] = []
    counts = (0, 0, 0, 0)
    with Emulator(config) as emulator:
        config_dir = prepare(root, scenario, emulator)
        command = [sys.executable, "-m", "certbot_dns_iijdpf", "check"]
        for _ in range(runs):
            emulator.clear_log()
            started = time.monotonic()
            result = subprocess.run(
                [*command, "--config-dir", str(config_dir)],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
            )
            walls.append(time.monotonic() - started)
            statuses.append(result.returncode)
            if result.returncode != 0:
                print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
            counts = count(emulator.request_log)
    return Outcome(scenario, walls, *counts, statuses=statuses)


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| scenario | wall s (median) | API requests | zone listings | zone reads | writes "
        "| exit |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.scenario.title} | {statistics.median(o.wall):.2f} | {o.requests} "
            f"| {o.zone_listings} | {o.zone_reads} | {o.writes} "
            f"| {','.join(str(s) for s in o.statuses)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check", description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs per scenario ({RUNS})")
    args = parser.parse_args(argv)
    if not in_test_netns():
        print(
            "bench.check binds port 53: run it as root inside scripts/in-netns "
            "(scripts/in-netns .venvs/main/bin/python -m bench.check)",
            file=sys.stderr,
        )
        return 2
    print(
        f"emulator: API latency {API_LATENCY * 1000:.0f} ms, nameserver lags "
        f"{', '.join(f'{ns.lag:g} s' for ns in NAMESERVERS)}; {args.runs} run(s) per scenario",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="bench-check-") as workdir:
        outcomes = [measure(s, Path(workdir), max(1, args.runs)) for s in SCENARIOS]
    print(table(outcomes))
    print(
        "\nwrites: the write-scope probe, one PATCH of a never-issued record id per token "
        "(answered 400, changes nothing)."
    )
    return 0 if all(o.good for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
