"""The plugin's targets, checked per scenario for every run of the plugin.

A plugin run that did not complete (certbot failed, the harness or the run
crashed) is a failed target, never a missing row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.measurement import Measurement, ScenarioResult
from bench.scenarios import PLUGIN, RunKind, Scenario
from bench.settings import TARGET_APPLIES_PER_ZONE, TARGET_FLOOR_RATIO, TARGET_REQUEST_SHARE


@dataclass(frozen=True)
class Check:
    scenario: Scenario
    target: str  # what is checked, e.g. "time"
    passed: bool | None  # None: could not be checked (what is compared with is missing)
    detail: str

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "not checked"}[self.passed]


TARGETS = {
    "issued": "the run completes and the certificate has exactly the requested names",
    "applies": f"{TARGET_APPLIES_PER_ZONE} applies per zone: one to publish, one to clean up",
    "time": f"wall time at most {TARGET_FLOOR_RATIO:g}x the bound, the larger of the floor "
    "and the rate floor (requests ÷ the plugin's own rate limit)",
    "requests": f"API requests at most {TARGET_REQUEST_SHARE:g}x certbot-dns-multi's fewest in "
    "the same scenario",
    "clean": "no challenge row left behind, no request refused, no job failed",
}


def check_plugin(results: Sequence[ScenarioResult]) -> list[Check]:
    checks: list[Check] = []
    for result in results:
        for run in result.tool_runs(PLUGIN):
            checks += check_run(result, run)
    return checks


def failed(checks: Sequence[Check]) -> bool:
    return any(check.passed is False for check in checks)


def bound(result: ScenarioResult, run: Measurement) -> float | None:
    """The least wall time the run could take: the floor or its own rate limit's floor."""
    floor, rate_floor = result.floor, run.rate_floor
    if floor is None or rate_floor is None:
        return None
    return max(floor, rate_floor)


def check_run(result: ScenarioResult, run: Measurement) -> list[Check]:
    scenario = result.scenario
    if not run.issued:
        why = run.errors[0].splitlines()[0] if run.errors else "no certbot run"
        return [Check(scenario, "issued", False, f"did not complete: {why}")]
    names = f"{scenario.names} name{'' if scenario.names == 1 else 's'}"
    checks = [Check(scenario, "issued", True, names)]

    expected = {zone: TARGET_APPLIES_PER_ZONE for zone in scenario.zones}
    applies = ", ".join(f"{zone.rstrip('.')} {run.applies.get(zone, 0)}" for zone in expected)
    checks.append(Check(scenario, "applies", run.applies == expected, applies))

    limit = bound(result, run)
    if limit is None:
        checks.append(Check(scenario, "time", None, "no floor: no baseline run issued"))
    else:
        ratio = run.wall / limit
        which = "floor" if limit == result.floor else "rate floor"
        checks.append(
            Check(
                scenario,
                "time",
                ratio <= TARGET_FLOOR_RATIO,
                f"{run.wall:.1f} s = {ratio:.2f}x the {which}, {limit:.1f} s",
            )
        )

    lego = [
        m.requests
        for m in result.runs
        if m.kind is RunKind.TOOL and m.tool is not None and m.tool.dns_multi and m.issued
    ]
    if not lego:
        checks.append(
            Check(scenario, "requests", None, f"{run.requests}; no certbot-dns-multi run issued")
        )
    else:
        fewest = min(lego)
        checks.append(
            Check(
                scenario,
                "requests",
                run.requests <= TARGET_REQUEST_SHARE * fewest,
                f"{run.requests} = {run.requests / fewest:.2f}x certbot-dns-multi's {fewest}",
            )
        )

    clean = run.leftovers == 0 and run.refused == 0 and run.failed_jobs == 0
    checks.append(
        Check(
            scenario,
            "clean",
            clean,
            f"{run.leftovers} rows left, {run.refused} refused, {run.failed_jobs} jobs failed",
        )
    )
    return checks
