"""A CloudFormation stack of Code* resources on labstack's own engine: what CreateStack makes really runs (a
repository seeded from S3, a project and a V2 pipeline whose first execution builds to Succeeded, a CodeDeploy
application, configuration and group, a connection), a mutable
property updates in place, a name change replaces, and DeleteStack leaves nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cfn_code import ENVIRONMENT, SEED, action, zipped
from tests.support.codepipeline import PipelineLab
from tests.support.roles import service_role
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]


TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {name: {"Type": "String"} for name in ("PipelineRole", "BuildRole", "DeployRole", "ArtifactBucket",
                                                            "SourceBucket")}
    | {"Description": {"Type": "String", "Default": "first"}, "PipelineName": {"Type": "String", "Default": "shop-pipeline"}},
    "Resources": {
        "Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {
            "RepositoryName": "shop", "Code": {"S3": {"Bucket": {"Ref": "SourceBucket"}, "Key": "seed.zip"}}}},
        "Build": {"Type": "AWS::CodeBuild::Project", "Properties": {
            "Description": {"Ref": "Description"}, "ServiceRole": {"Ref": "BuildRole"},
            "Source": {"Type": "CODEPIPELINE"}, "Artifacts": {"Type": "CODEPIPELINE"},
            "Environment": {**ENVIRONMENT, "EnvironmentVariables": [{"Name": "GREETING", "Value": "hello"},
                                                                    {"Name": "STAGE", "Value": "staging"}]}}},
        "App": {"Type": "AWS::CodeDeploy::Application", "Properties": {"ComputePlatform": "Server"}},
        "Config": {"Type": "AWS::CodeDeploy::DeploymentConfig", "Properties": {
            "ComputePlatform": "Server", "MinimumHealthyHosts": {"Type": "FLEET_PERCENT", "Value": 50}}},
        "Group": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {
            "ApplicationName": {"Ref": "App"}, "ServiceRoleArn": {"Ref": "DeployRole"},
            "DeploymentConfigName": {"Ref": "Config"},
            "Ec2TagFilters": [{"Key": "app", "Value": "shop", "Type": "KEY_AND_VALUE"}]}},
        "Connection": {"Type": "AWS::CodeStarConnections::Connection", "Properties": {"ConnectionName": "github"}},
        "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {
            "Name": {"Ref": "PipelineName"}, "RoleArn": {"Ref": "PipelineRole"}, "PipelineType": "V2",
            "ArtifactStore": {"Type": "S3", "Location": {"Ref": "ArtifactBucket"}},
            "Stages": [
                {"Name": "Source", "Actions": [action("Source", "Source", "CodeCommit", {
                    "RepositoryName": {"Fn::GetAtt": ["Repo", "Name"]}, "BranchName": "main",
                    "PollForSourceChanges": False}, outputs=("src",))]},
                {"Name": "Build", "Actions": [action("Build", "Build", "CodeBuild", {"ProjectName": {"Ref": "Build"}},
                                                      inputs=("src",))]}]}},
    },
    "Outputs": {
        "RepoId": {"Value": {"Ref": "Repo"}}, "CloneUrl": {"Value": {"Fn::GetAtt": ["Repo", "CloneUrlHttp"]}},
        "ProjectArn": {"Value": {"Fn::GetAtt": ["Build", "Arn"]}}, "Version": {"Value": {"Fn::GetAtt": ["Pipeline", "Version"]}},
        "ConnectionStatus": {"Value": {"Fn::GetAtt": ["Connection", "ConnectionStatus"]}},
    },
}


def settled(cfn: Any, name: str) -> dict:
    """The stack once no operation is in progress on it."""
    return wait_for(lambda: (s := cfn.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"].endswith(
        ("_COMPLETE", "_FAILED")) and s, seconds=90)


def drift(cfn: Any, stack: str) -> dict[str, tuple[str, list[tuple]]]:
    """DetectStackDrift's verdict: each resource's drift status and property differences."""
    detection = cfn.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
    wait_for(lambda: cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)["DetectionStatus"]
             != "DETECTION_IN_PROGRESS", seconds=60)
    found = cfn.describe_stack_resource_drifts(StackName=stack)["StackResourceDrifts"]
    return {d["LogicalResourceId"]: (d["StackResourceDriftStatus"], [
        (p["PropertyPath"], p["ExpectedValue"], p["ActualValue"], p["DifferenceType"]) for p in d.get("PropertyDifferences", [])])
        for d in found}


def physical(cfn: Any, stack: str, logical: str) -> str:
    return cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"]["PhysicalResourceId"]


@pytest.mark.slow
def test_a_stack_of_code_resources_runs_updates_replaces_and_deletes(pipeline_lab: PipelineLab) -> None:
    """CreateStack makes the Code* resources through their own APIs; the pipeline's first execution builds the
    repository's seeded code to Succeeded. Updating the project's Description ("Update requires: No
    interruption") keeps its physical id; changing the pipeline's Name ("Update requires: Replacement",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codepipeline-pipeline.html#cfn-codepipeline-pipeline-name)
    makes a new pipeline and deletes the old one, as the change set said beforehand (Replacement True for the
    pipeline, False for the project); DeleteStack leaves none of them. Drift detection reads
    every resource back in template form: in sync as created, MODIFIED when the project is changed by hand
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html)."""
    lab = pipeline_lab
    lab.s3.put_object(Bucket=lab.sources, Key="seed.zip", Body=zipped(SEED))
    cfn = lab.client("cloudformation")
    params = [{"ParameterKey": "PipelineRole", "ParameterValue": lab.role},
              {"ParameterKey": "BuildRole", "ParameterValue": lab.build_role},
              {"ParameterKey": "DeployRole", "ParameterValue": service_role(lab.client("iam"), "deployer",
                                                                            "codedeploy.amazonaws.com")},
              {"ParameterKey": "ArtifactBucket", "ParameterValue": lab.bucket},
              {"ParameterKey": "SourceBucket", "ParameterValue": lab.sources}]
    cfn.create_stack(StackName="code", TemplateBody=json.dumps(TEMPLATE), Parameters=params)
    stack = settled(cfn, "code")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="code")["StackEvents"][:5]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    codecommit = lab.client("codecommit")
    meta = codecommit.get_repository(repositoryName="shop")["repositoryMetadata"]
    project = physical(cfn, "code", "Build")
    assert outputs["RepoId"] == meta["repositoryId"] == physical(cfn, "code", "Repo")
    assert outputs["CloneUrl"] == meta["cloneUrlHttp"] and outputs["Version"] == "1"
    assert outputs["ProjectArn"] == lab.codebuild.batch_get_projects(names=[project])["projects"][0]["arn"]
    assert outputs["ConnectionStatus"] == "AVAILABLE"
    codedeploy = lab.client("codedeploy")
    group = codedeploy.get_deployment_group(applicationName=physical(cfn, "code", "App"),
                                            deploymentGroupName=physical(cfn, "code", "Group"))["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == physical(cfn, "code", "Config")
    first = lab.wait_for_executions("shop-pipeline", 1)[0]
    assert lab.wait("shop-pipeline", first["pipelineExecutionId"], timeout=60)["status"] == "Succeeded"

    in_sync = {logical: ("IN_SYNC", []) for logical in TEMPLATE["Resources"]}
    assert drift(cfn, "code") == in_sync  # every handler reads its resource back as the template wrote it
    lab.codebuild.update_project(name=project, description="changed by hand")
    assert drift(cfn, "code") == {**in_sync, "Build": ("MODIFIED", [("/Description", "first", "changed by hand",
                                                                      "NOT_EQUAL")])}
    lab.codebuild.update_project(name=project, description="first")

    cfn.update_stack(StackName="code", UsePreviousTemplate=True,
                     Parameters=[*params, {"ParameterKey": "Description", "ParameterValue": "second"}])
    assert settled(cfn, "code")["StackStatus"] == "UPDATE_COMPLETE"
    assert physical(cfn, "code", "Build") == project
    assert lab.codebuild.batch_get_projects(names=[project])["projects"][0]["description"] == "second"

    cfn.create_change_set(StackName="code", ChangeSetName="rename", TemplateBody=json.dumps(TEMPLATE),
                          Parameters=[*params, {"ParameterKey": "Description", "ParameterValue": "third"},
                                      {"ParameterKey": "PipelineName", "ParameterValue": "shop-pipeline-2"}])
    review = wait_for(lambda: (c := cfn.describe_change_set(StackName="code", ChangeSetName="rename"))["Status"]
                      in ("CREATE_COMPLETE", "FAILED") and c, seconds=30)
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in review["Changes"]}
    assert {k: (c["Action"], c.get("Replacement")) for k, c in changes.items()} == \
        {"Pipeline": ("Modify", "True"), "Build": ("Modify", "False")}
    cfn.execute_change_set(StackName="code", ChangeSetName="rename")
    stack = settled(cfn, "code")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    assert physical(cfn, "code", "Pipeline") == "shop-pipeline-2" and physical(cfn, "code", "Build") == project
    assert [p["name"] for p in lab.codepipeline.list_pipelines()["pipelines"]] == ["shop-pipeline-2"]

    cfn.delete_stack(StackName="code")
    wait_for(lambda: not [s for s in cfn.list_stacks()["StackSummaries"]
                          if s["StackName"] == "code" and s["StackStatus"] != "DELETE_COMPLETE"], seconds=60)
    assert codecommit.list_repositories()["repositories"] == []
    assert lab.codebuild.list_projects().get("projects", []) == []
    assert lab.codepipeline.list_pipelines()["pipelines"] == []
    assert codedeploy.list_applications()["applications"] == []
    assert [c for c in codedeploy.list_deployment_configs()["deploymentConfigsList"] if not c.startswith("CodeDeployDefault")] == []
    assert lab.client("codestar-connections").list_connections()["Connections"] == []


def test_a_failed_pipeline_rolls_the_stack_back_and_leaves_nothing(pipeline_lab: PipelineLab) -> None:
    """A pipeline CodePipeline refuses (its role does not exist) fails the stack with CodePipeline's own
    message; the rollback deletes the repository and project made before it (ROLLBACK_COMPLETE)
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html)."""
    lab = pipeline_lab
    lab.s3.put_object(Bucket=lab.sources, Key="seed.zip", Body=zipped(SEED))
    template = {**TEMPLATE, "Resources": {k: v for k, v in TEMPLATE["Resources"].items() if k in ("Repo", "Build", "Pipeline")},
                "Outputs": {}}
    template["Resources"]["Pipeline"] = {**template["Resources"]["Pipeline"], "DependsOn": ["Repo", "Build"]}
    missing_role = f"arn:aws:iam::{lab.account}:role/no-such-role"
    cfn = lab.client("cloudformation")
    cfn.create_stack(StackName="broken", TemplateBody=json.dumps(template), Parameters=[
        {"ParameterKey": "PipelineRole", "ParameterValue": missing_role},
        {"ParameterKey": "BuildRole", "ParameterValue": lab.build_role},
        {"ParameterKey": "DeployRole", "ParameterValue": lab.build_role},
        {"ParameterKey": "ArtifactBucket", "ParameterValue": lab.bucket},
        {"ParameterKey": "SourceBucket", "ParameterValue": lab.sources}])
    assert settled(cfn, "broken")["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName="broken")["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Pipeline"]
    assert "no-such-role" in failed[0]["ResourceStatusReason"], failed[0]["ResourceStatusReason"]
    assert lab.client("codecommit").list_repositories()["repositories"] == []
    assert lab.codebuild.list_projects().get("projects", []) == []
    assert lab.codepipeline.list_pipelines()["pipelines"] == []
