"""Record writes: async jobs, staging states 1/2/3/5, cancel, discard, apply."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dpf_emulator import Emulator

from .conftest import (
    OTHER_TOKEN,
    SAME_USER_TOKEN,
    ZONE,
    Client,
    ClientFactory,
    detail,
)

ACME = "_acme-challenge.example.com."


def states(emu: Emulator, name: str = ACME) -> list[tuple[int, list[str]]]:
    return [
        (r["state"], [v["value"] for v in r["rdata"]])
        for r in emu.records(ZONE)
        if r["name"] == name
    ]


def post_body(
    name: str = ACME, values: tuple[str, ...] = ('"v1"',), rrtype: str = "TXT", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "ttl": 300,
        "rrtype": rrtype,
        "rdata": [{"value": v} for v in values],
        "description": "ACME",
    }
    body.update(extra)
    return body


def test_post_is_async_then_state_1(emu: Emulator, client: Client) -> None:
    emu.set_job_seconds(0.3)
    response = client.post(f"/zones/{client.zid()}/records", post_body())
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"request_id", "jobs_url"}
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert body["jobs_url"] == f"{emu.api_url}/jobs/{body['request_id']}"
    first = client.get(f"/jobs/{body['request_id']}").json()
    assert first == {"request_id": body["request_id"], "status": "RUNNING"}
    # Not visible before the job completes.
    assert states(emu) == []
    job = client.wait(response)
    rid = job["resources_url"].rsplit("/", 1)[-1]
    assert set(job) == {"request_id", "status", "resources_url"}
    assert job["status"] == "SUCCESSFUL"
    assert job["resources_url"] == f"{emu.api_url}/zones/{client.zid()}/records/{rid}"
    row = client.get(f"/zones/{client.zid()}/records/{rid}").json()["result"]
    assert row["state"] == 1 and row["operator"] == "SA0000001"
    assert row["name"] == ACME and row["rdata"] == [{"value": '"v1"'}]
    assert not [r for r in emu.currents(ZONE) if r["name"] == ACME]
    assert emu.served(0, ACME, "TXT") == []
    assert [(j.kind, j.status, j.record_id) for j in emu.jobs] == [
        ("record_post", "SUCCESSFUL", rid)
    ]


def test_apply_publishes_state_1(emu: Emulator, client: Client) -> None:
    client.create_txt(ACME, ['"v1"'])
    assert emu.diffs(ZONE)[0].keys() == {"new"}
    job = client.apply()
    assert job["status"] == "SUCCESSFUL"
    assert job["resources_url"] == f"{emu.api_url}/zones/{client.zid()}"
    assert states(emu) == [(0, ['"v1"'])]
    assert next(r for r in emu.currents(ZONE) if r["name"] == ACME)["state"] == 0
    assert emu.diffs(ZONE) == []
    zid = client.zid()
    assert client.get(f"/zones/{zid}/records/diffs/count").json()["result"] == {"count": 0}
    assert emu.applies(ZONE) == 1
    assert emu.served(0, ACME, "TXT") == ['"v1"']
    soa = emu.served(0, ZONE, "SOA")[0]
    assert soa.split()[2] == "2"


def test_name_without_trailing_dot_is_accepted(client: Client) -> None:
    rid = client.create_txt("_acme-challenge.EXAMPLE.com", ['"v"'])
    row = client.get(f"/zones/{client.zid()}/records/{rid}").json()["result"]
    assert row["name"] == ACME


def test_patch_applied_row_gives_3_and_5(emu: Emulator, client: Client) -> None:
    rid = client.create_txt(ACME, ['"v1"'])
    client.apply()
    zid = client.zid()
    response = client.patch(
        f"/zones/{zid}/records/{rid}",
        {"ttl": None, "rdata": [{"value": '"v1"'}, {"value": '"v2"'}], "description": "ACME"},
    )
    job = client.wait(response)
    assert job["status"] == "SUCCESSFUL" and job["resources_url"].endswith(rid)
    rows = [r for r in emu.records(ZONE) if r["name"] == ACME]
    assert [(r["id"], r["state"]) for r in rows] == [(rid, 3), (rid, 5)]
    assert rows[0]["ttl"] is None and rows[1]["ttl"] == 300
    (pair,) = emu.diffs(ZONE)
    assert pair["new"]["state"] == 3 and pair["old"]["state"] == 5
    assert [v["value"] for v in pair["new"]["rdata"]] == ['"v1"', '"v2"']
    # /currents shows the applied values (as the state-5 row) until the apply.
    current = [r for r in emu.currents(ZONE) if r["name"] == ACME]
    assert [(r["state"], r["rdata"]) for r in current] == [(5, [{"value": '"v1"'}])]
    assert emu.served(0, ACME, "TXT") == ['"v1"']
    # A second PATCH by the same user edits the state-3 values.
    client.wait(client.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": '"v3"'}]}))
    assert states(emu) == [(3, ['"v3"']), (5, ['"v1"'])]
    client.apply()
    assert states(emu) == [(0, ['"v3"'])]
    assert emu.served(0, ACME, "TXT") == ['"v3"']


def test_patch_state_1_stays_1(emu: Emulator, client: Client) -> None:
    rid = client.create_txt(ACME, ['"v1"'])
    job = client.wait(
        client.patch(f"/zones/{client.zid()}/records/{rid}", {"rdata": [{"value": '"v2"'}]})
    )
    assert job["status"] == "SUCCESSFUL"
    assert states(emu) == [(1, ['"v2"'])]


def test_delete_applied_row_then_apply(emu: Emulator, client: Client) -> None:
    rid = client.create_txt(ACME, ['"v1"'])
    client.apply()
    job = client.wait(client.delete(f"/zones/{client.zid()}/records/{rid}"))
    assert job["status"] == "SUCCESSFUL"
    assert states(emu) == [(2, ['"v1"'])]
    (pair,) = emu.diffs(ZONE)
    assert pair["new"]["state"] == 2 and pair["old"]["state"] == 0
    assert emu.served(0, ACME, "TXT") == ['"v1"']
    client.apply()
    assert states(emu) == []
    assert emu.served(0, ACME, "TXT") == []
    assert detail(client.get(f"/zones/{client.zid()}/records/{rid}")) == (
        400,
        "not_found",
        "record",
    )


def test_cancel_each_state(emu: Emulator, client: Client) -> None:
    zid = client.zid()
    added = client.create_txt("added.example.com.", ['"a"'])
    updated = client.create_txt("updated.example.com.", ['"u"'])
    deleted = client.create_txt("deleted.example.com.", ['"d"'])
    client.apply()
    client.wait(client.patch(f"/zones/{zid}/records/{updated}", {"rdata": [{"value": '"u2"'}]}))
    client.wait(client.delete(f"/zones/{zid}/records/{deleted}"))
    pending_add = client.create_txt("pending.example.com.", ['"p"'])
    assert len(emu.diffs(ZONE)) == 3
    for rid in (pending_add, updated, deleted):
        job = client.wait(client.delete(f"/zones/{zid}/records/{rid}/changes"))
        assert job["status"] == "SUCCESSFUL"
        assert job["resources_url"].endswith(rid)
    assert emu.diffs(ZONE) == []
    assert states(emu, "pending.example.com.") == []
    assert states(emu, "updated.example.com.") == [(0, ['"u"'])]
    assert states(emu, "deleted.example.com.") == [(0, ['"d"'])]
    # Nothing pending: cancel is refused.
    assert detail(client.delete(f"/zones/{zid}/records/{added}/changes")) == (
        400,
        "forbidden",
        "record",
    )
    assert [j.kind for j in emu.jobs].count("record_cancel") == 3


def test_discard_all(emu: Emulator, client: Client) -> None:
    zid = client.zid()
    rid = client.create_txt(ACME, ['"v"'])
    client.apply()
    client.wait(client.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": '"w"'}]}))
    client.create_txt("new.example.com.", ['"n"'])
    job = client.wait(client.delete(f"/zones/{zid}/changes"))
    assert job["status"] == "SUCCESSFUL"
    assert job["resources_url"] == f"{emu.api_url}/zones/{zid}"
    assert emu.diffs(ZONE) == []
    assert states(emu) == [(0, ['"v"'])]
    assert states(emu, "new.example.com.") == []
    assert [j.kind for j in emu.jobs][-1] == "discard"


def test_state_2_does_not_block_post(emu: Emulator, client: Client) -> None:
    rid = client.create_txt(ACME, ['"old"'])
    client.apply()
    client.wait(client.delete(f"/zones/{client.zid()}/records/{rid}"))
    new_rid = client.create_txt(ACME, ['"new"'])
    assert new_rid != rid
    assert states(emu) == [(2, ['"old"']), (1, ['"new"'])]
    client.apply()
    assert states(emu) == [(0, ['"new"'])]
    assert emu.served(0, ACME, "TXT") == ['"new"']


@pytest.mark.parametrize("existing_state", [0, 1, 3])
def test_duplicated(emu: Emulator, client: Client, existing_state: int) -> None:
    rid = client.create_txt(ACME, ['"v"'])
    if existing_state in (0, 3):
        client.apply()
    if existing_state == 3:
        client.wait(
            client.patch(f"/zones/{client.zid()}/records/{rid}", {"rdata": [{"value": '"w"'}]})
        )
    response = client.post(f"/zones/{client.zid()}/records", post_body())
    assert detail(response) == (400, "duplicated", "record")
    assert [j.kind for j in emu.jobs].count("record_post") == 1


def test_racing_posts_both_land_and_both_publish(emu: Emulator, client: Client) -> None:
    emu.set_job_seconds(0.3)
    zid = client.zid()
    first = client.post(f"/zones/{zid}/records", post_body(values=('"a"',)))
    second = client.post(f"/zones/{zid}/records", post_body(values=('"b"',)))
    assert first.status_code == second.status_code == 202
    assert client.wait(first)["status"] == client.wait(second)["status"] == "SUCCESSFUL"
    assert states(emu) == [(1, ['"a"']), (1, ['"b"'])]
    emu.set_job_seconds(0.05)
    client.apply()
    assert emu.served(0, ACME, "TXT") == ['"a"', '"b"']


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (post_body(name="_acme-challenge.example.org."), ("invalid", "name")),
        (post_body(name="bad..name.example.com."), ("invalid", "name")),
        (post_body(rrtype="SOA", values=("a. b. 1 2 3 4 5",)), ("invalid", "rrtype")),
        (post_body(rrtype="BOGUS"), ("invalid", "rrtype")),
        (post_body(values=("unquoted",)), ("invalid_quotes", "rdata")),
        (post_body(values=('"open',)), ("invalid_quotes", "rdata")),
        (post_body(values=('"a" b',)), ("invalid_quotes", "rdata")),
        (post_body(values=('"' + "x" * 256 + '"',)), ("invalid", "rdata")),
        (post_body(rrtype="A", values=("300.1.1.1",)), ("invalid", "rdata")),
        (
            post_body(rrtype="CNAME", values=("a.example.", "b.example.")),
            ("multiple_rdata_found", "rdata"),
        ),
        (
            post_body(name="www.example.com.", rrtype="CNAME", values=("x.example.",)),
            ("cname_and_other_mixed", "name"),
        ),
        (post_body(name="alias.example.com."), ("cname_and_other_mixed", "name")),
        (post_body(name=ZONE, rrtype="NS", values=("ns9.example.",)), ("duplicated", "record")),
        (post_body(ttl=0), ("out_of_range", "ttl")),
        (post_body(description="x" * 81), ("invalid", "description")),
        (post_body(extra_field=1), ("invalid", "schema")),
        ({"name": ACME, "rrtype": "TXT"}, ("invalid", "schema")),
        (post_body(rdata=[]), ("invalid", "schema")),
        (post_body(rdata=[{"value": 5}]), ("invalid", "schema")),
        (post_body(ttl="300"), ("invalid", "schema")),
        (["not", "an", "object"], ("invalid", "schema")),
    ],
)
def test_post_validation(
    emu: Emulator, client: Client, body: Any, expected: tuple[str, str]
) -> None:
    response = client.post(f"/zones/{client.zid()}/records", body)
    assert detail(response) == (400, *expected)
    assert emu.jobs == []
    assert emu.diffs(ZONE) == []


def test_txt_forms_accepted(emu: Emulator, client: Client) -> None:
    long_split = '"' + "a" * 255 + '" "' + "b" * 10 + '"'
    values = ['"two" "strings"', '"esc\\"aped"', '""', long_split, '"\\065BC"']
    client.create_txt(ACME, values)
    client.apply()
    served = emu.served(0, ACME, "TXT")
    assert '"two" "strings"' in served
    assert '"esc\\"aped"' in served
    assert '"ABC"' in served
    assert len(served) == 5


def test_malformed_json(emu: Emulator, client: Client) -> None:
    zid = client.zid()
    response = client.session.post(client.url(f"/zones/{zid}/records"), data=b"{nope", timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["error_type"] == "ParameterError"
    assert body["error_message"] == "JSON parse error occurred."
    assert "error_details" not in body
    assert emu.request_log[-1].body is None


def test_unknown_ids_on_writes(client: Client) -> None:
    zid = client.zid()
    assert detail(client.post("/zones/mnope/records", post_body())) == (400, "not_found", "zone")
    assert detail(client.patch(f"/zones/{zid}/records/rnope", {"ttl": 60})) == (
        400,
        "not_found",
        "record",
    )
    assert detail(client.delete(f"/zones/{zid}/records/rnope")) == (400, "not_found", "record")
    assert detail(client.delete(f"/zones/{zid}/records/rnope/changes")) == (
        400,
        "not_found",
        "record",
    )
    assert detail(client.patch("/zones/mnope/changes", {})) == (400, "not_found", "zone")
    assert detail(client.get("/jobs/0123456789abcdef0123456789abcdef")) == (
        400,
        "not_found",
        "request_id",
    )


def test_soa_and_apex_ns_are_protected(emu: Emulator, client: Client) -> None:
    zid = client.zid()
    rows = {r["rrtype"]: r["id"] for r in emu.records(ZONE) if r["name"] == ZONE}
    assert detail(client.delete(f"/zones/{zid}/records/{rows['SOA']}")) == (
        400,
        "soa_not_found",
        "record",
    )
    assert detail(client.delete(f"/zones/{zid}/records/{rows['NS']}")) == (
        400,
        "apex_ns_not_found",
        "record",
    )


def test_other_operator_locked_out_same_operator_not(
    emu: Emulator, make_client: ClientFactory
) -> None:
    owner = make_client(emu)
    other = make_client(emu, OTHER_TOKEN)
    same_user = make_client(emu, SAME_USER_TOKEN)
    zid = owner.zid()
    rid = owner.create_txt(ACME, ['"v"'])
    patch = {"rdata": [{"value": '"w"'}]}
    assert detail(other.patch(f"/zones/{zid}/records/{rid}", patch)) == (400, "forbidden", "record")
    assert detail(other.delete(f"/zones/{zid}/records/{rid}/changes")) == (
        400,
        "forbidden",
        "record",
    )
    job = same_user.wait(same_user.patch(f"/zones/{zid}/records/{rid}", patch))
    assert job["status"] == "SUCCESSFUL"
    assert states(emu) == [(1, ['"w"'])]
    # Applied rows without a pending edit are open to everybody.
    owner.apply()
    job = other.wait(other.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": '"x"'}]}))
    assert job["status"] == "SUCCESSFUL"
    rows = [r for r in emu.records(ZONE) if r["name"] == ACME]
    assert [(r["state"], r["operator"]) for r in rows] == [(3, "SA0000002"), (5, "SA0000001")]


def test_conflicting_jobs_fail_at_completion(emu: Emulator, make_client: ClientFactory) -> None:
    owner = make_client(emu)
    other = make_client(emu, OTHER_TOKEN)
    rid = owner.create_txt(ACME, ['"v"'])
    owner.apply()
    emu.set_job_seconds(0.4)
    zid = owner.zid()
    first = owner.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": '"a"'}]})
    # Both jobs run 0.4 s, so the one accepted first ends first (jobs complete
    # in the order of their due times, ties in the order they were accepted).
    # Accepted (the row is still state 0), but the first edit lands before it.
    second = other.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": '"b"'}]})
    assert second.status_code == 202
    assert owner.wait(first)["status"] == "SUCCESSFUL"
    failed = other.wait(second)
    assert failed["status"] == "FAILED"
    assert set(failed) == {"request_id", "status", "error_type", "error_message"}
    assert states(emu) == [(3, ['"a"']), (5, ['"v"'])]


def test_proxy_zone_is_read_only(emu: Emulator, client: Client) -> None:
    zid = client.zid("proxy.example.")
    assert client.get(f"/zones/{zid}/records").status_code == 200
    body = post_body(name="x.proxy.example.")
    assert detail(client.post(f"/zones/{zid}/records", body)) == (400, "forbidden", "zone")
    assert detail(client.patch(f"/zones/{zid}/changes", {})) == (400, "forbidden", "zone")
    assert detail(client.delete(f"/zones/{zid}/changes")) == (400, "forbidden", "zone")
    ns_id = emu.records("proxy.example.")[1]["id"]
    assert detail(client.patch(f"/zones/{zid}/records/{ns_id}", {"ttl": 60})) == (
        400,
        "forbidden",
        "zone",
    )


def test_patch_validation(emu: Emulator, client: Client) -> None:
    rid = client.create_txt(ACME, ['"v"'])
    zid = client.zid()
    assert detail(client.patch(f"/zones/{zid}/records/{rid}", {"name": "x"})) == (
        400,
        "invalid",
        "schema",
    )
    assert detail(client.patch(f"/zones/{zid}/records/{rid}", {})) == (400, "invalid", "schema")
    assert detail(client.patch(f"/zones/{zid}/records/{rid}", {"rdata": [{"value": "bare"}]})) == (
        400,
        "invalid_quotes",
        "rdata",
    )
    soa_id = emu.records(ZONE)[0]["id"]
    assert detail(client.patch(f"/zones/{zid}/records/{soa_id}", {"ttl": 60})) == (
        400,
        "forbidden",
        "record",
    )
    assert detail(client.patch(f"/zones/{zid}/changes", {"bogus": 1})) == (400, "invalid", "schema")
    assert states(emu) == [(1, ['"v"'])]


def test_labels_round_trip(client: Client) -> None:
    body = post_body(labels={"team": "infra"})
    job = client.wait(client.post(f"/zones/{client.zid()}/records", body))
    rid = job["resources_url"].rsplit("/", 1)[-1]
    row = client.get(f"/zones/{client.zid()}/records/{rid}").json()["result"]
    assert row["labels"] == {"team": "infra"}
    names = client.get(f"/zones/{client.zid()}/records?_keywords_label[]=infra").json()
    assert [r["id"] for r in names["results"]] == [rid]


def test_lego_wildcard_plus_apex_sequence(emu: Emulator, client: Client) -> None:
    """Present, Present, CleanUp, CleanUp, the order in which lego's iijdpf provider works."""
    zid = client.zid()
    query = f"_keywords_name%5B%5D={ACME}"

    def current() -> list[dict[str, Any]]:
        if (
            client.get(f"/zones/{zid}/records/currents/count?{query}").json()["result"]["count"]
            == 0
        ):
            return []
        rows = client.get(f"/zones/{zid}/records/currents?{query}").json()["results"]
        return [r for r in rows if r["name"] == ACME and r["rrtype"] == "TXT"]

    def present(value: str) -> None:
        found = current()
        if not found:
            client.wait(client.post(f"/zones/{zid}/records", post_body(values=(value,))))
        else:
            row = found[0]
            client.wait(
                client.patch(
                    f"/zones/{zid}/records/{row['id']}",
                    {
                        "ttl": row["ttl"],
                        "rdata": [*row["rdata"], {"value": value}],
                        "description": row["description"],
                    },
                )
            )
        assert client.apply()["status"] == "SUCCESSFUL"

    def cleanup(value: str) -> None:
        found = current()
        if found and len(found[0]["rdata"]) == 1:
            client.wait(client.delete(f"/zones/{zid}/records/{found[0]['id']}"))
        elif found:
            rdata = [v for v in found[0]["rdata"] if v["value"] != value]
            client.wait(
                client.patch(
                    f"/zones/{zid}/records/{found[0]['id']}",
                    {"ttl": found[0]["ttl"], "rdata": rdata, "description": "ACME"},
                )
            )
        assert client.apply()["status"] == "SUCCESSFUL"

    present('"one"')
    present('"two"')
    assert emu.served(0, ACME, "TXT") == ['"one"', '"two"']
    cleanup('"one"')
    assert emu.served(0, ACME, "TXT") == ['"two"']
    cleanup('"two"')
    assert emu.served(0, ACME, "TXT") == []
    assert emu.applies(ZONE) == 4
    assert sorted(j.kind for j in emu.jobs) == [
        "apply",
        "apply",
        "apply",
        "apply",
        "record_delete",
        "record_patch",
        "record_patch",
        "record_post",
    ]
