"""``--write``: a challenge cycle per zone, and what DPF does where its documentation is silent."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from certbot_dns_iijdpf._internal.client import JsonObject
from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError, WriteOutcomeUnknown
from certbot_dns_iijdpf._internal.planner import (
    ADDING,
    APPLIED,
    BEFORE_UPDATE,
    DELETING,
    UPDATING,
    Row,
    describe_rows,
)
from certbot_dns_iijdpf._internal.probe.facts import PENDING, ZoneFacts, detail_codes, label
from certbot_dns_iijdpf._internal.probe.report import (
    FAILED,
    INFO,
    OK,
    WARNING,
    rounded,
    seconds_text,
)
from certbot_dns_iijdpf._internal.propagation import query_txt

if TYPE_CHECKING:
    from certbot_dns_iijdpf._internal.probe.checks import Probe


PROBE_DESCRIPTION = "certbot-dns-iijdpf probe"
JOB_TIMEOUT = 300.0
# A nameserver that has not answered once in this long is taken as
# unreachable from this host rather than as lagging.
UNREACHABLE_AFTER = 10.0
POLL_INTERVAL = 0.5
FIRST_JOB_POLL = 0.2


def acme_value() -> str:
    """A random value shaped like a DNS-01 value: base64url of 32 bytes, no padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def quoted(value: str) -> str:
    # DPF stores TXT values with their quotes and refuses them without.
    return f'"{value}"'


class _Abort(Exception):
    """Ends a write cycle with a failed line; cleanup still runs."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name
        self.detail = detail


@dataclass
class Outcome:
    """What one write did: refused at once, a job that ended, or a lost answer seen in the zone."""

    refused: DpfApiError | None = None
    status: str | None = None
    seconds: float | None = None
    job: JsonObject | None = None
    lost: bool = False

    @property
    def refusal(self) -> str | None:
        """Why DPF did not do the write (refused at once, or its job FAILED), or None."""
        if self.refused is not None:
            return detail_codes(self.refused)
        return "its job FAILED" if self.status == "FAILED" else None


class WriteCycle:
    """One challenge cycle at one name, always followed by cleanup."""

    def __init__(self, probe: Probe, fact: ZoneFacts, name: str) -> None:
        self.probe = probe
        self.client = probe.client
        self.report = probe.report
        self.fact = fact
        self.zone = fact.zone
        self.name = name
        self.subject = label(name)
        self.base = f"/zones/{fact.zone.id}"
        self.value1 = acme_value()
        self.value2 = acme_value()
        self.ours = {quoted(self.value1), quoted(self.value2)}
        self.created: set[str] = set()
        self.job_estimate: float | None = None
        self.lost_answers = 0
        self._clock = probe._clock
        self._sleep = probe._sleep

    # -- reading --------------------------------------------------------------------

    def records(self) -> list[Row]:
        return [Row.from_api(i) for i in self.client.get_all(f"{self.base}/records")]

    def currents(self) -> list[Row]:
        return [Row.from_api(i) for i in self.client.get_all(f"{self.base}/records/currents")]

    def mine(self, rows: Iterable[Row]) -> list[Row]:
        """Our rows at the name (state-5 snapshots left out), remembering their ids."""
        found = [
            r
            for r in rows
            if r.name == self.name
            and r.rrtype == "TXT"
            and r.state != BEFORE_UPDATE
            and (r.id in self.created or set(r.values) & self.ours)
        ]
        self.created.update(r.id for r in found)
        return found

    def row(self, record_id: str, rows: list[Row] | None = None) -> Row | None:
        for r in self.records() if rows is None else rows:
            if r.id == record_id and r.state != BEFORE_UPDATE:
                return r
        return None

    def others_pending(self, rows: list[Row]) -> list[Row]:
        mine = {r.id for r in self.mine(rows)}
        return [r for r in rows if r.state in PENDING and r.id not in mine]

    # -- writing ----------------------------------------------------------------------

    def attempt(
        self,
        what: str,
        method: str,
        path: str,
        body: JsonObject | None = None,
        settled: Callable[[], bool] | None = None,
    ) -> Outcome:
        """Send a write and wait for its job.

        A write whose answer was lost may still have been processed: the zone
        is read until ``settled`` shows its effect, and only a zone that shows
        nothing after a while is taken as "not processed" and sent again,
        which is safe because the request then meets the same zone.
        """
        for _ in range(3):
            started = self._clock()
            try:
                job_id = self.client.write(method, path, body)
            except DpfApiError as exc:
                if exc.is_token_rejected or exc.has_detail("forbidden", "zone"):
                    raise _Abort(what, f"DPF refused {method} {path}: {exc}") from None
                return Outcome(refused=exc)
            except WriteOutcomeUnknown:
                self.lost_answers += 1
                if settled is not None and self.settle(settled):
                    return Outcome(lost=True)
                continue
            status, seconds, job = self.wait_job(job_id, what, started)
            return Outcome(status=status, seconds=seconds, job=job)
        raise _Abort(what, f"the answer to {method} {path} was lost three times in a row")

    def settle(self, settled: Callable[[], bool]) -> bool:
        estimate = self.job_estimate if self.job_estimate is not None else 1.0
        limit = min(30.0, max(3.0, 10 * estimate))
        end = self._clock() + limit
        while True:
            if settled():
                return True
            if self._clock() >= end:
                return False
            self._sleep(POLL_INTERVAL)

    def wait_job(self, job_id: str, what: str, started: float) -> tuple[str, float, JsonObject]:
        # Every poll spends one request of the client's rate limit, which the
        # rest of the cycle needs too: start soon, then back off to 1 s.
        interval = FIRST_JOB_POLL
        while True:
            job = self.client.job(job_id)
            status = str(job.get("status", ""))
            elapsed = self._clock() - started
            if status in ("SUCCESSFUL", "FAILED"):
                if status == "SUCCESSFUL":
                    self.job_estimate = elapsed
                return status, elapsed, job
            if status != "RUNNING":
                raise _Abort(what, f"DPF reported job {job_id} with unknown status {status!r}")
            if elapsed > JOB_TIMEOUT:
                raise _Abort(what, f"DPF job {job_id} was still RUNNING after {JOB_TIMEOUT:.0f} s")
            self._sleep(interval)
            interval = min(1.0, interval * 1.5)

    def require(self, what: str, outcome: Outcome, action: str) -> Outcome:
        if outcome.refused is not None:
            raise _Abort(what, f"DPF refused to {action}: {outcome.refused}")
        if outcome.status == "FAILED":
            job = outcome.job or {}
            raise _Abort(
                what,
                f"the job to {action} FAILED: {job.get('error_type', '')}: "
                f"{job.get('error_message', '')}",
            )
        return outcome

    def post(self, value: str) -> tuple[Outcome, Row]:
        body: JsonObject = {
            "name": self.name,
            "ttl": self.probe.settings.ttl,
            "rrtype": "TXT",
            "rdata": [{"value": quoted(value)}],
            "description": PROBE_DESCRIPTION,
        }

        def settled() -> bool:
            return any(quoted(value) in r.values for r in self.mine(self.records()))

        outcome = self.require(
            "write post",
            self.attempt("write post", "POST", f"{self.base}/records", body, settled),
            f"stage a TXT record at {self.subject}",
        )
        rows = [r for r in self.mine(self.records()) if quoted(value) in r.values]
        if not rows:
            raise _Abort("write post", "the POST job succeeded, but the record is not in /records")
        return outcome, rows[0]

    def apply(self, what: str, settled: Callable[[], bool]) -> Outcome:
        rows = self.records()
        others = self.others_pending(rows)
        if others:
            raise _Abort(
                what,
                f"someone staged edits in zone {label(self.zone.name)} meanwhile "
                f"({describe_rows(others)}); the probe does not apply them.",
            )
        return self.require(
            what,
            self.attempt(
                what, "PATCH", f"{self.base}/changes", {"description": PROBE_DESCRIPTION}, settled
            ),
            f"apply zone {label(self.zone.name)}",
        )

    def cancel(self, what: str, record_id: str) -> Outcome:
        def settled() -> bool:
            row = self.row(record_id)
            return row is None or row.state not in PENDING

        return self.attempt(
            what, "DELETE", f"{self.base}/records/{record_id}/changes", None, settled
        )

    def gone(self, what: str, record_id: str, row: Row | None) -> None:
        """Make sure a never-applied row (``row``, as last read) no longer exists."""
        for _ in range(3):
            if row is None:
                return
            self.cancel(what, record_id)
            row = self.row(record_id)
        if row is not None:
            raise _Abort(what, f"the never-applied record {record_id} would not go away")

    # -- the cycle --------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.cycle()
        except _Abort as abort:
            self.report.add(FAILED, abort.name, self.subject, abort.detail)
        except DpfError as exc:
            self.report.add(FAILED, "write", self.subject, f"stopped: {exc}")
        finally:
            self.cleanup()

    def cycle(self) -> None:
        report = self.report
        subject = self.subject
        q1, q2 = quoted(self.value1), quoted(self.value2)

        outcome, row = self.post(self.value1)
        report.answer("job_seconds", rounded(outcome.seconds))
        report.add(
            OK,
            "write post",
            subject,
            f"POST of a TXT record staged it; job took {seconds_text(outcome.seconds)}",
        )

        in_currents = any(r.name == self.name and r.rrtype == "TXT" for r in self.currents())
        report.answer("pending_add_state", row.state)
        report.answer("pending_add_in_currents", in_currents)
        if row.state == ADDING and not in_currents:
            report.add(
                OK,
                "write pending",
                subject,
                "the new row shows state 1 in /records and is absent from /records/currents",
            )
        else:
            report.add(
                WARNING,
                "write pending",
                subject,
                f"the new row shows state {row.state} in /records and is "
                f"{'present in' if in_currents else 'absent from'} /records/currents "
                "(expected state 1, absent); please report this.",
            )

        rid = row.id
        path = f"{self.base}/records/{rid}"

        def patched() -> bool:
            current = self.row(rid)
            return current is not None and set(current.values) == {q1, q2}

        outcome = self.attempt(
            "write patch pending add",
            "PATCH",
            path,
            {"rdata": [{"value": q1}, {"value": q2}]},
            patched,
        )
        if outcome.refused is not None:
            answer = "refused"
            detail = f"refused ({detail_codes(outcome.refused)})"
        elif outcome.status == "FAILED":
            answer = "refused"
            detail = "accepted, but its job FAILED"
        else:
            answer = "allowed"
            current = self.row(rid)
            state = current.state if current is not None else None
            detail = f"allowed (the row is now state {state})"
        report.answer("patch_pending_add", answer)
        report.add(INFO, "write patch pending add", subject, f"PATCH of a state-1 row: {detail}")

        def deleted() -> bool:
            current = self.row(rid)
            return current is None or current.state != ADDING

        outcome = self.attempt("write delete pending add", "DELETE", path, None, deleted)
        after = self.row(rid)
        why = outcome.refusal
        if why is not None:
            answer = "refused"
            detail = f"refused ({why}); cancelled with DELETE .../changes instead"
        elif after is None:
            answer = "cancels"
            detail = "the row is gone: DELETE cancels a pending add"
        elif after.state == DELETING:
            answer = "stages"
            detail = "the row shows state 2: DELETE stages a deletion; cancelled it"
        else:
            answer = f"state {after.state}"
            detail = f"the row shows state {after.state}; cancelled it"
        report.answer("delete_pending_add", answer)
        report.add(INFO, "write delete pending add", subject, f"DELETE of a state-1 row: {detail}")
        self.gone("write delete pending add", rid, after)

        _, row = self.post(self.value1)
        rid = row.id
        path = f"{self.base}/records/{rid}"

        def applied() -> bool:
            current = self.row(rid)
            return current is not None and current.state == APPLIED

        outcome = self.apply("write apply", applied)
        report.answer("apply_seconds", rounded(outcome.seconds))
        report.add(OK, "write apply", subject, f"apply job took {seconds_text(outcome.seconds)}")

        served = self.wait_nameservers(lambda values: self.value1 in values, "serves")
        report.answer("nameserver_seconds", served)

        def updating() -> bool:
            current = self.row(rid)
            return current is not None and current.state == UPDATING

        self.require(
            "write update",
            self.attempt(
                "write update",
                "PATCH",
                path,
                {"rdata": [{"value": q1}, {"value": q2}]},
                updating,
            ),
            "update the applied record",
        )
        rows = self.records()
        state5 = any(r.id == rid and r.state == BEFORE_UPDATE for r in rows)
        live = {
            v
            for r in self.currents()
            if r.name == self.name and r.rrtype == "TXT"
            for v in r.values
        }
        during = "old" if live == {q1} else "new" if live == {q1, q2} else "other"
        report.answer("state5_rows", state5)
        report.answer("currents_during_update", during)
        report.add(
            INFO,
            "write update",
            subject,
            f"PATCH of an applied row: /records {'lists' if state5 else 'does not list'} a "
            f"state-5 'before update' row; /records/currents shows the {during} values",
        )

        def delete_staged() -> bool:
            current = self.row(rid)
            return current is None or current.state != UPDATING

        outcome = self.attempt("write delete pending update", "DELETE", path, None, delete_staged)
        current = self.row(rid)
        why = outcome.refusal
        if why is not None:
            answer = "refused"
            detail = f"refused ({why})"
        elif current is not None and current.state == DELETING:
            answer = "stages"
            detail = "the row shows state 2: DELETE stages the deletion of the applied record"
        elif current is not None and current.state == APPLIED:
            answer = "cancels"
            detail = "the row shows state 0 again: DELETE cancelled the pending update"
        else:
            answer = "other"
            shown = "gone" if current is None else f"state {current.state}"
            detail = f"accepted; the row is now {shown}"
        report.answer("delete_pending_update", answer)
        report.add(
            INFO, "write delete pending update", subject, f"DELETE of a state-3 row: {detail}"
        )

        if current is None or current.state != APPLIED:
            self.cancel("write cancel update", rid)
            current = self.row(rid)
        if current is None or current.state != APPLIED or set(current.values) != {q1}:
            shown = (
                "gone"
                if current is None
                else f"state {current.state}, {len(current.values)} values"
            )
            raise _Abort(
                "write cancel update",
                f"cancelling the pending edit did not restore the applied record ({shown})",
            )
        report.add(
            OK, "write cancel update", subject, "the applied row is back to its single value"
        )

        self.empty_apply()

        def deleting() -> bool:
            current = self.row(rid)
            return current is None or current.state == DELETING

        self.require(
            "write withdraw",
            self.attempt("write withdraw", "DELETE", path, None, deleting),
            "stage the deletion of the record",
        )

        def removed() -> bool:
            return self.row(rid) is None

        self.apply("write withdraw", removed)
        report.add(OK, "write withdraw", subject, "DELETE of the applied row and apply succeeded")
        gone = self.wait_nameservers(lambda values: self.value1 not in values, "stopped serving")
        report.answer("nameserver_removal_seconds", gone)

    def empty_apply(self) -> None:
        rows = self.records()
        if any(r.state in PENDING for r in rows):
            self.report.add(
                WARNING,
                "write empty apply",
                self.subject,
                "skipped: the zone is not free of pending edits",
            )
            return
        # Nothing changes in the zone either way, so a lost answer is simply sent again.
        outcome = self.attempt(
            "write empty apply",
            "PATCH",
            f"{self.base}/changes",
            {"description": PROBE_DESCRIPTION},
        )
        if outcome.refused is not None:
            answer = "error"
            detail = f"refused at once ({detail_codes(outcome.refused)})"
        elif outcome.status == "FAILED":
            answer = "job_failed"
            job = outcome.job or {}
            detail = f"accepted, but its job FAILED ({job.get('error_message', '')})"
        else:
            answer = "ok"
            detail = "accepted; its job SUCCESSFUL"
        self.report.answer("empty_apply", answer)
        self.report.add(
            INFO, "write empty apply", self.subject, f"apply with nothing pending: {detail}"
        )

    def wait_nameservers(
        self, done: Callable[[set[str]], bool], verb: str
    ) -> dict[str, float | None]:
        """Seconds until each reachable nameserver ``done``; None for those that never did."""
        servers = [s for s in self.fact.nameservers if s.address and s.udp]
        results: dict[str, float | None] = {}
        if not servers:
            self.report.add(
                WARNING,
                "propagation",
                label(self.zone.name),
                "no nameserver of the zone can be queried from this host; not measured",
            )
            return results
        started = self._clock()
        answered: set[str] = set()
        waiting = {s.hostname: s for s in servers}
        while waiting:
            elapsed = self._clock() - started
            for hostname, server in list(waiting.items()):
                assert server.address is not None
                try:
                    values = query_txt(self.name, server.address, 2.0)
                except (dns.exception.DNSException, OSError):
                    if hostname not in answered and elapsed >= UNREACHABLE_AFTER:
                        results[hostname] = None
                        del waiting[hostname]
                    continue
                answered.add(hostname)
                if done(values):
                    results[hostname] = round(self._clock() - started, 2)
                    del waiting[hostname]
            if not waiting or self._clock() - started >= self.probe.max_wait:
                break
            self._sleep(POLL_INTERVAL)
        for hostname in waiting:
            results[hostname] = None
        for server in servers:
            seconds = results.get(server.hostname)
            if seconds is None:
                self.report.add(
                    WARNING,
                    "propagation",
                    label(server.hostname),
                    f"had not {verb} the value after {self.probe.max_wait:.0f} s (--max-wait); "
                    "raise --dns-iijdpf-propagation-seconds to at least that",
                )
            else:
                self.report.add(
                    OK,
                    "propagation",
                    label(server.hostname),
                    f"{verb} the value {seconds:.1f} s after the apply job ended",
                )
        return results

    # -- cleanup ------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Withdraw whatever the cycle left; never raises, and reports what it could not do."""
        try:
            self._cleanup()
        except Exception as exc:
            self.report.add(
                FAILED,
                "write cleanup",
                self.subject,
                f"could not finish ({exc}); remove the TXT record at {self.subject} whose "
                f"description is {PROBE_DESCRIPTION!r} in the DPF console and apply.",
            )
        if self.lost_answers:
            self.report.add(
                WARNING,
                "write lost answers",
                self.subject,
                f"{self.lost_answers} write answer(s) were lost (504 or a broken connection); "
                "the zone was re-read each time",
            )
        self.report.answer("lost_answers", self.lost_answers)

    def _cleanup(self) -> None:
        rows = self.records()
        for _ in range(8):
            mine = self.mine(rows)
            if not mine:
                break
            acted = False
            for row in mine:
                if row.state in (ADDING, UPDATING):
                    outcome = self.cancel("write cleanup", row.id)
                    if row.state == ADDING and outcome.refused is not None:
                        self.attempt("write cleanup", "DELETE", f"{self.base}/records/{row.id}")
                    acted = True
                elif row.state == APPLIED:
                    self.attempt("write cleanup", "DELETE", f"{self.base}/records/{row.id}")
                    acted = True
            if acted:
                rows = self.records()
                continue
            others = self.others_pending(rows)
            if others:
                self.report.add(
                    FAILED,
                    "write cleanup",
                    self.subject,
                    f"the probe's record is staged for deletion, but zone "
                    f"{label(self.zone.name)} also holds other edits ({describe_rows(others)}), "
                    "so the probe does not apply; apply the zone in the DPF console.",
                )
                return
            ids = {r.id for r in mine}

            def withdrawn(ids: set[str] = ids) -> bool:
                return not any(r.id in ids for r in self.records())

            self.attempt(
                "write cleanup",
                "PATCH",
                f"{self.base}/changes",
                {"description": PROBE_DESCRIPTION},
                withdrawn,
            )
            rows = self.records()
        left = self.mine(rows) + [
            r for r in self.currents() if r.name == self.name and set(r.values) & self.ours
        ]
        if left:
            self.report.add(
                FAILED,
                "write cleanup",
                self.subject,
                f"left behind: {describe_rows(left)}; remove it in the DPF console and apply.",
            )
        else:
            self.report.add(
                OK,
                "write cleanup",
                self.subject,
                "nothing of the probe is left, staged or live",
            )
