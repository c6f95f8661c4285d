"""ECS for stacks: Cluster (settings, capacity providers), TaskDefinition (a new revision on every
replacing update) and Service (deployment controller, load balancers, network configuration), made
through ECS's API on labstack, whose ECS runtime runs the service's tasks. As CloudFormation does, a
service's creation and update wait for the service to be stable, and its deletion scales it to 0 first.

Ref and Fn::GetAtt as AWS's template reference says:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-cluster.html (Ref: name; Arn),
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-taskdefinition.html (Ref: ARN),
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html (Ref: ARN; Name, ServiceArn).
"""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.resource import Context, HandlerError, NeedsReplacement, ResourceType, Result
from labstack.services.cloudformation.types.common import (all_tags, delete_when_free, refuse, tag_changes,
                                                           unless_gone, user_tags)

STABLE_LAB_SECONDS = 3 * 60 * 60  # CloudFormation waits up to three hours for a service to be stable
DRAIN_LAB_SECONDS = 30 * 60  # for a deleted service's tasks to stop, and a cluster's services to go


def _ecs_tags(tags: list[dict]) -> list[dict]:
    return [{"key": t["Key"], "value": t["Value"]} for t in tags]


def _retag(ctx: Context, arn: str, old: dict, new: dict) -> None:
    added, removed = tag_changes(old, new)
    ecs = ctx.client("ecs")
    if removed:
        ecs.untag_resource(resourceArn=arn, tagKeys=removed)
    if added:
        ecs.tag_resource(resourceArn=arn, tags=_ecs_tags(added))


def _live_tags(ctx: Context, arn: str) -> list[dict]:
    return user_tags(ctx.client("ecs").list_tags_for_resource(resourceArn=arn).get("tags"), "key", "value")


class Cluster(ResourceType):
    """AWS::ECS::Cluster. Ref: the cluster's name; GetAtt Arn."""

    type_name = "AWS::ECS::Cluster"
    UNSUPPORTED = ("ServiceConnectDefaults",)
    RENAME = {"ClusterSettings": "settings"}

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, self.UNSUPPORTED)
        name = props.get("ClusterName") or ctx.name(255)
        args = to_api("ecs", "CreateCluster", props | {"ClusterName": name}, drop=("Tags",), rename=self.RENAME)
        cluster = ctx.client("ecs").create_cluster(**args, tags=_ecs_tags(all_tags(ctx, props)))["cluster"]
        return Result(name, {"Arn": cluster["clusterArn"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        refuse(self.type_name, new, self.UNSUPPORTED)
        ecs = ctx.client("ecs")
        changed = {k for k in ("ClusterSettings", "Configuration") if old.get(k) != new.get(k)}
        if changed:
            settings = {k: new.get(k) for k in changed}
            args = to_api("ecs", "UpdateCluster", {k: v if v is not None else ([] if k == "ClusterSettings" else {})
                                                   for k, v in settings.items()}, rename=self.RENAME)
            ecs.update_cluster(cluster=physical_id, **args)
        if any(old.get(k) != new.get(k) for k in ("CapacityProviders", "DefaultCapacityProviderStrategy")):
            args = to_api("ecs", "PutClusterCapacityProviders",
                          {"CapacityProviders": new.get("CapacityProviders") or [],
                           "DefaultCapacityProviderStrategy": new.get("DefaultCapacityProviderStrategy") or []})
            ecs.put_cluster_capacity_providers(cluster=physical_id, **args)
        arn = ecs.describe_clusters(clusters=[physical_id])["clusters"][0]["clusterArn"]
        _retag(ctx, arn, old, new)
        return Result(physical_id, {"Arn": arn})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ecs = ctx.client("ecs")  # what drains meanwhile (a service being deleted) is waited out, as AWS does
        delete_when_free(ctx, lambda: ecs.delete_cluster(cluster=physical_id), ("ClusterNotFoundException",),
                         ("ClusterContainsServicesException", "ClusterContainsTasksException"), DRAIN_LAB_SECONDS,
                         f"Cluster {physical_id}")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        found = ctx.client("ecs").describe_clusters(clusters=[physical_id], include=["SETTINGS", "CONFIGURATIONS"])["clusters"]
        if not found or found[0]["status"] == "INACTIVE":
            return None
        cluster = found[0]
        live = from_api("ecs", "Cluster", cluster, props, rename=self.RENAME)
        live["ClusterName"] = cluster["clusterName"]
        live["Tags"] = _live_tags(ctx, cluster["clusterArn"])
        return {k: v for k, v in live.items() if k in props or k == "Tags"}


class TaskDefinition(ResourceType):
    """AWS::ECS::TaskDefinition. Ref: the revision's ARN; GetAtt TaskDefinitionArn. Every property but
    Tags needs replacement: a new revision is registered and the old one deregistered, as on AWS."""

    type_name = "AWS::ECS::TaskDefinition"
    UNSUPPORTED = ("ProxyConfiguration", "InferenceAccelerators")

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, self.UNSUPPORTED)
        family = props.get("Family") or ctx.name(255)
        if not props.get("ContainerDefinitions"):
            raise HandlerError("Property ContainerDefinitions cannot be empty.")
        args = to_api("ecs", "RegisterTaskDefinition", props | {"Family": family}, drop=("Tags",))
        definition = ctx.client("ecs").register_task_definition(**args, tags=_ecs_tags(all_tags(ctx, props)))
        arn = definition["taskDefinition"]["taskDefinitionArn"]
        return Result(arn, {"TaskDefinitionArn": arn})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        _retag(ctx, physical_id, old, new)
        return Result(physical_id, {"TaskDefinitionArn": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ecs = ctx.client("ecs")
        found = unless_gone(lambda: ecs.describe_task_definition(taskDefinition=physical_id), "ClientException")
        if found is not None and found["taskDefinition"].get("status") != "INACTIVE":
            unless_gone(lambda: ecs.deregister_task_definition(taskDefinition=physical_id), "ClientException")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        ecs = ctx.client("ecs")
        definition = unless_gone(lambda: ecs.describe_task_definition(taskDefinition=physical_id, include=["TAGS"]),
                                 "ClientException")
        if definition is None or definition["taskDefinition"].get("status") == "INACTIVE":
            return None
        live = from_api("ecs", "TaskDefinition", definition["taskDefinition"], props)
        live["Tags"] = user_tags(definition.get("tags"), "key", "value")
        return live


_SERVICE_UNSUPPORTED = ("ServiceConnectConfiguration", "ServiceRegistries", "VpcLatticeConfigurations",
                        "VolumeConfigurations", "GatewayConnectors", "Monitoring", "EnableExecuteCommand")
_SERVICE_RENAME = {"PlacementStrategies": "placementStrategy"}
_SERVICE_NOT_UPDATED = ("Cluster", "ServiceName", "Role", "SchedulingStrategy", "Tags", "ForceNewDeployment")
"""Properties an in-place update does not send to UpdateService: create-only ones, and those applied otherwise."""


class Service(ResourceType):
    """AWS::ECS::Service. Ref: the service's ARN; GetAtt Name and ServiceArn. Its creation and updates
    wait until the service is stable (its tasks running, one completed deployment), as CloudFormation does."""

    type_name = "AWS::ECS::Service"

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, [k for k in _SERVICE_UNSUPPORTED if props.get(k) not in (None, False, "false")])
        name = props.get("ServiceName") or ctx.name(255)
        args = to_api("ecs", "CreateService", props | {"ServiceName": name}, drop=("Tags", "ForceNewDeployment"),
                      rename=_SERVICE_RENAME)
        args.setdefault("cluster", "default")
        if "desiredCount" not in args and args.get("schedulingStrategy", "REPLICA") == "REPLICA":
            args["desiredCount"] = 1
        service = ctx.client("ecs").create_service(**args, tags=_ecs_tags(all_tags(ctx, props)))["service"]
        self._stabilize(ctx, service["clusterArn"], service["serviceArn"])
        return self._result(service)

    @staticmethod
    def _result(service: dict) -> Result:
        return Result(service["serviceArn"], {"ServiceArn": service["serviceArn"], "Name": service["serviceName"]})

    @staticmethod
    def _describe(ctx: Context, cluster: str, service: str) -> dict | None:
        found = ctx.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
        return found[0] if found else None

    @staticmethod
    def _running(ctx: Context, cluster: str, name: str, task_definition: str | None = None) -> int:
        """How many of the service's tasks really run (of ``task_definition`` when given): the ECS runtime's
        answer, not a count moto keeps."""
        ecs = ctx.client("ecs")
        arns = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="RUNNING")["taskArns"]
        if not arns:
            return 0
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        return sum(1 for task in tasks if task["lastStatus"] == "RUNNING"
                   and task_definition in (None, task["taskDefinitionArn"]))

    def _stable(self, ctx: Context, cluster: str, arn: str) -> bool:
        """ECS's "services stable": ACTIVE, the desired count of tasks running and, for a rolling-update
        service, one completed deployment of its current task definition (no older tasks left)."""
        service = self._describe(ctx, cluster, arn)
        if service is None or service["status"] != "ACTIVE":
            return False
        current = None
        if (service.get("deploymentController") or {}).get("type", "ECS") == "ECS":
            deployments = service.get("deployments") or []
            if deployments and deployments[0].get("rolloutState") == "FAILED":  # the circuit breaker tripped
                raise HandlerError("Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'.",
                                   "GeneralServiceException")
            if len(deployments) != 1 or deployments[0].get("rolloutState", "COMPLETED") != "COMPLETED" \
                    or deployments[0].get("taskDefinition") != service.get("taskDefinition"):
                return False
            current = service.get("taskDefinition")
        return self._running(ctx, cluster, service["serviceName"], current) == service["desiredCount"]

    def _stabilize(self, ctx: Context, cluster: str, arn: str) -> None:
        ctx.wait(lambda: self._stable(ctx, cluster, arn), STABLE_LAB_SECONDS, f"Service {arn.rsplit('/', 1)[-1]}")

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        refuse(self.type_name, new, [k for k in _SERVICE_UNSUPPORTED if new.get(k) not in (None, False, "false")])
        if old.get("LaunchType") != new.get("LaunchType"):  # Conditional: UpdateService cannot change it
            raise NeedsReplacement(self.type_name)
        cluster = new.get("Cluster") or "default"
        changed = {k: v for k, v in new.items() if k not in _SERVICE_NOT_UPDATED and old.get(k) != v}
        gone_props = [k for k in old if k not in new and k not in _SERVICE_NOT_UPDATED + ("DesiredCount",)]
        if gone_props:  # a removed DesiredCount keeps the current count, as on AWS; others are refused, not ignored
            raise HandlerError(f"labstack cannot unset {', '.join(sorted(gone_props))} of {self.type_name} in place")
        args = to_api("ecs", "UpdateService", changed, rename=_SERVICE_RENAME)
        if self._forced(old, new):
            args["forceNewDeployment"] = True
        ecs = ctx.client("ecs")
        if args:
            ecs.update_service(cluster=cluster, service=physical_id, **args)
        _retag(ctx, physical_id, old, new)
        service = self._describe(ctx, cluster, physical_id)
        if service is None:
            raise HandlerError(f"Service {physical_id} not found", "NotFound")
        self._stabilize(ctx, service["clusterArn"], physical_id)
        return self._result(service)

    @staticmethod
    def _forced(old: dict, new: dict) -> bool:
        """ForceNewDeployment asks for a new deployment when it is enabled and its nonce changed."""
        force = new.get("ForceNewDeployment") or {}
        enabled = force.get("EnableForceNewDeployment") in (True, "true")
        return enabled and force != (old.get("ForceNewDeployment") or {})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        cluster = props.get("Cluster") or "default"
        ecs = ctx.client("ecs")
        service = unless_gone(lambda: self._describe(ctx, cluster, physical_id), "ClusterNotFoundException",
                              "ServiceNotFoundException")
        if service is None or service["status"] == "INACTIVE":
            return
        name = service["serviceName"]
        if service["desiredCount"]:
            ecs.update_service(cluster=cluster, service=physical_id, desiredCount=0)
        ctx.wait(lambda: self._running(ctx, cluster, name) == 0, DRAIN_LAB_SECONDS, f"Service {name}")
        unless_gone(lambda: ecs.delete_service(cluster=cluster, service=physical_id), "ServiceNotFoundException",
                    "ClusterNotFoundException")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        cluster = props.get("Cluster") or "default"
        service = unless_gone(lambda: self._describe(ctx, cluster, physical_id), "ClusterNotFoundException")
        if service is None or service["status"] == "INACTIVE":
            return None
        like = {k: v for k, v in props.items() if k not in ("Cluster", "Tags", "ForceNewDeployment")}
        live = from_api("ecs", "Service", service, like, rename=_SERVICE_RENAME)
        if "TaskDefinition" in props:  # a template may name a family or family:revision; ECS answers the ARN
            live["TaskDefinition"] = _same_definition(service.get("taskDefinition"), props["TaskDefinition"])
        live["Cluster"] = props.get("Cluster", "default")
        live["Tags"] = _live_tags(ctx, physical_id)
        return live


def _same_definition(live: Any, given: Any) -> Any:
    """The template's own form of a task definition when the live ARN is that revision."""
    if not isinstance(live, str) or not isinstance(given, str):
        return live
    if live == given or live.endswith(f"task-definition/{given}") or live.rsplit("/", 1)[-1].split(":")[0] == given:
        return given
    return live


TYPES: list[ResourceType] = [Cluster(), TaskDefinition(), Service()]
