"""What the probe learns about a zone from DPF and DNS, and small helpers of both phases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from certbot_dns_iijdpf._internal.errors import DpfApiError
from certbot_dns_iijdpf._internal.planner import (
    ADDING,
    DELETING,
    UPDATING,
    Row,
)
from certbot_dns_iijdpf._internal.zones import canonical

PENDING = (ADDING, DELETING, UPDATING)
PUBLISHED_ZONE = 2
DNS_TIMEOUT = 3.0


def label(name: str) -> str:
    return name.rstrip(".")


def challenge_name(domain: str) -> str:
    """``_acme-challenge.<domain>.``; a wildcard shares its base name's challenge name."""
    base = canonical(domain)
    if base.startswith("*."):
        base = base[2:]
    return "_acme-challenge." + base


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    service_code: str
    state: int | None
    proxy_field: int | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Zone:
        state = item.get("state")
        proxy = item.get("zone_proxy_enabled")
        return cls(
            id=str(item.get("id", "")),
            name=canonical(str(item.get("name", ""))),
            service_code=str(item.get("service_code", "")),
            state=state if isinstance(state, int) else None,
            proxy_field=proxy if isinstance(proxy, int) else None,
        )

    def contains(self, fqdn: str) -> bool:
        return fqdn == self.name or fqdn.endswith("." + self.name)


@dataclass
class Nameserver:
    hostname: str
    address: str | None = None
    udp: bool = False
    tcp: bool = False


@dataclass
class ZoneFacts:
    """What the read-only checks learned about one zone, for the write cycle."""

    zone: Zone
    names: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    currents: list[Row] = field(default_factory=list)
    nameservers: list[Nameserver] = field(default_factory=list)
    blocked: bool = False  # a failed check makes a write cycle pointless

    @property
    def staged(self) -> list[Row]:
        return [r for r in self.rows if r.state in PENDING]


class DnsProblem(Exception):
    """A nameserver query that did not give the zone's SOA.

    ``answered`` tells a server that answered wrongly (REFUSED, not
    authoritative: it does not serve the zone) from one that could not be
    reached at all (a timeout, a network error: often a firewall).
    """

    def __init__(self, detail: str, *, answered: bool) -> None:
        super().__init__(detail)
        self.answered = answered


def query_soa(zone: str, address: str, *, tcp: bool, timeout: float = DNS_TIMEOUT) -> int:
    """The SOA serial that ``address`` serves authoritatively for ``zone``."""
    request = dns.message.make_query(zone, dns.rdatatype.SOA)
    request.flags &= ~dns.flags.RD
    try:
        if tcp:
            response = dns.query.tcp(request, address, timeout=timeout)
        else:
            response = dns.query.udp(request, address, timeout=timeout)
    except dns.exception.Timeout:
        raise DnsProblem(f"no answer within {timeout:.0f} s", answered=False) from None
    except (dns.exception.DNSException, OSError) as exc:
        raise DnsProblem(str(exc) or type(exc).__name__, answered=False) from None
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        raise DnsProblem(f"answered {dns.rcode.to_text(rcode)}", answered=True)
    if not response.flags & dns.flags.AA:
        raise DnsProblem("answered, but not authoritatively (AA flag unset)", answered=True)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(getattr(rrset[0], "serial", 0))
    raise DnsProblem("answered without the zone's SOA record", answered=True)


def detail_codes(exc: DpfApiError) -> str:
    codes = ", ".join(str(d) for d in exc.details)
    return f"HTTP {exc.status} {codes or exc.error_type}"
