"""Published zone data and the logic that answers DNS questions from it.

:class:`Snapshot` is an immutable view of one zone as published by one apply
(the state module keeps a list of them with publication times).
:class:`Answerer` turns a query plus the snapshots a server currently sees into
a response; the socket code in ``dns_server`` only moves bytes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset

RdataType = dns.rdatatype.RdataType
HOST_TTL = 300
MAX_CNAME_CHAIN = 8


def to_rdata(rrtype: str, value: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    """DPF value text to dnspython rdata; TXT ``"a" "b"`` becomes two strings."""
    return dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.from_text(rrtype), value, origin=origin, relativize=False
    )


class Snapshot:
    """One published version of a zone, keyed by owner name and type."""

    def __init__(
        self, origin: str, serial: int, records: Iterable[tuple[str, str, int, Sequence[str]]]
    ) -> None:
        self.origin = dns.name.from_text(origin)
        self.serial = serial
        self.nodes: dict[dns.name.Name, dict[RdataType, dns.rrset.RRset]] = {}
        for name, rrtype, ttl, values in records:
            if rrtype == "ANAME":
                # ANAME is flattening done by the provider's servers; the emulator
                # has nothing to flatten to, so it publishes no data for it.
                continue
            owner = dns.name.from_text(name)
            rdtype = dns.rdatatype.from_text(rrtype)
            node = self.nodes.setdefault(owner, {})
            rrset = node.get(rdtype)
            if rrset is None:
                rrset = node[rdtype] = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
                rrset.update_ttl(ttl)
            else:
                # Two rows for one RRset only arise from racing POSTs; DNS can
                # carry just one TTL, so the lower one wins.
                rrset.update_ttl(ttl)
            for value in values:
                rrset.add(to_rdata(rrtype, value, self.origin))
        # Names that exist only as parents of data (empty non-terminals) must
        # answer NODATA, not NXDOMAIN.
        self.names: set[dns.name.Name] = set()
        for owner in self.nodes:
            parent = owner
            while parent.is_subdomain(self.origin) and parent not in self.names:
                self.names.add(parent)
                if parent == self.origin:
                    break
                parent = parent.parent()
        self.names.add(self.origin)

    @property
    def soa(self) -> dns.rrset.RRset | None:
        return self.nodes.get(self.origin, {}).get(RdataType.SOA)

    def negative_soa(self) -> list[dns.rrset.RRset]:
        soa = self.soa
        if soa is None:
            return []
        negative = dns.rrset.RRset(soa.name, soa.rdclass, soa.rdtype)
        for rdata in soa:
            negative.add(rdata)
        first = soa[0]
        assert isinstance(first, dns.rdtypes.ANY.SOA.SOA)
        negative.ttl = min(soa.ttl, first.minimum)
        return [negative]

    def node(self, name: dns.name.Name) -> dict[RdataType, dns.rrset.RRset] | None:
        """The data at ``name``, synthesised from a wildcard when needed."""
        found = self.nodes.get(name)
        if found is not None:
            return found
        if name in self.names:
            return None
        encloser = name.parent()
        while encloser not in self.names and encloser != dns.name.root:
            encloser = encloser.parent()
        wildcard = self.nodes.get(dns.name.Name((b"*", *encloser.labels)))
        if wildcard is None:
            return None
        synthesised: dict[RdataType, dns.rrset.RRset] = {}
        for rdtype, rrset in wildcard.items():
            copy = dns.rrset.RRset(name, rrset.rdclass, rrset.rdtype)
            for rdata in rrset:
                copy.add(rdata)
            copy.ttl = rrset.ttl
            synthesised[rdtype] = copy
        return synthesised

    def exists(self, name: dns.name.Name) -> bool:
        return name in self.names or self.node(name) is not None


@dataclass
class Lookup:
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    authoritative: bool = True


def _find_zone(snapshots: Sequence[Snapshot], name: dns.name.Name) -> Snapshot | None:
    best: Snapshot | None = None
    for snap in snapshots:
        if name.is_subdomain(snap.origin) and (best is None or len(snap.origin) > len(best.origin)):
            best = snap
    return best


class Answerer:
    """Answers queries; ``hosts`` maps nameserver hostnames to their addresses."""

    def __init__(self, hosts: Mapping[str, Sequence[str]]) -> None:
        self.hosts: dict[dns.name.Name, dict[RdataType, dns.rrset.RRset]] = {}
        for hostname, addresses in hosts.items():
            owner = dns.name.from_text(hostname)
            node = self.hosts.setdefault(owner, {})
            for address in addresses:
                rdtype = (
                    RdataType.AAAA if ipaddress.ip_address(address).version == 6 else RdataType.A
                )
                rrset = node.setdefault(rdtype, dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype))
                rrset.update_ttl(HOST_TTL)
                rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, address))

    def lookup(
        self, snapshots: Sequence[Snapshot], qname: dns.name.Name, qtype: RdataType
    ) -> Lookup:
        snap = _find_zone(snapshots, qname)
        host = self.hosts.get(qname)
        if host is not None and (snap is None or not snap.exists(qname)):
            # Nameserver hostnames answer everywhere so that a client can find
            # the servers named in NS records without any other DNS.
            result = Lookup(answer=[host[qtype]] if qtype in host else [])
            if qtype == RdataType.ANY:
                result.answer = list(host.values())
            return result
        if snap is None:
            return Lookup(rcode=dns.rcode.REFUSED, authoritative=False)
        result = Lookup()
        name = qname
        seen = {name}
        for _ in range(MAX_CNAME_CHAIN):
            node = snap.node(name)
            if node is None:
                if name not in snap.names:
                    result.rcode = dns.rcode.NXDOMAIN
                result.authority = snap.negative_soa()
                return result
            if qtype == RdataType.ANY:
                result.answer.extend(node.values())
                return result
            if qtype in node:
                result.answer.append(node[qtype])
                return result
            cname = node.get(RdataType.CNAME)
            if cname is None:
                result.authority = snap.negative_soa()
                return result
            result.answer.append(cname)
            target = cname[0].target
            next_snap = _find_zone(snapshots, target)
            # Chasing stops at names outside the hosted zones and at loops,
            # leaving the client with the CNAME as a recursive resolver would
            # after a failed lookup.
            if next_snap is None or target in seen:
                return result
            snap, name = next_snap, target
            seen.add(name)
        return result

    def respond(
        self, query: dns.message.Message, snapshots: Sequence[Snapshot], recursive: bool = False
    ) -> dns.message.Message:
        response = dns.message.make_response(query, recursion_available=recursive)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        result = self.lookup(snapshots, question.name, question.rdtype)
        response.set_rcode(result.rcode)
        response.answer = list(result.answer)
        response.authority = list(result.authority)
        if result.authoritative and not recursive:
            response.flags |= dns.flags.AA
        return response

    def served(self, snapshots: Sequence[Snapshot], name: str, rrtype: str) -> list[str]:
        qname = dns.name.from_text(name)
        qtype = dns.rdatatype.from_text(rrtype)
        result = self.lookup(snapshots, qname, qtype)
        out: list[str] = []
        for rrset in result.answer:
            if rrset.name == qname and rrset.rdtype == qtype:
                out.extend(rdata.to_text() for rdata in rrset)
        return sorted(out)
