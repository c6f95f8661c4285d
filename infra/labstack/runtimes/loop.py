"""The loop every runtime runs: once labstack is warm, do one reconcile step every tick."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger("labstack.runtimes")


def every(labstack: Any, seconds: float, step: Callable[[], None], name: str, stop: threading.Event) -> None:
    """Run ``step`` every ``seconds`` in a daemon thread until ``stop`` is set.

    A failing step is logged and the loop goes on: one bad tick must not end a runtime.
    """

    def run() -> None:
        try:
            labstack.wait_warm(timeout=300)
        except (TimeoutError, RuntimeError):
            return
        while not stop.wait(seconds):
            try:
                step()
            except Exception:
                log.exception("%s failed", name)

    threading.Thread(target=run, name=name, daemon=True).start()
