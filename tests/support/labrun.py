"""Labs in sequence in one account, as a learner meets them: each step autogrades either the released
notebook (``unanswered``) or the instructor solution (``solution``) with real nbgrader."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from grader import grading, notebooks
from grader.backends import LabSession

UNANSWERED, SOLUTION = "unanswered", "solution"


def notebook(number: int, who: str) -> Path:
    """The notebook ``who`` hands in for lab ``number``: the released one unanswered, or the solution."""
    return notebooks.released(number) if who == UNANSWERED else notebooks.solution(number)


def autograde_in_order(session: LabSession, steps: Iterable[tuple[int, str]],
                       workdir: Path) -> dict[tuple[int, str], grading.Grade]:
    """Autograde each (lab, who) step in order in ``session``'s account; the grades by step.

    Each step runs in a course directory of its own under ``workdir``; the account's state carries
    over from one step to the next, so a later lab's catch-up sees what the earlier steps left.
    """
    env = notebooks.kernel_env(session)
    grades = {}
    for number, who in steps:
        folder = workdir / f"lab{number:02d}-{who}"
        grades[(number, who)] = grading.autograde(notebook(number, who), number, folder, env=env, student=who)
    return grades
