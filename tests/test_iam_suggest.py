"""``labstack iam suggest``: the least-privilege policy of what a role used. Evaluated with labstack's own
evaluator it allows every (action, resource) a session asked for and nothing else; it stays under IAM's
quota by the narrowest wildcards; names one run made (a build's log stream) become wildcards; and
attached to a fresh role it lets the same calls through for real (a role session's, the next build's,
a pipeline's next execution), while a call the role never made is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labstack import cli
from labstack.enforcement.stream import Entry, PolicyStream
from labstack.enforcement.suggest import QUOTA, role_entries, suggest
from labstack.iampolicy import Policy, Principal, Request, evaluate
from labstack.services.iam.documents import size
from tests.support.browser_console import get
from tests.support.codebuild import Lab, buildspec, new_account
from tests.support.codepipeline import PipelineLab, s3_source, stage
from tests.support.codepipeline import build as pipeline_build
from tests.support.policystream import Keys, denied, policy, role, session
from tests.support.roles import service_role
from tests.support.server import LabstackProcess

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/build"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/build/b-1"
REPO = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"
LOGS = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/app"


def entry(action: str, resource: str, decision: str = "allowed", role_arn: str = ROLE, explanation: str = "") -> Entry:
    return Entry(time=0.0, principal=SESSION, role=role_arn, action=action, resource=resource, decision=decision,
                 enforced=True, explanation=explanation, source="test")


BUILD = [entry("ecr:GetAuthorizationToken", "*"), entry("ecr:PutImage", REPO), entry("ecr:InitiateLayerUpload", REPO),
         entry("ecr:PutImage", REPO),  # twice: listed once
         entry("s3:GetObject", "arn:aws:s3:::artifacts/pipe/Source/abc.zip"),
         entry("s3:PutObject", "arn:aws:s3:::artifacts/pipe/Build/def.zip", "implicitDeny"),
         entry("s3:GetBucketLocation", "arn:aws:s3:::artifacts"),
         entry("logs:CreateLogStream", LOGS), entry("logs:PutLogEvents", f"{LOGS}:log-stream:b-1"),
         entry("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/task"),
         entry("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q", role_arn="arn:aws:iam::123456789012:role/other")]


def allows(document: dict[str, Any], action: str, resource: str, session_arn: str = SESSION, role_arn: str = ROLE) -> bool:
    """Whether a session of the role that has ``document`` may do ``action`` on ``resource``."""
    request = Request(Principal.from_arn(session_arn, role_arn), action, resource)
    return evaluate(request, identity=[Policy.parse(document, "suggested")]).allowed


def test_the_policy_allows_every_pair_the_role_used_and_nothing_else() -> None:
    found = suggest(ROLE, BUILD)
    for used in BUILD[:-1]:
        assert allows(found.document, used.action, used.resource), used
    for action, resource in [("ecr:PutImage", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/other"),
                             ("ecr:PutImage", "*"), ("ecr:BatchDeleteImage", REPO),
                             ("s3:GetObject", "arn:aws:s3:::artifacts/pipe/Build/def.zip"),  # PutObject's, not GetObject's
                             ("s3:PutObject", "arn:aws:s3:::artifacts/pipe/Source/abc.zip"),
                             ("s3:GetObject", "arn:aws:s3:::artifacts/pipe/Source/other.zip"),
                             ("logs:PutLogEvents", f"{LOGS}-other:log-stream:b-1"), ("logs:CreateLogStream", "*"),
                             ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
                             ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q")]:  # another role's call
        assert not allows(found.document, action, resource), (action, resource)
    assert allows(found.document, "logs:PutLogEvents", f"{LOGS}:log-stream:b-2")  # the next build's stream
    assert (found.used, found.denied) == (9, 1)
    assert found.notes == (f"1 name one run made (e.g. {LOGS}:log-stream:b-1) written as {LOGS}:log-stream:*, so that "
                           "the next run is allowed too",)


def test_one_statement_per_service_and_resource_set_actions_sorted() -> None:
    statements = suggest(ROLE, BUILD).document["Statement"]
    assert [(s["Sid"], s["Action"], s["Resource"]) for s in statements] == [
        ("Ecr1", "ecr:GetAuthorizationToken", "*"),  # the one action without a resource
        ("Ecr2", ["ecr:InitiateLayerUpload", "ecr:PutImage"], REPO),
        ("Iam", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/task"),
        ("Logs1", "logs:CreateLogStream", LOGS),
        ("Logs2", "logs:PutLogEvents", f"{LOGS}:log-stream:*"),
        ("S31", "s3:GetBucketLocation", "arn:aws:s3:::artifacts"),
        ("S32", "s3:GetObject", "arn:aws:s3:::artifacts/pipe/Source/abc.zip"),
        ("S33", "s3:PutObject", "arn:aws:s3:::artifacts/pipe/Build/def.zip")]
    assert all(s["Effect"] == "Allow" for s in statements)


def test_a_name_one_run_made_becomes_a_wildcard_for_the_next_run() -> None:
    build = f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/app:6a224160-ddb9-4ce4-aaf6-db59b32a4177"
    task = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/lab/0d9c2f6b7e1a4c3f8b5e2a1d9c8b7a6f"
    release = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/release-2026"
    artifact = "arn:aws:s3:::artifacts/ship-it/SourceArti/x7Gq2Lm"  # CodePipeline's key for one execution's artifact
    found = suggest(ROLE, [entry("codebuild:BatchGetBuilds", build), entry("ecs:DescribeTasks", task),
                           entry("ssm:GetParameter", release), entry("s3:GetObject", artifact),
                           entry("s3:GetObject", "arn:aws:s3:::artifacts/site/docs/release")])
    assert allows(found.document, "codebuild:BatchGetBuilds", build.replace("6a224160", "7b335271"))
    assert allows(found.document, "ecs:DescribeTasks", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/lab/ffff2f6b7e1a4c3f8b5e2a1d9c8b7a6f")
    assert not allows(found.document, "codebuild:BatchGetBuilds", f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/other:x")
    assert not allows(found.document, "ecs:DescribeTasks", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/other/0d9c")
    assert allows(found.document, "s3:GetObject", "arn:aws:s3:::artifacts/ship-it/SourceArti/Q2w9ErT")
    assert not allows(found.document, "s3:GetObject", "arn:aws:s3:::artifacts/ship-it/BuildArtif/Q2w9ErT")
    for chosen in (f"{release}-beta", "arn:aws:s3:::artifacts/site/docs/releases"):  # names a person chose stay exact
        assert not allows(found.document, "ssm:GetParameter" if ":ssm:" in chosen else "s3:GetObject", chosen)
    assert [n.split(" written as ")[1].split(",")[0] for n in found.notes] == [
        f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/app:*", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/lab/*",
        "arn:aws:s3:::artifacts/ship-it/SourceArti/*"]


def test_a_name_that_looks_like_a_policy_variable_stays_a_name() -> None:
    odd = "arn:aws:s3:::artifacts/${aws:PrincipalAccount}/x"
    found = suggest(ROLE, [entry("s3:GetObject", odd)])
    assert allows(found.document, "s3:GetObject", odd)
    assert not allows(found.document, "s3:GetObject", f"arn:aws:s3:::artifacts/{ACCOUNT}/x")


def test_an_action_used_on_everything_needs_no_narrower_resource() -> None:
    found = suggest(ROLE, [entry("ecr:DescribeImages", REPO), entry("ecr:DescribeImages", "*")])
    assert found.document["Statement"] == [{"Sid": "Ecr", "Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": "*"}]
    assert found.used == 2  # both pairs were used, one statement allows them


def test_over_the_quota_siblings_collapse_into_their_narrowest_wildcard() -> None:
    keys = [entry("s3:GetObject", f"arn:aws:s3:::artifacts/pipe/Source/{n:04d}-{'x' * 40}.zip") for n in range(300)]
    parameters = [entry("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/{n:04d}") for n in range(20)]
    found = suggest(ROLE, [*keys, *parameters, entry("s3:GetObject", "arn:aws:s3:::artifacts/elsewhere/one.zip")])
    assert found.size <= QUOTA == 10_240 and size(json.dumps(found.document)) == found.size
    assert suggest(ROLE, keys, quota=10**9).size > QUOTA  # exact, it would be too big
    assert found.notes == ("300 s3 resources collapsed into arn:aws:s3:::artifacts/pipe/Source/* to keep the policy "
                           "under IAM's 10240 characters",)
    for used in [*keys, *parameters]:
        assert allows(found.document, used.action, used.resource)
    assert allows(found.document, "s3:GetObject", "arn:aws:s3:::artifacts/elsewhere/one.zip")
    assert not allows(found.document, "s3:GetObject", "arn:aws:s3:::artifacts/elsewhere/two.zip")  # not collapsed
    assert not allows(found.document, "s3:GetObject", "arn:aws:s3:::artifacts/pipe/Build/a.zip")
    assert not allows(found.document, "ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/other")  # exact still


def test_a_policy_that_cannot_fit_says_so() -> None:
    many = [entry(f"ssm:GetParameter{n}", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/p{n}") for n in range(400)]
    found = suggest(ROLE, many, quota=2000)
    assert found.size > 2000 and "over IAM's 2000 even with every resource collapsed" in found.notes[-1]


def test_an_explicit_deny_is_kept_and_named() -> None:
    found = suggest(ROLE, [entry("s3:DeleteBucket", "arn:aws:s3:::artifacts", "explicitDeny",
                                 explanation='statement "NoDelete" of identity-based policy inline policy guard denies it')])
    assert allows(found.document, "s3:DeleteBucket", "arn:aws:s3:::artifacts")
    assert found.denied == 1 and 'NoDelete' in found.notes[0] and "no Allow overrides it" in found.notes[0]


def test_a_role_is_found_by_name_or_arn_and_a_name_two_roles_share_is_refused() -> None:
    stream = PolicyStream()
    for used in BUILD:
        stream.add(ACCOUNT, used)
    assert role_entries(stream, ACCOUNT, "build")[0] == ROLE
    assert len(role_entries(stream, ACCOUNT, ROLE)[1]) == 10
    assert role_entries(stream, ACCOUNT, "nobody") == (None, [])
    assert role_entries(stream, "210987654321", "build") == (None, [])
    stream.add(ACCOUNT, entry("s3:GetObject", "arn:aws:s3:::x/y", role_arn=f"arn:aws:iam::{ACCOUNT}:role/build"))
    with pytest.raises(ValueError, match="2 roles are named build"):
        role_entries(stream, ACCOUNT, "build")
    with pytest.raises(LookupError):
        suggest(ROLE, [])


# --- against a real labstack ---------------------------------------------------------------------
REPLAY_ACCOUNT = new_account()
BUCKET = "suggest-replay"
PARAMETER = "/suggest/colour"


def work(server: LabstackProcess, keys: Keys) -> None:
    """What the session does: an upload and its download, a listing, a parameter written and read, a queue."""
    s3, ssm = keys.client(server, "s3"), keys.client(server, "ssm")
    s3.put_object(Bucket=BUCKET, Key="build/out.txt", Body=b"built")
    assert s3.get_object(Bucket=BUCKET, Key="build/out.txt")["Body"].read() == b"built"
    s3.list_objects_v2(Bucket=BUCKET)
    ssm.put_parameter(Name=PARAMETER, Value="blue", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "blue"


@pytest.mark.slow
def test_the_suggested_policy_on_a_fresh_role_lets_the_same_calls_through(
        labstack: LabstackProcess, capsys: pytest.CaptureFixture[str]) -> None:
    iam, sts = labstack.client("iam", account=REPLAY_ACCOUNT), labstack.client("sts", account=REPLAY_ACCOUNT)
    labstack.client("s3", account=REPLAY_ACCOUNT).create_bucket(Bucket=BUCKET)
    broad = role(iam, REPLAY_ACCOUNT, "worker", policy({"Effect": "Allow", "Action": ["s3:*", "ssm:*"], "Resource": "*"}))
    first = session(sts, broad, "first")
    work(labstack, first)
    queues = first.client(labstack, "sqs")
    assert denied(lambda: queues.create_queue(QueueName="suggest-q")) == "AccessDeniedException"  # it needs this too

    assert cli.main(["iam", "suggest", "worker", "--account", REPLAY_ACCOUNT, "--endpoint", labstack.endpoint]) == 0
    printed = capsys.readouterr()
    document = json.loads(printed.out)
    assert f"# {broad}: 6 action and resource pairs used, 1 of them denied" in printed.err
    used = get(labstack.endpoint, "iam/principal", REPLAY_ACCOUNT, {"principal": first.arn})["calls"]
    assert len(used) == 6
    for call in used:
        assert allows(document, call["action"], call["resource"], first.arn, broad), call

    least = role(iam, REPLAY_ACCOUNT, "worker-least", json.dumps(document))
    again = session(sts, least, "again")
    work(labstack, again)
    assert again.client(labstack, "sqs").create_queue(QueueName="suggest-q")["QueueUrl"].endswith("/suggest-q")
    s3, ssm = again.client(labstack, "s3"), again.client(labstack, "ssm")
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="build/out.txt")) == "AccessDenied"
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="build/other.txt", Body=b"x")) == "AccessDenied"
    assert denied(lambda: ssm.get_parameter(Name="/suggest/secret")) == "AccessDeniedException"
    replayed = get(labstack.endpoint, "iam", REPLAY_ACCOUNT)["principals"]
    assert {p["principal"]: p["denied"] for p in replayed}[again.arn] == 3  # exactly the three unrecorded calls


@pytest.mark.slow
def test_a_build_roles_suggested_policy_lets_the_next_build_through(labstack: LabstackProcess,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lab = Lab(labstack)  # its codebuild-role allows everything
    lab.client("s3").create_bucket(Bucket=f"out-{lab.account}")
    lab.client("ssm").put_parameter(Name="/build/colour", Value="blue", Type="String")
    spec = buildspec({"build": {"commands": ["aws ssm get-parameter --name /build/colour", "echo built > out.txt"]}},
                     artifacts={"files": ["out.txt"]})
    lab.project("least", spec, artifacts={"type": "S3", "location": f"out-{lab.account}", "name": "out"})
    assert lab.run("least", timeout=60)["buildStatus"] == "SUCCEEDED"
    assert cli.main(["iam", "suggest", "codebuild-role", "--account", lab.account, "--endpoint", labstack.endpoint]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "ssm:GetParameter" in json.dumps(document) and '"*"' not in json.dumps(document)

    least = service_role(lab.client("iam"), "codebuild-least", "codebuild.amazonaws.com", policy=document)
    lab.codebuild.update_project(name="least", serviceRole=least)
    assert lab.run("least", timeout=60)["buildStatus"] == "SUCCEEDED"  # a new build: its own log stream
    lab.client("ssm").put_parameter(Name="/build/secret", Value="red", Type="String")
    failed = lab.run("least", timeout=60, buildspecOverride=spec.replace("/build/colour", "/build/secret"))
    assert failed["buildStatus"] == "FAILED"  # a parameter the first build never read
    assert any("ssm:GetParameter" in line and "/build/secret" in line for line in lab.logs(failed))


@pytest.mark.slow
def test_a_pipelines_suggested_policies_let_its_next_execution_through(labstack: LabstackProcess,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    lab = PipelineLab(labstack)  # its pipeline-role and build-role allow everything
    lab.source({"app.txt": "v1"})
    lab.project("unit", ["cat app.txt", "echo ok > out.txt"], artifacts={"files": ["out.txt"]})
    lab.create("ship", stage("Source", s3_source(lab.sources)), stage("Build", pipeline_build("Build", "unit", outputs=("built",))))
    suggested = {}
    for name in ("pipeline-role", "build-role"):
        assert cli.main(["iam", "suggest", name, "--account", lab.account, "--endpoint", labstack.endpoint]) == 0
        printed = capsys.readouterr()
        suggested[name] = json.loads(printed.out)
        assert '"*"' not in printed.out
    assert f"arn:aws:s3:::{lab.bucket}/ship/src/*" in json.dumps(suggested["pipeline-role"])  # each execution's artifacts

    iam = lab.client("iam")
    least_build = service_role(iam, "build-least", "codebuild.amazonaws.com", policy=suggested["build-role"])
    lab.codebuild.update_project(name="unit", serviceRole=least_build)
    declaration = lab.codepipeline.get_pipeline(name="ship")["pipeline"]
    declaration["roleArn"] = service_role(iam, "pipeline-least", "codepipeline.amazonaws.com", policy=suggested["pipeline-role"])
    lab.codepipeline.update_pipeline(pipeline=declaration)
    assert lab.run("ship", timeout=60)["status"] == "Succeeded"
    acted = {p["role"].rpartition("/")[2]: p for p in get(labstack.endpoint, "iam", lab.account)["principals"] if p["role"]}
    assert acted["pipeline-least"]["calls"] > 0 and acted["build-least"]["calls"] > 0  # the new roles did the work
    assert acted["pipeline-least"]["denied"] == acted["build-least"]["denied"] == 0
