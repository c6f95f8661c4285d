"""Waiting with a progress bar: a widget in Jupyter, a text bar elsewhere (tqdm picks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
EVERY = 0.25  # seconds between two looks: a wait ends at most this long after its condition holds


class WaitTimedOut(TimeoutError):
    """A wait that ran out of time; in Jupyter it shows as one line, not a traceback."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows these lines instead of a traceback."""
        return [f"✗ {self}"]


def wait(condition: Callable[[], T], *, timeout: float = 120, every: float = EVERY, label: str = "waiting") -> T:
    """Call ``condition`` every ``every`` seconds until it returns something truthy; return that.

    The bar fills with the time spent out of ``timeout``; WaitTimedOut says what was awaited.
    """
    start = time.monotonic()
    with tqdm(total=round(timeout), desc=label, unit="s", bar_format="{desc} {bar} {n:.0f}/{total:.0f} s",
              leave=True) as bar:
        while True:
            value = condition()
            elapsed = time.monotonic() - start
            bar.n = min(round(elapsed), bar.total)
            bar.refresh()
            if value:
                bar.set_description_str(f"{label} ✓")
                return value
            if elapsed >= timeout:
                raise WaitTimedOut(f"{label}: still not done after {timeout:.0f} s")
            time.sleep(every)
