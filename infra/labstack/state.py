"""Per account+region state for labstack's own services, and the hooks that reset it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class AccountRegionStore(Generic[T]):
    """One ``T`` per (account, region), made on first use by ``factory``.

    ``lock`` serialises changes across the whole store; providers hold it while
    they read-modify-write, which keeps concurrent requests consistent.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: dict[tuple[str, str], T] = {}
        self.lock = threading.RLock()

    def get(self, account: str, region: str) -> T:
        with self.lock:
            key = (account, region)
            if key not in self._items:
                self._items[key] = self._factory()
            return self._items[key]

    def items(self) -> Iterator[tuple[tuple[str, str], T]]:
        with self.lock:
            return iter(list(self._items.items()))

    def values(self) -> Iterator[T]:
        with self.lock:
            return iter(list(self._items.values()))

    def reset(self) -> None:
        with self.lock:
            self._items.clear()


class Hooks:
    """Callbacks run on ``labstack reset`` (stop work, drop state; then set up anew on the empty
    store) and at shutdown."""

    def __init__(self) -> None:
        self._reset: list[Callable[[], None]] = []
        self._after_reset: list[Callable[[], None]] = []
        self._shutdown: list[Callable[[], None]] = []

    def on_reset(self, fn: Callable[[], None]) -> None:
        self._reset.append(fn)

    def after_reset(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once every store is empty again (what a fresh labstack starts with)."""
        self._after_reset.append(fn)

    def on_shutdown(self, fn: Callable[[], None]) -> None:
        self._shutdown.append(fn)

    def run_reset(self) -> None:
        for fn in self._reset:
            fn()

    def run_after_reset(self) -> None:
        for fn in self._after_reset:
            fn()

    def run_shutdown(self) -> None:
        for fn in self._shutdown:
            fn()
