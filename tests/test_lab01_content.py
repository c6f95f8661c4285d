"""Lab 01's notebooks agree with its checks: every check is graded once, in the right kind of block,
for the points the cell is worth; the released notebook gives away no solution and no hidden test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader import checks, grading, notebooks, scoring
from grader.checks import lab01
from tests.support.grading import graded_cells

GRADE = re.compile(r'lab\.grade\(([^)]*)\)')


def sources(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])


def called(source: str) -> list[str]:
    return [name for args in GRADE.findall(source) for name in re.findall(r'"([^"]+)"', args)]


def test_each_graded_cell_is_worth_the_points_of_the_checks_it_calls() -> None:
    by_id = {c.id: c for c in lab01.CHECKS}
    seen: list[str] = []
    for cell in graded_cells(notebooks.solution(1)).values():
        source = "".join(cell["source"])
        hidden_part = "".join(grading.HIDDEN_TESTS.findall(source))
        visible_part = grading.HIDDEN_TESTS.sub("", source)
        assert all(not by_id[i].hidden for i in called(visible_part)), cell["metadata"]["nbgrader"]["grade_id"]
        assert all(by_id[i].hidden for i in called(hidden_part)), cell["metadata"]["nbgrader"]["grade_id"]
        ids = called(source)
        assert cell["metadata"]["nbgrader"]["points"] == sum(by_id[i].points for i in ids)
        seen += ids
    assert sorted(seen) == sorted(by_id)  # every check graded, none twice


def test_the_released_lab_holds_no_solution_and_no_hidden_test() -> None:
    giveaways = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "create_role(", "put_bucket_encryption(",
                 "create_secret(", 'git("push", "origin"', '"key-rotation"', '"codebuild-reads-config"')
    assert all(g in sources(notebooks.solution(1)) for g in giveaways)
    released = sources(notebooks.released(1))
    assert [g for g in giveaways if g in released] == []
    assert released.count("raise NotImplementedError()") == 4
    assert all(c["metadata"]["nbgrader"]["locked"] for c in graded_cells(notebooks.released(1)).values())


@pytest.mark.parametrize("number", checks.lab_numbers())
def test_grading_reads_each_cell_s_checks_from_the_instructor_s_copy(number: int) -> None:
    """What ``grader autograde`` runs outside the kernel for a cell is what the cell itself calls."""
    cells = graded_cells(notebooks.solution(number))
    assert scoring.cell_checks(number) == {grade_id: tuple(called("".join(cell["source"])))
                                           for grade_id, cell in cells.items()}
