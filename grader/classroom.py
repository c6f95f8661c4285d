"""Grading a class: every learner's submissions in parallel, each learner in a labstack account of its own.

A learner's labs are graded in order in that learner's account, so lab N finds what the learner's
lab N-1 built (and catches up only on what is missing, as it would for the learner). A learner's
submissions are graded by one child process (``python -m grader.classroom``) in its own session,
which keeps nbgrader loaded from one notebook to the next; a crashing or hanging notebook is killed
with its kernel after the timeout, and a new child goes on with the rest. nbgrader's source of each
lab is prepared once for the class. The result is ``scores.csv`` and a feedback page per learner and lab.

Graded in place (``accounts``: learner → the access key they worked with on a shared labstack), a
notebook's setup and test cells alone run, in that learner's account, with catching up off: the
grade is what the learner built, and nothing is built or run again.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import nbformat
from tqdm.auto import tqdm

from botocore.exceptions import BotoCoreError, ClientError

from grader import grading, notebooks
from grader.backends import Backend, LabSession, fresh_account

NOTEBOOK_TIMEOUT = 600  # seconds one submission may take, kernel start to feedback page
DONE = "graded"  # what the grading child prints when a submission's result.json is written


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


def read_accounts(path: Path) -> dict[str, tuple[str, str]]:
    """The accounts of a class graded in place, learner -> (access key id, secret access key).

    Either labstack's learners file (``learner,account_id,access_key_id,secret_access_key``, from
    ``labstack learners new``: what a class-mode labstack verifies; its instructor row is skipped) or
    a CSV of ``learner,access_key`` naming 12-digit keys of a labstack without class mode."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            if {"learner", "access_key_id", "secret_access_key"} <= columns:
                key_column, secret_column = "access_key_id", "secret_access_key"
            elif {"learner", "access_key"} <= columns:
                key_column, secret_column = "access_key", None
            else:
                raise ValueError(f"{path} needs the columns learner,access_key_id,secret_access_key (labstack's "
                                 f"learners file) or learner,access_key (it has {reader.fieldnames})")
            accounts: dict[str, tuple[str, str]] = {}
            for line, record in enumerate(reader, start=2):
                learner, key = (record["learner"] or "").strip(), (record[key_column] or "").strip()
                secret = (record[secret_column] or "").strip() if secret_column else "test"
                if not learner or not key or not secret:
                    raise ValueError(f"{path}, line {line}: a learner and an access key, please")
                if secret_column is None and not (key.isdigit() and len(key) == 12):
                    raise ValueError(f"{path}, line {line}: {key!r} is no account: without a secret, the access "
                                     "key must be the 12-digit account id the learner worked in")
                if learner != "instructor" or secret_column is None:
                    accounts[learner] = (key, secret)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read the accounts file {path}: {exc}") from exc
    return accounts


def unknown_accounts(backend: Backend, accounts: dict[str, tuple[str, str]]) -> list[str]:
    """The learners of ``accounts`` whose keys ``backend`` does not accept, each with the error it gave."""
    def refused(learner: str, keys: tuple[str, str]) -> str | None:
        try:
            LabSession.for_key(backend, *keys).client("sts").get_caller_identity()
        except ClientError as exc:
            return f"{learner} ({exc.response.get('Error', {}).get('Code', 'refused')})"
        except BotoCoreError as exc:
            return f"{learner} ({type(exc).__name__})"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r for r in pool.map(lambda item: refused(*item), sorted(accounts.items())) if r]


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


def _prepared(out: Path, number: int) -> Path:
    """Where the course directory with lab ``number``'s source is made once for the class."""
    return out / "work" / "_source" / notebooks.slug(number)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@dataclass(frozen=True)
class Job:
    """One submission to grade: where it is, which lab, where its work goes, and the kernel's environment."""

    submission: Submission
    number: int
    work: Path
    prepared: Path  # the course directory with the lab's source (grading.prepare)
    env: dict[str, str]  # the learner's account on the backend
    in_place: bool = False
    hidden: tuple[str, ...] = ()  # what the learner's kernel must not see: the class's grading folder, its keys

    def row(self, status: str, message: str) -> Row:
        """This submission's row when it was not graded."""
        return Row(self.submission.learner, notebooks.slug(self.number), 0, 0, status, message)

    def scored_from_account(self, status: str, message: str) -> Row:
        """This submission's row when its notebook never finished: the points of what the learner's
        account holds, scored as grading scores every graded cell (no points for what catch-up built)."""
        from grader import scoring

        try:
            reports = scoring.score(self.number, scoring.session_from(self.env)).values()
        except Exception as exc:  # noqa: BLE001 - a learner's row, never the class's crash
            return self.row(status, f"{message}; the account could not be scored ({type(exc).__name__})")
        return Row(self.submission.learner, notebooks.slug(self.number), sum(r.earned for r in reports),
                   sum(r.possible for r in reports), status, f"{message}; scored on what the account holds")


def _readable(job: Job) -> Row | None:
    """An error row when the submission is not a notebook at all (nothing is started for it)."""
    try:
        nbformat.read(job.submission.notebook, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the learner's row, not the class's crash
        return job.row("error", f"not a readable notebook ({type(exc).__name__})")
    return None


def _lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    with stream:
        for line in stream:
            into.put(line.strip())
    into.put(None)  # the child has ended


def _run_jobs(jobs: list[Job], timeout: float, bar: tqdm) -> list[Row]:
    """Grade ``jobs`` in order in one child process (``python -m grader.classroom``), which keeps nbgrader
    loaded from one to the next. A job that takes longer than ``timeout`` is killed with its kernel, and
    so is a child that dies: that job gets its row and a new child takes the rest. Never raises."""
    rows: list[Row] = []
    pending = []
    for job in jobs:
        unreadable = _readable(job)
        if unreadable:
            rows.append(unreadable)
            bar.update(1)
        else:
            pending.append(job)
    while pending:
        log = pending[0].work.parent / f"grading-{pending[0].work.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as errors:
            proc = subprocess.Popen([sys.executable, "-m", "grader.classroom"], env=pending[0].env, text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                    start_new_session=True)
        said: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, said), daemon=True).start()
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError), proc.stdin:  # a child that died at once is read as such below
            proc.stdin.write(json.dumps([{"notebook": str(j.submission.notebook), "lab": j.number,
                                          "work": str(j.work), "prepared": str(j.prepared), "env": j.env,
                                          "in_place": j.in_place, "hidden": j.hidden} for j in pending]))
        while pending:
            job = pending.pop(0)
            try:
                while (line := said.get(timeout=timeout)) is not None and line != DONE:
                    pass
            except queue.Empty:
                _kill_group(proc)
                rows.append(job.scored_from_account("timeout", f"stopped after {timeout:.0f} s"))
                bar.update(1)
                break
            result = job.work / "result.json"
            if line is None or not result.exists():
                _kill_group(proc)
                last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
                rows.append(job.row("error", last))
                bar.update(1)
                break
            rows.append(Row(job.submission.learner, notebooks.slug(job.number), **json.loads(result.read_text())))
            bar.update(1)
        else:
            proc.wait()
    return rows


def grade_class(folder: Path, numbers: int | list[int], out: Path, backend: Backend, workers: int | None = None,
                timeout: float = NOTEBOOK_TIMEOUT, accounts: dict[str, tuple[str, str]] | None = None,
                secrets: tuple[Path, ...] = ()) -> list[Row]:
    """Grade every submission of the labs ``numbers`` in ``folder``; write ``out``/scores.csv and
    ``out``/feedback/<learner>/<lab>.html. Learners are graded side by side, a learner's labs in order,
    each in a fresh account; with ``accounts``, every notebook in place in its learner's account. No
    learner's kernel sees ``folder`` (the others' notebooks), ``out`` or ``secrets`` (the learners file)."""
    wanted = sorted([numbers] if isinstance(numbers, int) else numbers)
    by_learner: dict[str, list[tuple[int, Submission]]] = {}
    for number in wanted:
        for submission in find_submissions(folder, number, flat=len(wanted) == 1):
            by_learner.setdefault(submission.learner, []).append((number, submission))
    if not by_learner:
        raise ValueError(f"no submissions of {', '.join(notebooks.slug(n) for n in wanted)} in {folder}")
    refused = unknown_accounts(backend, {k: v for k, v in (accounts or {}).items() if k in by_learner})
    if refused:
        raise ValueError(f"{backend.endpoint_for('sts') or 'AWS'} knows no account for {', '.join(refused)}: "
                         "is this the labstack and the learners file of this class? Nothing was graded")
    for number in {number for labs in by_learner.values() for number, _ in labs}:
        grading.prepare(number, _prepared(out, number))  # nbgrader's source, once per lab for the class
    rows: list[Row] = []
    batches: list[list[Job]] = []
    for learner, labs in by_learner.items():
        keys = (fresh_account(), "test") if accounts is None else accounts.get(learner)
        if keys is None:
            rows += [Row(learner, notebooks.slug(n), 0, 0, "error", "no account for this learner in the accounts file")
                     for n, _ in labs]
            continue
        env = notebooks.kernel_env(LabSession.for_key(backend, *keys))
        hidden = tuple(str(p.resolve()) for p in (folder, out, *secrets))
        batches.append([Job(submission, number, out / "work" / learner / notebooks.slug(number),
                            _prepared(out, number), env, accounts is not None, hidden) for number, submission in labs])
    with tqdm(total=sum(len(labs) for labs in by_learner.values()), desc="grading", unit="notebook") as bar, \
            ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        bar.update(len(rows))
        futures = [pool.submit(_run_jobs, batch, timeout, bar) for batch in batches]
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


def _grade_here(notebook: Path, number: int, work: Path, prepared: Path, in_place: bool, hidden: list[str]) -> None:
    """Autograde one submission in this process's environment, write result.json and feedback.html."""
    grade = grading.autograde(notebook, number, work / "course", in_place=in_place, prepared=prepared,
                              hidden=tuple(map(Path, hidden)))
    page = grading.feedback(grade, work / "course")
    shutil.copyfile(page, work / "feedback.html")
    result = {"score": grade.score, "max_score": grade.max_score, "status": "graded",
              "message": f"restored cells: {', '.join(grade.restored)}" if grade.restored else ""}
    (work / "result.json").write_text(json.dumps(result))


def _serve(jobs: list[dict[str, Any]]) -> None:
    """The child's part: grade each job in its environment, then say DONE on stdout. A job that fails
    is its learner's row with the error's last line, and the next one goes on."""
    for job in jobs:
        work = Path(job["work"])
        work.mkdir(parents=True, exist_ok=True)
        os.environ.clear()
        os.environ.update(job["env"])
        try:
            _grade_here(Path(job["notebook"]), job["lab"], work, Path(job["prepared"]), job["in_place"], job["hidden"])
        except Exception as exc:  # noqa: BLE001 - one submission's failure is its own row
            last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            (work / "result.json").write_text(json.dumps({"score": 0, "max_score": 0, "status": "error",
                                                          "message": last}))
        print(DONE, flush=True)


if __name__ == "__main__":
    _serve(json.load(sys.stdin))  # the child of _run_jobs: its jobs come on stdin (they hold credentials)
