"""Sources for the build and pipeline engines: revision R of source X as a zip plus metadata.

Three kinds of source, one interface:

- a CodeCommit repository (``codecommit_revision``), by branch, tag or commit id;
- a repository of the local GitHub behind a CodeStar connection (``github_revision``);
- a versioned S3 object (``s3_revision``), by version id or the latest.

Engines also subscribe to :func:`change_feed` to hear of every reference change (pushes and
API writes alike), which is how a pipeline source with change detection starts.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labstack.errors import AwsError
from labstack.services.codecommit.repos import ZERO, BareRepo

if TYPE_CHECKING:
    from labstack.instance import Labstack


@dataclass(frozen=True)
class PullRequest:
    """A pull request of the local GitHub, as one :class:`SourceChange` reports it.

    ``event`` is what happened to it:

    - ``"OPENED"``: it was created;
    - ``"UPDATED"``: new commits reached its source branch while it was open (a new revision; a title
      or description edit is no event);
    - ``"REOPENED"``: a closed, unmerged pull request was opened again;
    - ``"MERGED"``: it was merged into the destination branch, by the API or by a push that made its head
      part of the destination branch (it is closed then; the destination branch's move is also published
      as a plain push);
    - ``"CLOSED"``: it was closed without being merged (by the API, or its source or destination branch
      was deleted).

    ``base_commit`` is where its changes start (the merge base of the two branches when the event
    happened): its files changed are those between ``base_commit`` and ``SourceChange.new``.
    ``merge_commit`` is the commit a merge made on the destination branch (MERGED only). ``author`` is
    who opened it (the local GitHub's login: the learner's name in class mode, else the owner).
    """

    number: int
    event: str
    source_branch: str
    destination_branch: str
    title: str
    author: str
    base_commit: str = ""
    merge_commit: str | None = None


@dataclass(frozen=True)
class SourceChange:
    """A reference of a source repository moved (``new`` ZERO: it was deleted), or a pull request changed.

    ``provider`` is ``CodeCommit`` (``repository`` is its name, in ``account``/``region``)
    or ``GitHub`` (``repository`` is ``owner/repo``; account and region are None).

    ``pull_request`` is None for a push. When set, the change is a pull request event, not a push:
    ``ref`` is ``refs/heads/<source branch>``, ``new`` the pull request's head commit and ``old`` its
    previous head (equal to ``new`` unless the event is UPDATED). Listeners that only know pushes
    must skip it.
    """

    provider: str
    repository: str
    ref: str
    old: str
    new: str
    account: str | None = None
    region: str | None = None
    pull_request: PullRequest | None = None

    @property
    def branch(self) -> str | None:
        return self.ref[len("refs/heads/"):] if self.ref.startswith("refs/heads/") else None

    @property
    def deleted(self) -> bool:
        return self.new == ZERO


class ChangeFeed:
    """Callbacks run for every :class:`SourceChange`, in the thread that made the change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[SourceChange], None]] = []

    def subscribe(self, listener: Callable[[SourceChange], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[SourceChange], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def publish(self, change: SourceChange) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(change)


_feeds: weakref.WeakKeyDictionary[Labstack, ChangeFeed] = weakref.WeakKeyDictionary()
_feeds_lock = threading.Lock()


def change_feed(labstack: Labstack) -> ChangeFeed:
    """The change feed of one running labstack."""
    with _feeds_lock:
        feed = _feeds.get(labstack)
        if feed is None:
            feed = _feeds[labstack] = ChangeFeed()
        return feed


@dataclass
class SourceRevision:
    """One revision of a source: its files as a zip and what identifies it.

    ``metadata`` holds ``commitId``, ``message``, ``author``, ``branch`` for git sources,
    ``versionId`` and ``etag`` for S3; ``revision`` is the id a pipeline shows.
    """

    zip: bytes
    revision: str
    metadata: dict[str, Any] = field(default_factory=dict)


def git_revision(repo: BareRepo, spec: str, not_found: Callable[[str], AwsError]) -> SourceRevision:
    """Revision ``spec`` (branch, tag or commit id) of a bare repository as a zip."""
    commit_id = repo.resolve_commit(spec)
    if commit_id is None:
        raise not_found(spec)
    commit = repo.commit(commit_id)
    branch = spec if spec in repo.branches() else None
    return SourceRevision(
        zip=repo.archive(commit_id),
        revision=commit_id,
        metadata={
            "commitId": commit_id,
            "message": commit["message"].strip(),
            "author": commit.get("author", {}),
            "branch": branch,
        },
    )


def _provider(labstack: Labstack, service: str) -> Any:
    provider = next((p for p in labstack.providers if p.service == service), None)
    if provider is None:
        raise RuntimeError(f"labstack serves no {service} provider")
    return provider


def codecommit_revision(labstack: Labstack, account: str, region: str, repository: str, spec: str | None = None) -> SourceRevision:
    """Revision ``spec`` of CodeCommit repository ``repository`` (default: its default branch)."""
    provider = _provider(labstack, "codecommit")
    record = provider.find(account, region, repository)
    spec = spec or record.default_branch
    if not spec:
        raise AwsError("BranchDoesNotExistException", f"Repository {repository} is empty")
    revision = git_revision(
        provider.bare(account, region, repository), spec,
        lambda s: AwsError("CommitDoesNotExistException", f"{s} does not exist in repository {repository}"),
    )
    revision.metadata.update(repositoryName=repository, repositoryId=record.repository_id)
    return revision


def github_revision(labstack: Labstack, full_repository_id: str, spec: str, account: str | None = None) -> SourceRevision:
    """Revision ``spec`` of ``owner/repo`` in the local GitHub; in class mode ``account`` (a connection's)
    reaches its own repositories only."""
    from labstack.services.codeconnections import github

    try:
        repo = github.repository(labstack.settings.home, full_repository_id)
    except ValueError as exc:
        raise AwsError("InvalidInputException", str(exc)) from None
    foreign = (account is not None and labstack.settings.class_mode
               and not github.readable_by(labstack.settings.home, full_repository_id, account))
    if not repo.exists() or foreign:
        raise AwsError("RepositoryNotFoundException", f"GitHub repository {full_repository_id} does not exist")
    revision = git_revision(
        repo, spec, lambda s: AwsError("CommitDoesNotExistException", f"{s} does not exist in {full_repository_id}")
    )
    revision.metadata["fullRepositoryId"] = full_repository_id
    return revision


def s3_revision(labstack: Labstack, account: str, region: str, bucket: str, key: str, version_id: str | None = None,
                s3: Any = None) -> SourceRevision:
    """An S3 object (a zip, as CodePipeline's S3 source expects) at ``version_id`` or its latest, read with
    ``s3`` (a service role's client) or labstack's own."""
    from botocore.exceptions import ClientError

    s3 = s3 or labstack.clients.get("s3", account, region)
    args = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    try:
        obj = s3.get_object(**args)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(error.get("Code", "NoSuchKey"), error.get("Message", f"s3://{bucket}/{key} cannot be read")) from None
    body = obj["Body"].read()
    etag = obj.get("ETag", "").strip('"')
    version = obj.get("VersionId") or "null"
    return SourceRevision(zip=body, revision=version if version != "null" else etag,
                          metadata={"bucket": bucket, "key": key, "versionId": version, "etag": etag})
