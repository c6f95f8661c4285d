"""Plain HTTP routes that are not AWS APIs (a git server, a listener URL), by path prefix."""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class Routes:
    """Path prefixes mapped to WSGI apps; the longest matching prefix wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, WsgiApp] = {}

    def add(self, prefix: str, app: WsgiApp) -> None:
        """Serve every path under ``prefix`` (which must start and end with ``/``) with ``app``."""
        if not (prefix.startswith("/") and prefix.endswith("/")) or prefix.startswith(("/_labstack/", "/_localstack/")):
            raise ValueError(f"route prefix {prefix!r} must look like /name/ and not be labstack's own")
        with self._lock:
            if prefix in self._routes:
                raise ValueError(f"route {prefix} is taken")
            self._routes[prefix] = app

    def match(self, path: str) -> WsgiApp | None:
        """The app for ``path``, or None when it is an AWS request."""
        with self._lock:
            best = max((p for p in self._routes if path.startswith(p)), key=len, default=None)
            return self._routes[best] if best else None
