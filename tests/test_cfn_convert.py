"""The CloudFormation property converter: template properties <-> botocore shapes, both ways."""

from __future__ import annotations

import json

import pytest

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.resource import HandlerError

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
                                                   "Action": "sts:AssumeRole"}]}

PROJECT = {
    "Name": "app-build",
    "ServiceRole": "arn:aws:iam::123456789012:role/build",
    "Source": {"Type": "CODECOMMIT", "Location": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/app",
               "BuildSpec": "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n", "GitCloneDepth": "1"},
    "Artifacts": {"Type": "NO_ARTIFACTS"},
    "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
                    "Image": "aws/codebuild/standard:7.0", "PrivilegedMode": "true",
                    "EnvironmentVariables": [{"Name": "STAGE", "Value": "test", "Type": "PLAINTEXT"},
                                             {"Name": "RETRIES", "Value": 3}]},
    "TimeoutInMinutes": "5",
    "BadgeEnabled": False,
    "Tags": [{"Key": "team", "Value": "ci"}],
    "Triggers": {"Webhook": True},
}


def test_codebuild_project_properties_become_create_project_parameters() -> None:
    """AWS::CodeBuild::Project's properties
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-codebuild-project.html) as
    CreateProject's input: names by the model, strings coerced, tags in the API's {key, value} form."""
    params = to_api("codebuild", "CreateProject", PROJECT, drop=["Triggers"])
    assert params["name"] == "app-build"
    assert params["source"]["buildspec"].startswith("version: 0.2")
    assert params["source"]["gitCloneDepth"] == 1
    assert params["environment"]["privilegedMode"] is True
    assert params["environment"]["environmentVariables"] == [
        {"name": "STAGE", "value": "test", "type": "PLAINTEXT"}, {"name": "RETRIES", "value": "3"}]
    assert params["timeoutInMinutes"] == 5
    assert params["badgeEnabled"] is False
    assert params["tags"] == [{"key": "team", "value": "ci"}]
    assert "triggers" not in params and "Triggers" not in params


def test_an_unknown_property_is_refused_naming_its_path() -> None:
    bad = {**PROJECT, "Environment": {**PROJECT["Environment"], "EnvironmentVariables": [{"Name": "A", "Valu": "1"}]}}
    with pytest.raises(HandlerError, match=r"unsupported property Environment\.EnvironmentVariables\[0\]\.Valu"):
        to_api("codebuild", "CreateProject", bad, drop=["Triggers"])
    with pytest.raises(HandlerError, match="unsupported property Triggers"):
        to_api("codebuild", "CreateProject", PROJECT)


@pytest.mark.parametrize(("change", "message"), [
    ({"TimeoutInMinutes": "five"}, "TimeoutInMinutes must be of type Integer"),
    ({"BadgeEnabled": "yes"}, "BadgeEnabled must be of type Boolean"),
    ({"Source": "CODECOMMIT"}, "Source must be of type Object"),
    ({"Tags": "team=ci"}, "Tags must be of type List"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_its_path(change: dict, message: str) -> None:
    with pytest.raises(HandlerError, match=message):
        to_api("codebuild", "CreateProject", {**PROJECT, **change}, drop=["Triggers"])


def test_codepipeline_pipeline_properties_become_the_pipeline_structure() -> None:
    """AWS::CodePipeline::Pipeline
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-codepipeline-pipeline.html):
    the pipeline's declaration nested in CreatePipeline's ``pipeline``; ArtifactStores' [{Region,
    ArtifactStore}] list becomes the API's map by region; a boolean action configuration value the
    API's string."""
    stages = [
        {"Name": "Source", "Actions": [{
            "Name": "Source", "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit",
                                               "Version": "1"},
            "Configuration": {"RepositoryName": "app", "BranchName": "main", "PollForSourceChanges": False},
            "OutputArtifacts": [{"Name": "src"}], "RunOrder": "1"}]},
        {"Name": "Build", "Actions": [{
            "Name": "Build", "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild",
                                              "Version": "1"},
            "Configuration": {"ProjectName": "app-build"}, "InputArtifacts": [{"Name": "src"}]}]},
    ]
    props = {"Name": "app", "RoleArn": "arn:aws:iam::123456789012:role/pipe", "PipelineType": "V2",
             "ArtifactStores": [{"Region": "us-east-1", "ArtifactStore": {"Type": "S3", "Location": "bucket"}}],
             "Stages": stages, "Variables": [{"Name": "v", "DefaultValue": "1"}],
             "RestartExecutionOnUpdate": "true"}
    body = {k: v for k, v in props.items() if k != "RestartExecutionOnUpdate"}
    params = to_api("codepipeline", "CreatePipeline", {"Pipeline": body, "Tags": [{"Key": "a", "Value": "b"}]})
    pipeline = params["pipeline"]
    assert pipeline["artifactStores"] == {"us-east-1": {"type": "S3", "location": "bucket"}}
    source = pipeline["stages"][0]["actions"][0]
    assert source["configuration"]["PollForSourceChanges"] == "false"  # map keys are data, kept as written
    assert source["actionTypeId"] == {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}
    assert source["runOrder"] == 1 and source["outputArtifacts"] == [{"name": "src"}]
    assert pipeline["stages"][1]["actions"][0]["inputArtifacts"] == [{"name": "src"}]
    assert pipeline["variables"] == [{"name": "v", "defaultValue": "1"}]
    assert params["tags"] == [{"key": "a", "value": "b"}]
    with pytest.raises(HandlerError, match=r"Pipeline\.RestartExecutionOnUpdate"):
        to_api("codepipeline", "CreatePipeline", {"Pipeline": props})


def test_iam_role_parameters_for_the_query_protocol() -> None:
    """AWS::IAM::Role: the policy document object becomes CreateRole's JSON text, MaxSessionDuration an
    integer; `rename` maps RoleName's property name where it differs; Policies dropped for later calls."""
    props = {"RoleName": "build", "AssumeRolePolicyDocument": POLICY, "MaxSessionDuration": "7200", "Path": "/ci/",
             "Tags": [{"Key": "k", "Value": "v"}], "Policies": [{"PolicyName": "p", "PolicyDocument": POLICY}]}
    params = to_api("iam", "CreateRole", props, drop=["Policies"])
    assert json.loads(params["AssumeRolePolicyDocument"]) == POLICY
    assert params["MaxSessionDuration"] == 7200
    assert params["Tags"] == [{"Key": "k", "Value": "v"}] and "Policies" not in params
    renamed = to_api("sns", "CreateTopic", {"TopicName": "t"}, rename={"TopicName": "Name"})
    assert renamed == {"Name": "t"}


def test_map_and_list_tag_forms_convert_both_ways() -> None:
    """SQS takes tags as a map, SSM's AddTagsToResource as a list: either template form fits either."""
    assert to_api("sqs", "CreateQueue", {"QueueName": "q", "Tags": [{"Key": "a", "Value": "1"}]})["tags"] == {"a": "1"}
    assert to_api("ssm", "AddTagsToResource", {"ResourceType": "Parameter", "ResourceId": "p",
                                                "Tags": {"a": "1"}})["Tags"] == [{"Key": "a", "Value": "1"}]


def test_from_api_returns_the_template_form_of_what_the_template_set() -> None:
    """read(): a project as BatchGetProjects describes it, back in the template's names and forms; what
    the API adds on its own (ARN, defaults) is left out, an extra tag comes back in {Key, Value} form."""
    like = {k: v for k, v in PROJECT.items() if k not in ("Triggers", "BadgeEnabled")}  # Project nests badge
    described = to_api("codebuild", "CreateProject", like)
    described.update(arn="arn:aws:codebuild:us-east-1:123456789012:project/app-build", queuedTimeoutInMinutes=480)
    described["tags"].append({"key": "extra", "value": "x"})
    back = from_api("codebuild", "Project", described, like)
    assert back["Tags"] == [{"Key": "team", "Value": "ci"}, {"Key": "extra", "Value": "x"}]
    back["Tags"] = like["Tags"]
    assert back == like


def test_from_api_parses_json_text_and_map_forms_back() -> None:
    like = {"RoleName": "r", "AssumeRolePolicyDocument": POLICY, "MaxSessionDuration": "3600"}
    back = from_api("iam", "Role", {"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(POLICY),
                                    "MaxSessionDuration": 3600, "Arn": "arn"}, like)
    assert back == like
    stores = [{"Region": "us-east-1", "ArtifactStore": {"Type": "S3", "Location": "b"}}]
    back = from_api("codepipeline", "PipelineDeclaration",
                    {"name": "p", "artifactStores": {"us-east-1": {"type": "S3", "location": "b"}}},
                    {"Name": "p", "ArtifactStores": stores})
    assert back == {"Name": "p", "ArtifactStores": stores}
