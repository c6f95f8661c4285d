"""Overlay providers answer some operations of a moto-served service; moto answers the rest.

Proven in each protocol the layer speaks: JSON (SSM), query (ELBv2) and rest-json (Lambda).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

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
    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == ["/app/db/password"]  # moto
    got = ssm.get_parameter(Name="/overlay/x")["Parameter"]  # the overlay
    assert (got["Value"], got["ARN"]) == ("overlay value of /overlay/x", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/overlay/x")
    error = error_of(lambda: ssm.get_parameter(Name="/app/db/password"))
    assert error["Error"]["Code"] == "ParameterNotFound"


def target_group(labstack: LabstackProcess) -> str:
    ec2 = labstack.client("ec2", account=ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    elb = check_responses(labstack.client("elbv2", account=ACCOUNT))
    return elb.create_target_group(Name="blue", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]


def test_query_overlay_reads_nested_lists_and_writes_xml(labstack: LabstackProcess) -> None:
    arn = target_group(labstack)  # created by moto
    elb = check_responses(labstack.client("elbv2", account=ACCOUNT))
    health = elb.describe_target_health(
        TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 9001}, {"Id": "127.0.0.2", "Port": 9002}]
    )["TargetHealthDescriptions"]
    assert [(h["Target"]["Id"], h["Target"]["Port"], h["HealthCheckPort"]) for h in health] == [
        ("127.0.0.1", 9001, "9001"), ("127.0.0.2", 9002, "9002")]
    assert health[0]["TargetHealth"] == {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                                         "Description": "target group blue"}
    assert elb.describe_target_groups(Names=["blue"])["TargetGroups"][0]["Port"] == 8080  # moto again


def test_query_overlay_validates_in_aws_words_and_xml(labstack: LabstackProcess) -> None:
    body = b"Action=DescribeTargetHealth&Version=2015-12-01&Targets.member.1.Port=notaport"
    headers = raw.sign(labstack.endpoint + "/", "elasticloadbalancing",
                       {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
    reply = raw.send(labstack.endpoint, "/", headers, body)
    assert reply.status == 400
    assert b"<Code>ValidationException</Code>" in reply.body
    assert b"Value null at 'TargetGroupArn' failed to satisfy constraint: Member must not be null" in reply.body
    assert b"Value 'notaport' at 'Targets.1.member.Port' failed to satisfy constraint: Member must be an integer" in reply.body


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_rest_json_overlay_maps_uri_query_headers_and_payload(labstack: LabstackProcess) -> None:
    lam = check_responses(labstack.client("lambda", account=ACCOUNT))
    assert lam.list_functions()["Functions"] == []  # moto
    answer = lam.invoke(FunctionName="arn:aws:lambda:us-east-1:246824682468:function:smoke-tests", Qualifier="7",
                        Payload=json.dumps({"step": "AfterAllowTestTraffic"}).encode(), LogType="Tail")
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "7"
    assert base64.b64decode(answer["LogResult"]) == b"START\nEND\n"
    assert json.loads(answer["Payload"].read()) == {
        "echo": {"step": "AfterAllowTestTraffic"}, "function": "arn:aws:lambda:us-east-1:246824682468:function:smoke-tests"}
    failed = lam.invoke(FunctionName="smoke-tests", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled" and json.loads(failed["Payload"].read())["errorType"] == "Exception"
    assert lam.invoke(FunctionName="smoke-tests", InvocationType="Event")["StatusCode"] == 202


def test_rest_json_overlay_validates_headers_and_uri(labstack: LabstackProcess) -> None:
    lam = labstack.client("lambda", account=ACCOUNT, validate=False)
    error = error_of(lambda: lam.invoke(FunctionName="not a name!", InvocationType="Sometimes"))
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    message = error["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'Sometimes' at 'InvocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]" in message
    assert "Value 'not a name!' at 'FunctionName' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
