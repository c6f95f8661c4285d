"""Overlay providers answer some operations of a moto-served service; moto answers the rest.

Proven here for JSON (SSM) and query (IAM); the rest-json codec serves the real Lambda
runtime (test_lambda_runtime.py), and its validation is checked here.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.support import raw
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess

ACCOUNT = "246824682468"


def error_of(call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_json_overlay_answers_its_operation_and_moto_the_rest(labstack: LabstackProcess) -> None:
    ssm = check_responses(labstack.client("ssm", account=ACCOUNT))
    ssm.put_parameter(Name="/app/db/password", Value="s3cret", Type="SecureString")  # moto
    assert ssm.get_parameter(Name="/app/db/password", WithDecryption=True)["Parameter"]["Value"] == "s3cret"  # moto
    history = ssm.get_parameter_history(Name="/overlay/x")["Parameters"]  # the overlay
    assert [(p["Value"], p["Labels"]) for p in history] == [("overlay value of /overlay/x", ["overlay"])]
    error = error_of(lambda: ssm.get_parameter_history(Name="/app/db/password"))
    assert error["Error"]["Code"] == "ParameterNotFound"


def test_query_overlay_reads_nested_lists_and_writes_xml(labstack: LabstackProcess) -> None:
    iam = check_responses(labstack.client("iam", account=ACCOUNT))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}]})
    results = iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:GetObject", "ecr:PutImage"],
        ResourceArns=["arn:aws:s3:::artifacts/*", "arn:aws:s3:::other/*"],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("s3:GetObject", "arn:aws:s3:::artifacts/*", "allowed"), ("s3:GetObject", "arn:aws:s3:::other/*", "allowed"),
        ("ecr:PutImage", "arn:aws:s3:::artifacts/*", "implicitDeny"), ("ecr:PutImage", "arn:aws:s3:::other/*", "implicitDeny")]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="overlay-check", AssumeRolePolicyDocument=trust)  # labstack's overlay checks it, moto keeps it
    assert iam.get_role(RoleName="overlay-check")["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/overlay-check"
    # a second IAM overlay (labstack's own, HTTPS Git credentials) answers its operations beside the test's
    iam.create_user(UserName="overlay-git")  # moto
    made = iam.create_service_specific_credential(UserName="overlay-git", ServiceName="codecommit.amazonaws.com")
    assert made["ServiceSpecificCredential"]["ServiceUserName"] == f"overlay-git-at-{ACCOUNT}"


def test_query_overlay_validates_in_aws_words_and_xml(labstack: LabstackProcess) -> None:
    body = b"Action=SimulateCustomPolicy&Version=2010-05-08&ActionNames.member.1=s3:GetObject&MaxItems=lots"
    headers = raw.sign(labstack.endpoint + "/", "iam", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
    reply = raw.send(labstack.endpoint, "/", headers, body)
    assert reply.status == 400
    assert b"<Code>ValidationException</Code>" in reply.body
    assert b"Value null at 'PolicyInputList' failed to satisfy constraint: Member must not be null" in reply.body
    assert b"Value 'lots' at 'MaxItems' failed to satisfy constraint: Member must be an integer" in reply.body


def test_rest_json_overlay_validates_headers_and_uri(labstack: LabstackProcess) -> None:
    lam = labstack.client("lambda", account=ACCOUNT, validate=False)
    error = error_of(lambda: lam.invoke(FunctionName="not a name!", InvocationType="Sometimes"))
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    message = error["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'Sometimes' at 'InvocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]" in message
    assert "Value 'not a name!' at 'FunctionName' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
