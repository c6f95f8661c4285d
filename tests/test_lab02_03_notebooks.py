"""Labs 02 and 03 end to end in one fresh account on one labstack, as a learner meets them, with real
nbgrader: lab 02 unanswered (its catch-up builds lab 01), lab 03 unanswered (its catch-up builds lab
02 from the solution), then both solutions in order (lab 02's a second time: it is idempotent).

The builds really run the sample app's buildspec on labstack's CodeBuild, with the kit's venv first
on PATH and no package index (nothing is downloaded); v2 really ships through the canary."""

from __future__ import annotations

from pathlib import Path

import pytest
from labstack.endpoints import listener_url

from grader import catchup, ci, grading
from grader.backends import LabSession
from grader.checks import lab02, lab03
from tests.support.grading import session_for
from tests.support.labrun import SOLUTION, UNANSWERED, autograde_in_order
from tests.support.sampleapp import answer
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.sampleapp_fixtures"]

POINTS = {2: 25, 3: 24}
STEPS = ((2, UNANSWERED), (3, UNANSWERED), (2, SOLUTION), (3, SOLUTION))


@pytest.fixture(scope="module")
def account(sampleapp_labstack: LabstackProcess) -> LabSession:
    """A fresh account: nothing of any lab in it yet."""
    return session_for(sampleapp_labstack)


@pytest.fixture(scope="module")
def grades(account: LabSession, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str], grading.Grade]:
    """The four steps, autograded in order in ``account``."""
    return autograde_in_order(account, STEPS, tmp_path_factory.mktemp("labs02-03"))


@pytest.mark.parametrize("number", sorted(POINTS))
def test_the_unanswered_lab_catches_up_and_scores_zero_with_a_hint_under_each_check(
        grades: dict[tuple[int, str], grading.Grade], number: int) -> None:
    grade = grades[(number, UNANSWERED)]
    assert (grade.score, grade.max_score) == (0, POINTS[number])
    assert ci.cells_without_hints(grade.graded) == []
    said = Path(grade.graded).read_text()
    assert f"building lab {number - 1:02d} from its solution" in said and f"lab {number - 1:02d} built" in said


@pytest.mark.parametrize("number", sorted(POINTS))
def test_the_solution_scores_full_marks(grades: dict[tuple[int, str], grading.Grade], account: LabSession,
                                        number: int) -> None:
    grade = grades[(number, SOLUTION)]
    lost = {c.name: c.score for c in grade.cells if c.score < c.max_score}
    assert (grade.score, grade.max_score, lost) == (POINTS[number], POINTS[number], {}), grade.graded
    assert catchup.lab_report(number, account).passed  # hidden checks included


def test_v2_serves_from_the_image_of_main_through_the_production_listener(
        grades: dict[tuple[int, str], grading.Grade], account: LabSession, sampleapp_labstack: LabstackProcess) -> None:
    head = account.client("codecommit").get_branch(repositoryName="cicd-lab-app", branchName="main")["branch"]["commitId"]
    images = account.client("ecr").describe_images(repositoryName=lab02.ECR_REPOSITORY)["imageDetails"]
    latest = next(i for i in images if "latest" in i.get("imageTags", []))
    assert head[:7] in latest["imageTags"]  # lab 03's base stack runs sample-app:latest
    ecs = account.client("ecs")
    (serving,) = wait_for(lambda: len(sets := ecs.describe_services(cluster=lab03.CLUSTER, services=[lab03.SERVICE])
                                      ["services"][0]["taskSets"]) == 1 and sets)  # the original is gone
    image = ecs.describe_task_definition(
        taskDefinition=serving["taskDefinition"])["taskDefinition"]["containerDefinitions"][0]["image"]
    assert image == f"{lab02.repository_uri(account)}:{head[:7]}"
    url = listener_url("sample-app-alb", 80, sampleapp_labstack.endpoint)
    assert {answer(url) for _ in range(5)} == {(200, "v2")}
