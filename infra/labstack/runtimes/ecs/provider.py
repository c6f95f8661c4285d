"""The ECS runtime's overlay: RunTask, StopTask, DescribeTasks and ListTasks answer with tasks
that really run; moto keeps clusters, task definitions and services, and the service
scheduler keeps each service's tasks running."""

from __future__ import annotations

import uuid
from typing import Any

from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack import motobridge
from labstack.protocol.provider import Provider
from labstack.runtimes.ecs.services import ServiceScheduler
from labstack.runtimes.ecs.tasks import RunningTask, TaskRunner, now
from labstack.runtimes.ecs.tasksets import seed_primary
from labstack.runtimes.logship import LogShipper
from labstack.state import AccountRegionStore


MOTO_CREATE_DROPS = ("healthCheckGracePeriodSeconds", "capacityProviderStrategy", "placementConstraints",
                     "placementStrategy", "enableECSManagedTags", "enableExecuteCommand", "availabilityZoneRebalancing")
"""CreateService parameters moto's CreateService does not keep."""


class EcsRuntime(Provider):
    """Standalone tasks as local processes (services and task sets build on the same runner)."""

    service = "ecs"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.tasks: AccountRegionStore[dict[str, RunningTask]] = AccountRegionStore(dict)
        self.logs = LogShipper(labstack.clients)
        labstack.hooks.on_shutdown(self.logs.close)
        self.runner = TaskRunner(labstack, self.logs.ship, on_change=lambda: self.scheduler.wake())
        self._deployment_configuration: dict[str, dict[str, Any]] = {}
        self._forced: dict[str, Any] = {}  # service ARN -> when forceNewDeployment was asked
        self.scheduler = ServiceScheduler(self)
        labstack.hooks.on_reset(self._stop_everything)
        labstack.hooks.on_reset(self.scheduler.reset)
        labstack.hooks.on_shutdown(self.scheduler.close)
        labstack.hooks.on_shutdown(self._stop_everything)

    def deployment_configuration(self, service_arn: str) -> dict[str, Any]:
        """What CreateService/UpdateService said (moto does not keep it); ECS's defaults otherwise."""
        return self._deployment_configuration.get(service_arn, {"maximumPercent": 200, "minimumHealthyPercent": 100})

    def _remember(self, service: dict[str, Any], request: dict) -> dict[str, Any]:
        if request.get("deploymentConfiguration") is not None:
            known = dict(self.deployment_configuration(service["serviceArn"]))
            known.update(request["deploymentConfiguration"])
            self._deployment_configuration[service["serviceArn"]] = known
        service["deploymentConfiguration"] = self.deployment_configuration(service["serviceArn"])
        return service

    def create_service(self, ctx: RequestContext, request: dict) -> dict:
        moto = self.labstack.clients.moto("ecs", ctx.account, ctx.region)
        service = without_metadata(moto.create_service(**request))["service"]
        dropped = {key: request[key] for key in MOTO_CREATE_DROPS if key in request}
        if dropped:  # moto's CreateService leaves them out; its UpdateService keeps them, so DescribeServices tells them
            service = without_metadata(moto.update_service(cluster=service["clusterArn"], service=service["serviceArn"],
                                                           **dropped))["service"]
        if (request.get("deploymentController") or {}).get("type") == "CODE_DEPLOY":
            created = motobridge.ecs_service(ctx.account, ctx.region, service["clusterArn"].rsplit("/", 1)[-1],
                                             service["serviceName"])
            with self.labstack.moto_writes.lock("ecs"):  # the scheduler may seed it at the same moment
                seed_primary(ctx.account, ctx.region, created)
            service = without_metadata(moto.describe_services(cluster=service["clusterArn"], services=[service["serviceArn"]]))["services"][0]
        self.scheduler.wake()  # its tasks start now, not at the next tick
        return {"service": self._remember(service, request)}

    def create_task_set(self, ctx: RequestContext, request: dict) -> dict:
        """moto keeps the task set; its scale is set afterwards, since moto would otherwise record
        tasks of its own for it (the service scheduler runs the real ones)."""
        moto = self.labstack.clients.moto("ecs", ctx.account, ctx.region)
        scale = request.pop("scale", None)
        created = without_metadata(moto.create_task_set(**request))["taskSet"]
        if scale is not None:
            created = without_metadata(moto.update_task_set(cluster=request["cluster"], service=request["service"],
                                                            taskSet=created["taskSetArn"], scale=scale))["taskSet"]
        self.scheduler.wake()
        return {"taskSet": created}

    def forced_at(self, service_arn: str) -> Any:
        """When the service's last forceNewDeployment was asked for (None: never)."""
        return self._forced.get(service_arn)

    def update_service(self, ctx: RequestContext, request: dict) -> dict:
        moto = self.labstack.clients.moto("ecs", ctx.account, ctx.region)
        service = without_metadata(moto.update_service(**request))["service"]
        if request.get("forceNewDeployment"):
            self._forced[service["serviceArn"]] = now()
        self.scheduler.wake()
        return {"service": self._remember(service, request)}

    def describe_services(self, ctx: RequestContext, request: dict) -> dict:
        moto = self.labstack.clients.moto("ecs", ctx.account, ctx.region)
        answer = without_metadata(moto.describe_services(**request))
        for service in answer.get("services", []):
            service["deploymentConfiguration"] = self.deployment_configuration(service["serviceArn"])
        return answer

    def _stop_everything(self) -> None:
        every = [task for _key, tasks in self.tasks.items() for task in tasks.values()]
        self.runner.shutdown(every)
        self.tasks.reset()
        self._deployment_configuration.clear()
        self._forced.clear()

    def _cluster(self, ctx: RequestContext, name: str | None) -> str:
        ecs = self.labstack.clients.get("ecs", ctx.account, ctx.region)
        found = ecs.describe_clusters(clusters=[name or "default"])
        if not found["clusters"]:
            raise AwsError("ClusterNotFoundException", "Cluster not found.")
        return found["clusters"][0]["clusterArn"]

    def _definition(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        ecs = self.labstack.clients.get("ecs", ctx.account, ctx.region)
        try:
            return ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]
        except ecs.exceptions.ClientException:
            raise AwsError("ClientException", "Unable to describe task definition.") from None

    def run_task(self, ctx: RequestContext, request: dict) -> dict:
        cluster = self._cluster(ctx, request.get("cluster"))
        definition = self._definition(ctx, request["taskDefinition"])
        count = request.get("count", 1)
        if not 1 <= count <= 10:
            raise AwsError("InvalidParameterException", "count must be between 1 and 10")
        started = [self.launch(ctx.account, ctx.region, cluster, definition, request.get("group") or f"family:{definition['family']}",
                               request.get("startedBy"), request.get("launchType", "FARGATE"), request.get("overrides"))
                   for _ in range(count)]
        return {"tasks": started, "failures": []}

    def launch(self, account: str, region: str, cluster: str, definition: dict[str, Any], group: str,
               started_by: str | None, launch_type: str = "FARGATE", overrides: dict | None = None) -> dict[str, Any]:
        """Create one task and start its life; returns the record as RunTask answers it."""
        task_id = uuid.uuid4().hex
        cluster_name = cluster.rsplit("/", 1)[1]
        prefix = f"arn:aws:ecs:{region}:{account}"
        arn = f"{prefix}:task/{cluster_name}/{task_id}"
        record = {
            "taskArn": arn, "clusterArn": cluster, "taskDefinitionArn": definition["taskDefinitionArn"],
            "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING", "createdAt": now(), "version": 1,
            "launchType": launch_type, "startedBy": started_by, "group": group, "healthStatus": "UNKNOWN",
            "cpu": definition.get("cpu"), "memory": definition.get("memory"), "overrides": overrides or {},
            "containers": [{"containerArn": f"{prefix}:container/{cluster_name}/{task_id}/{uuid.uuid4()}",
                            "taskArn": arn, "name": c["name"], "image": c["image"], "lastStatus": "PENDING",
                            "healthStatus": "UNKNOWN", "networkBindings": []}
                           for c in definition["containerDefinitions"]],
        }
        task = RunningTask({k: v for k, v in record.items() if v is not None}, definition, account, region)
        with self.tasks.lock:
            self.tasks.get(account, region)[arn] = task
        snapshot = task.snapshot()  # as RunTask answers: PROVISIONING
        self.runner.start(task)
        return snapshot

    def _find(self, ctx: RequestContext, cluster: str, task_id: str) -> RunningTask | None:
        tasks = self.tasks.get(ctx.account, ctx.region)
        return next((t for arn, t in list(tasks.items())
                     if (arn == task_id or arn.endswith("/" + task_id)) and t.record["clusterArn"] == cluster), None)

    def stop_task(self, ctx: RequestContext, request: dict) -> dict:
        cluster = self._cluster(ctx, request.get("cluster"))
        task = self._find(ctx, cluster, request["task"])
        if task is None:
            raise AwsError("InvalidParameterException", "The referenced task was not found.")
        self.runner.stop(task, request.get("reason") or "Task stopped by user")
        return {"task": task.snapshot()}

    def describe_tasks(self, ctx: RequestContext, request: dict) -> dict:
        cluster = self._cluster(ctx, request.get("cluster"))
        found, failures = [], []
        for wanted in request["tasks"]:
            task = self._find(ctx, cluster, wanted)
            if task is None:
                failures.append({"arn": wanted, "reason": "MISSING"})
            else:
                found.append(task.snapshot())
        return {"tasks": found, "failures": failures}

    def list_tasks(self, ctx: RequestContext, request: dict) -> dict:
        cluster = self._cluster(ctx, request.get("cluster"))
        status = request.get("desiredStatus", "RUNNING")
        arns = []
        for arn, task in list(self.tasks.get(ctx.account, ctx.region).items()):
            record = task.snapshot()
            if record["clusterArn"] != cluster or record["desiredStatus"] != status:
                continue
            if request.get("family") and record["group"] != f"family:{request['family']}":
                continue
            if request.get("startedBy") and record.get("startedBy") != request["startedBy"]:
                continue
            if request.get("serviceName") and record["group"] != f"service:{request['serviceName']}":
                continue
            arns.append(arn)
        return {"taskArns": arns}

    def activity_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for (account, _region), tasks in self.tasks.items():
            running = sum(1 for t in tasks.values() if t.snapshot()["lastStatus"] == "RUNNING")
            if running:
                counts.setdefault(account, {"tasks": 0})["tasks"] += running
        return counts


PROVIDER = EcsRuntime
