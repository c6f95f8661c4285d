"""Resource properties that moto's CloudFormation leaves out, given back to it.

moto makes, from a template:
- ``AWS::ECS::Cluster`` from its name alone (no ClusterSettings, CapacityProviders, Tags...);
- ``AWS::ECS::Service`` from its cluster, name, task definition family and count alone (no
  DeploymentController, LoadBalancers, LaunchType, NetworkConfiguration, Role, Tags...);
- ``AWS::ECS::TaskDefinition`` without NetworkMode, RequiresCompatibilities, Cpu or its roles;
- ``AWS::IAM::Role`` without its ManagedPolicyArns;
- ``AWS::ElasticLoadBalancingV2::TargetGroup`` with no ``Fn::GetAtt`` attribute (and one output
  that fails drops all of a stack's outputs).

``complete_moto`` replaces those creation methods with ones that pass every property moto's
backends accept, and gives target groups their attributes. What moto's models have nowhere to
keep (a service's DeploymentConfiguration and HealthCheckGracePeriodSeconds) stays ignored, and
updates still go through moto's own methods.
"""

from __future__ import annotations

import threading
from typing import Any

from labstack.runtimes.ecs.tasksets import seed_primary

_lock = threading.Lock()
_done = False


def complete_moto() -> None:
    """Give moto's ECS cluster, service and task definition, IAM role and target group their
    full CloudFormation (once)."""
    global _done
    with _lock:
        if _done:
            return
        from moto.ecs.models import Cluster, Service, TaskDefinition
        from moto.elbv2.models import FakeTargetGroup
        from moto.iam.models import Role

        Cluster.create_from_cloudformation_json = classmethod(_create_cluster)  # type: ignore[method-assign,assignment]
        Service.create_from_cloudformation_json = classmethod(_create_service)  # type: ignore[method-assign,assignment]
        TaskDefinition.create_from_cloudformation_json = classmethod(_create_task_definition)  # type: ignore[method-assign,assignment]
        Role.create_from_cloudformation_json = classmethod(_role_creator(Role.create_from_cloudformation_json))  # type: ignore[method-assign,assignment]
        FakeTargetGroup.has_cfn_attr = classmethod(lambda cls, attr: attr in TARGET_GROUP_ATTRIBUTES)  # type: ignore[attr-defined]
        FakeTargetGroup.get_cfn_attribute = _target_group_attribute  # type: ignore[attr-defined]
        _done = True


TARGET_GROUP_ATTRIBUTES = ("TargetGroupArn", "TargetGroupName", "TargetGroupFullName", "LoadBalancerArns")


def _target_group_attribute(group: Any, attribute: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    values = {"TargetGroupArn": group.arn, "TargetGroupName": group.name,
              "TargetGroupFullName": group.arn.split(":", 5)[5], "LoadBalancerArns": list(dict.fromkeys(group.load_balancer_arns))}
    if attribute not in values:
        raise UnformattedGetAttTemplateException()
    return values[attribute]


def camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as the ECS API's camelCase, all the way down."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def _name_or_arn(value: Any, attribute: str) -> Any:
    """A resource ``Ref`` resolved by moto is its model object; the API wants its name or ARN."""
    return getattr(value, attribute, value)


def _create_cluster(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                    region_name: str, **kwargs: Any) -> Any:
    from moto.ecs.models import ecs_backends

    props = camel(cloudformation_json.get("Properties") or {})
    return ecs_backends[account_id][region_name].create_cluster(
        resource_name, tags=props.get("tags"), cluster_settings=props.get("clusterSettings"),
        configuration=props.get("configuration"), capacity_providers=props.get("capacityProviders"),
        default_capacity_provider_strategy=props.get("defaultCapacityProviderStrategy"),
        service_connect_defaults=props.get("serviceConnectDefaults"))


def _create_service(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                    region_name: str, **kwargs: Any) -> Any:
    from moto.ecs.models import ecs_backends

    props = cloudformation_json["Properties"]
    balancers = [{**item, "containerPort": int(item["containerPort"])} if "containerPort" in item else item
                 for item in camel(props.get("LoadBalancers", []))]
    network = camel(props.get("NetworkConfiguration"))
    if network:
        network["awsvpcConfiguration"].setdefault("securityGroups", [])
    backend = ecs_backends[account_id][region_name]
    service = backend.create_service(
        _name_or_arn(props.get("Cluster", "default"), "name"), resource_name, int(props.get("DesiredCount", 1)),
        task_definition_str=_name_or_arn(props.get("TaskDefinition"), "arn"),
        load_balancers=balancers,
        scheduling_strategy=props.get("SchedulingStrategy"),
        tags=camel(props.get("Tags")),
        deployment_controller=camel(props.get("DeploymentController")),
        launch_type=props.get("LaunchType"),
        service_registries=camel(props.get("ServiceRegistries")),
        platform_version=props.get("PlatformVersion"),
        propagate_tags=props.get("PropagateTags", "NONE"),
        network_configuration=network,
        role_arn=props.get("Role"),
    )
    seed_primary(backend, service)  # as ECS does: a CODE_DEPLOY service is made with its first task set
    return service


def _create_task_definition(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                            region_name: str, **kwargs: Any) -> Any:
    from moto.ecs.models import ecs_backends

    props = cloudformation_json["Properties"]
    optional = {"network_mode": "NetworkMode", "requires_compatibilities": "RequiresCompatibilities",
                "task_role_arn": "TaskRoleArn", "execution_role_arn": "ExecutionRoleArn", "tags": "Tags",
                "placement_constraints": "PlacementConstraints", "runtime_platform": "RuntimePlatform",
                "ephemeral_storage": "EphemeralStorage", "ipc_mode": "IpcMode", "pid_mode": "PidMode"}
    extra = {arg: camel(props[key]) for arg, key in optional.items() if key in props}
    return ecs_backends[account_id][region_name].register_task_definition(
        family=props.get("Family") or resource_name,
        container_definitions=camel(props.get("ContainerDefinitions", [])),
        volumes=camel(props.get("Volumes", [])),
        cpu=None if props.get("Cpu") is None else str(props["Cpu"]),
        memory=None if props.get("Memory") is None else str(props["Memory"]),
        **extra,
    )


def _role_creator(create: Any) -> Any:
    """moto's own role creation, then the role's ManagedPolicyArns attached."""

    def create_role(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                    region_name: str, **kwargs: Any) -> Any:
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        role = create(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for arn in cloudformation_json["Properties"].get("ManagedPolicyArns", []):
            backend.attach_role_policy(arn, role.name)
        return role

    return create_role
