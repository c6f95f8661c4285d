"""Bare git repositories on disk and the git plumbing labstack reads and writes them with.

Every operation runs the stock ``git`` CLI (``hash-object``, ``mktree``, ``commit-tree``,
``update-ref``, ``cat-file``…) on a bare repository, so what the API writes is exactly
what ``git clone`` and ``git pull`` see, and what ``git push`` stores the API reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ZERO = "0" * 40
SHA = re.compile(r"^[0-9a-f]{40}$")
MODES = {"NORMAL": "100644", "EXECUTABLE": "100755", "SYMLINK": "120000"}
MODE_NAMES = {v: k for k, v in MODES.items()}
_QUIET_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.devnull, "LC_ALL": "C"}


class GitError(Exception):
    """A git command failed; ``stderr`` says why."""

    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} exited {code}: {stderr.strip()}")
        self.stderr = stderr


def git(repo: Path | None, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run ``git`` (in bare repository ``repo`` when given); stdout, or :class:`GitError`."""
    command = ["git"] + ([f"--git-dir={repo}"] if repo is not None else []) + list(args)
    full_env = {**os.environ, **_QUIET_ENV, **(env or {})}
    proc = subprocess.run(command, input=data, capture_output=True, env=full_env, check=False)
    if proc.returncode != 0:
        raise GitError(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


@dataclass(frozen=True)
class Entry:
    """One entry of a tree: mode (``100644``…), type (``blob``/``tree``/``commit``), id, path."""

    mode: str
    type: str
    sha: str
    path: str


@dataclass(frozen=True)
class Change:
    """One file changed between two commits (``A``dded, ``M``odified, ``D``eleted)."""

    status: str
    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str
    path: str


class BareRepo:
    """A bare repository at ``path`` and what labstack asks of it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file()

    def init(self) -> None:
        """Create the empty bare repository (any stale directory of that name is replaced)."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        git(None, "init", "--bare", "--quiet", str(self.path))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def git(self, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        return git(self.path, *args, data=data, env=env)

    # --- references -------------------------------------------------------------------
    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        """Every reference under ``prefix`` and the object it points at."""
        out = self.git("for-each-ref", "--format=%(objectname) %(refname)", prefix).decode()
        return {ref: sha for sha, _, ref in (line.partition(" ") for line in out.splitlines())}

    def branches(self) -> dict[str, str]:
        """Branch name -> commit id."""
        return {ref[len("refs/heads/"):]: sha for ref, sha in self.refs("refs/heads/").items()}

    def head_branch(self) -> str | None:
        """The branch HEAD names (whether or not it exists yet)."""
        try:
            ref = self.git("symbolic-ref", "-q", "HEAD").decode().strip()
        except GitError:
            return None
        return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else None

    def set_head(self, branch: str) -> None:
        self.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")

    def settle_default(self, current: str | None, created: list[str]) -> str | None:
        """The default branch after a change: ``current`` while it exists, else the first
        branch just created (else any branch); HEAD follows it so clones check it out."""
        branches = self.branches()
        if current in branches:
            return current
        chosen = next((b for b in created if b in branches), None) or next(iter(sorted(branches)), None)
        if chosen:
            self.set_head(chosen)
        return chosen

    def update_ref(self, ref: str, new: str, old: str) -> bool:
        """Move ``ref`` from ``old`` to ``new`` atomically (ZERO: create / delete); False if it moved meanwhile."""
        try:
            if new == ZERO:
                self.git("update-ref", "-d", ref, old)
            else:
                self.git("update-ref", ref, new, old)
        except GitError:
            return False
        return True

    # --- objects ----------------------------------------------------------------------
    def resolve_commit(self, spec: str) -> str | None:
        """The commit ``spec`` (id, branch, ref) names, or None."""
        if not spec or spec.startswith("-"):
            return None
        try:
            return self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}").decode().strip()
        except GitError:
            return None

    def object_type(self, sha: str) -> str | None:
        if not SHA.match(sha):
            return None
        try:
            return self.git("cat-file", "-t", sha).decode().strip()
        except GitError:
            return None

    def commit(self, sha: str) -> dict:
        """A commit as CodeCommit describes it (``Commit`` shape)."""
        raw = self.git("cat-file", "commit", sha).decode(errors="replace")
        header, _, message = raw.partition("\n\n")
        info: dict = {"commitId": sha, "parents": [], "message": message, "additionalData": ""}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                info["treeId"] = value
            elif key == "parent":
                info["parents"].append(value)
            elif key in ("author", "committer"):
                name, _, rest = value.partition(" <")
                email, _, date = rest.partition("> ")
                info[key] = {"name": name, "email": email, "date": date}
        return info

    def blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha)

    def blob_size(self, sha: str) -> int:
        return int(self.git("cat-file", "-s", sha))

    def tree(self, commit: str, path: str = "", recursive: bool = False) -> list[Entry]:
        """Entries of the tree at ``path`` in ``commit`` (recursive: every file below)."""
        spec = f"{commit}:{path}" if path else f"{commit}^{{tree}}"
        args = ["ls-tree", "-z"] + (["-r"] if recursive else []) + [spec]
        out = self.git(*args).decode(errors="surrogateescape")
        entries = []
        for item in filter(None, out.split("\0")):
            meta, _, name = item.partition("\t")
            mode, kind, sha = meta.split()
            entries.append(Entry(mode, kind, sha, name))
        return entries

    def entry(self, commit: str, path: str) -> Entry | None:
        """The tree entry at ``path`` in ``commit``, None if there is none."""
        parent, _, name = path.rpartition("/")
        try:
            return next((e for e in self.tree(commit, parent) if e.path == name), None)
        except GitError:
            return None

    def files(self, commit: str | None) -> dict[str, tuple[str, str]]:
        """path -> (mode, blob id) of every file in ``commit`` (empty for None)."""
        if commit is None:
            return {}
        return {e.path: (e.mode, e.sha) for e in self.tree(commit, recursive=True)}

    def write_blob(self, content: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", data=content).decode().strip()

    def write_tree(self, files: dict[str, tuple[str, str]]) -> str:
        """A tree object holding exactly ``files`` (path -> (mode, blob id))."""
        lines = "".join(f"{mode} {sha}\t{path}\0" for path, (mode, sha) in sorted(files.items()))
        with tempfile.TemporaryDirectory(prefix="labstack-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("update-index", "--add", "-z", "--index-info", data=lines.encode(errors="surrogateescape"), env=env)
            return self.git("write-tree", env=env).decode().strip()

    def commit_tree(self, tree: str, parents: list[str], message: str, name: str, email: str) -> str:
        """Write a commit object; author and committer are ``name <email>``, now."""
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        args = ["commit-tree", tree] + [a for p in parents for a in ("-p", p)]
        return self.git(*args, data=message.encode(), env=env).decode().strip()

    def changes(self, before: str | None, after: str) -> list[Change]:
        """Files that differ between two commits (before None: everything in ``after``)."""
        base = before or self.git("hash-object", "-t", "tree", "/dev/null").decode().strip()
        out = self.git("diff-tree", "-r", "-z", "--no-renames", "--raw", base, after).decode(errors="surrogateescape")
        parts = out.split("\0")
        changes = []
        for meta, path in zip(parts[0::2], parts[1::2]):
            if not meta.startswith(":"):
                continue
            old_mode, new_mode, old_sha, new_sha, status = meta[1:].split()
            changes.append(Change(status[0], old_mode, new_mode, old_sha, new_sha, path))
        return changes

    def archive(self, commit: str) -> bytes:
        """The files of ``commit`` as a zip archive."""
        return self.git("archive", "--format=zip", commit)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self.git("merge-base", "--is-ancestor", ancestor, descendant)
        except GitError:
            return False
        return True
