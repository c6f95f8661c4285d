"""Lab 07's notebooks agree with its checks: every check graded once, in the right kind of block, for the
points its cell is worth; the released notebook gives away no solution and no hidden test; each task links
the CloudFormation and boto3 pages it needs; room E's CDK section is there; the Terraform the lab sets beside
the learner's template declares everything it references."""

from __future__ import annotations

import json
import re
from pathlib import Path

from grader import grading, notebooks
from grader.checks import lab07
from tests.support.grading import graded_cells
from tests.test_lab01_content import called, sources

ROOT = Path(__file__).resolve().parents[1]
GIVEAWAYS = ("create_stack(", "create_change_set(", "execute_change_set(", "put_object(", 'git("push", "--quiet"',
             'shutil.copy(reference', '"change-set"', '"lint-ran"', '"bluegreen-group"',
             '"cdk-self-mutating"', 'shutil.copytree(reference')
TASKS = 8  # solution cells, each a `raise NotImplementedError()` for the learner


def test_each_graded_cell_is_worth_the_points_of_the_checks_it_calls() -> None:
    by_id = {c.id: c for c in lab07.CHECKS}
    seen: list[str] = []
    for grade_id, cell in graded_cells(notebooks.solution(7)).items():
        source = "".join(cell["source"])
        hidden_part = "".join(grading.HIDDEN_TESTS.findall(source))
        visible_part = grading.HIDDEN_TESTS.sub("", source)
        assert called(visible_part) and all(not by_id[i].hidden for i in called(visible_part)), grade_id
        assert all(by_id[i].hidden for i in called(hidden_part)), grade_id
        assert cell["metadata"]["nbgrader"]["points"] == sum(by_id[i].points for i in called(source)), grade_id
        seen += called(source)
    assert sorted(seen) == sorted(by_id)  # every check graded, none twice


def test_the_released_lab_holds_no_solution_and_no_hidden_test() -> None:
    giveaways = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", *GIVEAWAYS)
    assert all(g in sources(notebooks.solution(7)) for g in giveaways)
    released = sources(notebooks.released(7))
    assert [g for g in giveaways if g in released] == []
    assert released.count("raise NotImplementedError()") == TASKS
    assert all(c["metadata"]["nbgrader"]["locked"] for c in graded_cells(notebooks.released(7)).values())


def test_each_task_links_the_reference_pages_it_needs() -> None:
    cells = json.loads(notebooks.solution(7).read_text())["cells"]
    tasks = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown" and "Task:" in "".join(c["source"])]
    assert len(tasks) == 8  # 2-6, and the CDK's 8a-8c
    for text in tasks[:3] + tasks[4:]:  # all but the push, which is lab 04's git again
        assert "Reference:" in text and "docs.aws.amazon.com" in text, text[:60]
    assert "boto3.amazonaws.com" in "".join(tasks)


def test_the_lab_says_where_labstack_differs_and_marks_room_e_s_section() -> None:
    source = sources(notebooks.solution(7))
    assert "labstack vs AWS" in source and "Where labstack differed from AWS" in source
    assert "time.sleep(" not in source and "lab = grader.Lab(7)" in source and "lab.catch_up()" in source
    assert "<!-- ROOM E:" not in source and "BootstraplessSynthesizer" in source  # the CDK section, written
    assert "CHANGE_SET_REPLACE" in source and "CHANGE_SET_EXECUTE" in source  # its self-mutating stage


def test_the_terraform_declares_every_resource_it_references() -> None:
    """The course's blocks reference roles, a bucket, a key, clusters... that it never declares; the kit's
    configuration declares each one, so ``terraform apply`` on AWS has nothing dangling."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "infra" / "terraform").glob("*.tf")))
    text = re.sub(r"(?m)^\s*#.*$", "", text)  # comments name what they talk about
    declared = set(re.findall(r'^resource "([a-z0-9_]+)" "([a-z0-9_]+)"', text, re.M))
    data = set(re.findall(r'^data "([a-z0-9_]+)" "([a-z0-9_]+)"', text, re.M))
    referenced = set(re.findall(r"(?<![\w.\"])(aws_[a-z0-9_]+)\.([a-z0-9_]+)\b", text))
    referenced_data = set(re.findall(r"\bdata\.(aws_[a-z0-9_]+)\.([a-z0-9_]+)\b", text))
    assert {"aws_codepipeline", "aws_codebuild_project", "aws_codedeploy_deployment_group"} <= {t for t, _ in declared}
    assert referenced - declared == set()
    assert referenced_data - data == set()
