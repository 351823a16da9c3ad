"""Job lifecycle, job faults, HTTP faults and the control endpoints."""

from __future__ import annotations

import time

import pytest
import requests

from tests.dpf_emulator import Emulator, FaultRule, JobFaultRule

from .conftest import ZONE, Client, ClientFactory, EmulatorFactory

ACME = "_acme-challenge.example.com."
BODY = {
    "name": ACME,
    "ttl": 300,
    "rrtype": "TXT",
    "rdata": [{"value": '"v"'}],
    "description": "ACME",
}


def test_job_running_then_successful(emu: Emulator, client: Client) -> None:
    emu.set_job_seconds(0.25)
    started = time.monotonic()
    response = client.post(f"/zones/{client.zid()}/records", BODY)
    request_id = response.json()["request_id"]
    assert client.get(f"/jobs/{request_id}").json()["status"] == "RUNNING"
    job = client.wait(response)
    assert job["status"] == "SUCCESSFUL"
    assert time.monotonic() - started >= 0.25
    # Jobs stay queryable.
    assert client.get(f"/jobs/{request_id}").json() == job


def test_job_fault_fail_has_no_effect(emu: Emulator, client: Client) -> None:
    emu.add_fault(
        JobFaultRule(
            action="fail",
            kind="record_post",
            times=1,
            error_type="Bad Request",
            error_message="boom",
        )
    )
    job = client.wait(client.post(f"/zones/{client.zid()}/records", BODY))
    assert job == {
        "request_id": job["request_id"],
        "status": "FAILED",
        "error_type": "Bad Request",
        "error_message": "boom",
    }
    assert [r for r in emu.records(ZONE) if r["name"] == ACME] == []
    # Only the first one.
    assert (
        client.wait(client.post(f"/zones/{client.zid()}/records", BODY))["status"] == "SUCCESSFUL"
    )


def test_job_fault_every_second_apply(emu: Emulator, client: Client) -> None:
    emu.add_fault(JobFaultRule(action="fail", kind="apply", every=2))
    statuses = [client.apply()["status"] for _ in range(4)]
    assert statuses == ["SUCCESSFUL", "FAILED", "SUCCESSFUL", "FAILED"]
    assert emu.applies(ZONE) == 2


def test_job_fault_stuck(emu: Emulator, client: Client) -> None:
    emu.add_fault(JobFaultRule(action="stuck", kind="apply"))
    client.create_txt(ACME, ['"v"'])
    response = client.patch(f"/zones/{client.zid()}/changes", {"description": "x"})
    # Stuck means still RUNNING after a job accepted later has ended.
    client.create_txt("_acme-challenge.www.example.com.", ['"later"'])
    job = client.get(f"/jobs/{response.json()['request_id']}").json()
    assert job["status"] == "RUNNING"
    assert emu.served(0, ACME, "TXT") == []
    emu.wait_jobs(timeout=1)  # a stuck job does not count as pending work
    with pytest.raises(TimeoutError):
        emu.wait_job(response.json()["request_id"], timeout=0.1)


def test_429_with_retry_after(emu: Emulator, client: Client) -> None:
    emu.add_fault(FaultRule(action=429, methods={"POST"}, times=1, retry_after=2))
    response = client.post(f"/zones/{client.zid()}/records", BODY)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    body = response.json()
    assert body["error_type"] == "TooManyRequests"
    assert body["error_message"] == "Too many requests."
    assert set(body) == {"request_id", "error_type", "error_message"}
    assert emu.jobs == []
    assert client.post(f"/zones/{client.zid()}/records", BODY).status_code == 202
    assert [(e.status, e.fault) for e in emu.request_log] == [(429, "429"), (202, None)]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (500, "SystemError"),
        (502, "BadGateway"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
    ],
)
def test_status_faults(emu: Emulator, client: Client, status: int, error_type: str) -> None:
    emu.add_fault(FaultRule(action=status, path=r"^/zones$"))
    response = client.get("/zones")
    assert response.status_code == status
    assert response.json()["error_type"] == error_type
    assert client.get("/zones/count").status_code == 200


def test_503_system_busy(emu: Emulator, client: Client) -> None:
    emu.add_fault(FaultRule(action=503, error_type="SystemBusy", retry_after=0.5))
    response = client.get("/ping")
    assert response.json()["error_message"] == "The system is busy, Please try again later."
    assert response.headers["Retry-After"] == "0.5"


def test_drop_closes_without_answer(emu: Emulator, client: Client) -> None:
    emu.add_fault(FaultRule(action="drop", methods={"PATCH"}, path="/changes$", times=1))
    client.create_txt(ACME, ['"v"'])
    with pytest.raises(requests.ConnectionError):
        client.patch(f"/zones/{client.zid()}/changes", {"description": "x"})
    emu.wait_jobs()
    assert emu.applies(ZONE) == 0
    assert emu.request_log[-1].status is None and emu.request_log[-1].fault == "drop"
    assert client.apply()["status"] == "SUCCESSFUL"


def test_html_502(emu: Emulator, client: Client) -> None:
    emu.add_fault(FaultRule(action="html", every=2))
    assert client.get("/ping").status_code == 200
    response = client.get("/ping")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text
    assert client.get("/ping").status_code == 200


def test_latency_fault_delays_but_lets_through(emu: Emulator, client: Client) -> None:
    emu.add_fault(FaultRule(action="latency", delay=0.3, path="^/ping$"))
    started = time.monotonic()
    assert client.get("/ping").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert emu.request_log[-1].fault == "latency"
    emu.clear_faults()
    started = time.monotonic()
    client.get("/ping")
    assert time.monotonic() - started < 0.3


def test_api_latency_setting(make_emulator: EmulatorFactory, make_client: ClientFactory) -> None:
    emu = make_emulator(api_latency=0.2)
    client = make_client(emu)
    started = time.monotonic()
    client.get("/ping")
    assert time.monotonic() - started >= 0.2


def test_control_endpoints(emu: Emulator, client: Client) -> None:
    root = emu.api_url[: -len("/dpf/v1")]
    plain = requests.Session()
    client.create_txt(ACME, ['"v"'])
    client.apply()
    state = plain.get(root + "/_emulator/state", timeout=5).json()
    zone = state["zones"][0]
    assert zone["name"] == ZONE and zone["applies"] == 1 and zone["serial"] == 2
    assert any(r["name"] == ACME for r in zone["rows"]["0"])
    assert any(r["name"] == ACME for r in zone["currents"])
    assert state["applies"] == 1
    assert state["requests"] == len(emu.request_log)
    assert [j["kind"] for j in state["jobs"]] == ["record_post", "apply"]

    log = plain.get(root + "/_emulator/log", timeout=5).json()["entries"]
    assert log[0]["method"] == "POST" and log[0]["body"]["name"] == ACME
    assert plain.post(root + "/_emulator/log/clear", timeout=5).status_code == 200
    assert emu.request_log == []

    added = plain.post(
        root + "/_emulator/faults",
        json=[
            {"action": 503, "path": "^/ping$", "times": 1},
            {"type": "job", "action": "fail", "kind": "apply"},
        ],
        timeout=5,
    )
    assert len(added.json()["faults"]) == 2
    assert client.get("/ping").status_code == 503
    assert client.apply()["status"] == "FAILED"
    assert plain.delete(root + "/_emulator/faults", timeout=5).json() == {"faults": []}
    assert client.apply()["status"] == "SUCCESSFUL"
    bad = plain.post(root + "/_emulator/faults", json={"action": 418}, timeout=5)
    assert bad.status_code == 400

    assert (
        plain.post(root + "/_emulator/job_seconds", json={"seconds": 0.3}, timeout=5).status_code
        == 200
    )
    assert emu.state.job_seconds == 0.3
    assert plain.get(root + "/_emulator/nope", timeout=5).status_code == 404
    # Control traffic is not part of the API request log.
    assert all(not e.path.startswith("/_emulator") for e in emu.request_log)
    plain.close()


def test_fault_rule_validation() -> None:
    with pytest.raises(ValueError):
        FaultRule(action=418)
    with pytest.raises(ValueError):
        FaultRule(action="drop", every=2, times=1)
    with pytest.raises(ValueError):
        JobFaultRule(action="explode")
    with pytest.raises(ValueError):
        JobFaultRule(action="fail", kind="record_put")
