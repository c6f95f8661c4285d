"""CodeCommit with the stock git CLI: clone, push, fetch over labstack's smart HTTP, and what it publishes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from pathlib import Path

import psutil
import pytest
from botocore.exceptions import ClientError
from labstack.services.codecommit.githttp import GitHttp, Target
from labstack.services.codecommit.repos import BareRepo
from werkzeug.test import Client

from tests.support.gitcli import clone, commit, git, git_env, new_work_tree
from tests.support.raw import send
from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess


@pytest.fixture
def codecommit(labstack: LabstackProcess):  # type: ignore[no-untyped-def]
    return check_responses(labstack.client("codecommit"))


@pytest.fixture
def repo(codecommit) -> dict:  # type: ignore[no-untyped-def]
    """A new empty repository's metadata."""
    return codecommit.create_repository(repositoryName=f"git-{uuid.uuid4().hex[:10]}")["repositoryMetadata"]


def pushed(tmp_path: Path, repo: dict, files: dict[str, str] | None = None) -> tuple[Path, str]:
    """A work tree with one commit on main, pushed to ``repo``; (work tree, commit id)."""
    work = new_work_tree(tmp_path / "work", files or {"app.py": "print('v1')\n"})
    git(work, "remote", "add", "origin", repo["cloneUrlHttp"])
    git(work, "push", "--quiet", "origin", "main")
    return work, git(work, "rev-parse", "HEAD").stdout.strip()


def test_push_shows_in_the_api_and_clones_back(codecommit, repo: dict, tmp_path: Path) -> None:
    name = repo["repositoryName"]
    empty = clone(repo["cloneUrlHttp"], tmp_path / "empty")
    assert git(empty, "log", check=False).returncode != 0  # nothing to see yet
    work, commit_id = pushed(tmp_path, repo, {"app.py": "print('v1')\n", "tests/test_app.py": "def test(): pass\n"})
    assert codecommit.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == commit_id
    assert codecommit.get_repository(repositoryName=name)["repositoryMetadata"]["defaultBranch"] == "main"
    assert codecommit.get_file(repositoryName=name, filePath="app.py")["fileContent"] == b"print('v1')\n"
    copy = clone(repo["cloneUrlHttp"], tmp_path / "copy")
    assert git(copy, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "main"
    assert (copy / "tests" / "test_app.py").read_text() == "def test(): pass\n"
    second = commit(work, {"app.py": "print('v2')\n"}, "v2")
    git(work, "push", "--quiet", "origin", "main")
    git(copy, "pull", "--quiet", "origin", "main")
    assert git(copy, "rev-parse", "HEAD").stdout.strip() == second


def test_what_the_api_writes_the_next_pull_gets(codecommit, repo: dict, tmp_path: Path) -> None:
    work, first = pushed(tmp_path, repo)
    codecommit.put_file(repositoryName=repo["repositoryName"], branchName="main", filePath="docs/README.md",
                        fileContent=b"# docs\n", parentCommitId=first, commitMessage="docs from the console",
                        name="Console", email="console@example.com")
    git(work, "pull", "--quiet", "origin", "main")
    assert (work / "docs" / "README.md").read_text() == "# docs\n"
    assert git(work, "log", "-1", "--format=%an <%ae> %s").stdout.strip() == "Console <console@example.com> docs from the console"


def test_a_missing_repository_is_not_found(labstack: LabstackProcess, tmp_path: Path) -> None:
    result = git(tmp_path, "clone", f"{labstack.endpoint}/v1/repos/no-such-repo", check=False)
    assert result.returncode != 0 and "not found" in result.stderr
    work = new_work_tree(tmp_path / "work", {"a": "1"})
    result = git(work, "push", f"{labstack.endpoint}/v1/repos/no-such-repo", "main", check=False)
    assert result.returncode != 0 and "not found" in result.stderr


def test_another_account_clones_from_its_own_url(labstack: LabstackProcess, tmp_path: Path) -> None:
    client = check_responses(labstack.client("codecommit", account="333344445555", region="eu-west-1"))
    meta = client.create_repository(repositoryName="mine")["repositoryMetadata"]
    _, commit_id = pushed(tmp_path, meta)
    assert client.get_branch(repositoryName="mine", branchName="main")["branch"]["commitId"] == commit_id


def test_concurrent_pushes_to_one_branch_one_wins(codecommit, repo: dict, tmp_path: Path) -> None:
    _, base = pushed(tmp_path, repo)
    trees = []
    for i in range(2):
        copy = clone(repo["cloneUrlHttp"], tmp_path / f"copy{i}")
        commit(copy, {f"file{i}.txt": str(i)}, f"change {i}")
        trees.append(copy)
    results: list = [None, None]

    def push(i: int) -> None:
        results[i] = git(trees[i], "push", "origin", "main", check=False)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.returncode for r in results)
    assert codes[0] == 0 and codes[1] != 0, [r.stderr for r in results]
    loser = next(r for r in results if r.returncode != 0)
    assert "rejected" in loser.stderr or "failed" in loser.stderr
    head = codecommit.get_branch(repositoryName=repo["repositoryName"], branchName="main")["branch"]["commitId"]
    winner = trees[[r.returncode for r in results].index(0)]
    assert head == git(winner, "rev-parse", "HEAD").stdout.strip() and head != base


def test_force_push_and_branch_deletion(codecommit, repo: dict, tmp_path: Path) -> None:
    name = repo["repositoryName"]
    work, first = pushed(tmp_path, repo)
    commit(work, {"b.txt": "b"}, "second")
    git(work, "push", "--quiet", "origin", "main", "main:feature")
    git(work, "reset", "--quiet", "--hard", first)
    rewritten = commit(work, {"c.txt": "c"}, "rewritten")
    assert git(work, "push", "origin", "main", check=False).returncode != 0  # not a fast-forward
    git(work, "push", "--quiet", "--force", "origin", "main")
    assert codecommit.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == rewritten
    refused = git(work, "push", "origin", "--delete", "main", check=False)
    assert refused.returncode != 0 and "default branch" in refused.stderr
    git(work, "push", "--quiet", "origin", "--delete", "feature")
    assert codecommit.list_branches(repositoryName=name)["branches"] == ["main"]
    assert git(clone(repo["cloneUrlHttp"], tmp_path / "again"), "fsck", "--no-progress").returncode == 0


def new_queue(sqs, name: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A new SQS queue's URL and ARN."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_all(sqs, queue_url: str, count: int, timeout: float = 10) -> list[dict]:  # type: ignore[no-untyped-def]
    """At least ``count`` messages from ``queue_url`` (bodies parsed), waiting up to ``timeout`` s."""
    bodies: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
    return bodies


def test_ref_changes_reach_an_eventbridge_rule(labstack: LabstackProcess, tmp_path: Path) -> None:
    account = "444455556666"
    codecommit = check_responses(labstack.client("codecommit", account=account))
    events, sqs = labstack.client("events", account=account), labstack.client("sqs", account=account)
    repo = codecommit.create_repository(repositoryName="evented")["repositoryMetadata"]
    queue, queue_arn = new_queue(sqs, "codecommit-events")
    pattern = {"source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
               "resources": [repo["Arn"]]}
    events.put_rule(Name="on-push", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="on-push", Targets=[{"Id": "q", "Arn": queue_arn}])

    work, first = pushed(tmp_path, repo)
    second = commit(work, {"v": "2"}, "second")
    git(work, "push", "--quiet", "origin", "main", "main:release")
    git(work, "push", "--quiet", "origin", "--delete", "release")
    git(work, "tag", "v1")
    git(work, "push", "--quiet", "origin", "v1")
    got = receive_all(sqs, queue, 5)
    details = sorted((e["detail"]["event"], e["detail"]["referenceType"], e["detail"]["referenceName"],
                      e["detail"].get("oldCommitId"), e["detail"].get("commitId")) for e in got)
    assert details == sorted([
        ("referenceCreated", "branch", "main", None, first),
        ("referenceUpdated", "branch", "main", first, second),
        ("referenceCreated", "branch", "release", None, second),
        ("referenceDeleted", "branch", "release", second, None),
        ("referenceCreated", "tag", "v1", None, second),
    ])
    event = got[0]
    assert event["source"] == "aws.codecommit" and event["resources"] == [repo["Arn"]]
    assert event["detail"]["repositoryName"] == "evented" and event["detail"]["repositoryId"] == repo["repositoryId"]


def test_triggers_publish_to_sns(labstack: LabstackProcess, tmp_path: Path) -> None:
    account = "555566667777"
    codecommit = check_responses(labstack.client("codecommit", account=account))
    sns, sqs = labstack.client("sns", account=account), labstack.client("sqs", account=account)
    repo = codecommit.create_repository(repositoryName="triggered")["repositoryMetadata"]
    topic = sns.create_topic(Name="pushes")["TopicArn"]
    queue, queue_arn = new_queue(sqs, "pushes")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    trigger = {"name": "to-sns", "destinationArn": topic, "events": ["all"], "branches": ["main"], "customData": "hi"}
    config = codecommit.put_repository_triggers(repositoryName="triggered", triggers=[trigger])["configurationId"]
    stored = codecommit.get_repository_triggers(repositoryName="triggered")
    assert stored["configurationId"] == config and stored["triggers"] == [trigger]
    tested = codecommit.test_repository_triggers(
        repositoryName="triggered",
        triggers=[trigger, {**trigger, "name": "nowhere", "destinationArn": topic + "-missing"}])
    assert tested["successfulExecutions"] == ["to-sns"] and tested["failedExecutions"][0]["trigger"] == "nowhere"
    work, first = pushed(tmp_path, repo)
    git(work, "push", "--quiet", "origin", "main:other")  # not a branch the trigger watches
    messages = receive_all(sqs, queue, 2)
    names = sorted(m["Records"][0]["eventName"] for m in messages)
    assert names == ["ReferenceChanges", "TriggerEventTest"]
    change = next(m["Records"][0] for m in messages if m["Records"][0]["eventName"] == "ReferenceChanges")
    assert change["codecommit"]["references"] == [{"commit": first, "ref": "refs/heads/main", "created": True}]
    assert change["customData"] == "hi" and change["eventSourceARN"] == repo["Arn"]
    with pytest.raises(ClientError) as exc:
        codecommit.put_repository_triggers(repositoryName="triggered",
                                           triggers=[{**trigger, "destinationArn": "arn:aws:sns:eu-west-1:1:x"}])
    assert exc.value.response["Error"]["Code"] == "InvalidRepositoryTriggerRegionException"


def settled_rss(process: psutil.Process, timeout: float = 20) -> int:
    """The process's RSS once it stops moving (labstack's services finish loading after health)."""
    last = process.memory_info().rss
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = process.memory_info().rss
        if abs(now - last) < 2 * 1024 * 1024:
            return now
        last = now
    return last


@pytest.mark.slow
def test_a_100_megabyte_push_streams(codecommit, labstack: LabstackProcess, repo: dict, tmp_path: Path) -> None:
    server = psutil.Process(labstack.pid)
    before = settled_rss(server)
    work = new_work_tree(tmp_path / "work", {"big.bin": os.urandom(100 * 1024 * 1024)})
    git(work, "remote", "add", "origin", repo["cloneUrlHttp"])
    git(work, "push", "--quiet", "origin", "main", timeout=300)
    grown = server.memory_info().rss - before
    assert grown < 40 * 1024 * 1024, f"labstack grew by {grown} bytes during a 100 MB push"
    copy = clone(repo["cloneUrlHttp"], tmp_path / "copy")
    assert (copy / "big.bin").stat().st_size == 100 * 1024 * 1024
    grown = server.memory_info().rss - before
    assert grown < 40 * 1024 * 1024, f"labstack grew by {grown} bytes during a 100 MB push and clone"
    with pytest.raises(ClientError) as exc:
        codecommit.get_file(repositoryName=repo["repositoryName"], filePath="big.bin")
    assert exc.value.response["Error"]["Code"] == "FileTooLargeException"
    assert codecommit.get_folder(repositoryName=repo["repositoryName"], folderPath="/")["files"][0]["absolutePath"] == "big.bin"
    assert send(labstack.endpoint, "/_labstack/health", {}, method="GET").status == 200


@pytest.mark.slow
def test_a_push_cut_short_changes_nothing(codecommit, repo: dict, tmp_path: Path) -> None:
    work, first = pushed(tmp_path, repo)
    big = commit(work, {"big.bin": os.urandom(60 * 1024 * 1024)}, "big")
    proc = subprocess.Popen(["git", "push", "--quiet", "origin", "main"], cwd=work, env=git_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # git push and its helpers (remote-http, pack-objects)
    proc.wait()
    head = codecommit.get_branch(repositoryName=repo["repositoryName"], branchName="main")["branch"]["commitId"]
    assert head in (first, big)  # all or nothing
    copy = clone(repo["cloneUrlHttp"], tmp_path / "copy")
    assert git(copy, "fsck", "--no-progress").returncode == 0
    git(work, "push", "--quiet", "origin", "main", timeout=300)
    assert codecommit.get_branch(repositoryName=repo["repositoryName"], branchName="main")["branch"]["commitId"] == big


def test_protocol_v0_and_a_gzipped_negotiation(codecommit, repo: dict, tmp_path: Path) -> None:
    work, _ = pushed(tmp_path, repo)
    old = tmp_path / "old"
    git(tmp_path, "-c", "protocol.version=0", "clone", "--quiet", repo["cloneUrlHttp"], "old")
    for i in range(60):  # local history the fetch offers as "have" lines: a request big enough to be gzipped
        commit(old, {f"local{i}.txt": str(i)}, f"local {i}")
    latest = commit(work, {"app.py": "print('v3')\n"}, "v3")
    git(work, "push", "--quiet", "origin", "main")
    for version in ("0", "2"):
        git(old, "-c", f"protocol.version={version}", "fetch", "--quiet", "origin")
        assert git(old, "rev-parse", "origin/main").stdout.strip() == latest


def test_request_bodies_over_the_limit_are_refused(tmp_path: Path) -> None:
    bare = BareRepo(tmp_path / "limited.git")
    bare.init()
    app = GitHttp(lambda environ: Target(bare, environ["PATH_INFO"], None), lambda target, updates: None,
                  tmp_path / "hooks", max_request_bytes=1000)
    client = Client(app)
    body = b"0" * 5000
    declared = client.post("/git-receive-pack", data=body, content_type="application/x-git-receive-pack-request")
    assert declared.status_code == 413
    chunked = client.post("/git-receive-pack", input_stream=io.BytesIO(body),
                          headers={"Transfer-Encoding": "chunked", "Content-Type": "application/x-git-receive-pack-request"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert chunked.status_code == 413
    assert client.get("/info/refs?service=git-upload-pack").status_code == 200
    assert client.get("/info/refs").status_code == 404  # the dumb protocol is not served
    assert bare.refs() == {}


FORWARDER = '''
import boto3, json, os

def handler(event, context):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps(event))
'''


def test_a_trigger_invokes_a_lambda_function(labstack: LabstackProcess, tmp_path: Path) -> None:
    account = "666677778888"
    codecommit = check_responses(labstack.client("codecommit", account=account))
    sqs, lam = labstack.client("sqs", account=account), labstack.client("lambda", account=account)
    queue, queue_arn = new_queue(sqs, "from-lambda")
    role = service_role(labstack.client("iam", account=account), "trigger-role", "lambda.amazonaws.com", policy={
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("app.py", FORWARDER)
    function = lam.create_function(FunctionName="on-push", Runtime="python3.12", Role=role, Handler="app.handler",
                                   Code={"ZipFile": archive.getvalue()}, Timeout=10,
                                   Environment={"Variables": {"QUEUE": queue}})["FunctionArn"]
    repo = codecommit.create_repository(repositoryName="to-lambda")["repositoryMetadata"]
    codecommit.put_repository_triggers(repositoryName="to-lambda",
                                       triggers=[{"name": "fn", "destinationArn": function, "events": ["createReference"]}])
    _, first = pushed(tmp_path, repo)
    record = receive_all(sqs, queue, 1, timeout=20)[0]["Records"][0]
    assert record["eventTriggerName"] == "fn" and record["codecommit"]["references"][0]["commit"] == first
