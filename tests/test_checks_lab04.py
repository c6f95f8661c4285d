"""Lab 04's checks, proven by mutation: in an account the solutions built, each check's property broken with
a wrong-but-plausible resource makes that check ✗ with its hint (the rest of its cell still ✓), and the
account is put back. The pipeline's history is broken in a small account whose pipeline ran only by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grader.backends import LabSession
from grader.checks import lab01, lab03, lab04
from tests.support.later_labs import (
    EVERYTHING,
    HandRun,
    action_of,
    assert_fails,
    assert_passes,
    assert_solved,
    pipeline_changed,
    policy_document,
    staging_definition,
    solved_through,
)
from tests.support.mutations import breaks, mutation, project_changed, role_policy, uncovered
from tests.support.roles import service_role
from tests.support.server import LabstackProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start
pytest_plugins = ["tests.support.later_labs_fixtures"]


@pytest.fixture(scope="module")
def solved(sampleapp_labstack: LabstackProcess) -> LabSession:
    """This worker's solved account, with labs 01–04 done at least (shared with labs 05's and 06's tests)."""
    return solved_through(sampleapp_labstack, 4)

PIPELINE_ROLE = lab01.ROLES["codepipeline"]


def test_every_check_of_lab_04_is_broken_by_a_test() -> None:
    assert uncovered(lab04, globals()) == set()


def test_the_solved_account_passes_every_check_and_each_names_what_it_grades(solved: LabSession) -> None:
    assert_solved(solved, lab04)


# --- the Test stage's projects ------------------------------------------------------------------

@breaks("unit-tests-project")
def test_a_unit_tests_project_without_its_buildspec_runs_the_default_one(solved: LabSession) -> None:
    with project_changed(solved, lab04.UNIT_TESTS, source={"type": "CODEPIPELINE"}):
        assert_fails(solved, lab04, "unit-tests-project", "runs the buildspec buildspec.yml (the default), not buildspec-unit.yml",
                     still=("security-scan-project", "test-projects-setup"))
    assert_passes(solved, lab04, "unit-tests-project")


@breaks("security-scan-project")
def test_a_scan_project_that_runs_the_unit_tests_buildspec(solved: LabSession) -> None:
    with project_changed(solved, lab04.SECURITY_SCAN, source={"type": "CODEPIPELINE", "buildspec": "buildspec-unit.yml"}):
        assert_fails(solved, lab04, "security-scan-project", "runs the buildspec buildspec-unit.yml, not buildspec-security.yml",
                     still=("unit-tests-project", "test-projects-setup"))
    assert_passes(solved, lab04, "security-scan-project")


@breaks("test-projects-setup")
def test_a_test_project_copied_from_the_docker_build_runs_privileged(solved: LabSession) -> None:
    project = solved.client("codebuild").batch_get_projects(names=[lab04.SECURITY_SCAN])["projects"][0]
    with project_changed(solved, lab04.SECURITY_SCAN, environment={**project["environment"], "privilegedMode": True}):
        assert_fails(solved, lab04, "test-projects-setup", f"{lab04.SECURITY_SCAN} runs privileged",
                     still=("unit-tests-project", "security-scan-project"))
    assert_passes(solved, lab04, "test-projects-setup")


@breaks("test-projects-setup")
def test_test_builds_logging_where_lab_02s_build_logs(solved: LabSession) -> None:
    role = lab01.ROLES["codebuild"]
    policy = policy_document(solved, role, "pipeline-artifacts")
    lab02_group = f"arn:aws:logs:{solved.region}:{solved.account}:log-group:/codebuild/cicd-lab-build*"
    for statement in policy["Statement"]:
        if "logs:PutLogEvents" in statement["Action"]:
            statement["Resource"] = lab02_group  # copied from lab 02's policy
    with role_policy(solved, role, "pipeline-artifacts", policy):
        assert_fails(solved, lab04, "test-projects-setup",
                     f"may not logs:PutLogEvents on arn:aws:logs:{solved.region}:{solved.account}:log-group:"
                     f"/aws/codebuild/{lab04.UNIT_TESTS}:log-stream:any",
                     still=("unit-tests-project", "security-scan-project"))
    assert_passes(solved, lab04, "test-projects-setup")


# --- the staging service --------------------------------------------------------------------------

@breaks("staging-service")
def test_a_staging_service_scaled_to_nothing(solved: LabSession) -> None:
    ecs = solved.client("ecs")
    ecs.update_service(cluster=lab04.CLUSTER, service=lab04.STAGING_SERVICE, desiredCount=0)
    try:
        assert_fails(solved, lab04, "staging-service", f"{lab04.STAGING_SERVICE} wants 0 tasks", still=("staging-rolling",))
    finally:
        ecs.update_service(cluster=lab04.CLUSTER, service=lab04.STAGING_SERVICE, desiredCount=1)
    assert_passes(solved, lab04, "staging-service")


@breaks("staging-service")
def test_a_staging_service_in_a_subnet_of_its_own(solved: LabSession) -> None:
    ecs, ec2 = solved.client("ecs"), solved.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    service = ecs.describe_services(cluster=lab04.CLUSTER, services=[lab04.STAGING_SERVICE])["services"][0]
    ecs.update_service(cluster=lab04.CLUSTER, service=lab04.STAGING_SERVICE, networkConfiguration={
        "awsvpcConfiguration": {**service["networkConfiguration"]["awsvpcConfiguration"], "subnets": [subnet]}})
    try:
        assert_fails(solved, lab04, "staging-service", f"runs in the subnets ['{subnet}'], not in production's",
                     still=("staging-rolling",))
    finally:
        ecs.update_service(cluster=lab04.CLUSTER, service=lab04.STAGING_SERVICE,
                           networkConfiguration=service["networkConfiguration"])
    assert_passes(solved, lab04, "staging-service")


@breaks("staging-rolling")
def test_a_staging_task_definition_whose_container_is_not_called_app(solved: LabSession) -> None:
    def rename(containers: list[dict[str, Any]]) -> None:
        containers[0]["name"] = "sample-app"

    with staging_definition(solved, rename):
        assert_fails(solved, lab04, "staging-rolling", "no container named app", still=("staging-service",))
    assert_passes(solved, lab04, "staging-rolling")


@breaks("staging-rolling")
def test_a_staging_service_that_codedeploy_deploys(hand_run: HandRun) -> None:
    assert_fails(hand_run.session, lab04, "staging-rolling", f"{lab04.STAGING_SERVICE} is deployed by CODE_DEPLOY")


# --- the pipeline ---------------------------------------------------------------------------------

@breaks("pipeline-exists")
def test_a_pipeline_acting_as_a_second_pipeline_role(solved: LabSession) -> None:
    # CodePipeline refuses a role it may not assume (the build's), so the plausible mistake is a second
    # role that trusts CodePipeline under a near name.
    iam, other = solved.client("iam"), "cicd-lab-pipeline-role"

    def second_role(declaration: dict[str, Any]) -> None:
        declaration["roleArn"] = declaration["roleArn"].replace(PIPELINE_ROLE, other)

    service_role(iam, other, "codepipeline.amazonaws.com", policy=None)
    with mutation(lambda: iam.delete_role(RoleName=other)), pipeline_changed(solved, second_role):
        assert_fails(solved, lab04, "pipeline-exists", f"role/{other}, not {PIPELINE_ROLE}",
                     still=("pipeline-artifact-store", "pipeline-stages", "test-stage-parallel"))
    assert_passes(solved, lab04, "pipeline-exists")


@breaks("pipeline-exists")
def test_a_v1_pipeline(solved: LabSession) -> None:
    with pipeline_changed(solved, lambda declaration: declaration.update(pipelineType="V1")):
        assert_fails(solved, lab04, "pipeline-exists", f"{lab04.PIPELINE} is a V1 pipeline")


@breaks("pipeline-artifact-store")
def test_an_artifact_store_without_the_key_falls_back_to_aws_s3(solved: LabSession) -> None:
    with pipeline_changed(solved, lambda declaration: declaration["artifactStore"].pop("encryptionKey")):
        assert_fails(solved, lab04, "pipeline-artifact-store", "names no encryption key",
                     still=("pipeline-exists", "pipeline-stages"))
    assert_passes(solved, lab04, "pipeline-artifact-store")


@breaks("pipeline-artifact-store")
def test_an_artifact_store_encrypted_with_another_key(solved: LabSession) -> None:
    other = solved.client("kms").create_key(Description="a second key, not the lab's")["KeyMetadata"]["Arn"]

    def other_key(declaration: dict[str, Any]) -> None:
        declaration["artifactStore"]["encryptionKey"] = {"id": other, "type": "KMS"}

    with pipeline_changed(solved, other_key):
        assert_fails(solved, lab04, "pipeline-artifact-store", f"encrypts with {other}, not the key behind {lab01.KEY_ALIAS}")


@breaks("pipeline-stages")
def test_a_pipeline_that_deploys_to_staging_before_testing(solved: LabSession) -> None:
    def deploy_first(declaration: dict[str, Any]) -> None:
        stages = declaration["stages"]
        test, deploy = stages.index(lab04.stage(declaration, "Test")), stages.index(lab04.stage(declaration, "Deploy_Staging"))
        stages[test], stages[deploy] = stages[deploy], stages[test]

    with pipeline_changed(solved, deploy_first):
        assert_fails(solved, lab04, "pipeline-stages", "the stages are Source, Build, Deploy_Staging, Test",
                     still=("pipeline-exists", "test-stage-parallel", "staging-deploy-action"))
    assert_passes(solved, lab04, "pipeline-stages")


@breaks("test-stage-parallel")
def test_a_scan_that_waits_for_the_unit_tests(solved: LabSession) -> None:
    with pipeline_changed(solved, lambda declaration: action_of(declaration, "Test", "SecurityScan").update(runOrder=2)):
        assert_fails(solved, lab04, "test-stage-parallel", "different runOrders", still=("pipeline-stages",))
    assert_passes(solved, lab04, "test-stage-parallel")


@breaks("staging-deploy-action")
def test_a_staging_deploy_that_targets_production(solved: LabSession) -> None:
    def to_production(declaration: dict[str, Any]) -> None:
        action_of(declaration, "Deploy_Staging")["configuration"]["ServiceName"] = lab03.SERVICE

    with pipeline_changed(solved, to_production):
        assert_fails(solved, lab04, "staging-deploy-action", f"it deploys to {lab04.CLUSTER}/{lab03.SERVICE}",
                     still=("pipeline-stages", "variables"))
    assert_passes(solved, lab04, "staging-deploy-action")


@pytest.mark.parametrize(("passed", "found"), [
    (json.dumps([{"name": "IMAGE_TAG", "value": "${BuildVariables.IMAGE_TAG}", "type": "PLAINTEXT"}]),
     "no Test action receives #{BuildVariables.IMAGE_TAG}"),
    ("IMAGE_TAG=#{BuildVariables.IMAGE_TAG}", "SecurityScan's EnvironmentVariables is not a JSON list"),
])
@breaks("variables")
def test_variables_passed_in_shell_syntax_or_not_as_json(solved: LabSession, passed: str, found: str) -> None:
    with pipeline_changed(solved, lambda d: action_of(d, "Test", "SecurityScan")["configuration"].update(EnvironmentVariables=passed)):
        assert_fails(solved, lab04, "variables", found, still=("test-stage-parallel", "staging-deploy-action"))
    assert_passes(solved, lab04, "variables")


# --- what starts it -------------------------------------------------------------------------------

@breaks("push-trigger")
def test_a_source_that_still_polls(solved: LabSession) -> None:
    with pipeline_changed(solved, lambda d: action_of(d, "Source")["configuration"].update(PollForSourceChanges="true")):
        assert_fails(solved, lab04, "push-trigger", "still polls", still=("events-role",))
    assert_passes(solved, lab04, "push-trigger")


@breaks("push-trigger")
def test_a_disabled_trigger_rule(solved: LabSession) -> None:
    events = solved.client("events")
    events.disable_rule(Name=lab04.TRIGGER_RULE)
    try:
        assert_fails(solved, lab04, "push-trigger", f"{lab04.TRIGGER_RULE} is DISABLED", still=("events-role",))
    finally:
        events.enable_rule(Name=lab04.TRIGGER_RULE)
    assert_passes(solved, lab04, "push-trigger")


@breaks("push-trigger")
def test_a_trigger_rule_on_another_branch(solved: LabSession) -> None:
    events = solved.client("events")
    rule = events.describe_rule(Name=lab04.TRIGGER_RULE)
    pattern = json.loads(rule["EventPattern"])
    master = {**pattern, "detail": {**pattern["detail"], "referenceName": ["master"]}}
    events.put_rule(Name=lab04.TRIGGER_RULE, EventPattern=json.dumps(master), State="ENABLED")
    try:
        assert_fails(solved, lab04, "push-trigger", "does not match pushes to cicd-lab-app@main: detail.referenceName ['master']",
                     still=("events-role",))
    finally:
        events.put_rule(Name=lab04.TRIGGER_RULE, EventPattern=rule["EventPattern"], State="ENABLED")
    assert_passes(solved, lab04, "push-trigger")


@breaks("events-role")
def test_an_events_role_allowed_on_the_repository_instead_of_the_pipeline(solved: LabSession) -> None:
    repository = f"arn:aws:codecommit:{solved.region}:{solved.account}:{lab01.REPOSITORY}"
    wrong = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "codepipeline:StartPipelineExecution", "Resource": repository}]}
    with role_policy(solved, lab04.EVENTS_ROLE, "start-pipeline", wrong):
        assert_fails(solved, lab04, "events-role", f"may not codepipeline:StartPipelineExecution on {lab04.PIPELINE}",
                     still=("push-trigger",))
    assert_passes(solved, lab04, "events-role")


# --- the pipeline's role ----------------------------------------------------------------------------

@breaks("pipeline-role-permissions")
def test_a_pipeline_role_that_may_start_only_the_build_project(solved: LabSession) -> None:
    policy = policy_document(solved, PIPELINE_ROLE, "pipeline")
    for statement in policy["Statement"]:
        if "codebuild:StartBuild" in statement["Action"]:
            statement["Resource"] = f"arn:aws:codebuild:{solved.region}:{solved.account}:project/{lab04.BUILD_PROJECT}"
    with role_policy(solved, PIPELINE_ROLE, "pipeline", policy):
        assert_fails(solved, lab04, "pipeline-role-permissions", f"may not: codebuild:StartBuild on "
                     f"arn:aws:codebuild:{solved.region}:{solved.account}:project/{lab04.UNIT_TESTS}")
    assert_passes(solved, lab04, "pipeline-role-permissions")


@breaks("pipeline-role-permissions")
def test_a_pipeline_role_allowed_everything(solved: LabSession) -> None:
    with role_policy(solved, PIPELINE_ROLE, "pipeline", EVERYTHING):
        assert_fails(solved, lab04, "pipeline-role-permissions", f"may also iam:PassRole on arn:aws:iam::{solved.account}:role/"
                     f"{PIPELINE_ROLE}", "more than its stages need")
    assert_passes(solved, lab04, "pipeline-role-permissions")


# --- the push and what staging runs -----------------------------------------------------------------

@breaks("push-ran-pipeline")
def test_a_pipeline_that_only_ran_by_hand_was_never_started_by_a_push(hand_run: HandRun) -> None:
    assert_fails(hand_run.session, lab04, "push-ran-pipeline", "no execution started by a push (trigger CloudWatchEvent)")


@breaks("staging-runs-commit")
def test_staging_switched_by_hand_to_the_latest_tag(solved: LabSession) -> None:
    def latest(containers: list[dict[str, Any]]) -> None:
        containers[0]["image"] = containers[0]["image"].rsplit(":", 1)[0] + ":latest"

    with staging_definition(solved, latest):
        assert_fails(solved, lab04, "staging-runs-commit", "sample-app:latest, not the image tagged",
                     still=("staging-service", "staging-rolling", "push-ran-pipeline"))
    assert_passes(solved, lab04, "staging-runs-commit")
