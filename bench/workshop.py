"""A workshop graded in place: ``--learners`` learners worked through the six labs on one shared
labstack, each in an account of theirs, and handed in the six notebooks; ``grader autograde
--accounts`` grades them where they worked (the notebooks side by side, only their setup and test
cells run), beside nbgrader's own autograde of the same submissions in one course directory, one
after another, with the same cells run in the same accounts.

Before the clock starts the learners' accounts are built for real: each learner's six solutions run
with papermill (learners side by side), as the learners would have run them during the workshop.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from bench.classroom import TARGET_LEARNERS, TARGET_SECONDS, _cpu_seconds, _hand_in
from bench.core import Figure, Options
from bench.servers import healthy_labstack
from grader import catchup, checks, classroom, grading, notebooks
from grader.backends import Backend, LabSession, fresh_account

IDLE_SECONDS = 10  # how long labstack's CPU is sampled with the workshop's services running and nobody grading


def work_through(backend: Backend, keys: dict[str, tuple[str, str]], numbers: list[int]) -> None:
    """Each learner's labs done in their account (key id, secret) with their solutions run, side by side."""

    def work(learner: str) -> None:
        session = LabSession.for_key(backend, *keys[learner])
        for number in numbers:  # with the learner's own keys: grading gives nothing for what catch-up built
            catchup.run_solution(number, session)
            if not catchup.lab_report(number, session).passed:
                raise RuntimeError(f"{learner}'s lab {number:02d} does not pass its checks")

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(work, keys))


def _nbgrader_one_by_one(submitted: Path, keys: dict[str, tuple[str, str]], numbers: list[int], backend: Backend,
                         course: Path) -> None:
    """nbgrader's own autograde and feedback, one course directory for the class, one notebook after
    another, in place: only the setup and test cells run, each in its learner's account."""
    for number in numbers:
        grading.prepare(number, course)
    for learner, key in keys.items():
        env = notebooks.kernel_env(LabSession.for_key(backend, *key))
        for number in numbers:
            slug = notebooks.slug(number)
            grade = grading.autograde(submitted / learner / slug / f"{slug}.ipynb", number, course, env=env,
                                      student=learner, in_place=True, prepared=course)
            grading.feedback(grade, course, student=learner)
            if not grade.full_marks:
                raise RuntimeError(f"nbgrader gave {learner}'s {slug} {grade.score:g}/{grade.max_score:g}")


def _timed(server_pid: int, work: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds of ``work`` and the CPU seconds it cost: this process, its ended children and labstack."""
    labstack = psutil.Process(server_pid)
    cpu, served = _cpu_seconds(), sum(labstack.cpu_times()[:2])
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    return wall, _cpu_seconds() - cpu + sum(labstack.cpu_times()[:2]) - served


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Build the workshop's accounts, then grade its notebooks both ways on the same labstack."""
    numbers = checks.lab_numbers()
    learners = [f"learner{i:02d}" for i in range(1, options.learners + 1)]
    with tempfile.TemporaryDirectory() as tmp, healthy_labstack() as server:
        backend = Backend("embedded", server.endpoint)
        started = time.perf_counter()
        keys = {learner: (fresh_account(), "test") for learner in learners}
        work_through(backend, keys, numbers)
        setup = time.perf_counter() - started
        progress(f"{len(learners)} learners worked through the labs in {setup:.0f} s")
        labstack = psutil.Process(server.proc.pid)
        before = sum(labstack.cpu_times()[:2])
        time.sleep(IDLE_SECONDS)
        idle = (sum(labstack.cpu_times()[:2]) - before) / IDLE_SECONDS
        submitted = _hand_in(Path(tmp) / "submitted", learners, numbers)

        def ours() -> None:
            rows = classroom.grade_class(submitted, numbers, Path(tmp) / "graded", backend, accounts=keys)
            short = [f"{r.learner} {r.lab} {r.score:g}/{r.max_score:g} {r.status} {r.message}" for r in rows
                     if r.score < r.max_score or r.status != "graded"]
            if short:
                raise RuntimeError("grader autograde did not give every solution full marks: " + "; ".join(short))
            progress(f"grader autograde --accounts: {len(rows)} notebooks")

        ours_wall, ours_cpu = _timed(server.proc.pid, ours)
        reference, reference_cpu = _timed(server.proc.pid, lambda: _nbgrader_one_by_one(
            submitted, keys, numbers, backend, Path(tmp) / "one-by-one"))
        progress("nbgrader one by one: done")
    workers = os.cpu_count() or 1
    graded = len(learners) * len(numbers)
    figure = Figure("workshop_autograde_s", f"{len(learners)} learners × {len(numbers)} labs autograded in place, in "
                    f"the accounts they worked in ({workers} workers) (reference: nbgrader's autograde and feedback "
                    "of the same submissions in one course, one after another, in place too)", "s",
                    ours_wall, reference, target=f"{TARGET_LEARNERS} learners <= {TARGET_SECONDS} s",
                    detail={"learners": len(learners), "labs": numbers, "workers": workers,
                            "per_notebook_s": ours_wall / graded, "reference_per_notebook_s": reference / graded,
                            "cpu_s": ours_cpu, "reference_cpu_s": reference_cpu,
                            "setup_s": setup, "labstack_idle_cores": idle})
    if len(learners) == TARGET_LEARNERS:
        figure.met = ours_wall <= TARGET_SECONDS
    return [figure]
