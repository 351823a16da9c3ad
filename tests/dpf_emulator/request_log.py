"""The emulator's record of API requests (control endpoints are not logged).

Tests read ``emu.request_log`` (a copy) to count calls, e.g.::

    posts = [e for e in emu.request_log if e.method == "POST" and e.path.endswith("/records")]

``path`` is the path after ``/dpf/v1`` without the query; ``query`` holds the
decoded parameters (``%5B%5D`` shows as ``[]``). Tokens are never stored, only
the operator they belong to and the scheme of the Authorization header
(``auth_scheme``: ``"Bearer"``, ``"Basic"``, ... as sent, ``""`` without one).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int | None  # None when no answer was sent ("drop", "hang", a lost answer)
    operator: str | None
    body: Any  # parsed JSON, or None for no body or a body that is not JSON
    time: float  # wall-clock seconds (time.time()) when the request arrived
    fault: str | None = None  # the fault action that answered ("lost" for a lost answer)
    duration: float = 0.0
    auth_scheme: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RequestLogEntry] = []

    def append(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
