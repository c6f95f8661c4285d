"""Deploy actions that change what runs: ECS (imagedefinitions.json → a new task definition
revision → a rolling update that completes) and CodeDeployToECS (taskdef.json and
appspec.yaml with their placeholders filled → a blue/green deployment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.bluegreen import BlueGreen, fetch
from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.waiting import wait_for
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


@pytest.mark.slow
def test_a_codedeploy_to_ecs_action_fills_the_placeholders_and_deploys(lab: PipelineLab, tmp_path: Path) -> None:
    bluegreen = BlueGreen(lab.server, lab.account, tmp_path, name="cdp")
    group = bluegreen.group()
    image = lab.client("ecr").describe_repositories()["repositories"][0]["repositoryUri"] + ":v1"
    taskdef = {"family": "cdp-web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
               "containerDefinitions": [{"name": "web", "image": "<IMAGE1_NAME>", "essential": True, "memory": 256,
                                         "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                                         "environment": [{"name": "VERSION", "value": "piped"}]}]}
    appspec = ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
               "        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n          ContainerName: \"web\"\n"
               "          ContainerPort: 8080\n")
    lab.source({"taskdef.json": json.dumps(taskdef), "appspec.yaml": appspec})
    lab.source({"imageDetail.json": json.dumps({"ImageURI": image})}, key="image.zip")
    deploy = action("Deploy", "Deploy", "CodeDeployToECS",
                    {"ApplicationName": "cdp", "DeploymentGroupName": group, "TaskDefinitionTemplateArtifact": "src",
                     "AppSpecTemplateArtifact": "src", "Image1ArtifactName": "image", "Image1ContainerName": "IMAGE1_NAME"},
                    inputs=("src", "image"))
    image_source = {**s3_source(lab.sources, key="image.zip", output="image"), "name": "Image"}
    lab.create("to-prod", stage("Source", s3_source(lab.sources), image_source), stage("Deploy_Production", deploy))
    done = lab.execution("to-prod", lab.wait_for_executions("to-prod", 1)[0]["pipelineExecutionId"])
    assert done["status"] == "Succeeded"
    result = lab.actions("to-prod", done["pipelineExecutionId"])["Deploy"]["output"]["executionResult"]
    deployment = bluegreen.deployment(result["externalExecutionId"])
    assert deployment["status"] == "Succeeded"
    wait_for(lambda: bluegreen.serving() == {"piped"}, seconds=20)
    served = bluegreen.ecs.describe_services(cluster="cdp", services=["cdp"])["services"][0]["taskSets"]
    definition = bluegreen.ecs.describe_task_definition(taskDefinition=served[0]["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == image
    assert fetch(bluegreen.prod_url)[0] == 200
