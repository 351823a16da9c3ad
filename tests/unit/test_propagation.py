import pytest

from certbot_dns_iijdpf.propagation import PropagationError, PropagationWaiter, ZoneExpectation

NAME = "_acme-challenge.example.com."


class World:
    """Nameservers whose answers change at fake times."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0
        self.appear = {"192.0.2.1": 1.0, "192.0.2.2": 4.0}
        self.down: set[str] = set()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds

    def query(self, name: str, address: str, timeout: float) -> set[str]:
        if address in self.down:
            self.now += timeout
            raise OSError("timed out")
        return {"v1", "v2"} if self.now >= self.appear[address] else set()

    def resolve(self, host: str) -> list[str]:
        return {"ns1.dpf.test.": ["192.0.2.1"], "ns2.dpf.test.": ["192.0.2.2"]}.get(host, [])


def make(world: World, timeout: float = 60) -> PropagationWaiter:
    return PropagationWaiter(
        timeout,
        interval=0.5,
        query_timeout=1.0,
        unreachable_after=10.0,
        query=world.query,
        resolve=world.resolve,
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
