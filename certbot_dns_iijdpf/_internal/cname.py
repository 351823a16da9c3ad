"""Following a CNAME at ``_acme-challenge.<domain>`` (delegated validation).

A common setup points ``_acme-challenge.example.com`` at a name in a small
validation zone, so that the API token needs rights on that zone only.  ACME
servers follow the CNAME, so the TXT record must be written at its target.

:func:`follow` walks a chain with whatever lookup it is given.  The publisher
asks DPF's own records for names in zones the token sees (a resolver would
answer from a wildcard CNAME, or from its own view of the zone), and
:func:`lookup_cname`, the system resolver, only for the others.  When that
lookup fails (no resolver, a timeout) the name is used as it is, so that a
broken lookup never breaks a setup without CNAMEs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dns.exception
import dns.resolver

from certbot_dns_iijdpf._internal.errors import DpfError
from certbot_dns_iijdpf._internal.zones import canonical

logger = logging.getLogger(__name__)

MAX_DEPTH = 8

Lookup = Callable[[str], "str | None"]


def lookup_cname(name: str) -> str | None:
    """The CNAME target at ``name``, or None when there is none (or no answer)."""
    try:
        answer = dns.resolver.resolve(name, "CNAME", lifetime=5.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except (dns.exception.DNSException, OSError) as exc:
        logger.debug("CNAME lookup of %s failed (%s); using the name as it is", name, exc)
        return None
    for rdata in answer:
        return canonical(str(getattr(rdata, "target", "")))
    return None


def follow(name: str, lookup: Lookup = lookup_cname) -> str:
    """The name at the end of the CNAME chain that starts at ``name``."""
    chain = [canonical(name)]
    while True:
        target = lookup(chain[-1])
        if target is None:
            break
        target = canonical(target)
        if target in chain:
            raise DpfError(
                "The CNAME records at "
                + " -> ".join(n.rstrip(".") for n in [*chain, target])
                + " form a loop; fix the CNAME at "
                + chain[0].rstrip(".")
                + "."
            )
        chain.append(target)
        if len(chain) > MAX_DEPTH:
            raise DpfError(
                f"The CNAME chain from {chain[0].rstrip('.')} is longer than {MAX_DEPTH} "
                "names; point the CNAME at its final target."
            )
    if len(chain) > 1:
        logger.info(
            "Following the CNAME %s; the challenge goes to %s",
            " -> ".join(n.rstrip(".") for n in chain),
            chain[-1].rstrip("."),
        )
    return chain[-1]
