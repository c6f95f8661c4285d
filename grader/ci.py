"""The CI gate: labs/ matches solutions/; in one account the labs in order, each unanswered (0 points,
a hint under every failing check) and then solved (full marks) with no catch-up needed; and each
later lab alone in a fresh account, its solution catching up on the labs before it (full marks).

The gate's lanes (the labs in order, each lab alone) run side by side in child processes: most of a
lab's time is spent waiting on the lab clock, and nbgrader changes its process's environment."""

from __future__ import annotations

import json
import multiprocessing
import re
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from grader import checks, grading, notebooks
from grader.backends import Backend, LabSession, fresh_account

UNANSWERED, SOLUTION = "unanswered", "solution"
WORKERS = 3  # lanes at once: on two cores a third still fits, as lanes mostly wait on the lab clock
_BUILT = re.compile(r"✓ lab (\d+) built")


@dataclass(frozen=True)
class Verdict:
    """One line of the gate's report."""

    passed: bool
    line: str


def stale_labs(numbers: Iterable[int] | None = None) -> list[str]:
    """The labs (all, or ``numbers``) whose notebook in labs/ differs from what ``grader release`` would write now."""
    stale = []
    with tempfile.TemporaryDirectory(prefix="grader-ci-release-") as tmp:
        for number in numbers or checks.lab_numbers():
            fresh = grading.release(number, Path(tmp))
            current = notebooks.released(number)
            if not current.exists() or json.loads(current.read_text()) != json.loads(fresh.read_text()):
                stale.append(notebooks.slug(number))
    return stale


def _outputs(graded: Path) -> list[tuple[dict, str]]:
    """Each code cell of an autograded notebook with the text its outputs show."""
    cells = []
    for cell in json.loads(graded.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        shown = "".join("".join(out.get("data", {}).get("text/plain", "")) + "".join(out.get("text", ""))
                        for out in cell.get("outputs", []))
        cells.append((cell, shown))
    return cells


def cells_without_hints(graded: Path) -> list[str]:
    """Graded cells of an autograded notebook whose output shows no ✗ with a hint."""
    missing = []
    for cell, shown in _outputs(graded):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and ("✗" not in shown or "hint:" not in shown):
            missing.append(meta["grade_id"])
    return missing


def caught_up(graded: Path) -> list[int]:
    """The labs a notebook's catch-up built, as its outputs say."""
    return [int(n) for _, shown in _outputs(graded) for n in _BUILT.findall(shown)]


def _score(grade: grading.Grade) -> str:
    """The autograded score, and the written points left to the formgrader (they never count here)."""
    return f"{grade.score:g}/{grade.max_score:g}{grade.written_note()}"


def _judge(number: int, who: str, grade: grading.Grade, alone: bool) -> Verdict:
    slug = notebooks.slug(number)
    if who == UNANSWERED:
        unhinted = cells_without_hints(grade.graded)
        if grade.score == 0 and not unhinted:
            return Verdict(True, f"✓ {slug}: unanswered it scores {_score(grade)}, a hint under every failing check")
        return Verdict(False, f"✗ {slug}: unanswered it scores {_score(grade)}"
                       + (f"; no hint shown in {', '.join(unhinted)}" if unhinted else ""))
    lost = ", ".join(f"{c.name} {c.score:g}/{c.max_score:g}" for c in grade.cells if c.score < c.max_score)
    if not alone:
        if grade.full_marks:
            return Verdict(True, f"✓ {slug}: the solution scores {_score(grade)}")
        return Verdict(False, f"✗ {slug}: the solution scores {_score(grade)} ({lost}); see {grade.graded}")
    earlier = [n for n in checks.lab_numbers() if n < number]
    built = caught_up(grade.graded)
    labs = ", ".join(f"{n:02d}" for n in built) or "none"
    if grade.full_marks and built == earlier:
        return Verdict(True, f"✓ {slug} alone: catch-up built labs {labs}, then the solution scores {_score(grade)}")
    return Verdict(False, f"✗ {slug} alone: catch-up built labs {labs} (expected "
                   f"{', '.join(f'{n:02d}' for n in earlier)}), then the solution scores {_score(grade)}"
                   + (f" ({lost})" if lost else "") + f"; see {grade.graded}")


def grade_lane(backend: Backend, account: str, steps: list[tuple[int, str]], workdir: Path,
               alone: bool = False) -> list[Verdict]:
    """Autograde each (lab, who) step in order in ``account``; a verdict per step.

    Each step runs in a course directory of its own under ``workdir``; the account's state carries
    over, so a later lab finds what the earlier steps left (or, ``alone``, catches up on it).
    """
    env = notebooks.kernel_env(LabSession.for_key(backend, account))
    verdicts = []
    for number, who in steps:
        notebook = notebooks.released(number) if who == UNANSWERED else notebooks.solution(number)
        folder = workdir / f"{notebooks.slug(number)}-{who}"
        try:
            grade = grading.autograde(notebook, number, folder, env=env, student=who)
        except grading.GradingError as exc:
            verdicts.append(Verdict(False, f"✗ {notebooks.slug(number)} ({who}): {str(exc).splitlines()[0]}"))
            continue
        verdicts.append(_judge(number, who, grade, alone))
    return verdicts


def lanes(numbers: list[int]) -> dict[str, tuple[list[tuple[int, str]], bool]]:
    """Every lane by name: the labs in order (each unanswered, then solved), each later lab alone
    (longest first), and the two halves of the first on their own: the solutions in order, and the
    unanswered labs in an account of their own. ``run`` runs the first two kinds unless told otherwise."""
    plan = {"in-order": ([(n, who) for n in numbers for who in (UNANSWERED, SOLUTION)], False)}
    for number in sorted(numbers[1:], reverse=True):
        plan[f"alone-{number:02d}"] = ([(number, SOLUTION)], True)
    plan["solutions"] = ([(n, SOLUTION) for n in numbers], False)
    plan["unanswered"] = ([(n, UNANSWERED) for n in numbers], False)
    return plan


def _default_lane(name: str) -> bool:
    """The lanes a plain ``grader ci`` runs: the labs in order and each lab alone."""
    return name == "in-order" or name.startswith("alone-")


def run(backend: Backend, workdir: Path, say: Callable[[str], None] = print, up_to: int | None = None,
        in_order: str | None = None, workers: int = WORKERS, only: Iterable[str] | None = None) -> bool:
    """Run the gate against ``backend`` for every lab, or the labs up to ``up_to``; True when it passes.

    Every lane acts in a fresh account (labstack and LocalStack make one per access key id);
    ``in_order`` names the account of the lane that solves the labs in order (``in-order`` or
    ``solutions``) instead, for a caller to look at after. ``only`` names the lanes to run
    (``in-order``, ``alone-03``, ``solutions``, ``unanswered``…); the in-order and alone lanes when None.
    """
    numbers = [n for n in checks.lab_numbers() if up_to is None or n <= up_to]
    plan = lanes(numbers)
    if only is None:
        plan = {name: lane for name, lane in plan.items() if _default_lane(name)}
    else:
        unknown = sorted(set(only) - set(plan))
        if unknown:
            raise ValueError(f"no lane {', '.join(unknown)}: the lanes are {', '.join(plan)}")
        plan = {name: lane for name, lane in plan.items() if name in set(only)}
    ok = True
    context = multiprocessing.get_context("spawn")  # nbgrader and kernels in a clean child, no forked threads
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        futures = {pool.submit(grade_lane, backend,
                               in_order if name in ("in-order", "solutions") and in_order else fresh_account(),
                               steps, workdir / name, alone): name
                   for name, (steps, alone) in plan.items()}
        stale = stale_labs(numbers)  # while the lanes run
        if stale:
            ok = False
            say(f"✗ labs/ is stale for {', '.join(stale)}: run `grader release` and commit labs/")
        else:
            say("✓ labs/ matches solutions/")
        for future in as_completed(futures):
            try:
                verdicts = future.result()
            except Exception as exc:  # noqa: BLE001 - a lane that broke is the gate's failure, reported
                verdicts = [Verdict(False, f"✗ {futures[future]}: {type(exc).__name__}: {exc}")]
            for verdict in verdicts:
                ok = ok and verdict.passed
                say(verdict.line)
    return ok
