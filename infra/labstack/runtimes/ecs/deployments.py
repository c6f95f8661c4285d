"""A service's deployments as ECS lists them (the PRIMARY first), and the deployment
circuit breaker: too many tasks of a new deployment failing marks it FAILED and, with
rollback on, returns the service to the last deployment that completed."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labstack.runtimes.ecs.tasks import now


def failure_threshold(desired: int) -> int:
    """ECS's threshold: half the desired count, at least 3 and at most 200 tasks."""
    return min(200, max(3, math.ceil(desired * 0.5)))


@dataclass
class Deployments:
    """The deployments of one service (deploymentController ECS)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    last_completed: dict[str, Any] | None = None

    @property
    def primary(self) -> dict[str, Any]:
        return self.items[0]

    def track(self, task_definition: str, desired: int, launch_type: str | None, forced_at: dt.datetime | None = None) -> None:
        """A new task definition (or forceNewDeployment) starts a new PRIMARY deployment."""
        if self.items and self.primary["taskDefinition"] == task_definition and (
                forced_at is None or self.primary["createdAt"] >= forced_at):
            return
        for item in self.items:
            item["status"] = "ACTIVE"
        stamp = now()
        self.items.insert(0, {
            "id": f"ecs-svc/{uuid.uuid4().int % 10**19:019d}", "status": "PRIMARY", "taskDefinition": task_definition,
            "desiredCount": desired, "pendingCount": 0, "runningCount": 0, "failedTasks": 0,
            "createdAt": stamp, "updatedAt": stamp, "launchType": launch_type or "FARGATE",
            "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment in progress.",
        })

    def task_failed(self, task_definition: str) -> None:
        if self.items and self.primary["taskDefinition"] == task_definition:
            self.primary["failedTasks"] += 1

    def trip(self, config: dict[str, Any], desired: int, event: Callable[[str], None]) -> str | None:
        """Apply the circuit breaker; returns the task definition to roll back to, if any."""
        breaker = config.get("deploymentCircuitBreaker") or {}
        primary = self.primary
        if not breaker.get("enable") or primary["rolloutState"] != "IN_PROGRESS":
            return None
        if primary["failedTasks"] < failure_threshold(desired):
            return None
        primary.update(rolloutState="FAILED", updatedAt=now(),
                       rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
        event(f"(deployment {primary['id']}) deployment failed: tasks failed to start.")
        if not breaker.get("rollback"):
            return None
        previous = self.last_completed
        if previous is None or previous["id"] == primary["id"]:
            return None
        event(f"(deployment {primary['id']}) rolling back to deployment {previous['id']}.")
        return previous["taskDefinition"]

    def settle(self, desired: int, running: int, pending: int, steady: bool, old_alive: int) -> None:
        """Counts on the PRIMARY; COMPLETED once steady; older ones leave when their tasks are gone."""
        primary = self.primary
        primary.update(desiredCount=desired, runningCount=running, pendingCount=pending, updatedAt=now())
        if steady and primary["rolloutState"] == "IN_PROGRESS":
            primary.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {primary['id']} completed.")
            self.last_completed = dict(primary)
        if old_alive == 0:
            del self.items[1:]
