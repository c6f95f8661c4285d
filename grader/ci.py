"""The CI gate: labs/ matches solutions/, every solution scores full marks, every unanswered lab
scores 0 with a hint under each failing check."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from grader import checks, grading, notebooks
from grader.backends import Backend, LabSession, fresh_account


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


def cells_without_hints(graded: Path) -> list[str]:
    """Graded cells of an autograded notebook whose output shows no ✗ with a hint."""
    missing = []
    for cell in json.loads(graded.read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell["cell_type"] != "code":
            continue
        shown = "".join("".join(out.get("data", {}).get("text/plain", "")) for out in cell.get("outputs", []))
        if "✗" not in shown or "hint:" not in shown:
            missing.append(meta["grade_id"])
    return missing


def run(backend: Backend, workdir: Path, say: Callable[[str], None] = print, up_to: int | None = None) -> bool:
    """Run the gate against ``backend`` (labstack: each run in fresh accounts) for every lab, or the labs
    up to ``up_to`` (each lab starts where the ones before it end); True when it passes."""
    numbers = [n for n in checks.lab_numbers() if up_to is None or n <= up_to]
    ok = True
    stale = stale_labs(numbers)
    if stale:
        ok = False
        say(f"✗ labs/ is stale for {', '.join(stale)}: run `grader release` and commit labs/")
    else:
        say("✓ labs/ matches solutions/")
    solved = LabSession.for_key(backend, fresh_account())
    unanswered = LabSession.for_key(backend, fresh_account())
    for number in numbers:
        slug = notebooks.slug(number)
        grade = grading.autograde(notebooks.solution(number), number, workdir / "solutions" / slug,
                                  env=notebooks.kernel_env(solved), student="solution")
        if grade.full_marks:
            say(f"✓ {slug}: the solution scores {grade.score:g}/{grade.max_score:g}")
        else:
            ok = False
            lost = ", ".join(f"{c.name} {c.score:g}/{c.max_score:g}" for c in grade.cells if c.score < c.max_score)
            say(f"✗ {slug}: the solution scores {grade.score:g}/{grade.max_score:g} ({lost}); see {grade.graded}")
        blank = grading.autograde(notebooks.released(number), number, workdir / "unanswered" / slug,
                                  env=notebooks.kernel_env(unanswered), student="unanswered")
        unhinted = cells_without_hints(blank.graded)
        if blank.score == 0 and not unhinted:
            say(f"✓ {slug}: unanswered it scores 0/{blank.max_score:g}, a hint under every failing check")
        else:
            ok = False
            say(f"✗ {slug}: unanswered it scores {blank.score:g}/{blank.max_score:g}"
                + (f"; no hint shown in {', '.join(unhinted)}" if unhinted else ""))
    return ok
