"""The Markdown report of a benchmark run, made from its results and the settings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bench.measurement import Measurement, Results, ScenarioResult
from bench.scenarios import MULTI_DEFAULT, MULTI_SHORT, PLUGIN, RunKind
from bench.settings import (
    API_LATENCY,
    BASELINE_RUNS,
    CHALLTESTSRV_DNS,
    JOB_SECONDS,
    LEGO_BURST,
    LEGO_RATE,
    NAMESERVERS,
    PEBBLE_DNS,
    PLUGIN_BURST,
    PLUGIN_PROPAGATION,
    PLUGIN_RATE,
    SLOWEST,
    WORKER_STAGGER,
    ZONES,
    dpf_waits,
)
from bench.targets import TARGETS, Check
from tests.harness import REPO_ROOT
from tests.harness.dpf import DNS_MULTI_CERTBOT, MAIN_CERTBOT, RESOLVER
from tests.harness.pebble import BASE_ENV as PEBBLE_ENV


def render(results: Results, checks: Sequence[Check], plot_name: str | None) -> str:
    scenarios = results.scenarios
    lines = [
        "# certbot-dns-iijdpf benchmark",
        "",
        f"Run {results.started}{' (--quick)' if results.quick else ''}, "
        f"{results.elapsed / 60:.1f} min in total: `{results.command}`",
        "",
        "## Settings",
        "",
        *settings(results),
        "",
        "## Results",
        "",
        *table(scenarios),
    ]
    if plot_name is not None:
        lines += [
            "",
            f"![Wall time and API requests against the number of names]({plot_name})",
            "",
            "Wall time and API requests against the number of names in one certificate "
            "(both axes logarithmic; the floor is dashed).",
        ]
    lines += ["", "## The plugin's targets", "", *target_lines(checks)]
    lines += ["", "## API requests by kind", "", *breakdown(scenarios)]
    lines += ["", "## Commands", "", *commands(scenarios)]
    errors = failures(scenarios)
    if errors:
        lines += ["", "## Failed runs (certbot output)", "", *errors]
    return "\n".join(lines) + "\n"


def settings(results: Results) -> list[str]:
    lags = ", ".join(
        f"{ns.hostname.rstrip('.')} {ns.address} lag {ns.lag:g} s" for ns in NAMESERVERS
    )
    zones = ", ".join(f"{zone.rstrip('.')} ({code})" for zone, code in ZONES.items())
    pebble_env = " ".join(f"{k}={v}" for k, v in sorted(PEBBLE_ENV.items()))
    order = (
        "The baseline and plugin runs come first, one at a time with nothing else running; "
        f"then the certbot-dns-multi runs, {results.jobs} at a time, each in its own network "
        f"namespace (`scripts/in-netns`), longest first, starts {WORKER_STAGGER:g} s apart."
        if results.jobs > 1
        else "All runs one after the other."
    )
    return [
        f"- DPF emulator (`tests/dpf_emulator`, in-process): API latency "
        f"{API_LATENCY * 1000:.0f} ms per request, every job RUNNING for {JOB_SECONDS:g} s; "
        f"nameservers {lags}; zones {zones}; resolver {RESOLVER[0]}:{RESOLVER[1]}.",
        f"- Pebble (`/usr/bin/pebble`): {pebble_env}; its VA asks {PEBBLE_DNS}, the slowest "
        f"nameserver. The baseline's Pebble asks pebble-challtestsrv at {CHALLTESTSRV_DNS}.",
        "- A fresh emulator, Pebble (and throwaway PKI) and certbot config/work/logs "
        "directories for every row; each configuration runs once, the baseline "
        f"{_count(_baseline_runs(results), 'time')} per scenario. {order}",
        f"- {PLUGIN.label}: `{_rel(MAIN_CERTBOT)}` ({_version(results, MAIN_CERTBOT)}), "
        "`-a dns-iijdpf` with only `dns_iijdpf_api_token` and `dns_iijdpf_endpoint` in the "
        f"INI; every other option at its default (`--dns-iijdpf-propagation-seconds` "
        f"{PLUGIN_PROPAGATION} is an upper bound: it polls every nameserver). Its own rate "
        f"limit: {PLUGIN_RATE:g} requests/s, bursts of {PLUGIN_BURST}.",
        f"- certbot-dns-multi: `{_rel(DNS_MULTI_CERTBOT)}` "
        f"({_version(results, DNS_MULTI_CERTBOT)}), `dns_multi_provider = iijdpf`, "
        "`IIJ_DPF_API_TOKEN`, `IIJ_DPF_DPM_SERVICE_CODE`, `IIJ_DPF_API_ENDPOINT`; "
        f"`--dns-multi-propagation-seconds` left at its default {MULTI_DEFAULT.sleep:g} (flag "
        f"omitted) or set to {MULTI_SHORT.sleep:g}. Its SDK's rate limit: {LEGO_RATE:g} "
        f"request/s, bursts of {LEGO_BURST}. It finds the zone by service code, so names in "
        "two zones take one run per zone (two certificates; the row is their sum). The "
        "one-certificate attempt is its own row.",
        f"- **Floor** = DPF waits ({JOB_SECONDS:g} write job + {JOB_SECONDS:g} apply job + "
        f"{SLOWEST.lag:g} slowest nameserver lag + {JOB_SECONDS:g} cleanup write job + "
        f"{JOB_SECONDS:g} cleanup apply job = {dpf_waits():g} s) + the same certbot "
        "(`.venvs/main`) against the same kind of Pebble with `--manual` hooks that only "
        "`/set-txt` / `/clear-txt` pebble-challtestsrv (median of the baseline runs). "
        "`x floor` = wall / floor.",
        "- **Rate floor** = API requests ÷ the client's own rate limit: the least time that "
        "client needs to send them.",
        "- Wall = the certbot command(s) only (Pebble and emulator start-up excluded). API "
        "requests, applies and jobs come from the emulator (request log, completed applies, "
        "all jobs) after the run; Issued = every certbot command exited 0 with a certificate "
        "of exactly the requested names.",
    ]


def table(scenarios: Sequence[ScenarioResult]) -> list[str]:
    lines = [
        _row(["Scenario", "Tool", "Wall s", "x floor", "Rate floor s", "API requests",
              "Requests / name", "Applies", "Jobs", "Issued", "Notes"]),
        _row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---",
              "---"]),
    ]  # fmt: skip
    for result in scenarios:
        scenario = result.scenario
        floor = result.floor
        lines.append(
            _row([scenario.title, "**floor**", _num(floor), "1.00", "", "", "", "", "", "",
                  _floor_note(result)])
        )  # fmt: skip
        for m in result.rows:
            ratio = "" if floor is None or not m.finished else f"{m.wall / floor:.2f}"
            lines.append(
                _row([
                    scenario.title, _label(m), _num(m.wall if m.finished else None), ratio,
                    _num(m.rate_floor), str(m.requests), f"{m.requests / scenario.names:.1f}",
                    _applies(m), str(m.jobs), "yes" if m.issued else "**no**", _notes(result, m),
                ])
            )  # fmt: skip
    return lines


def target_lines(checks: Sequence[Check]) -> list[str]:
    lines = [f"- **{name}**: {text}" for name, text in TARGETS.items()]
    lines.append("")
    if not checks:
        return [*lines, "No plugin run in this benchmark run."]
    for check in checks:
        verdict = "**FAIL**" if check.passed is False else check.verdict
        lines.append(f"- {verdict} {check.scenario.title}, {check.target}: {check.detail}")
    return lines


def breakdown(scenarios: Sequence[ScenarioResult]) -> list[str]:
    lines: list[str] = []
    for result in scenarios:
        for m in result.rows:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(m.kinds.items()))
            lines.append(f"- {result.scenario.title} / {_label(m)}: {kinds or 'no requests'}")
    return lines


def commands(scenarios: Sequence[ScenarioResult]) -> list[str]:
    """Each distinct certbot command, with long runs of ``-d NAME`` shortened."""
    lines = [
        "<details><summary>Every certbot command</summary>",
        "",
        "`RUN` is the run's own directory; the harness adds its certbot directories, "
        "`--server` (Pebble) and the options that make certbot non-interactive.",
        "",
    ]
    for result in scenarios:
        shown: set[str] = set()
        for m in result.runs:
            for command in m.commands:
                line = f"- {result.scenario.title} / {_label(m)}: `{_short(command)}`"
                if line not in shown:  # the baseline runs repeat one command
                    shown.add(line)
                    lines.append(line)
    return [*lines, "", "</details>"]


def failures(scenarios: Sequence[ScenarioResult]) -> list[str]:
    lines: list[str] = []
    for result in scenarios:
        for m in result.runs:
            if m.errors:
                lines += [f"- {result.scenario.title} / {_label(m)}:", "", "  ```"]
                for error in m.errors:
                    lines += [f"  {line}" for line in error.splitlines()]
                lines.append("  ```")
    return lines


# -- cells ------------------------------------------------------------------------------


def _label(m: Measurement) -> str:
    if m.tool is None:
        return "certbot --manual, challtestsrv hooks"
    if m.kind is RunKind.ONE_CERTIFICATE:
        return f"{m.tool.label}: one certificate attempt"
    return m.tool.label


def _floor_note(result: ScenarioResult) -> str:
    baseline = result.baseline
    walls = ", ".join(f"{m.wall:.1f}" if m.issued else "failed" for m in result.baselines)
    if baseline is None:
        return f"no baseline run issued ({walls})"
    return (
        f"DPF waits {dpf_waits():g} s + certbot `--manual` baseline {baseline:.1f} s "
        f"(median of {walls})"
    )


def _notes(result: ScenarioResult, m: Measurement) -> str:
    notes: list[str] = []
    if not m.finished:
        notes.append("**did not complete**")
    if m.kind is RunKind.TOOL and m.certbot_runs > 1:
        notes.append(
            f"sum of {m.certbot_runs} runs, one certificate per zone (one service code per run)"
        )
    if m.kind is RunKind.ONE_CERTIFICATE:
        zone = result.scenario.zones[0]
        notes.append(
            f"service code of {zone.rstrip('.')} ({ZONES[zone]}); how far it gets before "
            "failing depends on the order of the authorizations"
        )
    if m.refused:
        notes.append(_count(m.refused, "request") + " refused by the API")
    if m.failed_jobs:
        notes.append(_count(m.failed_jobs, "job") + " FAILED")
    if m.leftovers:
        notes.append(_count(m.leftovers, "challenge row") + " left in the zone")
    return "; ".join(notes)


def _applies(m: Measurement) -> str:
    if len(m.applies) <= 1:
        return str(m.total_applies)
    parts = " + ".join(f"{n} {zone.rstrip('.')}" for zone, n in m.applies.items())
    return f"{m.total_applies} ({parts})"


_DOMAIN_RUN = re.compile(r"(?: -d \S+){5,}")


def _short(command: str) -> str:
    def shorten(match: re.Match[str]) -> str:
        names = match.group(0).split(" -d ")[1:]
        return f" -d {names[0]} -d {names[1]} … -d {names[-1]}"

    return _DOMAIN_RUN.sub(shorten, command)


def _baseline_runs(results: Results) -> int:
    counts = {len(r.baselines) for r in results.scenarios}
    return counts.pop() if len(counts) == 1 else BASELINE_RUNS


def _version(results: Results, executable: Path) -> str:
    return results.versions.get(_rel(executable), "?")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _rel(path: Path) -> str:
    return str(path).removeprefix(f"{REPO_ROOT}/")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
