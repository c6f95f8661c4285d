"""What the lab's CDK app needs from the account: the names of labs 01–06's resources and the production
network of lab 03, read from the CDK context (``cdk.json``, ``cdk.context.json`` or ``-c key=value``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    """The values the stack is synthesized for. Everything is known at synth time: the template has no
    Parameters and needs no lookup (no AWS call while synthesizing)."""

    stack_name: str = "cicd-lab-cdk-pipeline"
    prefix: str = "cicd-lab-cdk"
    environment: str = "dev"  # prod adds the manual approval and deploys production by canary
    repository: str = "cicd-lab-app"
    branch: str = "pipeline-as-cdk"  # its own: a push to pipeline.yaml's branch does not start it
    template_path: str = "infra/cdk.out/cicd-lab-cdk-pipeline.template.json"  # in the repository
    cluster: str = "sample-app"
    # the Test stage's actions, side by side: (action name, buildspec in the source)
    tests: tuple[tuple[str, str], ...] = (("UnitTests", "buildspec-unit.yml"), ("Lint", "buildspec-lint.yml"))
    ecr_repository: str = "sample-app"
    task_execution_role: str = "sample-app-task-execution"
    load_balancer_arn: str = ""
    vpc_id: str = ""
    subnets: tuple[str, ...] = ()
    security_group: str = ""
    task_definition: str = ""
    container_name: str = "app"  # the task definition's container the load balancer sends to
    container_port: int = 8080
    production_port: int = 9280
    test_port: int = 9281

    @property
    def production(self) -> bool:
        """Whether the account's network is known (load balancer, subnets…): without it the stack has no staging
        service and no blue/green production, and the pipeline ends after Test."""
        return bool(self.load_balancer_arn and self.vpc_id and self.subnets and self.security_group
                    and self.task_definition)

    @classmethod
    def from_context(cls, get: Any) -> "Settings":
        """Settings from ``get(key)`` (the app's ``node.try_get_context``), defaults for what it lacks.
        ``subnets`` may be a list or one comma-separated string."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            value = get(field.name)
            if value is None:
                continue
            if field.name == "subnets":
                value = tuple(value.split(",") if isinstance(value, str) else value)
            elif field.name == "tests":
                value = tuple(tuple(pair) for pair in value)
            elif field.type == "int":
                value = int(value)
            values[field.name] = value
        return cls(**values)
