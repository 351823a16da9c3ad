"""Read endpoints, envelopes, tokens and search parameters."""

from __future__ import annotations

import re

import requests

from tests.dpf_emulator import Emulator

from .conftest import (
    CODE,
    NARROW_TOKEN,
    READ_ONLY_TOKEN,
    TOKEN,
    ZONE,
    Client,
    ClientFactory,
    detail,
)

HEX32 = re.compile(r"[0-9a-f]{32}\Z")


def test_ping_envelope(client: Client) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id"}
    assert HEX32.match(body["request_id"])


def test_paths_also_answer_at_root(emu: Emulator, client: Client) -> None:
    root = emu.api_url[: -len("/dpf/v1")]
    response = client.session.get(root + "/zones", timeout=5)
    assert response.status_code == 200
    assert response.json()["results"][0]["name"] == ZONE


def test_zone_list_and_object(client: Client) -> None:
    response = client.get("/zones")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id", "results"}
    zone = body["results"][0]
    assert zone == {
        "id": client.zid(),
        "common_config_id": 1,
        "service_code": CODE,
        "state": 2,
        "favorite": 1,
        "name": ZONE,
        "network": None,
        "description": "",
        "zone_proxy_enabled": 0,
    }
    assert len(zone["id"]) == 14 and zone["id"].startswith("m")
    single = client.get(f"/zones/{zone['id']}").json()
    assert set(single) == {"request_id", "result"}
    assert single["result"] == zone


def test_zone_count_with_encoded_brackets(client: Client) -> None:
    # Go's url.Values.Encode writes [] as %5B%5D; both spellings must work.
    encoded = client.get(f"/zones/count?_keywords_service_code%5B%5D={CODE}")
    plain = client.get("/zones/count", params={"_keywords_service_code[]": CODE})
    assert encoded.json()["result"] == {"count": 1}
    assert plain.json()["result"] == {"count": 1}
    listed = client.get(f"/zones?_keywords_service_code%5B%5D={CODE}").json()["results"]
    assert [z["service_code"] for z in listed] == [CODE]


def test_zone_keywords_partial_case_insensitive_and_or(client: Client) -> None:
    def names(query: str) -> list[str]:
        return [z["name"] for z in client.get("/zones?" + query).json()["results"]]

    assert names("_keywords_service_code[]=DPM0000000") == [
        "example.com.",
        "example.net.",
        "proxy.example.",
    ]
    assert names("_keywords_name[]=NET") == ["example.net."]
    # Several values of one key are OR'ed.
    assert names("_keywords_name[]=.net&_keywords_name[]=proxy") == [
        "example.net.",
        "proxy.example.",
    ]
    # Several keys: AND by default, OR with type=OR.
    both = "_keywords_name[]=example.com&_keywords_service_code[]=dpm00000002"
    assert names(both) == []
    assert names(both + "&type=OR") == ["example.com.", "example.net."]
    assert names("_keywords_zone_proxy_enabled[]=1") == ["proxy.example."]


def test_zone_paging(client: Client) -> None:
    def names(query: str) -> list[str]:
        return [z["name"] for z in client.get("/zones?" + query).json()["results"]]

    assert names("limit=2") == ["example.com.", "example.net."]
    assert names("offset=1&limit=1") == ["example.net."]
    assert names("offset=3") == []
    assert detail(client.get("/zones?limit=0")) == (400, "invalid", "limit")
    assert detail(client.get("/zones?offset=-1")) == (400, "invalid", "offset")
    assert detail(client.get("/zones?type=XOR")) == (400, "invalid", "type")
    assert detail(client.get("/zones?_keywords_nope[]=x")) == (400, "invalid", "_keywords_nope")
    # Paging does not change counts.
    assert client.get("/zones/count?limit=1").json()["result"] == {"count": 3}


def test_unknown_zone_is_400_not_404(client: Client) -> None:
    for path in (
        "/zones/mnope",
        "/zones/mnope/records",
        "/zones/mnope/records/currents/count",
        "/zones/mnope/default_ttl",
    ):
        assert detail(client.get(path)) == (400, "not_found", "zone"), path


def test_unknown_route_and_method_are_404(client: Client) -> None:
    for response in (
        client.get("/nothing"),
        client.get("/zones/x/y/z"),
        client.session.put(client.url("/zones"), timeout=5),
        client.get(f"/zones/{client.zid()}/changes"),
    ):
        assert response.status_code == 404
        body = response.json()
        assert body["error_type"] == "NotFound"
        assert body["error_message"] == "Specified resource not found."
        assert "error_details" not in body


def test_bad_or_missing_token(emu: Emulator, make_client: ClientFactory) -> None:
    for token in (None, "wrong"):
        c = make_client(emu, token)
        for response in (c.get("/ping"), c.get("/zones"), c.post(f"/zones/{c.zid()}/records", {})):
            assert detail(response) == (400, "invalid", "access_token")
    assert not any(e.operator for e in emu.request_log)
    assert {e.status for e in emu.request_log} == {400}


def test_token_never_logged(emu: Emulator, client: Client) -> None:
    client.get("/zones?_keywords_name[]=example")
    (entry,) = emu.request_log
    assert entry.operator == "SA0000001"
    assert entry.path == "/zones"
    assert entry.query == {"_keywords_name[]": ["example"]}
    assert TOKEN not in repr(entry)


def test_read_only_token_cannot_write(emu: Emulator, make_client: ClientFactory) -> None:
    c = make_client(emu, READ_ONLY_TOKEN)
    assert c.get("/zones").status_code == 200
    response = c.post(
        f"/zones/{c.zid()}/records",
        {"name": "x.example.com.", "rrtype": "TXT", "rdata": [{"value": '"v"'}]},
    )
    assert detail(response) == (400, "invalid", "access_token")
    assert detail(c.patch(f"/zones/{c.zid()}/changes", {})) == (400, "invalid", "access_token")
    assert emu.records(ZONE) == emu.currents(ZONE)


def test_token_sees_only_its_zones(emu: Emulator, make_client: ClientFactory) -> None:
    c = make_client(emu, NARROW_TOKEN)
    assert [z["name"] for z in c.get("/zones").json()["results"]] == ["example.net."]
    assert c.get("/zones/count").json()["result"] == {"count": 1}
    assert detail(c.get(f"/zones/{c.zid()}")) == (400, "not_found", "zone")
    assert detail(c.get(f"/zones/{c.zid()}/records")) == (400, "not_found", "zone")
    assert c.get(f"/zones/{c.zid('example.net.')}/records").status_code == 200


def test_initial_records_soa_and_apex_ns(client: Client) -> None:
    body = client.get(f"/zones/{client.zid()}/records").json()
    assert set(body) == {"request_id", "results"}
    rows = {(r["name"], r["rrtype"]): r for r in body["results"]}
    soa = rows[(ZONE, "SOA")]
    assert soa["rdata"][0]["value"].split()[:3] == [
        "ns1.dpf-emulator.test.",
        "hostmaster.example.com.",
        "1",
    ]
    ns = rows[(ZONE, "NS")]
    assert [v["value"] for v in ns["rdata"]] == ["ns1.dpf-emulator.test.", "ns2.dpf-emulator.test."]
    www = rows[("www.example.com.", "A")]
    assert set(www) == {
        "id",
        "name",
        "ttl",
        "rrtype",
        "rdata",
        "labels",
        "state",
        "description",
        "operator",
    }
    assert www["state"] == 0 and www["ttl"] == 300 and len(www["id"]) == 14
    assert www["id"].startswith("r")
    one = client.get(f"/zones/{client.zid()}/records/{www['id']}").json()
    assert one["result"] == www
    assert detail(client.get(f"/zones/{client.zid()}/records/rnope")) == (
        400,
        "not_found",
        "record",
    )


def test_record_keyword_filters(client: Client) -> None:
    zid = client.zid()
    client.create_txt("_acme-challenge.example.com.", ['"abc"'])
    client.create_txt("_acme-challenge.www.example.com.", ['"xyz"'])

    def names(path: str, query: str) -> list[str]:
        return [r["name"] for r in client.get(f"/zones/{zid}/{path}?{query}").json()["results"]]

    assert names("records", "_keywords_name%5B%5D=_ACME-challenge.example.com.") == [
        "_acme-challenge.example.com."
    ]
    assert names("records", "_keywords_name[]=_acme-challenge") == [
        "_acme-challenge.example.com.",
        "_acme-challenge.www.example.com.",
    ]
    assert names("records", "_keywords_rdata[]=XYZ") == ["_acme-challenge.www.example.com."]
    assert names("records", "_keywords_rrtype[]=txt&_keywords_description[]=acme") == [
        "_acme-challenge.example.com.",
        "_acme-challenge.www.example.com.",
    ]
    assert names("records", "_keywords_operator[]=SA0000001&_keywords_name[]=www") == [
        "_acme-challenge.www.example.com."
    ]
    assert names("records", "_keywords_full_text[]=xyz") == ["_acme-challenge.www.example.com."]
    assert "www.example.com." in names("records", "_keywords_ttl[]=300")
    # Pending rows are not in /currents.
    assert names("records/currents", "_keywords_name[]=_acme") == []
    count = client.get(f"/zones/{zid}/records/count?_keywords_name%5B%5D=_acme-challenge")
    assert count.json()["result"] == {"count": 2}
    assert detail(client.get(f"/zones/{zid}/records/diffs?_keywords_operator[]=x")) == (
        400,
        "invalid",
        "_keywords_operator",
    )


def test_default_ttl_and_histories(client: Client) -> None:
    zid = client.zid()
    ttl = client.get(f"/zones/{zid}/default_ttl").json()
    assert ttl["result"]["value"] == 300
    assert client.get(f"/zones/{zid}/zone_histories").json()["results"] == []
    client.create_txt("a.example.com.", ['"1"'])
    assert client.apply(description="first")["status"] == "SUCCESSFUL"
    histories = client.get(f"/zones/{zid}/zone_histories").json()["results"]
    assert [(h["id"], h["description"], h["operator"]) for h in histories] == [
        (1, "first", "SA0000001")
    ]
    assert histories[0]["committed_at"].endswith("Z")
    count = client.get(f"/zones/{zid}/zone_histories/count").json()
    assert count["result"] == {"count": 1}


def test_content_type_is_json(client: Client) -> None:
    response = client.get("/zones")
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response, requests.Response)


def test_chunked_body_and_head(emu: Emulator, client: Client) -> None:
    body = b'{"name": "c.example.com.", "rrtype": "TXT", "rdata": [{"value": "\\"v\\""}]}'
    response = client.session.post(
        client.url(f"/zones/{client.zid()}/records"), data=iter([body[:10], body[10:]]), timeout=5
    )
    assert client.wait(response)["status"] == "SUCCESSFUL"
    assert any(r["name"] == "c.example.com." for r in emu.records(ZONE))
    head = client.session.head(client.url("/zones"), timeout=5)
    assert head.status_code == 404 and head.content == b""
    # The connection is still usable after HEAD.
    assert client.get("/ping").status_code == 200
