"""Which code runs an action, by its type: the providers labstack executes."""

from __future__ import annotations

from collections.abc import Callable

from labstack.services.codepipeline import (
    approval_actions,
    build_actions,
    cloudformation_actions,
    deploy_actions,
    invoke_actions,
    source_actions,
)
from labstack.services.codepipeline.action_job import ActionFailed, ActionJob

RUNNERS: dict[tuple[str, str], Callable[[ActionJob], dict[str, str]]] = {
    ("Source", "CodeCommit"): source_actions.codecommit,
    ("Source", "CodeStarSourceConnection"): source_actions.connection,
    ("Source", "S3"): source_actions.s3,
    ("Source", "ECR"): source_actions.ecr,
    ("Build", "CodeBuild"): build_actions.codebuild,
    ("Test", "CodeBuild"): build_actions.codebuild,
    ("Deploy", "ECS"): deploy_actions.ecs,
    ("Deploy", "CodeDeployToECS"): deploy_actions.codedeploy_ecs,
    ("Deploy", "CodeDeploy"): deploy_actions.codedeploy,
    ("Deploy", "S3"): deploy_actions.s3,
    ("Deploy", "CloudFormation"): cloudformation_actions.cloudformation,
    ("Approval", "Manual"): approval_actions.manual,
    ("Invoke", "Lambda"): invoke_actions.lambda_function,
}


def run(job: ActionJob) -> dict[str, str]:
    """Run one action; its output variables. Raises ActionFailed when it fails."""
    type_id = job.declaration["actionTypeId"]
    if type_id["owner"] == "Custom":
        return invoke_actions.custom(job)
    runner = RUNNERS.get((type_id["category"], type_id["provider"])) if type_id["owner"] == "AWS" else None
    if runner is None:
        raise ActionFailed(f"labstack does not run {type_id['category']} actions of provider {type_id['provider']} "
                           f"(owner {type_id['owner']}); the README lists the providers it runs", "ConfigurationError")
    return runner(job)
