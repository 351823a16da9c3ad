from __future__ import annotations

import pytest

from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import PropagationError, RunTimeoutError
from certbot_dns_iijdpf._internal.propagation import PropagationWaiter, ZoneExpectation

NAME = "_acme-challenge.example.com."


class World:
    """Nameservers whose answers change at fake times."""

    def __init__(self) -> None:
        self.now = 0.0
        self.appear = {"192.0.2.1": 1.0, "192.0.2.2": 4.0}
        self.down: set[str] = set()
        self.lifetimes: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def query(self, name: str, address: str, timeout: float) -> set[str]:
        if address in self.down:
            self.now += timeout
            raise OSError("timed out")
        return {"v1", "v2"} if self.now >= self.appear[address] else set()

    def resolve(self, host: str, lifetime: float) -> list[str]:
        self.lifetimes.append(lifetime)
        return {"ns1.dpf.test.": ["192.0.2.1"], "ns2.dpf.test.": ["192.0.2.2"]}.get(host, [])


def make(
    world: World, timeout: float = 60, budget: float | None = None, fallback: float = 120
) -> PropagationWaiter:
    return PropagationWaiter(
        timeout,
        interval=0.5,
        query_timeout=1.0,
        unreachable_after=10.0,
        fallback_seconds=fallback,
        query=world.query,
        resolve=world.resolve,
        deadline=Deadline(budget, clock=world.clock) if budget is not None else None,
        clock=world.clock,
        sleep=world.sleep,
    )


EXPECT = ZoneExpectation("example.com.", ["ns1.dpf.test.", "ns2.dpf.test."], {NAME: {"v1", "v2"}})


def test_returns_when_the_slowest_nameserver_serves() -> None:
    world = World()
    make(world).wait([EXPECT])
    assert 4.0 <= world.now <= 4.6


def test_timeout_names_the_lagging_server() -> None:
    world = World()
    world.appear["192.0.2.2"] = 1000
    with pytest.raises(PropagationError, match=r"ns2\.dpf\.test \(192\.0\.2\.2\).*lacks 2 of 2"):
        make(world, timeout=30).wait([EXPECT])


def test_unreachable_nameservers_fall_back_to_a_fixed_wait() -> None:
    world = World()
    world.down = {"192.0.2.1", "192.0.2.2"}
    make(world, timeout=60).wait([EXPECT])
    # min(120, propagation-seconds) in all, counted from the start.
    assert 59.0 <= world.now <= 62.0


def test_one_unreachable_server_does_not_block_the_others() -> None:
    world = World()
    world.down = {"192.0.2.2"}
    make(world).wait([EXPECT])
    assert world.now < 20


def test_zero_timeout_returns_at_once_without_asking_anyone() -> None:
    def refuse(*args: object) -> object:
        raise AssertionError("no nameserver may be resolved or queried")

    world = World()
    PropagationWaiter(
        0,
        query=refuse,  # type: ignore[arg-type]
        resolve=refuse,  # type: ignore[arg-type]
        deadline=Deadline(1, clock=world.clock),
        clock=world.clock,
        sleep=world.sleep,
    ).wait([EXPECT])
    assert world.now == 0


def test_nothing_expected_returns_at_once() -> None:
    world = World()
    make(world).wait([ZoneExpectation("example.com.", ["ns1.dpf.test."], {})])
    assert world.now == 0


def test_run_deadline_ending_first_is_a_run_timeout() -> None:
    world = World()
    world.appear["192.0.2.2"] = 1000
    with pytest.raises(RunTimeoutError) as info:
        make(world, timeout=600, budget=30).wait([EXPECT])
    assert "The run's time budget of 30 seconds (--dns-iijdpf-timeout-seconds)" in str(info.value)
    assert "nameservers" in str(info.value)
    assert 29.0 <= world.now <= 30.0


def test_fallback_wait_counts_from_the_start_within_the_budget() -> None:
    world = World()
    world.down = {"192.0.2.1", "192.0.2.2"}
    make(world, timeout=600, budget=100, fallback=50).wait([EXPECT])
    assert 49.0 <= world.now <= 51.0


def test_fallback_wait_beyond_the_budget_fails_at_once() -> None:
    world = World()
    world.down = {"192.0.2.1", "192.0.2.2"}
    with pytest.raises(RunTimeoutError, match=r"fixed propagation wait for example\.com"):
        make(world, timeout=600, budget=30, fallback=120).wait([EXPECT])
    # Given up once the servers proved unreachable, not at the end of the budget.
    assert world.now < 15


def test_resolving_the_nameservers_stays_within_the_budget() -> None:
    world = World()
    make(world, budget=100).wait([EXPECT])
    assert world.lifetimes == [5.0, 5.0]

    # With 3 seconds left, a lookup gets half of them: A and AAAA together fit.
    world = World()
    world.appear["192.0.2.2"] = 1000
    with pytest.raises(RunTimeoutError):
        make(world, budget=3).wait([EXPECT])
    assert world.lifetimes[0] == pytest.approx(1.5)
