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

Where DPF's documentation leaves an answer open, a switch picks one of the
plausible answers; every switch defaults to the answer the emulator gave
first. ``tests/dpf_emulator/README.md`` maps each switch to its doubt.
:data:`STRICT_ANSWERS` turns on every strict or unusual answer at once and
:data:`SWITCH_CASES` lists one case per single non-default answer, for tests
that parametrize over them::

    @pytest.mark.parametrize(
        "answers", [a for _, a in SWITCH_CASES], ids=[c for c, _ in SWITCH_CASES]
    )
    def test_x(answers: dict[str, Any]) -> None:
        config = EmulatorConfig(zones=..., tokens=..., nameservers=..., **answers)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

APPLY_SCOPES = ("all", "own")
EMPTY_APPLY_MODES = ("ok", "error", "job_failed")
DELETE_PENDING_ADD_MODES = ("forbidden", "cancel", "stage")
PATCH_PENDING_ADD_MODES = ("allow", "forbidden")
DELETE_PENDING_UPDATE_MODES = ("stage", "forbidden")
LOST_ANSWER_MODES = ("504", "close")
ZONE_STATES = (1, 2)  # 1 = not yet published, 2 = published


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
    state: int = 2


@dataclass
class TokenSpec:
    token: str
    operator: str = "SA0000001"
    # Zone names or zone ids this token sees (None: all). A name covers every
    # zone of that name; an id picks one of several zones sharing a name.
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
    hide_before_update_rows: bool = False
    patch_pending_add: str = "allow"
    delete_pending_update: str = "stage"
    lost_answers_every: int = 0
    lost_answer_mode: str = "504"
    page_size_cap: int = 0
    omit_zone_proxy_field: bool = False

    def validate(self) -> None:
        """Raise ValueError for settings the emulator cannot honour."""
        choices: list[tuple[str, str, tuple[str, ...]]] = [
            ("apply_scope", self.apply_scope, APPLY_SCOPES),
            ("empty_apply", self.empty_apply, EMPTY_APPLY_MODES),
            ("delete_pending_add", self.delete_pending_add, DELETE_PENDING_ADD_MODES),
            ("patch_pending_add", self.patch_pending_add, PATCH_PENDING_ADD_MODES),
            ("delete_pending_update", self.delete_pending_update, DELETE_PENDING_UPDATE_MODES),
            ("lost_answer_mode", self.lost_answer_mode, LOST_ANSWER_MODES),
        ]
        for key, value, allowed in choices:
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}")
        if self.lost_answers_every < 0:
            raise ValueError("lost_answers_every must be >= 0 (0 = no answer is lost)")
        if self.page_size_cap < 0:
            raise ValueError("page_size_cap must be >= 0 (0 = no cap)")
        for zone in self.zones:
            if zone.state not in ZONE_STATES:
                raise ValueError(f"zone {zone.name}: state must be one of {ZONE_STATES}")
        ids = zone_ids(self.zones)
        if len(set(ids)) != len(ids):
            raise ValueError("zone ids must be unique")
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


def zone_ids(zones: Sequence[ZoneSpec]) -> list[str]:
    """The id of each zone: its own, or one derived from name (and service code)."""
    ids: list[str] = []
    seen: set[str] = set()
    for spec in zones:
        name = fqdn(spec.name)
        if spec.zone_id:
            ids.append(spec.zone_id)
        elif name in seen:
            # A second zone of the same name (another DPM contract) needs an
            # id of its own; the first keeps the name-only id so that ids of
            # ordinary configurations do not change.
            ids.append(default_zone_id(f"{name}{spec.service_code}"))
        else:
            ids.append(default_zone_id(name))
        seen.add(name)
    return ids


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
        state=int(data.get("state", 2)),
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
        "hide_before_update_rows",
        "patch_pending_add",
        "delete_pending_update",
        "lost_answers_every",
        "lost_answer_mode",
        "page_size_cap",
        "omit_zone_proxy_field",
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
        hide_before_update_rows=bool(data.get("hide_before_update_rows", False)),
        patch_pending_add=str(data.get("patch_pending_add", "allow")),
        delete_pending_update=str(data.get("delete_pending_update", "stage")),
        lost_answers_every=int(data.get("lost_answers_every", 0)),
        lost_answer_mode=str(data.get("lost_answer_mode", "504")),
        page_size_cap=int(data.get("page_size_cap", 0)),
        omit_zone_proxy_field=bool(data.get("omit_zone_proxy_field", False)),
    )
    return config


# Every strict or unusual answer at once. lost_answers_every stays above 1 so
# that a client which checks and retries after a lost answer still progresses,
# and page_size_cap above 1 so that paging is needed yet terminates.
STRICT_ANSWERS: dict[str, Any] = {
    "hide_before_update_rows": True,
    "patch_pending_add": "forbidden",
    "delete_pending_add": "forbidden",
    "delete_pending_update": "forbidden",
    "empty_apply": "job_failed",
    "lost_answers_every": 5,
    "lost_answer_mode": "504",
    "page_size_cap": 2,
    "omit_zone_proxy_field": True,
}

# One case per single non-default answer (delete_pending_add's default is
# already the strict "forbidden"), then all strict answers together.
SWITCH_CASES: list[tuple[str, dict[str, Any]]] = [
    ("no-state5", {"hide_before_update_rows": True}),
    ("patch-pending-add-forbidden", {"patch_pending_add": "forbidden"}),
    ("delete-pending-add-cancel", {"delete_pending_add": "cancel"}),
    ("delete-pending-add-stage", {"delete_pending_add": "stage"}),
    ("delete-pending-update-forbidden", {"delete_pending_update": "forbidden"}),
    ("empty-apply-error", {"empty_apply": "error"}),
    ("empty-apply-job-failed", {"empty_apply": "job_failed"}),
    ("lost-504", {"lost_answers_every": 3, "lost_answer_mode": "504"}),
    ("lost-close", {"lost_answers_every": 3, "lost_answer_mode": "close"}),
    ("page-cap", {"page_size_cap": 2}),
    ("no-proxy-field", {"omit_zone_proxy_field": True}),
    ("apply-own", {"apply_scope": "own"}),
    ("strict", dict(STRICT_ANSWERS)),
]
