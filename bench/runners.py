"""Run one step: a fresh environment, the certbot command(s), and what the emulator saw.

Every step gets a fresh DPF emulator (or pebble-challtestsrv for the baseline),
a fresh Pebble with throwaway PKI, and fresh certbot directories, so runs
cannot influence each other through reused authorizations, leftover records
or learned job times.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.measurement import Measurement
from bench.scenarios import RunKind, Step, Tool
from bench.settings import (
    API_LATENCY,
    CHALLTESTSRV_DNS,
    CHALLTESTSRV_MANAGEMENT,
    JOB_SECONDS,
    NAMESERVERS,
    PEBBLE_DNS,
    TOKEN,
    ZONES,
)
from tests.dpf_emulator import Emulator, EmulatorConfig, TokenSpec, ZoneSpec
from tests.harness import REPO_ROOT, CertbotRunner, ChallTestSrv, Pebble, make_pki
from tests.harness.dpf import (
    DNS_MULTI_CERTBOT,
    MAIN_CERTBOT,
    RESOLVER,
    challenge_rows,
    dns_multi_credentials,
    domain_args,
    plugin_credentials,
)


def execute(step: Step, run_dir: Path) -> Measurement:
    """Run ``step`` in ``run_dir``; any failure of the harness is recorded, not raised."""
    run_dir.mkdir(parents=True, exist_ok=True)
    measurement = Measurement(step.kind, step.tool)
    try:
        if step.tool is None:
            run_baseline(step, run_dir, measurement)
        elif not step.tool.dns_multi:
            run_plugin(step, run_dir, measurement)
        elif step.kind is RunKind.ONE_CERTIFICATE:
            run_multi_one_certificate(step, step.tool, run_dir, measurement)
        else:
            run_multi(step, step.tool, run_dir, measurement)
    except Exception:
        measurement.errors.append("the run did not complete:\n" + traceback.format_exc()[-3000:])
        return measurement
    measurement.finished = True
    return measurement


# -- the runs ---------------------------------------------------------------------------


def run_baseline(step: Step, run_dir: Path, into: Measurement) -> None:
    """certbot --manual whose hooks only make pebble-challtestsrv serve the record."""
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
        ]  # fmt: skip
        run_certbot(runner, args, step.scenario.domains, step.timeout(), into)


def run_plugin(step: Step, run_dir: Path, into: Measurement) -> None:
    with dpf_environment(run_dir) as (emu, pebble):
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=MAIN_CERTBOT)
        ini = plugin_credentials(run_dir / "iijdpf.ini", emu.api_url, TOKEN)
        args = ["certonly", "-a", "dns-iijdpf", "--dns-iijdpf-credentials", str(ini)]
        run_certbot(runner, args, step.scenario.domains, step.timeout(), into)
        collect(emu, into)


def run_multi(step: Step, tool: Tool, run_dir: Path, into: Measurement) -> None:
    """One certificate per zone (one service code per run); times and counts summed."""
    with dpf_environment(run_dir) as (emu, pebble):
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=DNS_MULTI_CERTBOT)
        for zone in step.scenario.zones:
            ini = dns_multi_credentials(
                run_dir / f"multi-{zone.rstrip('.')}.ini", emu.api_url, TOKEN, ZONES[zone]
            )
            domains = step.scenario.domains_in(zone)
            run_certbot(runner, multi_args(tool, ini), domains, step.timeout(), into)
        collect(emu, into)


def run_multi_one_certificate(step: Step, tool: Tool, run_dir: Path, into: Measurement) -> None:
    """All names in one certificate with the first zone's service code (expected to fail)."""
    zone = step.scenario.zones[0]
    with dpf_environment(run_dir) as (emu, pebble):
        runner = CertbotRunner(run_dir / "certbot", pebble, executable=DNS_MULTI_CERTBOT)
        ini = dns_multi_credentials(run_dir / "multi.ini", emu.api_url, TOKEN, ZONES[zone])
        run_certbot(runner, multi_args(tool, ini), step.scenario.domains, step.timeout(), into)
        collect(emu, into)


def multi_args(tool: Tool, ini: Path) -> list[str]:
    args = ["certonly", "-a", "dns-multi", "--dns-multi-credentials", str(ini)]
    if tool.propagation is not None:
        args += ["--dns-multi-propagation-seconds", str(tool.propagation)]
    return args


# -- environments and measuring ---------------------------------------------------------


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        zones=[ZoneSpec(name, code) for name, code in ZONES.items()],
        tokens=[TokenSpec(TOKEN)],
        nameservers=list(NAMESERVERS),
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


def run_certbot(
    runner: CertbotRunner,
    args: Sequence[str],
    domains: Sequence[str],
    timeout: float,
    into: Measurement,
) -> None:
    """Run one certbot command for ``domains``, add its wall time, check its certificate."""
    cert_name = domains[0].removeprefix("*.")
    args = [*args, "--cert-name", cert_name, *domain_args(domains)]
    into.commands.append(_shown(runner, args))
    started = time.monotonic()
    result = runner.run(args, timeout=timeout)
    into.wall += time.monotonic() - started
    into.certbot_runs += 1
    problem = None
    if result.returncode != 0:
        problem = f"exit {result.returncode}:\n{error_excerpt(result)}"
    else:
        try:
            sans = runner.cert_sans(cert_name)
        except (OSError, ValueError) as exc:
            problem = f"certbot exited 0 but no certificate {cert_name}: {exc}"
        else:
            if sans != set(domains):
                problem = f"certificate {cert_name} has {sorted(sans)}"
    if problem is not None:
        into.failed_runs += 1
        into.errors.append(problem)


def _shown(runner: CertbotRunner, args: Sequence[str]) -> str:
    """The command as shown in the report: paths relative to the repository and the run.

    The harness adds its own options to every command (``CertbotRunner.common_args``:
    directories, ``--server``, ``--non-interactive`` and the like); they are left out.
    """
    executable = str(runner.executable).removeprefix(f"{REPO_ROOT}/")
    text = shlex.join([executable, *args])
    return text.replace(f"{runner.base_dir.parent}/", "RUN/")


def error_excerpt(result: subprocess.CompletedProcess[str], limit: int = 6) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    words = ("Error", "error", "failed", "Failed", "refused")
    interesting = [line for line in lines if any(word in line for word in words)]
    return "\n".join((interesting or lines)[-limit:])


def collect(emu: Emulator, into: Measurement) -> None:
    """Add what the emulator saw to ``into`` (once per emulator, after the runs)."""
    with contextlib.suppress(TimeoutError):
        emu.wait_jobs(timeout=30)
    log = emu.request_log
    into.requests += len(log)
    into.refused += sum(1 for entry in log if entry.status is None or entry.status >= 400)
    for entry in log:
        kind = path_kind(entry.method, entry.path)
        into.kinds[kind] = into.kinds.get(kind, 0) + 1
    for zone in ZONES:
        count = emu.applies(zone)
        if count:
            into.applies[zone] = into.applies.get(zone, 0) + count
    jobs = emu.jobs
    into.jobs += len(jobs)
    into.failed_jobs += sum(1 for job in jobs if job.status != "SUCCESSFUL")
    into.leftovers += sum(len(challenge_rows(emu, zone)) for zone in ZONES)


def path_kind(method: str, path: str) -> str:
    """``GET /zones/{zone}/records/currents/count`` rather than the literal ids."""
    shaped: list[str] = []
    previous = ""
    for part in path.strip("/").split("/"):
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
