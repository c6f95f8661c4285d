"""Git figures: clone and push of a small sample app through labstack's CodeCommit (smart HTTP)
beside the same operations on a bare repository on the local file system (``file://``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.core import Figure, Options, client, start_warm
from bench.measure import summary
from bench.servers import LABSTACK
from tests.support.gitcli import git_env
from tests.support.server import ROOT

SAMPLE_APP = ROOT / "infra" / "sample-app"
TARGET_RATIO = 2.0


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=git_env(), check=True, capture_output=True)


def sample_app(dest: Path) -> Path:
    """A work tree with the sample app (``infra/sample-app`` when present, else a stand-in of
    the same size: a small Flask-style service with tests, Dockerfile and buildspec) in 3 commits."""
    dest.mkdir(parents=True)
    _git(dest, "init", "--quiet")
    if SAMPLE_APP.is_dir():
        shutil.copytree(SAMPLE_APP, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _git(dest, "add", "--all")
        _git(dest, "commit", "--quiet", "-m", "sample app")
        return dest
    for version in range(1, 4):
        files = {
            "app/__init__.py": "",
            "app/main.py": f"VERSION = {version}\n" + "def handler(event):\n    return {'status': 200}\n" * 40,
            "tests/test_main.py": "from app.main import handler\n\ndef test():\n    assert handler({})['status'] == 200\n" * 10,
            "Dockerfile": "FROM python:3.11-slim\nCOPY . /app\nCMD [\"python\", \"-m\", \"app.main\"]\n",
            "buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - pytest -q\n",
            "README.md": "# sample app\n" + "Lorem ipsum dolor sit amet. " * 400,
            **{f"static/page{i}.html": f"<h1>page {i} v{version}</h1>\n" * 50 for i in range(20)},
        }
        for name, text in files.items():
            path = dest / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        _git(dest, "add", "--all")
        _git(dest, "commit", "--quiet", "-m", f"v{version}")
    return dest


def _timed_git(cwd: Path, *args: str) -> float:
    started = time.perf_counter()
    _git(cwd, *args)
    return time.perf_counter() - started


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Push into a fresh empty repository, then clone it, ``rounds`` times on each side, taking turns."""
    rounds = max(options.repeat * 2, 10)
    scratch = Path(tempfile.mkdtemp(prefix="bench-git-"))
    try:
        work = sample_app(scratch / "work")
        with start_warm(LABSTACK) as lab:
            codecommit = client(lab, "codecommit")
            times: dict[str, dict[str, list[float]]] = {"push": {"lab": [], "file": []}, "clone": {"lab": [], "file": []}}
            for i in range(-2, rounds):  # two untimed rounds first
                urls = {
                    "lab": codecommit.create_repository(repositoryName=f"bench-{i + 2}")["repositoryMetadata"]["cloneUrlHttp"],
                    "file": (scratch / f"bare-{i + 2}.git").as_uri(),
                }
                _git(scratch, "init", "--quiet", "--bare", str(scratch / f"bare-{i + 2}.git"))
                for side, url in urls.items():
                    push = _timed_git(work, "push", "--quiet", url, "main")
                    clone = _timed_git(scratch, "clone", "--quiet", url, f"clone-{side}-{i + 2}")
                    if i >= 0:
                        times["push"][side].append(push)
                        times["clone"][side].append(clone)
            progress("git clone and push")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file() and ".git" not in p.parts) if work.exists() else None
    figures = []
    for op in ("clone", "push"):
        lab_s, file_s = summary(times[op]["lab"]), summary(times[op]["file"])
        figure = Figure(
            f"git_{op}_sample_app_s", f"git {op} of the sample app (labstack HTTP | file:// bare repo), median of {rounds}",
            "s", lab_s["p50"], file_s["p50"], target=f"ratio <= {TARGET_RATIO:g}x",
            detail={"labstack_s": lab_s, "file_s": file_s, "work_tree_bytes": size,
                    "method": "fresh empty repository per round on each side, push of main then a clone; sides take turns"},
        )
        figure.met = figure.ratio <= TARGET_RATIO
        figures.append(figure)
    return figures
