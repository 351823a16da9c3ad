"""Waiting for a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def poll_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Call ``condition()`` until it is true or ``timeout`` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = 30, interval: float = 0.05
) -> None:
    """Return once ``condition()`` holds; AssertionError naming ``what`` after ``timeout``."""
    if not poll_until(condition, timeout, interval):
        raise AssertionError(f"{what} did not happen within {timeout:g} s")
