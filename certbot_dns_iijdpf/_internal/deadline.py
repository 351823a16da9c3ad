"""A run's time budget.

certbot runs this plugin unattended from a timer, and nothing above it stops
a run that hangs.  One :class:`Deadline` is shared by the HTTP client, the job
waiter and the propagation waiter of a run: each of them caps its timeouts and
sleeps by :meth:`Deadline.remaining` and gives up with
:class:`~certbot_dns_iijdpf._internal.errors.RunTimeoutError` once the budget is spent,
so that a slow or stalling DPF cannot keep a renewal waiting for hours.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from certbot_dns_iijdpf._internal.errors import RunTimeoutError

DEFAULT_OPTION = "--dns-iijdpf-timeout-seconds"


class Deadline:
    """The end of a run's time budget, on a monotonic clock."""

    def __init__(
        self,
        seconds: float,
        *,
        what: str = DEFAULT_OPTION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if math.isnan(seconds) or seconds < 0:
            raise ValueError(f"a time budget must be zero or more seconds, not {seconds!r}")
        self._seconds = float(seconds)
        self.what = what
        self._clock = clock
        self._end = clock() + self._seconds

    @classmethod
    def unbounded(cls) -> Deadline:
        """A budget that never runs out, for callers that set no limit."""
        return cls(math.inf)

    @property
    def seconds(self) -> float:
        """The configured budget (not counting :meth:`extend`)."""
        return self._seconds

    @property
    def bounded(self) -> bool:
        return not math.isinf(self._end)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def cap(self, seconds: float) -> float:
        """``seconds``, or less if the budget ends sooner."""
        return min(seconds, self.remaining())

    def check(self, waiting_for: str) -> None:
        """Raise :class:`RunTimeoutError` naming ``waiting_for`` if the budget is spent."""
        if self.expired():
            raise self.error(waiting_for)

    def error(self, waiting_for: str, reason: str = "") -> RunTimeoutError:
        """The error to raise when waiting for ``waiting_for`` would overrun the budget."""
        return RunTimeoutError(waiting_for, self._seconds, option=self.what, reason=reason)

    def extend(self, min_remaining: float) -> None:
        """Move the end later, if needed, so that at least ``min_remaining`` seconds remain.

        Cleanup must run even after a perform that used up the whole budget;
        this gives it a slice of its own without ever shortening the budget.
        """
        self._end = max(self._end, self._clock() + min_remaining)

    def __repr__(self) -> str:
        return f"Deadline(seconds={self._seconds!r}, remaining={self.remaining():.1f})"
