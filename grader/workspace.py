"""A work tree of the lab's repository for the notebooks that change the app: the real ``git``
command line, with the AWS CLI as credential helper (what CodeCommit over HTTPS needs on AWS)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

# Git asks the AWS CLI for a password signed with the session's keys (CodeCommit's way). labstack's address is
# not an amazonaws.com host, so the helper is told to sign anyway (harmless on AWS); only `get` is passed on,
# `store` and `erase` do nothing in the AWS CLI's helper and would refuse the option.
HELPER = ["-c", 'credential.helper=!f() { if [ "$1" = get ]; then aws codecommit credential-helper get --ignore-host-check; fi; }; f',
          "-c", "credential.UseHttpPath=true"]


def git(*args: str, cwd: Path, quiet: bool = False) -> str:
    """Run ``git args`` in ``cwd``, show what it said (unless ``quiet``), raise if it failed; its output."""
    has_identity = subprocess.run(["git", "config", "user.email"], check=False, capture_output=True, text=True).stdout.strip()
    identity = [] if has_identity else ["-c", "user.name=Lab Learner", "-c", "user.email=learner@example.com"]
    done = subprocess.run(["git", *HELPER, *identity, *args], check=False, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if not quiet:
        print(f"$ git {' '.join(args)}\n{done.stdout}{done.stderr}".rstrip())
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def clone(clone_url: str, branch: str, name: str) -> Path:
    """A fresh clone of ``clone_url`` at ``branch`` in a new temporary folder named after ``name``."""
    work = Path(tempfile.mkdtemp(prefix=f"{name}-")) / "app"
    git("clone", "--quiet", "--branch", branch, clone_url, str(work), cwd=work.parent)
    return work
