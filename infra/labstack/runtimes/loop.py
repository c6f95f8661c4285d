"""The loop every runtime runs: once labstack is warm, do one reconcile step every tick."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("labstack.runtimes")


def every(labstack: Any, seconds: float, step: Callable[[], None], name: str, stop: threading.Event) -> Callable[[], None]:
    """Run ``step`` every ``seconds`` in a daemon thread until ``stop`` is set; return a ``wake``
    that runs the next step now (an API call whose effect should not wait for the tick).

    A failing step is logged and the loop goes on: one bad tick must not end a runtime.
    """
    poked = threading.Event()

    def run() -> None:
        try:
            labstack.wait_warm(timeout=300)
        except (TimeoutError, RuntimeError):
            return
        while not stop.is_set():
            poked.wait(seconds)
            poked.clear()
            if stop.is_set():
                return
            try:
                step()
            except Exception:
                log.exception("%s failed", name)

    def wake() -> None:
        poked.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    return wake
