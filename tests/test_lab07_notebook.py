"""Lab 07 end to end: papermill runs the solution in an account where labs 01–06 are done; the stacks
CloudFormation made hold what the lab asks, the pipeline they made ran (its Lint build ran cfn-lint on the
pushed templates), and a second run of the solution (catch-up, `grader solve` again) changes nothing and still
scores full marks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import catchup
from grader.backends import LabSession
from grader.checks import lab07
from tests.support.later_labs import solved_through
from tests.support.server import LabstackProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start
POINTS = 35


@pytest.fixture(scope="module")
def solved(sampleapp_labstack: LabstackProcess) -> LabSession:
    """This worker's solved account (labs 01–06 by catch-up, shared with labs 04–06's tests), with lab 07 done."""
    return solved_through(sampleapp_labstack, 7)


def _errors(executed: Path) -> list[str]:
    return [o.get("evalue", "") for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])
            if o["output_type"] == "error"]


def _last_updates(session: LabSession) -> dict[str, object]:
    """When each of the lab's stacks was last updated (None: never since it was made)."""
    cloudformation = session.client("cloudformation")
    return {name: cloudformation.describe_stacks(StackName=name)["Stacks"][0].get("LastUpdatedTime")
            for name in (lab07.BASE_STACK, lab07.PIPELINE_STACK)}


def test_the_solution_passes_every_check(solved: LabSession) -> None:
    report = catchup.lab_report(7, solved)
    assert report.passed and report.earned == POINTS, report.text()


def test_the_stacks_hold_what_the_lab_asks(solved: LabSession) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html: an export
    another stack imports is listed by ListImports; the nested stack is a stack of its own, its parent's resource."""
    cloudformation = solved.client("cloudformation")
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName=lab07.PIPELINE_STACK)["Stacks"][0]["Outputs"]}
    assert outputs["PipelineName"] == f"{lab07.PREFIX}-{lab07.ENVIRONMENT}" and outputs["ProductionPort"] == "9080"
    nested = lab07.one(solved, lab07.PIPELINE_STACK, "AWS::CloudFormation::Stack")
    assert cloudformation.describe_stacks(StackName=nested)["Stacks"][0]["ParentId"].split("/")[1] == lab07.PIPELINE_STACK
    # the parent evaluates Fn::ImportValue and hands the nested stack its value as a parameter
    assert cloudformation.list_imports(ExportName=f"{lab07.PREFIX}-BuildRoleArn")["Imports"] == [lab07.PIPELINE_STACK]
    stages = [s["name"] for s in solved.client("codepipeline").get_pipeline(name=outputs["PipelineName"])["pipeline"]["stages"]]
    assert stages == ["Source", "Build", "Test", "Deploy_Staging", "Deploy_Production"]  # dev: no Approval


def test_a_second_run_of_the_solution_changes_nothing_and_scores_full_marks(solved: LabSession, tmp_path: Path) -> None:
    before = _last_updates(solved)
    executed = tmp_path / "07.ipynb"
    report = catchup.solve(7, solved, executed)
    assert _errors(executed) == []
    assert report.passed and report.earned == POINTS, report.text()
    assert _last_updates(solved) == before  # "No updates are to be performed"; the change set "didn't contain changes"
    assert "already runs this template with these values: nothing to change" in executed.read_text()
