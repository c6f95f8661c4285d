"""Resource properties that moto's CloudFormation leaves out, given back to it.

moto makes, from a template:
- ``AWS::ECS::Cluster`` from its name alone (no ClusterSettings, CapacityProviders, Tags...);
- ``AWS::ECS::Service`` from its cluster, name, task definition family and count alone (no
  DeploymentController, LoadBalancers, LaunchType, NetworkConfiguration, Role, Tags...);
- ``AWS::ECS::TaskDefinition`` without NetworkMode, RequiresCompatibilities, Cpu or its roles;
- ``AWS::IAM::Role`` without its ManagedPolicyArns;
- ``AWS::ElasticLoadBalancingV2::TargetGroup`` with no ``Fn::GetAtt`` attribute (and one output
  that fails drops all of a stack's outputs).

The seam installs these creation methods in their place (``motobridge.PATCHES``, group
``cloudformation``): they pass every property moto's backends accept, and target groups get their
attributes. What moto's models have nowhere to keep (a service's DeploymentConfiguration and
HealthCheckGracePeriodSeconds) stays ignored, and updates still go through moto's own methods.
"""

from __future__ import annotations

from typing import Any

from labstack import motobridge
from labstack.runtimes.ecs.tasksets import seed_primary


def cluster(model: type) -> dict[str, Any]:
    """moto's ECS ``Cluster`` made from its template with every property."""
    return {"create_from_cloudformation_json": classmethod(_create_cluster)}


def service(model: type) -> dict[str, Any]:
    """moto's ECS ``Service`` made from its template with every property, and its first task set."""
    return {"create_from_cloudformation_json": classmethod(_create_service)}


def task_definition(model: type) -> dict[str, Any]:
    """moto's ECS ``TaskDefinition`` made from its template with every property."""
    return {"create_from_cloudformation_json": classmethod(_create_task_definition)}


def role(model: Any) -> dict[str, Any]:
    """moto's IAM ``Role`` made by moto, then given its ManagedPolicyArns."""
    return {"create_from_cloudformation_json": classmethod(_role_creator(model.create_from_cloudformation_json))}


def target_group(model: type) -> dict[str, Any]:
    """moto's ``FakeTargetGroup`` answering ``Fn::GetAtt``."""
    return {"has_cfn_attr": classmethod(lambda cls, attr: attr in TARGET_GROUP_ATTRIBUTES),
            "get_cfn_attribute": _target_group_attribute}


TARGET_GROUP_ATTRIBUTES = ("TargetGroupArn", "TargetGroupName", "TargetGroupFullName", "LoadBalancerArns")


def _target_group_attribute(group: Any, attribute: str) -> Any:
    values = {"TargetGroupArn": group.arn, "TargetGroupName": group.name,
              "TargetGroupFullName": group.arn.split(":", 5)[5], "LoadBalancerArns": list(dict.fromkeys(group.load_balancer_arns))}
    if attribute not in values:
        raise motobridge.no_such_attribute()
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
    props = camel(cloudformation_json.get("Properties") or {})
    return motobridge.ecs_create_cluster(
        account_id, region_name, resource_name, tags=props.get("tags"), cluster_settings=props.get("clusterSettings"),
        configuration=props.get("configuration"), capacity_providers=props.get("capacityProviders"),
        default_capacity_provider_strategy=props.get("defaultCapacityProviderStrategy"),
        service_connect_defaults=props.get("serviceConnectDefaults"))


def _create_service(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                    region_name: str, **kwargs: Any) -> Any:
    props = cloudformation_json["Properties"]
    balancers = [{**item, "containerPort": int(item["containerPort"])} if "containerPort" in item else item
                 for item in camel(props.get("LoadBalancers", []))]
    network = camel(props.get("NetworkConfiguration"))
    if network:
        network["awsvpcConfiguration"].setdefault("securityGroups", [])
    service = motobridge.ecs_create_service(
        account_id, region_name, _name_or_arn(props.get("Cluster", "default"), "name"), resource_name,
        int(props.get("DesiredCount", 1)),
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
    seed_primary(account_id, region_name, service)  # as ECS does: a CODE_DEPLOY service is made with its first task set
    return service


def _create_task_definition(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                            region_name: str, **kwargs: Any) -> Any:
    props = cloudformation_json["Properties"]
    optional = {"network_mode": "NetworkMode", "requires_compatibilities": "RequiresCompatibilities",
                "task_role_arn": "TaskRoleArn", "execution_role_arn": "ExecutionRoleArn", "tags": "Tags",
                "placement_constraints": "PlacementConstraints", "runtime_platform": "RuntimePlatform",
                "ephemeral_storage": "EphemeralStorage", "ipc_mode": "IpcMode", "pid_mode": "PidMode"}
    extra = {arg: camel(props[key]) for arg, key in optional.items() if key in props}
    return motobridge.ecs_register_task_definition(
        account_id, region_name, family=props.get("Family") or resource_name,
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
        role = create(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        motobridge.iam_attach_role_policies(account_id, region_name, role.name,
                                            cloudformation_json["Properties"].get("ManagedPolicyArns", []))
        return role

    return create_role
