"""Zones, records, staging, jobs, applies and publication history.

All API semantics live here; the HTTP layer only parses requests and formats
answers. Every public method takes the one lock, so HTTP and DNS threads see a
consistent state.

Jobs complete lazily: every call first runs the jobs whose due time has passed,
in due-time order, and stamps each with its due time (not with the moment it
was noticed). Published zone versions carry that time, so a nameserver with lag
L serves the newest version published at least L seconds ago. Nothing runs in
the background, and a test can drive time by passing its own ``clock``::

    now = [0.0]
    state = State(config, clock=lambda: now[0])
    job = state.post_record(state.authenticate("t1", write=True), zone_id, body)
    now[0] += config.job_seconds        # the POST's job is now due
    assert state.job_view(job.id).status == "SUCCESSFUL"

Record writes are validated when they are accepted (a 400 leaves no trace);
their effect happens when the job completes, where a few checks run again
because other jobs may have changed the record in between (the job then FAILS).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from .config import EmulatorConfig, TokenSpec, ZoneSpec, fqdn, zone_ids
from .dnsdata import Snapshot
from .errors import ApiError, bad_token, new_request_id, param_error
from .faults import FaultSet, JobFaultRule
from .validation import (
    PATCH_FIELDS,
    POST_FIELDS,
    check_description,
    check_labels,
    check_object,
    check_rdata,
    check_rrtype,
    check_ttl,
    check_value,
    in_zone,
    normalize_name,
)

DEFAULT_TTL = 300
FAILED_TYPE = "Bad Request"
FAILED_MESSAGE = "There are invalid parameters"
# Chosen for empty_apply="error": of the spec's codes, "no record to apply" reads
# most naturally as not_found/record, and the apply endpoint's own table has
# nothing closer.
EMPTY_APPLY_ERROR = ("not_found", "record")


def new_record_id() -> str:
    return "r" + uuid.uuid4().hex[:13]


@dataclass
class Row:
    """The values of one RRset (one record object)."""

    id: str
    name: str
    rrtype: str
    ttl: int | None
    values: list[str]
    description: str = ""
    operator: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def view(self, state: int, operator: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "ttl": self.ttl,
            "rrtype": self.rrtype,
            "rdata": [{"value": v} for v in self.values],
            "labels": dict(self.labels),
            "state": state,
            "description": self.description,
            "operator": self.operator if operator is None else operator,
        }


@dataclass
class Entry:
    """A record id: its applied row and its pending edit, if any."""

    current: Row | None = None  # what DNS serves (after the last apply)
    draft: Row | None = None  # pending add (no current) or pending update
    deleting: bool = False
    editor: str | None = None  # operator who made the pending edit

    @property
    def pending(self) -> bool:
        return self.deleting or self.draft is not None

    @property
    def state(self) -> int:
        if self.deleting:
            return 2
        if self.current is None:
            return 1
        return 3 if self.draft is not None else 0

    @property
    def row(self) -> Row:
        row = self.draft or self.current
        assert row is not None
        return row

    def edit_rows(self, before_update_rows: bool = True) -> list[dict[str, Any]]:
        state = self.state
        if state == 3:
            assert self.draft is not None and self.current is not None
            if not before_update_rows:
                return [self.draft.view(3)]
            return [self.draft.view(3), self.current.view(5)]
        if state == 2:
            return [(self.current or self.row).view(2, self.editor)]
        return [self.row.view(state)]

    def current_row(self) -> dict[str, Any] | None:
        # The row of /records that carries the applied values: state 0, or its
        # 5 snapshot while an update is pending, or the 2 row while deleting.
        if self.current is None:
            return None
        state = self.state
        if state == 2:
            return self.current.view(2, self.editor)
        return self.current.view(5 if state == 3 else 0)

    def diff(self) -> dict[str, Any] | None:
        state = self.state
        if state == 0:
            return None
        pair: dict[str, Any] = {"new": self.edit_rows()[0]}
        if state == 3:
            assert self.current is not None
            pair["old"] = self.current.view(5)
        elif state == 2 and self.current is not None:
            pair["old"] = self.current.view(0)
        return pair

    def revert(self) -> bool:
        """Drop the pending edit; False when the whole record goes away."""
        self.draft = None
        self.deleting = False
        self.editor = None
        return self.current is not None


class Zone:
    def __init__(
        self, spec: ZoneSpec, zone_id: str, index: int, nameservers: Sequence[str]
    ) -> None:
        self.name = fqdn(spec.name)
        self.id = zone_id
        self.service_code = spec.service_code
        self.proxy_enabled = spec.proxy_enabled
        self.state = spec.state
        self.common_config_id = index + 1
        self.serial = 1
        self.entries: dict[str, Entry] = {}
        self.versions: list[tuple[float, Snapshot]] = []
        self.histories: list[dict[str, Any]] = []
        self.applies = 0
        self.nameservers = list(nameservers)
        have = {(fqdn(r.name), r.rrtype.upper()) for r in spec.records}
        if (self.name, "SOA") not in have:
            self.soa_id = new_record_id()
            self.entries[self.soa_id] = Entry(
                current=Row(self.soa_id, self.name, "SOA", DEFAULT_TTL, [self.soa_text()])
            )
        if (self.name, "NS") not in have:
            ns_id = new_record_id()
            self.entries[ns_id] = Entry(
                current=Row(ns_id, self.name, "NS", DEFAULT_TTL, list(self.nameservers))
            )
        for rec in spec.records:
            for value in rec.values:
                try:
                    check_value(rec.rrtype.upper(), value, self.name)
                except ApiError:
                    raise ValueError(
                        f"zone {self.name}: bad {rec.rrtype} value {value!r} for {rec.name}"
                    ) from None
            rid = new_record_id()
            self.entries[rid] = Entry(
                current=Row(
                    rid,
                    fqdn(rec.name),
                    rec.rrtype.upper(),
                    rec.ttl,
                    list(rec.values),
                    rec.description,
                )
            )
            if rec.rrtype.upper() == "SOA" and fqdn(rec.name) == self.name:
                self.soa_id = rid
                # Applies count up from a configured serial, never back to 1.
                self.serial = int(rec.values[0].split()[2])

    def soa_text(self) -> str:
        return f"{self.nameservers[0]} hostmaster.{self.name} {self.serial} 3600 900 1814400 300"

    def bump_serial(self) -> None:
        self.serial += 1
        soa = self.entries[self.soa_id].current
        assert soa is not None
        parts = soa.values[0].split()
        if len(parts) == 7:
            parts[2] = str(self.serial)
            soa.values = [" ".join(parts)]

    def snapshot(self) -> Snapshot:
        records = [
            (
                e.current.name,
                e.current.rrtype,
                DEFAULT_TTL if e.current.ttl is None else e.current.ttl,
                e.current.values,
            )
            for e in self.entries.values()
            if e.current is not None
        ]
        return Snapshot(self.name, self.serial, records)

    @property
    def published(self) -> bool:
        return self.state == 2

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "common_config_id": self.common_config_id,
            "service_code": self.service_code,
            "state": self.state,
            "favorite": 1,
            "name": self.name,
            "network": None,
            "description": "",
            "zone_proxy_enabled": 1 if self.proxy_enabled else 0,
        }

    def is_apex_ns(self, row: Row) -> bool:
        return row.rrtype == "NS" and row.name == self.name


class JobFailure(Exception):
    def __init__(self, error_type: str = FAILED_TYPE, error_message: str = FAILED_MESSAGE) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message


@dataclass
class Job:
    id: str
    kind: str
    zone_name: str
    operator: str
    created: float
    due: float
    seq: int
    effect: Callable[[Job], str]
    fault: JobFaultRule | None = None
    record_id: str | None = None
    status: str = "RUNNING"
    resources_url: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    completed: float | None = None
    zone_id: str = ""

    def api_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"request_id": self.id, "status": self.status}
        if self.status == "SUCCESSFUL":
            view["resources_url"] = self.resources_url
        elif self.status == "FAILED":
            view["error_type"] = self.error_type
            view["error_message"] = self.error_message
        return view


@dataclass(frozen=True)
class JobView:
    """A job as the emulator's helpers report it (not an API body)."""

    id: str
    kind: str
    status: str
    zone: str
    operator: str
    created: float
    completed: float | None
    resources_url: str | None
    error_type: str | None
    error_message: str | None
    record_id: str | None
    zone_id: str = ""  # tells apart zones that share a name

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class State:
    def __init__(
        self,
        config: EmulatorConfig,
        faults: FaultSet | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        config.validate()
        self.config = config
        self.faults = faults or FaultSet()
        self.api_url = "http://127.0.0.1/dpf/v1"  # replaced once the HTTP port is known
        self.job_seconds = config.job_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._max_lag = max((ns.lag for ns in config.nameservers), default=0.0)
        hostnames = [fqdn(ns.hostname) for ns in config.nameservers]
        nameservers = list(dict.fromkeys(hostnames))
        # A list, not a map by name: two DPM contracts may hold zones of the
        # same name, and everything the API does is keyed by zone id.
        self._zones: list[Zone] = []
        # zone_ids gives one id per zone.
        for index, (spec, zone_id) in enumerate(zip(config.zones, zone_ids(config.zones))):
            zone = Zone(spec, zone_id, index, nameservers)
            zone.versions.append((-math.inf, zone.snapshot()))
            self._zones.append(zone)
        self._zones_by_id = {z.id: z for z in self._zones}
        self._tokens = {t.token: t for t in config.tokens}
        self._jobs: dict[str, Job] = {}
        self._running: list[Job] = []

    # -- time and jobs ---------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def _advance(self) -> None:
        now = self._clock()
        while True:
            due = [job for job in self._running if job.due <= now]
            if not due:
                return
            job = min(due, key=lambda j: (j.due, j.seq))
            self._running.remove(job)
            self._complete(job)

    def _complete(self, job: Job) -> None:
        job.completed = job.due
        if job.fault is not None and job.fault.action == "fail":
            job.status = "FAILED"
            job.error_type = job.fault.error_type
            job.error_message = job.fault.error_message
            return
        try:
            job.resources_url = job.effect(job)
        except JobFailure as failure:
            job.status = "FAILED"
            job.error_type = failure.error_type
            job.error_message = failure.error_message
        else:
            job.status = "SUCCESSFUL"

    def _new_job(
        self,
        kind: str,
        zone: Zone,
        caller: TokenSpec,
        effect: Callable[[Job], str],
        record_id: str | None = None,
    ) -> Job:
        now = self._clock()
        fault = self.faults.for_job(kind)
        due = math.inf if fault is not None and fault.action == "stuck" else now + self.job_seconds
        job = Job(
            new_request_id(),
            kind,
            zone.name,
            caller.operator,
            now,
            due,
            next(self._seq),
            effect,
            fault,
            record_id,
            zone_id=zone.id,
        )
        self._jobs[job.id] = job
        self._running.append(job)
        return job

    def set_job_seconds(self, seconds: float) -> None:
        """Applies to jobs accepted from now on."""
        with self._lock:
            self.job_seconds = seconds

    def idle(self) -> bool:
        """True when no job that will ever finish is still RUNNING."""
        with self._lock:
            self._advance()
            return all(job.due == math.inf for job in self._running)

    # -- authentication and lookups --------------------------------------

    def authenticate(self, token: str | None, write: bool) -> TokenSpec:
        spec = self._tokens.get(token or "")
        if spec is None:
            raise bad_token()
        if write and "dpf_write" not in spec.scopes:
            raise bad_token()
        if not write and not {"dpf_read", "dpf_write"} & set(spec.scopes):
            raise bad_token()
        return spec

    @staticmethod
    def _sees(caller: TokenSpec, zone: Zone) -> bool:
        if caller.zones is None:
            return True
        return zone.id in caller.zones or zone.name in {fqdn(z) for z in caller.zones}

    def _zone(self, caller: TokenSpec, zone_id: str) -> Zone:
        zone = self._zones_by_id.get(zone_id)
        if zone is None or not self._sees(caller, zone):
            raise param_error("not_found", "zone")
        return zone

    def _writable_zone(self, caller: TokenSpec, zone_id: str) -> Zone:
        zone = self._zone(caller, zone_id)
        if zone.proxy_enabled:
            raise param_error("forbidden", "zone")
        return zone

    @staticmethod
    def _entry(zone: Zone, record_id: str) -> Entry:
        entry = zone.entries.get(record_id)
        if entry is None:
            raise param_error("not_found", "record")
        return entry

    def _zone_by_name(self, zone_name: str) -> Zone:
        # Helpers take a zone id too, which is how a test reaches the second
        # of two zones sharing a name; a bare name means the first one.
        zone = self._zones_by_id.get(zone_name)
        if zone is not None:
            return zone
        name = fqdn(zone_name)
        for zone in self._zones:
            if zone.name == name:
                return zone
        raise KeyError(f"no zone {zone_name!r}")

    def _record_url(self, zone: Zone, record_id: str) -> str:
        return f"{self.api_url}/zones/{zone.id}/records/{record_id}"

    def _zone_url(self, zone: Zone) -> str:
        return f"{self.api_url}/zones/{zone.id}"

    # -- reads ------------------------------------------------------------

    def zones(self, caller: TokenSpec) -> list[dict[str, Any]]:
        with self._lock:
            return [z.view() for z in self._zones if self._sees(caller, z)]

    def zone(self, caller: TokenSpec, zone_id: str) -> dict[str, Any]:
        with self._lock:
            return self._zone(caller, zone_id).view()

    def zone_proxy(self, caller: TokenSpec, zone_id: str) -> dict[str, Any]:
        with self._lock:
            return {"enabled": 1 if self._zone(caller, zone_id).proxy_enabled else 0}

    def managed_dns_servers(self, caller: TokenSpec, zone_id: str) -> list[str]:
        with self._lock:
            return list(self._zone(caller, zone_id).nameservers)

    def records(self, caller: TokenSpec, zone_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return self._edit_rows(self._zone(caller, zone_id))

    def currents(self, caller: TokenSpec, zone_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return self._current_rows(self._zone(caller, zone_id))

    def diffs(self, caller: TokenSpec, zone_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return self._diff_rows(self._zone(caller, zone_id))

    def record(self, caller: TokenSpec, zone_id: str, record_id: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return self._entry(self._zone(caller, zone_id), record_id).edit_rows()[0]

    def default_ttl(self, caller: TokenSpec, zone_id: str) -> dict[str, Any]:
        with self._lock:
            self._zone(caller, zone_id)
            return {"value": DEFAULT_TTL, "state": 0, "operator": None}

    def histories(self, caller: TokenSpec, zone_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            zone = self._zone(caller, zone_id)
            return [dict(h) for h in zone.histories]

    def job(self, caller: TokenSpec, request_id: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            job = self._jobs.get(request_id)
            if job is None:
                raise param_error("not_found", "request_id")
            return job.api_view()

    def _edit_rows(self, zone: Zone) -> list[dict[str, Any]]:
        before = not self.config.hide_before_update_rows
        return [row for e in zone.entries.values() for row in e.edit_rows(before)]

    @staticmethod
    def _current_rows(zone: Zone) -> list[dict[str, Any]]:
        rows = (e.current_row() for e in zone.entries.values())
        return [row for row in rows if row is not None]

    @staticmethod
    def _diff_rows(zone: Zone) -> list[dict[str, Any]]:
        pairs = (e.diff() for e in zone.entries.values())
        return [pair for pair in pairs if pair is not None]

    # -- record writes ------------------------------------------------------

    @staticmethod
    def _check_conflicts(zone: Zone, name: str, rrtype: str) -> None:
        for entry in zone.entries.values():
            if entry.deleting:
                continue
            row = entry.row
            if row.name != name:
                continue
            if row.rrtype == rrtype:
                raise param_error("duplicated", "record")
            if "CNAME" in (row.rrtype, rrtype):
                raise param_error("cname_and_other_mixed", "name")

    @staticmethod
    def _check_owner(entry: Entry, caller: TokenSpec) -> None:
        # Another user's pending edit locks the record; the same user (same
        # operator, possibly another token) may keep editing it.
        if entry.pending and entry.editor != caller.operator:
            raise param_error("forbidden", "record")

    def post_record(self, caller: TokenSpec, zone_id: str, body: Any) -> Job:
        with self._lock:
            self._advance()
            zone = self._writable_zone(caller, zone_id)
            fields = check_object(body, POST_FIELDS)
            if not {"name", "rrtype", "rdata"} <= set(fields):
                raise param_error("invalid", "schema")
            name = normalize_name(fields["name"])
            if not in_zone(name, zone.name):
                raise param_error("invalid", "name")
            rrtype = check_rrtype(fields["rrtype"])
            ttl = check_ttl(fields.get("ttl"))
            values = check_rdata(rrtype, fields["rdata"], zone.name)
            description = check_description(fields.get("description", ""))
            labels = check_labels(fields.get("labels", {}))
            self._check_conflicts(zone, name, rrtype)
            row = Row(
                new_record_id(), name, rrtype, ttl, values, description, caller.operator, labels
            )

            def effect(job: Job) -> str:
                zone.entries[row.id] = Entry(draft=row, editor=caller.operator)
                return self._record_url(zone, row.id)

            return self._new_job("record_post", zone, caller, effect, row.id)

    def patch_record(self, caller: TokenSpec, zone_id: str, record_id: str, body: Any) -> Job:
        with self._lock:
            self._advance()
            zone = self._writable_zone(caller, zone_id)
            entry = self._entry(zone, record_id)
            fields = check_object(body, PATCH_FIELDS)
            if not fields:
                raise param_error("invalid", "schema")
            self._check_owner(entry, caller)
            if entry.deleting or entry.row.rrtype == "SOA":
                raise param_error("forbidden", "record")
            if entry.state == 1 and self.config.patch_pending_add == "forbidden":
                raise param_error("forbidden", "record")
            changes: dict[str, Any] = {}
            if "ttl" in fields:
                changes["ttl"] = check_ttl(fields["ttl"])
            if "rdata" in fields:
                changes["values"] = check_rdata(entry.row.rrtype, fields["rdata"], zone.name)
            if "description" in fields:
                changes["description"] = check_description(fields["description"])
            if "labels" in fields:
                changes["labels"] = check_labels(fields["labels"])

            def effect(job: Job) -> str:
                current = _still_editable(zone, record_id, caller)
                current.draft = replace(current.row, operator=caller.operator, **changes)
                current.editor = caller.operator
                return self._record_url(zone, record_id)

            return self._new_job("record_patch", zone, caller, effect, record_id)

    def delete_record(self, caller: TokenSpec, zone_id: str, record_id: str) -> Job:
        with self._lock:
            self._advance()
            zone = self._writable_zone(caller, zone_id)
            entry = self._entry(zone, record_id)
            if entry.row.rrtype == "SOA":
                raise param_error("soa_not_found", "record")
            if zone.is_apex_ns(entry.row):
                raise param_error("apex_ns_not_found", "record")
            self._check_owner(entry, caller)
            if entry.deleting:
                raise param_error("forbidden", "record")
            cancel = False
            if entry.state == 1:
                mode = self.config.delete_pending_add
                if mode == "forbidden":
                    raise param_error("forbidden", "record")
                cancel = mode == "cancel"
            refuse_update = self.config.delete_pending_update == "forbidden"
            if entry.state == 3 and refuse_update:
                raise param_error("forbidden", "record")

            def effect(job: Job) -> str:
                current = _still_editable(zone, record_id, caller)
                if current.state == 3 and refuse_update:
                    # An update of the same user accepted just before this
                    # DELETE completed first: the DELETE meets a state-3 row.
                    raise JobFailure()
                if cancel:
                    del zone.entries[record_id]
                else:
                    if current.current is not None:
                        # Deleting drops a pending update: what goes away is
                        # the applied RRset.
                        current.draft = None
                    current.deleting = True
                    current.editor = caller.operator
                return self._record_url(zone, record_id)

            return self._new_job("record_delete", zone, caller, effect, record_id)

    def cancel_record(self, caller: TokenSpec, zone_id: str, record_id: str) -> Job:
        with self._lock:
            self._advance()
            zone = self._writable_zone(caller, zone_id)
            entry = self._entry(zone, record_id)
            if not entry.pending:
                raise param_error("forbidden", "record")
            self._check_owner(entry, caller)

            def effect(job: Job) -> str:
                current = zone.entries.get(record_id)
                if current is None or not current.pending or current.editor != caller.operator:
                    raise JobFailure()
                if not current.revert():
                    del zone.entries[record_id]
                return self._record_url(zone, record_id)

            return self._new_job("record_cancel", zone, caller, effect, record_id)

    # -- zone-wide changes ----------------------------------------------------

    def _in_scope(self, entry: Entry, caller: TokenSpec) -> bool:
        if not entry.pending:
            return False
        return self.config.apply_scope == "all" or entry.editor == caller.operator

    def apply(self, caller: TokenSpec, zone_id: str, body: Any) -> Job:
        with self._lock:
            self._advance()
            zone = self._writable_zone(caller, zone_id)
            fields = check_object(body, frozenset({"description"}))
            description = check_description(fields.get("description", ""))
            if self.config.empty_apply == "error" and not any(
                self._in_scope(e, caller) for e in zone.entries.values()
            ):
                raise param_error(*EMPTY_APPLY_ERROR)

            def effect(job: Job) -> str:
                todo = [rid for rid, e in zone.entries.items() if self._in_scope(e, caller)]
                if not todo and self.config.empty_apply == "job_failed":
                    raise JobFailure(FAILED_TYPE, "There are no changes to apply")
                for rid in todo:
                    entry = zone.entries[rid]
                    if entry.deleting:
                        del zone.entries[rid]
                        continue
                    assert entry.draft is not None
                    entry.current = entry.draft
                    entry.draft = None
                    entry.editor = None
                if todo:
                    zone.bump_serial()
                    self._publish(zone, job.due)
                zone.applies += 1
                committed = self._wall_clock() - (self._clock() - job.due)
                zone.histories.append(
                    {
                        "id": len(zone.histories) + 1,
                        "committed_at": datetime.fromtimestamp(committed, timezone.utc).strftime(
                            "%Y-%m-%dT%H:%M:%S.%fZ"
                        ),
                        "description": description,
                        "operator": caller.operator,
                    }
                )
                return self._zone_url(zone)

            return self._new_job("apply", zone, caller, effect)

    def discard(self, caller: TokenSpec, zone_id: str) -> Job:
        with self._lock:
            self._advance()
            zone = self._writable_zone(caller, zone_id)

            def effect(job: Job) -> str:
                for rid in [r for r, e in zone.entries.items() if self._in_scope(e, caller)]:
                    if not zone.entries[rid].revert():
                        del zone.entries[rid]
                return self._zone_url(zone)

            return self._new_job("discard", zone, caller, effect)

    def _publish(self, zone: Zone, at: float) -> None:
        zone.versions.append((at, zone.snapshot()))
        cutoff = self._clock() - self._max_lag
        keep = 0
        for index, (published, _) in enumerate(zone.versions):
            if published <= cutoff:
                keep = index
        del zone.versions[:keep]

    # -- views for DNS and for the emulator's helpers ---------------------

    def snapshots(self, lag: float) -> list[Snapshot]:
        """The version of every zone that a server with this lag serves now."""
        with self._lock:
            self._advance()
            cutoff = self._clock() - lag
            out = []
            names: set[str] = set()
            for zone in self._zones:
                # An unpublished zone is on no server, so its names get
                # REFUSED; of zones sharing a name the servers carry the first.
                if not zone.published or zone.name in names:
                    continue
                names.add(zone.name)
                chosen = zone.versions[0][1]
                for published, snap in zone.versions:
                    if published <= cutoff:
                        chosen = snap
                out.append(chosen)
            return out

    def zone_id(self, zone_name: str) -> str:
        return self._zone_by_name(zone_name).id

    def records_of(self, zone_name: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return self._edit_rows(self._zone_by_name(zone_name))

    def currents_of(self, zone_name: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return self._current_rows(self._zone_by_name(zone_name))

    def diffs_of(self, zone_name: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return self._diff_rows(self._zone_by_name(zone_name))

    def applies(self, zone_name: str | None = None) -> int:
        with self._lock:
            self._advance()
            if zone_name is not None:
                return self._zone_by_name(zone_name).applies
            return sum(z.applies for z in self._zones)

    def jobs(self) -> list[JobView]:
        with self._lock:
            self._advance()
            return [
                JobView(
                    j.id,
                    j.kind,
                    j.status,
                    j.zone_name,
                    j.operator,
                    j.created,
                    j.completed,
                    j.resources_url,
                    j.error_type,
                    j.error_message,
                    j.record_id,
                    j.zone_id,
                )
                for j in self._jobs.values()
            ]

    def job_view(self, job_id: str) -> JobView:
        for view in self.jobs():
            if view.id == job_id:
                return view
        raise KeyError(job_id)

    def summary(self) -> dict[str, Any]:
        """Everything the control endpoint ``GET /_emulator/state`` shows."""
        with self._lock:
            self._advance()
            zones: list[dict[str, Any]] = []
            for zone in self._zones:
                by_state: dict[str, list[dict[str, Any]]] = {}
                for row in self._edit_rows(zone):
                    by_state.setdefault(str(row["state"]), []).append(row)
                zones.append(
                    {
                        **zone.view(),
                        "serial": zone.serial,
                        "applies": zone.applies,
                        "rows": by_state,
                        "currents": self._current_rows(zone),
                        "histories": list(zone.histories),
                    }
                )
            return {
                "zones": zones,
                "applies": sum(z.applies for z in self._zones),
                "jobs": [view.as_dict() for view in self.jobs()],
                "job_seconds": self.job_seconds,
            }


def _still_editable(zone: Zone, record_id: str, caller: TokenSpec) -> Entry:
    """The record a job is about to change, unless a conflicting edit landed meanwhile.

    Checks run again at completion because a job accepted earlier may have
    deleted the record, or another user may have staged an edit on it.
    """
    current = zone.entries.get(record_id)
    if (
        current is None
        or current.deleting
        or (current.pending and current.editor != caller.operator)
    ):
        raise JobFailure()
    return current
