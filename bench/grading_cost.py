"""What scoring outside the learner's kernel costs: ``grader autograde`` of one learner's six lab
solutions, each learner's labs in order in a fresh account, with the graded cells scored in the
grader's process from the account (as it grades now), beside the same grading with the kernel's own
test cells deciding (as it graded before, and as nbgrader's own autograde does). Same run, same
labstack; the two sides take turns lab by lab so drift on the machine affects them alike."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.classroom import _cpu_seconds
from bench.core import Figure, Options
from bench.servers import healthy_labstack
from grader import checks, grading, notebooks
from grader.backends import Backend, LabSession, fresh_account


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Grade the six solutions both ways; wall and CPU seconds of each side."""
    numbers = checks.lab_numbers()
    wall = {True: 0.0, False: 0.0}
    cpu = {True: 0.0, False: 0.0}
    with tempfile.TemporaryDirectory() as tmp, healthy_labstack() as server:
        backend = Backend("embedded", server.endpoint)
        envs = {side: notebooks.kernel_env(LabSession.for_key(backend, fresh_account())) for side in (True, False)}
        for number in numbers:
            for outside in (True, False):
                work = Path(tmp) / ("outside" if outside else "kernel") / notebooks.slug(number)
                used, started = _cpu_seconds(), time.perf_counter()
                grade = grading.autograde(notebooks.solution(number), number, work, env=envs[outside],
                                          outside_kernel=outside)
                wall[outside] += time.perf_counter() - started
                cpu[outside] += _cpu_seconds() - used
                if not grade.full_marks:
                    raise RuntimeError(f"{notebooks.slug(number)} scored {grade.score:g}/{grade.max_score:g} "
                                       f"({'outside' if outside else 'inside'} the kernel)")
                shutil.rmtree(work)
            progress(f"{notebooks.slug(number)} graded both ways")
    detail = {"labs": numbers, "cpu_s_outside": cpu[True], "cpu_s_kernel": cpu[False],
              "note": "labstack's own CPU is not in these figures: it serves both sides alike"}
    return [Figure("grading_outside_kernel_s", f"grader autograde of one learner's {len(numbers)} solutions in order, "
                   "checks scored in the grader's process (reference: the kernel's test cells decide, as before)",
                   "s", wall[True], wall[False], detail=detail),
            Figure("grading_outside_kernel_cpu_s", "the same, CPU seconds of the grader and its kernels "
                   "(reference: the kernel's test cells decide)", "s", cpu[True], cpu[False])]
