"""Reading, editing and applying one DPF zone.

:class:`ZoneEditor` reads a zone (its edit view, and what DNS serves where the
edit view cannot tell), sends the writes that :mod:`certbot_dns_iijdpf._internal.planner`
plans and the zone's apply, and turns DPF's refusals into messages that say
what to fix.  It decides nothing: the publisher does.
"""

from __future__ import annotations

import logging
from collections.abc import Set

from certbot_dns_iijdpf._internal.client import DpfClient, JsonObject
from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError
from certbot_dns_iijdpf._internal.jobs import Job
from certbot_dns_iijdpf._internal.planner import UPDATING, Edit, EditKind, Row, ZoneSnapshot
from certbot_dns_iijdpf._internal.zones import Zone

logger = logging.getLogger(__name__)

RECORD_DESCRIPTION = "ACME challenge (certbot-dns-iijdpf)"
APPLY_DESCRIPTION = "ACME challenge (certbot-dns-iijdpf)"


class ZoneEditor:
    """Reads, edits and applies one zone."""

    def __init__(self, client: DpfClient, zone: Zone, *, ttl: int) -> None:
        self.client = client
        self.zone = zone
        self.ttl = ttl
        # The edit view last read, reusable by a caller that asks for it until we write.
        self._last: tuple[Row, ...] | None = None

    @property
    def label(self) -> str:
        return self.zone.name.rstrip(".")

    @property
    def _base(self) -> str:
        return f"/zones/{self.zone.id}"

    def read(self, names: Set[str], *, fresh: bool = True) -> ZoneSnapshot:
        """The zone's edit view, plus the live values of ``names`` and the apex NS.

        ``/records/currents`` is read only when one of those RRsets has a
        pending update: only then can the edit view not show what DNS serves
        (DPF may or may not list the state-5 "before update" rows).  With
        ``fresh=False`` the edit view read last is reused when nothing was
        written since.
        """
        rows = self._last
        if fresh or rows is None:
            items = self.client.get_all(f"{self._base}/records")
            rows = self._last = tuple(Row.from_api(item) for item in items)
        return self._with_live(rows, names)

    def _with_live(self, rows: tuple[Row, ...], names: Set[str]) -> ZoneSnapshot:
        wanted = {(n, "TXT") for n in names} | {(n, "CNAME") for n in names}
        wanted.add((self.zone.name, "NS"))
        updating = {(r.name, r.rrtype) for r in rows if r.state == UPDATING} & wanted
        if not updating:
            return ZoneSnapshot(rows)
        live: dict[tuple[str, str], tuple[str, ...]] = {key: () for key in updating}
        for item in self.client.get_all(f"{self._base}/records/currents"):
            row = Row.from_api(item)
            if (row.name, row.rrtype) in live:
                live[(row.name, row.rrtype)] += row.values
        return ZoneSnapshot(rows, live)

    def send(self, edit: Edit) -> Job:
        """Send one staged write and return its job."""
        return Job(self._send(edit), f"{edit.describe()} in zone {self.label}")

    def _send(self, edit: Edit) -> str:
        self._last = None
        rdata = [{"value": v} for v in edit.values]
        if edit.kind is EditKind.POST:
            body: JsonObject = {
                "name": edit.name,
                "ttl": self.ttl,
                "rrtype": "TXT",
                "rdata": rdata,
                "description": RECORD_DESCRIPTION,
            }
            return self.client.write("POST", f"{self._base}/records", body)
        path = f"{self._base}/records/{edit.record_id}"
        if edit.kind is EditKind.PATCH:
            # Only rdata: the record's ttl, description and labels stay as their owner set them.
            return self.client.write("PATCH", path, {"rdata": rdata})
        if edit.kind is EditKind.DELETE:
            return self.client.write("DELETE", path)
        if edit.kind is EditKind.CANCEL:
            return self.client.write("DELETE", f"{path}/changes")
        raise ValueError(f"unknown edit kind {edit.kind!r}")

    def send_apply(self) -> Job:
        """Send the apply (``PATCH /zones/{id}/changes``) and return its job."""
        self._last = None
        request_id = self.client.write(
            "PATCH", f"{self._base}/changes", {"description": APPLY_DESCRIPTION}
        )
        return Job(request_id, f"apply zone {self.label}")

    def explain(self, what: str, exc: DpfApiError) -> DpfError | None:
        """The operator's message for a refusal that no re-read can cure, else None.

        Refusals such as ``duplicated``/``record``, ``not_found``/``record`` or
        ``forbidden``/``record`` mean that the zone changed between our read
        and our write (another host, or a write of ours whose answer was
        lost); the caller re-reads and plans again.
        """
        zone = self.label
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
        if exc.status == 406:
            return DpfError(f"DPF blocked the request to {what} in zone {zone}. {exc}")
        if is_race(exc):
            return None
        return DpfError(f"DPF refused to {what} in zone {zone}: {exc}")


def is_race(exc: DpfApiError) -> bool:
    """Whether a refusal only says that the record changed since it was read."""
    return (
        exc.has_detail("duplicated", "record")
        or exc.has_detail("not_found", "record")
        or exc.has_detail("forbidden", "record")
    )
