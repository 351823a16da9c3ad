"""Finding the DPF zone that holds a name.

The zone of a name is the longest suffix match among the zones the token can
see, so that one certificate can cover names in several zones and no DPM
service code is needed.  An operator may still restrict the plugin to some
service codes (``dns_iijdpf_service_codes``), as lego's single-zone setup did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from certbot_dns_iijdpf._internal.client import DpfClient
from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError, ZoneNotFoundError

PUBLISHED = 2


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
    # None where the zone object does not say (API 3.7.0 moved it to its own endpoint).
    proxy_enabled: bool | None = False
    state: int = PUBLISHED

    def contains(self, fqdn: str) -> bool:
        fqdn = canonical(fqdn)
        return fqdn == self.name or fqdn.endswith("." + self.name)


class ZoneDirectory:
    """The zones visible to one token, read once and kept for the run."""

    def __init__(self, client: DpfClient, service_codes: Iterable[str] | None = None) -> None:
        self._client = client
        self._service_codes = frozenset(c.lower() for c in service_codes) if service_codes else None
        self._zones: list[Zone] | None = None
        self._checked: set[str] = set()

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
        if not matches:
            raise ZoneNotFoundError(self._not_found_message(fqdn))
        longest = max(len(z.name) for z in matches)
        best = [z for z in matches if len(z.name) == longest]
        if len(best) > 1:
            codes = ", ".join(sorted(z.service_code for z in best))
            raise DpfError(
                f"The token sees {len(best)} DPF zones named {best[0].name.rstrip('.')} "
                f"(service codes {codes}); the plugin cannot tell which one the world "
                "sees. Set dns_iijdpf_service_codes in the credentials file to the service "
                "code of the zone that is delegated."
            )
        return best[0]

    def check_writable(self, zone: Zone) -> None:
        """Raise when the zone cannot publish a challenge: not yet published, or proxied."""
        if zone.id in self._checked:
            return
        label = zone.name.rstrip(".")
        if zone.state != PUBLISHED:
            raise DpfError(
                f"Zone {label} is not published yet in DPF (state {zone.state}), so no "
                "nameserver serves it and no challenge in it can succeed. Publish the zone "
                "in the DPF console first."
            )
        proxy = zone.proxy_enabled
        if proxy is None:
            try:
                result = self._client.get(f"/zones/{zone.id}/zone_proxy").get("result")
            except DpfApiError as exc:
                if exc.is_token_rejected:
                    raise
                # An API without the endpoint: a proxied zone still shows itself
                # with forbidden/zone on the first write.
                result = None
            proxy = isinstance(result, dict) and result.get("enabled") == 1
        if proxy:
            raise DpfError(
                f"Zone {label} has zone proxy enabled, which makes its records read-only "
                "in DPF; the challenge records cannot be created there."
            )
        self._checked.add(zone.id)

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
    proxy = item.get("zone_proxy_enabled")
    state = item.get("state")
    return Zone(
        id=str(item.get("id", "")),
        name=canonical(str(item.get("name", ""))),
        service_code=str(item.get("service_code", "")),
        proxy_enabled=None if proxy is None else proxy == 1,
        state=state if isinstance(state, int) else PUBLISHED,
    )
