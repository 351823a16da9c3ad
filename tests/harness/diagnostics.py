"""Logs of helper processes, gathered when a test fails.

A failing e2e test is rarely understood from its assertion alone: what the CA,
certbot or the emulator said is what explains it. Fixtures register a source
for each of those here; ``tests/conftest.py`` adds every source as a section
of the failure report.
"""

from __future__ import annotations

from collections.abc import Callable

from .process import tail


class Diagnostics:
    def __init__(self) -> None:
        self._sources: list[tuple[str, Callable[[], str]]] = []

    def add(self, title: str, source: Callable[[], str]) -> None:
        self._sources.append((title, source))

    def sections(self, limit: int = 20_000) -> list[tuple[str, str]]:
        collected = []
        for title, source in self._sources:
            try:
                text = source()
            except Exception as exc:  # a broken source must not hide the real failure
                text = f"<could not collect: {exc!r}>"
            if text.strip():
                collected.append((title, tail(text, limit)))
        return collected
