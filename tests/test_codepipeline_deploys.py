"""The ECS deploy action: imagedefinitions.json → a new task definition revision → a rolling
update that completes. (CodeDeployToECS runs in the seed pipeline's test.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.webimage import push_web_image

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def ecs_deploy(cluster: str, service: str) -> dict:
    return action("Deploy", "Deploy", "ECS", {"ClusterName": cluster, "ServiceName": service}, inputs=("src",))


@pytest.mark.slow
def test_an_ecs_deploy_registers_a_revision_and_waits_for_the_rollout(lab: PipelineLab, tmp_path: Path) -> None:
    uri = push_web_image(lab.server, lab.account, tmp_path)
    ecs = lab.client("ecs")
    ecs.create_cluster(clusterName="staging")
    container = {"name": "web", "image": uri, "essential": True, "memory": 256, "portMappings": [{"containerPort": 8080}],
                 "environment": [{"name": "VERSION", "value": "staged"}]}
    ecs.register_task_definition(family="web", containerDefinitions=[container])
    ecs.create_service(cluster="staging", serviceName="web", taskDefinition="web", desiredCount=1)
    retagged = uri.replace(":v1", ":v1")  # the same image under the URI the build would print
    lab.source({"imagedefinitions.json": json.dumps([{"name": "web", "imageUri": retagged}])})
    lab.create("to-ecs", stage("Source", s3_source(lab.sources)), stage("Deploy_Staging", ecs_deploy("staging", "web")))
    done = lab.run("to-ecs", timeout=60)
    assert done["status"] == "Succeeded"
    deploy = lab.actions("to-ecs", done["pipelineExecutionId"])["Deploy"]
    revision = deploy["output"]["executionResult"]["externalExecutionId"]
    service = ecs.describe_services(cluster="staging", services=["web"])["services"][0]
    assert service["taskDefinition"] == revision and revision.endswith(":3")  # 1 registered, 2 and 3 by the two executions
    assert service["deployments"][0]["rolloutState"] == "COMPLETED" and service["runningCount"] == 1
    lab.source({"imagedefinitions.json": json.dumps([{"name": "nope", "imageUri": retagged}])})
    failed = lab.run("to-ecs", timeout=30)
    message = lab.actions("to-ecs", failed["pipelineExecutionId"])["Deploy"]["output"]["executionResult"]["errorDetails"]["message"]
    assert failed["status"] == "Failed" and "The container nope does not exist in the task definition web" in message
