from typing import Any

import pytest

from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import DpfJobError, DpfProtocolError, RunTimeoutError
from certbot_dns_iijdpf._internal.jobs import Job, JobWaiter


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
    assert set(w.wait([Job("a", "x"), Job("b", "y")])) == {"a", "b"}
    first = len(client.reads)
    client.ends["c"] = (clock.now + 1.0, ok)
    w.wait([Job("c", "z")])
    # Having learnt that jobs take about a second, one poll is enough.
    assert len(client.reads) - first == 1


def test_failed_job_reports_dpf_fields() -> None:
    clock = FakeClock()
    failed = {"status": "FAILED", "error_type": "Bad Request", "error_message": "invalid rdata"}
    client = FakeClient(clock, {"a": (0.5, failed)})
    with pytest.raises(
        DpfJobError, match="a \\(create TXT x\\) FAILED: Bad Request: invalid rdata"
    ):
        waiter(client, clock).wait([Job("a", "create TXT x")])


def test_stuck_job_times_out_with_a_message() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {"a": (10_000, {"status": "SUCCESSFUL"})})
    with pytest.raises(DpfJobError, match="still RUNNING after 20 seconds"):
        waiter(client, clock, timeout=20).wait([Job("a", "apply zone example.com")])
    assert clock.now < 40


def test_typical_seconds_is_none_until_a_batch_ends() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {"a": (2.0, {"status": "SUCCESSFUL"})})
    w = waiter(client, clock)
    assert w.typical_seconds is None
    w.wait([Job("a", "x")])
    assert w.typical_seconds is not None
    assert 2.0 <= w.typical_seconds <= 3.5


def test_empty_batch_polls_nothing() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {})
    assert waiter(client, clock).wait([]) == {}
    assert client.reads == []
    assert clock.now == 0


def test_failed_job_is_not_still_running() -> None:
    clock = FakeClock()
    failed = {"status": "FAILED", "error_type": "Bad Request", "error_message": "invalid rdata"}
    client = FakeClient(clock, {"a": (0.5, failed)})
    with pytest.raises(DpfJobError) as info:
        waiter(client, clock).wait([Job("a", "create TXT x")])
    assert info.value.still_running is False
    assert "Bad Request" in str(info.value)
    assert "invalid rdata" in str(info.value)


def test_failure_is_reported_after_the_other_jobs_end() -> None:
    clock = FakeClock()
    failed = {"status": "FAILED", "error_type": "Bad Request", "error_message": "no"}
    client = FakeClient(clock, {"a": (0.5, failed), "b": (3.0, {"status": "SUCCESSFUL"})})
    with pytest.raises(DpfJobError, match="a \\(first\\) FAILED"):
        waiter(client, clock).wait([Job("a", "first"), Job("b", "second")])
    assert clock.now >= 3.0
    assert client.reads[-1] == "b"


def test_job_running_at_the_timeout_is_still_running() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {"a": (10_000, {"status": "SUCCESSFUL"})})
    with pytest.raises(DpfJobError) as info:
        waiter(client, clock, timeout=20).wait([Job("a", "apply zone example.com")])
    assert info.value.still_running is True
    assert "a (apply zone example.com) was still RUNNING after 20 seconds" in str(info.value)
    # The last poll is at the timeout, not an interval later.
    assert clock.now == pytest.approx(20.0)


def test_run_deadline_ending_first_is_a_run_timeout() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {"a": (10_000, {"status": "SUCCESSFUL"})})
    w = JobWaiter(
        client,  # type: ignore[arg-type]
        timeout=600,
        deadline=Deadline(30, clock=clock),
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(RunTimeoutError) as info:
        w.wait([Job("a", "apply zone example.com")])
    text = str(info.value)
    assert "The run's time budget of 30 seconds (--dns-iijdpf-timeout-seconds)" in text
    assert "DPF job a (apply zone example.com)" in text
    # Polled until shortly before the end of the budget, never past it.
    assert 29.0 <= clock.now <= 30.0
    assert len(client.reads) >= 2


def test_learnt_duration_does_not_end_the_wait_early() -> None:
    clock = FakeClock()
    ok = {"status": "SUCCESSFUL"}
    client = FakeClient(clock, {"slow": (10.0, ok)})
    w = JobWaiter(
        client,  # type: ignore[arg-type]
        deadline=Deadline(100, clock=clock),
        clock=clock,
        sleep=clock.sleep,
    )
    w.wait([Job("slow", "x")])
    assert w.typical_seconds == pytest.approx(10.0)
    # 8 seconds are left, less than the 10 learnt; a 3-second job still ends in time.
    clock.now = 92.0
    client.ends["quick"] = (95.0, ok)
    assert set(w.wait([Job("quick", "y")])) == {"quick"}


def test_unknown_status_is_a_protocol_error() -> None:
    clock = FakeClock()
    client = FakeClient(clock, {"a": (0.0, {"status": "PAUSED"})})
    with pytest.raises(DpfProtocolError, match="unknown status 'PAUSED'"):
        waiter(client, clock).wait([Job("a", "x")])
