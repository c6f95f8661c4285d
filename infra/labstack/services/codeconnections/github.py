"""A local GitHub: ``owner/repo`` repositories served at ``<endpoint>/github/<owner>/<repo>.git``.

A repository comes into being at its first push (as if it had been made on github.com
beforehand) or through :func:`create_repository`, which works on the state dir alone so a
command line can call it with labstack stopped. GitHub is one for the whole labstack, not
per account. On a laptop anyone reaches every repository. In class mode git needs credentials
(see ``codecommit/gitauth.py``) and a repository belongs to the account that first pushed it
(:func:`claim`): other accounts' git requests and connections are refused, the instructor's not.
A repository made by the command line has no owner until its first push.
``labstack reset`` empties it with everything else, so a lab run again can push afresh.
Pull requests (``pulls.py``) are kept inside each bare repository and served, as GitHub's REST API
serves them, under ``/github/api/v3/`` (``github_api.py``), with the same access rules as git.
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

from labstack.services.codecommit.githttp import Target
from labstack.services.codecommit.repos import BareRepo

PREFIX = "/github/"
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Owner names a repository may not take: /github/api/ is the pull request API's path (github_api.PREFIX).
RESERVED_OWNERS = ("api",)
_OWNER_FILE = "labstack-owner"  # in the bare repository: the account it belongs to
_creating = threading.Lock()


def split_id(full_repository_id: str) -> tuple[str, str]:
    """(owner, repo) of ``owner/repo``; ValueError if GitHub would not accept the names."""
    owner, _, repo = full_repository_id.partition("/")
    repo = repo.removesuffix(".git")
    if not _OWNER.match(owner) or not _REPO.match(repo) or repo in (".", ".."):
        raise ValueError(f"{full_repository_id!r} is not a GitHub owner/repository name")
    if owner.lower() in RESERVED_OWNERS:
        raise ValueError(f"{full_repository_id!r}: the owner name {owner!r} is reserved (the local GitHub serves "
                         f"its API under {PREFIX}{owner.lower()}/); choose another owner")
    return owner, repo


def repository(home: Path, full_repository_id: str) -> BareRepo:
    """The bare repository behind ``owner/repo`` (it may not exist yet)."""
    owner, repo = split_id(full_repository_id)
    return BareRepo(home / "github" / owner / f"{repo}.git")


def create_repository(home: Path, full_repository_id: str) -> BareRepo:
    """Make ``owner/repo`` if it does not exist yet; return it."""
    repo = repository(home, full_repository_id)
    with _creating:
        if not repo.exists():
            repo.init()
    return repo


def remove_all(home: Path) -> None:
    """Forget every repository (``labstack reset``: a lab re-run pushes a fresh history)."""
    with _creating:
        shutil.rmtree(home / "github", ignore_errors=True)


def owner_of(repo: BareRepo) -> str | None:
    """The account ``repo`` belongs to (None: nobody's yet)."""
    try:
        return (repo.path / _OWNER_FILE).read_text().strip() or None
    except OSError:
        return None


def claim(home: Path, full_repository_id: str, account: str) -> str:
    """Make ``owner/repo`` (if it does not exist yet) owned by ``account`` unless someone owns it; the owner."""
    repo = repository(home, full_repository_id)
    with _creating:
        if not repo.exists():
            repo.init()
        owner = owner_of(repo)
        if owner is None:
            (repo.path / _OWNER_FILE).write_text(account)
            owner = account
    return owner


def reserved_for(full_repository_id: str) -> str | None:
    """The account an owner name ``learner-<account id>`` is kept for (the labs name repositories so); None
    for any other owner."""
    owner = full_repository_id.partition("/")[0]
    account = owner.removeprefix("learner-")
    return account if owner.startswith("learner-") and len(account) == 12 and account.isdigit() else None


def readable_by(home: Path, full_repository_id: str, account: str) -> bool:
    """Whether ``account``'s connections reach ``owner/repo`` in class mode (its own, or nobody's yet)."""
    return owner_of(repository(home, full_repository_id)) in (None, account)


def clone_url(endpoint: str, full_repository_id: str) -> str:
    owner, repo = split_id(full_repository_id)
    return f"{endpoint}{PREFIX}{owner}/{repo}.git"


def parse_path(environ: dict) -> tuple[str, str, str, bool] | None:
    """(``owner/repo``, the repository's URL path, the git suffix, whether it is a push) of a
    ``/github/...`` request; None if it names no repository."""
    path = environ.get("PATH_INFO", "")
    parts = path[len(PREFIX):].split("/")
    if len(parts) < 3:
        return None
    try:
        full_id = "/".join(split_id(f"{parts[0]}/{parts[1]}"))
    except ValueError:
        return None
    suffix = "/" + "/".join(parts[2:])
    pushing = suffix == "/git-receive-pack" or "service=git-receive-pack" in environ.get("QUERY_STRING", "")
    return full_id, f"{PREFIX}{parts[0]}/{parts[1]}", suffix, pushing


def locate(home: Path, environ: dict) -> Target | None:
    """Where a ``/github/...`` request goes; a push to a missing repository creates it."""
    parsed = parse_path(environ)
    if parsed is None:
        return None
    full_id, _, suffix, pushing = parsed
    repo = create_repository(home, full_id) if pushing else repository(home, full_id)
    return Target(repo, suffix, full_id)
