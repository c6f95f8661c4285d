"""Deploy actions and the ECR source: ECS (imagedefinitions.json → a new task definition
revision → a rolling update that completes), CloudFormation stacks, CodeDeploy to servers, and
an ECR image's details handed on. (CodeDeployToECS runs in the seed pipeline's test.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.roles import service_role
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
    execution_role = service_role(lab.client("iam"), "task-execution", "ecs-tasks.amazonaws.com")
    ecs.register_task_definition(family="web", containerDefinitions=[container], executionRoleArn=execution_role)
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


TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  TopicName:
    Type: String
  Stage:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${TopicName}-${Stage}"
Outputs:
  TopicArn:
    Value: !Ref Topic
"""


def cfn_action(name: str, mode: str, run_order: int = 1, **config: str) -> dict:
    return action(name, "Deploy", "CloudFormation", {"ActionMode": mode, "StackName": "app-stack", **config},
                  inputs=("src",), run_order=run_order)


def test_cloudformation_actions_create_update_and_delete_stacks(lab: PipelineLab) -> None:
    lab.source({"template.yaml": TEMPLATE, "config.json": json.dumps({"Parameters": {"TopicName": "alerts", "Stage": "dev"}}),
                "params.json": json.dumps({"stage": "prod"})})
    deploy = {**cfn_action("Stack", "CREATE_UPDATE", TemplatePath="src::template.yaml", TemplateConfiguration="src::config.json",
                           OutputFileName="outputs.json"), "outputArtifacts": [{"name": "stack_out"}], "namespace": "Stack"}
    lab.create("stacks", stage("Source", s3_source(lab.sources)), stage("Deploy", deploy),
               stage("Publish", action("Put", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": "out"},
                                       inputs=("stack_out",))))
    first = lab.execution("stacks", lab.wait_for_executions("stacks", 1)[0]["pipelineExecutionId"])
    assert first["status"] == "Succeeded"
    arn = f"arn:aws:sns:us-east-1:{lab.account}:alerts-dev"
    assert lab.actions("stacks", first["pipelineExecutionId"])["Stack"]["output"]["outputVariables"] == {"TopicArn": arn}
    assert json.loads(lab.s3.get_object(Bucket=lab.bucket, Key="out/outputs.json")["Body"].read()) == {"TopicArn": arn}
    declaration = lab.codepipeline.get_pipeline(name="stacks")["pipeline"]
    overrides = json.dumps({"Stage": {"Fn::GetParam": ["src", "params.json", "stage"]}})
    declaration["stages"][1]["actions"] = [
        cfn_action("Update", "CREATE_UPDATE", TemplatePath="src::template.yaml", TemplateConfiguration="src::config.json",
                   ParameterOverrides=overrides)]
    declaration["stages"].pop()
    lab.codepipeline.update_pipeline(pipeline=declaration)
    assert lab.run("stacks")["status"] == "Succeeded"
    cfn = lab.client("cloudformation")
    stack = cfn.describe_stacks(StackName="app-stack")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"TopicName": "alerts", "Stage": "prod"}
    declaration = lab.codepipeline.get_pipeline(name="stacks")["pipeline"]
    declaration["stages"][1]["actions"] = [cfn_action("Remove", "DELETE_ONLY")]
    lab.codepipeline.update_pipeline(pipeline=declaration)
    assert lab.run("stacks")["status"] == "Succeeded"
    assert {s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "app-stack"} == {"DELETE_COMPLETE"}
    declaration["stages"][1]["actions"] = [
        cfn_action("Plan", "CHANGE_SET_REPLACE", TemplatePath="src::template.yaml", TemplateConfiguration="src::config.json",
                   ChangeSetName="next"),
        cfn_action("Apply", "CHANGE_SET_EXECUTE", run_order=2, ChangeSetName="next")]
    lab.codepipeline.update_pipeline(pipeline=declaration)
    applied = lab.run("stacks")
    assert applied["status"] == "Succeeded", applied.get("statusSummary")
    assert cfn.describe_stacks(StackName="app-stack")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_an_ecr_source_hands_on_image_details_and_codedeploy_to_servers_fails_honestly(lab: PipelineLab, tmp_path: Path) -> None:
    push_web_image(lab.server, lab.account, tmp_path)
    digest = lab.client("ecr").describe_images(repositoryName="web")["imageDetails"][0]["imageDigest"]
    source = action("Image", "Source", "ECR", {"RepositoryName": "web", "ImageTag": "v1"}, outputs=("image",), namespace="Img")
    deploy = action("Servers", "Deploy", "CodeDeploy", {"ApplicationName": "fleet", "DeploymentGroupName": "servers"},
                    inputs=("image",), run_order=2)
    put = action("Put", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": "#{Img.ImageTag}"}, inputs=("image",))
    role = service_role(lab.client("iam"), "codedeploy", "codedeploy.amazonaws.com")
    cd = lab.client("codedeploy")
    cd.create_application(applicationName="fleet", computePlatform="Server")
    cd.create_deployment_group(applicationName="fleet", deploymentGroupName="servers", serviceRoleArn=role,
                               ec2TagFilters=[{"Key": "app", "Value": "fleet", "Type": "KEY_AND_VALUE"}])
    lab.create("images", stage("Source", source), stage("Deploy", put, deploy))
    done = lab.execution("images", lab.wait_for_executions("images", 1)[0]["pipelineExecutionId"])
    runs = lab.actions("images", done["pipelineExecutionId"])
    assert runs["Image"]["output"]["outputVariables"]["ImageDigest"] == digest
    detail = json.loads(lab.s3.get_object(Bucket=lab.bucket, Key="v1/imageDetail.json")["Body"].read())
    assert detail["ImageURI"] == f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/web@{digest}" and detail["ImageTags"] == ["v1"]
    assert done["status"] == "Failed" and runs["Put"]["status"] == "Succeeded"
    assert "no instances were found" in runs["Servers"]["output"]["executionResult"]["errorDetails"]["message"]
