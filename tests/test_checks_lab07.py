"""Lab 07's checks, proven by mutation. Two kinds of accounts:

* the solved account (labs 01–07 built by catch-up from their solutions): every check passes; the resources the
  stack made are broken one at a time outside CloudFormation (a project, the pipeline, the group, the rule) and
  put back;
* small accounts of one test each, where stacks are made from variants of the reference templates: the base
  stack as a learner might get it wrong, and a "sketch" pipeline stack (the reference's Parameters, Mappings,
  Conditions, nested stack and imports, with its pipeline under a condition that never holds) whose templates
  differ from a right one by one plausible slip.

Every stack here is made by labstack's own CloudFormation engine, which calls each resource's own API."""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

import pytest
from cfnlint.decode import decode

from grader.backends import LabSession
from grader.checks import lab04, lab07
from tests.support.grading import session_for
from tests.support.later_labs import assert_fails, assert_passes, assert_solved, pipeline_changed, solved_through
from tests.support.mutations import breaks, deployment_group_changed, mutation, project_changed, uncovered
from tests.support.server import LabstackProcess
from tests.test_pipeline_as_code import HERE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start

BASE_CHECKS = ("base-stack", "base-exports", "artifact-store-encrypted")
TEMPLATE_CHECKS = ("template-parameters", "template-conditions", "approval-conditional", "nested-stack", "imports-base")
WAIT = {"Delay": 1, "MaxAttempts": 120}


def _template(name: str) -> dict[str, Any]:
    loaded, errors = decode(str(HERE / name))
    assert not errors, errors
    return json.loads(json.dumps(loaded))  # plain dicts and lists


def deploy(session: LabSession, name: str, template: dict[str, Any], parameters: dict[str, str] | None = None,
           change_set: bool = False) -> str:
    """Stack ``name`` made afresh from ``template`` (deleted first if it exists), by create_stack or through a
    change set; its final status, whether it completed or rolled back."""
    cloudformation = session.client("cloudformation")
    if any(s["StackName"] == name for s in cloudformation.describe_stacks()["Stacks"]):
        cloudformation.delete_stack(StackName=name)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    args = {"StackName": name, "TemplateBody": json.dumps(template), "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]}
    if change_set:
        cloudformation.create_change_set(ChangeSetName="sketch", ChangeSetType="CREATE", **args)
        cloudformation.get_waiter("change_set_create_complete").wait(StackName=name, ChangeSetName="sketch", WaiterConfig=WAIT)
        cloudformation.execute_change_set(StackName=name, ChangeSetName="sketch")
    else:
        cloudformation.create_stack(**args)
    stack = lab07.stack(session, name)
    while stack["StackStatus"].endswith("_IN_PROGRESS"):
        stack = lab07.stack(session, name)
    return str(stack["StackStatus"])


# --- small accounts: the base stack ------------------------------------------------------------

@pytest.fixture
def small(sampleapp_labstack: LabstackProcess) -> LabSession:
    """A new, empty account."""
    return session_for(sampleapp_labstack)


def test_the_reference_base_stack_passes_its_checks(small: LabSession) -> None:
    assert deploy(small, lab07.BASE_STACK, _template("base.yaml")) == "CREATE_COMPLETE"
    assert_passes(small, lab07, *BASE_CHECKS)


@breaks("base-stack")
def test_a_base_stack_that_forgot_the_key_s_alias(small: LabSession) -> None:
    template = _template("base.yaml")
    del template["Resources"]["ArtifactKeyAlias"], template["Outputs"]["ArtifactKeyAlias"]
    assert deploy(small, lab07.BASE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(small, lab07, "base-stack", "declares no AWS::KMS::Alias", still=("base-exports",))


@breaks("base-stack")
def test_no_base_stack_yet(small: LabSession) -> None:
    assert_fails(small, lab07, "base-stack", f"there is no stack {lab07.BASE_STACK}")


@breaks("base-exports")
def test_a_base_stack_whose_outputs_export_nothing(small: LabSession) -> None:
    template = _template("base.yaml")
    for output in template["Outputs"].values():
        output.pop("Export", None)
    assert deploy(small, lab07.BASE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(small, lab07, "base-exports", "no export of", "holds the bucket's name",
                 still=("base-stack", "artifact-store-encrypted"))


@breaks("artifact-store-encrypted")
def test_a_bucket_encrypted_with_s3_s_own_keys(small: LabSession) -> None:
    template = _template("base.yaml")
    encryption = template["Resources"]["ArtifactBucket"]["Properties"]["BucketEncryption"]
    encryption["ServerSideEncryptionConfiguration"] = [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    assert deploy(small, lab07.BASE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(small, lab07, "artifact-store-encrypted", "encrypts with AES256, not with the stack's KMS key",
                 still=("base-stack", "base-exports"))


# --- small accounts: a sketch of the pipeline stack ---------------------------------------------

def sketch() -> dict[str, Any]:
    """The reference pipeline template's Parameters, Mappings, Conditions, nested stack and imports, with one
    cheap resource using !If and the reference pipeline under a condition that never holds (its template text
    is graded, it is not made)."""
    reference = _template("pipeline.yaml")
    keep = ("Environment", "BasePrefix", "NestedTemplateKey", "EcrRepositoryName", "RepositoryName", "BranchName",
            "ClusterName")
    resources = reference["Resources"]
    pipeline = copy.deepcopy(resources["Pipeline"])
    pipeline["Condition"] = "Never"
    production = pipeline["Properties"]["Stages"][-1]["Actions"][0]["Configuration"]
    production.update(ApplicationName="sketch", DeploymentGroupName="production")  # not made here
    pipeline["Properties"]["Stages"][3]["Actions"][0]["Configuration"]["ServiceName"] = "sketch-staging"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {k: v for k, v in reference["Parameters"].items() if k in keep},
        "Mappings": reference["Mappings"],
        "Conditions": {**reference["Conditions"], "Never": {"Fn::Equals": ["never", "holds"]}},
        "Resources": {
            "Projects": resources["Projects"],
            "ApprovalTopic": resources["ApprovalTopic"],
            "Notices": {"Type": "AWS::SNS::Topic", "Properties": {
                "DisplayName": {"Fn::If": ["IsProd", "production notices", "development notices"]}}},
            "Pipeline": pipeline,
        },
    }


@pytest.fixture
def sketched(small: LabSession) -> LabSession:
    """A small account with the reference base stack and the nested template uploaded where the sketch reads it."""
    assert deploy(small, lab07.BASE_STACK, _template("base.yaml")) == "CREATE_COMPLETE"
    small.client("s3").put_object(Bucket=lab07.names(small)["base_bucket"], Key=lab07.NESTED_KEY,
                                  Body=(HERE / "build-projects.yaml").read_bytes())
    return small


def test_the_sketch_passes_the_template_checks_and_one_made_by_a_change_set_passes_change_set(sketched: LabSession) -> None:
    assert deploy(sketched, lab07.PIPELINE_STACK, sketch(), change_set=True) == "CREATE_COMPLETE"
    assert_passes(sketched, lab07, *TEMPLATE_CHECKS, "pipeline-stack", "change-set")


@breaks("template-parameters")
def test_an_environment_parameter_that_takes_any_value(sketched: LabSession) -> None:
    template = sketch()
    del template["Parameters"]["Environment"]["AllowedValues"]
    assert deploy(sketched, lab07.PIPELINE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(sketched, lab07, "template-parameters", "no Parameter of", "has AllowedValues",
                 still=("template-conditions", "nested-stack"))


@breaks("template-parameters")
def test_settings_written_out_instead_of_read_from_the_mapping(sketched: LabSession) -> None:
    template = sketch()
    template["Resources"]["Projects"]["Properties"]["Parameters"]["ComputeType"] = "BUILD_GENERAL1_SMALL"
    template["Resources"]["Pipeline"] = {"Type": "AWS::SNS::Topic", "Condition": "Never"}
    assert deploy(sketched, lab07.PIPELINE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(sketched, lab07, "template-parameters", "no resource reads its settings from the Mapping",
                 still=("template-conditions", "nested-stack"))


@breaks("template-conditions", "approval-conditional")
def test_a_condition_declared_but_never_used(sketched: LabSession) -> None:
    template = sketch()
    template["Resources"]["Notices"]["Properties"]["DisplayName"] = "notices"
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    template["Resources"]["Pipeline"]["Properties"]["Stages"] = [s for s in stages if "Fn::If" not in s]
    assert deploy(sketched, lab07.PIPELINE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(sketched, lab07, "template-conditions", "no resource uses the conditions", still=("template-parameters",))
    assert_fails(sketched, lab07, "approval-conditional", "no stage of the pipeline is an !If")


@breaks("approval-conditional")
def test_an_approval_stage_in_every_environment(sketched: LabSession) -> None:
    template = sketch()
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    template["Resources"]["Pipeline"]["Properties"]["Stages"] = [s["Fn::If"][1] if "Fn::If" in s else s for s in stages]
    template["Resources"]["Pipeline"]["Properties"]["Stages"][4]["Actions"][0]["Configuration"].pop("NotificationArn")
    assert deploy(sketched, lab07.PIPELINE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(sketched, lab07, "approval-conditional", "no stage of the pipeline is an !If",
                 still=("template-conditions", "template-parameters"))


@breaks("nested-stack", "imports-base")
def test_projects_declared_in_the_pipeline_stack_itself_with_the_role_written_out(sketched: LabSession) -> None:
    template = sketch()
    projects = _template("build-projects.yaml")["Resources"]
    role = f"arn:aws:iam::{sketched.account}:role/{lab07.PREFIX}-codebuild"
    for project in projects.values():
        properties = project["Properties"]
        properties.update(Name={"Fn::Sub": properties["Name"]["Fn::Sub"].replace("${ProjectPrefix}", "sketch")},
                          ServiceRole=role, Environment={**properties["Environment"], "ComputeType": {
                              "Fn::FindInMap": ["EnvironmentConfig", {"Ref": "Environment"}, "ComputeType"]}})
        properties["Environment"].pop("EnvironmentVariables", None)
    del template["Resources"]["Projects"]
    template["Resources"].update(projects)
    template["Resources"]["Pipeline"] = {"Type": "AWS::SNS::Topic", "Condition": "Never"}  # it read Projects' outputs
    assert deploy(sketched, lab07.PIPELINE_STACK, template) == "CREATE_COMPLETE"
    assert_fails(sketched, lab07, "nested-stack", "declares no AWS::CloudFormation::Stack", still=("template-parameters",))
    assert_fails(sketched, lab07, "imports-base", f"{lab07.PIPELINE_STACK} imports none of")


@breaks("pipeline-stack")
def test_a_pipeline_stack_whose_nested_template_is_not_in_the_bucket(sketched: LabSession) -> None:
    status = deploy(sketched, lab07.PIPELINE_STACK, sketch(), {"NestedTemplateKey": "templates/missing.yaml"})
    assert status == "ROLLBACK_COMPLETE"
    assert_fails(sketched, lab07, "pipeline-stack", "is ROLLBACK_COMPLETE", "describe_stack_events")


@breaks("change-set")
def test_a_pipeline_stack_made_with_create_stack(sketched: LabSession) -> None:
    assert deploy(sketched, lab07.PIPELINE_STACK, sketch()) == "CREATE_COMPLETE"
    assert_fails(sketched, lab07, "change-set", "made without a change set (DescribeStacks names no ChangeSetId)",
                 still=("pipeline-stack",))


# --- the solved account ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def solved(sampleapp_labstack: LabstackProcess) -> LabSession:
    """This worker's solved account, with labs 01–07 done (shared with labs 04–06's tests)."""
    return solved_through(sampleapp_labstack, 7)


def test_every_check_of_lab_07_is_broken_by_a_test() -> None:
    cdk = importlib.import_module("tests.test_checks_lab07_cdk")  # the CDK checks' tests (room E's module)
    assert uncovered(lab07, globals()) & uncovered(lab07, vars(cdk)) == set()


def test_the_solved_account_passes_every_check_and_each_names_what_it_grades(solved: LabSession) -> None:
    assert_solved(solved, lab07)


def _project(name: str) -> str:
    """The reference's name of one of the nested stack's projects (``build``, ``unit-tests``, ``lint``)."""
    return f"{lab07.PREFIX}-{lab07.ENVIRONMENT}-{name}"


@breaks("lint-action", "lint-ran")
def test_a_test_stage_whose_second_action_runs_the_unit_tests_again(solved: LabSession) -> None:
    with project_changed(solved, _project("lint"), source={"type": "CODEPIPELINE", "buildspec": "buildspec-unit.yml"}):
        assert_fails(solved, lab07, "lint-action", "no Test action runs a CodeBuild project whose buildspec runs cfn-lint",
                     still=("pipeline-structure",))
        assert_fails(solved, lab07, "lint-ran", "no Test action runs")
    assert_passes(solved, lab07, "lint-action", "lint-ran")


@breaks("lint-action")
def test_a_lint_that_swallows_cfn_lint_s_exit_code(solved: LabSession) -> None:
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - cfn-lint infra/*.yaml || true\n"
    with project_changed(solved, _project("lint"), source={"type": "CODEPIPELINE", "buildspec": spec}):
        assert_fails(solved, lab07, "lint-action", "runs cfn-lint infra/*.yaml || true", still=("pipeline-structure",))
    assert_passes(solved, lab07, "lint-action")


@breaks("pipeline-structure")
def test_a_pipeline_that_deploys_staging_before_it_tests(solved: LabSession) -> None:
    def swap(declaration: dict[str, Any]) -> None:
        stages = declaration["stages"]
        test, staging = stages.index(lab07._stage(declaration, "Test")), stages.index(lab07._stage(declaration, "Deploy_Staging"))
        stages[test], stages[staging] = stages[staging], stages[test]

    with pipeline_changed(solved, swap, name=lab07.stack_pipeline(solved)["name"]):
        assert_fails(solved, lab07, "pipeline-structure", "the stages are Source → Build → Deploy_Staging → Test")
    assert_passes(solved, lab07, "pipeline-structure")


@breaks("pipeline-structure")
def test_a_pipeline_that_deploys_to_lab_04_s_staging_service(solved: LabSession) -> None:
    """It would work, and break lab 04: its staging would run another branch's image."""
    def lab04_staging(declaration: dict[str, Any]) -> None:
        lab07._stage(declaration, "Deploy_Staging")["actions"][0]["configuration"]["ServiceName"] = lab04.STAGING_SERVICE

    with pipeline_changed(solved, lab04_staging, name=lab07.stack_pipeline(solved)["name"]):
        assert_fails(solved, lab07, "pipeline-structure", f"Deploy_Staging updates {lab04.STAGING_SERVICE}, not a service")
    assert_passes(solved, lab07, "pipeline-structure")


@breaks("bluegreen-group")
def test_a_deployment_group_that_never_rolls_back(solved: LabSession) -> None:
    application = lab07.one(solved, lab07.PIPELINE_STACK, "AWS::CodeDeploy::Application")
    group = lab07.one(solved, lab07.PIPELINE_STACK, "AWS::CodeDeploy::DeploymentGroup")
    with deployment_group_changed(solved, application, group, autoRollbackConfiguration={"enabled": False, "events": []}):
        assert_fails(solved, lab07, "bluegreen-group", "does not roll back on DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM")
    assert_passes(solved, lab07, "bluegreen-group")


@breaks("push-rule")
def test_a_push_rule_left_disabled(solved: LabSession) -> None:
    events = solved.client("events")
    rule = lab07.one(solved, lab07.PIPELINE_STACK, "AWS::Events::Rule")
    with mutation(lambda: events.enable_rule(Name=rule)):
        events.disable_rule(Name=rule)
        assert_fails(solved, lab07, "push-rule", f"{rule} is DISABLED")
    assert_passes(solved, lab07, "push-rule")


@breaks("pipeline-ran")
def test_a_test_action_added_since_the_pipeline_last_ran(solved: LabSession) -> None:
    """The pipeline changed (a third Test action) and has not run since: no execution got through its Test stage."""
    def add_scan(declaration: dict[str, Any]) -> None:
        tests = lab07._stage(declaration, "Test")["actions"]
        tests.append({**copy.deepcopy(tests[0]), "name": "SecurityScan"})

    with pipeline_changed(solved, add_scan, name=lab07.stack_pipeline(solved)["name"]):
        assert_fails(solved, lab07, "pipeline-ran", "got through Build and Test yet", still=("pipeline-structure",))
    assert_passes(solved, lab07, "pipeline-ran")
