"""Pull requests on the local GitHub (its REST API and ``labstack github pr``) and the CodePipeline
``pullRequest`` trigger filter, against real labstacks and the real git CLI.

AWS's documentation followed:
- https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html: a pull request trigger
  starts the pipeline when a pull request is opened, updated or closed (merged), at the commit of the
  source branch; its branch filter names the destination branches.
- https://docs.aws.amazon.com/codepipeline/latest/userguide/pipeline-requirements.html (``triggers``):
  AND between events, branches and file paths; includes OR'ed, excludes win.
- https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GitPullRequestFilter.html: events
  OPEN | UPDATED | CLOSED; https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ExecutionTrigger.html:
  the trigger types (a webhook of a V2 trigger is ``WebhookV2``, there is no pull-request type).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from labstack import learners
from labstack.learners import Learner

from tests.support import raw
from tests.support.codepipeline import PipelineLab, action, stage
from tests.support.gitcli import clone, commit, git, new_work_tree
from tests.support.server import ROOT, LabstackProcess, server_env, start_labstack
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]
API = "/github/api/v3/repos"


def call(endpoint: str, method: str, path: str, body: Any = None, auth: tuple[str, str] | None = None,
         data: bytes | None = None) -> raw.Reply:
    """One call of the local GitHub's API (``body`` as JSON, or ``data`` as it is)."""
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    payload = data if data is not None else (json.dumps(body).encode() if body is not None else b"")
    return raw.send(endpoint, f"{API}/{path}", headers, payload, method=method, timeout=60)


def ok(reply: raw.Reply, status: int = 200) -> Any:
    assert reply.status == status, (reply.status, reply.body[:500])
    return reply.json() if reply.body else None


def pushed_repo(endpoint: str, tmp_path: Path, repo: str, auth: tuple[str, str] | None = None) -> tuple[Path, str]:
    """``repo`` on the local GitHub with ``main`` (app/main.py, docs/guide.md) and ``feature`` (app/feature.py)
    pushed; the work tree and the URL."""
    url = f"{endpoint}/github/{repo}.git"
    if auth is not None:
        host = url.split("://", 1)[1]
        url = f"http://{quote(auth[0], safe='')}:{quote(auth[1], safe='')}@{host}"
    work = new_work_tree(tmp_path / repo.replace("/", "-"), {"app/main.py": "print('v1')\n", "docs/guide.md": "# guide\n"})
    git(work, "push", "--quiet", url, "main")
    git(work, "checkout", "--quiet", "-b", "feature")
    commit(work, {"app/feature.py": "FEATURE = True\n"}, "a feature")
    git(work, "push", "--quiet", url, "feature")
    git(work, "checkout", "--quiet", "main")
    return work, url


def head_of(work: Path, url: str, branch: str) -> str:
    return git(work, "ls-remote", url, f"refs/heads/{branch}").stdout.split()[0]


# --- pipelines started by pull requests --------------------------------------------------------------
def new_connection(lab: PipelineLab, name: str) -> str:
    return lab.client("codestar-connections").create_connection(ProviderType="GitHub", ConnectionName=name)["ConnectionArn"]


def stages(lab: PipelineLab, key: str, source: dict) -> tuple[dict, dict]:
    """A source stage and a stage deploying its files to ``key`` in the artifact bucket."""
    deploy = action("Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": key}, inputs=("src",))
    return stage("Source", source), stage("Deploy", deploy)


def github_source(connection: str, repo: str, branch: str = "main") -> dict:
    return action("Code", "Source", "CodeStarSourceConnection",
                  {"ConnectionArn": connection, "FullRepositoryId": repo, "BranchName": branch}, outputs=("src",),
                  namespace="Src")


def triggers(source_action: str, kind: str, *filters: dict) -> list[dict]:
    return [{"providerType": "CodeStarSourceConnection",
             "gitConfiguration": {"sourceActionName": source_action, kind: list(filters)}}]


def pr_pipeline(lab: PipelineLab, name: str, repo: str, connection: str, *pull_filters: dict) -> None:
    """A V2 pipeline deploying ``repo`` to ``<name>/<commit>`` when a pull request passes ``pull_filters``."""
    lab.create(name, *stages(lab, f"{name}/#{{Src.CommitId}}", github_source(connection, repo)), pipelineType="V2",
               triggers=triggers("Code", "pullRequest", *pull_filters))


def refusal(lab: PipelineLab, name: str, source: dict, pull_filter: dict) -> dict:
    """The error CreatePipeline answers a V2 pipeline whose ``source`` has a trigger with ``pull_filter``."""
    declaration = lab.declaration(name, *stages(lab, name, source), pipelineType="V2",
                                  triggers=triggers(source["name"], "pullRequest", pull_filter))
    with pytest.raises(ClientError) as refused:
        lab.codepipeline.create_pipeline(pipeline=declaration)
    return refused.value.response["Error"]


def runs(lab: PipelineLab, name: str) -> list[dict]:
    return lab.codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]


def counts(lab: PipelineLab, *names: str) -> dict[str, int]:
    return {name: len(runs(lab, name)) for name in names}


def started_at(lab: PipelineLab, name: str, revision: str, connection: str) -> dict:
    """The newest execution of ``name``: started by a V2 webhook at ``revision``, and Succeeded."""
    newest = runs(lab, name)[0]
    assert newest["trigger"] == {"triggerType": "WebhookV2", "triggerDetail": connection}
    done = lab.wait(name, newest["pipelineExecutionId"])
    assert done["status"] == "Succeeded" and done["artifactRevisions"][0]["revisionId"] == revision
    return done


@pytest.mark.slow
def test_pull_request_events_start_the_pipelines_whose_filters_match(lab: PipelineLab, tmp_path: Path) -> None:
    """OPEN, UPDATED and CLOSED each start the pipelines that filter on them, at the source branch's
    commit; a filter on other destination branches, other file paths or other events starts nothing."""
    endpoint = lab.server.endpoint
    repo = f"org{lab.account}/prs"
    work, url = pushed_repo(endpoint, tmp_path, repo)
    connection = new_connection(lab, "prs")
    # Created in this order on purpose: a pipeline's listener runs in creation order, so once a later
    # pipeline has started for a push, every earlier one has been judged for it.
    pr_pipeline(lab, "wrong-branch", repo, connection, {"branches": {"includes": ["release/**"]}})
    pr_pipeline(lab, "docs-only", repo, connection, {"branches": {"includes": ["main"]},
                                                     "filePaths": {"includes": ["docs/**"]}})
    pr_pipeline(lab, "closed", repo, connection, {"events": ["CLOSED"], "branches": {"includes": ["ma*"]},
                                                  "filePaths": {"includes": ["app/**"], "excludes": ["**/*.md"]}})
    pr_pipeline(lab, "opened", repo, connection, {"events": ["OPEN"], "branches": {"includes": ["main"],
                                                                                    "excludes": ["release"]}})
    pr_pipeline(lab, "updated", repo, connection, {"events": ["UPDATED"], "branches": {"includes": ["**"]}})
    names = ("wrong-branch", "docs-only", "closed", "opened", "updated")
    assert counts(lab, *names) == dict.fromkeys(names, 1)  # each creation's own execution

    feature = head_of(work, url, "feature")
    pull = ok(call(endpoint, "POST", f"{repo}/pulls", {"title": "Add a feature", "head": "feature", "base": "main"}), 201)
    assert counts(lab, *names) == {**dict.fromkeys(names, 1), "opened": 2}  # published before the API answers
    started_at(lab, "opened", feature, connection)
    assert lab.s3.get_object(Bucket=lab.bucket, Key=f"opened/{feature}/app/feature.py")["Body"].read() == b"FEATURE = True\n"

    git(work, "checkout", "--quiet", "feature")
    revision = commit(work, {"app/feature.py": "FEATURE = 2\n"}, "a second revision")
    git(work, "push", "--quiet", url, "feature")
    lab.wait_for_executions("updated", 2)
    started_at(lab, "updated", revision, connection)
    assert counts(lab, *names) == {**dict.fromkeys(names, 1), "opened": 2, "updated": 2}

    main_before = head_of(work, url, "main")
    merged = ok(call(endpoint, "PUT", f"{repo}/pulls/{pull['number']}/merge", {}))
    assert counts(lab, *names) == {**dict.fromkeys(names, 1), "opened": 2, "updated": 2, "closed": 2}
    started_at(lab, "closed", revision, connection)  # the source branch's commit, not the merge commit
    assert head_of(work, url, "main") == merged["sha"]
    git(work, "fetch", "--quiet", url, "main")
    assert git(work, "log", "-1", "--format=%P", "FETCH_HEAD").stdout.split() == [main_before, revision]

    # A pull request that changes docs only: the docs filter fires on opening and closing, the app one not.
    git(work, "checkout", "--quiet", "-b", "docs", merged["sha"])
    docs = commit(work, {"docs/guide.md": "# a better guide\n"}, "docs")
    git(work, "push", "--quiet", url, "docs")
    docs_pull = ok(call(endpoint, "POST", f"{repo}/pulls", {"title": "Docs", "head": "docs", "base": "main"}), 201)
    assert counts(lab, *names) == {**dict.fromkeys(names, 1), "opened": 3, "updated": 2, "closed": 2, "docs-only": 2}
    started_at(lab, "docs-only", docs, connection)
    ok(call(endpoint, "PATCH", f"{repo}/pulls/{docs_pull['number']}", {"state": "closed"}))
    assert counts(lab, *names) == {**dict.fromkeys(names, 1), "opened": 3, "updated": 2, "closed": 2, "docs-only": 3}


@pytest.mark.slow
def test_without_a_pull_request_filter_pull_requests_start_nothing(lab: PipelineLab, tmp_path: Path) -> None:
    """A V1 pipeline (and a V2 one whose triggers filter pushes only) is started by pushes, never by a pull
    request: AWS's default trigger is a push to the action's branch."""
    endpoint = lab.server.endpoint
    repo = f"org{lab.account}/quiet"
    pushed_repo(endpoint, tmp_path, repo)
    source = github_source(new_connection(lab, "quiet"), repo, branch="feature")
    lab.create("v1", *stages(lab, "q", source))
    lab.create("push-only", *stages(lab, "q", source), pipelineType="V2",
               triggers=triggers("Code", "push", {"branches": {"includes": ["**"]}}))
    pull = ok(call(endpoint, "POST", f"{repo}/pulls", {"title": "t", "head": "feature", "base": "main"}), 201)
    ok(call(endpoint, "PATCH", f"{repo}/pulls/{pull['number']}", {"state": "closed"}))
    assert counts(lab, "v1", "push-only") == {"v1": 1, "push-only": 1}


def test_a_pull_request_filter_on_a_codecommit_source_is_refused(lab: PipelineLab) -> None:
    """Triggers are for CodeStarSourceConnection source actions only
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-triggers.html)."""
    lab.client("codecommit").create_repository(repositoryName="app")
    source = action("Source", "Source", "CodeCommit", {"RepositoryName": "app", "BranchName": "main"}, outputs=("src",))
    error = refusal(lab, "cc-pr", source, {"events": ["OPEN"], "branches": {"includes": ["main"]}})
    assert error["Code"] == "ValidationException" and "CodeStarSourceConnection" in error["Message"]


@pytest.mark.parametrize("pull_filter", [{"events": ["OPEN"]}, {"filePaths": {"includes": ["src/**"]}}])
def test_a_pull_request_filter_without_branches_is_refused(lab: PipelineLab, pull_filter: dict) -> None:
    """A pull request filter's valid combinations are branches, or branches and file paths
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-triggers.html)."""
    error = refusal(lab, "nb", github_source(new_connection(lab, "nb"), f"org{lab.account}/nb"), pull_filter)
    assert error["Code"] == "ValidationException" and "must filter branches" in error["Message"]


# --- the pull request API on a laptop -----------------------------------------------------------------
@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    server = start_labstack(tmp_path_factory.mktemp("pulls-home"), LABSTACK_PROVIDERS="")
    yield server
    server.stop()


def test_a_pull_request_is_opened_updated_and_merged_for_real(hub: LabstackProcess, tmp_path: Path) -> None:
    endpoint = hub.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "laptop/merge")
    main_before, feature = head_of(work, url, "main"), head_of(work, url, "feature")
    pull = ok(call(endpoint, "POST", "laptop/merge/pulls",
                   {"title": "Add a feature", "head": "laptop:feature", "base": "main", "body": "why"}), 201)
    assert (pull["number"], pull["state"], pull["merged"], pull["user"]["login"]) == (1, "open", False, "laptop")
    assert (pull["head"]["ref"], pull["head"]["sha"], pull["base"]["ref"], pull["base"]["sha"]) == \
           ("feature", feature, "main", main_before)
    assert pull["mergeable"] is True and pull["body"] == "why"
    assert [p["number"] for p in ok(call(endpoint, "GET", "laptop/merge/pulls"))] == [1]
    duplicate = call(endpoint, "POST", "laptop/merge/pulls", {"title": "again", "head": "feature", "base": "main"})
    assert duplicate.status == 422 and "already exists" in duplicate.json()["errors"][0]["message"]

    git(work, "checkout", "--quiet", "feature")
    second = commit(work, {"app/feature.py": "FEATURE = 2\n"}, "second revision")
    git(work, "push", "--quiet", url, "feature")
    wait_for(lambda: ok(call(endpoint, "GET", "laptop/merge/pulls/1"))["head"]["sha"] == second or None)
    stale = call(endpoint, "PUT", "laptop/merge/pulls/1/merge", {"sha": feature})
    assert stale.status == 409 and "Head branch was modified" in stale.json()["message"]
    assert ok(call(endpoint, "PATCH", "laptop/merge/pulls/1", {"title": "Add a better feature"}))["title"] == \
           "Add a better feature"
    assert call(endpoint, "GET", "laptop/merge/pulls/1/merge").status == 404  # not merged yet

    merged = ok(call(endpoint, "PUT", "laptop/merge/pulls/1/merge", {"sha": second}))
    assert merged["merged"] is True
    copy = clone(url, tmp_path / "copy")
    assert (copy / "app" / "feature.py").read_text() == "FEATURE = 2\n" and (copy / "docs" / "guide.md").exists()
    assert git(copy, "log", "-1", "--format=%H %P%n%s", "main").stdout.split("\n")[:2] == \
           [f"{merged['sha']} {main_before} {second}", "Merge pull request #1 from laptop/feature"]
    done = ok(call(endpoint, "GET", "laptop/merge/pulls/1"))
    assert (done["state"], done["merged"], done["merge_commit_sha"], done["mergeable"]) == ("closed", True, merged["sha"], None)
    assert call(endpoint, "GET", "laptop/merge/pulls/1/merge").status == 204
    again = call(endpoint, "PUT", "laptop/merge/pulls/1/merge", {})
    assert again.status == 405 and "merged already" in again.json()["message"]
    assert ok(call(endpoint, "GET", "laptop/merge/pulls")) == []
    assert [p["number"] for p in ok(call(endpoint, "GET", "laptop/merge/pulls?state=closed"))] == [1]
    reopen = call(endpoint, "PATCH", "laptop/merge/pulls/1", {"state": "open"})
    assert reopen.status == 422


def test_a_squash_merge_makes_one_commit_and_a_conflict_refuses_the_merge(hub: LabstackProcess, tmp_path: Path) -> None:
    endpoint = hub.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "laptop/squash")
    git(work, "checkout", "--quiet", "-b", "clash", "main")
    commit(work, {"app/main.py": "print('theirs')\n"}, "theirs")
    git(work, "push", "--quiet", url, "clash")
    git(work, "checkout", "--quiet", "main")
    commit(work, {"app/main.py": "print('ours')\n"}, "ours")
    git(work, "push", "--quiet", url, "main")
    main_now = head_of(work, url, "main")
    clash = ok(call(endpoint, "POST", "laptop/squash/pulls", {"title": "Clash", "head": "clash", "base": "main"}), 201)
    assert clash["mergeable"] is False
    refused = call(endpoint, "PUT", f"laptop/squash/pulls/{clash['number']}/merge", {})
    assert refused.status == 405 and "conflicts" in refused.json()["message"]
    assert head_of(work, url, "main") == main_now

    pull = ok(call(endpoint, "POST", "laptop/squash/pulls", {"title": "Feature", "head": "feature", "base": "main"}), 201)
    squashed = ok(call(endpoint, "PUT", f"laptop/squash/pulls/{pull['number']}/merge", {"merge_method": "squash"}))
    copy = clone(url, tmp_path / "copy")
    assert git(copy, "log", "-1", "--format=%P%n%s", "main").stdout.split("\n")[:2] == [main_now, f"Feature (#{pull['number']})"]
    assert git(copy, "rev-parse", "main").stdout.strip() == squashed["sha"]
    assert (copy / "app" / "feature.py").exists() and (copy / "app" / "main.py").read_text() == "print('ours')\n"
    rebase = call(endpoint, "PUT", f"laptop/squash/pulls/{clash['number']}/merge", {"merge_method": "rebase"})
    assert rebase.status == 422 and rebase.json()["errors"][0]["field"] == "merge_method"


def test_branches_moved_by_git_close_or_merge_pull_requests(hub: LabstackProcess, tmp_path: Path) -> None:
    """Deleting a pull request's head branch closes it; pushing its head into the base branch merges it."""
    endpoint = hub.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "laptop/moves")
    git(work, "branch", "gone", "feature")
    git(work, "push", "--quiet", url, "gone")
    gone = ok(call(endpoint, "POST", "laptop/moves/pulls", {"title": "Gone", "head": "gone", "base": "main"}), 201)
    git(work, "push", "--quiet", url, ":gone")
    wait_for(lambda: ok(call(endpoint, "GET", f"laptop/moves/pulls/{gone['number']}"))["state"] == "closed" or None)
    assert ok(call(endpoint, "GET", f"laptop/moves/pulls/{gone['number']}"))["merged"] is False
    pull = ok(call(endpoint, "POST", "laptop/moves/pulls", {"title": "Feature", "head": "feature", "base": "main"}), 201)
    closed = ok(call(endpoint, "PATCH", f"laptop/moves/pulls/{pull['number']}", {"state": "closed"}))
    assert closed["state"] == "closed" and closed["closed_at"]
    assert ok(call(endpoint, "PATCH", f"laptop/moves/pulls/{pull['number']}", {"state": "open"}))["state"] == "open"
    git(work, "merge", "--quiet", "--no-edit", "feature")
    git(work, "push", "--quiet", url, "main")
    wait_for(lambda: ok(call(endpoint, "GET", f"laptop/moves/pulls/{pull['number']}"))["merged"] or None)
    merged = ok(call(endpoint, "GET", f"laptop/moves/pulls/{pull['number']}"))
    assert merged["state"] == "closed" and merged["merge_commit_sha"] == head_of(work, url, "main")


HOSTILE = [
    ("POST", "laptop/hostile/pulls", {"title": "x" * 257, "head": "feature", "base": "main"}, 422, "too long"),
    ("POST", "laptop/hostile/pulls", {"title": "", "head": "feature", "base": "main"}, 422, "title"),
    ("POST", "laptop/hostile/pulls", {"title": ["a"], "head": "feature", "base": "main"}, 422, "title"),
    ("POST", "laptop/hostile/pulls", {"title": "a\u0000b", "head": "feature", "base": "main"}, 422, "NUL"),
    ("POST", "laptop/hostile/pulls", {"title": "\ud800", "head": "feature", "base": "main"}, 422, "UTF-8"),
    ("PUT", "laptop/hostile/pulls/1/merge", {"commit_title": "\ud800"}, 422, "UTF-8"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "../../../etc/passwd", "base": "main"}, 422, "does not exist"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "--upload-pack=touch /tmp/pwned", "base": "main"}, 422, "does not exist"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "feature\nmain", "base": "main"}, 422, "does not exist"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "feature", "base": "feature"}, 422, "different"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "someone:feature", "base": "main"}, 422, "forks"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": {"ref": "feature"}, "base": "main"}, 422, "head"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "main", "base": "feature"}, 422, "No commits"),
    ("POST", "laptop/hostile/pulls", {"title": "t", "head": "feature", "base": "main", "body": "b" * 70000}, 422, "too long"),
    ("PATCH", "laptop/hostile/pulls/1", {"state": "merged"}, 422, "state"),
    ("PATCH", "laptop/hostile/pulls/1", {"base": "feature"}, 422, "different"),
    ("PUT", "laptop/hostile/pulls/1/merge", {"sha": 12}, 422, "sha"),
    ("PUT", "laptop/hostile/pulls/99/merge", {}, 404, "Not Found"),
    ("GET", "laptop/hostile/pulls/1x", None, 404, "Not Found"),
    ("DELETE", "laptop/hostile/pulls/1", None, 404, "Not Found"),
    ("GET", "laptop/hostile/pulls?state=everything", None, 422, "state"),
    ("GET", "laptop/no-such-repo/pulls", None, 404, "Not Found"),
    ("GET", "..%2F..%2Fetc/passwd/pulls", None, 404, "Not Found"),
]


def test_hostile_input_gets_a_clear_4xx_and_loses_nothing(hub: LabstackProcess, tmp_path: Path) -> None:
    endpoint = hub.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "laptop/hostile")
    pull = ok(call(endpoint, "POST", "laptop/hostile/pulls", {"title": "Keep me", "head": "feature", "base": "main"}), 201)
    before = (ok(call(endpoint, "GET", "laptop/hostile/pulls/1")), git(work, "ls-remote", url).stdout)
    for method, path, body, status, says in HOSTILE:
        reply = call(endpoint, method, path, body)
        assert reply.status == status, (method, path, reply.status, reply.body[:300])
        answer = reply.json()
        assert says in answer["message"] + json.dumps(answer.get("errors", [])), (path, answer)
    for data, says in ((b"{not json", "not JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "not JSON"),
                       (b"[" * 100000 + b"]" * 100000, "not JSON"), (b'{"title": "' + b"x" * (300 * 1024) + b'"}', "bytes")):
        reply = call(endpoint, "POST", "laptop/hostile/pulls", data=data)
        assert reply.status == 400 and says in reply.json()["message"], (data[:20], reply.status, reply.body[:200])
    as_form = raw.send(endpoint, f"{API}/laptop/hostile/pulls", {"Content-Type": "text/plain"}, b'{"title": "t"}')
    assert as_form.status == 400 and "application/json" in as_form.json()["message"]
    # a web page of another site cannot merge for the learner (the browser marks its request)
    forged = raw.send(endpoint, f"{API}/laptop/hostile/pulls/1/merge", {"Content-Type": "application/json",
                                                                      "Origin": "http://evil.example"}, b"{}", method="PUT")
    assert forged.status == 403 and b"another origin" in forged.body
    after = (ok(call(endpoint, "GET", "laptop/hostile/pulls/1")), git(work, "ls-remote", url).stdout)
    assert after == before and pull["number"] == 1
    assert [p["number"] for p in ok(call(endpoint, "GET", "laptop/hostile/pulls?state=all"))] == [1]
    assert not Path("/tmp/pwned").exists()


def pr_cli(endpoint: str, *args: str, who: Learner | None = None) -> subprocess.CompletedProcess:
    """``labstack github pr ARGS`` against ``endpoint``, with ``who``'s keys in the environment if given."""
    env = {**server_env(), "PYTHONPATH": str(ROOT / "infra")}
    if who is not None:
        env.update(AWS_ACCESS_KEY_ID=who.access_key_id, AWS_SECRET_ACCESS_KEY=who.secret_access_key)
    return subprocess.run([sys.executable, "-m", "labstack.cli", "github", "pr", *args, "--endpoint", endpoint],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_labstack_github_pr_commands(hub: LabstackProcess, tmp_path: Path) -> None:
    endpoint = hub.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "laptop/cli")

    def labstack(*args: str) -> subprocess.CompletedProcess:
        return pr_cli(endpoint, *args)

    created = labstack("create", "laptop/cli", "--head", "feature", "--title", "From the CLI")
    assert created.returncode == 0 and "#1" in created.stdout and "feature -> main" in created.stdout, created.stderr
    listed = labstack("list", "laptop/cli")
    assert listed.returncode == 0 and "From the CLI" in listed.stdout
    merged = labstack("merge", "laptop/cli", "1")
    assert merged.returncode == 0 and head_of(work, url, "main") in merged.stdout
    again = labstack("merge", "laptop/cli", "1")
    assert again.returncode == 1 and "it is merged already (405)" in again.stderr
    git(work, "checkout", "--quiet", "-b", "other", "main")
    commit(work, {"other.txt": "x"}, "other")
    git(work, "push", "--quiet", url, "other")
    assert labstack("create", "laptop/cli", "--head", "other", "--title", "Other").returncode == 0
    closed = labstack("close", "laptop/cli", "2")
    assert closed.returncode == 0 and "closed" in closed.stdout
    assert "no pull requests" in labstack("list", "laptop/cli").stdout
    assert labstack("list", "laptop/cli", "--state", "all").stdout.count("\n") == 2
    bad = labstack("create", "laptop/cli", "--head", "nope", "--title", "x")
    assert bad.returncode == 1 and "head branch 'nope' does not exist in this repository (422)" in bad.stderr


def test_reset_forgets_pull_requests(hub: LabstackProcess, tmp_path: Path) -> None:
    endpoint = hub.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "laptop/reset")
    ok(call(endpoint, "POST", "laptop/reset/pulls", {"title": "t", "head": "feature", "base": "main"}), 201)
    assert raw.send(endpoint, "/_labstack/reset", {"Content-Type": "application/json"}, b"{}").status == 200
    assert call(endpoint, "GET", "laptop/reset/pulls").status == 404
    git(work, "push", "--quiet", url, "main", "feature")  # a lab run again starts afresh: number 1 again
    assert ok(call(endpoint, "POST", "laptop/reset/pulls", {"title": "t", "head": "feature", "base": "main"}), 201)["number"] == 1


@pytest.mark.slow
def test_pull_requests_outlive_a_restart(tmp_path: Path) -> None:
    """They are kept with the repository under LABSTACK_HOME, as its commits are."""
    home = tmp_path / "home"
    first = start_labstack(home, LABSTACK_PROVIDERS="")
    try:
        pushed_repo(first.endpoint, tmp_path, "laptop/kept")
        ok(call(first.endpoint, "POST", "laptop/kept/pulls", {"title": "Kept", "head": "feature", "base": "main"}), 201)
    finally:
        first.stop()
    second = start_labstack(home, LABSTACK_PROVIDERS="")
    try:
        kept = ok(call(second.endpoint, "GET", "laptop/kept/pulls/1"))
        assert (kept["title"], kept["state"], kept["mergeable"]) == ("Kept", "open", True)
        assert ok(call(second.endpoint, "PUT", "laptop/kept/pulls/1/merge", {}))["merged"] is True
    finally:
        second.stop()


# --- class mode: the owner's pull requests only ----------------------------------------------------------
@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabstackProcess, list[Learner]]]:
    folder = tmp_path_factory.mktemp("pulls-class")
    rows = learners.generate(2)
    learners.write(folder / "learners.csv", rows)
    server = start_labstack(folder / "home", LABSTACK_PROVIDERS="", LABSTACK_LEARNERS=str(folder / "learners.csv"))
    yield server, rows
    server.stop()


def keys(who: Learner) -> tuple[str, str]:
    return who.access_key_id, who.secret_access_key


@pytest.mark.slow
def test_another_learner_cannot_open_list_or_merge_pull_requests_in_a_repository_they_do_not_own(
        klass: tuple[LabstackProcess, list[Learner]], tmp_path: Path) -> None:
    server, (a, b, instructor) = klass
    endpoint = server.endpoint
    work, url = pushed_repo(endpoint, tmp_path, "team-a/site", auth=keys(a))
    mine = ok(call(endpoint, "POST", "team-a/site/pulls", {"title": "A's", "head": "feature", "base": "main"}, auth=keys(a)), 201)
    assert mine["user"]["login"] == a.learner
    main_before = head_of(work, url, "main")

    # B's attacks: open a pull request, merge A's, close it, read them; each refused as if nothing were there
    for method, path, body in (("POST", "team-a/site/pulls", {"title": "B's", "head": "feature", "base": "main"}),
                               ("PUT", "team-a/site/pulls/1/merge", {}),
                               ("PATCH", "team-a/site/pulls/1", {"state": "closed"}),
                               ("GET", "team-a/site/pulls", None)):
        reply = call(endpoint, method, path, body, auth=keys(b))
        assert reply.status == 404 and reply.json()["message"] == "Not Found", path
    anonymous = call(endpoint, "PUT", "team-a/site/pulls/1/merge", {})
    assert anonymous.status == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    assert call(endpoint, "PUT", "team-a/site/pulls/1/merge", {}, auth=(a.access_key_id, "y" * 40)).status == 403
    # an IAM user's keys of A's own account (what a build could hold) are not the learner's
    iam = server.client("iam", account=a.access_key_id, secret=a.secret_access_key)
    iam.create_user(UserName="ci")
    user_key = iam.create_access_key(UserName="ci")["AccessKey"]
    as_user = call(endpoint, "PUT", "team-a/site/pulls/1/merge", {}, auth=(user_key["AccessKeyId"], user_key["SecretAccessKey"]))
    assert as_user.status == 403 and "not an IAM user's keys" in as_user.json()["message"]
    # and B cannot make a repository under the name the labs keep for A
    squat = call(endpoint, "POST", f"learner-{a.account_id}/site/pulls", {"title": "t", "head": "x", "base": "y"}, auth=keys(b))
    assert squat.status == 404  # nothing exists there: nothing is created either
    assert not (server.settings.home / "github" / f"learner-{a.account_id}").exists()

    by_cli = pr_cli(endpoint, "merge", "team-a/site", "1", who=b)
    assert by_cli.returncode == 1 and "Not Found (404)" in by_cli.stderr
    assert head_of(work, url, "main") == main_before  # nothing moved
    listed = ok(call(endpoint, "GET", "team-a/site/pulls", auth=keys(instructor)))  # the instructor reaches it
    assert [(p["number"], p["state"], p["title"]) for p in listed] == [(1, "open", "A's")]
    assert ok(call(endpoint, "PUT", "team-a/site/pulls/1/merge", {}, auth=keys(a)))["merged"] is True
    assert head_of(work, url, "main") != main_before


class _Learner:
    """What PipelineLab needs of a server, with a learner's own keys (class mode verifies them)."""

    def __init__(self, server: LabstackProcess, who: Learner) -> None:
        self.server, self.who, self.endpoint = server, who, server.endpoint

    def client(self, service: str, account: str = "", validate: bool = True) -> Any:
        return self.server.client(service, account=self.who.access_key_id, secret=self.who.secret_access_key,
                                  validate=validate)


@pytest.mark.slow
def test_another_learners_pipeline_hears_nothing_of_a_repository_it_cannot_read(
        klass: tuple[LabstackProcess, list[Learner]], tmp_path: Path) -> None:
    """B's pipeline watching A's repository is not started by A's pull requests or pushes (its executions
    would carry A's commit ids and branch moves)."""
    server, (a, b, _instructor) = klass
    pushed_repo(server.endpoint, tmp_path, "team-a/watched", auth=keys(a))
    spy = PipelineLab(_Learner(server, b), b.account_id)
    spy.codepipeline.create_pipeline(pipeline=spy.declaration(
        "spy", *stages(spy, "spy", github_source(new_connection(spy, "spy"), "team-a/watched")), pipelineType="V2",
        triggers=triggers("Code", "pullRequest", {"branches": {"includes": ["**"]}})))
    spy.wait("spy", spy.wait_for_executions("spy", 1)[0]["pipelineExecutionId"])  # its creation's run fails
    own = PipelineLab(_Learner(server, a), a.account_id)
    pr_pipeline(own, "own", "team-a/watched", new_connection(own, "own"), {"branches": {"includes": ["**"]}})
    pull = ok(call(server.endpoint, "POST", "team-a/watched/pulls", {"title": "t", "head": "feature", "base": "main"},
                   auth=keys(a)), 201)
    ok(call(server.endpoint, "PATCH", f"team-a/watched/pulls/{pull['number']}", {"state": "closed"}, auth=keys(a)))
    assert len(runs(own, "own")) == 3  # A's pipeline heard both
    assert len(runs(spy, "spy")) == 1
