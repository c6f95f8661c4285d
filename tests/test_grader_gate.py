"""The CI gate (`grader ci`) on a fresh labstack, as `make test` runs it: labs/ is current; in one account
each lab unanswered scores 0 with a hint under every failing check and its solution then scores full
marks, lab after lab with no catch-up; and each later lab alone in a fresh account catches up on the
labs before it and scores full marks. Real nbgrader, real papermill (catch-up), real builds.

The pipeline really builds (the sample app's buildspecs on labstack's CodeBuild, with the kit's venv
first on PATH and no package index, so nothing is downloaded), deploys, waits for approvals, runs the
canaries and rolls v3 back on its alarm; afterwards the in-order account is looked at from outside.
"""

from __future__ import annotations

import pytest
from labstack.endpoints import listener_url

from grader import catchup, checks, ci, notebooks
from grader.backends import Backend, LabSession
from grader.checks import lab01, lab02, lab03, lab04, lab05
from tests.support.grading import session_for, written_note
from tests.support.sampleapp import answer
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.first, pytest.mark.timeout(1500)]  # the whole gate runs in one fixture

POINTS = {1: 30, 2: 29, 3: 28, 4: 29, 5: 27, 6: 20, 7: 35}


@pytest.fixture(scope="module")
def gate(sampleapp_labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[bool, list[str], LabSession]:
    """The whole gate, run once: whether it passed, what it said, and the in-order lane's account."""
    in_order = session_for(sampleapp_labstack)
    said: list[str] = []
    key = in_order.credentials_env()["AWS_ACCESS_KEY_ID"]
    passed = ci.run(Backend("embedded", sampleapp_labstack.endpoint), tmp_path_factory.mktemp("gate"),
                    say=said.append, in_order=key)
    return passed, said, in_order


def test_the_gate_passes_and_says_so_for_every_lab(gate: tuple[bool, list[str], LabSession]) -> None:
    passed, said, _ = gate
    assert list(POINTS) == checks.lab_numbers()
    expected = {"✓ labs/ matches solutions/"}
    for number, points in POINTS.items():
        slug = notebooks.slug(number)
        expected.add(f"✓ {slug}: unanswered it scores 0/{points}{written_note(number)}, a hint under every failing check")
        expected.add(f"✓ {slug}: the solution scores {points}/{points}{written_note(number)}")
        if number > 1:
            built = ", ".join(f"{n:02d}" for n in range(1, number))
            expected.add(f"✓ {slug} alone: catch-up built labs {built}, then the solution scores {points}/{points}{written_note(number)}")
    assert (passed, sorted(said)) == (True, sorted(expected)), "\n".join(said)


def test_every_check_passes_in_the_in_order_account_and_nothing_is_left_to_catch_up(
        gate: tuple[bool, list[str], LabSession]) -> None:
    _, _, account = gate
    for number in POINTS:
        assert catchup.lab_report(number, account).passed, number  # hidden checks included
    said: list[str] = []
    assert catchup.catch_up(max(POINTS) + 1, account, say=said.append) == []
    assert said == [f"✓ lab {n:02d} is already done" for n in POINTS]


def test_v3_was_stopped_by_its_alarm_and_production_serves_the_fix_from_main(
        gate: tuple[bool, list[str], LabSession], sampleapp_labstack: LabstackProcess) -> None:
    _, _, account = gate
    codedeploy = account.client("codedeploy")
    ids = codedeploy.list_deployments(applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP,
                                      includeOnlyStatuses=["Stopped"])["deployments"]
    stopped = [codedeploy.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids]
    assert [d["errorInformation"]["code"] for d in stopped] == ["ALARM_ACTIVE"]
    codecommit = account.client("codecommit")
    head = codecommit.get_branch(repositoryName="cicd-lab-app", branchName="main")["branch"]["commitId"]
    assert lab05.production_image(account) == f"{lab02.repository_uri(account)}:{head[:7]}"
    version = codecommit.get_file(repositoryName="cicd-lab-app", filePath="app/version.py")["fileContent"]
    assert b'"v2"' in version  # v2 shipped in lab 03, v3 reverted in lab 06
    ecs = account.client("ecs")
    wait_for(lambda: len(ecs.describe_services(cluster=lab03.CLUSTER, services=[lab03.SERVICE])
                         ["services"][0]["taskSets"]) == 1)  # the original task set is gone
    url = listener_url("sample-app-alb", 80, sampleapp_labstack.endpoint)
    assert {answer(url) for _ in range(20)} == {(200, "v2")}  # v3 answered 500 to one request in three



def test_the_in_order_account_met_the_labs_denials_where_aws_shows_them(gate: tuple[bool, list[str], LabSession]) -> None:
    """Labs 02 and 05 break and fix with labstack's IAM in enforce: the first build was denied
    ecr:GetAuthorizationToken (its PRE_BUILD context names the command, its log holds AWS's sentence), and
    the first approval request sns:Publish on the topic (the action's errorDetails)."""
    _, _, account = gate
    role = f"assumed-role/{lab01.ROLES['codebuild']}/"
    denied = [b for b in lab02.builds(account) if any(p["phaseType"] == "PRE_BUILD" and p.get("phaseStatus") == "FAILED"
                                                       for p in b["phases"])]
    assert len(denied) == 1, [b["buildStatus"] for b in lab02.builds(account)]
    context = next(p for p in denied[0]["phases"] if p["phaseType"] == "PRE_BUILD")["contexts"][0]
    assert context["statusCode"] == "COMMAND_EXECUTION_ERROR" and "aws ecr get-login-password" in context["message"]
    where = denied[0]["logs"]
    lines = [e["message"] for e in account.client("logs").get_log_events(
        logGroupName=where["groupName"], logStreamName=where["streamName"], startFromHead=True)["events"]]
    assert any(role in line and "is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no "
               "identity-based policy allows the ecr:GetAuthorizationToken action" in line for line in lines), lines
    failed = lab04.action_runs(account, "Approval", "Failed")
    messages = [((r.get("output") or {}).get("executionResult") or {}).get("errorDetails", {}).get("message", "")
                for r in failed]
    topic = lab05.topic_arn(account)
    assert [m for m in messages if f"assumed-role/{lab01.ROLES['codepipeline']}/" in m
            and f"is not authorized to perform: sns:Publish on resource: {topic}" in m], messages
