"""What starts a pipeline besides StartPipelineExecution.

- A change to a CodeCommit branch that a source action watches: with PollForSourceChanges
  (the API's default) the pipeline notices it as a poll would (``PollForSourceChanges``);
  without it, an EventBridge rule whose target is the pipeline starts it (``CloudWatchEvent``).
- A push to a repository of the local GitHub that a CodeStarSourceConnection action watches:
  V2 trigger filters (branches, tags, file paths) decide when the pipeline declares triggers
  for that action (``WebhookV2``); otherwise a push to its branch, unless DetectChanges is
  false (``Webhook``).
- A pull request of the local GitHub opened, updated or closed (merged or not): V2 ``pullRequest``
  filters (events, destination branches, the files it changes) start the pipeline at the pull
  request's source commit (``WebhookV2``); without such a filter pull requests start nothing.
- A new version of an S3 source object, found by polling once a lab minute.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from labstack.services.codecommit.repos import ZERO
from labstack.services.codepipeline.globs import matches
from labstack.sources import SourceChange


@dataclass(frozen=True)
class Start:
    """An execution to start: which source action the change is for, at which revision, why."""

    action: str
    revision: str
    trigger_type: str
    detail: str


def _passes(criteria: dict | None, values: list[str]) -> bool:
    """Whether any of ``values`` is included and not excluded by ``criteria`` (trigger-filter globs,
    see ``globs``)."""
    if criteria is None:
        return True
    includes = criteria.get("includes")
    excludes = criteria.get("excludes", [])
    return any((includes is None or any(matches(p, v) for p in includes))
               and not any(matches(p, v) for p in excludes) for v in values)


def push_matches(push: dict, change: SourceChange, changed_files: Any) -> bool:
    """Whether one git push filter fires for ``change``; ``changed_files()`` lists the paths."""
    if change.ref.startswith("refs/tags/"):
        return "tags" in push and _passes(push["tags"], [change.ref[len("refs/tags/"):]])
    if change.branch is None or "tags" in push:
        return False
    if not _passes(push.get("branches"), [change.branch]):
        return False
    return "filePaths" not in push or _passes(push["filePaths"], changed_files())


# the pull request events of the local GitHub (labstack.sources.PullRequest) as a pullRequest filter names
# them; a reopened pull request is none of AWS's three ("all other pull request events are ignored")
_PULL_REQUEST_EVENTS = {"OPENED": "OPEN", "UPDATED": "UPDATED", "MERGED": "CLOSED", "CLOSED": "CLOSED"}


def pull_request_matches(pull_filter: dict, change: SourceChange, changed_files: Any) -> bool:
    """Whether one pullRequest filter fires for a pull request event: its ``events`` (all three when absent),
    ``branches`` (the pull request's destination branch) and ``filePaths`` (the files it changes)."""
    pull = change.pull_request
    event = _PULL_REQUEST_EVENTS.get(pull.event) if pull is not None else None
    if event is None or event not in pull_filter.get("events", _PULL_REQUEST_EVENTS.values()):
        return False
    if not _passes(pull_filter.get("branches"), [pull.destination_branch]):
        return False
    return "filePaths" not in pull_filter or _passes(pull_filter["filePaths"], changed_files())


def _changed_files(labstack: Any, change: SourceChange) -> list[str]:
    """The files a push changed, or those a pull request changes (since where it starts)."""
    from labstack.services.codeconnections import github

    repo = github.repository(labstack.settings.home, change.repository)
    if change.pull_request is not None:
        before = change.pull_request.base_commit or None
    else:
        before = None if change.old == ZERO else change.old
    return [c.path for c in repo.changes(before, change.new)]


def starts_for(labstack: Any, declaration: dict, change: SourceChange) -> list[Start]:
    """The executions ``change`` starts for one pipeline (at most one per source action). A CodeCommit
    source that does not poll is started by an EventBridge rule instead, when one matches the change."""
    if change.deleted:
        return []
    found = []
    for action in declaration["stages"][0]["actions"]:
        provider = action["actionTypeId"]["provider"]
        config = action.get("configuration", {})
        if provider == "CodeCommit" and change.provider == "CodeCommit":
            if config.get("RepositoryName") != change.repository or config.get("BranchName") != change.branch:
                continue
            repo_arn = f"arn:aws:codecommit:{change.region}:{change.account}:{change.repository}"
            if config.get("PollForSourceChanges", "true").lower() == "true":
                found.append(Start(action["name"], change.new, "PollForSourceChanges", repo_arn))
        elif provider == "CodeStarSourceConnection" and change.provider == "GitHub":
            if config.get("FullRepositoryId") != change.repository:
                continue
            triggers = [t for t in declaration.get("triggers", [])
                        if t["gitConfiguration"]["sourceActionName"] == action["name"]]
            if declaration.get("pipelineType") == "V2" and triggers:
                files = functools.lru_cache(maxsize=1)(lambda: _changed_files(labstack, change))
                kind, matches_one = (("pullRequest", pull_request_matches) if change.pull_request is not None
                                     else ("push", push_matches))
                if any(matches_one(f, change, files) for t in triggers for f in t["gitConfiguration"].get(kind, [])):
                    found.append(Start(action["name"], change.new, "WebhookV2", config.get("ConnectionArn", "")))
            elif (change.pull_request is None and change.branch == config.get("BranchName")
                  and config.get("DetectChanges", "true").lower() == "true"):
                found.append(Start(action["name"], change.new, "Webhook", config.get("ConnectionArn", "")))
    return found


def s3_polled(declaration: dict) -> list[dict]:
    """The S3 source actions of a pipeline that poll for changes."""
    return [a for a in declaration["stages"][0]["actions"]
            if a["actionTypeId"]["provider"] == "S3" and a["actionTypeId"]["category"] == "Source"
            and a.get("configuration", {}).get("PollForSourceChanges", "true").lower() == "true"]
