"""The service scheduler: keeps each ECS service's desiredCount of tasks running, replaces
tasks that die (with back-off), rolls tasks to a new task definition, and registers running
tasks with the service's target groups. Counts and events are written back to moto's service,
so DescribeServices tells the truth.

Every write to moto's services and task sets is made under the ECS lock the gateway holds while moto
serves an ECS request (:mod:`labstack.motowrites`), and a write decided from the service's task
definition is dropped when a request changed it meanwhile: the newer UpdateService wins."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from labstack import motobridge
from labstack.runtimes.ecs.deployments import Deployments
from labstack.runtimes.ecs.tasks import RunningTask, now
from labstack.runtimes.ecs.tasksets import seed_primary
from labstack.runtimes.loop import every

log = logging.getLogger("labstack.ecs")
TICK_SECONDS = 0.25
MAX_BACKOFF_LAB_SECONDS = 15 * 60
# A deployment's tasks must stay RUNNING this long (lab time) before it counts as steady: a
# container that crashes on start-up is RUNNING for a moment, and must not complete a deployment.
STABLE_LAB_SECONDS = 60


@dataclass
class _Memory:
    """What the scheduler remembers of one service between ticks."""

    failures: int = 0
    next_start: float = 0.0
    registered: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # task → (group, ip, port)
    counted: set[str] = field(default_factory=set)  # stopped tasks already taken into account
    steady: bool = False
    deployments: Deployments = field(default_factory=Deployments)


class ServiceScheduler:
    """Reconciles moto's ECS services (deploymentController ECS) with the tasks that run."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.labstack = runtime.labstack
        self._memory: dict[str, _Memory] = {}
        self._seeded: set[str] = set()  # CODE_DEPLOY services whose initial task set exists
        self._stop = threading.Event()
        self._writes = self.labstack.moto_writes.lock("ecs")
        self.wake = every(self.labstack, TICK_SECONDS, self.reconcile, "ECS service scheduling", self._stop)

    def close(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        self._memory.clear()
        self._seeded.clear()

    def _initial_task_set(self, account: str, region: str, service: Any) -> None:
        """Seed a CODE_DEPLOY service's PRIMARY task set once (CreateService usually did already)."""
        self._seeded.add(service.arn)
        with self._writes:
            seed_primary(account, region, service)

    def reconcile(self) -> None:
        live: set[str] = set()
        for account, region, service in motobridge.ecs_services():
            controller = (service.deployment_controller or {}).get("type", "ECS")
            if controller == "ECS":
                live.add(service.arn)
                self._service(account, region, service)
            else:  # CODE_DEPLOY and EXTERNAL: each task set runs its own tasks
                if controller == "CODE_DEPLOY" and service.arn not in self._seeded:
                    self._initial_task_set(account, region, service)
                for task_set in list(service.task_sets):
                    live.add(task_set.task_set_arn)
                    self._task_set(account, region, service, task_set)
                self._orphans(account, region, service, {ts.id for ts in service.task_sets})
                with self._writes:  # as ECS reports it: a task-set service's counts are its task sets' tasks
                    motobridge.ecs_set_counts(service, sum(getattr(ts, "running_count", 0) or 0 for ts in service.task_sets),
                                              sum(getattr(ts, "pending_count", 0) or 0 for ts in service.task_sets))
        for key in [k for k in self._memory if k not in live]:
            self._forget(key, self._memory.pop(key))

    def _tasks(self, account: str, region: str, service: Any, started_by: str | None = None) -> list[RunningTask]:
        group = f"service:{service.name}"
        return [t for t in list(self.runtime.tasks.get(account, region).values())
                if t.record["group"] == group and t.record["clusterArn"] == service.cluster_arn
                and (started_by is None or t.record.get("startedBy") == started_by)]

    def _resolve(self, account: str, region: str, holder: Any) -> str | None:
        """ECS keeps the task definition's ARN, also when it was given as family[:revision]; returns the
        task definition this tick works with (None: a request changed it meanwhile, the next tick looks again)."""
        given = holder.task_definition
        if given and not given.startswith("arn:"):
            ecs = self.labstack.clients.get("ecs", account, region)
            resolved = ecs.describe_task_definition(taskDefinition=given)["taskDefinition"]["taskDefinitionArn"]
            return resolved if self._replace(holder, given, resolved) else None
        return given

    def _replace(self, holder: Any, seen: str, task_definition: str) -> bool:
        """Set ``holder``'s task definition unless a request changed it since it was ``seen``; whether it did."""
        with self._writes:
            if holder.task_definition != seen:
                log.info("task definition changed to %s meanwhile: %s is not written", holder.task_definition,
                         task_definition)
                return False
            motobridge.ecs_set_task_definition(holder, task_definition)
            return True

    def _service(self, account: str, region: str, service: Any) -> None:
        task_definition = self._resolve(account, region, service)
        if task_definition is None:
            return
        memory = self._memory.setdefault(service.arn, _Memory())
        desired = service.desired_count if service.status == "ACTIVE" else 0
        deployments = memory.deployments
        forced_at = self.runtime.forced_at(service.arn)
        deployments.track(task_definition, desired, service.launch_type, forced_at)
        tasks = self._tasks(account, region, service)
        config = self.runtime.deployment_configuration(service.arn)
        alive, running_current = self._keep(account, region, service, memory, tasks, desired, task_definition,
                                            service.load_balancers, f"ecs-svc/{service.name}",
                                            may_start=deployments.primary["rolloutState"] != "FAILED",
                                            max_percent=config.get("maximumPercent", 200),
                                            min_percent=config.get("minimumHealthyPercent", 100), newer_than=forced_at)
        back_to = deployments.trip(config, desired, lambda text: self._event(service, f"(service {service.name}) {text}"))
        if back_to is not None:  # the next tick starts the rollback deployment (an UpdateService since supersedes it)
            self._replace(service, task_definition, back_to)
        with self._writes:
            self._write_back(service, memory, desired, alive, running_current, task_definition)

    def _task_set(self, account: str, region: str, service: Any, task_set: Any) -> None:
        """A task set keeps ``scale`` percent of the service's desired count running (rounded up)."""
        task_definition = self._resolve(account, region, task_set)
        if task_definition is None:
            return
        memory = self._memory.setdefault(task_set.task_set_arn, _Memory())
        percent = float((task_set.scale or {}).get("value", 100.0))
        desired = math.ceil(service.desired_count * percent / 100) if service.status == "ACTIVE" else 0
        tasks = self._tasks(account, region, service, started_by=task_set.id)
        alive, running = self._keep(account, region, service, memory, tasks, desired, task_definition,
                                    task_set.load_balancers, task_set.id)
        steady = len(running) == desired == len(alive)
        with self._writes:
            motobridge.ecs_set_counts(task_set, len(running), max(0, len(alive) - len(running)), desired)
            motobridge.ecs_set_stability(task_set, steady, now())

    def _orphans(self, account: str, region: str, service: Any, task_set_ids: set[str]) -> None:
        """Tasks whose task set was deleted stop."""
        for task in self._tasks(account, region, service):
            if task.record.get("startedBy") not in task_set_ids and task.record["desiredStatus"] == "RUNNING":
                self.runtime.runner.stop(task, "Task set deleted", "ServiceSchedulerInitiated")

    def _forget(self, key: str, memory: _Memory) -> None:
        """A service or task set that is gone leaves its target groups."""
        _, _, _, region, account, _ = key.split(":", 5)
        elb = self.labstack.clients.get("elbv2", account, region)
        for targets in memory.registered.values():
            for group, ip, port in targets:
                try:
                    elb.deregister_targets(TargetGroupArn=group, Targets=[{"Id": ip, "Port": port}])
                except (elb.exceptions.InvalidTargetException, elb.exceptions.TargetGroupNotFoundException):
                    pass

    def _keep(self, account: str, region: str, service: Any, memory: _Memory, tasks: list[RunningTask], desired: int,
              task_definition: str, load_balancers: list[dict], started_by: str, may_start: bool = True,
              max_percent: int = 200, min_percent: int = 100,
              newer_than: Any = None) -> tuple[list[RunningTask], list[RunningTask]]:
        """Start what is missing, stop what is extra or outdated; returns (alive, running current)."""
        for task in tasks:
            if task.record["desiredStatus"] == "RUNNING" and task.record.get("healthStatus") == "UNHEALTHY":
                self.runtime.runner.stop(task, "Task failed container health checks", "ServiceSchedulerInitiated")
                self._event(service, f"(service {service.name}) (task {task.record['taskArn'].rsplit('/', 1)[1]}) "
                                     "failed container health checks.")
        alive = [t for t in tasks if t.record["desiredStatus"] == "RUNNING"]
        self._note_failures(service, memory, tasks)
        # Current: tasks of the service's task definition, started after a forceNewDeployment if any.
        current = [t for t in alive if t.record["taskDefinitionArn"] == task_definition
                   and (newer_than is None or t.record["createdAt"] >= newer_than)]
        old = [t for t in alive if t not in current]
        running_current = [t for t in current if t.record["lastStatus"] == "RUNNING"]
        # Start what is missing, never more than maximumPercent of desired alive at once.
        room = max(0, math.floor(desired * max_percent / 100) - len(alive))
        wanted = min(desired - len(current), room)
        if wanted > 0 and may_start and time.monotonic() >= memory.next_start:
            definition = self.labstack.clients.get("ecs", account, region).describe_task_definition(
                taskDefinition=task_definition)["taskDefinition"]
            for _ in range(wanted):
                self.runtime.launch(account, region, service.cluster_arn, definition, f"service:{service.name}",
                                    started_by, service.launch_type or "FARGATE")
            self._event(service, f"(service {service.name}) has started {wanted} tasks.")
        # Stop old tasks while at least minimumHealthyPercent of desired keeps running, and any extra.
        keep_old = max(0, math.ceil(desired * min_percent / 100) - len(running_current))
        for task in old[keep_old:] + current[desired:]:
            self.runtime.runner.stop(task, "Scaling activity initiated by (deployment ecs-svc)", "ServiceSchedulerInitiated")
            self._event(service, f"(service {service.name}) has stopped 1 running tasks: (task {task.record['taskArn'].rsplit('/', 1)[1]}).")
        self._balance(account, region, load_balancers, memory, tasks)
        return alive, running_current

    def _note_failures(self, service: Any, memory: _Memory, tasks: list[RunningTask]) -> None:
        """Tasks that stopped on their own push the next start back, as ECS's throttle does."""
        for task in tasks:
            if task.record["taskArn"] in memory.counted:
                continue  # a stopped task counted once: no copy of it at every tick (a service keeps many)
            record = task.snapshot()
            if record["lastStatus"] == "STOPPED":
                memory.counted.add(record["taskArn"])
                if record.get("stopCode") in ("EssentialContainerExited", "TaskFailedToStart") or \
                        record.get("stoppedReason") == "Task failed container health checks":
                    memory.deployments.task_failed(record["taskDefinitionArn"])
                if record.get("stopCode") in ("EssentialContainerExited", "TaskFailedToStart"):
                    memory.failures += 1
                    delay = min(MAX_BACKOFF_LAB_SECONDS, 10 * 2 ** min(memory.failures, 10))
                    memory.next_start = time.monotonic() + self.labstack.clock.real_seconds(delay)
                    self._event(service, f"(service {service.name}) task {record['taskArn'].rsplit('/', 1)[1]} "
                                         f"stopped: {record.get('stoppedReason')}")
                elif record.get("stopCode") != "ServiceSchedulerInitiated":
                    memory.failures = 0

    def _balance(self, account: str, region: str, load_balancers: list[dict], memory: _Memory,
                 tasks: list[RunningTask]) -> None:
        """Running tasks in the target groups; stopped ones out."""
        if not load_balancers and not memory.registered:
            return
        elb = self.labstack.clients.get("elbv2", account, region)
        for task in tasks:
            arn = task.record["taskArn"]
            running = task.record["lastStatus"] == "RUNNING" and task.record["desiredStatus"] == "RUNNING"
            if running and arn not in memory.registered:
                targets = []
                for balancer in load_balancers:
                    binding = next((b for c in task.record["containers"] if c["name"] == balancer.get("containerName")
                                    for b in c.get("networkBindings", []) if b["containerPort"] == balancer.get("containerPort")), None)
                    if binding and balancer.get("targetGroupArn"):
                        elb.register_targets(TargetGroupArn=balancer["targetGroupArn"],
                                             Targets=[{"Id": binding["bindIP"], "Port": binding["hostPort"]}])
                        targets.append((balancer["targetGroupArn"], binding["bindIP"], binding["hostPort"]))
                memory.registered[arn] = targets
            elif not running and arn in memory.registered:
                for group, ip, port in memory.registered.pop(arn):
                    try:
                        elb.deregister_targets(TargetGroupArn=group, Targets=[{"Id": ip, "Port": port}])
                    except (elb.exceptions.InvalidTargetException, elb.exceptions.TargetGroupNotFoundException):
                        pass

    def _write_back(self, service: Any, memory: _Memory, desired: int, alive: list[RunningTask],
                    running_current: list[RunningTask], task_definition: str) -> None:
        running = sum(1 for t in alive if t.record["lastStatus"] == "RUNNING")
        motobridge.ecs_set_counts(service, running, max(0, len(alive) - running))
        settled = now() - dt.timedelta(seconds=self.labstack.clock.real_seconds(STABLE_LAB_SECONDS))
        steady = len(running_current) == desired and len(alive) == desired and all(
            t.record.get("startedAt", settled) <= settled for t in running_current)
        forced_at = self.runtime.forced_at(service.arn)
        old_alive = sum(1 for t in alive if t.record["taskDefinitionArn"] != task_definition
                        or (forced_at is not None and t.record["createdAt"] < forced_at))
        memory.deployments.settle(desired, len(running_current), max(0, desired - len(running_current)), steady, old_alive)
        motobridge.ecs_set_deployments(service, [dict(d) for d in memory.deployments.items])  # a copy: moto edits its own
        if steady and not memory.steady:
            self._event(service, f"(service {service.name}) has reached a steady state.")
        memory.steady = steady

    @staticmethod
    def _event(service: Any, message: str) -> None:
        motobridge.ecs_add_event(service, {"id": f"{time.time_ns():x}", "createdAt": now(), "message": message})
        log.info(message)
