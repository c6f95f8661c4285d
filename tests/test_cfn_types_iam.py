"""AWS::IAM::* handlers against a real labstack: the role they make is the one IAM evaluates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_handlers import context, of
from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess


def trust(account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}


def allow(action: str, resource: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def as_role(server: LabstackProcess, account: str, role_arn: str, service: str) -> Any:
    creds = server.client("sts", account=account).assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    return server.client(service, account=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                         token=creds["SessionToken"])


def denied(call: Any) -> bool:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")


@pytest.mark.slow
def test_a_roles_inline_and_aws_managed_policies_decide_its_sessions_calls(labstack: LabstackProcess) -> None:
    """Ref is the role name, GetAtt Arn and RoleId; Policies are inline, ManagedPolicyArns may be AWS's own
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html);
    an inline policy removed by an update ("No interruption") no longer allows."""
    account = new_account()
    ctx, role = context(labstack, account, "AppRole"), of("AWS::IAM::Role")
    ssm = labstack.client("ssm", account=account)
    for name in ("/app/colour", "/other/colour"):
        ssm.put_parameter(Name=name, Value="blue", Type="String")
    props = {"AssumeRolePolicyDocument": trust(account), "Path": "/ci/", "MaxSessionDuration": "7200",
             "Policies": [{"PolicyName": "read-app", "PolicyDocument": allow("ssm:GetParameter",
                                                                            f"arn:aws:ssm:us-east-1:{account}:parameter/app/*")}],
             "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"],
             "Tags": [{"Key": "team", "Value": "ci"}]}
    made = role.create(ctx, props)
    assert made.physical_id.startswith("Shop-AppRole-")
    assert made.attributes["Arn"] == f"arn:aws:iam::{account}:role/ci/{made.physical_id}"
    assert made.attributes["RoleId"].startswith("AROA")

    ssm_as_role = as_role(labstack, account, made.attributes["Arn"], "ssm")
    assert ssm_as_role.get_parameter(Name="/app/colour")["Parameter"]["Value"] == "blue"
    assert denied(lambda: ssm_as_role.get_parameter(Name="/other/colour"))
    as_role(labstack, account, made.attributes["Arn"], "sqs").list_queues()  # allowed by AWS's managed policy
    assert denied(lambda: as_role(labstack, account, made.attributes["Arn"], "sns").list_topics())

    live = role.read(ctx, made.physical_id, props)
    assert live["MaxSessionDuration"] == 7200 and live["Path"] == "/ci/"
    assert live["ManagedPolicyArns"] == props["ManagedPolicyArns"]
    assert [p["PolicyName"] for p in live["Policies"]] == ["read-app"]

    new = {**props, "Policies": [], "ManagedPolicyArns": []}
    role.update(ctx, made.physical_id, props, new)
    assert denied(lambda: as_role(labstack, account, made.attributes["Arn"], "ssm").get_parameter(Name="/app/colour"))
    assert denied(lambda: as_role(labstack, account, made.attributes["Arn"], "sqs").list_queues())

    role.delete(ctx, made.physical_id, new)
    assert role.read(ctx, made.physical_id, new) is None
    role.delete(ctx, made.physical_id, new)  # already gone: success


@pytest.mark.slow
def test_a_policy_resource_and_a_managed_policy_attach_to_a_role(labstack: LabstackProcess) -> None:
    """AWS::IAM::Policy puts an inline policy on its Roles (Ref: a generated id; no drift detection, as on
    AWS); AWS::IAM::ManagedPolicy's
    Ref is its ARN, an updated document a new default version
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-policy.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-managedpolicy.html)."""
    account = new_account()
    iam = labstack.client("iam", account=account)
    role_arn = of("AWS::IAM::Role").create(context(labstack, account, "R"), {
        "RoleName": "worker", "AssumeRolePolicyDocument": trust(account)}).attributes["Arn"]
    topics = labstack.client("sns", account=account)
    topics.create_topic(Name="alerts")

    policy, ctx = of("AWS::IAM::Policy"), context(labstack, account, "Pol")
    props = {"PolicyName": "topics", "PolicyDocument": allow("sns:ListTopics", "*"), "Roles": ["worker"]}
    made = policy.create(ctx, props)
    assert made.physical_id != "topics"
    assert as_role(labstack, account, role_arn, "sns").list_topics()["Topics"]
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["topics"]
    policy.delete(ctx, made.physical_id, props)
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == []
    with pytest.raises(HandlerError, match=r"At least one of \[Groups,Roles,Users\]"):
        policy.create(ctx, {"PolicyName": "x", "PolicyDocument": allow("sns:ListTopics", "*")})

    managed, mctx = of("AWS::IAM::ManagedPolicy"), context(labstack, account, "Managed")
    mprops = {"PolicyDocument": allow("sns:ListTopics", "*"), "Roles": ["worker"]}
    mmade = managed.create(mctx, mprops)
    assert mmade.physical_id.startswith(f"arn:aws:iam::{account}:policy/Shop-Managed-")
    assert mmade.attributes["DefaultVersionId"] == "v1"
    assert as_role(labstack, account, role_arn, "sns").list_topics()["Topics"]
    updated = managed.update(mctx, mmade.physical_id, mprops, {**mprops, "PolicyDocument": allow("sns:GetTopicAttributes", "*")})
    assert updated.attributes["DefaultVersionId"] == "v2"
    assert denied(lambda: as_role(labstack, account, role_arn, "sns").list_topics())
    managed.delete(mctx, mmade.physical_id, mprops)
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == []
    assert managed.read(mctx, mmade.physical_id, mprops) is None


def test_a_permissions_boundary_is_set_and_removed_in_place(labstack: LabstackProcess) -> None:
    """PermissionsBoundary is the role's boundary (labstack's evaluator does not apply boundaries yet: stored
    as IAM stores it); removing it is an update in place."""
    account = new_account()
    iam = labstack.client("iam", account=account)
    boundary = iam.create_policy(PolicyName="only-sns", PolicyDocument=json.dumps(allow("sns:*", "*")))["Policy"]["Arn"]
    ctx, role = context(labstack, account, "Capped"), of("AWS::IAM::Role")
    props = {"AssumeRolePolicyDocument": trust(account), "PermissionsBoundary": boundary}
    made = role.create(ctx, props)
    assert iam.get_role(RoleName=made.physical_id)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert role.read(ctx, made.physical_id, props)["PermissionsBoundary"] == boundary
    unbounded = {"AssumeRolePolicyDocument": trust(account)}
    role.update(ctx, made.physical_id, props, unbounded)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=made.physical_id)["Role"]


def test_an_unsupported_role_property_fails_clearly(labstack: LabstackProcess) -> None:
    """A property labstack does not make is refused, never ignored; a required one missing fails as
    CloudFormation words it."""
    with pytest.raises(HandlerError, match=r"Properties validation failed for resource Resource with message: "
                                           r"#: required key \[AssumeRolePolicyDocument\] not found"):
        of("AWS::IAM::Role").create(context(labstack, new_account()), {"RoleName": "x"})
    with pytest.raises(HandlerError, match="RoleNameBogus"):
        of("AWS::IAM::Role").create(context(labstack, new_account()), {
            "AssumeRolePolicyDocument": trust("123456789012"), "RoleNameBogus": "x"})
