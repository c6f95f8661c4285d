"""CodeBuild webhooks on the local GitHub: real pushes (the git CLI) start builds without a pipeline.

AWS's documentation followed here:
- filter groups, events and filter types, with their payload sources:
  https://docs.aws.amazon.com/codebuild/latest/userguide/github-webhook.html
  ("A build is triggered if any filter group evaluates to true, which occurs when all the filters in the
  group evaluate to true"; BASE_REF "can be used with pull request events only");
- the API (every group needs an EVENT filter; excludeMatchedPattern; patterns are regular expressions):
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_WebhookFilter.html,
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateWebhook.html;
- the build's variables (CODEBUILD_WEBHOOK_*; CODEBUILD_SOURCE_VERSION is ``pr/<number>`` for a pull
  request event): https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html.

A push that must start no build is proven so without waiting for time to pass: a catch-all project made
last (the ``sentinel``) hears every event after the others, from the one thread that handles events in
order, so once the sentinel's build for an event exists every other project has decided on it.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.support.classmode import ClassLabstack, needs_bwrap
from tests.support.codebuild import ENVIRONMENT, Lab, build_role, buildspec, log_lines, wait_build
from tests.support.codebuild_batch import batch_role, wait_batch
from tests.support.codebuild_batch import builds_of as batch_builds
from tests.support.gitcli import commit, git, new_work_tree
from tests.support.responses import check_responses

pytest_plugins = ["tests.support.codebuild_fixtures", "tests.support.classmode_fixtures"]

REPORT = ("echo event=$CODEBUILD_WEBHOOK_EVENT trigger=$CODEBUILD_WEBHOOK_TRIGGER head=$CODEBUILD_WEBHOOK_HEAD_REF "
          "base=$CODEBUILD_WEBHOOK_BASE_REF actor=$CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID prev=$CODEBUILD_WEBHOOK_PREV_COMMIT "
          "version=$CODEBUILD_SOURCE_VERSION resolved=$CODEBUILD_RESOLVED_SOURCE_VERSION file=$(cat app.txt)")
QUICK = buildspec({"build": {"commands": ["true"]}})


class Repo:
    """A repository of the local GitHub and a work tree that pushes to it."""

    def __init__(self, lab: Lab, tmp_path: Path) -> None:
        self.full_id = f"hooks-{uuid.uuid4().hex[:8]}/app"
        self.owner = self.full_id.partition("/")[0]
        self.url = f"{lab.server.endpoint}/github/{self.full_id}.git"
        self.work = new_work_tree(tmp_path / "work", {"app.txt": "v0\n", "buildspec.yml": buildspec(
            {"build": {"commands": [REPORT]}})}, "first")
        git(self.work, "push", "--quiet", self.url, "main")

    def push(self, files: dict[str, str], message: str, branch: str = "main") -> str:
        """Commit ``files`` on ``branch`` (made from the current head if new) and push; the commit id."""
        git(self.work, "checkout", "--quiet", "-B", branch)
        sha = commit(self.work, files, message)
        git(self.work, "push", "--quiet", self.url, branch)
        return sha

    def push_branch(self, branch: str) -> str:
        """Push a new branch at the current head (no new commit)."""
        git(self.work, "push", "--quiet", self.url, f"HEAD:refs/heads/{branch}")
        return git(self.work, "rev-parse", "HEAD").stdout.strip()

    def pull_request(self, method: str, path: str, body: dict | None = None) -> dict:
        """A call of the local GitHub's pull request API."""
        request = urllib.request.Request(
            f"{self.url.rsplit('/github/', 1)[0]}/github/api/v3/repos/{self.full_id}/pulls{path}",
            data=json.dumps(body).encode() if body is not None else None, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}


def hooked(lab: Lab, repo: Repo, name: str, groups: list[list[dict]] | None = None, spec: str | None = QUICK,
           **webhook: Any) -> dict:
    """A GITHUB project on ``repo`` with a webhook (``groups`` its filter groups); the webhook."""
    source: dict = {"type": "GITHUB", "location": f"https://github.com/{repo.full_id}"}
    if spec:
        source["buildspec"] = spec
    lab.codebuild.create_project(name=name, source=source, artifacts={"type": "NO_ARTIFACTS"},
                                 environment=ENVIRONMENT, serviceRole=lab.role)
    if groups is not None:
        webhook["filterGroups"] = groups
    return lab.codebuild.create_webhook(projectName=name, **webhook)["webhook"]


def event(*names: str) -> dict:
    return {"type": "EVENT", "pattern": ", ".join(names)}


def builds_of(lab: Lab, project: str, count: int, timeout: float = 60) -> list[dict]:
    """The project's builds once there are ``count`` of them, oldest first, each waited until complete."""
    deadline = time.monotonic() + timeout
    while True:
        ids = lab.codebuild.list_builds_for_project(projectName=project, sortOrder="ASCENDING").get("ids") or []
        if len(ids) >= count:
            return [wait_build(lab.codebuild, i, timeout) for i in ids]
        if time.monotonic() > deadline:
            raise AssertionError(f"{project} has {len(ids)} builds, not {count}, after {timeout} s")
        time.sleep(0.1)


def versions(lab: Lab, project: str) -> list[str]:
    ids = lab.codebuild.list_builds_for_project(projectName=project, sortOrder="ASCENDING").get("ids") or []
    return [b["sourceVersion"] for b in lab.codebuild.batch_get_builds(ids=ids)["builds"]] if ids else []


@pytest.fixture
def repo(lab: Lab, tmp_path: Path) -> Repo:
    return Repo(lab, tmp_path)


@pytest.mark.slow
def test_a_push_builds_the_pushed_commit(lab: Lab, repo: Repo) -> None:
    webhook = hooked(lab, repo, "on-push", [[event("PUSH")]], spec=None)
    assert webhook["filterGroups"] == [[{"type": "EVENT", "pattern": "PUSH"}]]
    assert webhook["buildType"] == "BUILD" and webhook["status"] == "ACTIVE"
    project = lab.codebuild.batch_get_projects(names=["on-push"])["projects"][0]
    assert project["webhook"]["filterGroups"] == webhook["filterGroups"]
    before = git(repo.work, "rev-parse", "HEAD").stdout.strip()
    sha = repo.push({"app.txt": "v1\n"}, "v1")
    [build] = builds_of(lab, "on-push", 1)
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["sourceVersion"] == sha and build["resolvedSourceVersion"] == sha
    assert build["initiator"].startswith("GitHub-Hookshot/")
    assert (f"event=PUSH trigger=branch/main head=refs/heads/main base= actor={repo.owner} prev={before} "
            f"version={sha} resolved={sha} file=v1") in lab.logs(build)


@pytest.mark.slow
def test_each_filter_type_matches_and_misses(lab: Lab, repo: Repo) -> None:
    """One project per filter (each in a group with EVENT PUSH), three real pushes, and the builds each
    project got: HEAD_REF, FILE_PATH, COMMIT_MESSAGE, ACTOR_ACCOUNT_ID (match and not), BASE_REF (pull
    requests only: never on a push), excludeMatchedPattern, two groups (OR) and a group of three (AND)."""
    push = event("PUSH")
    wanted = {
        "head-ref": [[push, {"type": "HEAD_REF", "pattern": "^refs/heads/release$"}]],
        "file-path": [[push, {"type": "FILE_PATH", "pattern": r"^src/.*\.py$"}]],
        "message": [[push, {"type": "COMMIT_MESSAGE", "pattern": r"\[build\]"}]],
        "actor": [[push, {"type": "ACTOR_ACCOUNT_ID", "pattern": f"^{repo.owner}$"}]],
        "actor-other": [[push, {"type": "ACTOR_ACCOUNT_ID", "pattern": "^someone-else$"}]],
        "base-ref": [[push, {"type": "BASE_REF", "pattern": ".*"}]],
        "not-docs": [[push, {"type": "FILE_PATH", "pattern": "^docs/", "excludeMatchedPattern": True}]],
        "any-group": [[push, {"type": "HEAD_REF", "pattern": "release"}],
                      [push, {"type": "COMMIT_MESSAGE", "pattern": r"^\[build\]"}]],
        "all-in-group": [[push, {"type": "HEAD_REF", "pattern": "^refs/heads/main$"},
                          {"type": "FILE_PATH", "pattern": r"\.md$"}]],
        "pull-requests": [[event("PULL_REQUEST_CREATED", "PULL_REQUEST_UPDATED")]],
    }
    for name, groups in wanted.items():
        hooked(lab, repo, name, groups)
    hooked(lab, repo, "branch-filter", branchFilter="^rel")  # the older branch regex, no groups
    hooked(lab, repo, "tags", [[push, {"type": "HEAD_REF", "pattern": "^refs/tags/v"}]])
    hooked(lab, repo, "sentinel")  # no filter groups: every push
    code = repo.push({"src/app.py": "print(1)\n"}, "[build] the app")
    docs = repo.push({"docs/readme.md": "# app\n"}, "chore: docs")
    branch = repo.push_branch("release")  # a new branch at the docs commit
    git(repo.work, "tag", "-a", "v1.0", "-m", "release 1.0")  # an annotated tag: its commit is built
    git(repo.work, "push", "--quiet", repo.url, "v1.0")
    builds_of(lab, "sentinel", 4)
    assert versions(lab, "sentinel") == [code, docs, branch, branch]
    assert versions(lab, "tags") == [branch]
    assert versions(lab, "head-ref") == [branch]
    assert versions(lab, "file-path") == [code]
    assert versions(lab, "message") == [code]
    assert versions(lab, "actor") == [code, docs, branch, branch]
    assert versions(lab, "actor-other") == []
    assert versions(lab, "base-ref") == []
    assert versions(lab, "not-docs") == [code]
    assert versions(lab, "any-group") == [code, branch]
    assert versions(lab, "all-in-group") == [docs]
    assert versions(lab, "pull-requests") == []
    assert versions(lab, "branch-filter") == [branch]


@pytest.mark.slow
def test_a_batch_webhook_starts_a_batch_build_of_the_push(lab: Lab, repo: Repo) -> None:
    """buildType BUILD_BATCH (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Webhook.html):
    the push starts a batch build, whose builds build the pushed commit."""
    spec = buildspec({"build": {"commands": ["echo built $(cat app.txt)"]}},
                     batch={"build-list": [{"identifier": "one"}, {"identifier": "two"}]})
    hooked(lab, repo, "batched", [[event("PUSH")]], spec=spec, buildType="BUILD_BATCH")
    lab.codebuild.update_project(name="batched", buildBatchConfig={"serviceRole": batch_role(lab)})
    hooked(lab, repo, "sentinel")
    sha = repo.push({"app.txt": "batched\n"}, "for the batch")
    builds_of(lab, "sentinel", 1)
    [batch_id] = lab.codebuild.list_build_batches_for_project(projectName="batched")["ids"]
    done = wait_batch(lab, batch_id)
    assert done["buildBatchStatus"] == "SUCCEEDED" and done["initiator"].startswith("GitHub-Hookshot/")
    assert done["sourceVersion"] == sha
    for build in batch_builds(lab, done).values():
        assert build["resolvedSourceVersion"] == sha and "built batched" in lab.logs(build)


@pytest.mark.slow
def test_update_webhook_changes_what_builds_and_delete_stops_builds(lab: Lab, repo: Repo) -> None:
    hooked(lab, repo, "changing", [[event("PUSH"), {"type": "HEAD_REF", "pattern": "^refs/heads/main$"}]])
    hooked(lab, repo, "sentinel")
    first = repo.push({"app.txt": "v1\n"}, "v1")
    builds_of(lab, "sentinel", 1)
    updated = lab.codebuild.update_webhook(projectName="changing", filterGroups=[
        [event("PUSH"), {"type": "HEAD_REF", "pattern": "^refs/heads/feature$"}]])["webhook"]
    assert updated["filterGroups"][0][1]["pattern"] == "^refs/heads/feature$"
    on_main = repo.push({"app.txt": "v2\n"}, "v2")
    on_feature = repo.push({"app.txt": "v3\n"}, "v3", branch="feature")
    builds_of(lab, "sentinel", 3)  # webhooks hear pushes after git is answered: let them hear these first
    lab.codebuild.delete_webhook(projectName="changing")
    assert "webhook" not in lab.codebuild.batch_get_projects(names=["changing"])["projects"][0]
    after_delete = repo.push({"app.txt": "v4\n"}, "v4", branch="feature")
    builds_of(lab, "sentinel", 4)
    assert versions(lab, "sentinel") == [first, on_main, on_feature, after_delete]
    assert versions(lab, "changing") == [first, on_feature]
    for call in (lab.codebuild.update_webhook, lab.codebuild.delete_webhook):
        with pytest.raises(ClientError) as raised:
            call(projectName="changing")
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.slow
def test_a_catastrophic_pattern_cannot_hang_the_webhooks(lab: Lab, repo: Repo) -> None:
    """Attack: a COMMIT_MESSAGE pattern that backtracks 2^40 ways on a message of forty a's and a '!'.
    The match stops at labstack's time limit and leaves the filter undecided, which does not pass, even
    turned around by excludeMatchedPattern: no build for it; the next events are still handled (the
    sentinel builds every push)."""
    redos = {"type": "COMMIT_MESSAGE", "pattern": "^(a|a)*$"}
    hooked(lab, repo, "redos", [[event("PUSH"), redos]])
    hooked(lab, repo, "redos-exclude", [[event("PUSH"), {**redos, "excludeMatchedPattern": True}]])
    hooked(lab, repo, "sentinel")
    hostile = repo.push({"app.txt": "x\n"}, "a" * 40 + "!")
    plain = repo.push({"app.txt": "y\n"}, "aaaa")
    other = repo.push({"app.txt": "z\n"}, "bbbb")
    builds_of(lab, "sentinel", 3)
    assert versions(lab, "sentinel") == [hostile, plain, other]
    assert versions(lab, "redos") == [plain]
    assert versions(lab, "redos-exclude") == [other]


@pytest.mark.slow
def test_pull_request_events_build_the_pull_request(lab: Lab, repo: Repo) -> None:
    """PULL_REQUEST_CREATED, _UPDATED and _MERGED builds of the local GitHub's pull requests: the source
    version is pr/<number>, the head and base refs are the pull request's; a push-only project builds the
    pushes alone."""
    opened_or_updated = [[event("PULL_REQUEST_CREATED", "PULL_REQUEST_UPDATED"),
                          {"type": "BASE_REF", "pattern": "^refs/heads/main$"}]]
    hooked(lab, repo, "prs", opened_or_updated, spec=None)
    hooked(lab, repo, "merged", [[event("PULL_REQUEST_MERGED")]])
    hooked(lab, repo, "pushes", [[event("PUSH")]])
    head = repo.push({"app.txt": "feature\n"}, "feature work", branch="feature")
    number = repo.pull_request("POST", "", {"title": "Feature", "head": "feature", "base": "main"})["number"]
    [created] = builds_of(lab, "prs", 1)
    assert created["sourceVersion"] == f"pr/{number}" and created["resolvedSourceVersion"] == head
    assert (f"event=PULL_REQUEST_CREATED trigger=pr/{number} head=refs/heads/feature base=refs/heads/main"
            in " ".join(lab.logs(created)))
    again = repo.push({"app.txt": "feature 2\n"}, "more", branch="feature")
    updated = builds_of(lab, "prs", 2)[1]
    assert updated["resolvedSourceVersion"] == again and "file=feature 2" in " ".join(lab.logs(updated))
    repo.pull_request("PUT", f"/{number}/merge", {"merge_method": "merge"})
    [merged] = builds_of(lab, "merged", 1)
    assert merged["sourceVersion"] == f"pr/{number}"
    pushed = builds_of(lab, "pushes", 3)  # the two feature pushes and the merge's push of main
    assert [b["sourceVersion"] for b in pushed][:2] == [head, again]
    assert not any(b["sourceVersion"].startswith("pr/") for b in pushed)


@pytest.mark.parametrize("groups, fragment", [
    ([[{"type": "HEAD_REF", "pattern": "main"}]], "EVENT"),
    ([[event("PUSH", "TELEPORTED")]], "TELEPORTED"),
    ([[event("PUSH"), {"type": "FILE_PATH", "pattern": "src/(unclosed"}]], "regular expression"),
])
def test_create_webhook_refuses_bad_filter_groups(lab: Lab, repo: Repo, groups: list, fragment: str) -> None:
    hooked(lab, repo, "target", None)  # made with a webhook of no groups; another one is refused
    with pytest.raises(ClientError) as raised:
        lab.codebuild.create_webhook(projectName="target")
    assert raised.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    lab.codebuild.delete_webhook(projectName="target")
    with pytest.raises(ClientError) as raised:
        lab.codebuild.create_webhook(projectName="target", filterGroups=groups)
    assert raised.value.response["Error"]["Code"] == "InvalidInputException"
    assert fragment in raised.value.response["Error"]["Message"]


def test_codecommit_and_other_sources_have_no_webhooks(lab: Lab) -> None:
    """AWS's webhooks are for GitHub, GitHub Enterprise, Bitbucket and GitLab sources (CreateWebhook's
    reference: "source code stored in a GitHub or Bitbucket repository"); CodeCommit's are refused."""
    lab.client("codecommit").create_repository(repositoryName="cc")
    lab.codebuild.create_project(
        name="cc", source={"type": "CODECOMMIT", "location": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/cc"},
        artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT, serviceRole=lab.role)
    lab.project("inline", QUICK)
    for name in ("cc", "inline"):
        with pytest.raises(ClientError) as raised:
            lab.codebuild.create_webhook(projectName=name, filterGroups=[[event("PUSH")]])
        assert raised.value.response["Error"]["Code"] == "InvalidInputException"
        assert "not supported for source type" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        lab.codebuild.create_webhook(projectName="nowhere")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.slow
@needs_bwrap
def test_in_class_mode_a_push_builds_only_projects_of_the_repositorys_account(classroom: ClassLabstack,
                                                                               tmp_path: Path) -> None:
    """Class mode: learner02 hooks a project to learner01's repository; learner01's push builds learner01's
    project only (the one account the repository belongs to, whose account id is the push's actor)."""
    owner = classroom.account("learner01")
    full_id = f"learner-{owner}/app"
    spec = buildspec({"build": {"commands": ["echo actor=$CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID"]}})
    clients = {}
    for who in ("learner02", "learner01"):  # learner02's first: its project hears each event before learner01's
        codebuild = check_responses(classroom.client("codebuild", who))
        codebuild.create_project(name="hooked", source={"type": "GITHUB", "location": f"https://github.com/{full_id}",
                                                        "buildspec": spec},
                                 artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT,
                                 serviceRole=build_role(classroom.client("iam", who)))
        codebuild.create_webhook(projectName="hooked", filterGroups=[[event("PUSH")]])
        clients[who] = SimpleNamespace(codebuild=codebuild)
    row = classroom.rows["learner01"]
    work = new_work_tree(tmp_path / "work", {"app.txt": "v1\n"})
    url = f"{classroom.endpoint}/github/{full_id}.git".replace("://", f"://{row.access_key_id}:{quote(row.secret_access_key, safe='')}@")
    git(work, "push", "--quiet", url, "main")
    [build] = builds_of(clients["learner01"], "hooked", 1)  # type: ignore[arg-type]
    assert build["buildStatus"] == "SUCCEEDED"
    assert f"actor={owner}" in log_lines(classroom.client("logs", "learner01"), build)
    assert versions(clients["learner02"], "hooked") == []  # type: ignore[arg-type]
