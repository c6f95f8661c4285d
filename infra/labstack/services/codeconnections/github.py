"""A local GitHub: ``owner/repo`` repositories served at ``<endpoint>/github/<owner>/<repo>.git``.

A repository comes into being at its first push (as if it had been made on github.com
beforehand) or through :func:`create_repository`, which works on the state dir alone so a
command line can call it with labstack stopped. GitHub is one for the whole labstack, not
per account: any account's connection reaches every repository, as a GitHub App would.
``labstack reset`` empties it with everything else, so a lab run again can push afresh.
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
_creating = threading.Lock()


def split_id(full_repository_id: str) -> tuple[str, str]:
    """(owner, repo) of ``owner/repo``; ValueError if GitHub would not accept the names."""
    owner, _, repo = full_repository_id.partition("/")
    repo = repo.removesuffix(".git")
    if not _OWNER.match(owner) or not _REPO.match(repo) or repo in (".", ".."):
        raise ValueError(f"{full_repository_id!r} is not a GitHub owner/repository name")
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


def clone_url(endpoint: str, full_repository_id: str) -> str:
    owner, repo = split_id(full_repository_id)
    return f"{endpoint}{PREFIX}{owner}/{repo}.git"


def locate(home: Path, environ: dict) -> Target | None:
    """Where a ``/github/...`` request goes; a push to a missing repository creates it."""
    parts = environ.get("PATH_INFO", "")[len(PREFIX):].split("/")
    if len(parts) < 3:
        return None
    try:
        full_id = "/".join(split_id(f"{parts[0]}/{parts[1]}"))
    except ValueError:
        return None
    suffix = "/" + "/".join(parts[2:])
    pushing = suffix == "/git-receive-pack" or "service=git-receive-pack" in environ.get("QUERY_STRING", "")
    repo = create_repository(home, full_id) if pushing else repository(home, full_id)
    return Target(repo, suffix, full_id)
