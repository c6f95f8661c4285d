"""Provenance: every call labstack serves is an event, looked up through CloudTrail's own LookupEvents,
with the caller's identity as CloudTrail records it (root, IAM user, role session, a service acting).

Each test acts in a fresh account of the shared labstack, so the events it looks up are its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from grader.workspace import HELPER
from labstack import daemon
from tests.support import raw
from tests.support.classmode import ClassLabstack
from tests.support.codebuild import Lab, buildspec, new_account
from tests.support.gitcli import git_env, new_work_tree
from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess, start_labstack

pytest_plugins = ["tests.support.codebuild_fixtures", "tests.support.classmode_fixtures"]

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30, connect_timeout=5)


def lookup(trail: Any, key: str | None = None, value: str | None = None, **args: Any) -> list[dict]:
    """Every event LookupEvents returns (all pages), for one lookup attribute if given."""
    if key is not None:
        args["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    events: list[dict] = []
    while True:
        answer = trail.lookup_events(**args)
        events += answer["Events"]
        if "NextToken" not in answer:
            return events
        args["NextToken"] = answer["NextToken"]


def trail_of(server: Any, *args: Any, **kwargs: Any) -> Any:
    """A CloudTrail client of ``server`` (a labstack, a class, a CodeBuild lab) whose answers are checked
    against LookupEvents' output shape."""
    return check_responses(server.client("cloudtrail", *args, **kwargs))


def record(event: dict) -> dict:
    return json.loads(event["CloudTrailEvent"])


def keyed(server: LabstackProcess, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", config=_CONFIG,
                        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)


def allow(action: str, resource: str) -> str:
    """A policy document allowing one action on one resource: all an IAM principal of these tests needs."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})


def only(events: list[dict]) -> dict:
    assert len(events) == 1, [e["EventName"] for e in events]
    return events[0]


@pytest.fixture
def account() -> str:
    return new_account()


def test_a_root_call_is_recorded_as_cloudtrail_records_it(labstack: LabstackProcess, account: str) -> None:
    answer = labstack.client("iam", account=account).create_role(RoleName="deployer", AssumeRolePolicyDocument=TRUST)
    trail = trail_of(labstack, account=account)
    event = only(lookup(trail, "EventName", "CreateRole"))
    assert event["Username"] == "root" and event["AccessKeyId"] == account and event["ReadOnly"] == "false"
    assert event["EventSource"] == "iam.amazonaws.com"
    assert {"ResourceType": "AWS::IAM::Role", "ResourceName": "deployer"} in event["Resources"]
    data = record(event)
    assert data["userIdentity"] == {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
                                    "accountId": account, "accessKeyId": account}
    assert data["eventID"] == event["EventId"] and data["requestID"] == answer["ResponseMetadata"]["RequestId"]
    assert data["sourceIPAddress"] == "127.0.0.1" and data["userAgent"].startswith("Boto3/")
    assert data["eventType"] == "AwsApiCall" and data["recipientAccountId"] == account and data["awsRegion"] == "us-east-1"
    assert data["readOnly"] is False and data["eventName"] == "CreateRole" and "errorCode" not in data
    assert data["requestParameters"] == {"RoleName": "deployer"}
    when = dt.datetime.strptime(data["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert abs((when - event["EventTime"]).total_seconds()) < 1


def test_an_iam_users_keys_are_the_users(labstack: LabstackProcess, account: str) -> None:
    iam = labstack.client("iam", account=account)
    iam.create_user(UserName="alice")
    iam.put_user_policy(UserName="alice", PolicyName="topic",
                        PolicyDocument=allow("sns:CreateTopic", f"arn:aws:sns:us-east-1:{account}:alerts"))
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    keyed(labstack, "sns", key["AccessKeyId"], key["SecretAccessKey"]).create_topic(Name="alerts")
    trail = trail_of(labstack, account=account)
    event = only(lookup(trail, "Username", "alice"))
    assert event["EventName"] == "CreateTopic" and event["AccessKeyId"] == key["AccessKeyId"]
    assert {"ResourceType": "AWS::SNS::Topic", "ResourceName": "alerts"} in event["Resources"]
    identity = record(event)["userIdentity"]
    user = iam.get_user(UserName="alice")["User"]
    assert identity == {"type": "IAMUser", "principalId": user["UserId"], "arn": user["Arn"], "accountId": account,
                        "accessKeyId": key["AccessKeyId"], "userName": "alice"}
    assert only(lookup(trail, "AccessKeyId", key["AccessKeyId"]))["EventId"] == event["EventId"]


def test_an_assumed_role_session_shows_role_and_session_name(labstack: LabstackProcess, account: str) -> None:
    iam = labstack.client("iam", account=account)
    role = iam.create_role(RoleName="catch-up-role", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(RoleName="catch-up-role", PolicyName="colour",
                        PolicyDocument=allow("ssm:PutParameter", f"arn:aws:ssm:us-east-1:{account}:parameter/app/colour"))
    creds = labstack.client("sts", account=account).assume_role(RoleArn=role["Arn"], RoleSessionName="lab-kit-catch-up")["Credentials"]
    keyed(labstack, "ssm", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).put_parameter(
        Name="/app/colour", Value="blue", Type="String")
    trail = trail_of(labstack, account=account)
    event = only(lookup(trail, "Username", "lab-kit-catch-up"))
    assert event["EventName"] == "PutParameter" and event["AccessKeyId"] == creds["AccessKeyId"]
    identity = record(event)["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{account}:assumed-role/catch-up-role/lab-kit-catch-up"
    assert identity["principalId"] == f"{role['RoleId']}:lab-kit-catch-up"
    assert identity["sessionContext"]["sessionIssuer"] == {"type": "Role", "principalId": role["RoleId"], "arn": role["Arn"],
                                                           "accountId": account, "userName": "catch-up-role"}
    # AssumeRole itself is one event (the STS overlay's own call to moto is not another), by the root
    assumed = only(lookup(trail, "EventName", "AssumeRole"))
    assert assumed["Username"] == "root" and assumed["ReadOnly"] == "true"  # as CloudTrail counts it
    assert {"ResourceType": "AWS::IAM::Role", "ResourceName": role["Arn"]} in assumed["Resources"]


def test_failed_calls_carry_their_error(labstack: LabstackProcess, account: str) -> None:
    with pytest.raises(ClientError):
        labstack.client("iam", account=account).get_role(RoleName="missing")  # moto's error
    with pytest.raises(ClientError):
        labstack.client("codedeploy", account=account).get_application(applicationName="missing-app")  # a provider's
    with pytest.raises(ClientError):
        labstack.client("lambda", account=account).get_function(FunctionName="missing-fn")  # REST, by its path
    trail = trail_of(labstack, account=account)
    failures = {e["EventName"]: record(e) for e in lookup(trail) if "errorCode" in record(e)}
    assert failures["GetRole"]["errorCode"] == "NoSuchEntity" and "missing" in failures["GetRole"]["errorMessage"]
    assert failures["GetApplication"]["errorCode"] == "ApplicationDoesNotExistException"
    assert failures["GetFunction"]["errorCode"] == "ResourceNotFoundException"
    assert only(lookup(trail, "ResourceName", "missing-fn"))["Resources"] == [
        {"ResourceType": "AWS::Lambda::Function", "ResourceName": "missing-fn"}]


def test_a_body_nobody_can_read_is_still_recorded_as_failed(labstack: LabstackProcess) -> None:
    reply = raw.json_call(labstack.endpoint, "CodeBuild_20161006.CreateProject", b"{not json", service="codebuild")
    assert reply.status == 400
    trail = trail_of(labstack)
    failed = [record(e) for e in lookup(trail, "EventName", "CreateProject", MaxResults=50) if record(e)["requestID"] ==
              reply.headers["x-amzn-requestid"]]
    assert only(failed)["errorCode"] == "SerializationException"


def test_read_only_and_every_other_lookup_attribute(labstack: LabstackProcess, account: str) -> None:
    codebuild = labstack.client("codebuild", account=account)
    role = service_role(labstack.client("iam", account=account), "r", "codebuild.amazonaws.com", policy=None)
    codebuild.create_project(name="site", source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
                             artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
                             environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                          "computeType": "BUILD_GENERAL1_SMALL"})
    codebuild.batch_get_projects(names=["site"])
    key_id = labstack.client("kms", account=account).create_key()["KeyMetadata"]["KeyId"]
    trail = trail_of(labstack, account=account)
    reads = lookup(trail, "ReadOnly", "true")
    writes = lookup(trail, "ReadOnly", "false")
    assert {e["EventName"] for e in writes} == {"CreateRole", "CreateProject", "CreateKey"}
    assert "BatchGetProjects" in {e["EventName"] for e in reads} and all(e["ReadOnly"] == "true" for e in reads)
    projects = lookup(trail, "ResourceType", "AWS::CodeBuild::Project")
    assert [e["EventName"] for e in projects] == ["BatchGetProjects", "CreateProject"]  # newest first
    assert [e["EventName"] for e in lookup(trail, "ResourceName", "site")] == ["BatchGetProjects", "CreateProject"]
    assert [e["EventName"] for e in lookup(trail, "EventSource", "kms.amazonaws.com")] == ["CreateKey"]
    created = only(lookup(trail, "ResourceName", key_id))  # named by the answer, not the request
    assert created["EventName"] == "CreateKey" and record(created)["responseElements"]["KeyId"] == key_id
    assert only(lookup(trail, "EventId", created["EventId"]))["EventName"] == "CreateKey"
    assert lookup(trail, "EventName", "NoSuchCall") == []


def test_names_from_query_and_rest_requests(labstack: LabstackProcess, account: str) -> None:
    cloudwatch = labstack.client("cloudwatch", account=account)
    s3 = labstack.client("s3", account=account)
    s3.create_bucket(Bucket=f"artifacts-{account}")
    s3.put_object(Bucket=f"artifacts-{account}", Key="builds/app.zip", Body=b"zip")
    cloudwatch.describe_alarms(AlarmNames=["high-errors", "high-latency"])
    trail = trail_of(labstack, account=account)
    put = only(lookup(trail, "EventName", "PutObject"))
    assert put["Resources"] == [{"ResourceType": "AWS::S3::Bucket", "ResourceName": f"artifacts-{account}"},
                                {"ResourceType": "AWS::S3::Object", "ResourceName": f"arn:aws:s3:::artifacts-{account}/builds/app.zip"}]
    assert record(put)["eventCategory"] == "Data" and record(put)["managementEvent"] is False
    alarms = only(lookup(trail, "EventName", "DescribeAlarms"))
    assert {r["ResourceName"] for r in alarms["Resources"]} == {"high-errors", "high-latency"}
    assert alarms["EventSource"] == "monitoring.amazonaws.com"


def test_each_region_has_its_own_history(labstack: LabstackProcess, account: str) -> None:
    labstack.client("sqs", account=account, region="eu-west-1").create_queue(QueueName="in-ireland")
    assert lookup(trail_of(labstack, account=account), "EventName", "CreateQueue") == []
    ireland = lookup(trail_of(labstack, account=account, region="eu-west-1"), "EventName", "CreateQueue")
    assert record(only(ireland))["awsRegion"] == "eu-west-1"


def test_time_range(labstack: LabstackProcess, account: str) -> None:
    labstack.client("sqs", account=account).create_queue(QueueName="jobs")
    trail = trail_of(labstack, account=account)
    when = only(lookup(trail, "EventName", "CreateQueue"))["EventTime"]
    second = dt.timedelta(seconds=1)
    assert len(lookup(trail, "EventName", "CreateQueue", StartTime=when - second, EndTime=when + second)) == 1
    assert lookup(trail, "EventName", "CreateQueue", EndTime=when - second) == []
    assert lookup(trail, "EventName", "CreateQueue", StartTime=when + second) == []
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(StartTime=when + second, EndTime=when - second)
    assert caught.value.response["Error"]["Code"] == "InvalidTimeRangeException"


def test_paging_with_next_token_loses_and_repeats_nothing(labstack: LabstackProcess, account: str) -> None:
    ssm = labstack.client("ssm", account=account)
    for index in range(7):
        ssm.put_parameter(Name=f"/p/{index}", Value="v", Type="String")
    trail = trail_of(labstack, account=account)
    pages, token = [], None
    while True:
        answer = trail.lookup_events(MaxResults=3, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutParameter"}],
                                     **({"NextToken": token} if token else {}))
        pages.append([record(e)["requestParameters"]["Name"] for e in answer["Events"]])
        ssm.put_parameter(Name=f"/later/{len(pages)}", Value="v", Type="String")  # newer events don't shift the pages
        token = answer.get("NextToken")
        if token is None:
            break
    assert pages == [["/p/6", "/p/5", "/p/4"], ["/p/3", "/p/2", "/p/1"], ["/p/0"]]
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(NextToken="not-a-token")
    assert caught.value.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.parametrize("attributes, code", [
    ([{"AttributeKey": "EventName", "AttributeValue": "A"}, {"AttributeKey": "Username", "AttributeValue": "root"}],
     "InvalidLookupAttributesException"),
    ([{"AttributeKey": "Colour", "AttributeValue": "blue"}], "InvalidLookupAttributesException"),
    ([{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}], "InvalidLookupAttributesException"),
])
def test_lookup_attributes_cloudtrail_refuses(labstack: LabstackProcess, attributes: list, code: str) -> None:
    trail = trail_of(labstack, validate=False)
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(LookupAttributes=attributes)
    assert caught.value.response["Error"]["Code"] == code


@pytest.mark.parametrize("size", [0, 51])
def test_max_results_outside_1_to_50_is_refused(labstack: LabstackProcess, size: int) -> None:
    with pytest.raises(ClientError) as caught:
        trail_of(labstack, validate=False).lookup_events(MaxResults=size)
    assert caught.value.response["Error"]["Code"] == "InvalidMaxResultsException"


def test_a_forged_caller_header_or_direct_header_hides_nothing(labstack: LabstackProcess, account: str) -> None:
    """A learner's key saying it is labstack's engine (the caller header) or asking for moto underneath the
    overlays is still recorded as the learner's own call."""
    iam = labstack.client("iam", account=account)

    def forge(request: Any, **_: Any) -> None:
        request.headers["X-Labstack-Caller"] = "codedeploy"
        request.headers["X-Labstack-Direct"] = "moto"
        request.headers["User-Agent"] = "x" * 10_000

    iam.meta.events.register("before-sign.*.*", forge)
    iam.create_role(RoleName="hidden", AssumeRolePolicyDocument=TRUST)
    event = record(only(lookup(trail_of(labstack, account=account), "ResourceName", "hidden")))
    assert event["userIdentity"]["type"] == "Root" and event["sourceIPAddress"] == "127.0.0.1"
    assert len(event["userAgent"]) == 1024


def test_the_event_history_is_kept_per_account(classroom: ClassLabstack) -> None:
    classroom.client("sns", "learner01").create_topic(Name="learner01-topic")
    classroom.client("sns", "learner02").create_topic(Name="learner02-topic")
    mine = lookup(trail_of(classroom, "learner01"), "EventName", "CreateTopic")
    theirs = lookup(trail_of(classroom, "learner02"), "EventName", "CreateTopic")
    assert [e["Resources"][0]["ResourceName"] for e in mine] == ["learner01-topic"]
    assert [e["Resources"][0]["ResourceName"] for e in theirs] == ["learner02-topic"]
    assert record(mine[0])["recipientAccountId"] == classroom.account("learner01")
    assert mine[0]["AccessKeyId"] == classroom.rows["learner01"].access_key_id and mine[0]["Username"] == "root"
    # another learner's event id finds nothing
    assert lookup(trail_of(classroom, "learner02"), "EventId", mine[0]["EventId"]) == []


def test_a_call_refused_for_naming_another_account_is_recorded(classroom: ClassLabstack) -> None:
    victim = f"arn:aws:sns:us-east-1:{classroom.account('learner02')}:learner02-topic"
    with pytest.raises(ClientError) as caught:
        classroom.client("sns", "learner01").publish(TopicArn=victim, Message="hi")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    event = only(lookup(trail_of(classroom, "learner01"), "EventName", "Publish"))
    assert record(event)["errorCode"] == "AccessDenied" and event["Resources"][0]["ResourceName"] == victim
    assert lookup(trail_of(classroom, "learner02"), "EventName", "Publish") == []


@pytest.mark.slow
def test_a_git_push_and_clone_are_recorded_by_their_credentials(classroom: ClassLabstack, tmp_path: Path) -> None:
    url = classroom.client("codecommit", "learner01").create_repository(repositoryName="app")["repositoryMetadata"]["cloneUrlHttp"]
    row = classroom.rows["learner01"]
    env = {k: v for k, v in git_env().items() if not k.startswith("AWS_")}
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
               AWS_ACCESS_KEY_ID=row.access_key_id, AWS_SECRET_ACCESS_KEY=row.secret_access_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    work = new_work_tree(tmp_path / "work", {"app.py": "print('v1')\n"})
    for args, cwd in ((["push", "--quiet", url, "main"], work), (["clone", "--quiet", url, "copy"], tmp_path)):
        done = subprocess.run(["git", *HELPER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    trail = trail_of(classroom, "learner01")
    push = only(lookup(trail, "EventName", "GitPush"))
    assert push["AccessKeyId"] == row.access_key_id and push["Username"] == "root" and push["ReadOnly"] == "false"
    assert push["EventSource"] == "codecommit.amazonaws.com"
    assert push["Resources"] == [{"ResourceType": "AWS::CodeCommit::Repository", "ResourceName": "app"}]
    assert record(push)["userAgent"].startswith("git/") and record(push)["additionalEventData"]["repositoryName"] == "app"
    pulls = lookup(trail, "EventName", "GitPull")
    assert pulls and all(e["ReadOnly"] == "true" and e["AccessKeyId"] == row.access_key_id for e in pulls)
    assert lookup(trail_of(classroom, "learner02"), "EventName", "GitPush") == []


def test_on_a_laptop_a_push_names_whoever_sends_credentials_unasked(labstack: LabstackProcess, account: str,
                                                                      tmp_path: Path) -> None:
    """git on a laptop is never asked for credentials: a push that sends none names nobody, one that sends
    a role session's keys (as the grader's catch-up does) names that session, and wrong ones are ignored."""
    from grader.backends import Backend, LabSession
    from grader.provenance import git_signs_in

    keyed(labstack, "iam", account, "test").create_role(RoleName="builder", AssumeRolePolicyDocument=TRUST)
    creds = keyed(labstack, "sts", account, "test").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/builder", RoleSessionName="night-shift")["Credentials"]
    url = keyed(labstack, "codecommit", account, "test").create_repository(
        repositoryName="app")["repositoryMetadata"]["cloneUrlHttp"]
    session = LabSession(Backend("embedded", labstack.endpoint), boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], region_name="us-east-1"))
    wrong = LabSession.for_key(Backend("embedded", labstack.endpoint), creds["AccessKeyId"], "not-the-secret")
    work = new_work_tree(tmp_path / "work", {"app.py": "print('v1')\n"})
    for n, extra in enumerate(({}, git_signs_in(session), git_signs_in(wrong))):
        (work / "app.py").write_text(f"print({n})\n")
        for args in (["commit", "--quiet", "-am", f"change {n}"], ["push", "--quiet", url, "main"]):
            done = subprocess.run(["git", *args], cwd=work, env={**git_env(), **extra}, capture_output=True, text=True,
                                  timeout=120, check=False)
            assert done.returncode == 0, done.stderr
    pushes = lookup(trail_of(labstack, account), "EventName", "GitPush")
    assert [record(e)["userIdentity"]["type"] for e in pushes] == ["Unknown", "AssumedRole", "Unknown"]
    assert pushes[1]["Username"] == "night-shift" and pushes[1]["AccessKeyId"] == creds["AccessKeyId"]


@pytest.mark.slow
def test_a_builds_own_calls_are_its_role_sessions(lab: Lab) -> None:
    """A build acts as its service role: its commands' calls are a session of that role (AWSCodeBuild-<uuid>),
    invoked by CodeBuild."""
    spec = buildspec({"build": {"commands": ["aws ssm put-parameter --name /built/by --value codebuild --type String"]}})
    lab.project("records", spec)
    build = lab.run("records")
    assert build["buildStatus"] == "SUCCEEDED"
    trail = trail_of(lab)
    event = only(lookup(trail, "EventName", "PutParameter"))
    data = record(event)
    assert data["sourceIPAddress"] == "codebuild.amazonaws.com" and data["userAgent"] == "codebuild.amazonaws.com"
    identity = data["userIdentity"]
    session = f"AWSCodeBuild-{build['id'].rpartition(':')[2]}"
    assert identity["type"] == "AssumedRole" and identity["invokedBy"] == "codebuild.amazonaws.com"
    assert identity["arn"] == f"arn:aws:sts::{lab.account}:assumed-role/codebuild-role/{session}"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == lab.role
    assert event["AccessKeyId"].startswith("ASIA") and event["Username"] == session
    started = only(lookup(trail, "EventName", "StartBuild"))
    assert started["Username"] == "root" and record(started)["sourceIPAddress"] == "127.0.0.1"
    # labstack's own engine calls for the build (its log stream) are CodeBuild's too
    engine = [record(e) for e in lookup(trail, "EventSource", "logs.amazonaws.com") if record(e)["readOnly"] is False]
    assert engine and all(e["userIdentity"]["invokedBy"] == "codebuild.amazonaws.com" for e in engine)


@pytest.mark.slow
def test_each_account_keeps_its_newest_events_and_reset_clears_them(tmp_path: Path) -> None:
    """Bounded per account; a caller flooding its account drops its own oldest events, not a role session's;
    reads go before changes, so flooding reads drops no change."""
    server = start_labstack(tmp_path, LABSTACK_TRAIL_EVENTS="6", LABSTACK_PROVIDERS="")
    try:
        account = "111111111111"
        iam = server.client("iam", account=account)
        role = iam.create_role(RoleName="catch-up", AssumeRolePolicyDocument=TRUST)["Role"]
        iam.put_role_policy(RoleName="catch-up", PolicyName="built-by", PolicyDocument=allow(
            "ssm:*Parameter", f"arn:aws:ssm:us-east-1:{account}:parameter/built/by/catch-up"))
        creds = server.client("sts", account=account).assume_role(RoleArn=role["Arn"], RoleSessionName="lab-kit-catch-up")["Credentials"]
        keyed(server, "ssm", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).put_parameter(
            Name="/built/by/catch-up", Value="v", Type="String")
        ssm = server.client("ssm", account=account)
        for index in range(8):
            ssm.put_parameter(Name=f"/n/{index}", Value="v", Type="String")
        server.client("ssm", account="222222222222").put_parameter(Name="/other", Value="v", Type="String")
        catch_up = keyed(server, "ssm", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        for _ in range(10):  # the role session floods reads: reads go first, its change stays
            catch_up.get_parameter(Name="/built/by/catch-up")
        kept = lookup(trail_of(server, account=account))
        names = [(e["Username"], e["EventName"], (record(e)["requestParameters"] or {}).get("Name")) for e in kept]
        assert names == [("root", "PutParameter", f"/n/{i}") for i in (7, 6, 5, 4, 3)] + [
            ("lab-kit-catch-up", "PutParameter", "/built/by/catch-up")]
        other = lookup(trail_of(server, account="222222222222"))
        assert [e["EventName"] for e in other] == ["PutParameter"]
        assert daemon.get_json(server.endpoint + "/_labstack/reset", timeout=30, method="POST") == {"reset": True}
        assert [e["EventName"] for e in lookup(trail_of(server, account=account))] == []
    finally:
        server.stop()
