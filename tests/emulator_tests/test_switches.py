"""Switches for answers DPF's documentation leaves open, each seen through HTTP and DNS.

The switches of test_options (empty_apply, delete_pending_add, apply_scope)
are tested there; this module covers the rest, and runs a careful client
through every case of SWITCH_CASES.
"""

from __future__ import annotations

import time
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest
import requests

from tests.dpf_emulator import (
    STRICT_ANSWERS,
    SWITCH_CASES,
    Emulator,
    EmulatorConfig,
    FaultRule,
    NameserverSpec,
    TokenSpec,
    ZoneSpec,
    config_from_dict,
)
from tests.dpf_emulator.http_api import HTML_504

from .conftest import ZONE, Client, ClientFactory, EmulatorFactory, base_config, detail

ACME = "_acme-challenge.example.com."


def txt_body(name: str = ACME, values: tuple[str, ...] = ('"v1"',)) -> dict[str, Any]:
    return {
        "name": name,
        "ttl": 300,
        "rrtype": "TXT",
        "rdata": [{"value": v} for v in values],
        "description": "ACME",
    }


def rows_of(client: Client, which: str, name: str = ACME) -> list[tuple[int, list[str]]]:
    """(state, values) of the rows at ``name`` in /records, /currents or /diffs new."""
    path = f"/zones/{client.zid()}/records" + ("" if which == "records" else f"/{which}")
    results = client.get(path, params={"_keywords_name[]": name}).json()["results"]
    if which == "diffs":
        results = [pair["new"] for pair in results]
    return [(r["state"], [v["value"] for v in r["rdata"]]) for r in results if r["name"] == name]


def rows_of_ids(client: Client, name: str = ACME) -> list[str]:
    path = f"/zones/{client.zid()}/records"
    results = client.get(path, params={"_keywords_name[]": name}).json()["results"]
    return [r["id"] for r in results if r["name"] == name]


def applied_and_updated(client: Client) -> str:
    """An applied TXT with a pending update by the same user (state 3)."""
    rid = client.create_txt(ACME, ['"v1"'])
    assert client.apply()["status"] == "SUCCESSFUL"
    job = client.wait(
        client.patch(f"/zones/{client.zid()}/records/{rid}", {"rdata": [{"value": '"v2"'}]})
    )
    assert job["status"] == "SUCCESSFUL"
    return rid


def ask(address: tuple[str, int], name: str, rrtype: str) -> dns.message.Message:
    return dns.query.udp(
        dns.message.make_query(name, rrtype), address[0], port=address[1], timeout=2
    )


# -- hide_before_update_rows (open question 12) ------------------------------------------


@pytest.mark.parametrize("hide", [False, True], ids=["state5-listed", "no-state5"])
def test_hide_before_update_rows(
    make_emulator: EmulatorFactory, make_client: ClientFactory, hide: bool
) -> None:
    emu = make_emulator(hide_before_update_rows=hide)
    client = make_client(emu)
    rid = applied_and_updated(client)
    zid = client.zid()
    expected = [(3, ['"v2"'])] if hide else [(3, ['"v2"']), (5, ['"v1"'])]
    assert rows_of(client, "records") == expected
    all_rows = client.get(f"/zones/{zid}/records").json()["results"]
    assert client.get(f"/zones/{zid}/records/count").json()["result"]["count"] == len(all_rows)
    assert [r["state"] for r in all_rows].count(5) == (0 if hide else 1)
    # The applied values stay readable from /currents and the diff's old side.
    assert rows_of(client, "currents") == [(5, ['"v1"'])]
    (pair,) = client.get(f"/zones/{zid}/records/diffs").json()["results"]
    assert pair["old"]["id"] == rid and pair["old"]["rdata"] == [{"value": '"v1"'}]
    assert pair["new"]["rdata"] == [{"value": '"v2"'}]
    assert client.get(f"/zones/{zid}/records/{rid}").json()["result"]["state"] == 3
    assert client.apply()["status"] == "SUCCESSFUL"
    assert rows_of(client, "records") == [(0, ['"v2"'])]
    assert emu.served(0, ACME, "TXT") == ['"v2"']


# -- patch_pending_add and delete_pending_update (open question 4) -------------------------


def test_patch_pending_add_allow_keeps_state_1(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(patch_pending_add="allow")
    client = make_client(emu)
    rid = client.create_txt(ACME, ['"v1"'])
    body = {"ttl": 300, "rdata": [{"value": '"v1"'}, {"value": '"v2"'}], "description": "ACME"}
    job = client.wait(client.patch(f"/zones/{client.zid()}/records/{rid}", body))
    assert job["status"] == "SUCCESSFUL"
    assert rows_of(client, "records") == [(1, ['"v1"', '"v2"'])]


def test_patch_pending_add_forbidden(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(patch_pending_add="forbidden")
    client = make_client(emu)
    rid = client.create_txt(ACME, ['"v1"'])
    zid = client.zid()
    body = {"ttl": 300, "rdata": [{"value": '"v2"'}], "description": "ACME"}
    assert detail(client.patch(f"/zones/{zid}/records/{rid}", body)) == (
        400,
        "forbidden",
        "record",
    )
    assert rows_of(client, "records") == [(1, ['"v1"'])]
    assert [j.kind for j in emu.jobs] == ["record_post"]
    # Applied rows can still be updated; only never-applied ones are refused.
    assert client.apply()["status"] == "SUCCESSFUL"
    assert client.wait(client.patch(f"/zones/{zid}/records/{rid}", body))["status"] == (
        "SUCCESSFUL"
    )
    assert rows_of(client, "records")[0] == (3, ['"v2"'])


def test_delete_pending_update_stage(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(delete_pending_update="stage")
    client = make_client(emu)
    rid = applied_and_updated(client)
    job = client.wait(client.delete(f"/zones/{client.zid()}/records/{rid}"))
    assert job["status"] == "SUCCESSFUL"
    # The pending update is dropped: what is to be deleted is the applied RRset.
    assert rows_of(client, "records") == [(2, ['"v1"'])]
    assert client.apply()["status"] == "SUCCESSFUL"
    assert rows_of(client, "records") == []
    assert emu.served(0, ACME, "TXT") == []


def test_delete_pending_update_forbidden(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(delete_pending_update="forbidden")
    client = make_client(emu)
    rid = applied_and_updated(client)
    zid = client.zid()
    assert detail(client.delete(f"/zones/{zid}/records/{rid}")) == (400, "forbidden", "record")
    assert rows_of(client, "records") == [(3, ['"v2"']), (5, ['"v1"'])]
    # The way out: cancel the update, then delete the applied row.
    assert client.wait(client.delete(f"/zones/{zid}/records/{rid}/changes"))["status"] == (
        "SUCCESSFUL"
    )
    assert client.wait(client.delete(f"/zones/{zid}/records/{rid}"))["status"] == "SUCCESSFUL"
    assert rows_of(client, "records") == [(2, ['"v1"'])]


def test_delete_pending_update_forbidden_when_update_lands_first(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(delete_pending_update="forbidden")
    client = make_client(emu)
    rid = client.create_txt(ACME, ['"v1"'])
    client.apply()
    zid = client.zid()
    emu.set_job_seconds(0.3)
    patch = client.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": '"v2"'}]})
    delete = client.delete(f"/zones/{zid}/records/{rid}")
    assert client.wait(patch)["status"] == "SUCCESSFUL"
    assert client.wait(delete)["status"] == "FAILED"
    assert rows_of(client, "records") == [(3, ['"v2"']), (5, ['"v1"'])]


# -- lost_answers_every / lost_answer_mode (open question 13) ------------------------------


def test_lost_answer_504_after_the_write_took_effect(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(lost_answers_every=2, lost_answer_mode="504")
    client = make_client(emu)
    zid = client.zid()
    first = client.post(f"/zones/{zid}/records", txt_body("a.example.com."))
    assert client.wait(first)["status"] == "SUCCESSFUL"
    # A refused write is not counted: nothing was processed.
    assert detail(client.post(f"/zones/{zid}/records", txt_body("a.example.com."))) == (
        400,
        "duplicated",
        "record",
    )
    lost = client.post(f"/zones/{zid}/records", txt_body("b.example.com."))
    assert lost.status_code == 504
    assert lost.headers["Content-Type"].startswith("text/html")
    assert lost.content == HTML_504
    # The lost write is done by the time the 504 arrives: row there, job finished.
    assert rows_of(client, "records", "b.example.com.") == [(1, ['"v1"'])]
    post_jobs = [j for j in emu.jobs if j.kind == "record_post"]
    assert [j.status for j in post_jobs] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert client.apply()["status"] == "SUCCESSFUL"  # third write: answered
    lost_apply = client.patch(f"/zones/{zid}/changes", {"description": "again"})
    assert lost_apply.status_code == 504
    assert emu.applies(ZONE) == 2
    log = [(e.method, e.status, e.fault) for e in emu.request_log if e.method != "GET"]
    assert log == [
        ("POST", 202, None),
        ("POST", 400, None),
        ("POST", 504, "lost"),
        ("PATCH", 202, None),
        ("PATCH", 504, "lost"),
    ]
    assert emu.served(0, "b.example.com.", "TXT") == ['"v1"']


def test_lost_answer_close_after_the_apply_took_effect(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(lost_answers_every=2, lost_answer_mode="close")
    client = make_client(emu)
    client.create_txt(ACME, ['"v1"'])
    with pytest.raises(requests.ConnectionError):
        client.patch(f"/zones/{client.zid()}/changes", {"description": "lost"})
    assert emu.request_log[-1].status is None and emu.request_log[-1].fault == "lost"
    assert emu.applies(ZONE) == 1
    assert emu.served(0, ACME, "TXT") == ['"v1"']
    assert rows_of(client, "records") == [(0, ['"v1"'])]
    # Counting goes on over every kind of write.
    (rid,) = rows_of_ids(client)
    deleting = client.delete(f"/zones/{client.zid()}/records/{rid}")
    assert client.wait(deleting)["status"] == "SUCCESSFUL"
    with pytest.raises(requests.ConnectionError):
        client.delete(f"/zones/{client.zid()}/records/{rid}/changes")
    assert rows_of(client, "records") == [(0, ['"v1"'])]


def test_lost_answers_count_all_writes_of_the_emulator(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(lost_answers_every=3)
    one, other = make_client(emu), make_client(emu, "token-b")
    statuses = []
    for index in range(6):
        client, zone = (one, ZONE) if index % 2 == 0 else (other, "example.net.")
        name = f"n{index}.{zone}"
        response = client.post(f"/zones/{client.zid(zone)}/records", txt_body(name))
        statuses.append(response.status_code)
    assert statuses == [202, 202, 504, 202, 202, 504]
    assert len([j for j in emu.jobs if j.status == "SUCCESSFUL"]) == 6


# -- page_size_cap -----------------------------------------------------------------------


def test_page_size_cap(make_emulator: EmulatorFactory, make_client: ClientFactory) -> None:
    emu = make_emulator(page_size_cap=2)
    client = make_client(emu)
    zid = client.zid()
    assert len(client.get("/zones").json()["results"]) == 2
    assert len(client.get("/zones", params={"limit": 100}).json()["results"]) == 2
    assert len(client.get("/zones", params={"offset": 2}).json()["results"]) == 1
    assert client.get("/zones/count").json()["result"]["count"] == 3
    assert len(client.get("/zones", params={"limit": 1}).json()["results"]) == 1
    # SOA, NS and the four seeded records: three full pages.
    total = client.get(f"/zones/{zid}/records/count").json()["result"]["count"]
    assert total == 6
    pages = [
        client.get(f"/zones/{zid}/records", params={"offset": offset}).json()["results"]
        for offset in range(0, 8, 2)
    ]
    assert [len(p) for p in pages] == [2, 2, 2, 0]
    assert len({r["id"] for page in pages for r in page}) == 6
    assert len(client.get(f"/zones/{zid}/records/currents").json()["results"]) == 2
    assert client.get(f"/zones/{zid}/records/currents/count").json()["result"]["count"] == 6
    for index in range(3):
        client.create_txt(f"t{index}.example.com.", ['"v"'])
    assert len(client.get(f"/zones/{zid}/records/diffs").json()["results"]) == 2
    assert client.get(f"/zones/{zid}/records/diffs/count").json()["result"]["count"] == 3
    for _ in range(3):
        client.apply()
    assert len(client.get(f"/zones/{zid}/zone_histories").json()["results"]) == 2
    assert client.get(f"/zones/{zid}/zone_histories/count").json()["result"]["count"] == 3


# -- omit_zone_proxy_field, /zone_proxy, /managed_dns_servers (API 3.7.0) ------------------


@pytest.mark.parametrize("omit", [False, True], ids=["field", "no-field"])
def test_zone_proxy_field_and_endpoints(
    make_emulator: EmulatorFactory, make_client: ClientFactory, omit: bool
) -> None:
    emu = make_emulator(omit_zone_proxy_field=omit)
    client = make_client(emu)
    zones = client.get("/zones").json()["results"]
    assert all(("zone_proxy_enabled" in z) is not omit for z in zones)
    one = client.get(f"/zones/{client.zid('proxy.example.')}").json()["result"]
    assert ("zone_proxy_enabled" in one) is not omit
    assert set(one) - {"zone_proxy_enabled"} == {
        "id",
        "common_config_id",
        "service_code",
        "state",
        "favorite",
        "name",
        "network",
        "description",
    }
    # The keyword filter still works although the field is not shown.
    hits = client.get("/zones", params={"_keywords_zone_proxy_enabled[]": "1"}).json()
    assert [z["name"] for z in hits["results"]] == ["proxy.example."]
    for zone, enabled in ((ZONE, 0), ("proxy.example.", 1)):
        body = client.get(f"/zones/{client.zid(zone)}/zone_proxy").json()
        assert set(body) == {"request_id", "result"}
        assert body["result"] == {"enabled": enabled}
    servers = client.get(f"/zones/{client.zid()}/managed_dns_servers").json()
    assert set(servers) == {"request_id", "results"}
    assert servers["results"] == ["ns1.dpf-emulator.test.", "ns2.dpf-emulator.test."]
    assert detail(client.get("/zones/m0000000000000/zone_proxy")) == (400, "not_found", "zone")
    proxy = client.zid("proxy.example.")
    assert detail(client.post(f"/zones/{proxy}/records", txt_body("a.proxy.example."))) == (
        400,
        "forbidden",
        "zone",
    )


# -- ZoneSpec.state --------------------------------------------------------------------


def test_unpublished_zone_is_refused_by_dns(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    config = base_config()
    zones = [ZoneSpec("draft.example.", "dpm00000009", state=1), *config.zones]
    emu = make_emulator(zones=zones)
    client = make_client(emu)
    draft = client.get(f"/zones/{client.zid('draft.example.')}").json()["result"]
    assert draft["state"] == 1
    assert client.get(f"/zones/{client.zid()}").json()["result"]["state"] == 2
    listed = client.get("/zones", params={"_keywords_state[]": "1"}).json()["results"]
    assert [z["name"] for z in listed] == ["draft.example."]
    # Records can be prepared and applied; nothing reaches the servers.
    client.create_txt("t.draft.example.", ['"v"'], zone="draft.example.")
    assert client.apply("draft.example.")["status"] == "SUCCESSFUL"
    for address in emu.nameserver_addresses:
        for name, rrtype in (("draft.example.", "SOA"), ("t.draft.example.", "TXT")):
            response = ask(address, name, rrtype)
            assert response.rcode() == dns.rcode.REFUSED
            assert response.answer == []
    assert ask(emu.nameserver_addresses[0], ZONE, "SOA").rcode() == dns.rcode.NOERROR


def test_zone_state_is_validated() -> None:
    config = base_config(zones=[ZoneSpec("example.com.", "dpm1", state=3)])
    with pytest.raises(ValueError, match="state"):
        config.validate()


# -- zones sharing a name ----------------------------------------------------------------


def test_two_zones_with_one_name(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    zones = [
        ZoneSpec("dup.example.", "dpm00000011", zone_id="m0000000000011"),
        ZoneSpec("dup.example.", "dpm00000012", zone_id="m0000000000012"),
    ]
    tokens = [
        TokenSpec("token-a"),
        TokenSpec("token-name", operator="SA0000005", zones=["dup.example."]),
        TokenSpec("token-id", operator="SA0000006", zones=["m0000000000012"]),
    ]
    emu = make_emulator(zones=zones, tokens=tokens)
    client = make_client(emu)
    listed = client.get("/zones", params={"_keywords_name[]": "dup.example."}).json()["results"]
    assert [(z["id"], z["service_code"]) for z in listed] == [
        ("m0000000000011", "dpm00000011"),
        ("m0000000000012", "dpm00000012"),
    ]
    by_name = make_client(emu, "token-name").get("/zones/count").json()["result"]["count"]
    assert by_name == 2
    by_id = make_client(emu, "token-id").get("/zones").json()["results"]
    assert [z["id"] for z in by_id] == ["m0000000000012"]
    # Writes go to the zone of the id in the path, never to its namesake.
    second = "/zones/m0000000000012"
    job = client.wait(client.post(f"{second}/records", txt_body("t.dup.example.", ('"two"',))))
    assert job["status"] == "SUCCESSFUL"
    assert client.wait(client.patch(f"{second}/changes", {}))["status"] == "SUCCESSFUL"
    first_rows = client.get("/zones/m0000000000011/records").json()["results"]
    assert "t.dup.example." not in {r["name"] for r in first_rows}
    second_rows = client.get(f"{second}/records/currents").json()["results"]
    assert "t.dup.example." in {r["name"] for r in second_rows}
    assert emu.applies("m0000000000012") == 1 and emu.applies("m0000000000011") == 0
    assert [j.zone_id for j in emu.jobs] == ["m0000000000012"] * 2
    # The servers carry the first zone of that name only.
    assert emu.served(0, "t.dup.example.", "TXT") == []
    assert ask(emu.nameserver_addresses[0], "t.dup.example.", "TXT").rcode() == (dns.rcode.NXDOMAIN)
    client.wait(
        client.post("/zones/m0000000000011/records", txt_body("t.dup.example.", ('"one"',)))
    )
    client.wait(client.patch("/zones/m0000000000011/changes", {}))
    assert emu.served(0, "t.dup.example.", "TXT") == ['"one"']


def test_zones_sharing_a_name_get_distinct_default_ids() -> None:
    config = base_config(
        zones=[ZoneSpec("dup.example.", "dpm00000011"), ZoneSpec("dup.example.", "dpm00000012")]
    )
    config.validate()
    clash = base_config(
        zones=[
            ZoneSpec("a.example.", "dpm00000011", zone_id="m0000000000001"),
            ZoneSpec("b.example.", "dpm00000012", zone_id="m0000000000001"),
        ]
    )
    with pytest.raises(ValueError, match="zone ids must be unique"):
        clash.validate()


# -- auth_scheme in the request log ------------------------------------------------------


def test_auth_scheme_logged_and_basic_is_a_bad_token(emu: Emulator, client: Client) -> None:
    assert client.get("/ping").status_code == 200
    basic = requests.get(emu.api_url + "/zones", auth=("token-a", "token-a"), timeout=5)
    assert detail(basic) == (400, "invalid", "access_token")
    bare = requests.get(emu.api_url + "/zones", timeout=5)
    assert detail(bare) == (400, "invalid", "access_token")
    assert [(e.auth_scheme, e.status, e.operator) for e in emu.request_log] == [
        ("Bearer", 200, "SA0000001"),
        ("Basic", 400, None),
        ("", 400, None),
    ]


# -- CLI, JSON form, and the bundles ------------------------------------------------------


def test_cli_flags_and_strict() -> None:
    from tests.dpf_emulator.__main__ import build_config, build_parser

    def config(*argv: str) -> EmulatorConfig:
        return build_config(build_parser().parse_args(list(argv)))

    strict = config("--strict")
    assert {key: getattr(strict, key) for key in STRICT_ANSWERS} == STRICT_ANSWERS
    # A flag beside --strict wins over it.
    tweaked = config("--strict", "--page-size-cap", "5", "--lost-answer-mode", "close")
    assert (tweaked.page_size_cap, tweaked.lost_answer_mode) == (5, "close")
    each = config(
        "--hide-before-update-rows",
        "--patch-pending-add",
        "forbidden",
        "--delete-pending-update",
        "forbidden",
        "--lost-answers-every",
        "4",
        "--lost-answer-mode",
        "close",
        "--page-size-cap",
        "3",
        "--omit-zone-proxy-field",
    )
    assert (
        each.hide_before_update_rows,
        each.patch_pending_add,
        each.delete_pending_update,
        each.lost_answers_every,
        each.lost_answer_mode,
        each.page_size_cap,
        each.omit_zone_proxy_field,
    ) == (True, "forbidden", "forbidden", 4, "close", 3, True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--lost-answer-mode", "reset"])


def test_json_form_of_the_switches() -> None:
    data: dict[str, Any] = {
        "zones": [
            {"name": "a.example.", "service_code": "dpm1", "state": 1},
            {"name": "a.example.", "service_code": "dpm2"},
        ],
        **STRICT_ANSWERS,
    }
    config = config_from_dict(data)
    config.nameservers = [NameserverSpec("ns.test.", port=0)]
    config.validate()
    assert [z.state for z in config.zones] == [1, 2]
    assert {key: getattr(config, key) for key in STRICT_ANSWERS} == STRICT_ANSWERS
    for bad in (
        {"patch_pending_add": "maybe"},
        {"delete_pending_update": "cancel"},
        {"lost_answer_mode": "reset"},
        {"lost_answers_every": -1},
        {"page_size_cap": -1},
    ):
        broken = config_from_dict({**data, **bad})
        broken.nameservers = config.nameservers
        with pytest.raises(ValueError):
            broken.validate()


def test_switch_cases_are_single_answers_plus_strict() -> None:
    ids = [case for case, _ in SWITCH_CASES]
    assert len(set(ids)) == len(ids)
    defaults = base_config()
    for case, answers in SWITCH_CASES:
        config = base_config(**answers)
        config.validate()
        changed = [key for key in answers if getattr(defaults, key) != answers[key]]
        if case == "strict":
            assert answers == STRICT_ANSWERS
        elif case.startswith("lost-"):
            # One answer: how a lost answer looks needs how often it happens.
            assert set(changed) <= {"lost_answers_every", "lost_answer_mode"}, case
        else:
            assert len(changed) == 1, case
        lost_every = answers.get("lost_answers_every", 0)
        assert lost_every == 0 or lost_every >= 2, case
        assert answers.get("page_size_cap", 0) != 1, case


# -- a careful client works under every case -------------------------------------------


class CarefulClient:
    """What a DPF client has to do when no open answer may be relied on.

    It pages with the counts, reads applied values from /currents, and after a
    lost answer looks whether its write happened before doing anything else.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.zid = ""

    def write(self, method: str, path: str, body: Any = None) -> bool:
        """True when answered and the job succeeded; False when the answer was lost."""
        try:
            response = self.client.session.request(
                method, self.client.url(path), json=body, timeout=10
            )
        except requests.ConnectionError:
            return False
        if response.status_code == 504:
            return False
        job = self.client.wait(response)
        assert job["status"] == "SUCCESSFUL", job
        return True

    def list_all(self, path: str, **params: str) -> list[dict[str, Any]]:
        count = self.client.get(path + "/count", params=params).json()["result"]["count"]
        items: list[dict[str, Any]] = []
        while len(items) < count:
            page = self.client.get(path, params={**params, "offset": str(len(items))}).json()
            assert page["results"], (path, len(items), count)
            items.extend(page["results"])
        return items

    def find_zone(self, service_code: str) -> None:
        zones = self.list_all("/zones", **{"_keywords_service_code[]": service_code})
        (zone,) = [z for z in zones if z["service_code"] == service_code]
        self.zid = zone["id"]

    def current(self, name: str) -> dict[str, Any] | None:
        rows = self.list_all(f"/zones/{self.zid}/records/currents", **{"_keywords_name[]": name})
        found = [r for r in rows if r["name"] == name and r["rrtype"] == "TXT"]
        return found[0] if found else None

    def pending(self) -> int:
        path = f"/zones/{self.zid}/records/diffs/count"
        return int(self.client.get(path).json()["result"]["count"])

    def staged(self, name: str) -> list[tuple[int, list[str]]]:
        rows = self.list_all(f"/zones/{self.zid}/records", **{"_keywords_name[]": name})
        return [
            (r["state"], [d["value"] for d in r["rdata"]])
            for r in rows
            if r["name"] == name and r["rrtype"] == "TXT"
        ]

    def apply(self) -> None:
        if not self.write("PATCH", f"/zones/{self.zid}/changes", {"description": "ACME"}):
            assert self.pending() == 0

    def set_values(self, name: str, values: list[str]) -> None:
        """Stage ``values`` as the TXT RRset at ``name`` (none: delete it), then apply."""
        row = self.current(name)
        rdata = [{"value": v} for v in values]
        if row is None:
            body = {"name": name, "ttl": 300, "rrtype": "TXT", "rdata": rdata}
            if not self.write("POST", f"/zones/{self.zid}/records", body):
                assert self.staged(name) == [(1, values)]
        elif values:
            body = {"ttl": row["ttl"], "rdata": rdata, "description": row["description"]}
            if not self.write("PATCH", f"/zones/{self.zid}/records/{row['id']}", body):
                assert self.staged(name)[0] == (3, values)
        elif not self.write("DELETE", f"/zones/{self.zid}/records/{row['id']}"):
            assert self.staged(name) == [(2, [d["value"] for d in row["rdata"]])]
        self.apply()


@pytest.mark.parametrize(("case", "answers"), SWITCH_CASES, ids=[c for c, _ in SWITCH_CASES])
def test_a_careful_client_works_under_every_case(
    make_emulator: EmulatorFactory,
    make_client: ClientFactory,
    case: str,
    answers: dict[str, Any],
) -> None:
    emu = make_emulator(**answers)
    careful = CarefulClient(make_client(emu))
    careful.find_zone("dpm00000001")
    assert careful.zid == emu.zone_id(ZONE)
    steps = [['"a"'], ['"a"', '"b"'], ['"b"'], []]
    for values in steps:
        careful.set_values(ACME, values)
        assert careful.pending() == 0, (case, values)
        assert emu.served(0, ACME, "TXT") == sorted(values), (case, values)
    lost = [e for e in emu.request_log if e.fault == "lost"]
    assert bool(lost) == bool(answers.get("lost_answers_every")), case


# -- the hang fault ------------------------------------------------------------------------


def test_hang_is_never_answered_while_others_are(make_client: ClientFactory) -> None:
    emu = Emulator(base_config())
    emu.start()
    try:
        emu.add_fault(FaultRule("hang", methods=["GET"], path=r"^/zones$"))
        client = make_client(emu)
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            client.session.get(client.url("/zones"), timeout=0.5)
        assert time.monotonic() - started >= 0.5
        # Other requests, and other connections, are served meanwhile.
        assert client.get("/ping").status_code == 200
        assert client.get("/zones/count").json()["result"]["count"] == 3
        hung = [e for e in emu.request_log if e.fault == "hang"]
        assert [(e.path, e.status) for e in hung] == [("/zones", None)]
        # Two more hanging requests in flight do not keep the emulator from stopping.
        for _ in range(2):
            with pytest.raises(requests.Timeout):
                requests.get(client.url("/zones"), headers=client.session.headers, timeout=(2, 0.2))
    finally:
        started = time.monotonic()
        emu.stop()
    assert time.monotonic() - started < 5


def test_hang_with_delay_closes_after_it(emu: Emulator, client: Client) -> None:
    emu.add_fault(FaultRule("hang", path=r"^/ping$", delay=0.3, times=1))
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        client.session.get(client.url("/ping"), timeout=5)
    assert 0.3 <= time.monotonic() - started < 4
    assert client.get("/ping").status_code == 200
