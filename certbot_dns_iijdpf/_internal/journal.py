"""A local record of the challenge values this host has put into DPF.

A run that is killed half way (power loss, ``kill -9``) cannot clean up after
itself.  Every value is written here before it is staged and struck out once
its removal is applied, so the next run on this host knows which leftover
values are its own and removes them; values of other hosts or tools are never
touched.  The file lives in certbot's work directory, which certbot locks for
the duration of a run.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

FILE_NAME = "dns-iijdpf-journal.json"


@dataclass(frozen=True)
class Entry:
    """One challenge value in one zone, as staged through one endpoint."""

    endpoint: str
    zone: str
    name: str
    value: str


class Journal:
    """Entries kept in a small JSON file; a missing or unreadable file is empty."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: set[Entry] = set(self._load())

    def entries(self, endpoint: str) -> set[Entry]:
        return {e for e in self._entries if e.endpoint == endpoint}

    def add(self, entries: Iterable[Entry]) -> None:
        before = len(self._entries)
        self._entries.update(entries)
        if len(self._entries) != before:
            self._save()

    def discard(self, entries: Iterable[Entry]) -> None:
        before = len(self._entries)
        self._entries.difference_update(entries)
        if len(self._entries) != before:
            self._save()

    def _load(self) -> list[Entry]:
        if self.path is None or not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [Entry(**item) for item in raw.get("entries", [])]
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("Ignoring unreadable journal %s: %s", self.path, exc)
            return []

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"entries": [asdict(e) for e in sorted(self._entries, key=_key)]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".journal-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:
            # The journal only helps after a crash; failing to write it must not fail issuance.
            logger.warning("Could not write the journal %s: %s", self.path, exc)


def _key(entry: Entry) -> tuple[str, str, str, str]:
    return (entry.endpoint, entry.zone, entry.name, entry.value)
