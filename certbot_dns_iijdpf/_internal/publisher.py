"""The publisher: a whole order's challenge values, published and withdrawn zone by zone.

This is the route53-style flow with DPF's staging in the middle.  One loop
does all of it, for every zone of the order at once::

    read every zone
    plan the edits that bring our names to where they must be
    if there are any: send them all, wait for the last job, and read again
    else if a zone holds pending edits at our names: apply it, and read again
    else: done

Each pass of the loop that writes or applies is one round, and a phase has a
fixed number of rounds.  Nothing is decided from what a write was expected
to do: a write that DPF refused because the zone changed, whose job FAILED,
or whose answer was lost (so that it may or may not have happened) is simply
followed by the next read, which shows what really happened.  Only refusals
that no re-read can cure (a token without the write scope, a read-only zone)
end the phase at once.

Before a zone is applied, its pending edits are checked: an apply may publish
everything staged in the zone, so edits somebody else staged stop it.  Only
DNS-01 challenge values staged by the same DPF user (this plugin on another
host, or any other ACME client of that user) are harmless.  Another user's
challenge value is waited for, for a bounded time, as such a draft is
normally applied within seconds by the run that made it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from certbot_dns_iijdpf._internal import txt
from certbot_dns_iijdpf._internal.client import DpfClient
from certbot_dns_iijdpf._internal.cname import follow, lookup_cname
from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import (
    DpfApiError,
    DpfError,
    DpfJobError,
    PendingEditsError,
    WriteOutcomeUnknown,
    ZoneNotFoundError,
)
from certbot_dns_iijdpf._internal.jobs import Job, JobWaiter
from certbot_dns_iijdpf._internal.journal import Entry, Journal
from certbot_dns_iijdpf._internal.planner import (
    ADDING,
    APPLIED,
    BEFORE_UPDATE,
    DELETING,
    Edit,
    EditKind,
    Row,
    ZoneSnapshot,
    describe_rows,
    holds,
    is_challenge_edit,
    pending_rows,
    plan,
    txt_view,
)
from certbot_dns_iijdpf._internal.propagation import PropagationWaiter, ZoneExpectation
from certbot_dns_iijdpf._internal.zone_editor import ZoneEditor
from certbot_dns_iijdpf._internal.zones import Zone, ZoneDirectory, canonical

logger = logging.getLogger(__name__)

# A normal phase takes two rounds (the writes, the apply).  More means that
# answers were lost, jobs failed or another client keeps rewriting the same
# RRsets; past this many, giving up with DPF's last words beats fighting on.
MAX_ROUNDS = 8
# How long another DPF user's challenge draft may hold up our apply, or lock
# a record we must edit, before the run gives up and names it.
LOCK_WAIT_SECONDS = 120.0
LOCK_POLL_SECONDS = 3.0

Wanted = dict[str, set[str]]
Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Challenge:
    """One DNS-01 challenge: the TXT value to serve at ``name``."""

    name: str
    value: str


@dataclass(eq=False)
class _ZoneRun:
    """One zone during one phase: what must be there, and what was seen."""

    zone: Zone
    editor: ZoneEditor
    wanted: Wanted
    drop: Wanted
    snapshot: ZoneSnapshot = field(default_factory=lambda: ZoneSnapshot(()))
    error: DpfError | None = None
    # Records whose last edit DPF refused with forbidden/record.
    refused: dict[str, Edit] = field(default_factory=dict)
    # Values of never-applied rows cancelled to be rewritten, by name: they
    # go into the row POSTed in their place.
    carry: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What each cancel sent for a rewrite will carry once DPF accepts it.
    rewrites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Names this phase sent a write to that DPF accepted (or may have).
    written: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        return set(self.wanted) | set(self.drop)


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
        deadline: Deadline | None = None,
        publish_pending: bool = False,
        follow_cname: bool = True,
        lookup: Lookup = lookup_cname,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._zones = zones
        self._jobs = jobs
        self._propagation = propagation
        self._journal = journal
        self._deadline = deadline or Deadline.unbounded()
        self._publish_pending = publish_pending
        self._follow = follow_cname
        self._lookup = lookup
        self._sleep = sleep
        self._clock = clock
        # Values journaled before this run are leftovers of an interrupted run.
        self._stale = journal.entries(client.endpoint)
        self._editors: dict[str, ZoneEditor] = {}
        self._targets: dict[str, str] = {}
        # Jobs whose end nobody has seen yet, and whether a write may have
        # landed without our knowing its job (a lost answer, an interruption).
        self._in_flight: dict[str, Job] = {}
        self._unsettled = False
        # Once a write's fate was unknown, a late landing is possible for the
        # rest of the run: the journal then keeps its entries for the next run.
        self._late_writes_possible = False
        self._operator: str | None = None
        self._others_seen = False
        self._wrote = False
        self._journaled: list[Entry] = []
        self._hold_started: dict[tuple[str, ...], float] = {}

    # -- the two phases ----------------------------------------------------

    def publish(self, challenges: Iterable[Challenge]) -> None:
        """Make DPF's nameservers serve every challenge value."""
        runs = self._runs(challenges, publishing=True)
        for run in runs:
            self._zones.check_writable(run.zone)
            for name in run.wanted:
                _check_not_delegated(run.zone, run.snapshot, name)
        self._journaled = [
            Entry(self._client.endpoint, run.zone.name, name, value)
            for run in runs
            for name, values in run.wanted.items()
            for value in values
        ]
        self._journal.add(self._journaled)
        self._converge(runs, publishing=True)
        self._propagation.wait(
            ZoneExpectation(run.zone.name, _nameservers(run), run.wanted) for run in runs
        )

    def withdraw(self, challenges: Iterable[Challenge]) -> None:
        """Remove our values (and this host's leftovers) and apply; never touch others'."""
        if not self._wrote and not self._stale:
            # Nothing was sent, and no earlier run left anything: a publish
            # that failed this early (say, DPF down) has nothing to undo, and
            # asking DPF again would only double the wait.
            self._journal.discard(self._journaled)
            return
        self._settle()
        runs = self._runs(challenges, publishing=False)
        if not runs:
            return
        self._converge(runs, publishing=False)
        if not self._late_writes_possible:
            self._forget_removed(runs)
        errors = [run.error for run in runs if run.error is not None]
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise DpfError(" ".join(str(e) for e in errors))

    # -- which zones and names -------------------------------------------------

    def _runs(self, challenges: Iterable[Challenge], publishing: bool) -> list[_ZoneRun]:
        runs: dict[str, _ZoneRun] = {}

        def run_for(zone: Zone) -> _ZoneRun:
            if zone.id not in runs:
                runs[zone.id] = _ZoneRun(zone, self._editor(zone), {}, {})
            return runs[zone.id]

        for challenge in challenges:
            try:
                name = self._target(challenge.name)
                zone = self._zones.zone_for(name)
            except ZoneNotFoundError as exc:
                if publishing:
                    raise
                logger.debug("Nothing to clean up for %s: %s", challenge.name, exc)
                continue
            run = run_for(zone)
            if publishing:
                run.wanted.setdefault(name, set()).add(challenge.value)
            else:
                run.drop.setdefault(name, set()).add(challenge.value)
        for entry in self._stale:
            stale_zone = next((z for z in self._zones.zones() if z.name == entry.zone), None)
            if stale_zone is not None:
                run_for(stale_zone).drop.setdefault(entry.name, set()).add(entry.value)
        for run in runs.values():
            # The first read of the loop reuses this one if nothing was written.
            run.snapshot = run.editor.read(run.names, fresh=False)
        return list(runs.values())

    def _target(self, name: str) -> str:
        """Where the TXT record for the challenge name must go (after CNAMEs)."""
        name = canonical(name)
        if name not in self._targets:
            self._targets[name] = self._follow_cnames(name) if self._follow else name
        return self._targets[name]

    def _follow_cnames(self, name: str) -> str:
        target = follow(name, self._cname_at)
        if target != name:
            try:
                self._zones.zone_for(target)
            except ZoneNotFoundError as exc:
                raise ZoneNotFoundError(
                    f"{name.rstrip('.')} is a CNAME to {target.rstrip('.')}, where the "
                    f"challenge record must go. {exc} If that CNAME exists only in a "
                    "resolver's own view, pass --dns-iijdpf-no-follow-cname."
                ) from None
        return target

    def _cname_at(self, name: str) -> str | None:
        # Where the name's zone is on DPF and visible, DPF's own records decide:
        # only a CNAME at exactly that name counts.  A resolver would answer
        # from a wildcard CNAME (or from its own view of the zone) and send
        # the record somewhere the CA never looks.
        try:
            zone = self._zones.zone_for(name)
        except ZoneNotFoundError:
            return self._lookup(name)
        found = self._editor(zone).read({name}, fresh=False).applied(name, "CNAME")
        return found[0] if found else None

    def _editor(self, zone: Zone) -> ZoneEditor:
        if zone.id not in self._editors:
            self._editors[zone.id] = ZoneEditor(self._client, zone, ttl=self._ttl)
        return self._editors[zone.id]

    # -- the loop ------------------------------------------------------------------

    def _converge(self, runs: list[_ZoneRun], publishing: bool) -> None:
        """Bring every zone to its target and apply it; see the module docstring."""
        rounds = 0
        last_words: list[str] = []
        first = True
        # Whether the last pass re-read the zones after a quiet wait.
        quiet = False
        while True:
            active = [run for run in runs if run.error is None]
            if not active:
                return
            if not first:
                self._settle()
                for run in active:
                    run.snapshot = run.editor.read(run.names)
            first = False
            self._learn_operator(active)
            writes: list[tuple[_ZoneRun, Edit]] = []
            locked: list[Row] = []
            for run in active:
                edits, held = self._plan(run)
                writes.extend((run, edit) for edit in edits)
                locked.extend(held)
            if writes:
                quiet = False
                rounds = self._next_round(rounds, last_words)
                last_words = self._send(writes, publishing)
                continue
            if locked:
                self._hold(
                    locked,
                    "locks a record this run must edit (DPF refuses edits to a record with "
                    "another user's pending edit)",
                )
                continue
            due = [run for run in active if self._needs_apply(run)]
            if not due:
                if not quiet and self._shared(active):
                    # Another host edits the same RRsets, and DPF has no
                    # compare-and-set: a write it planned from an older read
                    # may land after ours and bring back or drop a value.
                    # Such a write lands within a job's time; read once more
                    # after that, and go on only if nothing moved.
                    quiet = True
                    self._sleep(self._deadline.cap(self._quiet_seconds()))
                    continue
                self._in_flight.clear()
                return
            quiet = False
            if self._gate(due, publishing):
                continue
            rounds = self._next_round(rounds, last_words)
            applying = [run for run in due if run.error is None]
            last_words = self._apply(applying, publishing)
            if publishing and len(applying) == 1 and not last_words and not self._shared(active):
                # The zone's one apply job ended SUCCESSFUL: what we staged is
                # live, and nobody else writes here.  Withdrawing reads again.
                self._in_flight.clear()
                return

    def _shared(self, runs: list[_ZoneRun]) -> bool:
        """Whether another ACME client has been seen at our names during this run."""
        if not self._others_seen:
            self._others_seen = any(
                self._foreign_acme_values(run, name) for run in runs for name in run.names
            )
        return self._others_seen

    @staticmethod
    def _foreign_acme_values(run: _ZoneRun, name: str) -> bool:
        ours = run.wanted.get(name, set()) | run.drop.get(name, set())
        rows = run.snapshot.at(name, "TXT")
        values = [v for r in rows for v in r.values]
        values += run.snapshot.applied(name, "TXT") or ()
        current = [r for r in rows if r.state not in (DELETING, BEFORE_UPDATE)]
        return len(current) > 1 or any(
            txt.is_acme_value(v) and txt.decode(v) not in ours for v in values
        )

    def _quiet_seconds(self) -> float:
        return max(1.0, 2 * (self._jobs.typical_seconds or 1.0))

    def _next_round(self, rounds: int, last_words: list[str]) -> int:
        if rounds >= MAX_ROUNDS:
            why = f" DPF's last answer: {last_words[-1]}" if last_words else ""
            raise DpfError(
                f"The challenge records did not settle after {MAX_ROUNDS} rounds of edits "
                f"and applies; another client may be rewriting the same TXT records.{why}"
            )
        return rounds + 1

    def _plan(self, run: _ZoneRun) -> tuple[list[Edit], list[Row]]:
        """The edits to send now, and the pending rows that lock the others.

        DPF refuses (``forbidden``/``record``) an edit of a record with
        another user's pending edit, and may refuse a PATCH of a never-applied
        row of our own.  A refused PATCH of such a row is therefore followed
        by a cancel and a new POST of every value it held; a record whose
        edit is refused again holds another user's edit.  It is left alone
        while that lasts, and any other record is edited meanwhile.
        """
        edits: list[Edit] = []
        locked: list[Row] = []
        for name in sorted(run.names):
            view = txt_view(run.snapshot, name)
            wanted, drop = run.wanted.get(name, set()), run.drop.get(name, set())
            main = self._pending_row(run, view.record_id)
            last = run.refused.get(view.record_id or "")
            rewrite = (
                main is not None
                and main.state == ADDING
                and last is not None
                and last.kind is EditKind.PATCH
                and not self._is_others(main)
            )
            carry = run.carry.get(name, ())
            for edit in plan(view, wanted, drop, carry=carry, rewrite_adding=rewrite):
                row = self._pending_row(run, edit.record_id)
                if row is None or edit.record_id not in run.refused:
                    edits.append(edit)
                    continue
                if rewrite and row is main:
                    kept = tuple(v for v in row.values if txt.decode(v) not in wanted | drop)
                    run.rewrites[row.id] = kept
                    edits.append(edit)
                    continue
                if not is_challenge_edit(run.snapshot, row, run.names):
                    raise DpfError(
                        f"DPF refused to {edit.describe()}: the record has a pending edit by "
                        f"another DPF user ({describe_rows([row])}). Apply or cancel that "
                        "edit in the DPF console, then run certbot again."
                    )
                locked.append(row)
        still = {row.id for row in locked}
        run.refused = {rid: e for rid, e in run.refused.items() if rid in still}
        return edits, locked

    @staticmethod
    def _pending_row(run: _ZoneRun, record_id: str | None) -> Row | None:
        return next((r for r in run.snapshot.rows if r.id == record_id and r.pending), None)

    def _send(self, writes: list[tuple[_ZoneRun, Edit]], publishing: bool) -> list[str]:
        """Send every write, wait for the last job; return what DPF said against them."""
        words: list[str] = []
        batch: list[Job] = []
        for run, edit in writes:
            if run.error is not None:
                continue
            try:
                job = self._write(functools.partial(run.editor.send, edit))
                run.written.add(edit.name)
                self._carry(run, edit)
            except DpfApiError as exc:
                fatal = run.editor.explain(edit.describe(), exc)
                if fatal is not None:
                    self._fail(run, fatal, publishing)
                    continue
                logger.debug(
                    "DPF refused to %s in zone %s (%s); re-reading",
                    edit.describe(),
                    run.editor.label,
                    exc,
                )
                run.rewrites.pop(edit.record_id or "", None)
                words.append(str(exc))
                if exc.has_detail("forbidden", "record") and edit.record_id is not None:
                    run.refused[edit.record_id] = edit
                continue
            except WriteOutcomeUnknown as exc:
                logger.info("%s; re-reading the zone to see whether it happened", exc)
                words.append(str(exc))
                run.written.add(edit.name)
                # The cancel may have landed: keep the values it would take away.
                self._carry(run, edit)
                continue
            batch.append(job)
        words.extend(self._wait(batch))
        return words

    @staticmethod
    def _carry(run: _ZoneRun, edit: Edit) -> None:
        """Once DPF took a rewrite's cancel, the next POST at the name keeps its values."""
        kept = run.rewrites.pop(edit.record_id or "", None)
        if kept:
            run.carry[edit.name] = run.carry.get(edit.name, ()) + kept

    def _write(self, send: Callable[[], Job]) -> Job:
        """Send one write, keeping track of it even when the run is interrupted."""
        self._wrote = True
        try:
            job = send()
        except DpfApiError:
            raise
        except BaseException:
            # Lost answers, Ctrl-C or SIGTERM in the middle of a request: the
            # write may have landed, and its job id is unknown.
            self._unsettled = self._late_writes_possible = True
            raise
        self._in_flight[job.id] = job
        return job

    def _wait(self, batch: list[Job]) -> list[str]:
        """Wait for a batch of jobs by polling only the last one.

        The batch's jobs were accepted together and the last one normally
        ends last; either way the next read, not the jobs, shows whether each
        write landed, and a write that did not is planned again.  Polling one
        job instead of all saves a request for each write.
        """
        if not batch:
            return []
        for job in batch[:-1]:
            self._in_flight.pop(job.id, None)
        return self._wait_for(batch[-1])

    def _wait_for(self, job: Job) -> list[str]:
        try:
            self._jobs.wait([job])
        except DpfJobError as exc:
            logger.info("%s; re-reading the zone", exc)
            if exc.still_running:
                self._late_writes_possible = True
            return [str(exc)]
        finally:
            self._in_flight.pop(job.id, None)
        return []

    def _settle(self) -> None:
        """Let jobs of ours land before reading: interrupted waits and lost answers."""
        if self._in_flight:
            try:
                self._jobs.wait(self._in_flight.values())
            except DpfError as exc:
                logger.debug("A job of an earlier step ended badly: %s", exc)
            self._in_flight.clear()
        if self._unsettled:
            # A write whose answer was lost has a job we cannot poll; give it
            # the time jobs take here before reading what it did.
            self._unsettled = False
            typical = self._jobs.typical_seconds or 1.0
            self._sleep(self._deadline.cap(max(1.0, 2 * typical)))

    def _fail(self, run: _ZoneRun, error: DpfError, publishing: bool) -> None:
        if publishing:
            raise error
        run.error = error

    # -- who staged what -----------------------------------------------------

    def _learn_operator(self, runs: list[_ZoneRun]) -> None:
        # DPF tells nobody who the token belongs to, but our own staged rows
        # show it: a pending row that carries a change this run wrote (DPF
        # refuses another user's edit on top of a pending one).
        if self._operator is not None:
            return
        for run in runs:
            for row in pending_rows(run.snapshot):
                if row.operator and self._carries_our_change(run, row):
                    self._operator = row.operator
                    return

    @staticmethod
    def _carries_our_change(run: _ZoneRun, row: Row) -> bool:
        """Whether a pending row holds a change of ours that DNS does not serve yet."""
        if row.rrtype != "TXT" or row.name not in run.written or not row.pending:
            return False
        live = {txt.decode(v) for v in run.snapshot.applied(row.name, "TXT") or ()}
        staged = set() if row.state == DELETING else {txt.decode(v) for v in row.values}
        added = run.wanted.get(row.name, set()) - live
        removed = run.drop.get(row.name, set()) & live
        return bool(added or removed) and added <= staged and not removed & staged

    def _is_others(self, row: Row) -> bool:
        """Whether a row is known to be another DPF user's pending edit."""
        return bool(self._operator and row.operator and row.operator != self._operator)

    def _is_ours(self, run: _ZoneRun, row: Row) -> bool:
        """Whether a pending row is known to be staged by the DPF user of this token."""
        if self._carries_our_change(run, row):
            return True
        return bool(self._operator and row.operator == self._operator)

    def _hold(self, rows: list[Row], why: str) -> None:
        """Sleep a poll interval, or fail once rows have been waited for too long."""
        key = tuple(sorted(r.id for r in rows))
        now = self._clock()
        started = self._hold_started.setdefault(key, now)
        if now - started >= LOCK_WAIT_SECONDS or self._deadline.remaining() <= LOCK_POLL_SECONDS:
            raise DpfError(
                f"Another DPF user's staged challenge record ({describe_rows(rows)}) {why}, "
                f"and it was not applied or cancelled within {now - started:.0f} seconds. "
                "If no other ACME client of that user is running, cancel the edit in the "
                "DPF console, then run certbot again."
            )
        logger.info("Waiting for another DPF user's staged edit: %s", describe_rows(rows))
        self._sleep(LOCK_POLL_SECONDS)

    # -- applying --------------------------------------------------------------------

    @staticmethod
    def _needs_apply(run: _ZoneRun) -> bool:
        """Whether a change of ours is staged but not served yet.

        Called once nothing is left to write, so what is staged at our names
        already is the target.  Pending rows that do not involve our values
        are not ours to publish, whoever staged them.
        """
        for name in run.names:
            live = {txt.decode(v) for v in run.snapshot.applied(name, "TXT") or ()}
            if run.wanted.get(name, set()) - live or run.drop.get(name, set()) & live:
                return True
        return False

    def _gate(self, due: list[_ZoneRun], publishing: bool) -> bool:
        """Check what an apply would publish; True when the loop must wait and re-read.

        A zone with edits somebody else staged is refused (in the publish
        phase, all zones are: nothing is applied unless everything can be).
        """
        others: list[Row] = []
        for run in due:
            foreign: list[Row] = []
            for row in pending_rows(run.snapshot):
                if not is_challenge_edit(run.snapshot, row, run.names):
                    foreign.append(row)
                elif not self._is_ours(run, row):
                    # Another user's challenge value (or one whose editor is
                    # unknown): its own client applies it within seconds.
                    others.append(row)
            if foreign and not self._publish_pending:
                self._fail(run, self._pending_error(run, foreign, publishing), publishing)
            elif foreign:
                logger.warning(
                    "Publishing staged edits in zone %s that certbot-dns-iijdpf did not make, "
                    "as --dns-iijdpf-publish-pending-edits asks: %s",
                    run.editor.label,
                    describe_rows(foreign),
                )
        if others:
            self._hold(others, "is staged in the zone, and applying it would publish it")
            return True
        return False

    @staticmethod
    def _pending_error(run: _ZoneRun, foreign: list[Row], publishing: bool) -> PendingEditsError:
        if publishing:
            outcome = (
                "Applying the zone could publish them, so nothing was applied; certbot's "
                "cleanup now withdraws the challenge records staged for this run."
            )
        else:
            outcome = (
                "Applying the zone could publish them, so the removal of the challenge "
                "records is staged but not applied; it is published with the zone's next "
                "apply, and the next run of this plugin on this host retries it."
            )
        return PendingEditsError(
            f"Zone {run.editor.label} has staged edits that this plugin did not make: "
            f"{describe_rows(foreign)}. {outcome} Apply or discard those edits in the DPF "
            "console and run certbot again, or pass --dns-iijdpf-publish-pending-edits "
            "(for that one run) to publish them together with the challenge."
        )

    def _apply(self, runs: list[_ZoneRun], publishing: bool) -> list[str]:
        words: list[str] = []
        batch: list[Job] = []
        for run in runs:
            try:
                batch.append(self._write(run.editor.send_apply))
            except DpfApiError as exc:
                fatal = run.editor.explain("apply the zone", exc)
                certain = exc.is_token_rejected or exc.has_detail("forbidden", "zone")
                if fatal is not None and (certain or exc.status != 400):
                    self._fail(run, fatal, publishing)
                    continue
                # An apply refused because nothing is pending is fine: the
                # next read shows whether our edits are live.  Any other
                # refusal is reported once the rounds run out.
                logger.info("DPF refused to apply zone %s (%s); re-reading", run.editor.label, exc)
                words.append(str(exc))
            except WriteOutcomeUnknown as exc:
                logger.info("%s; re-reading the zone to see whether it happened", exc)
                words.append(str(exc))
        words.extend(self._wait(batch))
        return words

    # -- after the withdrawal ------------------------------------------------------

    def _forget_removed(self, runs: list[_ZoneRun]) -> None:
        """Strike journal entries whose value the last read shows neither staged nor live."""
        read = {run.zone.name: run.snapshot for run in runs}
        gone = [
            entry
            for entry in self._journal.entries(self._client.endpoint)
            if entry.zone in read and not holds(read[entry.zone], entry.name, entry.value)
        ]
        self._journal.discard(gone)


def _check_not_delegated(zone: Zone, snapshot: ZoneSnapshot, name: str) -> None:
    """Raise when ``name`` lies below an NS delegation inside ``zone``."""
    for row in snapshot.rows:
        if row.rrtype != "NS" or row.name == zone.name or row.state not in (APPLIED, DELETING):
            continue
        if name == row.name or name.endswith("." + row.name):
            servers = ", ".join(v.rstrip(".") for v in row.values)
            raise DpfError(
                f"{name.rstrip('.')} lies below {row.name.rstrip('.')}, which zone "
                f"{zone.name.rstrip('.')} delegates to other nameservers ({servers}); DPF's "
                "nameservers do not answer for it, so the challenge cannot be served from "
                "this zone. Issue the certificate through the DNS service of "
                f"{row.name.rstrip('.')}, or remove the delegation."
            )


def _nameservers(run: _ZoneRun) -> list[str]:
    """The zone's apex NS host names as DNS serves them now."""
    values = run.snapshot.applied(run.zone.name, "NS") or ()
    return sorted({canonical(v) for v in values})
