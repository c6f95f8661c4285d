"""Change sets on labstack's own CloudFormation: planned, described as DescribeChangeSet documents them,
executed, deleted, obsoleted, and refused where AWS refuses them.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labstack.services.cloudformation.changesets import MAX_PER_STACK, NO_CHANGES
from tests.support.codebuild import new_account
from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]

TEMPLATE = {
    "Parameters": {"Env": {"Type": "String", "Default": "dev"}, "Name": {"Type": "String", "Default": "orders"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": {"Ref": "Name"}, "DisplayName": "Orders", "Tags": [{"Key": "env", "Value": {"Ref": "Env"}}]}}},
    "Outputs": {"Arn": {"Value": {"Ref": "Topic"}}},
}


def _cfn(labstack: LabstackProcess) -> tuple[Any, str]:
    account = new_account()
    return check_responses(labstack.client("cloudformation", account=account)), account


def _params(**values: str) -> list[dict]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _created(cfn: Any, name: str = "shop") -> str:
    """A stack made through a CREATE change set, executed; the change set's id."""
    made = cfn.create_change_set(StackName=name, ChangeSetName="first", ChangeSetType="CREATE",
                                 TemplateBody=json.dumps(TEMPLATE))
    cfn.execute_change_set(ChangeSetName=made["Id"])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return made["Id"]


def _error(call: Any, **args: Any) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**args)
    return caught.value.response["Error"] | {"Status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_a_create_change_set_reviews_a_new_stack_then_creates_it(labstack: LabstackProcess) -> None:
    """ChangeSetType CREATE: the stack exists in REVIEW_IN_PROGRESS with no resources, the change set lists
    every resource as Add; executing it creates the stack and the change set reads EXECUTE_COMPLETE."""
    cfn, _ = _cfn(labstack)
    made = cfn.create_change_set(StackName="shop", ChangeSetName="first", ChangeSetType="CREATE",
                                 TemplateBody=json.dumps(TEMPLATE), Description="the first one")
    stack = cfn.describe_stacks(StackName="shop")["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS" and stack["StackId"] == made["StackId"]
    assert cfn.list_stack_resources(StackName="shop")["StackResourceSummaries"] == []
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"], WaiterConfig={"Delay": 1})
    described = cfn.describe_change_set(ChangeSetName="first", StackName="shop")
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert described["Description"] == "the first one" and described["ChangeSetId"] == made["Id"]
    assert described["Changes"] == [{"Type": "Resource", "ResourceChange": {
        "Action": "Add", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic", "Scope": [], "Details": []}}]
    assert cfn.get_template(StackName="shop", ChangeSetName="first")["TemplateBody"] == TEMPLATE  # boto3 parses JSON
    cfn.execute_change_set(ChangeSetName="first", StackName="shop")
    cfn.get_waiter("stack_create_complete").wait(StackName="shop", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert cfn.describe_change_set(ChangeSetName=made["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    again = _error(cfn.execute_change_set, ChangeSetName=made["Id"])
    assert again["Code"] == "InvalidChangeSetStatus" and "[EXECUTE_COMPLETE]" in again["Message"]
    topic = cfn.describe_stack_resource(StackName="shop", LogicalResourceId="Topic")["StackResourceDetail"]
    assert topic["PhysicalResourceId"].endswith(":orders")


def test_a_change_set_without_changes_fails_with_awss_reason_and_cannot_run(labstack: LabstackProcess) -> None:
    cfn, _ = _cfn(labstack)
    _created(cfn)
    made = cfn.create_change_set(StackName="shop", ChangeSetName="same", UsePreviousTemplate=True,
                                 Parameters=[{"ParameterKey": "Env", "UsePreviousValue": True},
                                             {"ParameterKey": "Name", "UsePreviousValue": True}])
    described = cfn.describe_change_set(ChangeSetName=made["Id"])
    assert (described["Status"], described["StatusReason"], described["ExecutionStatus"]) == (
        "FAILED", NO_CHANGES, "UNAVAILABLE")
    assert NO_CHANGES == ("The submitted information didn't contain changes. Submit different information to create "
                          "a change set.")
    refused = _error(cfn.execute_change_set, ChangeSetName=made["Id"])
    assert refused["Code"] == "InvalidChangeSetStatus" and "[FAILED]" in refused["Message"]


def test_an_update_change_set_shows_the_parameters_effect_and_executing_it_drops_the_others(labstack: LabstackProcess) -> None:
    """A changed parameter used in the tags: the page's two details (Dynamic DirectModification, Static
    ParameterReference). Executing it updates the stack in place; the stack's other change sets are deleted.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html"""
    cfn, account = _cfn(labstack)
    _created(cfn)
    arn = cfn.describe_stack_resource(StackName="shop", LogicalResourceId="Topic")["StackResourceDetail"]["PhysicalResourceId"]
    cfn.create_change_set(StackName="shop", ChangeSetName="rename", UsePreviousTemplate=True,
                          Parameters=_params(Env="dev", Name="orders-v2"))
    made = cfn.create_change_set(StackName="shop", ChangeSetName="prod", UsePreviousTemplate=True,
                                 Parameters=_params(Env="prod", Name="orders"))
    described = cfn.describe_change_set(ChangeSetName="prod", StackName="shop")
    change = described["Changes"][0]["ResourceChange"]
    assert (change["Action"], change["Replacement"], change["Scope"], change["PhysicalResourceId"]) == (
        "Modify", "False", ["Tags"], arn)
    assert [(d["Evaluation"], d["ChangeSource"], d.get("CausingEntity")) for d in change["Details"]] == [
        ("Dynamic", "DirectModification", None), ("Static", "ParameterReference", "Env")]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == {"Env": "prod", "Name": "orders"}
    renamed = cfn.describe_change_set(ChangeSetName="rename", StackName="shop")["Changes"][0]["ResourceChange"]
    assert renamed["Replacement"] == "True" and renamed["PolicyAction"] == "ReplaceAndDelete"
    cfn.execute_change_set(ChangeSetName=made["Id"])
    cfn.get_waiter("stack_update_complete").wait(StackName="shop", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    tags = labstack.client("sns", account=account).list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert {"Key": "env", "Value": "prod"} in tags
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="shop")["Summaries"]] == ["prod"]
    assert _error(cfn.describe_change_set, ChangeSetName="rename", StackName="shop")["Code"] == "ChangeSetNotFound"


def test_a_replacing_change_set_makes_a_new_resource_and_deletes_the_old(labstack: LabstackProcess) -> None:
    """TopicName: "Update requires: Replacement"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html#cfn-sns-topic-topicname)."""
    cfn, account = _cfn(labstack)
    _created(cfn)
    old = cfn.describe_stack_resource(StackName="shop", LogicalResourceId="Topic")["StackResourceDetail"]["PhysicalResourceId"]
    made = cfn.create_change_set(StackName="shop", ChangeSetName="rename", UsePreviousTemplate=True,
                                 Parameters=_params(Env="dev", Name="orders-v2"))
    detail = cfn.describe_change_set(ChangeSetName=made["Id"])["Changes"][0]["ResourceChange"]["Details"][0]
    assert detail["Target"] == {"Attribute": "Properties", "Name": "TopicName", "RequiresRecreation": "Always"}
    cfn.execute_change_set(ChangeSetName=made["Id"])
    cfn.get_waiter("stack_update_complete").wait(StackName="shop", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    new = cfn.describe_stack_resource(StackName="shop", LogicalResourceId="Topic")["StackResourceDetail"]["PhysicalResourceId"]
    assert new.endswith(":orders-v2")
    topics = [t["TopicArn"] for t in labstack.client("sns", account=account).list_topics()["Topics"]]
    assert new in topics and old not in topics


def test_a_direct_update_obsoletes_a_waiting_change_set(labstack: LabstackProcess) -> None:
    cfn, _ = _cfn(labstack)
    _created(cfn)
    made = cfn.create_change_set(StackName="shop", ChangeSetName="later", UsePreviousTemplate=True,
                                 Parameters=_params(Env="test", Name="orders"))
    cfn.update_stack(StackName="shop", UsePreviousTemplate=True, Parameters=_params(Env="prod", Name="orders"))
    cfn.get_waiter("stack_update_complete").wait(StackName="shop", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert cfn.describe_change_set(ChangeSetName=made["Id"])["ExecutionStatus"] == "OBSOLETE"
    refused = _error(cfn.execute_change_set, ChangeSetName=made["Id"])
    assert refused["Code"] == "InvalidChangeSetStatus" and "[OBSOLETE]" in refused["Message"]
    cfn.delete_change_set(ChangeSetName=made["Id"])
    left = [(s["ChangeSetName"], s["ExecutionStatus"]) for s in cfn.list_change_sets(StackName="shop")["Summaries"]]
    assert left == [("first", "EXECUTE_COMPLETE")]  # the executed one is kept


def test_racing_executions_run_a_change_set_once(labstack: LabstackProcess) -> None:
    """Hostile: the same change set executed from two clients at once runs once; the other is refused."""
    cfn, account = _cfn(labstack)
    _created(cfn)
    made = cfn.create_change_set(StackName="shop", ChangeSetName="race", UsePreviousTemplate=True,
                                 Parameters=_params(Env="prod", Name="orders"))
    clients = [labstack.client("cloudformation", account=account) for _ in range(2)]

    def run(client: Any) -> str:
        try:
            client.execute_change_set(ChangeSetName=made["Id"])
        except ClientError as error:
            return error.response["Error"]["Code"]
        return "ran"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(run, clients))
    assert outcomes == ["InvalidChangeSetStatus", "ran"]
    cfn.get_waiter("stack_update_complete").wait(StackName="shop", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    updates = [e for e in cfn.describe_stack_events(StackName="shop")["StackEvents"]
               if e["LogicalResourceId"] == "shop" and e["ResourceStatus"] == "UPDATE_IN_PROGRESS"]
    assert len(updates) == 1


CHILD = {"Parameters": {"Display": {"Type": "String"}},
         "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Display"}}}}}
PARENT = {"Parameters": {"Display": {"Type": "String", "Default": "one"}},
          "Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {
              "TemplateURL": "https://templates.s3.amazonaws.com/child.json", "Parameters": {"Display": {"Ref": "Display"}}}}}}


def test_nested_change_sets_plan_and_run_with_their_root(labstack: LabstackProcess) -> None:
    """IncludeNestedStacks: the nested stack's change carries the id of a change set of its own (ParentChangeSetId,
    RootChangeSetId) planning the child's resources; it runs, and is deleted, only through its root.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/change-sets-for-nested-stacks.html"""
    cfn, account = _cfn(labstack)
    s3 = labstack.client("s3", account=account)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="child.json", Body=json.dumps(CHILD).encode())
    cfn.create_stack(StackName="parent", TemplateBody=json.dumps(PARENT))
    cfn.get_waiter("stack_create_complete").wait(StackName="parent", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    made = cfn.create_change_set(StackName="parent", ChangeSetName="two", UsePreviousTemplate=True,
                                 Parameters=_params(Display="two"), IncludeNestedStacks=True)
    root = cfn.describe_change_set(ChangeSetName=made["Id"])
    change = root["Changes"][0]["ResourceChange"]
    assert change["LogicalResourceId"] == "Child" and change["Action"] == "Modify" and root["IncludeNestedStacks"]
    nested = cfn.describe_change_set(ChangeSetName=change["ChangeSetId"])
    assert (nested["ParentChangeSetId"], nested["RootChangeSetId"], nested["StackId"]) == (
        made["Id"], made["Id"], change["PhysicalResourceId"])
    topic = nested["Changes"][0]["ResourceChange"]
    assert (topic["LogicalResourceId"], topic["Replacement"]) == ("Topic", "False")
    assert ("Static", "ParameterReference", "Display") in [
        (d["Evaluation"], d["ChangeSource"], d.get("CausingEntity")) for d in topic["Details"]]
    for call in (cfn.execute_change_set, cfn.delete_change_set):
        assert "nested change set" in _error(call, ChangeSetName=change["ChangeSetId"])["Message"]
    cfn.execute_change_set(ChangeSetName=made["Id"])
    cfn.get_waiter("stack_update_complete").wait(StackName="parent", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert cfn.describe_change_set(ChangeSetName=change["ChangeSetId"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    arn = cfn.describe_stack_resource(StackName=change["PhysicalResourceId"], LogicalResourceId="Topic")[
        "StackResourceDetail"]["PhysicalResourceId"]
    attributes = labstack.client("sns", account=account).get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "two"
    cfn.delete_change_set(ChangeSetName=made["Id"])
    assert _error(cfn.describe_change_set, ChangeSetName=change["ChangeSetId"])["Code"] == "ChangeSetNotFound"


def test_change_set_requests_aws_refuses(labstack: LabstackProcess) -> None:
    cfn, _ = _cfn(labstack)
    missing = _error(cfn.describe_change_set, ChangeSetName="nope", StackName="shop")
    assert (missing["Code"], missing["Message"], missing["Status"]) == ("ChangeSetNotFound",
                                                                      "ChangeSet [nope] does not exist", 404)
    body = json.dumps(TEMPLATE)
    assert _error(cfn.create_change_set, StackName="shop", ChangeSetName="u", TemplateBody=body)["Message"] == (
        "Stack [shop] does not exist")
    _created(cfn)
    again = _error(cfn.create_change_set, StackName="shop", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body)
    assert again["Message"] == "Stack [shop] already exists and cannot be created again with the changeSet [c]."
    cfn.create_change_set(StackName="shop", ChangeSetName="twice", UsePreviousTemplate=True, Parameters=_params(Env="a"))
    duplicate = _error(cfn.create_change_set, StackName="shop", ChangeSetName="twice", UsePreviousTemplate=True,
                       Parameters=_params(Env="b"))
    assert duplicate["Code"] == "AlreadyExistsException"
    assert _error(cfn.describe_change_set, ChangeSetName="twice")["Code"] == "ValidationError"  # no stack named


def test_deleting_a_stack_under_review_takes_its_change_sets(labstack: LabstackProcess) -> None:
    cfn, _ = _cfn(labstack)
    made = cfn.create_change_set(StackName="draft", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(TEMPLATE))
    cfn.delete_stack(StackName="draft")
    cfn.get_waiter("stack_delete_complete").wait(StackName=made["StackId"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert _error(cfn.describe_change_set, ChangeSetName=made["Id"])["Code"] == "ChangeSetNotFound"
    again = cfn.create_change_set(StackName="draft", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(TEMPLATE))
    assert again["StackId"] != made["StackId"]


def test_a_stack_that_cannot_be_updated_takes_no_update_change_set(labstack: LabstackProcess) -> None:
    """A stack whose creation rolled back (ROLLBACK_COMPLETE) can only be deleted, as UpdateStack says."""
    cfn, _ = _cfn(labstack)
    failing = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "not a valid name!"}}}}
    made = cfn.create_change_set(StackName="bad", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(failing))
    cfn.execute_change_set(ChangeSetName=made["Id"])
    assert wait_for(lambda: cfn.describe_stacks(StackName="bad")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE")
    assert cfn.describe_change_set(ChangeSetName=made["Id"])["ExecutionStatus"] == "EXECUTE_FAILED"
    refused = _error(cfn.create_change_set, StackName="bad", ChangeSetName="u", TemplateBody=json.dumps(TEMPLATE))
    assert refused["Message"] == f"Stack:{made['StackId']} is in ROLLBACK_COMPLETE state and can not be updated."


def test_a_broken_template_leaves_no_stack_behind(labstack: LabstackProcess) -> None:
    """A CREATE change set whose template is refused makes no REVIEW_IN_PROGRESS stack."""
    cfn, _ = _cfn(labstack)
    broken = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Nowhere"}}}}}
    refused = _error(cfn.create_change_set, StackName="ghost", ChangeSetName="c", ChangeSetType="CREATE",
                     TemplateBody=json.dumps(broken))
    assert refused["Code"] == "ValidationError" and "Nowhere" in refused["Message"]
    assert _error(cfn.describe_stacks, StackName="ghost")["Code"] == "ValidationError"


def test_a_flood_of_change_sets_is_bounded_per_stack(labstack: LabstackProcess) -> None:
    """Hostile: change sets piled up on one stack stop at labstack's bound with LimitExceededException;
    the stack and its existing change sets still answer."""
    cfn, _ = _cfn(labstack)
    _created(cfn)
    for n in range(MAX_PER_STACK - 1):  # the executed CREATE change set counts too
        cfn.create_change_set(StackName="shop", ChangeSetName=f"c{n}", UsePreviousTemplate=True,
                              Parameters=_params(Env=f"e{n}"))
    refused = _error(cfn.create_change_set, StackName="shop", ChangeSetName="one-more", UsePreviousTemplate=True,
                     Parameters=_params(Env="x"))
    assert refused["Code"] == "LimitExceededException"
    listed = cfn.list_change_sets(StackName="shop")
    assert len(listed["Summaries"]) == MAX_PER_STACK and "NextToken" not in listed
    assert wait_for(lambda: cfn.describe_stacks(StackName="shop")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE")


def test_a_pipelines_change_set_can_wait_under_review_across_runs(pipeline_lab: PipelineLab) -> None:
    """The pipeline's CloudFormation action, CHANGE_SET_REPLACE only: the first run leaves a new stack under review
    with its CREATE change set; the next run replaces that change set (again CREATE: the stack does not exist
    yet), so a change set that waited for an approval never wedges the pipeline."""
    lab = pipeline_lab
    lab.source({"template.yaml": json.dumps(TEMPLATE)})
    plan = action("Plan", "Deploy", "CloudFormation", {"ActionMode": "CHANGE_SET_REPLACE", "StackName": "review",
                                                      "TemplatePath": "src::template.yaml", "ChangeSetName": "next"},
                  inputs=("src",))
    lab.create("plans", stage("Source", s3_source(lab.sources)), stage("Plan", plan))
    first = lab.execution("plans", lab.wait_for_executions("plans", 1)[0]["pipelineExecutionId"])
    assert first["status"] == "Succeeded"
    again = lab.run("plans")
    assert again["status"] == "Succeeded", again.get("statusSummary")
    cfn = lab.client("cloudformation")
    assert cfn.describe_stacks(StackName="review")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    waiting = cfn.describe_change_set(StackName="review", ChangeSetName="next")
    assert (waiting["Status"], waiting["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
