"""ValidateTemplate and GetTemplateSummary through a real labstack: the template language's answers and refusals
as a boto3 client sees them, and hostile templates refused while labstack keeps answering."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess

TEMPLATE = """
AWSTemplateFormatVersion: 2010-09-09
Description: the lab's pipeline bucket and role
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
    Description: the environment
  Token:
    Type: String
    NoEcho: true
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub '${AWS::StackName}-${Env}-artifacts'
      Tags: [!If [IsProd, {Key: tier, Value: prod}, !Ref AWS::NoValue]]
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${AWS::StackName}-role'
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
Outputs:
  BucketArn:
    Value: !GetAtt Bucket.Arn
    Export: {Name: !Sub '${AWS::StackName}-bucket'}
"""


def _error(call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def test_validate_template_answers_for_a_yaml_template_with_short_forms(labstack: LabstackProcess) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html: Parameters
    (DefaultValue, NoEcho, Description), Description, Capabilities and CapabilitiesReason (a named role needs
    CAPABILITY_NAMED_IAM)."""
    cfn = labstack.client("cloudformation")
    answer = cfn.validate_template(TemplateBody=TEMPLATE)
    assert answer["Parameters"] == [
        {"ParameterKey": "Env", "DefaultValue": "dev", "NoEcho": False, "Description": "the environment"},
        {"ParameterKey": "Token", "NoEcho": True}]
    assert answer["Description"] == "the lab's pipeline bucket and role"
    assert answer["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert answer["CapabilitiesReason"] == "The following resource(s) require capabilities: [AWS::IAM::Role]"
    summary = cfn.get_template_summary(TemplateBody=TEMPLATE)
    assert set(summary["ResourceTypes"]) == {"AWS::S3::Bucket", "AWS::IAM::Role"}
    assert summary["Parameters"][0]["ParameterConstraints"] == {"AllowedValues": ["dev", "prod"]}


def test_invalid_templates_get_awss_validation_errors(labstack: LabstackProcess) -> None:
    """Malformed text, unresolved references and circular dependencies are ValidationErrors in AWS's words."""
    cfn = labstack.client("cloudformation")
    error = _error(lambda: cfn.validate_template(TemplateBody='{"Resources": {'))
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("Template format error: JSON not well-formed.")
    error = _error(lambda: cfn.validate_template(TemplateBody=json.dumps(
        {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Missing"}}}}})))
    assert error["Message"] == ("Template format error: Unresolved resource dependencies [Missing] in the Resources "
                                "block of the template")
    error = _error(lambda: cfn.validate_template(TemplateBody=(
        "Resources:\n  A: {Type: AWS::SNS::Topic, DependsOn: B}\n  B: {Type: AWS::SNS::Topic, DependsOn: A}\n")))
    assert error["Message"] == "Circular dependency between resources: [A, B]"
    error = _error(lambda: cfn.validate_template(TemplateBody="Resources:\n  A: {Type: AWS::SNS::Topic, Typo: 1}\n"))
    assert error["Message"] == "Template format error: Invalid template resource property 'Typo'"


def test_hostile_templates_are_refused_and_labstack_keeps_answering(labstack: LabstackProcess) -> None:
    """A YAML alias bomb, a body over AWS's 51,200-byte quota and nesting thousands deep are refused cleanly;
    the next request is answered as usual."""
    cfn = labstack.client("cloudformation")
    bomb = ["Metadata:", "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb.append(f"  {level}: &{level} [" + ", ".join(f"*{previous}" for _ in range(9)) + "]")
    bomb += ["Resources:", "  A: {Type: AWS::SNS::Topic}"]
    error = _error(lambda: cfn.validate_template(TemplateBody="\n".join(bomb) + "\n"))
    assert error["Message"] == "Template error: YAML aliases are not allowed in CloudFormation templates"
    oversize = json.dumps({"Metadata": {"Pad": "x" * 60_000}, "Resources": {"A": {"Type": "AWS::SNS::Topic"}}})
    error = _error(lambda: cfn.validate_template(TemplateBody=oversize))
    assert error["Code"] == "ValidationError"
    assert "Member must have length less than or equal to 51200" in error["Message"]
    deep = '{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ' + "[" * 3000 + "]" * 3000 + "}}}"
    assert _error(lambda: cfn.validate_template(TemplateBody=deep))["Message"].startswith("Template format error:")
    assert cfn.validate_template(TemplateBody=TEMPLATE)["Parameters"][0]["ParameterKey"] == "Env"


def test_parameter_values_are_checked_at_create_stack(labstack: LabstackProcess) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/parameters-section-structure.html:
    CreateStack refuses missing, unknown and constraint-breaking values before any resource exists; a pattern that
    backtracks catastrophically is stopped and labstack keeps answering."""
    cfn = labstack.client("cloudformation", account=new_account())
    body = ("Parameters:\n  Name: {Type: String, AllowedPattern: '(a|a)*'}\n"
            "Resources:\n  Topic: {Type: AWS::SNS::Topic}\n")
    assert _error(lambda: cfn.create_stack(StackName="p1", TemplateBody=body))["Message"] == (
        "Parameters: [Name] must have values")
    assert _error(lambda: cfn.create_stack(StackName="p1", TemplateBody=body, Parameters=[
        {"ParameterKey": "Name", "ParameterValue": "aa"}, {"ParameterKey": "Other", "ParameterValue": "x"}]))[
        "Message"] == "Parameters: [Other] do not exist in the template"
    hostile = _error(lambda: cfn.create_stack(StackName="p1", TemplateBody=body, Parameters=[
        {"ParameterKey": "Name", "ParameterValue": "a" * 60 + "b"}]))
    assert hostile["Code"] == "ValidationError"
    assert hostile["Message"].startswith("Parameter 'Name' could not be matched against AllowedPattern")
    assert cfn.list_stacks()["StackSummaries"] == []
    assert cfn.validate_template(TemplateBody=body)["Parameters"] == [{"ParameterKey": "Name", "NoEcho": False}]


def test_a_ten_megabyte_template_is_refused_cleanly(labstack: LabstackProcess) -> None:
    """A 10 MB TemplateBody is refused (AWS's quota for a body is 51,200 bytes; labstack's request limit may answer
    first), AWS-shaped, and labstack keeps answering."""
    cfn = labstack.client("cloudformation")
    huge = json.dumps({"Metadata": {"Pad": "x" * (10 * 1024 * 1024)}, "Resources": {"A": {"Type": "AWS::SNS::Topic"}}})
    error = _error(lambda: cfn.validate_template(TemplateBody=huge))
    assert error["Code"] in ("ValidationError", "RequestEntityTooLarge")
    assert cfn.validate_template(TemplateBody=TEMPLATE)["Description"] == "the lab's pipeline bucket and role"


def test_a_template_that_amplifies_text_fails_its_stack_not_labstack(labstack: LabstackProcess) -> None:
    """A topic whose name is Fn::Join of Fn::Split of 20,000 commas with a 1 KB delimiter (20 MB from 21 KB of
    template) fails the stack with a template error; labstack keeps answering."""
    cfn = labstack.client("cloudformation", account=new_account())
    gadget = {"Fn::Join": ["x" * 1000, {"Fn::Split": [",", "," * 20_000]}]}
    body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": gadget}}}})
    cfn.create_stack(StackName="amplified", TemplateBody=body)
    for _ in range(120):  # CreateStack answers once the stack settles; this bounds a slow machine
        if cfn.describe_stacks(StackName="amplified")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE":
            break
        time.sleep(0.5)
    events = cfn.describe_stack_events(StackName="amplified")["StackEvents"]
    reasons = [event.get("ResourceStatusReason", "") for event in events]
    assert cfn.describe_stacks(StackName="amplified")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("makes more text than labstack evaluates" in reason for reason in reasons), reasons
    assert cfn.validate_template(TemplateBody=TEMPLATE)["Parameters"][0]["ParameterKey"] == "Env"
