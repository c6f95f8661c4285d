"""Attacks on the local GitHub's pull request API and on CodeBuild webhooks, against a real labstack:
a pull request whose title is a script is never a page of labstack's origin, another learner's repository
names stay unknown, the API's own path cannot be taken by a repository, and a webhook neither reaches
another learner's repository nor names a learner's login as an account id."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from tests.support import raw
from tests.support.classmode import ClassLabstack, needs_bwrap
from tests.support.codebuild import ENVIRONMENT, build_role, buildspec, log_lines
from tests.support.gitcli import git, new_work_tree
from tests.support.responses import check_responses
from tests.support.server import ROOT, LabstackProcess, server_env, start_labstack
from tests.test_codebuild_webhooks import builds_of, event
from tests.test_github_pulls import call, ok, pushed_repo

pytest_plugins = ["tests.support.classmode_fixtures"]
SANDBOX = {"content-security-policy": "sandbox", "x-content-type-options": "nosniff"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    server = start_labstack(tmp_path_factory.mktemp("github-hardening"), LABSTACK_PROVIDERS="")
    yield server
    server.stop()


def sandboxed(reply: raw.Reply) -> bool:
    return all(reply.headers.get(name) == value for name, value in SANDBOX.items())


def test_a_pull_request_with_a_script_for_a_title_is_served_sandboxed(hub: LabstackProcess, tmp_path: Path) -> None:
    """Learner text (a title, a body) in an answer of labstack's origin: every route's answer carries
    Content-Security-Policy: sandbox and nosniff, so a browser never runs it as labstack's page."""
    endpoint = hub.endpoint
    pushed_repo(endpoint, tmp_path, "laptop/xss")
    script = "<script>fetch('/_labstack/reset', {method: 'POST'})</script>"
    created = call(endpoint, "POST", "laptop/xss/pulls", {"title": script, "body": script, "head": "feature", "base": "main"})
    assert ok(created, 201)["title"] == script and sandboxed(created)
    for reply in (call(endpoint, "GET", "laptop/xss/pulls/1"), call(endpoint, "GET", "laptop/xss/pulls"),
                  call(endpoint, "GET", "laptop/xss/pulls/99"),
                  raw.send(endpoint, "/github/laptop/xss.git/info/refs?service=git-upload-pack", {}, b"", method="GET")):
        assert sandboxed(reply), (reply.status, reply.headers)


def test_the_owner_name_api_is_reserved_for_the_api(hub: LabstackProcess, tmp_path: Path) -> None:
    """A repository ``api/v3`` would sit at the API's own path /github/api/v3: neither a push nor
    ``labstack github create`` makes it, and the command says why."""
    work = new_work_tree(tmp_path / "work", {"a.txt": "a\n"})
    pushed = git(work, "push", "--quiet", f"{hub.endpoint}/github/api/v3.git", "main", check=False)
    assert pushed.returncode != 0
    assert not (hub.settings.home / "github" / "api").exists()
    env = {**server_env(), "PYTHONPATH": str(ROOT / "infra"), "LABSTACK_HOME": str(hub.settings.home)}
    made = subprocess.run([sys.executable, "-m", "labstack.cli", "github", "create", "api/v3"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 2 and "owner name 'api' is reserved" in made.stderr, made.stderr
    assert not (hub.settings.home / "github" / "api").exists()


def basic(classroom: ClassLabstack, who: str) -> tuple[str, str]:
    row = classroom.rows[who]
    return row.access_key_id, row.secret_access_key


@pytest.mark.slow
@needs_bwrap
def test_in_class_mode_another_learners_repository_is_not_found_and_cannot_be_hooked(
        classroom: ClassLabstack, tmp_path: Path) -> None:
    """GitHub answers 404 for a private repository one cannot see
    (https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api#404-not-found-for-an-existing-resource):
    learner02 learns nothing of learner01's repository from the pull request API, and CreateWebhook of a project
    on it is refused (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateWebhook.html lists
    OAuthProviderException). learner01's own webhook on a pull request event has learner01's account id as
    CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID, as a push has
    (https://docs.aws.amazon.com/codebuild/latest/userguide/github-webhook-events-console.html)."""
    owner = classroom.account("learner01")
    full_id = f"learner-{owner}/hidden"
    pushed_repo(classroom.endpoint, tmp_path, full_id, auth=basic(classroom, "learner01"))
    spy = basic(classroom, "learner02")
    missing = call(classroom.endpoint, "GET", f"learner-{owner}/nothing-here/pulls", auth=spy)
    for method, path, body in (("GET", f"{full_id}/pulls", None), ("GET", f"{full_id}/pulls/1", None),
                               ("POST", f"{full_id}/pulls", {"title": "t", "head": "feature", "base": "main"}),
                               ("PUT", f"{full_id}/pulls/1/merge", {})):
        reply = call(classroom.endpoint, method, path, body, auth=spy)
        assert (reply.status, reply.json()) == (missing.status, missing.json()) == (404, {"message": "Not Found"}), path

    spec = buildspec({"build": {"commands": ["echo actor=$CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID"]}})
    clients = {}
    for who in ("learner02", "learner01"):
        codebuild = check_responses(classroom.client("codebuild", who))
        codebuild.create_project(name="hooked", source={"type": "GITHUB", "location": f"https://github.com/{full_id}",
                                                        "buildspec": spec},
                                 artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT,
                                 serviceRole=build_role(classroom.client("iam", who)))
        clients[who] = SimpleNamespace(codebuild=codebuild)
    with pytest.raises(ClientError) as refused:
        clients["learner02"].codebuild.create_webhook(projectName="hooked", filterGroups=[[event("PUSH")]])
    assert refused.value.response["Error"]["Code"] == "OAuthProviderException"
    assert full_id in refused.value.response["Error"]["Message"]
    clients["learner01"].codebuild.create_webhook(projectName="hooked", filterGroups=[[event("PULL_REQUEST_CREATED")]])
    ok(call(classroom.endpoint, "POST", f"{full_id}/pulls", {"title": "t", "head": "feature", "base": "main"},
            auth=basic(classroom, "learner01")), 201)
    [build] = builds_of(clients["learner01"], "hooked", 1)  # type: ignore[arg-type]
    assert build["buildStatus"] == "SUCCEEDED" and build["sourceVersion"] == "pr/1"
    assert f"actor={owner}" in log_lines(classroom.client("logs", "learner01"), build)
