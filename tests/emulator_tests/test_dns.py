"""The emulator's nameservers and resolver, queried with dnspython."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from tests.dpf_emulator import Emulator
from tests.harness.waiting import wait_for

from .conftest import ZONE, Client

ACME = "_acme-challenge.example.com."


def ask(
    address: tuple[str, int], name: str, rrtype: str, tcp: bool = False, edns: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rrtype, use_edns=0 if edns else False)
    if tcp:
        return dns.query.tcp(query, address[0], port=address[1], timeout=2)
    return dns.query.udp(query, address[0], port=address[1], timeout=2)


def txt(response: dns.message.Message) -> list[str]:
    return sorted(
        rd.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rd in rrset
    )


def test_txt_appears_after_apply_fast_server_first(emu: Emulator, client: Client) -> None:
    fast, slow = emu.nameserver_addresses
    client.create_txt(ACME, ['"token"'])
    # Staged only: no server has it.
    assert ask(fast, ACME, "TXT").rcode() == dns.rcode.NXDOMAIN
    job = client.apply()
    assert job["status"] == "SUCCESSFUL"
    fast_answer = ask(fast, ACME, "TXT")
    assert txt(fast_answer) == ['"token"']
    assert fast_answer.flags & dns.flags.AA
    # ns2 lags 0.6 s behind the apply: not yet, but once that has passed.
    assert ask(slow, ACME, "TXT").rcode() == dns.rcode.NXDOMAIN
    assert emu.served(1, ACME, "TXT") == []
    wait_for(lambda: emu.served(1, ACME, "TXT") != [], "the lagging server serving", timeout=5)
    assert txt(ask(slow, ACME, "TXT")) == ['"token"']
    assert emu.served(1, ACME, "TXT") == ['"token"']


def test_lagging_server_keeps_serving_old_values(emu: Emulator, client: Client) -> None:
    fast, slow = emu.nameserver_addresses
    rid = client.create_txt(ACME, ['"old"'])
    client.apply()
    wait_for(lambda: emu.served(1, ACME, "TXT") == ['"old"'], "the first value on ns2", timeout=5)
    client.wait(
        client.patch(f"/zones/{client.zid()}/records/{rid}", {"rdata": [{"value": '"new"'}]})
    )
    client.apply()
    assert txt(ask(fast, ACME, "TXT")) == ['"new"']
    assert txt(ask(slow, ACME, "TXT")) == ['"old"']
    serial_fast = ask(fast, ZONE, "SOA").answer[0][0].serial
    serial_slow = ask(slow, ZONE, "SOA").answer[0][0].serial
    assert (serial_fast, serial_slow) == (3, 2)


def test_tcp_and_udp_answer_alike(emu: Emulator) -> None:
    address = emu.nameserver_addresses[0]
    udp = ask(address, "www.example.com.", "A")
    tcp = ask(address, "www.example.com.", "A", tcp=True)
    assert [rd.to_text() for rd in udp.answer[0]] == ["192.0.2.1"]
    assert udp.answer == tcp.answer
    assert tcp.flags & dns.flags.AA


def test_large_answer_truncated_over_udp(emu: Emulator, client: Client) -> None:
    values = [f'"{i:02d}{"x" * 98}"' for i in range(8)]
    client.create_txt(ACME, values)
    client.apply()
    address = emu.nameserver_addresses[0]
    udp = ask(address, ACME, "TXT")
    assert udp.flags & dns.flags.TC
    assert udp.answer == []
    tcp = ask(address, ACME, "TXT", tcp=True)
    assert not tcp.flags & dns.flags.TC
    assert len(txt(tcp)) == 8
    # EDNS with a large payload fits in one datagram.
    assert len(txt(ask(address, ACME, "TXT", edns=True))) == 8
    response, used_tcp = dns.query.udp_with_fallback(
        dns.message.make_query(ACME, "TXT", use_edns=False), address[0], port=address[1], timeout=2
    )
    assert used_tcp and len(txt(response)) == 8


def test_nxdomain_nodata_and_empty_non_terminal(emu: Emulator, client: Client) -> None:
    address = emu.nameserver_addresses[0]
    nx = ask(address, "missing.example.com.", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.authority[0].rdtype == dns.rdatatype.SOA
    assert nx.flags & dns.flags.AA
    nodata = ask(address, "www.example.com.", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and nodata.answer == []
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    assert nodata.authority[0].ttl == 300
    client.create_txt("_acme-challenge.deep.example.com.", ['"x"'])
    client.apply()
    ent = ask(address, "deep.example.com.", "TXT")
    assert ent.rcode() == dns.rcode.NOERROR and ent.answer == []


def test_refused_outside_zones_but_nameserver_names_resolve(emu: Emulator) -> None:
    address = emu.nameserver_addresses[0]
    refused = ask(address, "example.org.", "A")
    assert refused.rcode() == dns.rcode.REFUSED
    assert not refused.flags & dns.flags.AA
    for name in ("ns1.dpf-emulator.test.", "ns2.dpf-emulator.test."):
        answer = ask(address, name, "A")
        assert [rd.to_text() for rd in answer.answer[0]] == ["127.0.0.1"]
    empty = ask(address, "ns1.dpf-emulator.test.", "AAAA")
    assert empty.rcode() == dns.rcode.NOERROR and empty.answer == []


def test_apex_ns_and_soa(emu: Emulator) -> None:
    address = emu.nameserver_addresses[1]
    ns = ask(address, ZONE, "NS")
    assert sorted(rd.to_text() for rd in ns.answer[0]) == [
        "ns1.dpf-emulator.test.",
        "ns2.dpf-emulator.test.",
    ]
    soa = ask(address, ZONE, "SOA").answer[0][0]
    assert soa.serial == 1 and soa.mname.to_text() == "ns1.dpf-emulator.test."


def test_cname_answers_and_chasing(emu: Emulator) -> None:
    address = emu.nameserver_addresses[0]
    chased = ask(address, "alias.example.com.", "A")
    assert [rrset.rdtype for rrset in chased.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert [rd.to_text() for rd in chased.answer[1]] == ["192.0.2.1"]
    outside = ask(address, "out.example.com.", "TXT")
    assert outside.rcode() == dns.rcode.NOERROR
    assert [rrset.rdtype for rrset in outside.answer] == [dns.rdatatype.CNAME]
    only_cname = ask(address, "alias.example.com.", "CNAME")
    assert [rd.to_text() for rd in only_cname.answer[0]] == ["www.example.com."]


def test_cname_into_other_hosted_zone(emu: Emulator, client: Client) -> None:
    # An ACME delegation: _acme-challenge in one zone points into another.
    client.create_txt("_acme-challenge.example.net.", ['"delegated"'], zone="example.net.")
    client.apply(zone="example.net.")
    response = client.post(
        f"/zones/{client.zid()}/records",
        {
            "name": ACME,
            "ttl": 60,
            "rrtype": "CNAME",
            "rdata": [{"value": "_acme-challenge.example.net."}],
        },
    )
    assert client.wait(response)["status"] == "SUCCESSFUL"
    client.apply()
    answer = ask(emu.nameserver_addresses[0], ACME, "TXT")
    assert txt(answer) == ['"delegated"']
    assert answer.answer[0].ttl == 60


def test_wildcard(emu: Emulator) -> None:
    answer = ask(emu.nameserver_addresses[0], "anything.wild.example.com.", "TXT")
    assert txt(answer) == ['"wild"']
    assert answer.answer[0].name.to_text() == "anything.wild.example.com."


def test_resolver_has_no_lag_and_sets_ra(emu: Emulator, client: Client) -> None:
    resolver = emu.resolver_address
    assert resolver is not None
    client.create_txt(ACME, ['"now"'])
    client.apply()
    answer = ask(resolver, ACME, "TXT")
    assert txt(answer) == ['"now"']
    assert answer.flags & dns.flags.RA
    assert txt(ask(emu.nameserver_addresses[1], ACME, "TXT")) == []
    hosts = ask(resolver, "ns2.dpf-emulator.test.", "A")
    assert [rd.to_text() for rd in hosts.answer[0]] == ["127.0.0.1"]


def test_null_ttl_uses_zone_default(emu: Emulator, client: Client) -> None:
    client.create_txt(ACME, ['"v"'], ttl=None)
    client.apply()
    assert ask(emu.nameserver_addresses[0], ACME, "TXT").answer[0].ttl == 300


def test_multi_string_txt_on_the_wire(emu: Emulator, client: Client) -> None:
    client.create_txt(ACME, ['"part1" "part2"'])
    client.apply()
    rdata = ask(emu.nameserver_addresses[0], ACME, "TXT").answer[0][0]
    assert rdata.strings == (b"part1", b"part2")


def test_garbage_gets_formerr_or_nothing(emu: Emulator) -> None:
    import socket

    address = emu.nameserver_addresses[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff", address)
        reply = sock.recv(512)
    assert reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.FORMERR
