"""The run's time budget, on a fake clock."""

from __future__ import annotations

import math

import pytest

from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import DpfError, RunTimeoutError


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_remaining_counts_down_and_stops_at_zero() -> None:
    clock = Clock()
    deadline = Deadline(60, clock=clock)
    assert deadline.seconds == 60
    assert deadline.bounded
    assert deadline.remaining() == 60
    clock.now += 45
    assert deadline.remaining() == 15
    assert not deadline.expired()
    clock.now += 100
    assert deadline.remaining() == 0
    assert deadline.expired()


def test_cap_never_exceeds_what_is_left() -> None:
    clock = Clock()
    deadline = Deadline(10, clock=clock)
    assert deadline.cap(3) == 3
    assert deadline.cap(30) == 10
    clock.now += 20
    assert deadline.cap(3) == 0


def test_check_passes_until_the_budget_is_spent() -> None:
    clock = Clock()
    deadline = Deadline(10, clock=clock)
    deadline.check("anything")
    clock.now += 10
    with pytest.raises(RunTimeoutError) as info:
        deadline.check("DPF job abc (apply zone example.com)")
    assert str(info.value) == (
        "The run's time budget of 10 seconds (--dns-iijdpf-timeout-seconds) ran out while "
        "waiting for DPF job abc (apply zone example.com); raise "
        "--dns-iijdpf-timeout-seconds if DPF is this slow."
    )
    assert isinstance(info.value, DpfError)
    assert info.value.waiting_for == "DPF job abc (apply zone example.com)"
    assert info.value.seconds == 10


def test_error_with_a_reason_says_why_the_wait_does_not_fit() -> None:
    deadline = Deadline(900, clock=Clock())
    text = str(deadline.error("POST /zones/m1/records", "DPF asked to wait 3600 seconds"))
    assert text.startswith(
        "The run's time budget of 900 seconds (--dns-iijdpf-timeout-seconds) does not leave "
        "enough time for POST /zones/m1/records: DPF asked to wait 3600 seconds"
    )


def test_option_name_is_configurable() -> None:
    deadline = Deadline(0, what="--cleanup-seconds", clock=Clock())
    with pytest.raises(RunTimeoutError, match=r"budget of 0 seconds \(--cleanup-seconds\)"):
        deadline.check("cleanup")


def test_extend_only_ever_lengthens() -> None:
    clock = Clock()
    deadline = Deadline(100, clock=clock)
    deadline.extend(30)
    assert deadline.remaining() == 100
    clock.now += 100
    assert deadline.expired()
    deadline.extend(30)
    assert deadline.remaining() == 30
    # The configured budget is still what messages name.
    assert deadline.seconds == 100
    with pytest.raises(RunTimeoutError, match="budget of 100 seconds"):
        clock.now += 30
        deadline.check("cleanup")


def test_unbounded_never_runs_out() -> None:
    deadline = Deadline.unbounded()
    assert not deadline.bounded
    assert deadline.remaining() == math.inf
    assert deadline.cap(5) == 5
    deadline.check("anything")
    assert not deadline.expired()


@pytest.mark.parametrize("seconds", [-1, math.nan])
def test_negative_or_nan_budget_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="zero or more seconds"):
        Deadline(seconds)


def test_repr_shows_the_budget() -> None:
    assert repr(Deadline(60, clock=Clock())) == "Deadline(seconds=60.0, remaining=60.0)"
