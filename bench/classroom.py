"""A class autograded: ``--learners`` learners who each handed in the six lab solutions, graded by
``grader autograde`` (learners side by side, each learner's labs in order in an account of theirs)
beside nbgrader's own autograde of the same submissions one after another (each learner in an
account of theirs too, so both sides do the same work: every build, deployment and approval runs)."""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.core import Figure, Options
from bench.servers import healthy_labstack
from grader import checks, classroom, grading, notebooks
from grader.backends import Backend, LabSession, fresh_account

TARGET_LEARNERS, TARGET_SECONDS = 30, 360  # the figure: 30 learners × 6 labs in 6 minutes


def _hand_in(folder: Path, learners: list[str], numbers: list[int]) -> Path:
    """nbgrader's submitted/ layout: every learner hands in every lab's solution."""
    for learner in learners:
        for number in numbers:
            slug = notebooks.slug(number)
            (folder / learner / slug).mkdir(parents=True)
            shutil.copyfile(notebooks.solution(number), folder / learner / slug / f"{slug}.ipynb")
    return folder


def _one_by_one(submitted: Path, learners: list[str], numbers: list[int], backend: Backend, work: Path,
                progress: Callable[[str], None]) -> None:
    """nbgrader's autograde, one notebook after another, each learner in a fresh account."""
    for learner in learners:
        env = notebooks.kernel_env(LabSession.for_key(backend, fresh_account()))
        for number in numbers:
            slug = notebooks.slug(number)
            grade = grading.autograde(submitted / learner / slug / f"{slug}.ipynb", number, work / learner / slug,
                                      env=env, student=learner)
            if not grade.full_marks:
                raise RuntimeError(f"nbgrader gave {learner}'s {slug} {grade.score:g}/{grade.max_score:g}")
        progress(f"nbgrader one by one: {learner} graded")


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (labstack, its builds and tasks, kernels)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _on_fresh_labstack(grade: Callable[[Backend], None]) -> tuple[float, float]:
    """Wall and CPU seconds of ``grade`` on a labstack of its own (its CPU counted once it stops)."""
    cpu = _cpu_seconds()
    with healthy_labstack() as server:
        started = time.perf_counter()
        grade(Backend("embedded", server.endpoint))
        wall = time.perf_counter() - started
    return wall, _cpu_seconds() - cpu


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """One class graded both ways, each on a fresh labstack of its own."""
    numbers = checks.lab_numbers()
    learners = [f"learner{i:02d}" for i in range(1, options.learners + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        submitted = _hand_in(Path(tmp) / "submitted", learners, numbers)

        def ours_grade(backend: Backend) -> None:
            rows = classroom.grade_class(submitted, numbers, Path(tmp) / "graded", backend)
            short = [f"{r.learner} {r.lab} {r.score:g}/{r.max_score:g} {r.status}" for r in rows
                     if r.score < r.max_score or r.status != "graded"]
            if short:
                raise RuntimeError("grader autograde did not give every solution full marks: " + "; ".join(short))
            progress(f"grader autograde: {len(rows)} notebooks")

        ours, ours_cpu = _on_fresh_labstack(ours_grade)
        reference, reference_cpu = _on_fresh_labstack(
            lambda backend: _one_by_one(submitted, learners, numbers, backend, Path(tmp) / "one-by-one", progress))
    workers = os.cpu_count() or 1
    notebooks_graded = len(learners) * len(numbers)
    floor = ours_cpu / len(learners) * TARGET_LEARNERS / workers
    figure = Figure("class_autograde_s", f"{len(learners)} learners × {len(numbers)} labs autograded, every build and "
                    f"deployment run ({workers} workers; {ours_cpu:.0f} CPU-s, so {TARGET_LEARNERS} learners need "
                    f">= {floor:.0f} s here) (reference: nbgrader's autograde of the same submissions "
                    "one after another)", "s", ours, reference,
                    target=f"{TARGET_LEARNERS} learners <= {TARGET_SECONDS} s",
                    detail={"learners": len(learners), "labs": numbers, "workers": workers,
                            "per_notebook_s": ours / notebooks_graded,
                            "reference_per_notebook_s": reference / notebooks_graded,
                            "cpu_s": ours_cpu, "reference_cpu_s": reference_cpu,
                            "cpu_floor_for_target_s": floor})  # what CPU alone needs for the target's class
    if len(learners) == TARGET_LEARNERS:
        figure.met = ours <= TARGET_SECONDS
    return [figure]
