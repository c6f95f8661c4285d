"""Lab 05's checks, proven by mutation: in an account the solutions built, each check's property broken with
a wrong-but-plausible resource makes that check ✗ with its hint (the rest of its cell still ✓), and the
account is put back. Approvals and releases are broken in a small account whose pipeline ran only by hand."""

from __future__ import annotations

from typing import Any

import pytest

from grader.backends import LabSession
from grader.checks import lab01, lab03, lab04, lab05
from tests.support.later_labs import (
    EVERYTHING,
    HandRun,
    action_of,
    assert_failed,
    assert_fails,
    assert_passes,
    assert_solved,
    pipeline_changed,
    policy_document,
    production_primary,
    solved_through,
)
from tests.support.mutations import breaks, role_policy, uncovered
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start
pytest_plugins = ["tests.support.later_labs_fixtures"]


@pytest.fixture(scope="module")
def solved(sampleapp_labstack: LabstackProcess) -> LabSession:
    """This worker's solved account, with labs 01–05 done at least (shared with labs 04's and 06's tests)."""
    return solved_through(sampleapp_labstack, 5)

PIPELINE_ROLE = lab01.ROLES["codepipeline"]
POLICY = "approval-and-production"


def test_every_check_of_lab_05_is_broken_by_a_test() -> None:
    assert uncovered(lab05, globals()) == set()


def test_the_solved_account_passes_every_check_and_each_names_what_it_grades(solved: LabSession) -> None:
    assert_solved(solved, lab05)


# --- the topic ------------------------------------------------------------------------------------

@breaks("approval-topic")
def test_a_topic_with_a_typo_in_its_name(hand_run: HandRun) -> None:
    assert_fails(hand_run.session, lab05, "approval-topic", f"there is no SNS topic {lab05.TOPIC}")


@breaks("approval-subscription")
def test_the_approver_subscribed_to_another_topic(solved: LabSession) -> None:
    sns = solved.client("sns")
    topic = lab05.topic_arn(solved)
    mine = next(s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Protocol"] == "email-json")
    other = sns.create_topic(Name="cicd-lab-approval")["TopicArn"]
    sns.unsubscribe(SubscriptionArn=mine["SubscriptionArn"])
    sns.subscribe(TopicArn=other, Protocol="email-json", Endpoint=lab05.APPROVER)
    try:
        assert_fails(solved, lab05, "approval-subscription", f"{lab05.TOPIC} has no email subscription (0 of other kinds)",
                     still=("approval-topic", "pipeline-role-publishes"))
    finally:
        sns.delete_topic(TopicArn=other)
        sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=lab05.APPROVER)
    assert_passes(solved, lab05, "approval-subscription")


@breaks("approval-subscription")
def test_approval_requests_mailed_to_someone_else(solved: LabSession) -> None:
    sns = solved.client("sns")
    topic = lab05.topic_arn(solved)
    mine = next(s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Protocol"] == "email-json")
    sns.unsubscribe(SubscriptionArn=mine["SubscriptionArn"])
    other = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="me@example.com", ReturnSubscriptionArn=True)
    try:
        assert_fails(solved, lab05, "approval-subscription", f"mails me@example.com, not the approver {lab05.APPROVER}",
                     still=("approval-topic", "approval-stage"))
    finally:
        sns.unsubscribe(SubscriptionArn=other["SubscriptionArn"])
        sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=lab05.APPROVER)
    assert_passes(solved, lab05, "approval-subscription")


@breaks("pipeline-role-publishes")
def test_a_pipeline_role_that_may_publish_to_another_topic(solved: LabSession) -> None:
    policy = policy_document(solved, PIPELINE_ROLE, lab05.NOTIFY_POLICY)
    topic = lab05.topic_arn(solved)
    for statement in policy["Statement"]:
        if statement["Action"] == "sns:Publish":
            statement["Resource"] = topic.replace(lab05.TOPIC, "cicd-lab-approval")
    with role_policy(solved, PIPELINE_ROLE, lab05.NOTIFY_POLICY, policy):
        assert_fails(solved, lab05, "pipeline-role-publishes", f"may not sns:Publish on {topic}",
                     still=("approval-topic", "approval-subscription"))
    assert_passes(solved, lab05, "pipeline-role-publishes")


@breaks("pipeline-role-publishes-only")
def test_a_pipeline_role_that_may_publish_to_every_topic(solved: LabSession) -> None:
    topic = lab05.topic_arn(solved)
    everywhere = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}
    with role_policy(solved, PIPELINE_ROLE, lab05.NOTIFY_POLICY, everywhere):
        assert_fails(solved, lab05, "pipeline-role-publishes-only", f"sns:Publish on other resources than {topic}",
                     still=("pipeline-role-publishes",))
    assert_passes(solved, lab05, "pipeline-role-publishes-only")


@breaks("pipeline-role-publishes-only")
def test_a_pipeline_role_never_granted_publish_is_not_judged_least_privilege(solved: LabSession) -> None:
    with role_policy(solved, PIPELINE_ROLE, lab05.NOTIFY_POLICY, None):
        assert_fails(solved, lab05, "pipeline-role-publishes-only",
                     f"may not sns:Publish on {lab05.topic_arn(solved)} yet: grant it first",
                     still=("approval-topic", "approval-subscription"))
    assert_passes(solved, lab05, "pipeline-role-publishes-only")


@breaks("pipeline-role-publishes-only")
def test_a_pipeline_role_allowed_every_sns_action_on_the_topic(solved: LabSession) -> None:
    every_action = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sns:*", "Resource": lab05.topic_arn(solved)}]}
    with role_policy(solved, PIPELINE_ROLE, lab05.NOTIFY_POLICY, every_action):
        assert_fails(solved, lab05, "pipeline-role-publishes-only", "every sns action (sns:*)",
                     still=("pipeline-role-publishes",))


# --- the two new stages ---------------------------------------------------------------------------

@breaks("approval-stage")
def test_an_approval_that_notifies_nobody(solved: LabSession) -> None:
    with pipeline_changed(solved, lambda d: action_of(d, "Approval")["configuration"].pop("NotificationArn")):
        assert_fails(solved, lab05, "approval-stage", "the approval notifies nobody",
                     still=("production-stage", "approval-details", "production-artifacts"))
    assert_passes(solved, lab05, "approval-stage")


@breaks("approval-details")
def test_an_approval_request_without_a_link_to_staging(solved: LabSession) -> None:
    with pipeline_changed(solved, lambda d: action_of(d, "Approval")["configuration"].pop("ExternalEntityLink")):
        assert_fails(solved, lab05, "approval-details", "the Manual action has no ExternalEntityLink",
                     still=("approval-stage", "production-stage"))
    assert_passes(solved, lab05, "approval-details")


@breaks("production-stage")
def test_production_deployed_with_the_application_name_as_its_group(solved: LabSession) -> None:
    def group(declaration: dict[str, Any]) -> None:
        action_of(declaration, "Deploy_Production")["configuration"]["DeploymentGroupName"] = lab05.APPLICATION

    with pipeline_changed(solved, group):
        assert_fails(solved, lab05, "production-stage", f"it deploys with {lab05.APPLICATION}/{lab05.APPLICATION}",
                     still=("approval-stage", "production-artifacts"))
    assert_passes(solved, lab05, "production-stage")


@breaks("production-stage")
def test_production_stage_before_the_approval(solved: LabSession) -> None:
    def swap(declaration: dict[str, Any]) -> None:
        declaration["stages"][-2:] = declaration["stages"][-2:][::-1]

    with pipeline_changed(solved, swap):
        assert_fails(solved, lab05, "production-stage", "Deploy_Production should come last, after Approval")


@breaks("production-artifacts")
def test_production_image_named_by_its_container_rather_than_the_placeholder(solved: LabSession) -> None:
    def container(declaration: dict[str, Any]) -> None:
        action_of(declaration, "Deploy_Production")["configuration"]["Image1ContainerName"] = "app"

    with pipeline_changed(solved, container):
        assert_fails(solved, lab05, "production-artifacts", "Image1ContainerName is app", still=("production-stage",))
    assert_passes(solved, lab05, "production-artifacts")


@breaks("pipeline-role-codedeploy")
def test_a_pipeline_role_that_may_not_read_deployment_configs(solved: LabSession) -> None:
    policy = policy_document(solved, PIPELINE_ROLE, POLICY)
    for statement in policy["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"] = [a for a in statement["Action"] if a != "codedeploy:GetDeploymentConfig"]
    with role_policy(solved, PIPELINE_ROLE, POLICY, policy):
        assert_fails(solved, lab05, "pipeline-role-codedeploy", "may not: codedeploy:GetDeploymentConfig",
                     still=("pipeline-role-publishes",))
    assert_passes(solved, lab05, "pipeline-role-codedeploy")


@breaks("pipeline-role-codedeploy")
def test_a_pipeline_role_allowed_every_action(solved: LabSession) -> None:
    with role_policy(solved, PIPELINE_ROLE, POLICY, EVERYTHING):
        assert_fails(solved, lab05, "pipeline-role-codedeploy", "may also", "more than its stages need",
                     still=("pipeline-role-publishes",))
    assert_passes(solved, lab05, "pipeline-role-codedeploy")


# --- releasing, rejecting, approving --------------------------------------------------------------

@breaks("manual-release")
def test_a_pipeline_that_only_ran_when_it_was_created_was_never_released_by_hand(hand_run: HandRun) -> None:
    assert_failed(hand_run.before_start["manual-release"], lab05,
                  f"no execution of {lab04.PIPELINE} was started with StartPipelineExecution yet")


@breaks("rejected-once")
def test_an_approval_stopped_instead_of_rejected_or_whose_request_was_never_sent(hand_run: HandRun) -> None:
    assert_fails(hand_run.session, lab05, "rejected-once", "no approval request was rejected yet",
                 f"Could not publish the approval notification to arn:aws:sns:{hand_run.session.region}:", "nobody could answer it",
                 still=("manual-release",))


@breaks("approved")
def test_an_approval_whose_production_deploy_failed(hand_run: HandRun) -> None:
    assert_fails(hand_run.session, lab05, "approved", "no execution was approved and then deployed to production yet")


@breaks("production-runs-approved")
def test_production_left_on_the_first_release(solved: LabSession) -> None:
    first = f"arn:aws:ecs:{solved.region}:{solved.account}:task-definition/{lab03.SERVICE}:1"
    with production_primary(solved, first):
        assert_fails(solved, lab05, "production-runs-approved", "not the approved image tagged", still=("approved",))
    assert_passes(solved, lab05, "production-runs-approved")


# --- troubleshooting: the request nobody answered -------------------------------------------------

def _drill_run(session: LabSession) -> tuple[str, str]:
    """Lab 05's drill pipeline put again as the solution declares it (created when missing) and run once more:
    (execution id, status of its approval stage once it has an answer or a token)."""
    client = session.client("codepipeline")
    main = client.get_pipeline(name=lab04.PIPELINE)["pipeline"]
    approval = {"name": "ManualApproval", "runOrder": 1, "timeoutInMinutes": lab05.DRILL_TIMEOUT,
                "configuration": {"NotificationArn": lab05.topic_arn(session)},
                "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}
    declaration = {"name": lab05.DRILL_PIPELINE, "pipelineType": "V2", "roleArn": main["roleArn"],
                   "artifactStore": main["artifactStore"], "stages": main["stages"][:1] + [{"name": "Approval", "actions": [approval]}]}
    try:
        client.update_pipeline(pipeline=declaration)
        execution = client.start_pipeline_execution(name=lab05.DRILL_PIPELINE)["pipelineExecutionId"]
    except client.exceptions.PipelineNotFoundException:
        client.create_pipeline(pipeline=declaration)  # its first execution starts by itself
        execution = wait_for(lambda: (e := client.list_pipeline_executions(pipelineName=lab05.DRILL_PIPELINE)
                                      ["pipelineExecutionSummaries"]) and e[0]["pipelineExecutionId"])
    return execution, wait_for(lambda: _approval_status(session, execution), seconds=120)


def _approval_status(session: LabSession, execution: str) -> str | None:
    for stage in session.client("codepipeline").get_pipeline_state(name=lab05.DRILL_PIPELINE)["stageStates"]:
        run = stage.get("latestExecution", {})
        if stage["stageName"] == "Approval" and run.get("pipelineExecutionId") == execution:
            action = stage["actionStates"][0].get("latestExecution", {})
            return "Waiting" if action.get("token") and action.get("status") == "InProgress" else (
                None if run["status"] == "InProgress" else str(run["status"]))
    return None


def _token(session: LabSession) -> str:
    stage = next(s for s in session.client("codepipeline").get_pipeline_state(name=lab05.DRILL_PIPELINE)["stageStates"]
                 if s["stageName"] == "Approval")
    return str(stage["actionStates"][0]["latestExecution"]["token"])


def _answer(session: LabSession, execution: str, status: str) -> str:
    """Answer the drill's waiting request; the stage's status once it has ended."""
    session.client("codepipeline").put_approval_result(
        pipelineName=lab05.DRILL_PIPELINE, stageName="Approval", actionName="ManualApproval", token=_token(session),
        result={"status": status, "summary": "Not now" if status == "Rejected" else "In time"})
    return str(wait_for(lambda: (s := _approval_status(session, execution)) != "Waiting" and s, seconds=120))


def _drill_done_right(session: LabSession) -> str:
    """The drill as the solution does it: a request left to expire, the stage retried, the new request approved."""
    execution, status = _drill_run(session)
    assert status == "Waiting" and wait_for(lambda: _approval_status(session, execution) == "Failed", seconds=120)
    assert_fails(session, lab05, "expired-then-approved", "no later request of the drill pipeline was approved",
                 still=("approval-expired",))
    session.client("codepipeline").retry_stage_execution(pipelineName=lab05.DRILL_PIPELINE, stageName="Approval",
                                                         pipelineExecutionId=execution, retryMode="FAILED_ACTIONS")
    assert wait_for(lambda: _approval_status(session, execution), seconds=120) == "Waiting"
    return _answer(session, execution, "Approved")


@breaks("approval-expired", "expired-then-approved")
def test_a_drill_request_rejected_or_left_expired_without_a_retry(solved: LabSession) -> None:
    """A rejected request is not an expired one; an expired one not retried and approved is half the drill. Then
    the drill done right passes both. https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-approve-or-reject.html"""
    client = solved.client("codepipeline")
    client.delete_pipeline(name=lab05.DRILL_PIPELINE)
    try:
        assert_fails(solved, lab05, "approval-expired", f"there is no pipeline {lab05.DRILL_PIPELINE}")
        main = client.get_pipeline(name=lab04.PIPELINE)["pipeline"]
        client.create_pipeline(pipeline={**{k: main[k] for k in ("roleArn", "artifactStore")}, "name": lab05.DRILL_PIPELINE,
                                         "pipelineType": "V2", "stages": main["stages"][:1] + [
                                             {"name": "Approval", "actions": [action_of(main, "Approval")]}]})
        first = wait_for(lambda: (e := client.list_pipeline_executions(pipelineName=lab05.DRILL_PIPELINE)
                                  ["pipelineExecutionSummaries"]) and e[0]["pipelineExecutionId"])
        assert wait_for(lambda: _approval_status(solved, first), seconds=120) == "Waiting"
        assert _answer(solved, first, "Rejected") == "Failed"
        assert_fails(solved, lab05, "approval-expired", "expired yet (it failed otherwise: Not now)")
        assert_fails(solved, lab05, "expired-then-approved", "expired yet")
    finally:
        assert _drill_done_right(solved) == "Succeeded"  # the solved account as the solution left it
    assert_passes(solved, lab05, "approval-expired", "expired-then-approved")
