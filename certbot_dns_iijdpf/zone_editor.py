"""Staging and applying edits in one DPF zone.

:class:`ZoneEditor` reads a zone's edit view, sends the writes that
:mod:`certbot_dns_iijdpf.rrsets` plans (it returns their job ids, so that the
caller can wait for the writes of several zones together), and applies the
zone after checking that nothing somebody else staged would be published
with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Set

from certbot_dns_iijdpf.client import DpfClient, JsonObject
from certbot_dns_iijdpf.errors import DpfApiError, DpfError, PendingEditsError
from certbot_dns_iijdpf.rrsets import Edit, Row, describe_rows, foreign_pending, pending_rows
from certbot_dns_iijdpf.zones import Zone

logger = logging.getLogger(__name__)

RECORD_DESCRIPTION = "ACME challenge (certbot-dns-iijdpf)"
APPLY_DESCRIPTION = "ACME challenge (certbot-dns-iijdpf)"


class ZoneEditor:
    """Reads, edits and applies one zone."""

    def __init__(self, client: DpfClient, zone: Zone, *, ttl: int) -> None:
        self.client = client
        self.zone = zone
        self.ttl = ttl

    @property
    def _base(self) -> str:
        return f"/zones/{self.zone.id}"

    def read(self) -> list[Row]:
        """The zone's whole edit view: every record with its pending state."""
        return [Row.from_api(item) for item in self.client.get_all(f"{self._base}/records")]

    def submit(self, edits: Iterable[Edit]) -> tuple[list[tuple[str, str]], DpfError | None]:
        """Send ``edits`` and return their ``(job id, description)`` pairs.

        Stops at the first write that DPF refuses for good and returns that
        error beside the jobs already started, so that the caller can wait for
        them before reporting it.  Refusals that only mean "someone changed this
        RRset meanwhile" are dropped: the caller re-reads and plans again.
        """
        jobs: list[tuple[str, str]] = []
        for edit in edits:
            try:
                job = self._send(edit)
            except DpfApiError as exc:
                if self._is_race(edit, exc):
                    logger.debug("DPF refused to %s (%s); will re-read", edit.describe(), exc)
                    continue
                return jobs, self._explain(edit.describe(), exc)
            jobs.append((job, f"{edit.describe()} in zone {self.zone.name.rstrip('.')}"))
        return jobs, None

    def _send(self, edit: Edit) -> str:
        rdata = [{"value": v} for v in edit.values]
        if edit.kind == "post":
            body: JsonObject = {
                "name": edit.name,
                "ttl": self.ttl,
                "rrtype": "TXT",
                "rdata": rdata,
                "description": RECORD_DESCRIPTION,
            }
            return self.client.write("POST", f"{self._base}/records", body)
        path = f"{self._base}/records/{edit.record_id}"
        if edit.kind == "patch":
            # Only rdata: the record's ttl, description and labels stay as their owner set them.
            return self.client.write("PATCH", path, {"rdata": rdata})
        if edit.kind == "delete":
            return self.client.write("DELETE", path)
        return self.client.write("DELETE", f"{path}/changes")

    @staticmethod
    def _is_race(edit: Edit, exc: DpfApiError) -> bool:
        if edit.kind == "post" and exc.has_detail("duplicated", "record"):
            return True
        return edit.kind != "post" and exc.has_detail("not_found", "record")

    def _explain(self, what: str, exc: DpfApiError) -> DpfError:
        zone = self.zone.name.rstrip(".")
        if exc.is_token_rejected:
            return DpfError(
                f"DPF rejected the token for a write in zone {zone} although it could read "
                "the zone: the token needs the dpf_write scope (and the IIJ ID user needs "
                f"management rights on the zone's contract). {exc}"
            )
        if exc.has_detail("forbidden", "zone"):
            return DpfError(
                f"DPF does not allow record edits in zone {zone} (records are read-only, "
                f"for example because zone proxy is enabled). {exc}"
            )
        if exc.has_detail("forbidden", "record"):
            return DpfError(
                f"DPF refused to {what}: the record has a pending edit by another "
                "user. Apply or cancel that edit in the DPF console, then try again. "
                f"{exc}"
            )
        return DpfError(f"DPF refused to {what} in zone {zone}: {exc}")

    def check_pending(self, rows: list[Row], our_names: Set[str], publish_foreign: bool) -> bool:
        """Whether an apply is needed; raise if it would publish others' edits.

        Returns False when none of our names has a pending edit, so that no
        empty apply is sent (DPF does not document what an apply with nothing
        to do does).
        """
        pending = pending_rows(rows)
        if not any(r.rrtype == "TXT" and r.name in our_names for r in pending):
            # Nothing of ours to publish (for example, our staged records were
            # just withdrawn by cancelling them).
            return False
        foreign = foreign_pending(rows, our_names)
        if foreign and not publish_foreign:
            raise PendingEditsError(
                f"Zone {self.zone.name.rstrip('.')} has staged edits that this plugin did not "
                f"make: {describe_rows(foreign)}. Applying the zone could publish them, so "
                "the challenge records were withdrawn and nothing was applied. Apply or "
                "discard those edits in the DPF console and run certbot again, or pass "
                "--dns-iijdpf-publish-pending-edits to publish them together with the "
                "challenge."
            )
        if foreign:
            logger.warning(
                "Publishing staged edits in zone %s that certbot-dns-iijdpf did not make, "
                "as --dns-iijdpf-publish-pending-edits asks: %s",
                self.zone.name.rstrip("."),
                describe_rows(foreign),
            )
        return True

    def start_apply(self) -> tuple[str, str]:
        """Send the apply (``PATCH /zones/{id}/changes``) and return its job."""
        try:
            job = self.client.write(
                "PATCH", f"{self._base}/changes", {"description": APPLY_DESCRIPTION}
            )
        except DpfApiError as exc:
            raise self._explain("apply the zone", exc) from exc
        return job, f"apply zone {self.zone.name.rstrip('.')}"
