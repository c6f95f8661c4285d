"""Class mode: one labstack shared by a class, every request's signature verified, accounts kept apart.

Each test is an attack tried against a real class-mode labstack (``labstack serve --learners``):
a borrowed key id, a wrong secret, an unknown key, no signature, a stale clock, an expired or
tampered presigned URL, another learner's resources named outright. AWS's errors for them are
those of its signing documentation ("Authenticating Requests (AWS Signature Version 4)",
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html) and of each
service's "Common Errors" page (InvalidClientTokenId, MissingAuthenticationToken: 403).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from labstack import learners
from tests.support.classmode import ClassLabstack, needs_bwrap
from tests.support.codebuild import ENVIRONMENT, buildspec, wait_build
from tests.support.roles import service_role

pytest_plugins = ["tests.support.classmode_fixtures"]  # the `classroom` fixture
WRONG_SECRET = "x" * 40


def code_of(call: Any) -> tuple[str, int]:
    """The AWS error code and HTTP status a call fails with."""
    with pytest.raises(ClientError) as failure:
        call()
    return failure.value.response["Error"]["Code"], failure.value.response["ResponseMetadata"]["HTTPStatusCode"]


def raw(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Status and body of a plain HTTP request."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- the learners file --------------------------------------------------------------------------
def test_learners_new_writes_a_class_of_distinct_accounts_and_keys(tmp_path: Path) -> None:
    out = tmp_path / "class.csv"
    done = subprocess.run([sys.executable, "-m", "labstack", "learners", "new", "4", "--out", str(out),
                           "--prefix", "team"], capture_output=True, text=True, check=True)
    assert "4 learners and the instructor" in done.stdout
    with open(out, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == ["learner", "account_id", "access_key_id", "secret_access_key"]
    assert [r["learner"] for r in rows] == ["team01", "team02", "team03", "team04", "instructor"]
    assert len({r["account_id"] for r in rows}) == 5
    for row in rows:
        assert len(row["account_id"]) == 12 and row["account_id"].isdigit()
        assert len(row["access_key_id"]) == 20 and row["access_key_id"].startswith("AKIA")
        assert len(row["secret_access_key"]) == 40
    assert out.stat().st_mode & 0o077 == 0  # the secrets are the owner's alone
    again = subprocess.run([sys.executable, "-m", "labstack", "learners", "new", "2", "--out", str(out)],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr
    assert learners.read(out)[0].learner == "team01"  # the class's keys are still there


@pytest.mark.parametrize("text, reason", [
    ("learner,access_key\nada,123456789012\n", "needs the header"),
    ("learner,account_id,access_key_id,secret_access_key\nada,12345,AKIAAAAAAAAAAAAAAAAA,s3cr3ts3cr3ts3cr3t\n",
     "not 12 digits"),
    ("learner,account_id,access_key_id,secret_access_key\nada,111111111111,AKIAAAAAAAAAAAAAAAAA,\n", "is empty"),
])
def test_a_bad_learners_file_stops_the_start_with_its_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "learners.csv"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "labstack", "serve", "--port", "0", "--learners", str(path)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LABSTACK_HOME": str(tmp_path / "home")})
    assert done.returncode == 2
    assert reason in done.stderr


# --- signatures ---------------------------------------------------------------------------------
def test_a_learner_acts_in_their_own_account(classroom: ClassLabstack) -> None:
    for who in ("learner01", "learner02", "instructor"):
        assert classroom.client("sts", who).get_caller_identity()["Account"] == classroom.account(who)


CALLS = {  # service -> a read call, in each of the four protocols labstack serves
    "s3": lambda client: client.list_buckets(),
    "sts": lambda client: client.get_caller_identity(),
    "codebuild": lambda client: client.list_projects(),
    "lambda": lambda client: client.list_functions(),
}
WRONG_SIGNATURE = {"s3": "SignatureDoesNotMatch", "sts": "SignatureDoesNotMatch",
                   "codebuild": "InvalidSignatureException", "lambda": "InvalidSignatureException"}
UNKNOWN_KEY = {"s3": "InvalidAccessKeyId", "sts": "InvalidClientTokenId",
               "codebuild": "UnrecognizedClientException", "lambda": "UnrecognizedClientException"}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_another_learners_key_id_with_a_wrong_secret_is_refused(classroom: ClassLabstack, service: str) -> None:
    client = classroom.client(service, "learner01", secret=WRONG_SECRET)
    assert code_of(lambda: CALLS[service](client)) == (WRONG_SIGNATURE[service], 403)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_unknown_keys_and_the_laptop_key_are_refused(classroom: ClassLabstack, service: str) -> None:
    for key in ("AKIAIOSFODNN7EXAMPLE", "test", classroom.account("learner01")):
        client = classroom.keyed(service, key, "test")
        assert code_of(lambda: CALLS[service](client)) == (UNKNOWN_KEY[service], 403)


def test_an_unsigned_request_is_refused(classroom: ClassLabstack) -> None:
    status, body = raw(f"{classroom.endpoint}/?Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 403 and b"MissingAuthenticationToken" in body
    status, body = raw(f"{classroom.endpoint}/", method="POST",
                       headers={"X-Amz-Target": "CodeBuild_20161006.ListProjects",
                                "Content-Type": "application/x-amz-json-1.1"})
    assert status == 403 and b"MissingAuthenticationToken" in body


def test_a_clock_beyond_fifteen_minutes_is_refused(classroom: ClassLabstack) -> None:
    """SigV4: a request dated more than 15 minutes from the server's clock fails (S3: RequestTimeTooSkewed)."""
    stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=16)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=stale):
        assert code_of(lambda: classroom.client("s3", "learner01").list_buckets()) == ("RequestTimeTooSkewed", 403)
        code, status = code_of(lambda: classroom.client("sts", "learner01").get_caller_identity())
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    near = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=near):
        assert classroom.client("sts", "learner01").get_caller_identity()["Account"] == classroom.account("learner01")


def test_a_tampered_body_is_refused_and_changes_nothing(classroom: ClassLabstack) -> None:
    s3 = classroom.client("s3", "learner01")
    s3.create_bucket(Bucket="tamper-l1")
    s3.put_object(Bucket="tamper-l1", Key="k", Body=b"original")

    def swap_body(request: Any, **_: Any) -> None:
        request.body = b"tampered"  # as long as the signed body: only its bytes changed on the way

    s3.meta.events.register("before-send.s3.PutObject", swap_body)  # signed by now
    assert code_of(lambda: s3.put_object(Bucket="tamper-l1", Key="k", Body=b"signed!!")) == ("XAmzContentSHA256Mismatch", 400)
    assert classroom.client("s3", "learner01").get_object(Bucket="tamper-l1", Key="k")["Body"].read() == b"original"


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_presigned_urls_work_until_they_expire_and_not_when_tampered(classroom: ClassLabstack, version: str) -> None:
    s3 = classroom.client("s3", "learner01", signature_version=version)
    bucket = f"presign-{version}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    assert raw(url) == (200, b"hello")
    status, body = raw(url.replace("/k?", "/other?"))
    assert status == 403 and b"SignatureDoesNotMatch" in body
    later = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(hours=2)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=later), \
            mock.patch("botocore.auth.time.time", return_value=later.replace(tzinfo=datetime.timezone.utc).timestamp()):
        stale = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    status, body = raw(stale)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"expired" in body


# --- accounts kept apart ------------------------------------------------------------------------
def test_s3_another_learners_bucket_is_out_of_reach(classroom: ClassLabstack) -> None:
    mine = classroom.client("s3", "learner01")
    mine.create_bucket(Bucket="private-l1")
    mine.put_object(Bucket="private-l1", Key="answers.txt", Body=b"mine")
    theirs = classroom.client("s3", "learner02")
    assert code_of(lambda: theirs.get_object(Bucket="private-l1", Key="answers.txt"))[0] == "AccessDenied"
    assert code_of(lambda: theirs.put_object(Bucket="private-l1", Key="answers.txt", Body=b"theirs"))[0] == "AccessDenied"
    assert code_of(lambda: theirs.delete_object(Bucket="private-l1", Key="answers.txt"))[0] == "AccessDenied"
    assert code_of(lambda: theirs.list_objects_v2(Bucket="private-l1"))[0] == "AccessDenied"
    assert "private-l1" not in [b["Name"] for b in theirs.list_buckets()["Buckets"]]
    assert mine.get_object(Bucket="private-l1", Key="answers.txt")["Body"].read() == b"mine"


def test_codecommit_codepipeline_and_logs_never_see_another_account(classroom: ClassLabstack) -> None:
    a, b = "learner01", "learner02"
    classroom.client("codecommit", a).create_repository(repositoryName="app-l1")
    assert code_of(lambda: classroom.client("codecommit", b).get_repository(repositoryName="app-l1"))[0] == \
        "RepositoryDoesNotExistException"
    # DeleteRepository of a name the caller's account lacks succeeds with no id, as on AWS; A's stays.
    assert "repositoryId" not in classroom.client("codecommit", b).delete_repository(repositoryName="app-l1")
    assert classroom.client("codecommit", a).get_repository(repositoryName="app-l1")["repositoryMetadata"]
    logs = classroom.client("logs", a)
    logs.create_log_group(logGroupName="/l1/secret")
    logs.create_log_stream(logGroupName="/l1/secret", logStreamName="s")
    arn = f"arn:aws:logs:us-east-1:{classroom.account(a)}:log-group:/l1/secret"
    assert code_of(lambda: classroom.client("logs", b).get_log_events(logGroupIdentifier=arn, logStreamName="s"))[0] == \
        "AccessDeniedException"  # the request names another account
    assert code_of(lambda: classroom.client("logs", b).delete_log_group(logGroupName="/l1/secret"))[0] == \
        "ResourceNotFoundException"
    assert classroom.client("codepipeline", b).list_pipelines()["pipelines"] == []


def test_ecr_and_lambda_of_another_account_are_not_found(classroom: ClassLabstack) -> None:
    a, b = "learner01", "learner02"
    classroom.client("ecr", a).create_repository(repositoryName="app-l1")
    ecr_b = classroom.client("ecr", b)
    for call in (lambda: ecr_b.list_images(registryId=classroom.account(a), repositoryName="app-l1"),
                 lambda: ecr_b.delete_repository(registryId=classroom.account(a), repositoryName="app-l1")):
        assert code_of(call)[0] == "AccessDeniedException"  # the request names another account
    role = classroom.client("iam", a).create_role(RoleName="fn-l1", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("h.py", "def handler(event, context):\n    return 'learner01 only'\n")
    arn = classroom.client("lambda", a).create_function(FunctionName="secret-l1", Runtime="python3.12", Role=role,
                                                        Handler="h.handler", Code={"ZipFile": package.getvalue()})["FunctionArn"]
    lambda_b = classroom.client("lambda", b)
    for call in (lambda: lambda_b.invoke(FunctionName=arn), lambda: lambda_b.delete_function(FunctionName=arn)):
        assert code_of(call)[0] == "AccessDeniedException"  # the request names another account
    assert code_of(lambda: lambda_b.get_function(FunctionName="secret-l1"))[0] == "ResourceNotFoundException"
    assert classroom.client("ecr", a).describe_repositories()["repositories"][0]["repositoryName"] == "app-l1"
    assert classroom.client("lambda", a).get_function(FunctionName="secret-l1")["Configuration"]["FunctionArn"] == arn


@pytest.mark.slow
@needs_bwrap
def test_a_build_acts_in_its_own_account_with_credentials_that_verify(classroom: ClassLabstack) -> None:
    """A build's temporary keys (with a session token) verify in class mode and reach only its account."""
    a, b = "learner01", "learner02"
    classroom.client("s3", a).create_bucket(Bucket="build-target-l1")
    spec = buildspec({"build": {"commands": [
        "aws sts get-caller-identity --query Account --output text",
        "test -n \"$AWS_SESSION_TOKEN\"",
        "aws s3 ls s3://build-target-l1 && echo READ-\"ANOTHER\" || echo DENIED-\"AS-EXPECTED\"",
    ]}})
    codebuild = classroom.client("codebuild", b)
    role = service_role(classroom.client("iam", b), "cb", "codebuild.amazonaws.com")  # may do anything in its account
    codebuild.create_project(name="probe-l2", source={"type": "NO_SOURCE", "buildspec": spec},
                             artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT, serviceRole=role)
    build = wait_build(codebuild, codebuild.start_build(projectName="probe-l2")["build"]["id"], timeout=120)
    logs = classroom.client("logs", b).get_log_events(logGroupName=build["logs"]["groupName"],
                                                      logStreamName=build["logs"]["streamName"], startFromHead=True)
    text = "".join(e["message"] for e in logs["events"])
    assert build["buildStatus"] == "SUCCEEDED", text
    assert classroom.account(b) in text
    assert "DENIED-AS-EXPECTED" in text and "READ-ANOTHER" not in text, text  # the echo's words, not the command's
    assert classroom.client("codebuild", a).batch_get_builds(ids=[build["id"]])["builds"] == []


# --- roles across accounts ----------------------------------------------------------------------
def test_the_instructor_assumes_the_organization_role_into_a_learners_account(classroom: ClassLabstack) -> None:
    learner = classroom.account("learner03")
    classroom.client("s3", "learner03").create_bucket(Bucket="seen-by-instructor-l3")
    role = f"arn:aws:iam::{learner}:role/OrganizationAccountAccessRole"
    creds = classroom.client("sts", "instructor").assume_role(RoleArn=role, RoleSessionName="grading")["Credentials"]
    s3 = classroom.keyed("s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert "seen-by-instructor-l3" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    caller = classroom.keyed("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert caller.get_caller_identity()["Account"] == learner
    tampered = classroom.keyed("s3", creds["AccessKeyId"], creds["SecretAccessKey"], "not-the-token")
    assert code_of(lambda: tampered.list_buckets()) == ("InvalidToken", 400)
    wrong = classroom.keyed("s3", creds["AccessKeyId"], WRONG_SECRET, creds["SessionToken"])
    assert code_of(lambda: wrong.list_buckets()) == ("SignatureDoesNotMatch", 403)


def test_a_learner_cannot_assume_a_role_in_another_learners_account(classroom: ClassLabstack) -> None:
    target = classroom.account("learner01")
    sts = classroom.client("sts", "learner02")
    for role in ("OrganizationAccountAccessRole", "no-such-role"):
        code, status = code_of(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{target}:role/{role}",
                                                       RoleSessionName="sneak"))
        assert (code, status) == ("AccessDenied", 403)
    # A role whose trust policy names learner02's account lets learner02 in: the owner's choice.
    classroom.client("iam", "learner01").create_role(RoleName="shared-l1", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": f"arn:aws:iam::{classroom.account('learner02')}:root"}}]}))
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{target}:role/shared-l1", RoleSessionName="invited")["Credentials"]
    assert classroom.keyed("sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                           creds["SessionToken"]).get_caller_identity()["Account"] == target


# --- labstack's own endpoints in class mode -----------------------------------------------------
def own(classroom: ClassLabstack, path: str, who: str | None = None, method: str = "GET",
        cookie: str | None = None, body: bytes = b"") -> tuple[int, dict, Any]:
    """Status, JSON and headers of a request to labstack's own endpoints, signed as ``who`` (if any)."""
    from botocore.credentials import Credentials

    from labstack.signing import signed_headers

    url = classroom.endpoint + path
    headers = {"Content-Type": "application/json"} if method == "POST" else {}
    if cookie:
        headers["Cookie"] = cookie
    if who is not None:
        row = classroom.rows[who]
        headers = signed_headers(method, url, body, headers, Credentials(row.access_key_id, row.secret_access_key))
    request = urllib.request.Request(url, method=method, headers=headers, data=body if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def test_status_lists_every_account_only_to_the_instructor(classroom: ClassLabstack) -> None:
    for who in ("learner01", "learner02"):
        classroom.client("sqs", who).create_queue(QueueName=f"q-{who}")
    status, anonymous, _ = own(classroom, "/_labstack/status")
    assert status == 200 and anonymous["accounts"] == {}
    _, learner, _ = own(classroom, "/_labstack/status", "learner01")
    assert set(learner["accounts"]) == {classroom.account("learner01")}
    _, instructor, _ = own(classroom, "/_labstack/status", "instructor")
    assert {classroom.account("learner01"), classroom.account("learner02")} <= set(instructor["accounts"])
    status, forged, _ = own(classroom, "/_labstack/status", cookie="labstack_session=forged")
    assert status == 200 and forged["accounts"] == {}


def test_a_learner_reads_only_their_own_inbox_and_cannot_reset_the_class(classroom: ClassLabstack) -> None:
    for who in ("learner01", "learner02"):
        sns = classroom.client("sns", who)
        topic = sns.create_topic(Name="approvals")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=f"{who}@example.com")
        sns.publish(TopicArn=topic, Subject="secret", Message=f"for {who} only")
    assert own(classroom, "/_labstack/inbox")[0] == 401
    assert own(classroom, "/_labstack/endpoints")[0] == 401
    other = classroom.account("learner02")
    status, inbox, _ = own(classroom, f"/_labstack/inbox?account={other}", "learner01")
    assert status == 200 and inbox["messages"]
    assert {m["account"] for m in inbox["messages"]} == {classroom.account("learner01")}
    status, answer, _ = own(classroom, "/_labstack/reset", "learner01", method="POST", body=b"{}")
    assert (status, answer["error"]) == (403, "InstructorOnly")
    assert classroom.client("sqs", "learner02").list_queues().get("QueueUrls")  # nothing was reset


def test_the_console_signs_a_learner_in_and_shows_their_account_only(classroom: ClassLabstack) -> None:
    row = classroom.rows["learner02"]
    wrong = json.dumps({"accessKeyId": row.access_key_id, "secretAccessKey": WRONG_SECRET}).encode()
    status, answer, headers = own(classroom, "/_labstack/signin", method="POST", body=wrong)
    assert (status, answer["error"]) == (403, "SignInFailed") and headers.get("Set-Cookie") is None
    assert own(classroom, "/_labstack/api/accounts")[0] == 401
    right = json.dumps({"accessKeyId": row.access_key_id, "secretAccessKey": row.secret_access_key}).encode()
    status, answer, headers = own(classroom, "/_labstack/signin", method="POST", body=right)
    assert status == 200 and answer["account"] == row.account_id and not answer["instructor"]
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_labstack" in cookie
    session = cookie.split(";")[0]
    assert own(classroom, "/_labstack/whoami", cookie=session)[1]["name"] == "learner02"
    _, accounts, _ = own(classroom, "/_labstack/api/accounts", cookie=session)
    assert set(accounts["accounts"]) <= {row.account_id}
    _, pipelines, _ = own(classroom, f"/_labstack/api/pipelines?account={classroom.account('learner01')}", cookie=session)
    assert pipelines == {"pipelines": []}
    own(classroom, "/_labstack/signout", method="POST", cookie=session, body=b"{}")
    assert own(classroom, "/_labstack/api/accounts", cookie=session)[0] == 401


def test_a_signed_request_with_a_wrong_secret_is_refused_on_labstacks_own_endpoints(classroom: ClassLabstack) -> None:
    from botocore.credentials import Credentials

    from labstack.signing import signed_headers

    url = classroom.endpoint + "/_labstack/status"
    headers = signed_headers("GET", url, b"", {}, Credentials(classroom.rows["instructor"].access_key_id, WRONG_SECRET))
    status, _ = raw(url, headers=headers)
    assert status == 403


def test_an_html_object_never_runs_as_a_page_of_labstacks_origin(classroom: ClassLabstack) -> None:
    """Another learner's presigned HTML page is sandboxed: its scripts cannot reach the console's API as you."""
    s3 = classroom.client("s3", "learner02")
    s3.create_bucket(Bucket="lure-l2")
    s3.put_object(Bucket="lure-l2", Key="index.html", ContentType="text/html",
                  Body=b"<script>fetch('/_labstack/api/accounts')</script>")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "lure-l2", "Key": "index.html"})
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_docker_push_reads_only_the_callers_own_builds(classroom: ClassLabstack) -> None:
    """labstack's image engine (what `docker push` in a build hands the push to) reads a store only in
    the signer's own builds: another learner's build folder is refused, an unsigned push too."""
    from tests.support.classmode import engine_request

    builds = classroom.settings.home / "builds"
    theirs, mine = builds / classroom.account("learner01") / "us-east-1" / "b1" / "images", \
        builds / classroom.account("learner02") / "us-east-1" / "b2" / "images"
    for folder in (theirs, mine):
        folder.mkdir(parents=True, exist_ok=True)
    registry = f"{classroom.account('learner02')}.dkr.ecr.us-east-1.amazonaws.com"
    row = classroom.rows["learner02"]

    def push(store: Path, key: str | None = row.access_key_id, secret: str = row.secret_access_key) -> tuple[int, dict]:
        body = json.dumps({"store": str(store), "reference": f"{registry}/app:v1"}).encode()
        return engine_request(classroom.endpoint, body, "POST", key, secret)

    status, answer = push(theirs)
    assert status == 400 and "only an image store of your own builds" in answer["message"]
    status, answer = push(mine)
    assert status == 400 and "no basic auth credentials" in answer["message"]  # past the ownership check
    assert push(mine, key=None)[0] == 403
    assert push(mine, secret=WRONG_SECRET)[0] == 403


@pytest.mark.slow
def test_a_lab_runs_unchanged_in_class_mode_and_is_graded_in_place_from_the_learners_file(
        classroom: ClassLabstack, tmp_path: Path) -> None:
    """Lab 01's solution (S3, IAM, CodeCommit with git over HTTPS and the AWS CLI's credential helper) runs
    with a learner's own keys, and `grader solve 1` (catch-up's role session) in another learner's account;
    `grader autograde --accounts class.csv` then grades each learner where they worked: full marks for the
    one who did the lab, none for the one whose account catch-up built."""
    import shutil

    from grader import catchup, classroom as grading_class, notebooks
    from grader.backends import Backend, LabSession

    backend = Backend("embedded", classroom.endpoint)
    done = LabSession.for_key(backend, classroom.rows["learner03"].access_key_id,
                              classroom.rows["learner03"].secret_access_key)
    catchup.run_solution(1, done)
    assert catchup.lab_report(1, done).passed
    solved = LabSession.for_key(backend, classroom.rows["learner02"].access_key_id,
                                classroom.rows["learner02"].secret_access_key)
    assert catchup.solve(1, solved).passed  # its git push answers the class's challenge as catch-up
    submitted = tmp_path / "submitted"
    for learner in ("learner03", "learner02"):
        (submitted / learner).mkdir(parents=True)
        shutil.copyfile(notebooks.solution(1), submitted / learner / notebooks.solution(1).name)
    accounts = grading_class.read_accounts(classroom.learners_file)
    rows = grading_class.grade_class(submitted, [1], tmp_path / "graded", backend, workers=2, accounts=accounts)
    assert [(r.learner, r.score, r.max_score, r.status) for r in rows] == [
        ("learner02", 0, 30, "graded"), ("learner03", 30, 30, "graded")]
    assert "built by catch-up, not by you: cicd-lab-app (GitPush" in (
        tmp_path / "graded" / "feedback" / "learner02" / "01_repo_setup.html").read_text()


@needs_bwrap
def test_a_function_calls_labstack_with_its_own_temporary_keys(classroom: ClassLabstack) -> None:
    """Lambda hands a function its role's temporary keys: they verify in class mode and act in the function's account."""
    who = "learner01"
    role = classroom.client("iam", who).create_role(RoleName="fn-caller", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("h.py", "import os, boto3\n"
                                 "def handler(event, context):\n"
                                 "    return [boto3.client('sts').get_caller_identity()['Account'],\n"
                                 "            bool(os.environ.get('AWS_SESSION_TOKEN'))]\n")
    functions = classroom.client("lambda", who)
    functions.create_function(FunctionName="caller-l1", Runtime="python3.12", Role=role, Handler="h.handler",
                              Code={"ZipFile": package.getvalue()}, Timeout=30)
    answer = functions.invoke(FunctionName="caller-l1")
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == [classroom.account(who), True]


@pytest.mark.parametrize("authorization, date", [
    ("AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=\xe9\xe9", "now"),
    ("AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/sts/aws4_request, SignedHeaders=, Signature=00", "now"),
    ("AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00", ""),
    ("AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00", "yesterday"),
    ("AWS {key}:\xe9", ""),
    ("AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00",
     "Mon, 01 Jan 99999999999 00:00:00 GMT"),
])
def test_a_mangled_signature_is_refused_not_crashed_on(classroom: ClassLabstack, authorization: str, date: str) -> None:
    import http.client

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ") if date == "now" else date
    date_header = stamp if stamp.startswith("Mon,") else None
    connection = http.client.HTTPConnection("127.0.0.1", classroom.settings.port, timeout=30)
    headers = {"Authorization": authorization.format(key=classroom.rows["learner01"].access_key_id),
               "Content-Type": "application/x-www-form-urlencoded"}
    if date_header:
        headers["Date"] = date_header
    elif stamp:
        headers["X-Amz-Date"] = stamp
    connection.request("POST", "/", body=b"Action=GetCallerIdentity&Version=2011-06-15", headers=headers)
    answer = connection.getresponse()
    body = answer.read()
    assert answer.status in (400, 403), body
    assert b"<Code>" in body


def test_a_learner_cannot_skip_labstacks_checks_with_its_internal_header(classroom: ClassLabstack) -> None:
    """``X-Labstack-Direct: moto`` reaches moto past labstack's overlays (for labstack's own engines): a learner
    sending it still meets the trust-policy check of AssumeRole."""
    sts = classroom.client("sts", "learner02")
    sts.meta.events.register("before-sign.sts.AssumeRole", lambda request, **_: request.headers.__setitem__(
        "X-Labstack-Direct", "moto"))
    target = f"arn:aws:iam::{classroom.account('learner01')}:role/OrganizationAccountAccessRole"
    assert code_of(lambda: sts.assume_role(RoleArn=target, RoleSessionName="sneak")) == ("AccessDenied", 403)


# --- a review's attacks (each was a way in before its fix) --------------------------------------
def signed_raw(classroom: ClassLabstack, who: str, method: str, path: str, service: str = "s3",
               body: bytes = b"", headers: dict[str, str] | None = None, region: str = "us-east-1") -> tuple[int, bytes, Any]:
    """Status, body and headers of any request signed (SigV4) by ``who`` for ``service`` in ``region``."""
    import http.client

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    row = classroom.rows[who]
    request = AWSRequest(method=method, url=classroom.endpoint + path, data=body, headers=headers or {})
    SigV4Auth(Credentials(row.access_key_id, row.secret_access_key), service, region).add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", classroom.settings.port, timeout=30)
    connection.request(method, path, body=body, headers=dict(request.headers.items()))
    answer = connection.getresponse()
    return answer.status, answer.read(), answer.headers


def test_moto_s_own_administration_is_not_served(classroom: ClassLabstack) -> None:
    classroom.client("s3", "learner01").create_bucket(Bucket="survives-moto-api")
    for method, path in (("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"), ("GET", "/moto-api/"),
                         ("GET", "/latest/meta-data/")):
        status, body, _ = signed_raw(classroom, "learner02", method, path)
        assert status == 403 and b"survives-moto-api" not in body, (path, body[:200])
    assert "survives-moto-api" in [b["Name"] for b in classroom.client("s3", "learner01").list_buckets()["Buckets"]]


def test_federated_sign_in_reaches_no_other_account(classroom: ClassLabstack) -> None:
    role = f"arn:aws:iam::{classroom.account('learner01')}:role/anything"
    for action, extra in (("AssumeRoleWithWebIdentity", "WebIdentityToken=" + "a" * 40),
                          ("AssumeRoleWithSAML", "PrincipalArn=arn:aws:iam::1:saml-provider/x&SAMLAssertion=" + "a" * 40)):
        body = f"Action={action}&Version=2011-06-15&RoleArn={role}&RoleSessionName=web&{extra}".encode()
        status, answer, _ = signed_raw(classroom, "learner02", "POST", "/", "sts", body,
                                       {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 403 and b"AccessDenied" in answer and b"AccessKeyId" not in answer, answer


def test_a_scope_or_target_that_names_another_service_is_refused(classroom: ClassLabstack) -> None:
    """labstack picks its checks by the signed service and the JSON target; moto's dispatcher reads them more
    loosely (any case, the action name alone), so a request whose two disagree could pass by the checks."""
    target = f"arn:aws:iam::{classroom.account('learner01')}:role/OrganizationAccountAccessRole"
    body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={target}&RoleSessionName=caps".encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for scope in ("STS", "Sts"):
        status, answer, _ = signed_raw(classroom, "learner02", "POST", "/", scope, body, form)
        assert status == 400 and b"IncompleteSignature" in answer and b"AccessKeyId" not in answer
    status, answer, _ = signed_raw(classroom, "learner02", "POST", "/", "ecr", b"{}", {
        "X-Amz-Target": "Whatever.DescribeRepositories", "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400 and b"UnknownOperationException" in answer
    status, answer, _ = signed_raw(classroom, "learner02", "GET", "/", region="..")
    assert status == 400 and b"IncompleteSignature" in answer  # a region becomes a folder name


def test_no_answer_is_a_page_of_labstacks_origin_whatever_service_its_url_names(classroom: ClassLabstack) -> None:
    s3 = classroom.client("s3", "learner02")
    s3.create_bucket(Bucket="lure2-l2")
    s3.put_object(Bucket="lure2-l2", Key="index.html", ContentType="text/html", Body=b"<script>alert(1)</script>")
    status, _, headers = signed_raw(classroom, "learner02", "GET", "/lure2-l2/index.html", service="sqs")
    assert status != 200 or headers["Content-Security-Policy"] == "sandbox"


def test_a_request_naming_another_learners_account_is_refused(classroom: ClassLabstack) -> None:
    """SNS topics, event buses, pipelines, alarm actions and ECR images of another account, named outright."""
    a, b = "learner01", "learner02"
    topic = classroom.client("sns", a).create_topic(Name="approvals-l1")["TopicArn"]
    sns_b = classroom.client("sns", b)
    for call in (lambda: sns_b.get_topic_attributes(TopicArn=topic), lambda: sns_b.delete_topic(TopicArn=topic),
                 lambda: sns_b.publish(TopicArn=topic, Message="forged"),
                 lambda: sns_b.subscribe(TopicArn=topic, Protocol="email", Endpoint="b@example.com")):
        assert code_of(call) == ("AccessDenied", 403)
    assert classroom.client("sns", a).get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    events_b = classroom.client("events", b)
    events_b.put_rule(Name="to-a", EventPattern=json.dumps({"source": ["b.app"]}))
    for arn in (f"arn:aws:events:us-east-1:{classroom.account(a)}:event-bus/default",
                f"arn:aws:codepipeline:us-east-1:{classroom.account(a)}:a-pipe"):
        assert code_of(lambda: events_b.put_targets(Rule="to-a", Targets=[{"Id": "x", "Arn": arn}])) == \
            ("AccessDeniedException", 403)
    assert code_of(lambda: classroom.client("cloudwatch", b).put_metric_alarm(
        AlarmName="spoof", MetricName="m", Namespace="n", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic]))[1] == 403
    own_topic = classroom.client("sns", b).create_topic(Name="alarms-l2")["TopicArn"]  # one's own: fine
    classroom.client("cloudwatch", b).put_metric_alarm(
        AlarmName="mine", MetricName="m", Namespace="n", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold", AlarmActions=[own_topic])
    image = f"{classroom.account(a)}.dkr.ecr.us-east-1.amazonaws.com/secret-app:v1"
    assert code_of(lambda: classroom.client("ecs", b).register_task_definition(
        family="steal", containerDefinitions=[{"name": "c", "image": image, "memory": 64}])) == ("AccessDeniedException", 403)


def test_a_rule_whose_target_is_its_own_bus_does_not_freeze_eventbridge(classroom: ClassLabstack) -> None:
    """A bus target delivers through the same code again; the class's EventBridge must not wait on itself."""
    who = "learner03"
    events = classroom.client("events", who, read_timeout=20)
    bus = f"arn:aws:events:us-east-1:{classroom.account(who)}:event-bus/default"
    events.put_rule(Name="loop-once", EventPattern=json.dumps({"source": ["l3.app"], "detail-type": ["first"]}))
    events.put_targets(Rule="loop-once", Targets=[{"Id": "bus", "Arn": bus}])
    assert events.put_events(Entries=[{"Source": "l3.app", "DetailType": "first", "Detail": "{}"}])["FailedEntryCount"] == 0
    assert classroom.client("events", "learner01", read_timeout=20).put_events(
        Entries=[{"Source": "other", "DetailType": "x", "Detail": "{}"}])["FailedEntryCount"] == 0


def test_an_inactive_iam_key_is_refused(classroom: ClassLabstack) -> None:
    iam = classroom.client("iam", "learner03")
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = classroom.keyed("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert dev.get_caller_identity()["Account"] == classroom.account("learner03")
    iam.update_access_key(UserName="dev", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert code_of(lambda: dev.get_caller_identity()) == ("InvalidClientTokenId", 403)


def test_a_class_refuses_an_upstream(tmp_path: Path) -> None:
    path = tmp_path / "class.csv"
    learners.write(path, learners.generate(1))
    done = subprocess.run([sys.executable, "-m", "labstack", "serve", "--port", "0", "--learners", str(path),
                           "--upstream", "http://127.0.0.1:4566"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LABSTACK_HOME": str(tmp_path / "home")})
    assert done.returncode == 2 and "--learners and --upstream do not go together" in done.stderr


def test_a_learners_file_written_over_an_open_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "class.csv"
    path.write_text("old\n")
    path.chmod(0o644)
    learners.write(path, learners.generate(1))
    assert path.stat().st_mode & 0o077 == 0
