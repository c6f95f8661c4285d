"""What starts a pipeline besides StartPipelineExecution.

- A change to a CodeCommit branch that a source action watches: with PollForSourceChanges
  (the API's default) the pipeline notices it as a poll would (``PollForSourceChanges``);
  without it, an EventBridge rule whose target is the pipeline starts it (``CloudWatchEvent``).
- A push to a repository of the local GitHub that a CodeStarSourceConnection action watches:
  V2 trigger filters (branches, tags, file paths) decide when the pipeline declares triggers
  for that action (``WebhookV2``); otherwise a push to its branch, unless DetectChanges is
  false (``Webhook``).
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


def _changed_files(labstack: Any, change: SourceChange) -> list[str]:
    from labstack.services.codeconnections import github

    repo = github.repository(labstack.settings.home, change.repository)
    before = None if change.old == ZERO else change.old
    return [c.path for c in repo.changes(before, change.new)]


def starts_for(labstack: Any, declaration: dict, change: SourceChange) -> list[Start]:
    """The executions ``change`` starts for one pipeline (at most one per source action). A CodeCommit
    source that does not poll is started by an EventBridge rule instead, when one matches the change."""
    if change.deleted or change.pull_request is not None:
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
                if any(push_matches(p, change, files) for t in triggers for p in t["gitConfiguration"].get("push", [])):
                    found.append(Start(action["name"], change.new, "WebhookV2", config.get("ConnectionArn", "")))
            elif change.branch == config.get("BranchName") and config.get("DetectChanges", "true").lower() == "true":
                found.append(Start(action["name"], change.new, "Webhook", config.get("ConnectionArn", "")))
    return found


def s3_polled(declaration: dict) -> list[dict]:
    """The S3 source actions of a pipeline that poll for changes."""
    return [a for a in declaration["stages"][0]["actions"]
            if a["actionTypeId"]["provider"] == "S3" and a["actionTypeId"]["category"] == "Source"
            and a.get("configuration", {}).get("PollForSourceChanges", "true").lower() == "true"]
