"""The PRIMARY task set ECS gives a CODE_DEPLOY service when it is created."""

from __future__ import annotations

from typing import Any

from labstack import motobridge


def seed_primary(account: str, region: str, service: Any) -> None:
    """As ECS does for a CODE_DEPLOY service: its task definition and load balancers become its
    PRIMARY task set, at 100% (however the service was made: API or CloudFormation). Nothing
    happens to a service that has task sets, no task definition, or another controller."""
    controller = (service.deployment_controller or {}).get("type", "ECS")
    if controller != "CODE_DEPLOY" or service.task_sets or not service.task_definition or service.status != "ACTIVE":
        return
    cluster = service.cluster_arn.rsplit("/", 1)[-1]
    task_set = motobridge.ecs_create_task_set(
        account, region, service.name, cluster, service.task_definition, load_balancers=service.load_balancers,
        network_configuration=service.network_configuration or None, launch_type=service.launch_type or "FARGATE",
        platform_version=getattr(service, "platform_version", None))
    motobridge.ecs_set_scale(task_set, {"value": 100.0, "unit": "PERCENT"})  # set after: moto would record phantom tasks
    motobridge.ecs_set_primary_task_set(account, region, cluster, service.name, task_set.task_set_arn)
