from typing import Any

import pytest

from certbot_dns_iijdpf.errors import DpfJobError
from certbot_dns_iijdpf.jobs import JobWaiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeClient:
    """Jobs that finish at a given fake time, with a given final status."""

    def __init__(self, clock: FakeClock, ends: dict[str, tuple[float, dict[str, Any]]]) -> None:
        self.clock = clock
        self.ends = ends
        self.reads: list[str] = []

    def job(self, request_id: str) -> dict[str, Any]:
        self.reads.append(request_id)
        end, final = self.ends[request_id]
        if self.clock.now < end:
            return {"request_id": request_id, "status": "RUNNING"}
        return {"request_id": request_id, **final}


def waiter(client: FakeClient, clock: FakeClock, timeout: float = 30) -> JobWaiter:
    return JobWaiter(client, timeout=timeout, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def test_waits_for_every_job_and_learns_the_duration() -> None:
    clock = FakeClock()
    ok = {"status": "SUCCESSFUL"}
    client = FakeClient(clock, {"a": (1.0, ok), "b": (1.0, ok)})
    w = waiter(client, clock)
    assert set(w.wait([("a", "x"), ("b", "y")])) == {"a", "b"}
    first = len(client.reads)
    client.ends["c"] = (clock.now + 1.0, ok)
    w.wait([("c", "z")])
    # Having learnt that jobs take about a second, one poll is enough.
    assert len(client.reads) - first == 1


def test_failed_job_reports_dpf_fields() -> None:
    clock = FakeClock()
    failed = {"status": "FAILED", "error_type": "Bad Request", "error_message": "invalid rdata"}
    client = FakeClient(clock, {"a": (0.5, failed)})
    with pytest.raises(
        DpfJobError, match="a \\(create TXT x\\) FAILED: Bad Request: invalid rdata"
    ):
        waiter(client, clock).wait([("a", "create TXT x")])


def test_stuck_job_times_out_with_a_message() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {"a": (10_000, {"status": "SUCCESSFUL"})})
    with pytest.raises(DpfJobError, match="still RUNNING after 20 seconds"):
        waiter(client, clock, timeout=20).wait([("a", "apply zone example.com")])
    assert clock.now < 40
