"""Pull requests of the local GitHub: open, update, merge, close, kept beside each bare repository.

A repository's pull requests live in ``labstack-pulls.json`` inside its bare repository (so they
persist under ``LABSTACK_HOME`` with it, and ``labstack reset`` removes them with it). Every write
takes that repository's lock (one lock per bare repository, so one learner's slow git never holds up
another's) and replaces the file whole. The rules follow GitHub's:

- a pull request asks to merge one branch (``head``) into another of the same repository (``base``);
  there must be commits between them, and one open pull request per pair;
- a push to its head branch updates an open pull request (a new revision); deleting its head or
  base branch closes it; a push that makes its head part of the base branch marks it merged;
- merging runs git itself on the bare repository: ``git merge-tree`` writes the merged tree (a
  conflict refuses the merge), ``commit-tree`` the merge commit (``merge``: two parents; ``squash``:
  one), outside the lock, and the base branch moves only if nobody moved it (or the head) meanwhile.

Each function returns the :class:`~labstack.sources.SourceChange` events it caused; the caller
publishes them on the change feed after the lock is released.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from labstack.services.codecommit.githttp import RefUpdate
from labstack.services.codecommit.repos import ZERO, BareRepo, GitError
from labstack.sources import PullRequest, SourceChange

MAX_TITLE = 256  # GitHub's limit on a pull request's title
MAX_BODY = 65536  # and on its description
MERGE_METHODS = ("merge", "squash")
_FILE = "labstack-pulls.json"
_locks: dict[str, threading.Lock] = {}  # one per bare repository's path
_locks_guard = threading.Lock()


@contextmanager
def _locked(repo: BareRepo) -> Iterator[None]:
    """Hold ``repo``'s lock: its pull requests' file is read and written by one call at a time."""
    key = os.path.realpath(repo.path)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        yield


class PullError(Exception):
    """A request GitHub would refuse: its HTTP status, message and (422) the fields at fault."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


def invalid(field: str, message: str, code: str = "invalid") -> PullError:
    """GitHub's 422 ``Validation Failed`` for one field of a pull request."""
    return PullError(422, "Validation Failed", [{"resource": "PullRequest", "field": field, "code": code,
                                                  "message": message}])


@dataclass
class Pull:
    """One pull request as the repository keeps it."""

    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    base_sha: str  # where its changes start: the merge base at its last event
    user: str
    created_at: str
    updated_at: str
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    closed_at: str | None = None
    merged_at: str | None = None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(repo: BareRepo) -> tuple[int, list[Pull]]:
    try:
        data = json.loads((repo.path / _FILE).read_text())
    except FileNotFoundError:
        return 1, []
    return data["next"], [Pull(**p) for p in data["pulls"]]


def _save(repo: BareRepo, next_number: int, pulls: list[Pull]) -> None:
    path = repo.path / _FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"next": next_number, "pulls": [dataclasses.asdict(p) for p in pulls]}))
    os.replace(tmp, path)


def _find(pulls: list[Pull], number: int) -> Pull:
    found = next((p for p in pulls if p.number == number), None)
    if found is None:
        raise PullError(404, "Not Found")
    return found


def _merge_base(repo: BareRepo, one: str, two: str) -> str:
    try:
        return repo.git("merge-base", one, two).decode().strip()
    except GitError:
        return ""  # unrelated histories


def _event(full_id: str, pull: Pull, kind: str, old: str | None = None, merge: str | None = None) -> SourceChange:
    info = PullRequest(pull.number, kind, pull.head, pull.base, pull.title, pull.user, pull.base_sha, merge)
    return SourceChange("GitHub", full_id, f"refs/heads/{pull.head}", old or pull.head_sha, pull.head_sha,
                        pull_request=info)


def _branch(repo: BareRepo, field: str, value: Any, owner: str) -> tuple[str, str]:
    """(branch, its head commit) of a ``head``/``base`` value (``owner:branch`` names this repository's owner)."""
    if not isinstance(value, str) or not value:
        raise invalid(field, f"{field} is required: the name of a branch", "missing_field")
    prefix, colon, name = value.partition(":")
    if colon and prefix != owner:
        raise invalid(field, f"{value[:100]!r}: labstack's local GitHub has no forks; name a branch of this repository")
    name = name if colon else value
    sha = repo.branches().get(name)
    if sha is None:
        raise invalid(field, f"{field} branch {name[:100]!r} does not exist in this repository")
    return name, sha


def _text(field: str, value: Any, limit: int, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid(field, f"{field} must be a non-empty string" if required else f"{field} must be a string",
                      "missing_field" if value is None else "invalid")
    if len(value) > limit:
        raise invalid(field, f"{field} is too long (maximum is {limit} characters)")
    if "\0" in value or value.encode("utf-8", "replace").decode() != value:  # no NUL, no lone surrogate: git takes neither
        raise invalid(field, f"{field} must be UTF-8 text without NUL characters")
    return value


def _one_open(pulls: list[Pull], head: str, base: str, owner: str) -> None:
    if any(p.state == "open" and p.head == head and p.base == base for p in pulls):
        raise PullError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                    "message": f"A pull request already exists for {owner}:{head}."}])


def create(repo: BareRepo, full_id: str, request: dict, user: str) -> tuple[Pull, list[SourceChange]]:
    """Open a pull request (``title``, ``head``, ``base``, ``body``) as ``user``."""
    owner = full_id.partition("/")[0]
    title = _text("title", request.get("title"), MAX_TITLE, required=True)
    body = _text("body", request.get("body"), MAX_BODY)
    with _locked(repo):
        head, head_sha = _branch(repo, "head", request.get("head"), owner)
        base, base_sha = _branch(repo, "base", request.get("base"), owner)
        if head == base:
            raise invalid("base", "head and base must be different branches")
        if repo.is_ancestor(head_sha, base_sha):
            raise PullError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                        "message": f"No commits between {base} and {head}"}])
        number, pulls = _load(repo)
        _one_open(pulls, head, base, owner)
        stamp = _now()
        pull = Pull(number, title, body, head, base, head_sha, _merge_base(repo, base_sha, head_sha), user, stamp, stamp)
        pulls.append(pull)
        _save(repo, number + 1, pulls)
    return pull, [_event(full_id, pull, "OPENED")]


def get(repo: BareRepo, number: int) -> Pull:
    """Pull request ``number`` (PullError 404 if there is none)."""
    with _locked(repo):
        return _find(_load(repo)[1], number)


def listing(repo: BareRepo, state: str = "open", head: str | None = None, base: str | None = None) -> list[Pull]:
    """The pull requests in ``state`` (open, closed, all), newest first, of one head branch (``branch`` or
    ``owner:branch``) or base branch if given."""
    head = head.rpartition(":")[2] if head is not None else None
    with _locked(repo):
        pulls = _load(repo)[1]
    return [p for p in reversed(pulls) if state in ("all", p.state) and head in (None, p.head) and base in (None, p.base)]


def mergeable(repo: BareRepo, pull: Pull) -> bool | None:
    """Whether an open pull request merges without conflicts (None once closed)."""
    if pull.state != "open":
        return None
    base_sha = repo.branches().get(pull.base)
    return base_sha is not None and _merged_tree(repo, base_sha, pull.head_sha) is not None


def _merged_tree(repo: BareRepo, base_sha: str, head_sha: str) -> str | None:
    """The tree of merging ``head_sha`` into ``base_sha`` (git merge-tree), None on a conflict."""
    try:
        out = repo.git("merge-tree", "--write-tree", "--no-messages", base_sha, head_sha).decode()
    except GitError:
        return None
    return out.split("\n", 1)[0].strip()


def edit(repo: BareRepo, full_id: str, number: int, request: dict) -> tuple[Pull, list[SourceChange]]:
    """Change a pull request's ``title``, ``body``, ``base`` or ``state`` (``closed`` closes it, ``open`` reopens it)."""
    owner = full_id.partition("/")[0]
    events: list[SourceChange] = []
    with _locked(repo):
        next_number, pulls = _load(repo)
        pull = _find(pulls, number)
        title = _text("title", request["title"], MAX_TITLE, required=True) if "title" in request else pull.title
        body = _text("body", request["body"], MAX_BODY) if "body" in request else pull.body
        state = request.get("state", pull.state)
        if state not in ("open", "closed"):
            raise invalid("state", "state must be open or closed")
        base = pull.base
        if "base" in request:
            if pull.state != "open":
                raise invalid("base", "the base branch of a closed pull request cannot be changed")
            base = _branch(repo, "base", request["base"], owner)[0]
            if base == pull.head:
                raise invalid("base", "head and base must be different branches")
        if state == "open" and pull.state == "closed":
            if pull.merged:
                raise invalid("state", "a merged pull request cannot be reopened")
            head_sha = repo.branches().get(pull.head)
            if head_sha is None or base not in repo.branches():
                raise invalid("state", "its head or base branch no longer exists: it cannot be reopened")
            _one_open(pulls, pull.head, base, owner)
            pull.head_sha = head_sha
        pull.title, pull.body, pull.base = title, body, base
        if state != pull.state:
            events.append(_reopen(repo, full_id, pull) if state == "open" else _close(full_id, pull))
        pull.updated_at = _now()
        _save(repo, next_number, pulls)
    return pull, events


def _close(full_id: str, pull: Pull) -> SourceChange:
    pull.state, pull.closed_at = "closed", _now()
    return _event(full_id, pull, "CLOSED")


def _reopen(repo: BareRepo, full_id: str, pull: Pull) -> SourceChange:
    pull.state, pull.closed_at = "open", None
    pull.base_sha = _merge_base(repo, repo.branches()[pull.base], pull.head_sha)
    return _event(full_id, pull, "REOPENED")


def merge(repo: BareRepo, full_id: str, number: int, request: dict, user: str) -> tuple[Pull, list[SourceChange]]:
    """Merge an open pull request into its base branch as ``user`` (``merge_method`` merge or squash;
    ``sha``: refuse unless it is still the head; ``commit_title``/``commit_message``: the commit's)."""
    method = request.get("merge_method", "merge")
    if method not in MERGE_METHODS:
        raise invalid("merge_method", f"merge_method must be one of {', '.join(MERGE_METHODS)} "
                                      "(labstack's local GitHub does not rebase)")
    title = _text("commit_title", request.get("commit_title"), MAX_TITLE)
    message = _text("commit_message", request.get("commit_message"), MAX_BODY)
    expected = request.get("sha")
    if expected is not None and not isinstance(expected, str):
        raise invalid("sha", "sha must be a commit id")
    with _locked(repo):
        pull = _mergeable_now(_find(_load(repo)[1], number), expected)
        base_sha = repo.branches().get(pull.base)
        if base_sha is None:
            raise PullError(405, f"Pull Request is not mergeable: base branch {pull.base} does not exist")
    # git's work runs outside the lock: the ref update below moves the base only if it is still base_sha.
    tree = _merged_tree(repo, base_sha, pull.head_sha)
    if tree is None:
        raise PullError(405, "Pull Request is not mergeable: merging it conflicts with its base branch")
    if method == "merge":
        subject = title or f"Merge pull request #{pull.number} from {full_id.partition('/')[0]}/{pull.head}"
        parents = [base_sha, pull.head_sha]
    else:
        subject = title or f"{pull.title} (#{pull.number})"
        parents = [base_sha]
    text = f"{subject}\n\n{message or pull.title}\n"
    merge_sha = repo.commit_tree(tree, parents, text, user, f"{user}@users.noreply.local")
    with _locked(repo):
        next_number, pulls = _load(repo)
        pull = _mergeable_now(_find(pulls, number), pull.head_sha)  # closed or pushed to meanwhile: refused
        if not repo.update_ref(f"refs/heads/{pull.base}", merge_sha, base_sha):
            raise PullError(409, "Base branch was modified. Review and try the merge again.")
        pull.base_sha = _merge_base(repo, base_sha, pull.head_sha)
        _mark_merged(pull, merge_sha, user)
        push = SourceChange("GitHub", full_id, f"refs/heads/{pull.base}", base_sha, merge_sha)
        events = [push, _event(full_id, pull, "MERGED", merge=merge_sha)]
        events += _follow(repo, full_id, pulls, [RefUpdate(base_sha, merge_sha, push.ref)])
        _save(repo, next_number, pulls)
    return pull, events


def _mergeable_now(pull: Pull, head_sha: str | None) -> Pull:
    """``pull`` if it is open and (when ``head_sha`` is given) its head is still ``head_sha``."""
    if pull.state != "open":
        raise PullError(405, "Pull Request is not mergeable: " + ("it is merged already" if pull.merged else "it is closed"))
    if head_sha is not None and head_sha != pull.head_sha:
        raise PullError(409, "Head branch was modified. Review and try the merge again.")
    return pull


def _mark_merged(pull: Pull, merge_sha: str, user: str | None) -> None:
    stamp = _now()
    pull.state, pull.merged, pull.merge_commit_sha, pull.merged_by = "closed", True, merge_sha, user
    pull.closed_at = pull.merged_at = pull.updated_at = stamp


def pushed(repo: BareRepo, full_id: str, updates: list[RefUpdate]) -> list[SourceChange]:
    """What a push did to the open pull requests: the events to publish."""
    with _locked(repo):
        if not (repo.path / _FILE).exists():
            return []
        next_number, pulls = _load(repo)
        events = _follow(repo, full_id, pulls, updates)
        if events:
            _save(repo, next_number, pulls)
    return events


def _follow(repo: BareRepo, full_id: str, pulls: list[Pull], updates: list[RefUpdate]) -> list[SourceChange]:
    """Update the open pull requests of ``pulls`` after branches moved; the events."""
    events = []
    for update in updates:
        new = update.new
        if not update.ref.startswith("refs/heads/"):
            continue
        branch = update.ref[len("refs/heads/"):]
        for pull in pulls:
            if pull.state != "open" or branch not in (pull.head, pull.base):
                continue
            if new == ZERO:
                events.append(_close(full_id, pull))
            elif branch == pull.head and new != pull.head_sha:
                previous, pull.head_sha, pull.updated_at = pull.head_sha, new, _now()
                base_sha = repo.branches().get(pull.base)
                pull.base_sha = _merge_base(repo, base_sha, new) if base_sha else pull.base_sha
                events.append(_event(full_id, pull, "UPDATED", old=previous))
            elif branch == pull.base and repo.is_ancestor(pull.head_sha, new):
                _mark_merged(pull, new, None)
                events.append(_event(full_id, pull, "MERGED", merge=new))
    return events
