"""The benchmark's target checks and exit status, on made-up measurements."""

from __future__ import annotations

from pathlib import Path

from bench.measurement import Measurement, Results, ScenarioResult
from bench.run import exit_status
from bench.scenarios import MULTI_SHORT, PLUGIN, TWO_ZONES, WILDCARD, RunKind, Scenario
from bench.settings import TARGET_APPLIES_PER_ZONE
from bench.targets import Check, check_plugin


def baseline(wall: float = 2.5) -> Measurement:
    return Measurement(RunKind.BASELINE, None, finished=True, certbot_runs=1, wall=wall)


def plugin_run(scenario: Scenario, **changes: object) -> Measurement:
    run = Measurement(
        RunKind.TOOL,
        PLUGIN,
        finished=True,
        certbot_runs=1,
        wall=11.0,
        requests=15,
        applies={zone: TARGET_APPLIES_PER_ZONE for zone in scenario.zones},
        jobs=4,
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def lego_run(requests: int = 36) -> Measurement:
    return Measurement(
        RunKind.TOOL, MULTI_SHORT, finished=True, certbot_runs=1, wall=35.0, requests=requests
    )


def results(*scenarios: ScenarioResult) -> Results:
    return Results("now", "bench", 1.0, 4, False, {}, list(scenarios))


def verdicts(checks: list[Check]) -> dict[str, bool | None]:
    return {check.target: check.passed for check in checks}


def test_a_plugin_run_meeting_every_target_passes_and_exits_0() -> None:
    result = ScenarioResult(WILDCARD, [baseline(), plugin_run(WILDCARD), lego_run()])
    checks = check_plugin([result])
    assert verdicts(checks) == {
        "issued": True,
        "applies": True,
        "time": True,
        "requests": True,
        "clean": True,
    }
    assert exit_status(results(result), checks) == 0


def test_a_crashed_plugin_run_is_a_failed_target_and_exits_1() -> None:
    crashed = Measurement(RunKind.TOOL, PLUGIN, errors=["the run did not complete:\nHarnessError"])
    result = ScenarioResult(WILDCARD, [baseline(), crashed, lego_run()])
    checks = check_plugin([result])
    assert [(c.target, c.passed) for c in checks] == [("issued", False)]
    assert "did not complete" in checks[0].detail
    assert exit_status(results(result), checks) == 1


def test_a_plugin_certificate_that_failed_is_a_failed_target() -> None:
    result = ScenarioResult(WILDCARD, [baseline(), plugin_run(WILDCARD, failed_runs=1)])
    checks = check_plugin([result])
    assert verdicts(checks) == {"issued": False}
    assert exit_status(results(result), checks) == 1


def test_targets_are_checked_for_each_scenario_by_tool() -> None:
    ok = ScenarioResult(WILDCARD, [baseline(), plugin_run(WILDCARD), lego_run()])
    slow = ScenarioResult(
        TWO_ZONES,
        [baseline(), lego_run(), plugin_run(TWO_ZONES, wall=30.0, requests=40)],
    )
    checks = check_plugin([ok, slow])
    failing = {(c.scenario.key, c.target) for c in checks if c.passed is False}
    assert failing == {("two-zones", "time"), ("two-zones", "requests")}
    assert exit_status(results(ok, slow), checks) == 1


def test_applies_must_be_one_per_zone_per_phase() -> None:
    run = plugin_run(TWO_ZONES, applies={"example.com.": 4})
    checks = check_plugin([ScenarioResult(TWO_ZONES, [baseline(), run])])
    assert verdicts(checks)["applies"] is False


def test_the_time_bound_is_the_larger_of_floor_and_rate_floor() -> None:
    # 400 requests at the plugin's own rate take longer than DPF's waits and certbot.
    run = plugin_run(WILDCARD, requests=400, wall=400 / PLUGIN.rate * 1.1)
    checks = check_plugin([ScenarioResult(WILDCARD, [baseline(), run])])
    assert verdicts(checks)["time"] is True


def test_without_a_dns_multi_run_the_request_target_is_not_checked() -> None:
    result = ScenarioResult(WILDCARD, [baseline(), plugin_run(WILDCARD)])
    checks = check_plugin([result])
    assert verdicts(checks)["requests"] is None
    assert exit_status(results(result), checks) == 0


def test_a_failed_baseline_exits_1() -> None:
    failed = Measurement(RunKind.BASELINE, None, finished=True, certbot_runs=1, failed_runs=1)
    result = ScenarioResult(WILDCARD, [failed, plugin_run(WILDCARD)])
    checks = check_plugin([result])
    assert verdicts(checks)["time"] is None
    assert exit_status(results(result), checks) == 1


def test_results_survive_their_json_form(tmp_path: Path) -> None:
    original = results(
        ScenarioResult(WILDCARD, [baseline(), plugin_run(WILDCARD, kinds={"GET /zones": 1})])
    )
    original.save(tmp_path / "results.json")
    assert Results.load(tmp_path / "results.json") == original
