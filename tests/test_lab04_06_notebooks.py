"""Labs 04→06 end to end in one account on one labstack, as a learner meets them: labs 01–03 are
caught up once, then for each lab nbgrader autogrades the released notebook unanswered (0 points, a
hint under every failing check) and the solution (full marks), in the order a learner works.

The pipeline really builds (the sample app's buildspecs on labstack's CodeBuild, with the kit's venv
first on PATH and no package index, so nothing is downloaded), deploys to staging, waits for the
approvals, runs the canaries and rolls v3 back on its alarm. The lab clock keeps its default scale
(a lab minute per second): lab 06's alarm must fire while the canary and the termination wait last,
and at a faster scale they would be over before the faulty version had answered enough requests.
"""

from __future__ import annotations

import pytest

from grader import catchup, checks, ci, grading, notebooks
from grader.backends import LabSession
from grader.checks import lab05
from tests.support.grading import session_for
from tests.support.labrun import SOLUTION, UNANSWERED, autograde_in_order
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.sampleapp_fixtures"]

LABS = (4, 5, 6)
POINTS = {4: 29, 5: 21, 6: 18}
EARLIER = (1, 2, 3)

WRITTEN = [n for n in EARLIER if n in checks.lab_numbers() and notebooks.solution(n).exists()]
if WRITTEN != list(EARLIER):
    pytest.skip(f"labs 04-06 start where labs 01-03 end, and only labs {WRITTEN} have checks and a solution",
                allow_module_level=True)


@pytest.fixture(scope="module")
def account(sampleapp_labstack: LabstackProcess) -> LabSession:
    """A fresh account where labs 01–03 were caught up from their solutions."""
    session = session_for(sampleapp_labstack)
    assert catchup.catch_up(4, session, say=lambda line: None) == list(EARLIER)
    return session


@pytest.fixture(scope="module")
def grades(account: LabSession, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str], grading.Grade]:
    """Each lab autograded unanswered and then solved, in order, in ``account``."""
    steps = [(number, who) for number in LABS for who in (UNANSWERED, SOLUTION)]
    return autograde_in_order(account, steps, tmp_path_factory.mktemp("labs04-06"))


@pytest.mark.parametrize("number", LABS)
def test_the_solution_scores_full_marks(grades: dict[tuple[int, str], grading.Grade], account: LabSession,
                                        number: int) -> None:
    grade = grades[(number, SOLUTION)]
    lost = {c.name: c.score for c in grade.cells if c.score < c.max_score}
    assert (grade.score, grade.max_score, lost) == (POINTS[number], POINTS[number], {}), grade.graded
    assert catchup.lab_report(number, account).passed  # hidden checks included, as grading ran them


@pytest.mark.parametrize("number", LABS)
def test_the_unanswered_lab_scores_zero_with_a_hint_under_each_check(grades: dict[tuple[int, str], grading.Grade],
                                                                     number: int) -> None:
    grade = grades[(number, UNANSWERED)]
    assert (grade.score, grade.max_score) == (0, POINTS[number])
    assert ci.cells_without_hints(grade.graded) == []


def test_v3_was_stopped_by_its_alarm_and_production_runs_the_fix(grades: dict[tuple[int, str], grading.Grade],
                                                                  account: LabSession) -> None:
    codedeploy = account.client("codedeploy")
    ids = codedeploy.list_deployments(applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP,
                                      includeOnlyStatuses=["Stopped"])["deployments"]
    stopped = [codedeploy.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids]
    assert [d["errorInformation"]["code"] for d in stopped] == ["ALARM_ACTIVE"]
    head = account.client("codecommit").get_branch(repositoryName="cicd-lab-app", branchName="main")["branch"]["commitId"]
    assert lab05.production_image(account).endswith(f":{head[:7]}")
    version = account.client("codecommit").get_file(repositoryName="cicd-lab-app", filePath="app/version.py")
    assert b'"v2"' in version["fileContent"]  # v2 shipped in lab 04, v3 reverted in lab 06
    said: list[str] = []  # the end of lab 06 leaves every lab done: nothing to catch up on
    assert catchup.catch_up(max(LABS) + 1, account, say=said.append) == []
    assert said == [f"✓ lab {n:02d} is already done" for n in checks.lab_numbers() if n <= max(LABS)]
