"""Publishing and withdrawing a whole order's challenge values, zone by zone.

This is the route53-style flow: every TXT edit of the order is staged first
(the writes of all zones sent, then their jobs awaited together), each zone is
re-read to verify the edits (and repaired if a concurrent client overwrote
them), each zone is applied once, and only then does the plugin wait for
DPF's nameservers.  Withdrawal is the same in reverse and also removes values
that an earlier, interrupted run of this host left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass

from certbot_dns_iijdpf.client import DpfClient
from certbot_dns_iijdpf.cname import follow
from certbot_dns_iijdpf.errors import DpfError, DpfJobError, PendingEditsError, ZoneNotFoundError
from certbot_dns_iijdpf.jobs import JobWaiter
from certbot_dns_iijdpf.journal import Entry, Journal
from certbot_dns_iijdpf.propagation import PropagationWaiter, ZoneExpectation
from certbot_dns_iijdpf.rrsets import (
    APPLIED,
    BEFORE_UPDATE,
    Edit,
    Row,
    RRsetView,
    plan_add,
    plan_remove,
    txt_views,
)
from certbot_dns_iijdpf.zone_editor import ZoneEditor
from certbot_dns_iijdpf.zones import Zone, ZoneDirectory, canonical

logger = logging.getLogger(__name__)

# Each round re-reads the zone; more than a few rounds means another client
# keeps rewriting the same RRsets, and giving up is better than fighting it.
MAX_ROUNDS = 5

Planner = Callable[[RRsetView, Set[str], Set[str]], list[Edit]]
Wanted = dict[str, set[str]]


@dataclass(frozen=True)
class Challenge:
    """One DNS-01 challenge: the TXT value to serve at ``name``."""

    name: str
    value: str


class ChallengePublisher:
    """Stages, applies and withdraws challenge TXT values through one DPF client."""

    def __init__(
        self,
        client: DpfClient,
        *,
        ttl: int,
        zones: ZoneDirectory,
        jobs: JobWaiter,
        propagation: PropagationWaiter,
        journal: Journal,
        publish_pending: bool = False,
        follow_cname: Callable[[str], str] = follow,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._zones = zones
        self._jobs = jobs
        self._propagation = propagation
        self._journal = journal
        self._publish_pending = publish_pending
        # Values journaled before this run are leftovers of an interrupted run.
        self._stale = journal.entries(client.endpoint)
        self._editors: dict[str, ZoneEditor] = {}
        self._follow = follow_cname
        # Jobs being waited for; an interrupted wait (Ctrl-C, SIGTERM) leaves
        # them here so that cleanup lets them land before reading the zone.
        self._in_flight: list[tuple[str, str]] = []
        self._targets: dict[str, str] = {}

    def publish(self, challenges: Iterable[Challenge]) -> None:
        """Make DPF's nameservers serve every challenge value."""
        groups = self._group(challenges)
        for zone in groups:
            if zone.proxy_enabled:
                raise DpfError(
                    f"Zone {zone.name.rstrip('.')} has zone proxy enabled, which makes its "
                    "records read-only in DPF; the challenge records cannot be created there."
                )
        self._journal.add(self._entries(groups))
        rows = self._converge_and_apply(groups, plan_add)
        self._propagation.wait(
            ZoneExpectation(zone.name, _nameservers(rows[zone], zone), wanted)
            for zone, wanted in groups.items()
        )

    def withdraw(self, challenges: Iterable[Challenge]) -> None:
        """Remove our values (and this host's leftovers) and apply; never touch others'."""
        if self._in_flight:
            try:
                self._wait(list(self._in_flight))
            except DpfError as exc:
                logger.debug("An interrupted job ended badly: %s", exc)
        groups = self._group(challenges, skip_unknown=True)
        for entry in self._stale:
            zone = self._zone_named(entry.zone)
            if zone is not None:
                groups.setdefault(zone, {})
        if not groups:
            return
        try:
            self._converge_and_apply(groups, plan_remove)
        except PendingEditsError as exc:
            raise DpfError(
                f"{exc} The removal of the challenge values is staged and will be published "
                "with the zone's next apply; the next run of this plugin also retries it."
            ) from exc
        done = {z.name for z in groups}
        self._journal.discard(
            e for e in self._journal.entries(self._client.endpoint) if e.zone in done
        )

    # -- steps ---------------------------------------------------------------

    def _group(
        self, challenges: Iterable[Challenge], skip_unknown: bool = False
    ) -> dict[Zone, Wanted]:
        groups: dict[Zone, Wanted] = {}
        for challenge in challenges:
            name = self._target(challenge.name)
            try:
                zone = self._zones.zone_for(name)
            except ZoneNotFoundError as exc:
                if not skip_unknown:
                    if name != canonical(challenge.name):
                        raise ZoneNotFoundError(
                            f"{challenge.name.rstrip('.')} is a CNAME to {name.rstrip('.')}, "
                            f"where the challenge record must go. {exc}"
                        ) from None
                    raise
                logger.debug("No zone for %s; nothing to clean up there", name)
                continue
            groups.setdefault(zone, {}).setdefault(name, set()).add(challenge.value)
        return groups

    def _target(self, name: str) -> str:
        name = canonical(name)
        if name not in self._targets:
            self._targets[name] = self._follow(name)
        return self._targets[name]

    def _zone_named(self, name: str) -> Zone | None:
        return next((z for z in self._zones.zones() if z.name == name), None)

    def _entries(self, groups: dict[Zone, Wanted]) -> list[Entry]:
        return [
            Entry(self._client.endpoint, zone.name, name, value)
            for zone, wanted in groups.items()
            for name, values in wanted.items()
            for value in values
        ]

    def _stale_values(self, zone: Zone) -> Wanted:
        stale: Wanted = {}
        for entry in self._stale:
            if entry.zone == zone.name:
                stale.setdefault(entry.name, set()).add(entry.value)
        return stale

    def _editor(self, zone: Zone) -> ZoneEditor:
        if zone.id not in self._editors:
            self._editors[zone.id] = ZoneEditor(self._client, zone, ttl=self._ttl)
        return self._editors[zone.id]

    def _wait(self, jobs: list[tuple[str, str]], poll: list[tuple[str, str]] | None = None) -> None:
        """Wait for ``jobs`` (polling only ``poll`` when given).

        Only an interruption (Ctrl-C, SIGTERM) leaves them in ``_in_flight``;
        a job that ended, even FAILED, needs no waiting in cleanup.
        """
        self._in_flight = jobs
        try:
            self._jobs.wait(jobs if poll is None else poll)
        except DpfError:
            self._in_flight = []
            raise
        self._in_flight = []

    def _converge_and_apply(
        self, groups: dict[Zone, Wanted], planner: Planner
    ) -> dict[Zone, list[Row]]:
        """Stage, verify and apply; then verify once more and repair if needed.

        A PATCH replaces a whole RRset, so a client on another host that read
        the RRset before our write can undo it with its own.  Such a write was
        sent before our last read and has landed once our apply job is done,
        so a read after the apply sees it, and another round repairs it.
        """
        rows = self._read(groups)
        for attempt in range(1, MAX_ROUNDS + 1):
            rows = self._converge(groups, planner, rows)
            self._apply(groups, rows)
            rows = self._read(groups)
            if not self._plans(groups, planner, rows):
                return rows
            logger.info(
                "Another client changed the challenge records (attempt %d); repairing", attempt
            )
        raise DpfError(
            "The challenge records kept changing under concurrent edits after "
            f"{MAX_ROUNDS} attempts; another client is rewriting the same TXT records."
        )

    def _plans(
        self, groups: dict[Zone, Wanted], planner: Planner, rows: dict[Zone, list[Row]]
    ) -> dict[Zone, list[Edit]]:
        plans: dict[Zone, list[Edit]] = {}
        for zone, wanted in groups.items():
            stale = self._stale_values(zone)
            views = txt_views(rows[zone], set(wanted) | set(stale))
            edits = [
                edit
                for name, view in sorted(views.items())
                for edit in planner(view, wanted.get(name, set()), stale.get(name, set()))
            ]
            if edits:
                plans[zone] = edits
        return plans

    def _converge(
        self, groups: dict[Zone, Wanted], planner: Planner, rows: dict[Zone, list[Row]]
    ) -> dict[Zone, list[Row]]:
        """Plan, send and verify edits until every zone needs none."""
        rows = dict(rows)
        failed_before = False
        for _ in range(MAX_ROUNDS):
            plans = self._plans(groups, planner, rows)
            if not plans:
                return rows
            started: list[tuple[str, str]] = []
            refused: DpfError | None = None
            for zone, edits in plans.items():
                jobs, refused = self._editor(zone).submit(edits)
                started.extend(jobs)
                if refused is not None:
                    break
            if refused is not None:
                self._wait(started)
                raise refused
            try:
                # Only the last write's job is polled: the re-read shows
                # whether every edit landed, and only when one did not are the
                # other jobs asked why.  That saves a request for each write.
                self._wait(started, poll=started[-1:])
                rows.update(self._read(plans))
                if started and self._plans(groups, planner, rows):
                    self._wait(started)
                    rows.update(self._read(plans))
            except DpfJobError as exc:
                # A write can fail because another client changed the RRset
                # between our read and the job; re-read and plan again once.
                if failed_before:
                    raise
                logger.info("%s; re-reading the zone and trying again", exc)
                failed_before = True
                rows.update(self._read(plans))
            else:
                failed_before = False
        raise DpfError(
            "The challenge records kept changing under concurrent edits after "
            f"{MAX_ROUNDS} attempts; another client is rewriting the same TXT records."
        )

    def _read(self, zones: Iterable[Zone]) -> dict[Zone, list[Row]]:
        return {zone: self._editor(zone).read() for zone in zones}

    def _apply(self, groups: dict[Zone, Wanted], rows: dict[Zone, list[Row]]) -> list[Zone]:
        """Apply each zone that has something pending; return the zones applied."""
        due: list[Zone] = []
        for zone, wanted in groups.items():
            names = set(wanted) | set(self._stale_values(zone))
            if self._editor(zone).check_pending(rows[zone], names, self._publish_pending):
                due.append(zone)
        self._wait([self._editor(zone).start_apply() for zone in due])
        return due


def _nameservers(rows: list[Row], zone: Zone) -> list[str]:
    """The zone's apex NS host names as DNS serves them now."""
    hosts: list[str] = []
    for row in rows:
        if row.rrtype == "NS" and row.name == zone.name and row.state in (APPLIED, BEFORE_UPDATE):
            hosts.extend(canonical(v) for v in row.values)
    return sorted(set(hosts))
