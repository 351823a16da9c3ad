"""TXT RRsets in a DPF zone's edit view, and the edits that add or remove our values.

DPF keeps one record per RRset (name + type) and stages every edit: the edit
view (``GET /zones/{id}/records``) shows each record with a ``state``:

====  ===================================================
0     applied, nothing pending
1     to be added (never applied)
2     to be deleted
3     to be updated (new values); a state-5 row with the same id holds the old ones
====  ===================================================

This module is pure logic: it reads rows into :class:`RRsetView` objects and
plans the single next :class:`Edit` that moves a name towards "our values are
there" or "our values are gone", always keeping every value that is not ours,
exactly as certbot-dns-rfc2136 adds and deletes only its own value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from certbot_dns_iijdpf import txt
from certbot_dns_iijdpf.zones import canonical

APPLIED = 0
ADDING = 1
DELETING = 2
UPDATING = 3
BEFORE_UPDATE = 5

PENDING_STATES = (ADDING, DELETING, UPDATING)
CHALLENGE_LABEL = "_acme-challenge."


@dataclass(frozen=True)
class Row:
    """One row of a zone's edit view."""

    id: str
    name: str
    rrtype: str
    values: tuple[str, ...]
    state: int
    ttl: int | None = None
    description: str = ""
    operator: str | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Row:
        rdata = item.get("rdata") or []
        values = tuple(str(r.get("value", "")) for r in rdata if isinstance(r, dict))
        state = item.get("state")
        ttl = item.get("ttl")
        operator = item.get("operator")
        return cls(
            id=str(item.get("id", "")),
            name=canonical(str(item.get("name", ""))),
            rrtype=str(item.get("rrtype", "")).upper(),
            values=values,
            state=state if isinstance(state, int) else APPLIED,
            ttl=ttl if isinstance(ttl, int) else None,
            description=str(item.get("description") or ""),
            operator=str(operator) if operator is not None else None,
        )


@dataclass(frozen=True)
class RRsetView:
    """The TXT RRset at one name, with its pending edit folded in.

    ``effective`` is what the name will hold after the next apply; ``applied``
    is what DNS serves now (``None`` when the RRset was never applied).
    """

    name: str
    record_id: str | None = None
    state: int | None = None
    effective: tuple[str, ...] = ()
    applied: tuple[str, ...] | None = None
    duplicates: tuple[Row, ...] = field(default=())


@dataclass(frozen=True)
class Edit:
    """One staged write: POST, PATCH (whole rdata), DELETE or cancel of a pending edit."""

    kind: str
    name: str
    record_id: str | None = None
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        what = {
            "post": "create",
            "patch": "update",
            "delete": "delete",
            "cancel": "cancel the pending edit of",
        }[self.kind]
        return f"{what} TXT {self.name.rstrip('.')}"


def txt_views(rows: Iterable[Row], names: Iterable[str]) -> dict[str, RRsetView]:
    """Fold the TXT rows at each of ``names`` into one view per name."""
    wanted = {canonical(n) for n in names}
    by_name: dict[str, list[Row]] = {n: [] for n in wanted}
    for row in rows:
        if row.rrtype == "TXT" and row.name in by_name:
            by_name[row.name].append(row)
    return {name: _view(name, found) for name, found in by_name.items()}


def _view(name: str, rows: list[Row]) -> RRsetView:
    snapshots = {r.id: r for r in rows if r.state == BEFORE_UPDATE}
    live = [r for r in rows if r.state != BEFORE_UPDATE]
    # After a deletion is staged a new RRset may be added at the same name;
    # the added row is the one the next apply leaves in place.
    # Racing POSTs from two hosts leave two state-1 rows; ordering by id makes
    # every host pick the same one to keep.
    live.sort(
        key=lambda r: ({ADDING: 0, UPDATING: 1, APPLIED: 2, DELETING: 3}.get(r.state, 4), r.id)
    )
    if not live:
        return RRsetView(name)
    main, rest = live[0], live[1:]
    duplicates = tuple(r for r in rest if r.state != DELETING)
    if main.state == DELETING:
        return RRsetView(name, main.id, DELETING, (), main.values, duplicates)
    if main.state == UPDATING:
        snapshot = snapshots.get(main.id)
        applied = snapshot.values if snapshot is not None else None
        return RRsetView(name, main.id, UPDATING, main.values, applied, duplicates)
    applied_values = main.values if main.state == APPLIED else None
    return RRsetView(name, main.id, main.state, main.values, applied_values, duplicates)


def plan_add(view: RRsetView, ours: Set[str], stale: Set[str] = frozenset()) -> list[Edit]:
    """Edits that make ``view`` hold every value in ``ours`` (decoded ACME values).

    ``stale`` values are ours from an earlier, interrupted run: they are
    dropped on the way.  Every other value is kept as DPF stored it.
    """
    keep = [v for v in view.effective if txt.decode(v) not in stale or txt.decode(v) in ours]
    present = {txt.decode(v) for v in keep}
    target = tuple(keep) + tuple(txt.quote(v) for v in sorted(ours - present))
    edits = _retire_duplicates(view, ours | stale)
    if view.state is None or view.state == DELETING:
        if target:
            edits.append(Edit("post", view.name, None, target))
    elif target != view.effective:
        edits.append(Edit("patch", view.name, view.record_id, target))
    return edits


def plan_remove(view: RRsetView, ours: Set[str], stale: Set[str] = frozenset()) -> list[Edit]:
    """Edits that take every value in ``ours`` and ``stale`` out of ``view``."""
    remove = set(ours) | set(stale)
    edits = _retire_duplicates(view, remove)
    target = tuple(v for v in view.effective if txt.decode(v) not in remove)
    if view.state is None or view.state == DELETING or target == view.effective:
        return edits
    assert view.record_id is not None
    if view.applied is not None and view.state != APPLIED and _same(target, view.applied):
        # Withdrawing our part of a pending edit leaves what DNS serves now:
        # cancelling restores it exactly, ttl and description included.
        edits.append(Edit("cancel", view.name, view.record_id))
    elif not target:
        kind = "cancel" if view.state == ADDING else "delete"
        edits.append(Edit(kind, view.name, view.record_id))
    else:
        edits.append(Edit("patch", view.name, view.record_id, target))
    return edits


def _retire_duplicates(view: RRsetView, ours: Set[str]) -> list[Edit]:
    """Retire extra RRsets at the name that hold nothing but our values.

    Two racing POSTs can both be accepted, and an apply may then publish both
    rows; the extra row that only carries our values goes, so that one RRset
    remains.  Extra rows that also hold other values keep them: only our values
    are taken out.
    """
    edits: list[Edit] = []
    for row in view.duplicates:
        rest = tuple(v for v in row.values if txt.decode(v) not in ours)
        if rest == row.values:
            continue
        if rest:
            edits.append(Edit("patch", view.name, row.id, rest))
        else:
            edits.append(Edit("delete" if row.state == APPLIED else "cancel", view.name, row.id))
    return edits


def _same(a: Iterable[str], b: Iterable[str]) -> bool:
    return sorted(txt.decode(v) for v in a) == sorted(txt.decode(v) for v in b)


def pending_rows(rows: Iterable[Row]) -> list[Row]:
    """Rows with a staged edit (the state-5 snapshots are part of their state-3 row)."""
    return [r for r in rows if r.state in PENDING_STATES]


def foreign_pending(rows: Iterable[Row], our_names: Set[str]) -> list[Row]:
    """Pending rows that an apply must not publish on our behalf.

    A pending edit is harmless, and so not foreign, when it only adds or
    removes DNS-01 challenge values in a TXT RRset at one of our names or at
    an ``_acme-challenge`` name: that is what this plugin (on another host, or
    an earlier interrupted run) and every other ACME client stage.  Anything
    else (an A record, an SPF value, a TTL change) is somebody's work in
    progress.
    """
    rows = list(rows)
    snapshots = {r.id: r for r in rows if r.state == BEFORE_UPDATE}
    foreign: list[Row] = []
    for row in pending_rows(rows):
        if row.rrtype != "TXT" or not (
            row.name in our_names or row.name.startswith(CHALLENGE_LABEL)
        ):
            foreign.append(row)
            continue
        if row.state == UPDATING:
            snapshot = snapshots.get(row.id)
            before = snapshot.values if snapshot is not None else ()
            changed = set(row.values) ^ set(before)
            if snapshot is not None and row.ttl != snapshot.ttl:
                foreign.append(row)
                continue
        else:
            changed = set(row.values)
        if not all(txt.is_acme_value(v) for v in changed):
            foreign.append(row)
    return foreign


def describe_rows(rows: Iterable[Row], limit: int = 10) -> str:
    """A short list of rows for an error message: ``name TYPE (state)``."""
    names = {ADDING: "to be added", DELETING: "to be deleted", UPDATING: "to be updated"}
    rows = list(rows)
    text = ", ".join(
        f"{r.name.rstrip('.')} {r.rrtype} ({names.get(r.state, r.state)}"
        + (f", by {r.operator})" if r.operator else ")")
        for r in rows[:limit]
    )
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
