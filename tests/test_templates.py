"""The base stack (infra/templates/base-stack.yaml) on labstack's CloudFormation: what it
creates, and that its CODE_DEPLOY service serves the app's image on both listeners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.codebuild import Lab
from tests.support.responses import check_responses
from tests.support.sampleapp import answer, app_copy, listener_url, push_app_image
from tests.support.server import ROOT
from tests.support.cfn_stacks import events, outputs, settled
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.sampleapp_fixtures"]

TEMPLATE = ROOT / "infra" / "templates" / "base-stack.yaml"


def _trusted(iam: Any, role: str) -> list[str]:
    document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    return [s["Principal"]["Service"] for s in document["Statement"] if s["Action"] == "sts:AssumeRole"]


@pytest.mark.slow
def test_the_base_stack_creates_a_code_deploy_service_that_serves_the_app(lab: Lab, tmp_path: Path) -> None:
    lab.client("ecr").create_repository(repositoryName="sample-app")
    push_app_image(lab.server, lab.account, app_copy(tmp_path / "app"),
                   f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/sample-app:latest")
    cfn = check_responses(lab.client("cloudformation"))
    cfn.create_stack(StackName="base", TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = settled(cfn, "base", seconds=120)
    assert stack["StackStatus"] == "CREATE_COMPLETE", [e for e in events(cfn, "base") if e[1].endswith("FAILED")]
    out = outputs(stack)
    assert (out["ClusterName"], out["ServiceName"], out["LogGroupName"]) == ("sample-app", "sample-app", "/ecs/sample-app")
    assert (out["BlueTargetGroupName"], out["GreenTargetGroupName"]) == ("sample-app-blue", "sample-app-green")

    elb = lab.client("elbv2")
    groups = {g["TargetGroupName"]: g for g in elb.describe_target_groups(Names=["sample-app-blue", "sample-app-green"])["TargetGroups"]}
    assert {(g["TargetType"], g["Port"], g["HealthCheckPath"]) for g in groups.values()} == {("ip", 8080, "/health")}
    blue = groups["sample-app-blue"]["TargetGroupArn"]
    listeners = {arn: elb.describe_listeners(ListenerArns=[arn])["Listeners"][0]
                 for arn in (out["ProductionListenerArn"], out["TestListenerArn"])}
    assert [(l["Port"], l["DefaultActions"][0]["TargetGroupArn"]) for l in listeners.values()] == [(80, blue), (8080, blue)]

    iam = lab.client("iam")
    principals = {role: _trusted(iam, f"sample-app-{role}") for role in ("codepipeline", "codebuild", "codedeploy", "task-execution")}
    assert principals == {"codepipeline": ["codepipeline.amazonaws.com"], "codebuild": ["codebuild.amazonaws.com"],
                          "codedeploy": ["codedeploy.amazonaws.com"], "task-execution": ["ecs-tasks.amazonaws.com"]}
    attached = {role: [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=f"sample-app-{role}")["AttachedPolicies"]]
                for role in ("codedeploy", "task-execution")}
    assert attached == {"codedeploy": ["AWSCodeDeployRoleForECS"], "task-execution": ["AmazonECSTaskExecutionRolePolicy"]}
    assert lab.client("logs").describe_log_groups(logGroupNamePrefix="/ecs/sample-app")["logGroups"][0]["retentionInDays"] == 7

    ecs = lab.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=out["TaskDefinitionArn"])["taskDefinition"]
    assert (definition["networkMode"], definition["requiresCompatibilities"], definition["cpu"], definition["executionRoleArn"]) == (
        "awsvpc", ["FARGATE"], "256", out["TaskExecutionRoleArn"])
    service = ecs.describe_services(cluster="sample-app", services=["sample-app"])["services"][0]
    assert (service["deploymentController"], service["launchType"]) == ({"type": "CODE_DEPLOY"}, "FARGATE")
    assert service["loadBalancers"] == [{"targetGroupArn": blue, "containerName": "app", "containerPort": 8080}]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"
    # As on AWS, the service's task definition and load balancer are its first, PRIMARY task set
    # (labstack's ECS runtime makes it at its next reconcile).
    primary = wait_for(lambda: [t for t in ecs.describe_services(cluster="sample-app", services=["sample-app"])["services"][0]["taskSets"]
                                if t["status"] == "PRIMARY"])
    assert [(t["taskDefinition"], t["scale"]["value"], t["loadBalancers"][0]["targetGroupArn"]) for t in primary] == [
        (out["TaskDefinitionArn"], 100.0, blue)]
    urls = [listener_url(lab.server, arn) for arn in listeners]
    for url in urls:
        assert wait_for(lambda url=url: answer(url), seconds=30) == (200, "v1")

    # what every resource reads back is what the template says: no drift
    detection = cfn.detect_stack_drift(StackName="base")["StackDriftDetectionId"]
    status = wait_for(lambda: (s := cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection))[
        "DetectionStatus"] != "DETECTION_IN_PROGRESS" and s)
    drifted = [(d["LogicalResourceId"], d["PropertyDifferences"]) for d in cfn.describe_stack_resource_drifts(StackName="base")[
        "StackResourceDrifts"] if d["StackResourceDriftStatus"] != "IN_SYNC"]
    assert (status["StackDriftStatus"], drifted) == ("IN_SYNC", [])

    # deleting the stack scales the service to 0 before deleting it, and leaves nothing running or listening
    cfn.delete_stack(StackName="base")
    assert settled(cfn, stack["StackId"], seconds=120)["StackStatus"] == "DELETE_COMPLETE"
    assert ecs.list_tasks(cluster="sample-app")["taskArns"] == []
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert wait_for(lambda: all(answer(url) is None for url in urls), seconds=10)
    assert lab.client("ec2").describe_vpcs(Filters=[{"Name": "tag:aws:cloudformation:stack-name", "Values": ["base"]}])["Vpcs"] == []


SEED_CLUSTER = """
Parameters:
  Environment: {Type: String, Default: production}
Conditions:
  IsProduction: !Equals [!Ref Environment, production]
Resources:
  ECSCluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Sub ${Environment}-cluster
      ClusterSettings:
        - Name: containerInsights
          Value: !If [IsProduction, enabled, disabled]
      CapacityProviders: [FARGATE, FARGATE_SPOT]
      DefaultCapacityProviderStrategy:
        - CapacityProvider: FARGATE
          Weight: !If [IsProduction, 1, 0]
        - CapacityProvider: FARGATE_SPOT
          Weight: !If [IsProduction, 0, 1]
"""


def test_the_seeds_cluster_keeps_its_settings_and_capacity_providers(lab: Lab) -> None:
    cfn = check_responses(lab.client("cloudformation"))
    cfn.create_stack(StackName="seed", TemplateBody=SEED_CLUSTER)
    assert settled(cfn, "seed")["StackStatus"] == "CREATE_COMPLETE", [e for e in events(cfn, "seed") if e[1].endswith("FAILED")]
    cluster = lab.client("ecs").describe_clusters(clusters=["production-cluster"], include=["SETTINGS"])["clusters"][0]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert [(s["capacityProvider"], s["weight"]) for s in cluster["defaultCapacityProviderStrategy"]] == [("FARGATE", 1), ("FARGATE_SPOT", 0)]


def test_moto_errors_pass_through_labstacks_cloudformation(lab: Lab) -> None:
    cfn = check_responses(lab.client("cloudformation"))
    cfn.create_stack(StackName="twice", TemplateBody=SEED_CLUSTER, Parameters=[{"ParameterKey": "Environment", "ParameterValue": "dev"}])
    with pytest.raises(cfn.exceptions.AlreadyExistsException):
        cfn.create_stack(StackName="twice", TemplateBody=SEED_CLUSTER)
