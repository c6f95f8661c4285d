"""Written reflection questions: nbgrader manually graded answer cells (markdown cells with ``grade`` and
``solution``). ``grader release`` leaves the learner "YOUR ANSWER HERE"; nbgrader's validate accepts a
notebook with them; autograding scores them nothing and :class:`grader.grading.Grade` keeps their points
apart (``written``), so a solved lab still has full marks and an unanswered one 0, and ``grader ci`` says
how many written points are left for the formgrader.

nbgrader's documentation of the cell types: https://nbgrader.readthedocs.io/en/stable/user_guide/creating_and_grading_assignments.html
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator

from grader import ci, grading, notebooks

LABS_WITH_REFLECTION = (1, 2, 3, 4, 5, 6)  # the labs that end with written questions
MODEL_ANSWER = "A model answer, for the instructor only."


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _written(notebook: Path) -> list[dict]:
    cells = json.loads(notebook.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == grading.WRITTEN and c.get("metadata", {}).get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("number", LABS_WITH_REFLECTION)
def test_each_lab_ends_with_one_or_two_written_questions_released_unanswered(number: int) -> None:
    solution, released = _written(notebooks.solution(number)), _written(notebooks.released(number))
    assert 1 <= len(solution) <= 2
    for cell in solution:
        meta = cell["metadata"]["nbgrader"]
        assert meta["solution"] and meta["points"] > 0 and not meta["locked"] and meta["grade_id"].startswith("reflection")
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in released] == [
        c["metadata"]["nbgrader"]["grade_id"] for c in solution]
    assert all(_text(c).strip() == "YOUR ANSWER HERE" for c in released)  # the model answer stays out
    cells = json.loads(notebooks.solution(number).read_text())["cells"]
    last_code = max(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    assert all(cells.index(c) > last_code for c in solution)  # at the end of the lab


def _tiny_lab(folder: Path) -> Path:
    """An instructor notebook with one autograded cell (2 points) and one written question (3 points)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    meta = {"schema_version": 3, "task": False}
    nb.cells = [
        nbformat.v4.new_code_cell("points = 2\npoints", metadata={"nbgrader": {
            **meta, "grade": True, "solution": False, "locked": True, "grade_id": "check_tiny", "points": 2}}),
        nbformat.v4.new_markdown_cell(MODEL_ANSWER, metadata={"nbgrader": {
            **meta, "grade": True, "solution": True, "locked": False, "grade_id": "reflection_1", "points": 3}}),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_written_points_are_left_to_the_formgrader_and_never_cost_full_marks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _tiny_lab(tmp_path)
    monkeypatch.setattr(notebooks, "solution", lambda number: source)
    released = grading.release(1, tmp_path / "labs")
    monkeypatch.setattr(notebooks, "released", lambda number: released)
    assert _text(_written(released)[0]).strip() == "YOUR ANSWER HERE"

    validator = Validator()
    assert not validator.validate(str(source))  # nbgrader validate: the instructor's copy passes, no complaints
    unanswered = validator.validate(str(released))
    assert unanswered == {"failed": [{"source": "YOUR ANSWER HERE", "error": "You did not provide a response.",
                                      "raw_error": "You did not provide a response."}]}  # the learner is told

    grade = grading.autograde(released, 1, tmp_path / "course", outside_kernel=False)
    assert (grade.score, grade.max_score, grade.full_marks) == (2, 2, True)
    assert [(c.name, c.score, c.max_score) for c in grade.written] == [("reflection_1", 0, 3)]
    assert [c.name for c in grade.cells] == ["check_tiny"]
    assert ci._judge(1, ci.SOLUTION, grade, alone=False) == ci.Verdict(
        True, "✓ 01_repo_setup: the solution scores 2/2 (+3 written points to grade by hand)")
