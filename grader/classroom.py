"""Grading a class: every learner's submissions in parallel, each learner in a labstack account of its own.

A learner's labs are graded in order in that learner's account, so lab N finds what the learner's
lab N-1 built (and catches up only on what is missing, as it would for the learner). Each
submission is graded by a child process (``python -m grader.classroom``) in its own session, so a
crashing or hanging notebook is killed with its kernel after the timeout and the rest go on. The
result is ``scores.csv`` and a feedback page per learner and lab.

Graded in place (``accounts``: learner → the access key they worked with on a shared labstack), a
notebook's setup and test cells alone run, in that learner's account, with catching up off: the
grade is what the learner built, nothing is built or run again, and the notebooks go side by side
in any order.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from grader import grading, notebooks
from grader.backends import Backend, LabSession, fresh_account

NOTEBOOK_TIMEOUT = 600  # seconds one submission may take, kernel start to feedback page


@dataclass(frozen=True)
class Submission:
    """One learner's notebook."""

    learner: str
    notebook: Path


@dataclass(frozen=True)
class Row:
    """One line of scores.csv."""

    learner: str
    lab: str
    score: float
    max_score: float
    status: str  # graded, timeout or error
    message: str = ""


def read_accounts(path: Path) -> dict[str, str]:
    """The accounts file of a class graded in place: CSV with the columns ``learner`` and ``access_key``."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if not {"learner", "access_key"} <= set(reader.fieldnames or ()):
                raise ValueError(f"{path} needs the columns learner,access_key (it has {reader.fieldnames})")
            accounts: dict[str, str] = {}
            for line, record in enumerate(reader, start=2):
                learner, key = (record["learner"] or "").strip(), (record["access_key"] or "").strip()
                if not learner or not key:
                    raise ValueError(f"{path}, line {line}: a learner and an access key, please")
                accounts[learner] = key
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read the accounts file {path}: {exc}") from exc
    return accounts


def find_submissions(folder: Path, number: int, flat: bool = True) -> list[Submission]:
    """Submissions of lab ``number`` in nbgrader's layout (``<learner>/<lab>/<lab>.ipynb``), a folder per
    learner (``<learner>/<lab>.ipynb``) or, when ``flat``, one notebook per learner (``<learner>.ipynb``)."""
    slug = notebooks.slug(number)
    nested = sorted(folder.glob(f"*/{slug}/{slug}.ipynb"))
    if nested:
        return [Submission(path.parent.parent.name, path) for path in nested]
    per_learner = sorted(folder.glob(f"*/{slug}.ipynb"))
    if per_learner or not flat:
        return [Submission(path.parent.name, path) for path in per_learner]
    return [Submission(path.stem, path) for path in sorted(folder.glob("*.ipynb"))]


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _grade_in_child(submission: Submission, number: int, work: Path, env: dict[str, str], timeout: float,
                    in_place: bool = False) -> Row:
    """Grade one submission in a child process with ``env`` (the learner's account); never raises."""
    slug = notebooks.slug(number)
    try:
        nbformat.read(submission.notebook, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the learner's row, not the class's crash
        return Row(submission.learner, slug, 0, 0, "error", f"not a readable notebook ({type(exc).__name__})")
    work.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "grader.classroom", str(submission.notebook), str(number), str(work)]
    command += ["--in-place"] if in_place else []
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return Row(submission.learner, slug, 0, 0, "timeout", f"stopped after {timeout:.0f} s")
    result = work / "result.json"
    if proc.returncode != 0 or not result.exists():
        last = (output.strip().splitlines() or ["no output"])[-1]
        return Row(submission.learner, slug, 0, 0, "error", last)
    return Row(submission.learner, slug, **json.loads(result.read_text()))


def _grade_learner(labs: list[tuple[int, Submission]], out: Path, backend: Backend, timeout: float,
                   bar: tqdm) -> list[Row]:
    """One learner's submissions, in lab order, in one fresh account; ``bar`` moves on after each."""
    env = notebooks.kernel_env(LabSession.for_key(backend, fresh_account()))
    rows = []
    for number, submission in labs:
        work = out / "work" / submission.learner / notebooks.slug(number)
        rows.append(_grade_in_child(submission, number, work, env, timeout))
        bar.update(1)
    return rows


def _grade_in_place(number: int, submission: Submission, out: Path, backend: Backend, key: str | None,
                    timeout: float, bar: tqdm) -> list[Row]:
    """One submission graded in place in the account of ``key``; a learner the accounts file does not
    name gets an error row."""
    slug = notebooks.slug(number)
    if key is None:
        row = Row(submission.learner, slug, 0, 0, "error", "no account for this learner in the accounts file")
    else:
        env = notebooks.kernel_env(LabSession.for_key(backend, key))
        row = _grade_in_child(submission, number, out / "work" / submission.learner / slug, env, timeout, True)
    bar.update(1)
    return [row]


def grade_class(folder: Path, numbers: int | list[int], out: Path, backend: Backend, workers: int | None = None,
                timeout: float = NOTEBOOK_TIMEOUT, accounts: dict[str, str] | None = None) -> list[Row]:
    """Grade every submission of the labs ``numbers`` in ``folder``; write ``out``/scores.csv and
    ``out``/feedback/<learner>/<lab>.html. Learners are graded side by side, a learner's labs in order,
    each in a fresh account; with ``accounts``, every notebook in place in its learner's account."""
    wanted = sorted([numbers] if isinstance(numbers, int) else numbers)
    by_learner: dict[str, list[tuple[int, Submission]]] = {}
    for number in wanted:
        for submission in find_submissions(folder, number, flat=len(wanted) == 1):
            by_learner.setdefault(submission.learner, []).append((number, submission))
    if not by_learner:
        raise ValueError(f"no submissions of {', '.join(notebooks.slug(n) for n in wanted)} in {folder}")
    rows: list[Row] = []
    total = sum(len(labs) for labs in by_learner.values())
    with tqdm(total=total, desc="grading", unit="notebook") as bar, \
            ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        if accounts is None:
            futures = [pool.submit(_grade_learner, labs, out, backend, timeout, bar) for labs in by_learner.values()]
        else:
            futures = [pool.submit(_grade_in_place, number, submission, out, backend, accounts.get(learner), timeout,
                                   bar) for learner, labs in by_learner.items() for number, submission in labs]
        for future in as_completed(futures):
            rows.extend(future.result())
    rows.sort(key=lambda row: (row.learner, row.lab))
    for row in rows:
        page = out / "work" / row.learner / row.lab / "feedback.html"
        if page.exists():
            (out / "feedback" / row.learner).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, out / "feedback" / row.learner / f"{row.lab}.html")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "scores.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    return rows


def _grade_here(notebook: Path, number: int, work: Path, in_place: bool = False) -> None:
    """The child's part: autograde in this process's environment, write result.json and feedback.html."""
    grade = grading.autograde(notebook, number, work / "course", in_place=in_place)
    page = grading.feedback(grade, work / "course")
    shutil.copyfile(page, work / "feedback.html")
    result = {"score": grade.score, "max_score": grade.max_score, "status": "graded",
              "message": f"restored cells: {', '.join(grade.restored)}" if grade.restored else ""}
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Grade one submission (the child process of grade_class).")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("lab", type=int)
    parser.add_argument("work", type=Path)
    parser.add_argument("--in-place", action="store_true", help="run the setup and test cells only")
    args = parser.parse_args()
    _grade_here(args.notebook, args.lab, args.work, args.in_place)
