"""Wall time and DPF API cost of getting a certificate, per tool and scenario.

Run as root inside the private network namespace (it binds 127.0.0.53:53,
127.0.0.54:53, 127.0.0.1:53 and Pebble's fixed ports)::

    scripts/in-netns .venvs/main/bin/python -m bench.run [--quick] [--out FILE]

Every measured certbot command gets a fresh DPF emulator, a fresh Pebble and
fresh certbot directories. Each time is reported as a ratio to a *floor*: the
waits DPF itself imposes (from the emulator settings) plus the same certbot run
with ``--manual`` hooks that only tell pebble-challtestsrv (Pebble's DNS server
for that baseline) to serve or drop the TXT record. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.dpf_emulator import Emulator, EmulatorConfig, NameserverSpec, TokenSpec, ZoneSpec
from tests.harness import (
    REPO_ROOT,
    VENVS,
    CertbotRunner,
    ChallTestSrv,
    HarnessError,
    Pebble,
    in_test_netns,
    make_pki,
    write_ini,
)
from tests.harness.pebble import BASE_ENV as PEBBLE_ENV

# -- settings ---------------------------------------------------------------------------

API_LATENCY = 0.05  # seconds added to every API request
JOB_SECONDS = 1.0  # time every DPF job (record write, apply) stays RUNNING


@dataclass(frozen=True)
class Nameserver:
    hostname: str
    address: str
    lag: float  # seconds after an apply until this server serves it


NAMESERVERS = (
    Nameserver("ns1.dpf-emulator.test.", "127.0.0.53", 2.0),
    Nameserver("ns2.dpf-emulator.test.", "127.0.0.54", 4.0),
)
SLOWEST = max(NAMESERVERS, key=lambda ns: ns.lag)
PEBBLE_DNS = f"{SLOWEST.address}:53"  # Pebble's VA asks the slowest nameserver
RESOLVER = ("127.0.0.1", 53)  # /etc/resolv.conf inside scripts/in-netns
CHALLTESTSRV_DNS = "127.0.0.1:8053"
CHALLTESTSRV_MANAGEMENT = "127.0.0.1:8055"
TOKEN = "bench-token"
ZONES = {"example.com.": "dpm00000001", "example.net.": "dpm00000002"}
MULTI_DEFAULT_PROPAGATION = 60  # certbot-dns-multi's default --dns-multi-propagation-seconds
CERTBOT_TIMEOUT = 900.0

MAIN_CERTBOT = VENVS / "main" / "bin" / "certbot"
MULTI_CERTBOT = VENVS / "dns-multi" / "bin" / "certbot"
DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "latest.md"

# The plugin's own targets (checked and reported after the table).
TARGET_RATIO = 1.3
TARGET_WILDCARD_REQUESTS = 19


def dpf_waits() -> float:
    """What DPF makes any client wait: write job, apply job, slowest lag, cleanup's two jobs."""
    return JOB_SECONDS + JOB_SECONDS + SLOWEST.lag + JOB_SECONDS + JOB_SECONDS


# -- scenarios and tools ----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    domains: tuple[str, ...]

    @property
    def cert_name(self) -> str:
        return self.domains[0].removeprefix("*.")

    def zone_of(self, domain: str) -> str:
        name = domain.removeprefix("*.").rstrip(".") + "."
        matches = [zone for zone in ZONES if name == zone or name.endswith("." + zone)]
        if not matches:
            raise ValueError(f"{domain} is in none of the benchmark zones")
        return max(matches, key=len)

    @property
    def zones(self) -> list[str]:
        found: list[str] = []
        for domain in self.domains:
            zone = self.zone_of(domain)
            if zone not in found:
                found.append(zone)
        return found

    def domains_in(self, zone: str) -> list[str]:
        return [domain for domain in self.domains if self.zone_of(domain) == zone]


SCENARIOS = (
    Scenario("wildcard", "`*.example.com` + `example.com`", ("*.example.com", "example.com")),
    Scenario(
        "ten-names",
        "ten names in example.com",
        tuple(f"name{i:02d}.example.com" for i in range(1, 11)),
    ),
    Scenario(
        "two-zones",
        "two zones: example.com + example.net",
        ("example.com", "www.example.com", "example.net", "www.example.net"),
    ),
)
# Not run by default: how the cost grows with the number of names (--scenarios twenty-names).
EXTRA_SCENARIOS = (
    Scenario(
        "twenty-names",
        "twenty names in example.com",
        tuple(f"name{i:02d}.example.com" for i in range(1, 21)),
    ),
)
DEFAULT_SCENARIOS = tuple(scenario.key for scenario in SCENARIOS)
SCENARIO_BY_KEY = {scenario.key: scenario for scenario in (*SCENARIOS, *EXTRA_SCENARIOS)}


@dataclass(frozen=True)
class Tool:
    key: str
    label: str
    propagation: int | None  # certbot-dns-multi only; None = its default (flag omitted)

    @property
    def is_multi(self) -> bool:
        return self.key.startswith("dns-multi")


PLUGIN = Tool("plugin", "certbot-dns-iijdpf (defaults)", None)
MULTI_DEFAULT = Tool(
    "dns-multi@60", f"certbot-dns-multi, propagation {MULTI_DEFAULT_PROPAGATION} s (default)", None
)
MULTI_5 = Tool("dns-multi@5", "certbot-dns-multi, propagation 5 s", 5)
TOOLS = (PLUGIN, MULTI_5, MULTI_DEFAULT)
TOOL_BY_KEY = {tool.key: tool for tool in TOOLS}


# -- measurements -----------------------------------------------------------------------


@dataclass
class Measurement:
    """One row of the table (for certbot-dns-multi in two zones: the sum of two runs)."""

    scenario: Scenario
    label: str
    wall: float = 0.0
    requests: int = 0
    refused: int = 0  # requests the emulator answered with 4xx/5xx
    applies: dict[str, int] = field(default_factory=dict)
    jobs: int = 0
    failed_jobs: int = 0
    leftovers: int = 0  # _acme-challenge rows still in the zones after the run
    ok: bool = True
    runs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    measured_by_dpf: bool = True

    @property
    def total_applies(self) -> int:
        return sum(self.applies.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.key,
            "label": self.label,
            "wall": self.wall,
            "requests": self.requests,
            "refused": self.refused,
            "applies": dict(self.applies),
            "jobs": self.jobs,
            "failed_jobs": self.failed_jobs,
            "leftovers": self.leftovers,
            "ok": self.ok,
            "runs": self.runs,
            "kinds": dict(self.kinds),
            "notes": list(self.notes),
            "errors": list(self.errors),
            "commands": list(self.commands),
            "measured_by_dpf": self.measured_by_dpf,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        return cls(
            scenario=SCENARIO_BY_KEY[str(data["scenario"])],
            label=str(data["label"]),
            wall=float(data["wall"]),
            requests=int(data["requests"]),
            refused=int(data["refused"]),
            applies={str(k): int(v) for k, v in data["applies"].items()},
            jobs=int(data["jobs"]),
            failed_jobs=int(data["failed_jobs"]),
            leftovers=int(data["leftovers"]),
            ok=bool(data["ok"]),
            runs=int(data["runs"]),
            kinds=Counter({str(k): int(v) for k, v in data["kinds"].items()}),
            notes=[str(n) for n in data["notes"]],
            errors=[str(e) for e in data["errors"]],
            commands=[str(c) for c in data["commands"]],
            measured_by_dpf=bool(data["measured_by_dpf"]),
        )


def _path_kind(method: str, path: str) -> str:
    """``GET /zones/{zone}/records/currents/count`` rather than the literal ids."""
    parts = path.strip("/").split("/")
    shaped: list[str] = []
    previous = ""
    for part in parts:
        if previous == "zones" and part != "count":
            shaped.append("{zone}")
        elif previous == "records" and part not in ("count", "currents", "diffs"):
            shaped.append("{record}")
        elif previous == "jobs":
            shaped.append("{job}")
        else:
            shaped.append(part)
        previous = part
    return f"{method} /{'/'.join(shaped)}"


def _challenge_rows(emu: Emulator) -> int:
    return sum(
        1
        for zone in ZONES
        for row in emu.records(zone)
        if str(row["name"]).startswith("_acme-challenge")
    )


def _collect(emu: Emulator, into: Measurement) -> None:
    """Add the emulator's counts to ``into`` (call once per emulator, after the runs)."""
    with contextlib.suppress(TimeoutError):
        emu.wait_jobs(timeout=30)
    log = emu.request_log
    into.requests += len(log)
    into.refused += sum(1 for entry in log if entry.status is None or entry.status >= 400)
    into.kinds.update(_path_kind(entry.method, entry.path) for entry in log)
    for zone in ZONES:
        count = emu.applies(zone)
        if count:
            into.applies[zone] = into.applies.get(zone, 0) + count
    jobs = emu.jobs
    into.jobs += len(jobs)
    into.failed_jobs += sum(1 for job in jobs if job.status != "SUCCESSFUL")
    into.leftovers += _challenge_rows(emu)


def _error_excerpt(result: subprocess.CompletedProcess[str], limit: int = 6) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    interesting = [
        line
        for line in lines
        if any(word in line for word in ("Error", "error", "failed", "Failed", "refused"))
    ]
    chosen = (interesting or lines)[-limit:]
    return "\n".join(chosen)


def _run_certbot(
    runner: CertbotRunner, args: Sequence[str], domains: Sequence[str], into: Measurement
) -> bool:
    """Run one certbot command, add its wall time, and check the certificate it made."""
    cert_name = args[args.index("--cert-name") + 1]
    into.commands.append(" ".join(shlex.quote(a) for a in runner.command(args)))
    started = time.monotonic()
    result = runner.run(args, timeout=CERTBOT_TIMEOUT)
    into.wall += time.monotonic() - started
    into.runs += 1
    ok = result.returncode == 0
    if ok:
        try:
            sans = runner.cert_sans(cert_name)
        except (OSError, ValueError) as exc:
            ok = False
            into.errors.append(f"certbot exited 0 but no certificate {cert_name}: {exc}")
        else:
            if sans != set(domains):
                ok = False
                into.errors.append(f"certificate {cert_name} has {sorted(sans)}")
    else:
        into.errors.append(f"exit {result.returncode}:\n{_error_excerpt(result)}")
    into.ok = into.ok and ok
    return ok


def _domain_args(domains: Sequence[str]) -> list[str]:
    args: list[str] = []
    for domain in domains:
        args += ["-d", domain]
    return args


# -- environments -----------------------------------------------------------------------


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        zones=[ZoneSpec(name, code) for name, code in ZONES.items()],
        tokens=[TokenSpec(TOKEN)],
        nameservers=[
            NameserverSpec(ns.hostname, address=ns.address, port=53, lag=ns.lag)
            for ns in NAMESERVERS
        ],
        resolver=RESOLVER,
        job_seconds=JOB_SECONDS,
        api_latency=API_LATENCY,
    )


@contextlib.contextmanager
def dpf_environment(run_dir: Path) -> Iterator[tuple[Emulator, Pebble]]:
    """A fresh emulator and a fresh Pebble whose VA asks the slowest nameserver."""
    pki = make_pki(run_dir / "pki")
    with contextlib.ExitStack() as stack:
        emu = stack.enter_context(Emulator(emulator_config()))
        pebble = stack.enter_context(Pebble(PEBBLE_DNS, workdir=run_dir / "pebble", pki=pki))
        yield emu, pebble


def run_baseline(scenario: Scenario, run_dir: Path) -> Measurement:
    """certbot --manual whose hooks only make pebble-challtestsrv serve the record."""
    measurement = Measurement(scenario, "certbot --manual, challtestsrv hooks")
    measurement.measured_by_dpf = False
    pki = make_pki(run_dir / "pki")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            ChallTestSrv(
                dns_address=CHALLTESTSRV_DNS,
                management=CHALLTESTSRV_MANAGEMENT,
                workdir=run_dir / "challtestsrv",
            )
        )
        pebble = stack.enter_context(Pebble(CHALLTESTSRV_DNS, workdir=run_dir / "pebble", pki=pki))
        auth, cleanup = server.write_manual_hooks(run_dir / "hooks")
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=MAIN_CERTBOT)
        args = [
            "certonly", "--manual", "--preferred-challenges", "dns",
            "--manual-auth-hook", str(auth), "--manual-cleanup-hook", str(cleanup),
            "--cert-name", scenario.cert_name, *_domain_args(scenario.domains),
        ]  # fmt: skip
        _run_certbot(runner, args, scenario.domains, measurement)
    return measurement


def run_plugin(scenario: Scenario, run_dir: Path) -> Measurement:
    measurement = Measurement(scenario, PLUGIN.label)
    with dpf_environment(run_dir) as (emu, pebble):
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=MAIN_CERTBOT)
        ini = write_ini(
            run_dir / "iijdpf.ini",
            {"dns_iijdpf_api_token": TOKEN, "dns_iijdpf_endpoint": emu.api_url},
        )
        args = [
            "certonly", "-a", "dns-iijdpf", "--dns-iijdpf-credentials", str(ini),
            "--cert-name", scenario.cert_name, *_domain_args(scenario.domains),
        ]  # fmt: skip
        _run_certbot(runner, args, scenario.domains, measurement)
        _collect(emu, measurement)
    return measurement


def _multi_args(tool: Tool, ini: Path, cert_name: str, domains: Sequence[str]) -> list[str]:
    args = ["certonly", "-a", "dns-multi", "--dns-multi-credentials", str(ini)]
    if tool.propagation is not None:
        args += ["--dns-multi-propagation-seconds", str(tool.propagation)]
    return [*args, "--cert-name", cert_name, *_domain_args(domains)]


def _multi_ini(path: Path, emu: Emulator, zone: str) -> Path:
    return write_ini(
        path,
        {
            "dns_multi_provider": "iijdpf",
            "IIJ_DPF_API_TOKEN": TOKEN,
            "IIJ_DPF_DPM_SERVICE_CODE": ZONES[zone],
            "IIJ_DPF_API_ENDPOINT": emu.api_url,
        },
    )


def run_multi(tool: Tool, scenario: Scenario, run_dir: Path) -> Measurement:
    """One certificate per zone (one service code per run); times and counts summed."""
    measurement = Measurement(scenario, tool.label)
    zones = scenario.zones
    if len(zones) > 1:
        measurement.notes.append(
            f"sum of {len(zones)} runs, one certificate per zone (one service code per run)"
        )
    with dpf_environment(run_dir) as (emu, pebble):
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=MULTI_CERTBOT)
        for zone in zones:
            ini = _multi_ini(run_dir / f"multi-{zone.rstrip('.')}.ini", emu, zone)
            domains = scenario.domains_in(zone)
            cert_name = domains[0].removeprefix("*.")
            _run_certbot(runner, _multi_args(tool, ini, cert_name, domains), domains, measurement)
        _collect(emu, measurement)
    return measurement


def run_multi_one_certificate(tool: Tool, scenario: Scenario, run_dir: Path) -> Measurement:
    """All names in one certificate with the first zone's service code (expected to fail)."""
    zone = scenario.zones[0]
    measurement = Measurement(scenario, f"{tool.label}: one certificate attempt")
    measurement.notes.append(
        f"service code of {zone.rstrip('.')} ({ZONES[zone]}); how far it gets before failing "
        "depends on the order of the authorizations"
    )
    with dpf_environment(run_dir) as (emu, pebble):
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=MULTI_CERTBOT)
        ini = _multi_ini(run_dir / "multi.ini", emu, zone)
        args = _multi_args(tool, ini, scenario.cert_name, scenario.domains)
        _run_certbot(runner, args, scenario.domains, measurement)
        _collect(emu, measurement)
    return measurement


# -- the plan ---------------------------------------------------------------------------


@dataclass
class ScenarioResult:
    scenario: Scenario
    baselines: list[Measurement] = field(default_factory=list)
    rows: list[Measurement] = field(default_factory=list)

    @property
    def baseline(self) -> float:
        return statistics.median(m.wall for m in self.baselines)

    @property
    def floor(self) -> float:
        return dpf_waits() + self.baseline


@dataclass(frozen=True)
class Step:
    scenario: Scenario
    what: str  # "baseline", a tool key, or "one-cert:<tool key>"

    @property
    def key(self) -> str:
        return f"{self.scenario.key}/{self.what}"

    @classmethod
    def from_key(cls, key: str) -> Step:
        scenario, _, what = key.partition("/")
        if scenario not in SCENARIO_BY_KEY:
            raise ValueError(f"unknown scenario in step {key!r}")
        return cls(SCENARIO_BY_KEY[scenario], what)

    @property
    def tool(self) -> Tool | None:
        return TOOL_BY_KEY.get(self.what.removeprefix("one-cert:"))

    @property
    def in_namespace(self) -> bool:
        """certbot-dns-multi runs go to parallel workers, each in its own network namespace."""
        tool = self.tool
        return tool is not None and tool.is_multi

    def expected_seconds(self) -> float:
        """Rough duration, to start the longest worker runs first."""
        tool = self.tool
        if tool is None or not tool.is_multi:
            return 15.0
        sleep = tool.propagation if tool.propagation is not None else MULTI_DEFAULT_PROPAGATION
        runs = 1 if self.what.startswith("one-cert:") else len(self.scenario.zones)
        # lego's SDK sends about one request a second, about 18 per name.
        return 18.0 * len(self.scenario.domains) + sleep * runs


def plan(args: argparse.Namespace) -> list[Step]:
    steps: list[Step] = []
    scenarios = [s for s in SCENARIO_BY_KEY.values() if s.key in args.scenarios]
    tools = [t for t in TOOLS if t.key in args.tools]
    for scenario in scenarios:
        steps += [Step(scenario, "baseline")] * args.baseline_runs
        for tool in tools:
            if args.quick and tool is MULTI_DEFAULT and scenario.key != "wildcard":
                continue
            steps.append(Step(scenario, tool.key))
        if len(scenario.zones) > 1 and MULTI_5 in tools:
            # Fails while presenting, before the propagation sleep, so the
            # sleep setting does not matter; 5 s keeps it short if it did not.
            steps.append(Step(scenario, f"one-cert:{MULTI_5.key}"))
    return steps


def execute(step: Step, run_dir: Path) -> Measurement:
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        if step.what == "baseline":
            return run_baseline(step.scenario, run_dir)
        if step.what == PLUGIN.key:
            return run_plugin(step.scenario, run_dir)
        tool = step.tool
        if tool is None:
            raise ValueError(f"unknown step {step.key!r}")
        if step.what.startswith("one-cert:"):
            return run_multi_one_certificate(tool, step.scenario, run_dir)
        return run_multi(tool, step.scenario, run_dir)
    except HarnessError as exc:
        failed = Measurement(step.scenario, step.what, ok=False)
        failed.errors.append(str(exc)[-3000:])
        return failed


# -- parallel workers -------------------------------------------------------------------

WORKER_STAGGER = 2.0  # seconds between worker starts, so certbot start-ups do not pile up
WORKER_TIMEOUT = 1800.0


@dataclass
class _Worker:
    index: int
    step: Step
    proc: subprocess.Popen[bytes]
    out: Path
    log: Path
    started: float
    interrupted: bool = False


def _start_worker(index: int, step: Step, run_dir: Path) -> _Worker:
    """``python -m bench.run --worker STEP`` inside a fresh scripts/in-netns namespace."""
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / "measurement.json"
    log = run_dir / "worker.log"
    env = {k: v for k, v in os.environ.items() if k != "IN_NETNS"}  # makes in-netns unshare
    argv = [
        str(REPO_ROOT / "scripts" / "in-netns"), sys.executable, "-m", "bench.run",
        "--worker", step.key, "--worker-dir", str(run_dir), "--worker-out", str(out),
    ]  # fmt: skip
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=handle
        )
    return _Worker(index, step, proc, out, log, time.monotonic())


def _worker_result(worker: _Worker) -> Measurement:
    try:
        return Measurement.from_json(json.loads(worker.out.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        failed = Measurement(worker.step.scenario, worker.step.what, ok=False)
        log = worker.log.read_text(errors="replace") if worker.log.exists() else ""
        failed.errors.append(
            f"worker exited {worker.proc.returncode} without a result ({exc}):\n{log[-3000:]}"
        )
        return failed


def run_workers(
    items: Sequence[tuple[int, Step]],
    run_dir_of: Callable[[int, Step], Path],
    jobs: int,
    progress: Callable[[int, Step, Measurement | None], None],
) -> dict[int, Measurement]:
    """Run the steps ``jobs`` at a time, each in its own network namespace, longest first."""
    queue = sorted(items, key=lambda item: -item[1].expected_seconds())
    running: list[_Worker] = []
    done: dict[int, Measurement] = {}
    last_start = float("-inf")
    try:
        while queue or running:
            for worker in list(running):
                if worker.proc.poll() is not None:
                    running.remove(worker)
                    done[worker.index] = _worker_result(worker)
                    progress(worker.index, worker.step, done[worker.index])
                elif not worker.interrupted and time.monotonic() - worker.started > WORKER_TIMEOUT:
                    # SIGINT, not SIGKILL: the worker's context managers then
                    # stop its Pebble and emulator.
                    worker.proc.send_signal(signal.SIGINT)
                    worker.interrupted = True
            if queue and len(running) < jobs and time.monotonic() - last_start >= WORKER_STAGGER:
                index, step = queue.pop(0)
                running.append(_start_worker(index, step, run_dir_of(index, step)))
                last_start = time.monotonic()
                progress(index, step, None)
            time.sleep(0.2)
    finally:
        for worker in running:
            worker.proc.send_signal(signal.SIGINT)
        for worker in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=30)
    return done


# -- report -----------------------------------------------------------------------------


def _fmt_applies(measurement: Measurement) -> str:
    if not measurement.applies:
        return "0"
    if len(measurement.applies) == 1:
        return str(measurement.total_applies)
    parts = " + ".join(f"{n} {z.rstrip('.')}" for z, n in measurement.applies.items())
    return f"{measurement.total_applies} ({parts})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _notes(measurement: Measurement) -> str:
    notes = list(measurement.notes)
    if measurement.refused:
        notes.append(_count(measurement.refused, "request") + " refused by the API")
    if measurement.failed_jobs:
        notes.append(_count(measurement.failed_jobs, "job") + " FAILED")
    if measurement.leftovers:
        notes.append(_count(measurement.leftovers, "challenge row") + " left in the zone")
    return "; ".join(notes)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def results_table(results: Sequence[ScenarioResult]) -> list[str]:
    lines = [
        _row(["Scenario", "Tool", "Wall s", "x floor", "API requests", "Applies", "Jobs",
              "Success", "Notes"]),
        _row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---", "---"]),
    ]  # fmt: skip
    for result in results:
        scenario = result.scenario
        walls = ", ".join(f"{m.wall:.1f}" for m in result.baselines)
        lines.append(
            _row([
                scenario.title, "**floor**", f"{result.floor:.1f}", "1.00", "", "", "", "",
                f"DPF waits {dpf_waits():.0f} s + certbot `--manual` baseline "
                f"{result.baseline:.1f} s (median of {walls})",
            ])
        )  # fmt: skip
        for m in result.rows:
            lines.append(
                _row([
                    scenario.title, m.label, f"{m.wall:.1f}", f"{m.wall / result.floor:.2f}",
                    str(m.requests), _fmt_applies(m), str(m.jobs), "yes" if m.ok else "**no**",
                    _notes(m),
                ])
            )  # fmt: skip
    return lines


def target_checks(results: Sequence[ScenarioResult]) -> list[str]:
    """The plugin's targets: one apply per zone per phase, ≤19 requests, ≤1.3x floor."""
    lines: list[str] = []
    for result in results:
        for m in result.rows:
            if m.label != PLUGIN.label:
                continue
            title = result.scenario.title
            checks: list[tuple[bool, str]] = [(m.ok, "certificate issued")]
            expected = {zone: 2 for zone in result.scenario.zones}
            checks.append(
                (m.applies == expected, f"applies per zone {dict(m.applies)} (target {expected})")
            )
            ratio = m.wall / result.floor
            checks.append((ratio <= TARGET_RATIO, f"{ratio:.2f}x floor (target ≤ {TARGET_RATIO})"))
            if result.scenario.key == "wildcard":
                checks.append(
                    (
                        m.requests <= TARGET_WILDCARD_REQUESTS,
                        f"{m.requests} API requests (target ≤ {TARGET_WILDCARD_REQUESTS})",
                    )
                )
            checks.append((m.leftovers == 0, f"{m.leftovers} challenge rows left after cleanup"))
            checks.append((m.refused == 0, f"{m.refused} requests refused by the API"))
            for passed, text in checks:
                lines.append(f"- {'PASS' if passed else '**FAIL**'} {title}: {text}")
    return lines


def breakdown(results: Sequence[ScenarioResult]) -> list[str]:
    lines: list[str] = []
    for result in results:
        for m in result.rows:
            if not m.measured_by_dpf:
                continue
            kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(m.kinds.items()))
            lines.append(f"- {result.scenario.title} / {m.label}: {kinds or 'no requests'}")
    return lines


def failures(results: Sequence[ScenarioResult]) -> list[str]:
    lines: list[str] = []
    for result in results:
        for m in [*result.baselines, *result.rows]:
            if m.errors:
                lines.append(f"- {result.scenario.title} / {m.label}:")
                lines.append("")
                lines.append("  ```")
                for error in m.errors:
                    lines += [f"  {line}" for line in error.splitlines()]
                lines.append("  ```")
    return lines


def _version(executable: Path) -> str:
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        return f"unavailable ({exc})"
    return (out.stdout + out.stderr).strip().splitlines()[-1] if out.stdout + out.stderr else "?"


def settings_section(argv: Sequence[str], elapsed: float, quick: bool, jobs: int) -> list[str]:
    lags = ", ".join(
        f"{ns.hostname.rstrip('.')} {ns.address} lag {ns.lag:g} s" for ns in NAMESERVERS
    )
    pebble_env = " ".join(f"{k}={v}" for k, v in sorted(PEBBLE_ENV.items()))
    zones = ", ".join(f"{zone.rstrip('.')} ({code})" for zone, code in ZONES.items())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "scripts/in-netns .venvs/main/bin/python -m bench.run" + "".join(
        f" {shlex.quote(a)}" for a in argv
    )
    return [
        "# certbot-dns-iijdpf benchmark",
        "",
        f"Run {now}{' (--quick)' if quick else ''}, {elapsed / 60:.1f} min in total: `{command}`",
        "",
        "## Settings",
        "",
        f"- DPF emulator (`tests/dpf_emulator`, in-process): API latency {API_LATENCY * 1000:.0f} "
        f"ms per request, every job RUNNING for {JOB_SECONDS:g} s; nameservers {lags}; "
        f"zones {zones}; resolver {RESOLVER[0]}:{RESOLVER[1]}.",
        f"- Pebble (`/usr/bin/pebble`): {pebble_env}; its VA asks {PEBBLE_DNS}, the slower "
        "nameserver.",
        "- A fresh emulator, Pebble (and throwaway PKI) and certbot config/work/logs directories "
        "for every row; each configuration runs once. "
        + (
            "The baseline and plugin runs come first, one at a time with nothing else running; "
            f"then the certbot-dns-multi runs, {jobs} at a time, each in its own network "
            "namespace (`scripts/in-netns`), longest first, starts 2 s apart."
            if jobs > 1
            else "All runs one after the other."
        ),
        f"- certbot-dns-iijdpf: `{MAIN_CERTBOT.relative_to(REPO_ROOT)}` "
        f"({_version(MAIN_CERTBOT)}), `-a dns-iijdpf` with only `dns_iijdpf_api_token` and "
        "`dns_iijdpf_endpoint` in the INI; every other option at its default "
        "(`--dns-iijdpf-propagation-seconds` 600 is an upper bound: it polls both nameservers).",
        f"- certbot-dns-multi: `{MULTI_CERTBOT.relative_to(REPO_ROOT)}` "
        f"({_version(MULTI_CERTBOT)}), `dns_multi_provider = iijdpf`, `IIJ_DPF_API_TOKEN`, "
        "`IIJ_DPF_DPM_SERVICE_CODE`, `IIJ_DPF_API_ENDPOINT`; `--dns-multi-propagation-seconds` "
        f"left at its default {MULTI_DEFAULT_PROPAGATION} (flag omitted) or set to 5. It finds "
        "the zone by service code, so names in two zones take one run per zone (two "
        "certificates; the row is their sum). The one-certificate attempt is its own row.",
        f"- **Floor** = DPF waits ({JOB_SECONDS:g} write job + {JOB_SECONDS:g} apply job + "
        f"{SLOWEST.lag:g} slowest nameserver lag + {JOB_SECONDS:g} cleanup write job + "
        f"{JOB_SECONDS:g} cleanup apply job = {dpf_waits():g} s) + the same certbot "
        "(`.venvs/main`) against the same kind of Pebble with `--manual` auth/cleanup hooks "
        "that only `/set-txt` / `/clear-txt` pebble-challtestsrv, Pebble's DNS for that run "
        "(median of the baseline runs). `x floor` = wall / floor.",
        "- Wall = the certbot command(s) only (Pebble and emulator start-up excluded). "
        "API requests, applies and jobs come from the emulator (request log, completed "
        "applies, all jobs) after the run; Success = exit 0 and a certificate with "
        "exactly the requested names.",
    ]


def render(results: Sequence[ScenarioResult], argv: Sequence[str], elapsed: float,
           quick: bool, jobs: int) -> str:  # fmt: skip
    lines = settings_section(argv, elapsed, quick, jobs)
    lines += ["", "## Results", "", *results_table(results)]
    checks = target_checks(results)
    if checks:
        lines += ["", "## The plugin's targets", "", *checks]
    lines += ["", "## API requests by kind", "", *breakdown(results)]
    errors = failures(results)
    if errors:
        lines += ["", "## Failed runs (certbot output)", "", *errors]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- main -------------------------------------------------------------------------------


def _csv(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = sorted(set(items) - set(choices))
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(choices)}")
        return items

    return parse


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark certbot-dns-iijdpf against certbot-dns-multi (lego iijdpf) on "
        "the DPF emulator. Run inside scripts/in-netns.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: one baseline run per scenario and certbot-dns-multi at its default "
        "60 s only for the wildcard scenario",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="Markdown report (default: %(default)s)"
    )
    scenario_keys = list(SCENARIO_BY_KEY)
    tool_keys = [t.key for t in TOOLS]
    parser.add_argument(
        "--scenarios",
        type=_csv(scenario_keys),
        default=list(DEFAULT_SCENARIOS),
        help=f"comma list of {','.join(scenario_keys)} (default: {','.join(DEFAULT_SCENARIOS)})",
    )
    parser.add_argument(
        "--tools",
        type=_csv(tool_keys),
        default=tool_keys,
        help=f"comma list of {','.join(tool_keys)} (default: all; the baseline always runs)",
    )
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=None,
        help="certbot --manual baseline runs per scenario, median used (default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=4,
        help="certbot-dns-multi runs at a time, each in its own network namespace; the plugin "
        "and baseline runs always run alone, before them (default: %(default)s; 1 = serial)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs of every run)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.baseline_runs is None:
        args.baseline_runs = 1 if args.quick else 3
    if args.baseline_runs < 1:
        parser.error("--baseline-runs must be at least 1")
    return args


def worker_main(args: argparse.Namespace) -> int:
    """Run one step (in the namespace the parent made for it) and write its measurement."""
    if args.worker_dir is None or args.worker_out is None:
        print("--worker needs --worker-dir and --worker-out", file=sys.stderr)
        return 2
    measurement = execute(Step.from_key(args.worker), args.worker_dir)
    write_atomically(args.worker_out, json.dumps(measurement.to_json(), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if not in_test_netns():
        print(
            "bench.run binds port 53 and Pebble's fixed ports: run it as root inside "
            "scripts/in-netns (scripts/in-netns .venvs/main/bin/python -m bench.run)",
            file=sys.stderr,
        )
        return 2
    if args.worker:
        return worker_main(args)
    for executable in (MAIN_CERTBOT, MULTI_CERTBOT):
        if not executable.exists():
            print(f"{executable} is missing: run scripts/bootstrap", file=sys.stderr)
            return 2

    steps = plan(args)
    total = len(steps)
    started = time.monotonic()
    workroot = Path(tempfile.mkdtemp(prefix="bench-"))
    measured: dict[int, Measurement] = {}

    def run_dir_of(index: int, step: Step) -> Path:
        slug = re.sub(r"[^\w.@-]", "_", step.what)
        return workroot / f"{index:02d}-{step.scenario.key}-{slug}"

    def progress(index: int, step: Step, measurement: Measurement | None) -> None:
        at = time.monotonic() - started
        if measurement is None:
            print(f"{at:6.0f} s [{index}/{total}] {step.key}: started", file=sys.stderr)
        else:
            state = "ok" if measurement.ok else "FAILED"
            print(
                f"{at:6.0f} s [{index}/{total}] {step.key}: {measurement.wall:.1f} s, {state}",
                file=sys.stderr,
            )

    parallel = args.jobs > 1
    try:
        for index, step in enumerate(steps, 1):
            if parallel and step.in_namespace:
                continue
            progress(index, step, None)
            measured[index] = execute(step, run_dir_of(index, step))
            progress(index, step, measured[index])
        if parallel:
            in_namespaces = [(i, s) for i, s in enumerate(steps, 1) if s.in_namespace]
            measured.update(run_workers(in_namespaces, run_dir_of, args.jobs, progress))
    finally:
        if args.keep:
            print(f"work directory kept: {workroot}", file=sys.stderr)
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    results = {
        s.key: ScenarioResult(s) for s in SCENARIO_BY_KEY.values() if s.key in args.scenarios
    }
    for index, step in enumerate(steps, 1):
        result = results[step.scenario.key]
        target = result.baselines if step.what == "baseline" else result.rows
        target.append(measured[index])
    ordered = [r for r in results.values() if r.baselines]
    elapsed = time.monotonic() - started
    report = render(ordered, argv, elapsed, args.quick, args.jobs)
    write_atomically(args.out, report)
    print(report)
    print(f"saved to {args.out}", file=sys.stderr)
    baselines_ok = all(m.ok for r in ordered for m in r.baselines)
    return 0 if baselines_ok else 1


if __name__ == "__main__":
    sys.exit(main())
