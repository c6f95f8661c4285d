"""Waiting in tests for what labstack does in the background."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(predicate: Callable[[], Any], seconds: float = 20, interval: float = 0.05) -> Any:
    """Poll ``predicate`` every ``interval`` seconds until it returns something true (returned); fail after
    ``seconds``. An ``interval`` of 0 catches a state the moment it shows."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {seconds}s")
