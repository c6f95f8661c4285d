"""Which platform runs a deployment: ECS blue/green, Lambda alias shifting, or EC2/on-premises."""

from __future__ import annotations

from labstack.services.codedeploy.ecs import EcsBlueGreen
from labstack.services.codedeploy.lambdas import LambdaShift
from labstack.services.codedeploy.runner import Platform, Runner
from labstack.services.codedeploy.server import ServerDeployment


def platform_for(runner: Runner) -> Platform:
    """The platform object for the deployment's compute platform."""
    kinds = {"ECS": EcsBlueGreen, "Lambda": LambdaShift, "Server": ServerDeployment}
    return kinds[runner.deployment.info["computePlatform"]](runner, runner.provider.fetch_s3(runner.deployment))
