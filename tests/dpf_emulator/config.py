"""Configuration of a DPF emulator instance.

Build an :class:`EmulatorConfig` in Python and hand it to ``Emulator``::

    config = EmulatorConfig(
        zones=[ZoneSpec("example.com.", "dpm00000001")],
        tokens=[TokenSpec("t1", operator="SA0000001")],
        nameservers=[NameserverSpec("ns1.dpf-emulator.test.", port=0, lag=0.3)],
        job_seconds=0.05,
    )

Processes that start the emulator through the CLI can pass the same fields as
a JSON object (``--config FILE``); :func:`config_from_dict` reads that form.
Names are FQDNs with a trailing dot everywhere; a missing dot is added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

APPLY_SCOPES = ("all", "own")
EMPTY_APPLY_MODES = ("ok", "error", "job_failed")
DELETE_PENDING_ADD_MODES = ("forbidden", "cancel", "stage")


@dataclass
class NameserverSpec:
    hostname: str
    address: str = "127.0.0.1"
    port: int = 53
    lag: float = 0.0


@dataclass
class RecordSpec:
    name: str
    rrtype: str
    values: list[str]
    ttl: int | None = 300
    description: str = ""


@dataclass
class ZoneSpec:
    name: str
    service_code: str
    zone_id: str | None = None
    records: list[RecordSpec] = field(default_factory=list)
    proxy_enabled: bool = False


@dataclass
class TokenSpec:
    token: str
    operator: str = "SA0000001"
    zones: list[str] | None = None
    scopes: tuple[str, ...] = ("dpf_read", "dpf_write")


@dataclass
class EmulatorConfig:
    zones: list[ZoneSpec]
    tokens: list[TokenSpec]
    nameservers: list[NameserverSpec]
    resolver: tuple[str, int] | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 0
    job_seconds: float = 0.2
    api_latency: float = 0.0
    apply_scope: str = "all"
    empty_apply: str = "ok"
    delete_pending_add: str = "forbidden"

    def validate(self) -> None:
        """Raise ValueError for settings the emulator cannot honour."""
        if self.apply_scope not in APPLY_SCOPES:
            raise ValueError(f"apply_scope must be one of {APPLY_SCOPES}")
        if self.empty_apply not in EMPTY_APPLY_MODES:
            raise ValueError(f"empty_apply must be one of {EMPTY_APPLY_MODES}")
        if self.delete_pending_add not in DELETE_PENDING_ADD_MODES:
            raise ValueError(f"delete_pending_add must be one of {DELETE_PENDING_ADD_MODES}")
        names = [fqdn(z.name) for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        tokens = [t.token for t in self.tokens]
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokens must be unique")
        if not self.nameservers:
            raise ValueError("at least one nameserver is needed (it goes into SOA and NS)")


def fqdn(name: str) -> str:
    """Lower-case ``name`` and give it exactly one trailing dot."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def default_zone_id(zone_name: str) -> str:
    # Derived from the name rather than random so that ids are stable across
    # runs, which keeps logs of separate benchmark runs comparable.
    return "m" + hashlib.sha256(fqdn(zone_name).encode()).hexdigest()[:13]


def _require(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise ValueError(f"{what}: missing field {key!r}")
    return data[key]


def _address(value: Any, what: str) -> tuple[str, int]:
    if isinstance(value, str):
        host, _, port = value.rpartition(":")
        return (host, int(port)) if host else (value, 53)
    if isinstance(value, Sequence) and len(value) == 2:
        return (str(value[0]), int(value[1]))
    raise ValueError(f"{what}: expected [address, port] or 'address:port'")


def _record(data: Mapping[str, Any]) -> RecordSpec:
    values = _require(data, "values", "record")
    if isinstance(values, str):
        values = [values]
    return RecordSpec(
        name=str(_require(data, "name", "record")),
        rrtype=str(_require(data, "rrtype", "record")).upper(),
        values=[str(v) for v in values],
        ttl=None if data.get("ttl", 300) is None else int(data.get("ttl", 300)),
        description=str(data.get("description", "")),
    )


def _zone(data: Mapping[str, Any]) -> ZoneSpec:
    zone_id = data.get("zone_id")
    return ZoneSpec(
        name=str(_require(data, "name", "zone")),
        service_code=str(_require(data, "service_code", "zone")),
        zone_id=None if zone_id is None else str(zone_id),
        records=[_record(r) for r in data.get("records", [])],
        proxy_enabled=bool(data.get("proxy_enabled", False)),
    )


def _token(data: Mapping[str, Any]) -> TokenSpec:
    zones = data.get("zones")
    scopes = data.get("scopes", ("dpf_read", "dpf_write"))
    return TokenSpec(
        token=str(_require(data, "token", "token")),
        operator=str(data.get("operator", "SA0000001")),
        zones=None if zones is None else [str(z) for z in zones],
        scopes=tuple(str(s) for s in scopes),
    )


def _nameserver(data: Mapping[str, Any]) -> NameserverSpec:
    return NameserverSpec(
        hostname=str(_require(data, "hostname", "nameserver")),
        address=str(data.get("address", "127.0.0.1")),
        port=int(data.get("port", 53)),
        lag=float(data.get("lag", 0.0)),
    )


def config_from_dict(data: Mapping[str, Any]) -> EmulatorConfig:
    """Build a config from its JSON form (the field names of the dataclasses)."""
    known = {
        "zones",
        "tokens",
        "nameservers",
        "resolver",
        "api_host",
        "api_port",
        "job_seconds",
        "api_latency",
        "apply_scope",
        "empty_apply",
        "delete_pending_add",
    }
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown config fields: {sorted(unknown)}")
    resolver = data.get("resolver")
    config = EmulatorConfig(
        zones=[_zone(z) for z in data.get("zones", [])],
        tokens=[_token(t) for t in data.get("tokens", [])],
        nameservers=[_nameserver(n) for n in data.get("nameservers", [])],
        resolver=None if resolver is None else _address(resolver, "resolver"),
        api_host=str(data.get("api_host", "127.0.0.1")),
        api_port=int(data.get("api_port", 0)),
        job_seconds=float(data.get("job_seconds", 0.2)),
        api_latency=float(data.get("api_latency", 0.0)),
        apply_scope=str(data.get("apply_scope", "all")),
        empty_apply=str(data.get("empty_apply", "ok")),
        delete_pending_add=str(data.get("delete_pending_add", "forbidden")),
    )
    return config
