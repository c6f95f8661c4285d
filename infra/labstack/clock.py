"""The lab clock: one place where AWS's minute-scale waits are compressed.

``LABSTACK_TIME_SCALE`` (default 60) says how many lab seconds pass per real second,
so a five-minute canary interval lasts five real seconds. Work itself (commands,
requests) is never scaled: only waits that AWS imposes go through this clock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass


def now() -> dt.datetime:
    """The current time in UTC (timestamps AWS APIs report are wall-clock, never lab time)."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Deadline:
    """A point in real (monotonic) time computed from a lab duration."""

    at: float

    def remaining_real(self) -> float:
        """Real seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at


class LabClock:
    """Scaled sleeps and deadlines shared by every part of labstack."""

    def __init__(self, scale: float = 60.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be greater than 0")
        self.scale = scale
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._waiters = 0

    def real_seconds(self, lab_seconds: float) -> float:
        """How long ``lab_seconds`` of lab time lasts in real time."""
        return max(0.0, lab_seconds) / self.scale

    def lab_seconds(self, real_seconds: float) -> float:
        """How much lab time passes in ``real_seconds``."""
        return max(0.0, real_seconds) * self.scale

    def deadline(self, lab_seconds: float) -> Deadline:
        """A deadline ``lab_seconds`` of lab time from now."""
        return Deadline(time.monotonic() + self.real_seconds(lab_seconds))

    def sleep(self, lab_seconds: float, cancel: threading.Event | None = None) -> bool:
        """Wait ``lab_seconds`` of lab time.

        Returns False if ``cancel`` was set (or the clock was interrupted by
        :meth:`interrupt`, e.g. on reset or shutdown) before the time was up.
        """
        deadline = self.deadline(lab_seconds)
        with self._lock:
            self._waiters += 1
            wake = self._wake
        try:
            while True:
                left = deadline.remaining_real()
                if left <= 0:
                    return True
                if cancel is not None and cancel.is_set():
                    return False
                if wake.wait(min(left, 0.05) if cancel is not None else left):
                    return False
        finally:
            with self._lock:
                self._waiters -= 1

    def interrupt(self) -> None:
        """Wake every sleeper now (they return False); later sleeps are unaffected."""
        with self._lock:
            self._wake.set()
            self._wake = threading.Event()

    @property
    def sleepers(self) -> int:
        """How many threads are in :meth:`sleep` right now."""
        with self._lock:
            return self._waiters
