"""A function runs as a session of its execution role (LABSTACK_IAM=enforce): its code's calls and its
log are decided by the role's policies, and Lambda refuses a role it may not assume."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import new_account
from tests.support.roles import service_role, trust
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

LAMBDA = "lambda.amazonaws.com"
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
APP = """
import boto3


def hello(event, context):
    print("saying hello")
    return "hi"


def parameters(event, context):
    return len(boto3.client("ssm").describe_parameters()["Parameters"])
"""


def package() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("app.py", APP)
    return data.getvalue()


def logs_for(account: str, *functions: str) -> dict[str, Any]:
    """A policy letting ``functions`` write their logs (Lambda's default groups), and nothing else."""
    groups = [f"arn:aws:logs:us-east-1:{account}:log-group:/aws/lambda/{f}" for f in functions]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": groups + [f"{group}:*" for group in groups]}]}


class Functions:
    """One fresh account's Lambda and IAM clients."""

    def __init__(self, server: LabstackProcess) -> None:
        self.account = new_account()
        self.iam = server.client("iam", account=self.account)
        self.lam = server.client("lambda", account=self.account)
        self.logs = server.client("logs", account=self.account)

    def create(self, name: str, role: str, handler: str = "app.hello") -> None:
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler=handler, Timeout=10,
                                 Code={"ZipFile": package()})

    def invoke(self, name: str) -> tuple[dict, Any]:
        answer = self.lam.invoke(FunctionName=name, Payload=b"{}")
        return answer, json.loads(answer["Payload"].read())

    def logged(self, name: str) -> list[str]:
        group = f"/aws/lambda/{name}"
        if not self.logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            return []
        streams = self.logs.describe_log_streams(logGroupName=group)["logStreams"]
        return [e["message"] for s in streams
                for e in self.logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]]


@pytest.fixture
def fns(labstack: LabstackProcess) -> Functions:
    return Functions(labstack)


def test_the_code_runs_as_a_session_of_the_execution_role_and_a_denial_is_the_functions_error(fns: Functions) -> None:
    role = service_role(fns.iam, "fn-role", LAMBDA, policy=logs_for(fns.account, "who", "params"))
    fns.create("who", role)
    answer, body = fns.invoke("who")
    assert "FunctionError" not in answer and body == "hi"
    assert "saying hello" in wait_for(lambda: fns.logged("who"), seconds=20)

    fns.create("params", role, handler="app.parameters")
    answer, body = fns.invoke("params")
    assert answer["FunctionError"] == "Unhandled" and body["errorType"] == "AccessDeniedException"
    assert body["errorMessage"] == (
        "An error occurred (AccessDeniedException) when calling the DescribeParameters operation: User: "
        f"arn:aws:sts::{fns.account}:assumed-role/fn-role/params is not authorized to perform: ssm:DescribeParameters "
        "on resource: * because no identity-based policy allows the ssm:DescribeParameters action")
    assert any("AccessDeniedException" in line for line in wait_for(lambda: fns.logged("params"), seconds=20))

    fns.iam.put_role_policy(RoleName="fn-role", PolicyName="ssm", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}]}))
    answer, body = fns.invoke("params")  # the warm worker's session sees the new policy at once, as on AWS
    assert "FunctionError" not in answer and body == 0


def test_a_role_that_may_not_write_logs_still_runs_the_function_and_loses_its_log(fns: Functions) -> None:
    fns.create("mute", service_role(fns.iam, "no-logs", LAMBDA, policy=None))
    answer, body = fns.invoke("mute")
    assert "FunctionError" not in answer and body == "hi"
    # the stream is made (or refused) when the worker starts, before the invoke answers; refused, nothing ships
    assert fns.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/mute")["logGroups"] == []


def test_lambda_refuses_a_role_it_may_not_assume(fns: Functions) -> None:
    untrusting = service_role(fns.iam, "for-builds", "codebuild.amazonaws.com")
    with pytest.raises(ClientError) as refused:
        fns.create("refused", untrusting)
    assert refused.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": CANNOT_ASSUME}
    assert [f["FunctionName"] for f in fns.lam.list_functions()["Functions"]] == []

    role = service_role(fns.iam, "fn-role", LAMBDA)
    fns.create("kept", role)
    with pytest.raises(ClientError) as refused:
        fns.lam.update_function_configuration(FunctionName="kept", Role=untrusting)
    assert refused.value.response["Error"]["Message"] == CANNOT_ASSUME
    assert fns.lam.get_function_configuration(FunctionName="kept")["Role"] == role

    fns.iam.update_assume_role_policy(RoleName="fn-role", PolicyDocument=json.dumps(trust("codebuild.amazonaws.com")))
    with pytest.raises(ClientError) as refused:  # a cold start assumes the role again
        fns.invoke("kept")
    assert refused.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": CANNOT_ASSUME}


def test_a_new_role_gets_a_new_session(fns: Functions) -> None:
    first = service_role(fns.iam, "first", LAMBDA, policy=None)
    second = service_role(fns.iam, "second", LAMBDA, policy=None)
    fns.create("switch", first, handler="app.parameters")
    assert f"User: arn:aws:sts::{fns.account}:assumed-role/first/switch is not" in fns.invoke("switch")[1]["errorMessage"]
    fns.lam.update_function_configuration(FunctionName="switch", Role=second)
    assert f"User: arn:aws:sts::{fns.account}:assumed-role/second/switch is not" in fns.invoke("switch")[1]["errorMessage"]
