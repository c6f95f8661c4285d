"""The locks that keep labstack's runtimes and moto's request threads from losing each other's writes.

moto's models are plain objects without locks. Requests write them on the gateway's threads, and some
runtimes write them too, from their own threads (the ECS service scheduler resolves a service's task
definition, rolls a failing deployment back, writes counts and task sets back). Each such service has
one lock per labstack: the gateway holds it while moto serves a request that may change that service's
state (its own requests, a stack's among them: CloudFormation makes ECS resources through ECS's API), and a
runtime holds it while it writes, checking under it that what it decided from is still so (a newer request wins).

Only the services a runtime writes are locked, and only for operations that write (a Describe, List or Get
reads: it takes no lock, and costs nothing more); the gateway reads a request's whole body before it takes
the lock, so a slow client never holds up another learner's calls or the runtime.
"""

from __future__ import annotations

import threading

# moto services whose models a runtime of labstack's writes from its own thread.
RECONCILED = frozenset({"ecs"})
# Requests of these services write those models.
_WRITES_INTO = {"ecs": "ecs"}
_READS = ("Describe", "List", "Get")  # operations that only read (botocore's naming, kept by every AWS API)


class MotoWrites:
    """One reentrant lock per reconciled moto service, for one labstack."""

    def __init__(self) -> None:
        self._locks = {service: threading.RLock() for service in RECONCILED}

    def lock(self, service: str) -> threading.RLock:
        """The lock of ``service`` (one of :data:`RECONCILED`)."""
        return self._locks[service]

    def lock_for(self, service: str | None, operation: str | None) -> threading.RLock | None:
        """The lock a request of ``service`` takes while moto serves ``operation``, or None when no runtime writes
        the service or the operation only reads (an operation not known is taken to write)."""
        if operation and operation.startswith(_READS):
            return None
        return self._locks.get(_WRITES_INTO.get(service or "", ""))
