"""The stock git CLI for tests: a clean identity and config, no prompts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {"GIT_AUTHOR_NAME": "Learner", "GIT_AUTHOR_EMAIL": "learner@example.com",
            "GIT_COMMITTER_NAME": "Learner", "GIT_COMMITTER_EMAIL": "learner@example.com"}


def git_env() -> dict[str, str]:
    """The caller's environment without its git config, with a fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(IDENTITY, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def git(cwd: Path, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run git in ``cwd``; raise with its output if ``check`` and it fails."""
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=git_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def clone(url: str, dest: Path) -> Path:
    """Clone ``url`` into ``dest`` (its parent must exist)."""
    git(dest.parent, "clone", "--quiet", url, dest.name)
    return dest


def commit(work: Path, files: dict[str, str | bytes], message: str) -> str:
    """Write ``files`` in the work tree, commit them all, return the commit id."""
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", message)
    return git(work, "rev-parse", "HEAD").stdout.strip()


def new_work_tree(path: Path, files: dict[str, str | bytes], message: str = "first") -> Path:
    """A fresh repository at ``path`` with one commit on ``main``."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet")
    commit(path, files, message)
    return path
