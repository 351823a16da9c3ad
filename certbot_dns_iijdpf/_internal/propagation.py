"""Waiting until every authoritative nameserver of a zone serves the challenge.

An ACME server validates from several vantage points, and each may ask a
different nameserver of the zone; a DPF apply job finishing does not mean all
of them already serve the change.  :class:`PropagationWaiter` therefore asks
each nameserver of the zone directly (no recursion, no cache) until every one
serves every expected value, within an upper bound.

Nameserver names come from the zone's apex NS records (read through the API
with the rest of the zone), their addresses from the system resolver.  When no
nameserver of a zone can be reached at all, for example because a firewall
blocks outgoing DNS, the waiter falls back to a fixed sleep, as other certbot
DNS plugins always do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.resolver

from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import PropagationError

logger = logging.getLogger(__name__)

DEFAULT_FALLBACK_SECONDS = 120.0
# How long one lookup of a nameserver's address may take, within the run's budget.
RESOLVE_SECONDS = 5.0


@dataclass
class ZoneExpectation:
    """What one zone's nameservers must serve (or stop serving)."""

    zone: str
    nameservers: list[str]
    txt: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Server:
    zone: str
    hostname: str
    address: str
    answered: bool = False
    done: bool = False
    dropped: bool = False
    missing: str = ""


Query = Callable[[str, str, float], set[str]]


def query_txt(name: str, address: str, timeout: float) -> set[str]:
    """TXT values (strings joined) that the server at ``address`` serves at ``name``.

    Raises ``OSError``/``dns.exception.DNSException`` when the server does not
    answer; an authoritative "no such name" is an empty set.
    """
    request = dns.message.make_query(name, dns.rdatatype.TXT)
    request.flags &= ~dns.flags.RD
    response = dns.query.udp(request, address, timeout=timeout)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(request, address, timeout=timeout)
    values: set[str] = set()
    wanted = dns.name.from_text(name)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT and rrset.name == wanted:
            for rdata in rrset:
                strings = getattr(rdata, "strings", ())
                values.add(b"".join(strings).decode("utf-8", "replace"))
    return values


def resolve_addresses(hostname: str, lifetime: float = RESOLVE_SECONDS) -> list[str]:
    """Addresses of a nameserver host through the system resolver (IPv4 first).

    ``lifetime`` bounds each of the two lookups (A, then AAAA if no A).
    """
    addresses: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = dns.resolver.resolve(hostname, rdtype, lifetime=lifetime)
        except (dns.exception.DNSException, OSError):
            continue
        addresses.extend(str(r) for r in answer)
        if addresses:
            break
    return addresses


class PropagationWaiter:
    """Polls every nameserver of the zones until they serve what is expected."""

    def __init__(
        self,
        timeout: float,
        *,
        interval: float = 0.5,
        query_timeout: float = 2.0,
        unreachable_after: float = 10.0,
        fallback_seconds: float = DEFAULT_FALLBACK_SECONDS,
        query: Query = query_txt,
        resolve: Callable[[str, float], list[str]] = resolve_addresses,
        deadline: Deadline | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self._deadline = deadline if deadline is not None else Deadline.unbounded()
        self._interval = interval
        self._query_timeout = query_timeout
        self._unreachable_after = unreachable_after
        self._fallback = min(fallback_seconds, timeout)
        self._query = query
        self._resolve = resolve
        self._clock = clock
        self._sleep = sleep

    def wait(self, expectations: Iterable[ZoneExpectation]) -> None:
        """Return once every nameserver serves every expected TXT value.

        Raises :class:`PropagationError` naming the lagging servers when the
        upper bound (``--dns-iijdpf-propagation-seconds``) runs out, and
        :class:`~certbot_dns_iijdpf._internal.errors.RunTimeoutError` when the run's
        budget ends first.  A bound of 0 turns the check (and its wait) off.
        """
        expectations = [e for e in expectations if e.txt]
        if not expectations or self.timeout <= 0:
            return
        servers = self._servers(expectations)
        blind = {e.zone for e in expectations} - {s.zone for s in servers}
        by_zone = {e.zone: e.txt for e in expectations}
        started = self._clock()
        sorted_out = False
        while True:
            for server in servers:
                if not server.done and not server.dropped:
                    self._check(server, by_zone[server.zone])
            elapsed = self._clock() - started
            if not sorted_out and elapsed >= self._unreachable_after:
                # A server that has not answered once by now is taken as
                # unreachable from here, rather than as lagging.
                sorted_out = True
                for server in servers:
                    if not server.answered:
                        server.dropped = True
                        logger.warning(
                            "Nameserver %s (%s) of zone %s does not answer DNS queries from "
                            "this host; its propagation cannot be checked.",
                            server.hostname,
                            server.address,
                            server.zone.rstrip("."),
                        )
                blind |= {s.zone for s in servers} - {s.zone for s in servers if s.answered}
            waiting = [s for s in servers if not s.done and not s.dropped]
            if not waiting:
                break
            if elapsed >= self.timeout:
                raise PropagationError(self._timeout_message(waiting))
            if self._deadline.remaining() < self._interval:
                raise self._deadline.error("the nameservers to serve the challenge")
            self._sleep(self._interval)
        if blind:
            remaining = max(0.0, self._fallback - (self._clock() - started))
            zones = ", ".join(sorted(z.rstrip(".") for z in blind))
            logger.warning(
                "No nameserver of %s could be queried directly from this host (is outgoing "
                "DNS blocked?); waiting a fixed %.0f seconds instead.",
                zones,
                remaining,
            )
            left = self._deadline.remaining()
            if remaining > left:
                # Sleeping to the end of the budget would only delay the same
                # failure: a shortened blind wait proves nothing.
                raise self._deadline.error(
                    f"the fixed propagation wait for {zones}",
                    f"it needs {remaining:.0f} more seconds, and only {left:.0f} remain",
                )
            self._sleep(remaining)
        else:
            logger.info("Every nameserver serves the challenge records.")

    def _servers(self, expectations: list[ZoneExpectation]) -> list[_Server]:
        servers: list[_Server] = []
        for expectation in expectations:
            for hostname in expectation.nameservers:
                # Half the time left for each of the two lookups, so that
                # resolving never overruns the run's budget.
                lifetime = max(0.1, self._deadline.cap(2 * RESOLVE_SECONDS) / 2)
                addresses = self._resolve(hostname, lifetime)
                if addresses:
                    # One address per server: the CA asks the server, not each address.
                    servers.append(_Server(expectation.zone, hostname, addresses[0]))
                else:
                    logger.warning(
                        "Could not find the address of nameserver %s of zone %s.",
                        hostname,
                        expectation.zone,
                    )
        return servers

    def _check(self, server: _Server, expected: Mapping[str, set[str]]) -> None:
        for name, values in expected.items():
            try:
                timeout = max(0.1, self._deadline.cap(self._query_timeout))
                served = self._query(name, server.address, timeout)
            except (dns.exception.DNSException, OSError) as exc:
                logger.debug("Query to %s (%s) failed: %s", server.hostname, server.address, exc)
                return
            server.answered = True
            lacking = values - served
            if lacking:
                server.missing = f"{name.rstrip('.')} lacks {len(lacking)} of {len(values)} values"
                return
        server.done = True

    def _timeout_message(self, waiting: list[_Server]) -> str:
        lagging = "; ".join(
            f"{s.hostname.rstrip('.')} ({s.address}): {s.missing or 'no answer'}" for s in waiting
        )
        return (
            f"After {self.timeout:.0f} seconds these DPF nameservers still do not serve the "
            f"challenge: {lagging}. DPF may be slow to publish; raise "
            "--dns-iijdpf-propagation-seconds, or check the zone in the DPF console."
        )
