"""Wall time and DPF API cost of getting a certificate, per tool and scenario.

Run as root inside the private network namespace (it binds 127.0.0.53:53,
127.0.0.54:53, 127.0.0.1:53 and Pebble's fixed ports)::

    scripts/in-netns .venvs/main/bin/python -m bench.run [--quick] [--out FILE]

It writes the Markdown report, the results as JSON and the plot beside each
other (``latest.md``, ``latest.json``, ``latest.png``) and exits 1 when a
target of the plugin fails, a plugin run did not complete, or a baseline run
failed. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.measurement import Measurement, Results, ScenarioResult, write_atomically
from bench.plot import growth_png
from bench.pool import run_workers, worker_main
from bench.report import render
from bench.runners import execute
from bench.scenarios import SCENARIOS, TOOLS, Step, plan
from bench.settings import BASELINE_RUNS, DEFAULT_OUT, JOBS
from bench.targets import Check, check_plugin, failed
from tests.harness import REPO_ROOT, in_test_netns
from tests.harness.dpf import DNS_MULTI_CERTBOT, MAIN_CERTBOT

_SLUG = re.compile(r"[^\w.@-]")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.render is not None:
        return publish(Results.load(args.render), args.out)
    if not in_test_netns():
        print(
            "bench.run binds port 53 and Pebble's fixed ports: run it as root inside "
            "scripts/in-netns (scripts/in-netns .venvs/main/bin/python -m bench.run)",
            file=sys.stderr,
        )
        return 2
    if args.worker is not None:
        return worker_main(args.worker)
    for executable in (MAIN_CERTBOT, DNS_MULTI_CERTBOT):
        if not executable.exists():
            print(f"{executable} is missing: run scripts/bootstrap", file=sys.stderr)
            return 2
    command = "scripts/in-netns .venvs/main/bin/python -m bench.run" + "".join(
        f" {shlex.quote(a)}" for a in argv
    )
    return publish(measure(args, command), args.out)


def measure(args: argparse.Namespace, command: str) -> Results:
    """Run every planned step; every step yields a measurement, a failed one included."""
    started_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios]
    tools = [t for t in TOOLS if t.key in args.tools]
    steps = plan(scenarios, tools, args.baseline_runs, args.quick)
    started = time.monotonic()
    workroot = Path(tempfile.mkdtemp(prefix="bench-"))
    run_dirs = {
        index: workroot / f"{index:02d}-{_SLUG.sub('_', step.name)}"
        for index, step in enumerate(steps, 1)
    }
    progress = _progress(len(steps), started)
    measured: dict[int, Measurement] = {}
    try:
        for index, step in enumerate(steps, 1):
            if args.jobs > 1 and step.in_namespace:
                continue
            progress(index, step, None)
            measured[index] = execute(step, run_dirs[index])
            progress(index, step, measured[index])
        if args.jobs > 1:
            parallel = [(i, s, run_dirs[i]) for i, s in enumerate(steps, 1) if s.in_namespace]
            measured.update(run_workers(parallel, args.jobs, progress))
    finally:
        if args.keep:
            print(f"work directory kept: {workroot}", file=sys.stderr)
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    results = {s.key: ScenarioResult(s) for s in scenarios}
    for index, step in enumerate(steps, 1):
        missing = Measurement(step.kind, step.tool, errors=["no result: the run never reported"])
        results[step.scenario.key].runs.append(measured.get(index, missing))
    return Results(
        started=started_at,
        command=command,
        elapsed=time.monotonic() - started,
        jobs=args.jobs,
        quick=args.quick,
        versions={_rel(exe): _version(exe) for exe in (MAIN_CERTBOT, DNS_MULTI_CERTBOT)},
        scenarios=list(results.values()),
    )


def publish(results: Results, out: Path) -> int:
    """Write the report, the JSON and the plot; the exit status says whether targets hold."""
    checks = check_plugin(results.scenarios)
    png = growth_png(results.scenarios)
    plot = out.with_suffix(".png")
    if png is not None:
        write_atomically(plot, png)
    report = render(results, checks, plot.name if png is not None else None)
    results.save(out.with_suffix(".json"))
    write_atomically(out, report)
    print(report)
    print(f"saved to {out} (and {out.with_suffix('.json').name})", file=sys.stderr)
    return exit_status(results, checks)


def exit_status(results: Results, checks: Sequence[Check]) -> int:
    """1 if a plugin target failed, a plugin run did not complete or a baseline failed."""
    baselines_ok = all(m.issued for r in results.scenarios for m in r.baselines)
    return 1 if failed(checks) or not baselines_ok else 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark certbot-dns-iijdpf against certbot-dns-multi (lego iijdpf) on "
        "the DPF emulator. Run inside scripts/in-netns. Exits 1 when a target of the plugin "
        "fails, a plugin run did not complete or a baseline run failed.",
    )
    scenario_keys = [s.key for s in SCENARIOS]
    tool_keys = [t.key for t in TOOLS]
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one baseline run per scenario; certbot-dns-multi only at its short sleep and on "
        "at most ten names",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="Markdown report; the JSON and the PNG go beside it (default: %(default)s)",
    )
    parser.add_argument(
        "--scenarios",
        type=_csv(scenario_keys),
        default=scenario_keys,
        help=f"comma list of {','.join(scenario_keys)} (default: all)",
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
        help=f"certbot --manual baseline runs per scenario, median used (default "
        f"{BASELINE_RUNS}, 1 with --quick)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=JOBS,
        help="certbot-dns-multi runs at a time, each in its own network namespace; the plugin "
        "and baseline runs always run alone, before them (default: %(default)s; 1 = serial)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs of every run)"
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="run nothing: make the report and the plot again from a results file",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.baseline_runs is None:
        args.baseline_runs = 1 if args.quick else BASELINE_RUNS
    if args.baseline_runs < 1:
        parser.error("--baseline-runs must be at least 1")
    return args


def _csv(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = sorted(set(items) - set(choices))
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(choices)}")
        return items

    return parse


def _progress(total: int, started: float) -> Callable[[int, Step, Measurement | None], None]:
    def progress(index: int, step: Step, measurement: Measurement | None) -> None:
        at = time.monotonic() - started
        if measurement is None:
            state = "started"
        else:
            state = f"{measurement.wall:.1f} s, {'ok' if measurement.issued else 'FAILED'}"
        print(f"{at:6.0f} s [{index}/{total}] {step.name}: {state}", file=sys.stderr)

    return progress


def _version(executable: Path) -> str:
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        return f"unavailable ({exc})"
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[-1] if text else "?"


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


if __name__ == "__main__":
    sys.exit(main())
