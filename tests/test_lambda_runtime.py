"""The Lambda runtime: handlers really run, in warm workers, with Lambda's errors, logs and aliases."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError

from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for

ACCOUNT = "468046804680"
APP = '''
import os
import time

import boto3


def handler(event, context):
    print("hello from handler")
    return {"echo": event, "name": context.function_name, "version": context.function_version,
            "request": context.aws_request_id, "remaining": context.get_remaining_time_in_millis(),
            "greeting": os.environ.get("GREETING"), "worker": context.log_stream_name}


def fail(event, context):
    raise ValueError("boom")


def slow(event, context):
    time.sleep(event["seconds"])
    return "late"


def crash(event, context):
    os._exit(3)


def chatty(event, context):
    line = "x" * 99
    for _ in range(event["lines"]):
        print(line)
    return "done"


def buckets(event, context):
    return len(boto3.client("s3").list_buckets()["Buckets"])
'''


def code(source: str = APP) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lam(labstack: LabstackProcess) -> Any:
    iam = labstack.client("iam", account=ACCOUNT)
    role = service_role(iam, "lambda-role", "lambda.amazonaws.com")
    client = check_responses(labstack.client("lambda", account=ACCOUNT))
    for name, handler, timeout in [("echo", "app.handler", 3), ("fail", "app.fail", 3), ("slow", "app.slow", 1),
                                   ("crash", "app.crash", 3), ("chatty", "app.chatty", 30), ("buckets", "app.buckets", 10)]:
        client.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler=handler, Timeout=timeout,
                               Code={"ZipFile": code()}, Environment={"Variables": {"GREETING": "hi"}})
    client.role = role
    return client


def invoke(lam: Any, name: str, event: Any = None, **extra: Any) -> tuple[dict, Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **extra)
    return answer, json.loads(answer["Payload"].read())


def test_a_handler_runs_with_its_context_environment_and_log(labstack: LabstackProcess, lam: Any) -> None:
    answer, body = invoke(lam, "echo", {"step": 1}, LogType="Tail")
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST" and "FunctionError" not in answer
    assert body["echo"] == {"step": 1} and (body["name"], body["version"], body["greeting"]) == ("echo", "$LATEST", "hi")
    assert 0 < body["remaining"] <= 3000
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert tail.startswith(f"START RequestId: {body['request']} Version: $LATEST")
    assert "hello from handler" in tail and f"END RequestId: {body['request']}" in tail and "REPORT RequestId" in tail
    logs = labstack.client("logs", account=ACCOUNT)

    def logged() -> bool:  # Lambda writes logs shortly after it answers; so does labstack
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/echo")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return "hello from handler" in [e["message"] for e in events]

    deadline = time.monotonic() + 10
    while not logged():
        assert time.monotonic() < deadline, "the log never reached CloudWatch Logs"
        time.sleep(0.05)


def test_workers_stay_warm_and_are_recycled_when_the_configuration_changes(lam: Any) -> None:
    first = invoke(lam, "echo")[1]["worker"]  # each worker has a log stream of its own
    assert invoke(lam, "echo")[1]["worker"] == first
    lam.update_function_configuration(FunctionName="echo", Environment={"Variables": {"GREETING": "hello again"}})
    _, body = invoke(lam, "echo")
    assert body["greeting"] == "hello again" and body["worker"] != first
    assert not [proc for proc in psutil.process_iter(["environ", "status"])  # a worker sees its own PID namespace
                if (proc.info["environ"] or {}).get("AWS_LAMBDA_LOG_STREAM_NAME") == first
                and proc.info["status"] != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_an_idle_worker_is_retired_and_the_next_invoke_is_cold(tmp_path: Path) -> None:
    """A class at rest keeps no function processes: a worker idle LABSTACK_LAMBDA_IDLE_SECONDS goes away."""
    server = start_labstack(tmp_path, LABSTACK_LAMBDA_IDLE_SECONDS="1")
    try:
        iam = server.client("iam", account=ACCOUNT)
        role = service_role(iam, "idle-role", "lambda.amazonaws.com")
        client = server.client("lambda", account=ACCOUNT)
        client.create_function(FunctionName="idle", Runtime="python3.12", Role=role, Handler="app.handler",
                               Code={"ZipFile": code()}, Environment={"Variables": {"GREETING": "hi"}})
        first = invoke(client, "idle")[1]["worker"]

        def workers() -> list[psutil.Process]:
            return [p for p in psutil.Process(server.pid).children(recursive=True)
                    if "labstack.runtimes.lambdas.worker" in " ".join(p.cmdline())]

        assert workers()
        wait_for(lambda: not workers(), seconds=20)
        assert invoke(client, "idle")[1]["worker"] != first
    finally:
        server.stop()


def test_an_exception_is_an_unhandled_function_error(lam: Any) -> None:
    answer, body = invoke(lam, "fail")
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "boom")
    assert any("raise ValueError" in frame for frame in body["stackTrace"])


def test_a_handler_past_its_timeout_is_stopped(lam: Any) -> None:
    started = time.monotonic()
    answer, body = invoke(lam, "slow", {"seconds": 10})
    assert time.monotonic() - started < 5
    assert answer["FunctionError"] == "Unhandled" and body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert invoke(lam, "slow", {"seconds": 0})[1] == "late"  # a fresh worker serves the next call


def test_a_crashing_runtime_is_a_runtime_exit_error(lam: Any) -> None:
    answer, body = invoke(lam, "crash")
    assert answer["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]


@pytest.mark.slow
def test_fifty_megabytes_of_output_keep_labstack_small(labstack: LabstackProcess, lam: Any) -> None:
    before = psutil.Process(labstack.pid).memory_info().rss
    answer, body = invoke(lam, "chatty", {"lines": 500_000})
    assert body == "done"
    grown = psutil.Process(labstack.pid).memory_info().rss - before
    assert grown < 40 * 1024 * 1024, f"labstack grew by {grown >> 20} MiB for 50 MB of output"
    tail = base64.b64decode(lam.invoke(FunctionName="chatty", Payload=b'{"lines": 20000}', LogType="Tail")["LogResult"])
    assert b"more lines of output were not kept" in tail


def test_boto3_inside_a_function_acts_in_its_account(labstack: LabstackProcess, lam: Any) -> None:
    labstack.client("s3", account=ACCOUNT).create_bucket(Bucket="lambda-account-bucket")
    assert invoke(lam, "buckets")[1] == 1


@pytest.mark.slow
def test_an_alias_splits_invocations_by_its_routing_weights(lam: Any) -> None:
    lam.create_function(FunctionName="shift", Runtime="python3.12", Role=lam.role, Handler="app.handler",
                        Code={"ZipFile": code()})
    one = lam.publish_version(FunctionName="shift")["Version"]
    lam.update_function_code(FunctionName="shift", ZipFile=code(APP + "\n# v2\n"))
    two = lam.publish_version(FunctionName="shift")["Version"]
    lam.create_alias(FunctionName="shift", Name="live", FunctionVersion=one,
                     RoutingConfig={"AdditionalVersionWeights": {two: 0.3}})
    seen = Counter(lam.invoke(FunctionName="shift", Qualifier="live")["ExecutedVersion"] for _ in range(200))
    assert set(seen) == {one, two} and 30 <= seen[two] <= 95, seen  # 30 % of 200 is 60


def test_code_from_s3_runs_too(labstack: LabstackProcess, lam: Any) -> None:
    s3 = labstack.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="lambda-code")
    s3.put_object(Bucket="lambda-code", Key="app.zip", Body=code(APP.replace("hello from handler", "hello from s3")))
    lam.create_function(FunctionName="from-s3", Runtime="python3.11", Role=lam.role, Handler="app.handler",
                        Code={"S3Bucket": "lambda-code", "S3Key": "app.zip"})
    answer = lam.invoke(FunctionName="from-s3", LogType="Tail")
    assert b"hello from s3" in base64.b64decode(answer["LogResult"])


def test_event_and_dry_run_invocations(labstack: LabstackProcess, lam: Any) -> None:
    assert lam.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"async": true}')["StatusCode"] == 202


def test_other_runtimes_and_unknown_functions_are_refused_clearly(lam: Any) -> None:
    lam.create_function(FunctionName="node", Runtime="nodejs20.x", Role=lam.role, Handler="index.handler",
                        Code={"ZipFile": code()})
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName="node")
    assert info.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert "labstack runs Python functions only; nodejs20.x" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName="nobody")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
