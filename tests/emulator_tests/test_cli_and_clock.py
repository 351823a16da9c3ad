"""The CLI process, JSON config, and State driven by an injected clock."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import pytest
import requests

from tests.dpf_emulator import (
    EmulatorConfig,
    NameserverSpec,
    RecordSpec,
    TokenSpec,
    ZoneSpec,
    config_from_dict,
)
from tests.dpf_emulator.__main__ import build_config, build_parser, parse_nameserver
from tests.dpf_emulator.errors import ApiError
from tests.dpf_emulator.state import State

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"READY api=(http://\S+/dpf/v1) ns=(\S+)(?: resolver=(\S+))?\n\Z")


def test_cli_runs_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "emu.json"
    config.write_text(
        json.dumps(
            {
                "zones": [
                    {
                        "name": "example.org",
                        "service_code": "dpm00000009",
                        "records": [
                            {"name": "www.example.org.", "rrtype": "A", "values": ["192.0.2.9"]}
                        ],
                    }
                ],
                "tokens": [{"token": "file-token", "operator": "SA0000009"}],
            }
        )
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.dpf_emulator",
            "--config",
            str(config),
            "--api-port",
            "0",
            "--nameserver",
            "ns1.cli.test.=127.0.0.1:0@0.1",
            "--resolver",
            "127.0.0.1:0",
            "--job-seconds",
            "0.05",
            "--api-latency",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = READY.match(line)
        assert match, line
        api, ns, resolver = match.groups()
        assert resolver is not None
        answer = requests.get(
            api + "/zones", headers={"Authorization": "Bearer file-token"}, timeout=5
        ).json()
        assert [z["name"] for z in answer["results"]] == ["example.org."]
        host, port = ns.rsplit(":", 1)
        response = dns.query.udp(
            dns.message.make_query("www.example.org.", "A"), host, port=int(port), timeout=2
        )
        assert [rd.to_text() for rd in response.answer[0]] == ["192.0.2.9"]
        root = api[: -len("/dpf/v1")]
        assert requests.get(root + "/_emulator/state", timeout=5).json()["requests"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert process.stderr is not None
    assert process.stderr.read() == ""  # quiet without -v


def test_cli_defaults_and_overrides() -> None:
    config = build_config(build_parser().parse_args([]))
    assert config.api_port == 8080 and config.job_seconds == 1.0
    assert config.api_latency == 0.05
    assert [(z.name, z.service_code) for z in config.zones] == [("example.com.", "dpm00000001")]
    assert [(t.token, t.zones) for t in config.tokens] == [("demo-token", None)]
    assert [(n.hostname, n.address, n.port, n.lag) for n in config.nameservers] == [
        ("ns1.dpf-emulator.test.", "127.0.0.53", 53, 0.5),
        ("ns2.dpf-emulator.test.", "127.0.0.54", 53, 1.0),
    ]
    assert config.resolver is None
    args = build_parser().parse_args(
        [
            "--zone",
            "a.test.=dpm1",
            "--zone",
            "b.test=dpm2",
            "--token",
            "x=SA9",
            "--apply-scope",
            "own",
            "--empty-apply",
            "job_failed",
            "--delete-pending-add",
            "stage",
            "--resolver",
            "127.0.0.1",
        ]
    )
    config = build_config(args)
    assert [z.name for z in config.zones] == ["a.test.", "b.test"]
    assert (config.tokens[0].token, config.tokens[0].operator) == ("x", "SA9")
    assert (config.apply_scope, config.empty_apply, config.delete_pending_add) == (
        "own",
        "job_failed",
        "stage",
    )
    assert config.resolver == ("127.0.0.1", 53)
    assert parse_nameserver("ns.test.=[::1]:5353@2") == NameserverSpec("ns.test.", "::1", 5353, 2.0)


def test_config_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError):
        config_from_dict({"zones": [], "bogus": 1})
    config = config_from_dict({"resolver": "127.0.0.1:5300", "apply_scope": "own"})
    assert config.resolver == ("127.0.0.1", 5300) and config.apply_scope == "own"


def test_invalid_seed_record_is_a_config_error() -> None:
    config = EmulatorConfig(
        zones=[
            ZoneSpec(
                "example.com.", "dpm1", records=[RecordSpec("t.example.com.", "TXT", ["unquoted"])]
            )
        ],
        tokens=[],
        nameservers=[NameserverSpec("ns.test.", port=0)],
    )
    with pytest.raises(ValueError, match="bad TXT value"):
        State(config)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def clock_state(**overrides: object) -> tuple[State, FakeClock]:
    clock = FakeClock()
    config = EmulatorConfig(
        zones=[ZoneSpec("example.com.", "dpm1")],
        tokens=[TokenSpec("t")],
        nameservers=[
            NameserverSpec("ns1.test.", port=0, lag=0.0),
            NameserverSpec("ns2.test.", port=0, lag=7.0),
        ],
        job_seconds=1.0,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return State(config, clock=clock), clock


def txt_at(state: State, lag: float) -> list[str]:
    from tests.dpf_emulator.dnsdata import Answerer

    return Answerer({}).served(state.snapshots(lag), "a.example.com.", "TXT")


def test_clock_drives_jobs_and_lag_exactly() -> None:
    state, clock = clock_state()
    caller = state.authenticate("t", write=True)
    zid = state.zone_id("example.com.")
    post = state.post_record(
        caller, zid, {"name": "a.example.com.", "rrtype": "TXT", "rdata": [{"value": '"x"'}]}
    )
    clock.now += 0.999
    assert state.job(caller, post.id)["status"] == "RUNNING"
    clock.now += 0.001
    assert state.job(caller, post.id)["status"] == "SUCCESSFUL"
    apply = state.apply(caller, zid, {})
    # Time jumps far ahead before anyone looks: the apply still counts as
    # completed at its due time, so the lag is measured from then.
    clock.now += 6.5
    assert state.job_view(apply.id).completed == pytest.approx(1002.0)
    assert txt_at(state, 0.0) == ['"x"']
    assert txt_at(state, 5.0) == ['"x"']  # 1007.5 - 5 >= 1002
    assert txt_at(state, 6.0) == []  # 1007.5 - 6 < 1002


def test_job_seconds_change_affects_only_new_jobs() -> None:
    state, clock = clock_state()
    caller = state.authenticate("t", write=True)
    zid = state.zone_id("example.com.")
    slow = state.apply(caller, zid, {})
    state.set_job_seconds(0.1)
    fast = state.apply(caller, zid, {})
    clock.now += 0.2
    assert state.job_view(fast.id).status == "SUCCESSFUL"
    assert state.job_view(slow.id).status == "RUNNING"


def test_validation_happens_at_acceptance_not_completion() -> None:
    state, clock = clock_state()
    caller = state.authenticate("t", write=True)
    zid = state.zone_id("example.com.")
    body = {"name": "a.example.com.", "rrtype": "TXT", "rdata": [{"value": '"x"'}]}
    first = state.post_record(caller, zid, body)
    second = state.post_record(caller, zid, body)  # the first is not a row yet
    clock.now += 1
    assert {state.job_view(j.id).status for j in (first, second)} == {"SUCCESSFUL"}
    with pytest.raises(ApiError) as raised:
        state.post_record(caller, zid, body)
    assert raised.value.details == [{"code": "duplicated", "attribute": "record"}]


def test_configured_soa_serial_counts_up() -> None:
    clock = FakeClock()
    config = EmulatorConfig(
        zones=[
            ZoneSpec(
                "example.com.",
                "dpm1",
                records=[
                    RecordSpec(
                        "example.com.",
                        "SOA",
                        ["ns.test. hostmaster.example.com. 2024010100 1 2 3 4"],
                    )
                ],
            )
        ],
        tokens=[TokenSpec("t")],
        nameservers=[NameserverSpec("ns.test.", port=0)],
        job_seconds=1.0,
    )
    state = State(config, clock=clock)
    caller = state.authenticate("t", write=True)
    zid = state.zone_id("example.com.")
    state.post_record(
        caller, zid, {"name": "a.example.com.", "rrtype": "TXT", "rdata": [{"value": '"x"'}]}
    )
    clock.now += 1
    state.apply(caller, zid, {})
    clock.now += 1
    (soa,) = [r for r in state.records_of("example.com.") if r["rrtype"] == "SOA"]
    assert soa["rdata"][0]["value"].split()[2] == "2024010101"
    assert [r["rrtype"] for r in state.records_of("example.com.")][:2] == ["NS", "SOA"]
