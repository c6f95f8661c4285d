"""Git over HTTP in class mode asks for credentials as CodeCommit does, and each account reaches its own
repositories only: a real class-mode labstack, the real git CLI and the AWS CLI's real credential helper.

Each protection is tried the way an attacker would: no credentials, a wrong secret, a replayed stale
password, another learner's valid keys, disabled and deleted HTTPS Git credentials; the victim's
repository is checked unchanged afterwards. The local GitHub follows the same rules.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.session
import pytest
from awscli.customizations import codecommit as cli_helper
from botocore.config import Config
from botocore.exceptions import ClientError
from labstack import learners
from labstack.learners import Learner

from grader.workspace import HELPER
from tests.support import raw
from tests.support.codepipeline import PipelineLab, action, stage
from tests.support.gitcli import commit, git_env, new_work_tree
from tests.support.responses import check_responses
from tests.support.server import ROOT, LabstackProcess, start_labstack

pytestmark = pytest.mark.slow
REGION = "eu-west-1"
VENV_BIN = str(Path(sys.executable).parent)  # the AWS CLI the labs' helper runs


@dataclass
class Class:
    server: LabstackProcess
    a: Learner
    b: Learner
    instructor: Learner


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    folder = tmp_path_factory.mktemp("git-class")
    rows = learners.generate(2)
    learners.write(folder / "learners.csv", rows)
    server = start_labstack(folder / "home", LABSTACK_PROVIDERS="", LABSTACK_LEARNERS=str(folder / "learners.csv"))
    yield Class(server, rows[0], rows[1], rows[2])
    server.stop()


def client(klass: Class, who: Learner, service: str) -> Any:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30, connect_timeout=5)
    return check_responses(boto3.client(service, endpoint_url=klass.server.endpoint, region_name=REGION, config=config,
                                        aws_access_key_id=who.access_key_id, aws_secret_access_key=who.secret_access_key))


def run_git(cwd: Path, *args: str, keys: Learner | None = None, secret: str | None = None, token: str | None = None,
            helper: bool = True) -> subprocess.CompletedProcess:
    """git as a learner's notebook runs it: the labs' helper (grader.workspace.HELPER) and the learner's
    keys in the environment; ``secret`` replaces the secret key (a wrong one), ``token`` is a session token."""
    env = git_env()
    env["PATH"] = os.pathsep.join([VENV_BIN, env.get("PATH", os.defpath)])
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    if keys is not None:
        env.update(AWS_ACCESS_KEY_ID=keys.access_key_id, AWS_SECRET_ACCESS_KEY=secret or keys.secret_access_key)
    if token is not None:
        env["AWS_SESSION_TOKEN"] = token
    options = HELPER if helper else []
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *options, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"git failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def refused(done: subprocess.CompletedProcess, status: int) -> None:
    assert done.returncode != 0, f"git succeeded:\n{done.stdout}\n{done.stderr}"
    assert f"returned error: {status}" in done.stderr, done.stderr


def repository(klass: Class, owner: Learner, name: str) -> str:
    """A new CodeCommit repository of ``owner``; its clone URL."""
    return client(klass, owner, "codecommit").create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]


def head(klass: Class, owner: Learner, name: str) -> str:
    return client(klass, owner, "codecommit").get_branch(repositoryName=name, branchName="main")["branch"]["commitId"]


def with_basic(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}").geturl()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def refs_path(url: str) -> str:
    return urlsplit(url).path + "/info/refs?service=git-upload-pack"


# --- CodeCommit with the AWS CLI's credential helper ---------------------------------------------
def test_the_owner_pushes_and_clones_with_the_aws_cli_helper(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "helper-app")
    assert f"/v1/{klass.a.account_id}/{REGION}/repos/helper-app" in url
    work = new_work_tree(tmp_path / "work", {"app.py": "print('v1')\n"})
    ok(run_git(work, "push", "--quiet", url, "main", keys=klass.a))
    pushed = ok(run_git(work, "rev-parse", "HEAD")).strip()
    assert head(klass, klass.a, "helper-app") == pushed
    ok(run_git(tmp_path, "clone", "--quiet", url, "copy", keys=klass.a))
    assert (tmp_path / "copy" / "app.py").read_text() == "print('v1')\n"


def test_without_credentials_git_is_challenged_and_fails(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "challenged")
    reply = raw.send(klass.server.endpoint, refs_path(url), {}, method="GET")
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Basic realm=")
    missing = raw.send(klass.server.endpoint, f"/v1/{klass.a.account_id}/{REGION}/repos/no-such/info/refs", {}, method="GET")
    assert missing.status == 401  # asked for credentials before anything says whether it exists
    done = run_git(tmp_path, "clone", url, "copy", helper=False)
    assert done.returncode != 0 and "could not read Username" in done.stderr and not (tmp_path / "copy").exists()


def test_a_wrong_secret_is_refused_with_403(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "wrong-secret")
    ok(run_git(new_work_tree(tmp_path / "work", {"a": "1"}), "push", "--quiet", url, "main", keys=klass.a))
    refused(run_git(tmp_path, "clone", url, "copy", keys=klass.a, secret="x" * 40), 403)
    reply = raw.send(klass.server.endpoint, refs_path(url), basic(klass.a.access_key_id, "20260101T000000Z" + "0" * 64),
                     method="GET")
    assert reply.status == 403
    reply = raw.send(klass.server.endpoint, refs_path(url), basic(klass.a.access_key_id, klass.a.secret_access_key),
                     method="GET")
    assert reply.status == 403  # CodeCommit takes the helper's signature, never the secret key itself


def helper_password(who: Learner, url: str, minutes_ago: float) -> str:
    """The password the AWS CLI's own helper signs for ``url``, as if its clock were ``minutes_ago`` behind."""
    session = botocore.session.Session()
    session.set_credentials(who.access_key_id, who.secret_access_key)
    signed_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    original = cli_helper.get_current_datetime
    cli_helper.get_current_datetime = lambda: signed_at.replace(tzinfo=None)
    try:
        return cli_helper.CodeCommitGetCommand(session).sign_request(REGION, url)
    finally:
        cli_helper.get_current_datetime = original


def test_a_replayed_password_works_within_the_window_and_not_after(klass: Class) -> None:
    url = repository(klass, klass.a, "replayed")
    fresh = helper_password(klass.a, url, minutes_ago=1)
    stale = helper_password(klass.a, url, minutes_ago=20)  # AWS allows 15 minutes of clock skew
    other_repo = helper_password(klass.a, url.replace("/replayed", "/other"), minutes_ago=1)
    assert raw.send(klass.server.endpoint, refs_path(url), basic(klass.a.access_key_id, fresh), method="GET").status == 200
    for password in (stale, other_repo):
        assert raw.send(klass.server.endpoint, refs_path(url), basic(klass.a.access_key_id, password), method="GET").status == 403


def test_another_learner_cannot_read_or_write_the_repository(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "private")
    work = new_work_tree(tmp_path / "work", {"secret.txt": "A's work\n"})
    ok(run_git(work, "push", "--quiet", url, "main", keys=klass.a))
    before = head(klass, klass.a, "private")
    refused(run_git(tmp_path, "clone", url, "stolen", keys=klass.b), 403)
    assert not (tmp_path / "stolen").exists()
    forged = new_work_tree(tmp_path / "forged", {"secret.txt": "overwritten by B\n"})
    refused(run_git(forged, "push", "--force", url, "main", keys=klass.b), 403)
    refused(run_git(forged, "push", url, "main:refs/heads/extra", keys=klass.b), 403)
    assert head(klass, klass.a, "private") == before
    branches = client(klass, klass.a, "codecommit").list_branches(repositoryName="private")["branches"]
    assert branches == ["main"]


def test_the_instructor_reaches_every_learners_repository(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "graded")
    ok(run_git(new_work_tree(tmp_path / "work", {"answer.txt": "42\n"}), "push", "--quiet", url, "main", keys=klass.a))
    ok(run_git(tmp_path, "clone", "--quiet", url, "graded", keys=klass.instructor))
    assert (tmp_path / "graded" / "answer.txt").read_text() == "42\n"


# --- CodeCommit with IAM's HTTPS Git credentials -------------------------------------------------
def test_https_git_credentials_push_and_clone_until_disabled_or_deleted(klass: Class, tmp_path: Path) -> None:
    iam = client(klass, klass.a, "iam")
    iam.create_user(UserName="dev")  # git's pulls and pushes are decided by the user's policies (codecommit:Git*)
    iam.put_user_policy(UserName="dev", PolicyName="git", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["codecommit:GitPull", "codecommit:GitPush"], "Resource": "*"}]}))
    made = iam.create_service_specific_credential(UserName="dev", ServiceName="codecommit.amazonaws.com")
    credential = made["ServiceSpecificCredential"]
    assert credential["ServiceUserName"] == f"dev-at-{klass.a.account_id}" and credential["Status"] == "Active"
    assert len(credential["ServicePassword"]) == 44 and credential["ServiceSpecificCredentialId"].startswith("ACCA")
    cred_id = credential["ServiceSpecificCredentialId"]
    url = repository(klass, klass.a, "with-git-credentials")
    signed_in = with_basic(url, credential["ServiceUserName"], credential["ServicePassword"])
    work = new_work_tree(tmp_path / "work", {"a.txt": "1\n"})
    ok(run_git(work, "push", "--quiet", signed_in, "main", helper=False))
    ok(run_git(tmp_path, "clone", "--quiet", signed_in, "copy", helper=False))
    assert (tmp_path / "copy" / "a.txt").read_text() == "1\n"

    iam.update_service_specific_credential(UserName="dev", ServiceSpecificCredentialId=cred_id, Status="Inactive")
    listed = iam.list_service_specific_credentials(UserName="dev")["ServiceSpecificCredentials"]
    assert [(c["ServiceSpecificCredentialId"], c["Status"]) for c in listed] == [(cred_id, "Inactive")]
    assert "ServicePassword" not in listed[0]
    refused(run_git(tmp_path, "clone", signed_in, "while-inactive", helper=False), 403)
    iam.update_service_specific_credential(UserName="dev", ServiceSpecificCredentialId=cred_id, Status="Active")
    ok(run_git(tmp_path, "clone", "--quiet", signed_in, "active-again", helper=False))

    reset = iam.reset_service_specific_credential(UserName="dev", ServiceSpecificCredentialId=cred_id)["ServiceSpecificCredential"]
    assert reset["ServicePassword"] != credential["ServicePassword"]
    refused(run_git(tmp_path, "clone", signed_in, "old-password", helper=False), 403)
    renewed = with_basic(url, reset["ServiceUserName"], reset["ServicePassword"])
    ok(run_git(tmp_path, "clone", "--quiet", renewed, "new-password", helper=False))

    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName="dev")
    assert conflict.value.response["Error"]["Code"] == "DeleteConflict"
    iam.delete_service_specific_credential(UserName="dev", ServiceSpecificCredentialId=cred_id)
    refused(run_git(tmp_path, "clone", renewed, "deleted", helper=False), 403)
    assert iam.list_service_specific_credentials(UserName="dev")["ServiceSpecificCredentials"] == []
    iam.delete_user_policy(UserName="dev", PolicyName="git")
    iam.delete_user(UserName="dev")


def test_https_git_credentials_of_another_account_are_refused(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "not-for-b")
    ok(run_git(new_work_tree(tmp_path / "work", {"a.txt": "1\n"}), "push", "--quiet", url, "main", keys=klass.a))
    before = head(klass, klass.a, "not-for-b")
    iam = client(klass, klass.b, "iam")
    iam.create_user(UserName="intruder")
    credential = iam.create_service_specific_credential(UserName="intruder", ServiceName="codecommit.amazonaws.com")
    signed_in = with_basic(url, credential["ServiceSpecificCredential"]["ServiceUserName"],
                           credential["ServiceSpecificCredential"]["ServicePassword"])
    refused(run_git(tmp_path, "clone", signed_in, "stolen", helper=False), 403)
    forged = new_work_tree(tmp_path / "forged", {"a.txt": "B was here\n"})
    refused(run_git(forged, "push", "--force", signed_in, "main", helper=False), 403)
    # B's user name claims A's account: the password is B's, so it matches nothing of A's
    claimed = credential["ServiceSpecificCredential"]["ServiceUserName"].replace(klass.b.account_id, klass.a.account_id)
    reply = raw.send(klass.server.endpoint, refs_path(url),
                     basic(claimed, credential["ServiceSpecificCredential"]["ServicePassword"]), method="GET")
    assert reply.status == 403
    assert head(klass, klass.a, "not-for-b") == before


@pytest.mark.parametrize(("request_args", "code"), [
    ({"UserName": "nobody", "ServiceName": "codecommit.amazonaws.com"}, "NoSuchEntity"),
    ({"UserName": "limited", "ServiceName": "ec2.amazonaws.com"}, "NotSupportedService"),
])
def test_service_specific_credentials_refuse_as_iam_does(klass: Class, request_args: dict, code: str) -> None:
    iam = client(klass, klass.b, "iam")
    try:
        iam.create_user(UserName="limited")
    except ClientError:
        pass  # made by the other case
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(**request_args)
    assert exc.value.response["Error"]["Code"] == code


def test_a_user_holds_at_most_two_credentials_per_service(klass: Class) -> None:
    iam = client(klass, klass.b, "iam")
    iam.create_user(UserName="busy")
    for _ in range(2):
        iam.create_service_specific_credential(UserName="busy", ServiceName="codecommit.amazonaws.com")
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(UserName="busy", ServiceName="codecommit.amazonaws.com")
    assert exc.value.response["Error"]["Code"] == "LimitExceeded"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    listed = iam.list_service_specific_credentials(UserName="busy")["ServiceSpecificCredentials"]
    assert len(listed) == 2 and {c["ServiceUserName"] for c in listed} == {f"busy-at-{klass.b.account_id}"}
    with pytest.raises(ClientError) as exc:  # A cannot see or touch B's user's credentials
        client(klass, klass.a, "iam").delete_service_specific_credential(
            UserName="busy", ServiceSpecificCredentialId=listed[0]["ServiceSpecificCredentialId"])
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"


# --- the local GitHub -------------------------------------------------------------------------------
def test_the_local_github_asks_for_credentials_and_keeps_repositories_to_their_account(klass: Class, tmp_path: Path) -> None:
    url = f"{klass.server.endpoint}/github/team-a/site.git"
    work = new_work_tree(tmp_path / "work", {"index.html": "A\n"})
    done = run_git(work, "push", url, "main", helper=False)
    assert done.returncode != 0 and "could not read Username" in done.stderr
    ok(run_git(work, "push", "--quiet", url, "main", keys=klass.a))  # the first push makes it A's
    pushed = ok(run_git(work, "rev-parse", "HEAD")).strip()
    reply = raw.send(klass.server.endpoint, "/github/team-a/site.git/info/refs?service=git-upload-pack", {}, method="GET")
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Basic realm=")
    refused(run_git(tmp_path, "clone", url, "wrong", keys=klass.a, secret="y" * 40), 403)
    refused(run_git(tmp_path, "clone", url, "stolen", keys=klass.b), 403)
    forged = new_work_tree(tmp_path / "forged", {"index.html": "B\n"})
    refused(run_git(forged, "push", "--force", url, "main", keys=klass.b), 403)
    by_keys = with_basic(url, klass.a.access_key_id, klass.a.secret_access_key)  # key id and secret as Basic auth
    ok(run_git(tmp_path, "clone", "--quiet", by_keys, "copy", helper=False))
    assert ok(run_git(tmp_path / "copy", "rev-parse", "HEAD")).strip() == pushed
    stolen = with_basic(url, klass.b.access_key_id, klass.b.secret_access_key)
    refused(run_git(tmp_path, "clone", stolen, "stolen-by-keys", helper=False), 403)
    ok(run_git(tmp_path, "clone", "--quiet", url, "graded", keys=klass.instructor))


def test_nobody_squats_the_owner_name_the_labs_give_another_learner(klass: Class, tmp_path: Path) -> None:
    """The labs name a learner's GitHub repository learner-<account id>/…: only that account may make it."""
    mine = f"{klass.server.endpoint}/github/learner-{klass.a.account_id}/sample-app.git"
    squat = new_work_tree(tmp_path / "squat", {"index.html": "B\n"})
    refused(run_git(squat, "push", mine, "main", keys=klass.b), 403)
    work = new_work_tree(tmp_path / "work", {"index.html": "A\n"})
    ok(run_git(work, "push", "--quiet", mine, "main", keys=klass.a))


class _LearnerServer:
    """What PipelineLab needs of a server, with a learner's own keys (class mode verifies them)."""

    def __init__(self, klass: Class, who: Learner) -> None:
        self.klass, self.who, self.endpoint = klass, who, klass.server.endpoint

    def client(self, service: str, account: str = "", validate: bool = True) -> Any:
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30, parameter_validation=validate)
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", config=config,
                            aws_access_key_id=self.who.access_key_id, aws_secret_access_key=self.who.secret_access_key)


def connection_pipeline(lab: PipelineLab, name: str, repo: str, arn: str | None = None) -> dict:
    """A pipeline of lab's account whose source is ``repo`` through connection ``arn`` (default: a new one of
    that account); its first run."""
    arn = arn or lab.client("codestar-connections").create_connection(ProviderType="GitHub", ConnectionName=name)["ConnectionArn"]
    source = action("Code", "Source", "CodeStarSourceConnection",
                    {"ConnectionArn": arn, "FullRepositoryId": repo, "BranchName": "main"}, outputs=("src",))
    deploy = action("Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": name}, inputs=("src",))
    lab.create(name, stage("Source", source), stage("Deploy", deploy))
    first = lab.wait_for_executions(name, 1)[0]
    return lab.wait(name, first["pipelineExecutionId"])


def test_connections_read_their_own_accounts_github_repositories_only(klass: Class, tmp_path: Path) -> None:
    url = f"{klass.server.endpoint}/github/team-a/pipelined.git"
    work = new_work_tree(tmp_path / "work", {"index.html": "A's site\n"})
    ok(run_git(work, "push", "--quiet", url, "main", keys=klass.a))
    own = PipelineLab(_LearnerServer(klass, klass.a), klass.a.account_id)
    assert connection_pipeline(own, "own", "team-a/pipelined")["status"] == "Succeeded"
    assert own.s3.get_object(Bucket=own.bucket, Key="own/index.html")["Body"].read() == b"A's site\n"
    other = PipelineLab(_LearnerServer(klass, klass.b), klass.b.account_id)
    assert connection_pipeline(other, "theirs", "team-a/pipelined")["status"] == "Failed"
    ok(run_git(new_work_tree(tmp_path / "b", {"index.html": "B's site\n"}), "push", "--quiet",
               f"{klass.server.endpoint}/github/team-b/site.git", "main", keys=klass.b))
    a_connection = own.client("codestar-connections").list_connections()["Connections"][0]["ConnectionArn"]
    with pytest.raises(ClientError) as borrowed:  # another account's connection, named outright: refused at once
        connection_pipeline(other, "borrowed", "team-b/site", arn=a_connection)
    assert borrowed.value.response["Error"]["Code"] == "AccessDeniedException"
    landed = [o["Key"] for o in other.s3.list_objects_v2(Bucket=other.bucket).get("Contents", [])]
    assert not any(key.endswith("index.html") for key in landed)


# --- the laptop ---------------------------------------------------------------------------------------
def test_on_a_laptop_git_needs_no_credentials(labstack: LabstackProcess, tmp_path: Path) -> None:
    name = f"laptop-{os.getpid()}"
    url = labstack.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    work = new_work_tree(tmp_path / "work", {"a.txt": "1\n"})
    ok(run_git(work, "push", "--quiet", url, "main", helper=False))
    ok(run_git(tmp_path, "clone", "--quiet", url, "copy", helper=False))
    commit(work, {"a.txt": "2\n"}, "second")
    ok(run_git(work, "push", "--quiet", f"{labstack.endpoint}/github/laptop/{name}.git", "main", helper=False))


def test_temporary_credentials_sign_with_their_session_token(klass: Class, tmp_path: Path) -> None:
    url = repository(klass, klass.a, "temporary")
    ok(run_git(new_work_tree(tmp_path / "work", {"a.txt": "1\n"}), "push", "--quiet", url, "main", keys=klass.a))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{klass.a.account_id}:root"}}]}
    role = client(klass, klass.a, "iam").create_role(RoleName="git-user", AssumeRolePolicyDocument=json.dumps(trust))
    client(klass, klass.a, "iam").put_role_policy(RoleName="git-user", PolicyName="pull", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": "*"}]}))
    issued = client(klass, klass.a, "sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="git")["Credentials"]
    temporary = Learner("temporary", klass.a.account_id, issued["AccessKeyId"], issued["SecretAccessKey"])
    ok(run_git(tmp_path, "clone", "--quiet", url, "copy", keys=temporary, token=issued["SessionToken"]))
    assert (tmp_path / "copy" / "a.txt").read_text() == "1\n"
    refused(run_git(tmp_path, "clone", url, "no-token", keys=temporary), 403)  # the key without its token


@pytest.mark.parametrize("authorization", [
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
    "Basic " + base64.b64encode("AKIAÄÖÜ:20260101T000000Zé".encode()).decode() + "é" * 64,
    "Basic " + base64.b64encode(("AKIA%" + "x" * 5000 + ":" + "99999999T999999Z" + "ü" * 64).encode()).decode(),
    "Basic !!!not-base64!!!", "Basic", "Bearer abc", "Basic " + base64.b64encode(b"no-colon").decode(),
])
def test_garbage_credentials_are_refused_not_crashed_on(klass: Class, authorization: str) -> None:
    url = repository(klass, klass.a, f"garbage-{abs(hash(authorization)) % 10**8}")
    for path in (refs_path(url), "/github/team-a/garbage.git/info/refs?service=git-upload-pack"):
        reply = raw.send(klass.server.endpoint, path, {"Authorization": authorization}, method="GET")
        assert reply.status in (401, 403), reply
    assert raw.send(klass.server.endpoint, "/_labstack/health", {}, method="GET").status == 200


def test_lab_01_shows_learners_the_helper_these_tests_prove() -> None:
    cells = json.loads((ROOT / "solutions" / "01_repo_setup.ipynb").read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "git_helper")
    lines = [line.strip() for line in source.splitlines() if line.strip().startswith(("sign_in =", "helper ="))]
    scope: dict[str, Any] = {}
    exec("\n".join(lines), scope)  # noqa: S102 - the notebook's own two lines
    assert scope["helper"] == HELPER
