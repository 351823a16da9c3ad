"""Thresholds and how the states of checks and lineages add up."""

from __future__ import annotations

import pytest

from certbot_dns_iijdpf._internal.health.model import (
    CheckResult,
    Finding,
    LineageResult,
    State,
    Thresholds,
    worst,
)


@pytest.mark.parametrize(
    ("days", "state"),
    [
        (62.0, State.OK),
        (15.7, State.OK),  # a 47-day certificate on its renewal day
        (14.0, State.OK),
        (13.99, State.WARNING),
        (7.0, State.WARNING),
        (6.99, State.CRITICAL),
        (-3.0, State.CRITICAL),
    ],
)
def test_default_thresholds(days: float, state: State) -> None:
    assert Thresholds().state(days) is state


def test_thresholds_given() -> None:
    assert Thresholds(30, 20).state(25) is State.WARNING
    assert Thresholds(30, 20).state(19) is State.CRITICAL
    assert Thresholds(10, 10).state(9.9) is State.CRITICAL
    with pytest.raises(ValueError, match="--critical-days"):
        Thresholds(7, 14)


def test_exit_statuses_are_nagios() -> None:
    assert [int(s) for s in (State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN)] == [
        0,
        1,
        2,
        3,
    ]


def test_the_worst_state_wins() -> None:
    assert worst([]) is State.OK
    assert worst([State.OK, State.WARNING]) is State.WARNING
    assert worst([State.WARNING, State.UNKNOWN]) is State.UNKNOWN
    assert worst([State.UNKNOWN, State.CRITICAL, State.WARNING]) is State.CRITICAL


def test_a_lineage_is_its_worst_finding_and_the_run_its_worst_lineage() -> None:
    good = LineageResult("a.test", "/r/a.test.conf")
    good.add("expiry", State.OK, "expires in 60 days")
    bad = LineageResult("b.test", "/r/b.test.conf")
    bad.add("expiry", State.OK, "expires in 60 days")
    bad.add("staged", State.WARNING, "a draft", "example.com")
    assert (good.state, bad.state) == (State.OK, State.WARNING)
    assert [f.check for f in bad.problems] == ["staged"]
    run = CheckResult("/etc/letsencrypt", Thresholds(), 0.0, lineages=[good, bad])
    seen = [run.state]
    run.problems.append(Finding("lineages", State.UNKNOWN, "--cert-name x: none"))
    seen.append(run.state)
    bad.add("token_write", State.CRITICAL, "no dpf_write")
    seen.append(run.state)
    assert seen == [State.WARNING, State.UNKNOWN, State.CRITICAL]
