"""Labs 04–06's notebooks agree with their checks: every check graded once, in the right kind of
block, for the points its cell is worth; the released notebooks give away no solution and no hidden
test; every wait shows a progress bar and the labs say where labstack differs from AWS."""

from __future__ import annotations

import pytest

from grader import checks, grading, notebooks
from tests.support.grading import graded_cells
from tests.test_lab01_content import called, sources

GIVEAWAYS = {
    4: ("create_project(", "create_pipeline(", "put_rule(", "put_targets(", 'git("push", "origin"', '"variables"',
        '"staging-runs-commit"'),
    5: ("create_topic(", "codepipeline.update_pipeline(", "start_pipeline_execution(", "codepipeline.put_approval_result(",
        "retry_stage_execution(", '"production-runs-approved"', "PolicyName=names.notify_policy",
        '"pipeline-role-publishes-only"'),
    6: ("put_metric_alarm(", "update_deployment_group(", 'git("revert"', "def approve(", '"production-fixed"'),
}
TASKS = {4: 5, 5: 8, 6: 4}  # solution cells, each a `raise NotImplementedError()` for the learner
LABS = sorted(GIVEAWAYS)


@pytest.mark.parametrize("number", LABS)
def test_each_graded_cell_is_worth_the_points_of_the_checks_it_calls(number: int) -> None:
    by_id = {c.id: c for c in checks.lab_module(number).CHECKS}
    seen: list[str] = []
    for grade_id, cell in graded_cells(notebooks.solution(number)).items():
        if cell["cell_type"] != "code":  # a written answer, graded by hand (tests/test_written_answers.py)
            continue
        source = "".join(cell["source"])
        hidden_part = "".join(grading.HIDDEN_TESTS.findall(source))
        visible_part = grading.HIDDEN_TESTS.sub("", source)
        assert called(visible_part), grade_id  # a learner sees what the cell grades
        assert all(not by_id[i].hidden for i in called(visible_part)), grade_id
        assert all(by_id[i].hidden for i in called(hidden_part)), grade_id
        ids = called(source)
        assert cell["metadata"]["nbgrader"]["points"] == sum(by_id[i].points for i in ids), grade_id
        seen += ids
    assert sorted(seen) == sorted(by_id)  # every check graded, none twice


@pytest.mark.parametrize("number", LABS)
def test_the_released_lab_holds_no_solution_and_no_hidden_test(number: int) -> None:
    giveaways = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", *GIVEAWAYS[number])
    assert all(g in sources(notebooks.solution(number)) for g in giveaways)
    released = sources(notebooks.released(number))
    assert [g for g in giveaways if g in released] == []
    assert released.count("raise NotImplementedError()") == TASKS[number]
    assert all(c["metadata"]["nbgrader"]["locked"] for c in graded_cells(notebooks.released(number)).values()
               if c["cell_type"] == "code")


@pytest.mark.parametrize("number", LABS)
def test_the_lab_says_where_labstack_differs_and_waits_under_a_bar(number: int) -> None:
    source = sources(notebooks.solution(number))
    assert "labstack vs AWS" in source and "Where labstack differed from AWS" in source
    assert "time.sleep(" not in source  # every wait is lab.wait or live.watch, both with a progress bar
    assert f"lab = grader.Lab({number})" in source and "lab.catch_up()" in source
