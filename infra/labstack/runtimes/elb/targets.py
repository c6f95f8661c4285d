"""Registered targets, kept by labstack: ELB keys a target by (Id, Port), so two tasks on
127.0.0.1 with different ports are two targets (moto keeps one per Id)."""

from __future__ import annotations

import threading
import time

from labstack.clock import LabClock

Target = tuple[str, int]


class TargetRegistry:
    """Per target group: registered targets, and deregistered ones draining until their delay ends."""

    def __init__(self, clock: LabClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, list[Target]] = {}
        self._draining: dict[str, dict[Target, float]] = {}

    def register(self, group: str, targets: list[Target]) -> None:
        with self._lock:
            active = self._active.setdefault(group, [])
            for target in targets:
                self._draining.get(group, {}).pop(target, None)
                if target not in active:
                    active.append(target)

    def deregister(self, group: str, targets: list[Target], delay_lab_seconds: float) -> list[Target]:
        """Start draining ``targets``; returns those that were not registered (nothing changes for them)."""
        with self._lock:
            active = self._active.get(group, [])
            unknown = [t for t in targets if t not in active]
            until = time.monotonic() + self.clock.real_seconds(delay_lab_seconds)
            for target in targets:
                if target in active:
                    active.remove(target)
                    self._draining.setdefault(group, {})[target] = until
            return unknown

    def active(self, group: str) -> tuple[Target, ...]:
        with self._lock:
            return tuple(self._active.get(group, ()))

    def draining(self, group: str) -> tuple[Target, ...]:
        """Targets still draining (their deregistration delay has not passed)."""
        now = time.monotonic()
        with self._lock:
            waiting = self._draining.get(group, {})
            for target in [t for t, until in waiting.items() if until <= now]:
                del waiting[target]
            return tuple(waiting)

    def forget_groups_except(self, groups: set[str]) -> None:
        """Drop what belonged to target groups that no longer exist."""
        with self._lock:
            for table in (self._active, self._draining):
                for group in [g for g in table if g not in groups]:
                    del table[group]

    def reset(self) -> None:
        with self._lock:
            self._active.clear()
            self._draining.clear()
