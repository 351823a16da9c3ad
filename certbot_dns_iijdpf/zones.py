"""Finding the DPF zone that holds a name.

The zone of a name is the longest suffix match among the zones the token can
see, so that one certificate can cover names in several zones and no DPM
service code is needed.  An operator may still restrict the plugin to some
service codes (``dns_iijdpf_service_codes``), as lego's single-zone setup did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from certbot_dns_iijdpf.client import DpfClient
from certbot_dns_iijdpf.errors import ZoneNotFoundError


def canonical(name: str) -> str:
    """Lower-case, fully qualified form of a DNS name, as DPF returns names."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


@dataclass(frozen=True)
class Zone:
    """A DPF zone as the plugin needs it."""

    id: str
    name: str
    service_code: str
    proxy_enabled: bool = False

    def contains(self, fqdn: str) -> bool:
        fqdn = canonical(fqdn)
        return fqdn == self.name or fqdn.endswith("." + self.name)


class ZoneDirectory:
    """The zones visible to one token, read once and kept for the run."""

    def __init__(self, client: DpfClient, service_codes: Iterable[str] | None = None) -> None:
        self._client = client
        self._service_codes = frozenset(c.lower() for c in service_codes) if service_codes else None
        self._zones: list[Zone] | None = None

    def zones(self) -> list[Zone]:
        if self._zones is None:
            zones = [_zone(item) for item in self._client.get_all("/zones")]
            if self._service_codes is not None:
                zones = [z for z in zones if z.service_code.lower() in self._service_codes]
            self._zones = zones
        return self._zones

    def zone_for(self, fqdn: str) -> Zone:
        """The zone that holds ``fqdn``: the longest matching suffix."""
        fqdn = canonical(fqdn)
        matches = [z for z in self.zones() if z.contains(fqdn)]
        if matches:
            return max(matches, key=lambda z: len(z.name))
        raise ZoneNotFoundError(self._not_found_message(fqdn))

    def _not_found_message(self, fqdn: str) -> str:
        zones = self.zones()
        restriction = (
            f" among the zones of the service codes {', '.join(sorted(self._service_codes))}"
            if self._service_codes is not None
            else ""
        )
        if not zones:
            seen = "The token sees no zone at all" + restriction
            hint = (
                "check that the IIJ ID user behind the token has management rights "
                "on the DPF contract that holds the zone"
            )
        else:
            names = ", ".join(z.name.rstrip(".") for z in zones[:10])
            more = f" and {len(zones) - 10} more" if len(zones) > 10 else ""
            seen = f"The token sees these zones{restriction}: {names}{more}"
            hint = "check the spelling of the domain, or give the token rights on its zone"
        return f"No DPF zone visible to this token contains {fqdn.rstrip('.')}. {seen}; {hint}."


def _zone(item: dict[str, object]) -> Zone:
    return Zone(
        id=str(item.get("id", "")),
        name=canonical(str(item.get("name", ""))),
        service_code=str(item.get("service_code", "")),
        proxy_enabled=item.get("zone_proxy_enabled") == 1,
    )
