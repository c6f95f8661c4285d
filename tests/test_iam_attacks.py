"""An attacker holding an IAM user's keys with a narrow policy tries to do more than it allows, on a real
labstack: each test makes the attack with raw HTTP and shows it refused with AWS's error, and the victim's
state unchanged (the holes these tests found are closed; the regressions show attacks that never worked).

- Operation smuggling: moto reads a query service's ``Action`` from the form body, else the query string,
  else any ``a=b&…`` body, else a header, prefers it to ``X-Amz-Target``, and reads parameters off a body
  the gate did not read as a form; the gate refuses a request moto could read otherwise than it did
  (``labstack.enforcement.reading``), and the gateway ungzips a body before anyone reads it.
- Service smuggling: signed for a service the user may use, with the X-Amz-Target of a service labstack
  serves; refused as class mode refuses it.
- Bucket smuggling: moto takes the bucket from any dotted Host (``victim.localhost``) and serves a second
  subresource (``?tagging&policy``) the gate did not decide; the gate decides the bucket, key and
  subresource moto will act on, or refuses.
- Side doors: ``X-Labstack-Direct`` (moto's answer under an overlay) and labstack's own endpoints in class
  mode are not for keys IAM decides; git over HTTP in class mode asks ``codecommit:GitPull``/``GitPush``
  of an IAM user's HTTPS Git credentials; the local GitHub does not take an IAM user's keys.
- Regression: ``iam:PassRole`` on CreateProject, UpdateProject and StartBuild's ``serviceRoleOverride``; a
  copy's source; a presigned URL is its signer's call; ``X-Labstack-Caller``; a role session's keys after
  the role is deleted.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.classmode import ClassLabstack
from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess

pytest_plugins = ["tests.support.classmode_fixtures"]  # the `classroom` fixture

IAM_VERSION = "Version=2010-05-08"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SSM_JSON = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameters"}
UNSIGNED_PAYLOAD = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
CODEBUILD_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PROJECT = {"source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"}, "artifacts": {"type": "NO_ARTIFACTS"},
           "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                           "computeType": "BUILD_GENERAL1_SMALL"}}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


class Attacker:
    """An account of a labstack, its root's clients, and one IAM user's key to attack with."""

    def __init__(self, endpoint: str, root: Any, account: str, *statements: dict[str, Any], name: str = "mallory") -> None:
        self.endpoint = endpoint
        self.root = root  # service name -> the account root's client
        self.account = account
        self.name = name
        iam = root("iam")
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="narrow", PolicyDocument=policy(*statements))
        made = iam.create_access_key(UserName=name)["AccessKey"]
        self.key, self.secret = made["AccessKeyId"], made["SecretAccessKey"]
        self.arn = f"arn:aws:iam::{account}:user/{name}"

    def send(self, service: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
             host: str | None = None) -> requests.Response:
        """One request signed by the attacker's key as ``service``, sent as written."""
        url = self.endpoint + path
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        if host is not None:
            request.headers["Host"] = host
        SigV4Auth(Credentials(self.key, self.secret), service, "us-east-1").add_auth(request)
        return requests.request(method, url, data=body, headers=dict(request.headers.items()), timeout=30)

    def client(self, service: str) -> Any:
        """A boto3 client signed by the attacker's key."""
        return boto3.client(service, endpoint_url=self.endpoint, aws_access_key_id=self.key,
                            aws_secret_access_key=self.secret, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 1}))


def laptop_attacker(server: LabstackProcess, *statements: dict[str, Any]) -> Attacker:
    account = new_account()
    return Attacker(server.endpoint, lambda service: server.client(service, account=account), account, *statements)


def refused(response: requests.Response, code: str, status: int) -> str:
    """The message of an AWS error answer with ``code`` and ``status`` (XML or JSON)."""
    assert response.status_code == status, response.text
    text = response.text
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        assert data["__type"].rpartition("#")[2] == code, text
        return str(data["message"])
    assert f"<Code>{code}</Code>" in text, text
    return text.split("<Message>", 1)[1].split("</Message>", 1)[0]


# -- operation smuggling: the gate decides the operation moto serves, or nothing is served ---------------

SMUGGLED_CREATE_USER = {
    "the query says ListUsers, an upper-case form content type's body CreateUser": (
        f"/?Action=ListUsers&{IAM_VERSION}", {"Content-Type": "Application/X-WWW-Form-Urlencoded"}, "POST"),
    "the query says ListUsers, a text/plain body CreateUser": (
        f"/?Action=ListUsers&{IAM_VERSION}", {"Content-Type": "text/plain"}, "POST"),
    "a text/plain body alone names CreateUser": ("/", {"Content-Type": "text/plain"}, "POST"),
    "X-Amz-Target names ListUsers, the form body CreateUser": (
        "/", {**FORM, "X-Amz-Target": "AWSIdentityManagementV20100508.ListUsers"}, "POST"),
    "a GET's query says ListUsers, its form body CreateUser": (f"/?Action=ListUsers&{IAM_VERSION}", FORM, "GET"),
}


@pytest.mark.parametrize("how", sorted(SMUGGLED_CREATE_USER))
def test_a_query_service_operation_smuggled_past_the_gate_is_refused(labstack: LabstackProcess, how: str) -> None:
    """A user who may only ListUsers hides CreateUser where moto, not the gate, would read it."""
    attacker = laptop_attacker(labstack, allow("iam:ListUsers"))
    path, headers, method = SMUGGLED_CREATE_USER[how]
    answer = attacker.send("iam", method, path, f"Action=CreateUser&UserName=eve&{IAM_VERSION}".encode(), headers)
    assert answer.status_code in (400, 403), answer.text
    assert "is not authorized to perform" in answer.text and attacker.arn in answer.text
    assert [u["UserName"] for u in attacker.root("iam").list_users()["Users"]] == ["mallory"]


def test_two_actions_in_the_query_string_or_one_in_a_header_are_refused(labstack: LabstackProcess) -> None:
    """moto takes the first ``Action`` of a query string (the gate read the last), or a header's."""
    attacker = laptop_attacker(labstack, allow("iam:ListUsers"))
    twice = attacker.send("iam", "POST", f"/?Action=CreateUser&UserName=eve&Action=ListUsers&{IAM_VERSION}")
    message = refused(twice, "AccessDenied", 403)
    assert message == (f"User: {attacker.arn} is not authorized to perform: iam:ListUsers because the request "
                       "also names CreateUser as its operation")
    header = attacker.send("iam", "POST", "/", headers={"Action": "CreateUser", "UserName": "eve",
                                                        "Version": "2010-05-08"})
    # nothing in it says which protocol it speaks: the gateway answers as a REST service would
    assert "iam:? because the request also names CreateUser" in refused(header, "AccessDeniedException", 403)
    assert [u["UserName"] for u in attacker.root("iam").list_users()["Users"]] == ["mallory"]


def test_a_parameter_given_twice_is_refused(labstack: LabstackProcess) -> None:
    """The gate reads the last UserName, moto the first: neither is served, wherever the two are."""
    attacker = laptop_attacker(labstack, allow("iam:GetUser", "arn:aws:iam::*:user/mallory"))
    attacker.root("iam").create_user(UserName="admin")
    answer = attacker.send("iam", "POST", "/?UserName=admin", f"Action=GetUser&UserName=mallory&{IAM_VERSION}".encode(),
                           FORM)
    assert "it gives UserName more than one value" in refused(answer, "AccessDenied", 403)
    twice = attacker.send("iam", "GET", f"/?Action=GetUser&UserName=admin&UserName=mallory&{IAM_VERSION}")
    assert "it gives UserName more than one value" in refused(twice, "AccessDenied", 403)  # moto reads the first
    assert "admin" not in answer.text.replace("user/mallory", "")
    assert attacker.send("iam", "POST", "/", f"Action=GetUser&UserName=mallory&{IAM_VERSION}".encode(),
                         FORM).status_code == 200


def test_body_parameters_the_gate_did_not_read_are_refused(labstack: LabstackProcess) -> None:
    """An explicit deny on one user: the body that names it travels in a content type the gate does not read
    as a form (moto does), so the gate would decide GetUser of the caller itself, which the deny does not name."""
    attacker = laptop_attacker(labstack, allow("iam:*"), {"Effect": "Deny", "Action": "iam:GetUser",
                                                          "Resource": "arn:aws:iam::*:user/admin"})
    attacker.root("iam").create_user(UserName="admin")
    answer = attacker.send("iam", "POST", f"/?Action=GetUser&{IAM_VERSION}", b"UserName=admin",
                           {"Content-Type": "Application/X-WWW-Form-Urlencoded"})
    assert "its body gives UserName, which the gate did not read" in refused(answer, "AccessDenied", 403)


def test_a_gzip_body_is_read_as_moto_reads_it(labstack: LabstackProcess) -> None:
    """A compressed form hiding CreateUser is refused; botocore's own compressed PutMetricData is decided and
    served."""
    attacker = laptop_attacker(labstack, allow(["iam:ListUsers", "cloudwatch:PutMetricData", "cloudwatch:ListMetrics"]))
    hidden = gzip.compress(f"Action=CreateUser&UserName=eve&{IAM_VERSION}".encode())
    answer = attacker.send("iam", "POST", f"/?Action=ListUsers&{IAM_VERSION}", hidden,
                           {**FORM, "Content-Encoding": "gzip"})
    assert "iam:CreateUser because the request also names ListUsers" in refused(answer, "AccessDenied", 403)
    assert [u["UserName"] for u in attacker.root("iam").list_users()["Users"]] == ["mallory"]
    cloudwatch = attacker.client("cloudwatch")
    data = [{"MetricName": f"m{i}", "Value": float(i), "Dimensions": [{"Name": "app", "Value": "x" * 200}]}
            for i in range(60)]  # past botocore's 10 KiB: the body goes gzip-compressed
    cloudwatch.put_metric_data(Namespace="Lab", MetricData=data)
    assert len(cloudwatch.list_metrics(Namespace="Lab")["Metrics"]) == 60


@pytest.mark.parametrize("where", ["query string", "body"])
def test_a_json_services_target_overridden_by_an_action_is_refused(labstack: LabstackProcess, where: str) -> None:
    """GetParameters is allowed; an ``Action=DeleteParameter`` moto would prefer to the target is not served."""
    attacker = laptop_attacker(labstack, allow("ssm:GetParameters"))
    ssm = attacker.root("ssm")
    ssm.put_parameter(Name="/app/db/password", Value="s3cret", Type="String")
    if where == "query string":
        path, body = "/?Action=DeleteParameter", {"Names": ["/x"], "Name": "/app/db/password"}
    else:
        path, body = "/", {"Names": ["/x"], "Name": "/app/db/password", "Note": "&Action=DeleteParameter&"}
    answer = attacker.send("ssm", "POST", path, json.dumps(body).encode(), SSM_JSON)
    assert refused(answer, "AccessDeniedException", 400) == (
        f"User: {attacker.arn} is not authorized to perform: ssm:GetParameters because the request also names "
        "DeleteParameter as its operation")
    assert ssm.get_parameter(Name="/app/db/password")["Parameter"]["Value"] == "s3cret"
    honest = attacker.send("ssm", "POST", "/", json.dumps({"Names": ["/app/db/password"]}).encode(), SSM_JSON)
    assert honest.status_code == 200 and "s3cret" in honest.text


def test_a_target_of_another_service_is_decided_as_the_signed_service(labstack: LabstackProcess) -> None:
    """Regression: signed for SSM, an X-Amz-Target of SSM needs ssm's permission whatever else the user has."""
    attacker = laptop_attacker(labstack, allow("sqs:*"))
    attacker.root("ssm").put_parameter(Name="/app/key", Value="v", Type="String")
    answer = attacker.send("ssm", "POST", "/", b'{"Name": "/app/key"}',
                           {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"})
    assert "ssm:GetParameter on resource" in refused(answer, "AccessDeniedException", 400)


@pytest.mark.parametrize("signed_for", ["sts", "logs"])
def test_a_target_of_a_service_labstack_serves_must_be_the_signed_services(labstack: LabstackProcess,
                                                                             signed_for: str) -> None:
    """A user who may use STS (or Logs) signs for it and names CodeBuild's CreateProject in X-Amz-Target:
    decided as sts:CreateProject it would pass, and make a project with a role it may not pass."""
    attacker = laptop_attacker(labstack, allow([f"{signed_for}:*"]))
    role = attacker.root("iam").create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST))
    body = json.dumps({"name": "escalate", "serviceRole": role["Role"]["Arn"], **PROJECT}).encode()
    answer = attacker.send(signed_for, "POST", "/", body, {"Content-Type": "application/x-amz-json-1.1",
                                                           "X-Amz-Target": "CodeBuild_20161006.CreateProject"})
    assert refused(answer, "UnknownOperationException", 400) == (
        f"CodeBuild_20161006.CreateProject is not an operation of {signed_for}, which the request is signed for")
    assert attacker.root("codebuild").list_projects().get("projects", []) == []


def test_x_labstack_caller_does_not_make_a_user_a_service(labstack: LabstackProcess) -> None:
    """Regression: the header naming the service an engine acts for counts on labstack's own keys only."""
    attacker = laptop_attacker(labstack)
    answer = attacker.send("ssm", "POST", "/", b'{"Path": "/"}', {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParametersByPath",
        "X-Labstack-Caller": "codebuild"})
    assert refused(answer, "AccessDeniedException", 400).startswith(f"User: {attacker.arn} is not authorized")


def test_an_explicit_deny_holds_for_an_operation_labstack_cannot_name_the_resource_of(labstack: LabstackProcess) -> None:
    """``iam:*`` allowed, ``iam:*`` denied on user admin: CreateServiceSpecificCredential is not in the table
    of asks (asked on ``*``, which the deny's ARN does not match), so the attacker would get admin's HTTPS
    Git credentials. A Deny of the action applies whatever resource it names."""
    attacker = laptop_attacker(labstack, allow("iam:*"), {"Effect": "Deny", "Action": "iam:*",
                                                          "Resource": "arn:aws:iam::*:user/admin"})
    attacker.root("iam").create_user(UserName="admin")
    iam = attacker.client("iam")
    with pytest.raises(ClientError) as raised:
        iam.create_service_specific_credential(UserName="admin", ServiceName="codecommit.amazonaws.com")
    assert raised.value.response["Error"]["Message"] == (
        f"User: {attacker.arn} is not authorized to perform: iam:CreateServiceSpecificCredential on resource: * "
        "with an explicit deny in an identity-based policy")
    listed = attacker.root("iam").list_service_specific_credentials(UserName="admin")["ServiceSpecificCredentials"]
    assert listed == []
    iam.create_user(UserName="helper")  # a listed operation on another resource is still allowed
    unhindered = laptop_attacker(labstack, allow("iam:*"))  # no deny: the unlisted operation goes through
    unhindered.client("iam").create_service_specific_credential(UserName="mallory", ServiceName="codecommit.amazonaws.com")


# -- bucket smuggling: the Host moto reads a bucket from ---------------------------------------------------

def _buckets(labstack: LabstackProcess) -> tuple[Attacker, str, str]:
    account = new_account()
    public, private = f"public-{account}", f"private-{account}"
    attacker = Attacker(labstack.endpoint, lambda service: labstack.client(service, account=account), account,
                        allow("s3:*", [f"arn:aws:s3:::{public}", f"arn:aws:s3:::{public}/*"]),
                        allow("s3:ListAllMyBuckets"))
    s3 = attacker.root("s3")
    for bucket in (public, private):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=private, Key=f"{public}/payroll.csv", Body=b"secret")
    return attacker, public, private


@pytest.mark.parametrize("method", ["GET", "PUT", "LIST"])
def test_a_virtual_hosted_bucket_the_gate_did_not_read_is_refused(labstack: LabstackProcess, method: str) -> None:
    """``Host: private.localhost`` with a path in the allowed bucket: moto acts on the Host's bucket."""
    attacker, public, private = _buckets(labstack)
    port = urlsplit(labstack.endpoint).port
    host = f"{private}.localhost:{port}"
    if method == "LIST":
        answer = attacker.send("s3", "GET", "/", headers=UNSIGNED_PAYLOAD, host=host)
    else:
        answer = attacker.send("s3", method, f"/{public}/payroll.csv", b"forged" if method == "PUT" else b"",
                               UNSIGNED_PAYLOAD, host)
    message = refused(answer, "AccessDenied", 403)
    assert f"its Host and path name bucket {private}" in message
    s3 = attacker.root("s3")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=private)["Contents"]] == [f"{public}/payroll.csv"]
    assert s3.get_object(Bucket=private, Key=f"{public}/payroll.csv")["Body"].read() == b"secret"


@pytest.mark.parametrize("query", ["tagging&policy", "policy&tagging"])
def test_a_second_subresource_does_not_reach_the_bucket_policy(labstack: LabstackProcess, query: str) -> None:
    """A user who may only tag a bucket sends ``?tagging&policy``: the gate reads PutBucketTagging, moto
    would serve PutBucketPolicy and take the attacker's policy (everything, for everyone)."""
    account = new_account()
    bucket = f"tagged-{account}"
    attacker = Attacker(labstack.endpoint, lambda service: labstack.client(service, account=account), account,
                        allow(["s3:GetBucketTagging", "s3:PutBucketTagging"], f"arn:aws:s3:::{bucket}"))
    s3 = attacker.root("s3")
    s3.create_bucket(Bucket=bucket)
    guarded = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=guarded)
    wide_open = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}).encode()
    for method, body in (("PUT", wide_open), ("GET", b"")):
        answer = attacker.send("s3", method, f"/{bucket}?{query}", body, UNSIGNED_PAYLOAD)
        assert "policy, which S3's" in refused(answer, "AccessDenied", 403)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(guarded)
    tags = attacker.client("s3")
    tags.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    assert tags.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "a"}]


def test_a_copy_source_needs_its_own_read(labstack: LabstackProcess) -> None:
    """Regression: a PUT with ``x-amz-copy-source`` is CopyObject, which reads its source."""
    attacker, public, private = _buckets(labstack)
    answer = attacker.send("s3", "PUT", f"/{public}/copied", headers={
        **UNSIGNED_PAYLOAD, "x-amz-copy-source": f"/{private}/{public}/payroll.csv"})
    assert f"s3:GetObject on resource: arn:aws:s3:::{private}/{public}/payroll.csv" in refused(answer, "AccessDenied", 403)
    assert "Contents" not in attacker.root("s3").list_objects_v2(Bucket=public)


def test_virtual_hosted_style_of_the_allowed_bucket_and_presigned_urls_are_decided(labstack: LabstackProcess) -> None:
    """The same attacker's honest calls: its own bucket virtual-hosted works; a presigned URL is its
    signer's call (its own bucket yes, the other no)."""
    attacker, public, private = _buckets(labstack)
    port = urlsplit(labstack.endpoint).port
    put = attacker.send("s3", "PUT", "/note.txt", b"hello", UNSIGNED_PAYLOAD, f"{public}.s3.localhost:{port}")
    assert put.status_code == 200, put.text
    s3 = attacker.client("s3")
    mine = s3.generate_presigned_url("get_object", Params={"Bucket": public, "Key": "note.txt"})
    assert requests.get(mine, timeout=30).text == "hello"
    theirs = s3.generate_presigned_url("get_object", Params={"Bucket": private, "Key": f"{public}/payroll.csv"})
    assert "s3:GetObject on resource" in refused(requests.get(theirs, timeout=30), "AccessDenied", 403)


# -- side doors ----------------------------------------------------------------------------------------

def test_x_labstack_direct_does_not_skip_an_overlay_for_an_iam_user(labstack: LabstackProcess) -> None:
    """moto's own answer under an overlay is for labstack's runtimes: an IAM user's request with the header
    is served as any other (CodeBuild's CreateProject, which asks iam:PassRole, stays labstack's)."""
    attacker = laptop_attacker(labstack, allow("codebuild:*"))
    role = attacker.root("iam").create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST))
    body = json.dumps({"name": "escalate", "serviceRole": role["Role"]["Arn"], **PROJECT}).encode()
    answer = attacker.send("codebuild", "POST", "/", body, {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeBuild_20161006.CreateProject",
        "X-Labstack-Direct": "moto"})
    assert "iam:PassRole on resource" in refused(answer, "AccessDeniedException", 400)
    assert attacker.root("codebuild").list_projects().get("projects", []) == []


def test_passrole_guards_every_way_a_build_gets_a_role(labstack: LabstackProcess) -> None:
    """Regression: a user that may pass only a weak role cannot give a project, or one build, the admin role."""
    attacker = laptop_attacker(labstack, allow("codebuild:*"))
    iam = attacker.root("iam")
    admin = iam.create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST))["Role"]["Arn"]
    weak = iam.create_role(RoleName="weak", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST))["Role"]["Arn"]
    iam.put_user_policy(UserName="mallory", PolicyName="pass-weak", PolicyDocument=policy(allow("iam:PassRole", weak)))
    codebuild = attacker.client("codebuild")
    codebuild.create_project(name="honest", serviceRole=weak, **PROJECT)
    denial = (f"User: {attacker.arn} is not authorized to perform: iam:PassRole on resource: {admin} because no "
              "identity-based policy allows the iam:PassRole action")
    for call in (lambda: codebuild.create_project(name="escalate", serviceRole=admin, **PROJECT),
                 lambda: codebuild.update_project(name="honest", serviceRole=admin),
                 lambda: codebuild.start_build(projectName="honest", serviceRoleOverride=admin)):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Message"] == denial
    assert codebuild.batch_get_projects(names=["honest"])["projects"][0]["serviceRole"] == weak
    assert codebuild.list_builds_for_project(projectName="honest").get("ids", []) == []


def test_a_task_definition_cannot_carry_a_role_its_author_may_not_pass(labstack: LabstackProcess) -> None:
    """Regression: RegisterTaskDefinition asks iam:PassRole on the task role (and the execution role)."""
    attacker = laptop_attacker(labstack, allow("ecs:*"))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    admin = attacker.root("iam").create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    ecs = attacker.client("ecs")
    with pytest.raises(ClientError) as raised:
        ecs.register_task_definition(family="escalate", taskRoleArn=admin, containerDefinitions=[
            {"name": "app", "image": "busybox", "memory": 64}])
    assert f"iam:PassRole on resource: {admin}" in raised.value.response["Error"]["Message"]
    assert ecs.list_task_definitions(familyPrefix="escalate")["taskDefinitionArns"] == []


def test_one_sessions_key_with_anothers_token_is_refused(labstack: LabstackProcess) -> None:
    """Regression: a weak session's key signed with a strong session's token is no session at all."""
    account = new_account()
    iam, sts = labstack.client("iam", account=account), labstack.client("sts", account=account)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    issued = {}
    for name in ("weak", "strong"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        issued[name] = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{name}", RoleSessionName=name)["Credentials"]
    iam.put_role_policy(RoleName="strong", PolicyName="all", PolicyDocument=policy(allow("*")))
    mixed = labstack.client("ssm", account=issued["weak"]["AccessKeyId"], secret=issued["weak"]["SecretAccessKey"],
                            token=issued["strong"]["SessionToken"])
    with pytest.raises(ClientError) as raised:
        mixed.describe_parameters()
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_role_sessions_keys_allow_nothing_once_the_role_is_deleted(labstack: LabstackProcess) -> None:
    """Regression: the session outlives its role on paper only."""
    account = new_account()
    iam, sts = labstack.client("iam", account=account), labstack.client("sts", account=account)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="temp", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="temp", PolicyName="ssm", PolicyDocument=policy(allow("ssm:*")))
    keys = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/temp", RoleSessionName="attacker")["Credentials"]
    ssm = labstack.client("ssm", account=keys["AccessKeyId"], secret=keys["SecretAccessKey"],
                          token=keys["SessionToken"])
    ssm.describe_parameters()
    iam.delete_role_policy(RoleName="temp", PolicyName="ssm")
    iam.delete_role(RoleName="temp")
    with pytest.raises(ClientError) as raised:
        ssm.describe_parameters()
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "because no identity-based policy allows the ssm:DescribeParameters action" in str(raised.value)


# -- class mode: labstack's own endpoints and git over HTTP ------------------------------------------------

def _class_attacker(classroom: ClassLabstack, name: str, *statements: dict[str, Any]) -> Attacker:
    """An IAM user ``name`` of learner01's account (the class is shared by the module: one name a test)."""
    return Attacker(classroom.endpoint, lambda service: classroom.client(service, "learner01"),
                    classroom.account("learner01"), *statements, name=name)


def test_an_iam_users_keys_do_not_open_the_console_api_in_class_mode(classroom: ClassLabstack) -> None:
    """The console answers a learner's own keys as the account's root: an IAM user with no policy at all
    must not read the account through it."""
    attacker = _class_attacker(classroom, "nobody")
    answer = attacker.send("labstack", "GET", "/_labstack/status")
    assert answer.status_code == 403 and answer.json()["error"] == "AccessDenied", answer.text
    own = classroom.session("learner01").get_credentials()
    request = AWSRequest(method="GET", url=classroom.endpoint + "/_labstack/status")
    SigV4Auth(own, "labstack", "us-east-1").add_auth(request)
    assert requests.get(request.url, headers=dict(request.headers.items()), timeout=30).status_code == 200


@pytest.mark.parametrize("service", ["git-upload-pack", "git-receive-pack"])
def test_git_with_an_iam_users_https_git_credentials_is_decided_by_its_policies(classroom: ClassLabstack,
                                                                                 service: str) -> None:
    """CodeCommit asks codecommit:GitPull (fetch) or codecommit:GitPush (push) of the IAM user whose HTTPS
    Git credentials git sends; a user that may only pull is refused a push, in AWS's words."""
    attacker = _class_attacker(classroom, f"puller-{service}", allow("codecommit:GitPull", "arn:aws:codecommit:*:*:app-*"))
    repository = f"app-{service}"
    attacker.root("codecommit").create_repository(repositoryName=repository)
    cred = attacker.root("iam").create_service_specific_credential(
        UserName=attacker.name, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    basic = base64.b64encode(f"{cred['ServiceUserName']}:{cred['ServicePassword']}".encode()).decode()
    url = f"{classroom.endpoint}/v1/{attacker.account}/us-east-1/repos/{repository}/info/refs?service={service}"
    answer = requests.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=30)
    if service == "git-upload-pack":
        assert answer.status_code == 200, answer.text
        return
    assert answer.status_code == 403
    assert answer.text.strip() == (
        f"User: {attacker.arn} is not authorized to perform: codecommit:GitPush on resource: "
        f"arn:aws:codecommit:us-east-1:{attacker.account}:{repository} because no identity-based policy allows the "
        "codecommit:GitPush action")


def test_an_iam_users_keys_do_not_push_to_the_local_github_in_class_mode(classroom: ClassLabstack) -> None:
    """The local GitHub signs in the learner (its keys stand for a GitHub account): an IAM user of the
    learner's account, with no permission at all, must not push to the repositories a pipeline builds."""
    attacker = _class_attacker(classroom, "pusher")
    basic = base64.b64encode(f"{attacker.key}:{attacker.secret}".encode()).decode()
    url = f"{classroom.endpoint}/github/learner01-team/site.git/info/refs?service=git-receive-pack"
    answer = requests.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=30)
    assert answer.status_code == 403
    assert answer.text.strip() == ("GitHub takes a learner's own keys or a role session they assumed, not an IAM "
                                   "user's keys or those a build, task or function runs with")
    own = classroom.rows["learner01"]
    learner = base64.b64encode(f"{own.access_key_id}:{own.secret_access_key}".encode()).decode()
    assert requests.get(url, headers={"Authorization": f"Basic {learner}"}, timeout=30).status_code == 200
