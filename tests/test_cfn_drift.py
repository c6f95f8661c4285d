"""Drift detection on labstack's own CloudFormation: resources changed behind the stack's back with boto3
are MODIFIED (or DELETED) with AWS's PropertyDifferences, the stack DRIFTED; detection reads as its caller.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labstack.services.cloudformation.drift import compare, differences, expected_properties
from tests.support.codebuild import build_role, new_account
from tests.support.policystream import policy, user
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

IMAGE = "aws/codebuild/standard:7.0"
TEMPLATE = {
    "Parameters": {"Role": {"Type": "String"}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "Orders",
                                                            "Tags": [{"Key": "team", "Value": "shop"}]}},
        "Project": {"Type": "AWS::CodeBuild::Project", "Properties": {
            "ServiceRole": {"Ref": "Role"}, "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2\nphases: {}\n"},
            "Artifacts": {"Type": "NO_ARTIFACTS"}, "TimeoutInMinutes": "30",
            "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": IMAGE}}},
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
    },
}


class Stack:
    """One account's stack of TEMPLATE, with its clients."""

    def __init__(self, server: LabstackProcess) -> None:
        self.server, self.account = server, new_account()
        self.cfn = check_responses(server.client("cloudformation", account=self.account))
        role = build_role(server.client("iam", account=self.account))
        self.cfn.create_stack(StackName="shop", TemplateBody=json.dumps(TEMPLATE),
                              Parameters=[{"ParameterKey": "Role", "ParameterValue": role}])
        self.cfn.get_waiter("stack_create_complete").wait(StackName="shop", WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    def client(self, service: str) -> Any:
        return self.server.client(service, account=self.account)

    def physical(self, logical: str) -> str:
        return self.cfn.describe_stack_resource(StackName="shop", LogicalResourceId=logical)[
            "StackResourceDetail"]["PhysicalResourceId"]

    def detect(self, cfn: Any | None = None) -> dict:
        """DetectStackDrift, then its status once it is no longer in progress."""
        cfn = cfn or self.cfn
        detection = cfn.detect_stack_drift(StackName="shop")["StackDriftDetectionId"]
        return wait_for(lambda: (s := cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection))[
            "DetectionStatus"] != "DETECTION_IN_PROGRESS" and s)

    def drifts(self, *statuses: str) -> dict[str, dict]:
        wanted = {"StackResourceDriftStatusFilters": list(statuses)} if statuses else {}
        found = self.cfn.describe_stack_resource_drifts(StackName="shop", **wanted)
        return {d["LogicalResourceId"]: d for d in found["StackResourceDrifts"]}


@pytest.fixture
def stack(labstack: LabstackProcess) -> Stack:
    return Stack(labstack)


def test_an_untouched_stack_is_in_sync(stack: Stack) -> None:
    assert stack.cfn.describe_stacks(StackName="shop")["Stacks"][0]["DriftInformation"] == {"StackDriftStatus": "NOT_CHECKED"}
    status = stack.detect()
    assert (status["DetectionStatus"], status["StackDriftStatus"], status["DriftedStackResourceCount"]) == (
        "DETECTION_COMPLETE", "IN_SYNC", 0)
    drifts = stack.drifts()
    assert {k: d["StackResourceDriftStatus"] for k, d in drifts.items()} == {
        "Topic": "IN_SYNC", "Project": "IN_SYNC", "Handle": "NOT_CHECKED"}
    assert json.loads(drifts["Project"]["ExpectedProperties"])["TimeoutInMinutes"] == "30"
    assert drifts["Topic"]["PropertyDifferences"] == []


def test_resources_changed_behind_the_stacks_back_are_modified(stack: Stack) -> None:
    """The topic's DisplayName set and a tag added with SNS's API, the project's image changed with
    CodeBuild's: NOT_EQUAL and ADD differences with their property paths; the stack DRIFTED, and
    DescribeStacks/DescribeStackResources show it."""
    sns, codebuild = stack.client("sns"), stack.client("codebuild")
    topic = stack.physical("Topic")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Hijacked")
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "owner", "Value": "mallory"}])
    project = codebuild.batch_get_projects(names=[stack.physical("Project")])["projects"][0]
    codebuild.update_project(name=project["name"], environment={**project["environment"], "image": "my/own:image"})
    status = stack.detect()
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 2)
    modified = stack.drifts("MODIFIED")
    assert set(modified) == {"Topic", "Project"}
    assert sorted(modified["Topic"]["PropertyDifferences"], key=lambda d: d["PropertyPath"]) == [
        {"PropertyPath": "/DisplayName", "ExpectedValue": "Orders", "ActualValue": "Hijacked", "DifferenceType": "NOT_EQUAL"},
        {"PropertyPath": "/Tags/1", "ExpectedValue": "null", "ActualValue": '{"Key":"owner","Value":"mallory"}',
         "DifferenceType": "ADD"}]
    assert modified["Project"]["PropertyDifferences"] == [
        {"PropertyPath": "/Environment/Image", "ExpectedValue": IMAGE, "ActualValue": "my/own:image",
         "DifferenceType": "NOT_EQUAL"}]
    shown = stack.cfn.describe_stacks(StackName="shop")["Stacks"][0]["DriftInformation"]
    assert shown["StackDriftStatus"] == "DRIFTED" and "LastCheckTimestamp" in shown
    assert stack.cfn.list_stacks()["StackSummaries"][0]["DriftInformation"] == shown
    rows = {r["LogicalResourceId"]: r["DriftInformation"] for r in stack.cfn.describe_stack_resources(StackName="shop")["StackResources"]}
    assert rows["Topic"]["StackResourceDriftStatus"] == "MODIFIED" and "LastCheckTimestamp" in rows["Topic"]
    assert rows["Handle"]["StackResourceDriftStatus"] == "NOT_CHECKED"


def test_a_deleted_resource_is_deleted(stack: Stack) -> None:
    """DetectStackResourceDrift on one resource removed with its own API."""
    stack.client("sns").delete_topic(TopicArn=stack.physical("Topic"))
    drift = stack.cfn.detect_stack_resource_drift(StackName="shop", LogicalResourceId="Topic")["StackResourceDrift"]
    assert drift["StackResourceDriftStatus"] == "DELETED" and "ActualProperties" not in drift
    assert stack.drifts("DELETED").keys() == {"Topic"}


def test_detection_reads_as_its_caller_and_leaks_nothing_to_one_who_may_not_read(stack: Stack) -> None:
    """Hostile: a user allowed CloudFormation but not SNS's or CodeBuild's reads detects drift: AWS reads each
    resource with the caller's permissions, so the detection fails on those resources and shows no actual
    values; the owner's later detection still works."""
    iam = stack.client("iam")
    keys = user(iam, "peeker", policy({"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}))
    peeker = keys.client(stack.server, "cloudformation")
    status = stack.detect(peeker)
    assert status["DetectionStatus"] == "DETECTION_FAILED"
    assert "Topic" in status["DetectionStatusReason"] and "Project" in status["DetectionStatusReason"]
    assert "AccessDenied" in status["DetectionStatusReason"] or "not authorized" in status["DetectionStatusReason"]
    seen = stack.drifts()
    assert all("ActualProperties" not in d for d in seen.values())
    assert stack.detect()["DetectionStatus"] == "DETECTION_COMPLETE"


def test_drift_requests_aws_refuses(labstack: LabstackProcess) -> None:
    cfn = labstack.client("cloudformation", account=new_account())
    cfn.create_change_set(StackName="draft", ChangeSetName="c", ChangeSetType="CREATE",
                          TemplateBody=json.dumps({"Resources": {"Handle": TEMPLATE["Resources"]["Handle"]}}))
    for call, args in ((cfn.detect_stack_drift, {"StackName": "draft"}),
                       (cfn.describe_stack_drift_detection_status, {"StackDriftDetectionId": "nope"}),
                       (cfn.detect_stack_resource_drift, {"StackName": "draft", "LogicalResourceId": "Handle"})):
        with pytest.raises(ClientError) as caught:
            call(**args)
        assert caught.value.response["Error"]["Code"] == "ValidationError"


@pytest.mark.parametrize(("expected", "actual", "found"), [
    ({"A": "5", "B": "true"}, {"A": 5, "B": True, "Extra": 1}, []),  # CloudFormation's string scalars; defaults ignored
    ({"Doc": {"a": [1]}}, {"Doc": '{"a": [1]}'}, []),  # JSON text read back equals the object
    ({"A": {"B": 1}}, {"A": {}}, [("/A/B", "REMOVE")]),
    ({"L": [1, 2]}, {"L": [1]}, [("/L/1", "REMOVE")]),
    ({"L": [1, 2]}, {"L": [2, 1]}, [("/L/0", "NOT_EQUAL"), ("/L/1", "NOT_EQUAL")]),  # order matters by default
])
def test_differences(expected: dict, actual: dict, found: list) -> None:
    assert [(d["PropertyPath"], d["DifferenceType"]) for d in differences(expected, actual)] == found


def test_unordered_lists_compare_as_multisets() -> None:
    tags = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert list(differences(tags, list(reversed(tags)), "/Tags", ordered=False)) == []
    changed = list(differences(tags, [tags[1], {"Key": "a", "Value": "9"}], "/Tags", ordered=False))
    assert [(d["PropertyPath"], d["DifferenceType"]) for d in changed] == [("/Tags/0/Value", "NOT_EQUAL")]


def test_write_only_properties_and_kms_key_ids_are_not_compared() -> None:
    """A pipeline's RestartExecutionOnUpdate is write-only in its schema (never read back); AWS does not compare
    KmsKeyId (a key has many aliases). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html"""
    props = {"Name": "p", "RestartExecutionOnUpdate": True}
    assert expected_properties("AWS::CodePipeline::Pipeline", props) == {"Name": "p"}
    expected = {"KmsKeyId": "alias/a", "Config": {"KmsKeyId": "alias/a", "Size": 1}}
    assert compare("AWS::Logs::LogGroup", expected, {"KmsKeyId": "arn:key", "Config": {"KmsKeyId": "x", "Size": 1}}) == []


@pytest.mark.slow
def test_one_detection_per_stack_a_bound_per_account_and_reset_stops_them(inprocess: Any, monkeypatch: Any) -> None:
    """A flood of DetectStackDrift calls (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html)
    starts one detection per stack: while it runs a second call answers its id; an account runs at most
    MAX_DETECTIONS at once (LimitExceededException beyond, here 1); `labstack reset` stops a detection between
    resources and leaves no detection thread behind."""
    import threading

    from labstack.services.cloudformation import drift
    from tests.support.cfn_stacks import settled
    from tests.support.inprocess import client

    monkeypatch.setattr(drift, "SETTLE_SECONDS", 0)
    monkeypatch.setattr(drift, "MAX_DETECTIONS", 1)
    cfn = client(inprocess, "cloudformation")
    params = {f"P{i}": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}} for i in range(200)}
    cfn.create_stack(StackName="Many", TemplateBody=json.dumps({"Resources": params}))
    cfn.create_stack(StackName="Small", TemplateBody=json.dumps({"Resources": {"P": params["P0"]}}))
    assert settled(cfn, "Many", seconds=120)["StackStatus"] == settled(cfn, "Small")["StackStatus"] == "CREATE_COMPLETE"

    first = cfn.detect_stack_drift(StackName="Many")["StackDriftDetectionId"]
    assert [cfn.detect_stack_drift(StackName="Many")["StackDriftDetectionId"] for _ in range(20)] == [first] * 20
    with pytest.raises(cfn.exceptions.LimitExceededException, match="at most 1 stack drift detections"):
        cfn.detect_stack_drift(StackName="Small")
    assert cfn.describe_stack_drift_detection_status(StackDriftDetectionId=first)["DetectionStatus"] == "DETECTION_IN_PROGRESS"
    inprocess.reset()
    assert not [t for t in threading.enumerate() if t.name.startswith("cfn-drift-")]
