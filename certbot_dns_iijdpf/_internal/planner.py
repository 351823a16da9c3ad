"""The record planner: what a zone holds at our names, and the edits that add or remove our values.

DPF keeps one record per RRset (name + type) and stages every edit.  The edit
view (``GET /zones/{id}/records``) shows each record with a ``state``:

====  ===================================================
0     applied, nothing pending
1     to be added (never applied)
2     to be deleted (the row still shows the values DNS serves)
3     to be updated (the row shows the new values)
5     "before update" snapshot of a state-3 record (not always listed)
====  ===================================================

Whether DPF lists state-5 rows for TXT records, and whether it lets a
never-applied row be PATCHed or DELETEd, is not documented.  So the planner
takes what DNS serves from ``/records/currents`` (the zone editor reads it
whenever a state-3 row is in play) and plans only edits whose effect does not
depend on those answers:

- POST where no RRset is staged or live (a row being deleted does not count);
- PATCH and DELETE of applied rows, PATCH of rows with a pending update;
- PATCH of a never-applied row that must change; where DPF refuses that,
  the caller asks for a rewrite instead: cancel (``DELETE .../changes``),
  after which the next round POSTs it anew with every value it held
  (``carry``) and every value it should hold;
- cancel of a never-applied row that must lose all its values;
- cancel of a pending update that must lose all its values, or whose
  remaining values are exactly what DNS serves.

A DELETE of a row with a pending edit is never planned: what DPF does with
one is not documented.

Every value that is not ours is kept as DPF stored it, exactly as
certbot-dns-rfc2136 adds and deletes only its own value.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from certbot_dns_iijdpf._internal import txt
from certbot_dns_iijdpf._internal.zones import canonical

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
            operator=str(operator) if operator else None,
        )

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES


@dataclass(frozen=True)
class ZoneSnapshot:
    """One read of a zone: its edit view, plus what DNS serves where that matters.

    ``live`` maps (name, rrtype) to the values DNS serves, for the RRsets whose
    applied values the edit view alone cannot show (those with a pending
    update); for every other RRset the edit view already shows them.
    """

    rows: tuple[Row, ...]
    live: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def applied(self, name: str, rrtype: str) -> tuple[str, ...] | None:
        """The values DNS serves at ``name`` (None: no such RRset is live)."""
        key = (name, rrtype)
        if key in self.live:
            return self.live[key]
        for row in self.rows:
            if row.name == name and row.rrtype == rrtype and row.state in (APPLIED, DELETING):
                return row.values
        return None

    def at(self, name: str, rrtype: str) -> list[Row]:
        return [r for r in self.rows if r.name == name and r.rrtype == rrtype]


class EditKind(enum.Enum):
    POST = "create"
    PATCH = "update"
    DELETE = "delete"
    CANCEL = "cancel the pending edit of"


@dataclass(frozen=True)
class Edit:
    """One staged write: POST, PATCH (whole rdata), DELETE, or cancel of a pending edit."""

    kind: EditKind
    name: str
    record_id: str | None = None
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.kind.value} TXT {self.name.rstrip('.')}"


@dataclass(frozen=True)
class RRsetView:
    """The TXT RRset at one name, with its pending edit folded in.

    ``effective`` is what the name will hold after the next apply; ``applied``
    is what DNS serves now (None when nothing is live).  ``duplicates`` are
    further records at the same name that racing POSTs can leave behind.
    """

    name: str
    record_id: str | None = None
    state: int | None = None
    effective: tuple[str, ...] = ()
    applied: tuple[str, ...] | None = None
    operator: str | None = None
    duplicates: tuple[Row, ...] = ()


def txt_view(snapshot: ZoneSnapshot, name: str) -> RRsetView:
    """Fold the TXT rows at ``name`` into one view."""
    rows = [r for r in snapshot.at(name, "TXT") if r.state != BEFORE_UPDATE]
    applied = snapshot.applied(name, "TXT")
    # A row being deleted stays listed while a new RRset is staged at the same
    # name; the staged one is what the next apply leaves.  Racing POSTs from
    # two hosts can leave two state-1 rows: ordering by id makes every host
    # keep the same one.
    rows.sort(key=lambda r: ({ADDING: 0, UPDATING: 1, APPLIED: 2, DELETING: 3}[r.state], r.id))
    if not rows:
        return RRsetView(name, applied=applied)
    main, rest = rows[0], rows[1:]
    duplicates = tuple(r for r in rest if r.state != DELETING)
    effective = () if main.state == DELETING else main.values
    return RRsetView(name, main.id, main.state, effective, applied, main.operator, duplicates)


def plan(
    view: RRsetView,
    ours: Set[str],
    drop: Set[str] = frozenset(),
    *,
    carry: Iterable[str] = (),
    rewrite_adding: bool = False,
) -> list[Edit]:
    """Edits that make ``view`` hold every value of ``ours`` and none of ``drop``.

    Values are compared decoded (``txt.decode``).  To publish, ``ours`` is
    the order's values and ``drop`` the leftovers of earlier runs; to
    withdraw, ``ours`` is empty and ``drop`` holds every value to remove.
    ``carry`` are rdata values (as DPF stored them) of a never-applied row
    that was cancelled to be rewritten: they stay in what is POSTed anew.
    ``rewrite_adding`` cancels a never-applied row that must change instead
    of PATCHing it, for when DPF refused the PATCH.
    """
    drop = set(drop) - set(ours)
    keep = [v for v in view.effective if txt.decode(v) not in drop]
    present = {txt.decode(v) for v in keep}
    for value in carry:
        if txt.decode(value) not in present | drop:
            keep.append(value)
            present.add(txt.decode(value))
    target = tuple(keep) + tuple(txt.quote(v) for v in sorted(set(ours) - present))
    edits = _retire_duplicates(view, drop | set(ours))
    if view.state is None or view.state == DELETING:
        if target:
            edits.append(Edit(EditKind.POST, view.name, None, target))
        return edits
    assert view.record_id is not None
    if _same(target, view.effective):
        return edits
    if view.state == APPLIED:
        kind = EditKind.PATCH if target else EditKind.DELETE
        edits.append(Edit(kind, view.name, view.record_id, target))
    elif view.state == ADDING:
        # Whether DPF lets a never-applied row be PATCHed is not documented:
        # try it (one write), and rewrite it (cancel, then POST) if refused.
        # A cancel always works, so a row that must lose every value goes so.
        if target and not rewrite_adding:
            edits.append(Edit(EditKind.PATCH, view.name, view.record_id, target))
        else:
            edits.append(Edit(EditKind.CANCEL, view.name, view.record_id))
    elif not target or (view.applied is not None and _same(target, view.applied)):
        # Cancelling restores exactly what DNS serves (ttl and description
        # included); an RRset left with no value is then deleted next round.
        edits.append(Edit(EditKind.CANCEL, view.name, view.record_id))
    else:
        edits.append(Edit(EditKind.PATCH, view.name, view.record_id, target))
    return edits


def _retire_duplicates(view: RRsetView, ours: Set[str]) -> list[Edit]:
    """Retire extra RRsets at the name that hold nothing but our values.

    Two racing POSTs can both be accepted; the extra row that only carries
    our values goes, so that one RRset remains.  An extra row that also holds
    other values is left to its owner.
    """
    edits: list[Edit] = []
    for row in view.duplicates:
        if row.values and all(txt.decode(v) in ours for v in row.values):
            kind = EditKind.DELETE if row.state == APPLIED else EditKind.CANCEL
            edits.append(Edit(kind, view.name, row.id))
    return edits


def _same(a: Iterable[str], b: Iterable[str]) -> bool:
    return sorted(txt.decode(v) for v in a) == sorted(txt.decode(v) for v in b)


def holds(snapshot: ZoneSnapshot, name: str, value: str) -> bool:
    """Whether ``value`` is staged or live anywhere at ``name`` (any state)."""
    values = [v for r in snapshot.at(name, "TXT") for v in r.values]
    values += snapshot.applied(name, "TXT") or ()
    return any(txt.decode(v) == value for v in values)


def is_challenge_edit(snapshot: ZoneSnapshot, row: Row, our_names: Set[str]) -> bool:
    """Whether a pending row only adds or removes DNS-01 challenge values.

    That is what this plugin (on another host, or an earlier interrupted run)
    and every other ACME client stage: a TXT RRset at one of our names or at
    an ``_acme-challenge`` name, whose change is made of 43-character ACME
    values only.  Anything else (an A record, an SPF value, a TTL change) is
    somebody's work in progress.
    """
    if row.rrtype != "TXT" or not (row.name in our_names or row.name.startswith(CHALLENGE_LABEL)):
        return False
    before = snapshot.applied(row.name, "TXT") or ()
    if row.state == DELETING:
        changed = set(row.values)
    elif row.state == UPDATING:
        changed = set(row.values) ^ set(before)
    else:
        changed = set(row.values)
    return all(txt.is_acme_value(v) for v in changed)


def pending_rows(snapshot: ZoneSnapshot) -> list[Row]:
    return [r for r in snapshot.rows if r.pending]


def describe_rows(rows: Iterable[Row], limit: int = 10) -> str:
    """A short list of rows for an error message: ``name TYPE (state, by operator)``."""
    names = {ADDING: "to be added", DELETING: "to be deleted", UPDATING: "to be updated"}
    rows = list(rows)
    text = ", ".join(
        f"{r.name.rstrip('.')} {r.rrtype} ({names.get(r.state, r.state)}"
        + (f", by {r.operator})" if r.operator else ")")
        for r in rows[:limit]
    )
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
