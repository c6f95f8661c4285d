"""Catching up: build the known-good state of the labs before N, each by running its solution.

Every lab with a checks module takes part, so a new lab adds itself by existing. A lab whose
checks (hidden ones included) already pass is left as it is, which makes catching up idempotent.
The solutions run as catch-up's own role session in the learner's account
(:func:`grader.provenance.catch_up_session`), so grading can tell what catch-up built.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader import checks, course, notebooks, provenance
from grader.backends import LabSession
from grader.results import Report


def lab_report(number: int, session: LabSession) -> Report:
    """Every check of lab ``number`` this copy of the kit holds, hidden ones included, against ``session``
    (a course release leaves some hidden checks' code out: catching up judges a lab on the rest)."""
    module = checks.lab_module(number)
    return checks.run(module.TITLE, session, course.runnable(module, (), hidden=True))


def run_solution(number: int, session: LabSession, output: Path | None = None,
                 parameters: dict[str, str] | None = None, extra_env: dict[str, str] | None = None) -> Path:
    """Run lab ``number``'s solution (with papermill ``parameters``) with ``session``'s own keys, as its
    learner would run it (``extra_env`` added to its kernel's environment); return the executed notebook."""
    target = output or Path(tempfile.mkdtemp(prefix="grader-solve-")) / f"{notebooks.slug(number)}.ipynb"
    env = {**notebooks.kernel_env(session), **(extra_env or {})}
    return notebooks.execute(notebooks.solution(number), target, env, parameters)


def solve(number: int, session: LabSession, output: Path | None = None,
          parameters: dict[str, str] | None = None) -> Report:
    """Run lab ``number``'s solution in ``session``'s account as catch-up's session for that lab, so
    grading knows catch-up built it; report its checks."""
    acting = provenance.catch_up_session(session, number)
    run_solution(number, acting, output, parameters, provenance.git_signs_in(acting))
    return lab_report(number, session)


class PartlyDone(RuntimeError):
    """An earlier lab has some of its points: catching up would rebuild it as catch-up's, costing them."""


def catch_up(number: int, session: LabSession, say: Callable[[str], None] = print, rebuild: bool = False) -> list[int]:
    """Bring ``session``'s account to where lab ``number`` starts; return the labs that were solved. An
    earlier lab the learner began but did not finish is rebuilt only with ``rebuild`` (:class:`PartlyDone`)."""
    labs = [n for n in checks.lab_numbers() if n < number]
    with ThreadPoolExecutor(max_workers=max(1, len(labs))) as pool:  # the usual case: all done, asked at once
        first_look = dict(zip(labs, pool.map(lambda n: lab_report(n, session), labs)))
    begun = [f"lab {n:02d} ({first_look[n].earned}/{first_look[n].possible} points)" for n in labs
             if first_look[n].earned and not first_look[n].passed]
    if begun and not rebuild:
        raise PartlyDone(f"{', '.join(begun)} is partly done: catching up would build it again from its solution, "
                         "and grading gives no points for what catch-up builds. Finish it in its own notebook, or "
                         "run lab.catch_up(rebuild=True) to have it built anyway.")
    solved: list[int] = []
    for earlier in labs:
        if (lab_report(earlier, session) if solved else first_look[earlier]).passed:
            say(f"✓ lab {earlier:02d} is already done")
            continue
        say(f"… building lab {earlier:02d} from its solution")
        report = solve(earlier, session)
        if not report.passed:
            raise RuntimeError(f"lab {earlier:02d}'s solution ran but its checks still fail:\n{report.text()}")
        solved.append(earlier)
        say(f"✓ lab {earlier:02d} built")
    if not solved and number <= min(checks.lab_numbers(), default=number):
        say(f"lab {number:02d} is the first lab: there is nothing to catch up on")
    return solved
