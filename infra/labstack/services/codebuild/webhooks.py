"""CodeBuild webhooks: a project whose source is a repository of the local GitHub builds on its own when
a push or a pull request event passes the webhook's filter groups, without a pipeline.

What AWS documents, and labstack follows:

- webhooks are for GitHub, GitHub Enterprise, Bitbucket and GitLab sources; labstack serves GitHub
  (``https://github.com/owner/repo`` is the local GitHub's ``owner/repo``). CodeCommit has no webhooks
  on AWS: CreateWebhook refuses a CODECOMMIT source as any source type without webhooks;
- ``filterGroups``: a build starts when any group passes, and a group passes when each of its filters
  does; every group names its EVENTs (``PUSH``, ``PULL_REQUEST_CREATED|UPDATED|REOPENED|MERGED|CLOSED``);
  the other filters are regular expressions on the event's ACTOR_ACCOUNT_ID, HEAD_REF, BASE_REF (pull
  requests only), FILE_PATH (any changed file) and COMMIT_MESSAGE (the head commit's);
  ``excludeMatchedPattern`` turns a filter around. Patterns are matched by ``patterns.found`` with a
  time limit per match, per webhook and per account and event (``ACCOUNT_SECONDS``): a catastrophic pattern
  leaves its filter undecided, which does not pass (no build), and never hangs labstack; an account's
  webhooks left unmatched when its time for the event is spent start nothing for it (a warning names them);
- the build: ``sourceVersion`` is the pushed commit (``pr/<number>`` for a pull request event),
  ``initiator`` ``GitHub-Hookshot/…``, and the ``CODEBUILD_WEBHOOK_*`` variables are set; with
  ``buildType`` BUILD_BATCH a batch build (``batches.py``) of the event's head commit starts instead.

Events are heard on ``labstack.sources.change_feed`` and matched in a thread of their own, so a push
never waits for the filters.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from labstack.errors import AwsError
from labstack.services.codebuild.patterns import MATCH_SECONDS, PatternError, compile_pattern, found
from labstack.services.codebuild.sources import github_repository
from labstack.services.codecommit.repos import ZERO, BareRepo, GitError
from labstack.sources import SourceChange

log = logging.getLogger("labstack.codebuild")
WEBHOOK_SOURCES = ("GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "GITLAB", "GITLAB_SELF_MANAGED")
PULL_REQUEST_EVENTS = {"OPENED": "PULL_REQUEST_CREATED", "UPDATED": "PULL_REQUEST_UPDATED",
                       "REOPENED": "PULL_REQUEST_REOPENED", "MERGED": "PULL_REQUEST_MERGED",
                       "CLOSED": "PULL_REQUEST_CLOSED"}
# The events AWS takes for GitHub; releases and workflow jobs never happen in the local GitHub.
EVENTS = ("PUSH", *PULL_REQUEST_EVENTS.values(), "RELEASED", "PRERELEASED", "WORKFLOW_JOB_QUEUED")
MAX_GROUPS = 50  # filter groups a webhook may have (labstack's bound)
MAX_FILTERS = 20  # filters a group may have
MAX_FILES = 1000  # changed paths a FILE_PATH filter looks at
WEBHOOK_SECONDS = 1.0  # matching one webhook against one event, at most: hostile patterns delay others little
# Matching one event against all the webhooks of one account, at most: an account's webhooks not matched by then
# start no build for the event (logged), so many hostile webhooks hold up the one matching thread for no longer.
ACCOUNT_SECONDS = 3.0


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidInputException", message)


def check(project: dict, request: dict) -> None:
    """CreateWebhook's and UpdateWebhook's rules for ``project`` and ``request``: AWS's, and what labstack
    cannot do said plainly."""
    source = project["source"]
    if source["type"] not in WEBHOOK_SOURCES:
        raise _invalid(f"Webhooks are not supported for source type {source['type']}: CodeBuild webhooks "
                       f"work with {', '.join(WEBHOOK_SOURCES)} sources")
    if source["type"] != "GITHUB" or github_repository(source.get("location", "")) is None:
        raise _invalid(f"labstack serves webhooks for GITHUB sources of its local GitHub "
                       f"(https://github.com/<owner>/<repo>), not {source['type']} {source.get('location', '')}")
    if request.get("manualCreation"):
        raise _invalid("manualCreation: labstack's local GitHub has no repository webhook settings to paste a "
                       "payload URL into; create the webhook without manualCreation")
    if request.get("scopeConfiguration"):
        raise _invalid("scopeConfiguration: labstack serves repository webhooks only, not organization or global ones")
    policy = request.get("pullRequestBuildPolicy") or {}
    if policy.get("requiresCommentApproval", "DISABLED") != "DISABLED":
        raise _invalid("pullRequestBuildPolicy: the local GitHub has no pull request comments to approve builds "
                       "with; use requiresCommentApproval DISABLED")
    if request.get("buildType") == "RUNNER_BUILDKITE_BUILD":
        raise _invalid("buildType RUNNER_BUILDKITE_BUILD: labstack runs no Buildkite runners; use BUILD")
    if request.get("branchFilter"):
        _check_pattern(request["branchFilter"], "branchFilter")
    groups = request.get("filterGroups") or []
    if len(groups) > MAX_GROUPS:
        raise _invalid(f"A webhook has at most {MAX_GROUPS} filter groups")
    for number, group in enumerate(groups, 1):
        if not group or len(group) > MAX_FILTERS:
            raise _invalid(f"Filter group {number} must have between 1 and {MAX_FILTERS} filters")
        if not any(f["type"] == "EVENT" for f in group):
            raise _invalid(f"Filter group {number}: at least one filter in a group must be of type EVENT")
        for webhook_filter in group:
            if webhook_filter["type"] == "EVENT":
                unknown = [e for e in _events(webhook_filter["pattern"]) if e not in EVENTS]
                if unknown or not _events(webhook_filter["pattern"]):
                    raise _invalid(f"Filter group {number}: invalid EVENT pattern {webhook_filter['pattern']!r}; "
                                   f"events are {', '.join(EVENTS)}")
            else:
                _check_pattern(webhook_filter["pattern"], f"Filter group {number}: {webhook_filter['type']}")


def _check_pattern(pattern: str, where: str) -> None:
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise _invalid(f"{where}: {exc}") from None


def _events(pattern: str) -> list[str]:
    return [e.strip() for e in pattern.split(",") if e.strip()]


def record(request: dict, previous: dict | None = None) -> dict:
    """The project's ``webhook`` (the ``Webhook`` shape) after CreateWebhook (``previous`` None) or
    UpdateWebhook."""
    now = dt.datetime.now(dt.timezone.utc)
    webhook = dict(previous or {"buildType": "BUILD", "manualCreation": False, "status": "ACTIVE",
                                "lastModifiedSecret": now})
    for key in ("branchFilter", "filterGroups", "buildType", "pullRequestBuildPolicy"):
        if key in request:
            webhook[key] = request[key]
    if request.get("rotateSecret"):
        webhook["lastModifiedSecret"] = now
    for key in ("filterGroups", "branchFilter"):
        if key in webhook and not webhook[key]:
            del webhook[key]
    return webhook


@dataclass(frozen=True)
class Event:
    """One webhook event as the filters read it."""

    event: str
    head_ref: str
    base_ref: str | None
    actor: str
    files: tuple[str, ...]
    message: str
    commit: str
    previous: str
    pull_request: int | None = None

    def values(self, kind: str) -> list[str]:
        """What a filter of type ``kind`` matches against (nothing: the filter does not apply)."""
        return {"HEAD_REF": [self.head_ref], "BASE_REF": [self.base_ref] if self.base_ref else [],
                "ACTOR_ACCOUNT_ID": [self.actor], "FILE_PATH": list(self.files),
                "COMMIT_MESSAGE": [self.message]}.get(kind, [])

    @property
    def trigger(self) -> str:
        """CODEBUILD_WEBHOOK_TRIGGER: ``pr/N``, ``branch/name`` or ``tag/name``."""
        if self.pull_request is not None:
            return f"pr/{self.pull_request}"
        for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
            if self.head_ref.startswith(prefix):
                return f"{kind}/{self.head_ref[len(prefix):]}"
        return self.head_ref

    @property
    def source_version(self) -> str:
        return f"pr/{self.pull_request}" if self.pull_request is not None else self.commit

    def environment(self) -> dict[str, str]:
        """The ``CODEBUILD_WEBHOOK_*`` variables of a build this event started."""
        return {"CODEBUILD_WEBHOOK_EVENT": self.event, "CODEBUILD_WEBHOOK_HEAD_REF": self.head_ref,
                "CODEBUILD_WEBHOOK_BASE_REF": self.base_ref or "", "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID": self.actor,
                "CODEBUILD_WEBHOOK_PREV_COMMIT": "" if self.previous == ZERO else self.previous,
                "CODEBUILD_WEBHOOK_TRIGGER": self.trigger}


def event_of(change: SourceChange, repo: BareRepo, owner: str) -> Event | None:
    """The webhook event a change of the local GitHub is (None: no event, e.g. a deleted branch); ``owner``
    is its ACTOR_ACCOUNT_ID, for a push and a pull request event alike."""
    pull = change.pull_request
    if pull is None and change.deleted:
        return None
    commit_id = repo.resolve_commit(change.new)  # an annotated tag's commit
    if commit_id is None:
        return None
    try:
        head = repo.commit(commit_id)
        before = (pull.base_commit or None) if pull else (None if change.old == ZERO else change.old)
        if before is None and pull is None and head["parents"]:
            before = head["parents"][0]  # a new branch or tag: what its head commit changed
        files = tuple(c.path for c in repo.changes(before, commit_id)[:MAX_FILES])
    except GitError:
        log.warning("webhook: cannot read %s of %s", change.new, change.repository)
        return None
    if pull is None:
        return Event("PUSH", change.ref, None, owner, files, head["message"].strip(), commit_id, change.old)
    return Event(PULL_REQUEST_EVENTS[pull.event], f"refs/heads/{pull.source_branch}",
                 f"refs/heads/{pull.destination_branch}", owner, files, head["message"].strip(),
                 commit_id, change.old, pull.number)


def passes(webhook: dict, event: Event, seconds: float = WEBHOOK_SECONDS) -> bool:
    """Whether ``event`` starts a build of a project with ``webhook``: its branchFilter, then any filter
    group whose filters all pass (no groups: every push and pull request event). Matching this webhook
    takes at most ``seconds``; a filter left undecided (its match ran out of time) does not pass."""
    deadline = time.monotonic() + seconds
    branch_filter = webhook.get("branchFilter")
    if branch_filter:
        branch = event.head_ref[len("refs/heads/"):] if event.head_ref.startswith("refs/heads/") else None
        if branch is None or not _matches(branch_filter, [branch], deadline):
            return False
    groups = webhook.get("filterGroups") or []
    if not groups:
        return event.event in ("PUSH", *PULL_REQUEST_EVENTS.values())
    return any(all(_filter_passes(f, event, deadline) for f in group) for group in groups)


def _matches(pattern: str, values: list[str], deadline: float) -> bool | None:
    """Whether ``pattern`` matches any of ``values``; None if time ran out first."""
    compiled = compile_pattern(pattern)
    for value in values:
        left = deadline - time.monotonic()
        hit = found(compiled, value, min(MATCH_SECONDS, left)) if left > 0 else None
        if hit is None or hit:
            return hit
    return False


def _filter_passes(webhook_filter: dict, event: Event, deadline: float) -> bool:
    if webhook_filter["type"] == "EVENT":
        matched: bool | None = event.event in _events(webhook_filter["pattern"])
    else:
        matched = _matches(webhook_filter["pattern"], event.values(webhook_filter["type"]), deadline)
    return matched is not None and matched != bool(webhook_filter.get("excludeMatchedPattern"))


@dataclass
class Listener:
    """Hears the change feed and starts the builds: ``projects()`` lists (account, region, project) of
    every project with a webhook; ``start(account, region, project, event)`` starts one build;
    ``repository(owner/repo)`` is the local GitHub's bare repository and ``owner_of`` its owner;
    ``readable(owner/repo, account)`` says whether the account's builds may read it."""

    projects: Callable[[], list[tuple[str, str, dict]]]
    start: Callable[[str, str, dict, Event], None]
    repository: Callable[[str], BareRepo]
    owner_of: Callable[[str], str]
    readable: Callable[[str, str], bool]
    inbox: queue.Queue = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None

    def heard(self, change: SourceChange) -> None:
        """The change-feed callback: queue GitHub changes, never wait."""
        if change.provider == "GitHub":
            self.inbox.put(change)

    def run(self) -> None:
        """Start the matching thread."""
        self.thread = threading.Thread(target=self._loop, name="codebuild-webhooks", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.inbox.put(None)

    def _loop(self) -> None:
        while True:
            change = self.inbox.get()
            if change is None:
                return
            try:
                self._handle(change)
            except Exception:  # one bad event never stops the webhooks
                log.exception("webhook: the change %s of %s was not handled", change.ref, change.repository)

    def _handle(self, change: SourceChange) -> None:
        wanted = change.repository.lower()
        hooked = [(a, r, p) for a, r, p in self.projects()
                  if (github_repository(p["source"].get("location", "")) or "").lower() == wanted]
        if not hooked:
            return
        event = event_of(change, self.repository(change.repository), self.owner_of(change.repository))
        if event is None:
            return
        spent: dict[str, float] = {}  # each account's matching time for this event
        for account, region, project in hooked:
            webhook = project.get("webhook")  # None: deleted since
            if not webhook or not self.readable(change.repository, account):
                continue
            left = ACCOUNT_SECONDS - spent.get(account, 0.0)
            if left <= 0:
                log.warning("webhook: project %s of account %s not matched against %s of %s: the account's "
                            "webhooks used their %.0f s for this event", project["name"], account, event.event,
                            change.repository, ACCOUNT_SECONDS)
                continue
            began = time.monotonic()
            passed = passes(webhook, event, min(WEBHOOK_SECONDS, left))
            spent[account] = spent.get(account, 0.0) + time.monotonic() - began
            if passed:
                self.start(account, region, project, event)


def initiator() -> str:
    """A webhook build's ``initiator``, as AWS names GitHub's deliveries."""
    return f"GitHub-Hookshot/{uuid.uuid4().hex[:7]}"
