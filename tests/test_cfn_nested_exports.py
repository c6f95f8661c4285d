"""Nested stacks (AWS::CloudFormation::Stack from a TemplateURL in labstack's S3) and exports/imports between
stacks, against a real labstack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labstack.services.cloudformation.template import TemplateError
from labstack.services.cloudformation.urls import s3_location

from tests.support.cfn_stacks import outputs, settled
from tests.support.codebuild import new_account
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for


def reasons(cfn: Any, name: str) -> list[str]:
    return [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName=name)["StackEvents"]]


EXPORTER = {"Resources": {"Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}},
            "Outputs": {"Topic": {"Value": {"Ref": "Alerts"}, "Export": {"Name": "shop-alerts"}}}}
IMPORTER = {"Resources": {"Copy": {"Type": "AWS::SSM::Parameter", "Properties": {
    "Name": "/shop/alerts", "Type": "String", "Value": {"Fn::ImportValue": "shop-alerts"}}}}}


def test_an_export_in_use_cannot_be_deleted_or_changed(labstack: LabstackProcess) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html:
    export names are unique per account and region; after another stack imports an output you can't delete the
    exporting stack or modify the value; ImportValue of a missing export fails."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    with pytest.raises(cfn.exceptions.ClientError, match="No export named shop-alerts found."):
        cfn.create_stack(StackName="Importer", TemplateBody=json.dumps(IMPORTER))

    cfn.create_stack(StackName="Exporter", TemplateBody=json.dumps(EXPORTER))
    topic = outputs(settled(cfn, "Exporter"))["Topic"]
    assert [(e["Name"], e["Value"]) for e in cfn.list_exports()["Exports"]] == [("shop-alerts", topic)]
    cfn.create_stack(StackName="Importer", TemplateBody=json.dumps(IMPORTER))
    assert settled(cfn, "Importer")["StackStatus"] == "CREATE_COMPLETE"
    assert labstack.client("ssm", account=account).get_parameter(Name="/shop/alerts")["Parameter"]["Value"] == topic
    assert cfn.list_imports(ExportName="shop-alerts")["Imports"] == ["Importer"]

    cfn.create_stack(StackName="Rival", TemplateBody=json.dumps(
        {**EXPORTER, "Resources": {"Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "rival"}}}}))
    rival = settled(cfn, "Rival")
    assert rival["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("Export with name shop-alerts is already exported by stack Exporter" in r for r in reasons(cfn, "Rival"))

    changed = {**EXPORTER, "Outputs": {"Topic": {"Value": {"Fn::GetAtt": ["Alerts", "TopicName"]},
                                                 "Export": {"Name": "shop-alerts"}}}}
    cfn.update_stack(StackName="Exporter", TemplateBody=json.dumps(changed))
    assert settled(cfn, "Exporter")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "Export shop-alerts cannot be updated as it is in use by Importer" in reasons(cfn, "Exporter")
    assert [e["Value"] for e in cfn.list_exports()["Exports"]] == [topic]

    cfn.delete_stack(StackName="Exporter")
    stack = settled(cfn, "Exporter")
    assert (stack["StackStatus"], stack["StackStatusReason"]) == (
        "DELETE_FAILED", "Export shop-alerts cannot be deleted as it is in use by Importer")

    cfn.delete_stack(StackName="Importer")
    wait_for(lambda: cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"])
    with pytest.raises(cfn.exceptions.ClientError, match="Export 'shop-alerts' is not imported by any stack."):
        cfn.list_imports(ExportName="shop-alerts")
    stack_id = cfn.describe_stacks(StackName="Exporter")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName="Exporter")
    wait_for(lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE")
    assert cfn.list_exports()["Exports"] == []


CHILD = """
Parameters:
  Stage: {Type: String, AllowedValues: [dev, prod]}
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/shop/${Stage}/color", Type: String, Value: !Sub "blue-${Stage}"}
Outputs:
  SettingName: {Value: !Ref Setting}
"""


def parent(url: str, stage: str) -> str:
    return json.dumps({"Resources": {
        "Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url, "Parameters": {"Stage": stage}}}},
        "Outputs": {"Name": {"Value": {"Fn::GetAtt": ["Child", "Outputs.SettingName"]}},
                    "ChildId": {"Value": {"Ref": "Child"}}}})


@pytest.mark.slow
def test_a_nested_stack_is_made_updated_and_deleted_with_its_parent(labstack: LabstackProcess) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html:
    Ref is the nested stack's id, Fn::GetAtt Outputs.NestedStackOutputName its output; the child has the parent
    as ParentId and RootId; a parameter change updates it; deleting the parent deletes it."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    s3 = labstack.client("s3", account=account)
    s3.create_bucket(Bucket=f"templates-{account}")
    s3.put_object(Bucket=f"templates-{account}", Key="child.yaml", Body=CHILD.encode())
    url = f"https://templates-{account}.s3.us-east-1.amazonaws.com/child.yaml"

    parent_id = cfn.create_stack(StackName="Shop", TemplateBody=parent(url, "dev"))["StackId"]
    stack = settled(cfn, "Shop")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    out = outputs(stack)
    assert out["Name"] == "/shop/dev/color"
    child = cfn.describe_stacks(StackName=out["ChildId"])["Stacks"][0]
    assert (child["ParentId"], child["RootId"], child["StackStatus"]) == (parent_id, parent_id, "CREATE_COMPLETE")
    assert child["StackName"].startswith("Shop-Child-")
    assert [e["ResourceStatus"] for e in cfn.describe_stack_events(StackName=out["ChildId"])["StackEvents"]][0] == "CREATE_COMPLETE"
    ssm = labstack.client("ssm", account=account)
    assert ssm.get_parameter(Name="/shop/dev/color")["Parameter"]["Value"] == "blue-dev"

    cfn.update_stack(StackName="Shop", TemplateBody=parent(url, "prod"))
    stack = settled(cfn, "Shop")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(stack)["Name"] == "/shop/prod/color" and outputs(stack)["ChildId"] == out["ChildId"]
    assert cfn.describe_stacks(StackName=out["ChildId"])["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == ["/shop/prod/color"]

    cfn.update_stack(StackName="Shop", TemplateBody=parent(url, "staging"))  # the child refuses the value
    assert settled(cfn, "Shop")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert any("Parameter 'Stage' must be one of AllowedValues" in r for r in reasons(cfn, "Shop"))

    cfn.delete_stack(StackName="Shop")
    wait_for(lambda: cfn.describe_stacks(StackName=parent_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE")
    assert cfn.describe_stacks(StackName=out["ChildId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert ssm.describe_parameters()["Parameters"] == []


def test_a_nested_stack_needs_the_parents_capabilities(labstack: LabstackProcess) -> None:
    """A nested template's IAM resources need the capability given to the root stack
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html): without it the
    nested stack fails and the parent rolls back."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    s3 = labstack.client("s3", account=account)
    s3.create_bucket(Bucket=f"t-{account}")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}}}
    s3.put_object(Bucket=f"t-{account}", Key="role.json", Body=json.dumps(role).encode())
    nested = json.dumps({"Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {
        "TemplateURL": f"https://s3.amazonaws.com/t-{account}/role.json"}}}})
    cfn.create_stack(StackName="NoCaps", TemplateBody=nested)
    assert settled(cfn, "NoCaps")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("Requires capabilities : [CAPABILITY_IAM]" in r for r in reasons(cfn, "NoCaps"))
    cfn.create_stack(StackName="Caps", TemplateBody=nested, Capabilities=["CAPABILITY_IAM"])
    assert settled(cfn, "Caps")["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.parametrize(("url", "where"), [
    ("https://bucket.s3.amazonaws.com/a/b.yaml", ("bucket", "a/b.yaml")),
    ("https://bucket.s3.eu-west-1.amazonaws.com/b.yaml", ("bucket", "b.yaml")),
    ("https://bucket.s3-eu-west-1.amazonaws.com/b.yaml", ("bucket", "b.yaml")),
    ("https://s3.amazonaws.com/bucket/a/b.yaml", ("bucket", "a/b.yaml")),
    ("https://s3.eu-west-1.amazonaws.com/bucket/b.yaml", ("bucket", "b.yaml")),
    ("https://s3-eu-west-1.amazonaws.com/bucket/b%20c.yaml", ("bucket", "b c.yaml")),
])
def test_template_urls_in_s3s_forms(url: str, where: tuple[str, str]) -> None:
    """TemplateURL is an S3 object's URL (API_CreateStack.html, TemplateURL), in S3's virtual-hosted and path forms."""
    assert s3_location(url) == where


@pytest.mark.parametrize("url", ["https://example.com/b.yaml", "file:///etc/passwd", "https://s3.amazonaws.com/bucket",
                                 "http://169.254.169.254/latest/meta-data/"])
def test_a_template_url_outside_s3_is_refused(url: str) -> None:
    """CloudFormation reads templates from S3 only: anything else is a ValidationError (labstack fetches nothing else)."""
    with pytest.raises(TemplateError, match="TemplateURL must be a supported URL."):
        s3_location(url)
