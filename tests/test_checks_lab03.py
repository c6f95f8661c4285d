"""Lab 03's checks, each broken as a learner might break it: in an account where catch-up built labs
01–03 (shared, each change put back), or in a fresh account for what cannot be undone. Each test
expects exactly its check to fail, with its hint, and the checks beside it to pass.

Real deployments on a real labstack: a release shipped from the wrong commit, without the smoke test
hook, or without the canary, each a deployment that succeeds; then the right release again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from grader.backends import LabSession
from grader.checks import lab01, lab02, lab03
from grader.notebooks import ROOT
from tests.support.grading import session_for
from tests.support.mutations import (
    assert_breaks,
    breaks,
    deployment_group_changed,
    mutation,
    role_policy,
    uncovered,
)
from tests.support.sampleapp import app_copy, push_app_image
from tests.support.later_labs import solved_through
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start

APPSPEC = ROOT / "infra" / "sample-app" / "appspec.yaml"
GROUP_CHECKS = ("application-ecs", "group-blue-green", "group-canary", "group-rollback", "group-load-balancer",
                "group-termination", "group-role")  # the checks of one graded cell
RELEASE_CHECKS = ("release-shipped", "main-is-v2", "smoke-test-ran", "shipped-as-canary")  # another


@pytest.fixture(scope="module")
def account(sampleapp_labstack: LabstackProcess) -> LabSession:
    """Labs 01–03 built by catch-up in the account the modules of labs 02–07 share (they run on one worker)."""
    return solved_through(sampleapp_labstack, 3)


def test_every_check_of_lab_03_is_broken_by_a_test() -> None:
    assert uncovered(lab03, globals()) == set()


def test_each_check_names_resources_of_this_lab_that_it_grades() -> None:
    session = SimpleNamespace(account="123456789012", region="us-east-1")
    own = set(lab03.names(session)) - set(lab02.names(session))  # not an earlier lab's: catch-up made those
    assert [c.id for c in lab03.CHECKS if (not c.uses and c.id != "main-is-v2") or not set(c.uses) <= own] == []


# --- the stack -------------------------------------------------------------------------------------------

@breaks("stack-complete")
def test_a_stack_from_the_template_with_another_app_name(sampleapp_labstack: LabstackProcess, tmp_path: Path) -> None:
    session = session_for(sampleapp_labstack)
    # its image is there: as on AWS, the stack's service must be stable (its task running) before the stack completes
    session.client("ecr").create_repository(repositoryName=lab01.REPOSITORY)
    push_app_image(sampleapp_labstack, session.account, app_copy(tmp_path / "app"),
                   f"{session.account}.dkr.ecr.us-east-1.amazonaws.com/{lab01.REPOSITORY}:latest")
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(StackName=lab03.STACK, TemplateBody=(ROOT / lab03.names(session)["template"]).read_text(),
                                Capabilities=["CAPABILITY_NAMED_IAM"],
                                Parameters=[{"ParameterKey": "AppName", "ParameterValue": lab01.REPOSITORY}])
    try:
        wait_for(lambda: not cloudformation.describe_stacks(StackName=lab03.STACK)["Stacks"][0]["StackStatus"]
                 .endswith("_IN_PROGRESS"), seconds=120)
        failed = assert_breaks(session, lab03, "stack-complete")
        assert f"its ClusterName is {lab01.REPOSITORY}, not {lab03.CLUSTER}" in failed.message
    finally:  # its service stops
        session.client("ecs").update_service(cluster=lab01.REPOSITORY, service=lab01.REPOSITORY, desiredCount=0)


@breaks("service-code-deploy")
def test_a_service_made_by_hand_with_the_rolling_update_controller(sampleapp_labstack: LabstackProcess) -> None:
    session = session_for(sampleapp_labstack)
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName=lab03.CLUSTER)
    definition = ecs.register_task_definition(family=lab03.SERVICE, containerDefinitions=[
        {"name": "app", "image": lab02.repository_uri(session) + ":latest", "memory": 256}])["taskDefinition"]
    ecs.create_service(cluster=lab03.CLUSTER, serviceName=lab03.SERVICE, desiredCount=0,
                       taskDefinition=definition["taskDefinitionArn"])
    failed = assert_breaks(session, lab03, "service-code-deploy")
    assert failed.message == f"{lab03.SERVICE} is deployed by ECS"


# --- the smoke test --------------------------------------------------------------------------------------

@breaks("smoke-test-function")
def test_a_smoke_test_written_for_node(account: LabSession) -> None:
    functions = account.client("lambda")

    def runtime(name: str) -> None:
        functions.get_waiter("function_updated_v2").wait(FunctionName=lab03.SMOKE_TEST)
        functions.update_function_configuration(FunctionName=lab03.SMOKE_TEST, Runtime=name)

    before = functions.get_function(FunctionName=lab03.SMOKE_TEST)["Configuration"]["Runtime"]
    with mutation(lambda: runtime(before)):
        runtime("nodejs20.x")
        failed = assert_breaks(account, lab03, "smoke-test-function", intact=["smoke-test-reports"])
        assert failed.message == f"{lab03.SMOKE_TEST} runs nodejs20.x, not Python 3"


@breaks("smoke-test-reports")
def test_a_smoke_test_role_with_only_the_basic_execution_policy(account: LabSession) -> None:
    with role_policy(account, lab03.SMOKE_TEST_ROLE, "report-hook-status", None):  # the solution's name for it
        failed = assert_breaks(account, lab03, "smoke-test-reports", intact=["smoke-test-function", "group-role"])
        assert "may not call codedeploy:PutLifecycleEventHookExecutionStatus" in failed.message


# --- the application and its deployment group ----------------------------------------------------------

@breaks("application-ecs", "group-blue-green")
def test_an_application_and_a_group_with_codedeploys_defaults(sampleapp_labstack: LabstackProcess) -> None:
    session = session_for(sampleapp_labstack)
    codedeploy = session.client("codedeploy")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "codedeploy.amazonaws.com"}}]}
    role = session.client("iam").create_role(RoleName=lab01.ROLES["codedeploy"],
                                             AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    codedeploy.create_application(applicationName=lab03.APPLICATION)  # computePlatform defaults to Server
    codedeploy.create_deployment_group(applicationName=lab03.APPLICATION, deploymentGroupName=lab03.GROUP,
                                       serviceRoleArn=role)
    assert assert_breaks(session, lab03, "application-ecs").message == f"{lab03.APPLICATION} is for Server, not ECS"
    failed = assert_breaks(session, lab03, "group-blue-green")
    assert failed.message == "the deployment style is IN_PLACE WITHOUT_TRAFFIC_CONTROL"


def group_changed(session: LabSession, **changes: Any) -> AbstractContextManager[dict[str, Any]]:
    """Lab 03's deployment group updated with ``changes`` for the body (which gets the group as it was), then put back."""
    return deployment_group_changed(session, lab03.APPLICATION, lab03.GROUP, **changes)


@breaks("group-canary")
def test_a_group_with_the_linear_config(account: LabSession) -> None:
    with group_changed(account, deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery1Minutes"):
        failed = assert_breaks(account, lab03, "group-canary", intact=GROUP_CHECKS)
        assert failed.message == "the group uses CodeDeployDefault.ECSLinear10PercentEvery1Minutes"


@breaks("group-rollback")
def test_a_group_that_rolls_back_only_failed_deployments(account: LabSession) -> None:
    with group_changed(account, autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}):
        failed = assert_breaks(account, lab03, "group-rollback", intact=GROUP_CHECKS)
        assert failed.message == "auto-rollback is on, without DEPLOYMENT_STOP_ON_ALARM"


@breaks("group-load-balancer")
def test_a_group_with_the_production_and_test_listeners_swapped(account: LabSession) -> None:
    codedeploy = account.client("codedeploy")
    pair = codedeploy.get_deployment_group(applicationName=lab03.APPLICATION, deploymentGroupName=lab03.GROUP)[
        "deploymentGroupInfo"]["loadBalancerInfo"]["targetGroupPairInfoList"][0]
    swapped = {**pair, "prodTrafficRoute": pair["testTrafficRoute"], "testTrafficRoute": pair["prodTrafficRoute"]}
    with group_changed(account, loadBalancerInfo={"targetGroupPairInfoList": [swapped]}):
        failed = assert_breaks(account, lab03, "group-load-balancer", intact=GROUP_CHECKS)
        assert failed.message == ("prodTrafficRoute is not the stack's ProductionListenerArn; "
                                  "testTrafficRoute is not the stack's TestListenerArn")


@breaks("group-termination")
def test_a_group_that_keeps_the_original_task_set(account: LabSession) -> None:
    codedeploy = account.client("codedeploy")
    config = codedeploy.get_deployment_group(applicationName=lab03.APPLICATION, deploymentGroupName=lab03.GROUP)[
        "deploymentGroupInfo"]["blueGreenDeploymentConfiguration"]
    kept = {**config, "terminateBlueInstancesOnDeploymentSuccess": {"action": "KEEP_ALIVE"}}
    with group_changed(account, blueGreenDeploymentConfiguration=kept):
        failed = assert_breaks(account, lab03, "group-termination", intact=GROUP_CHECKS)
        assert failed.message.startswith("the original is KEEP_ALIVE")


@breaks("group-role")
def test_a_group_role_on_the_limited_managed_policy_without_the_smoke_test(account: LabSession) -> None:
    # AWSCodeDeployRoleForECS lets CodeDeploy invoke any function; its Limited sibling only CodeDeployHook_*.
    iam, role = account.client("iam"), lab01.ROLES["codedeploy"]
    full, limited = (f"arn:aws:iam::aws:policy/{name}" for name in ("AWSCodeDeployRoleForECS", "AWSCodeDeployRoleForECSLimited"))

    def managed(detach: str, attach: str) -> None:
        iam.detach_role_policy(RoleName=role, PolicyArn=detach)
        iam.attach_role_policy(RoleName=role, PolicyArn=attach)

    with role_policy(account, role, "invoke-smoke-test", None), mutation(lambda: managed(limited, full)):
        managed(full, limited)
        failed = assert_breaks(account, lab03, "group-role", intact=GROUP_CHECKS)
        assert failed.message == f"{role} may not lambda:InvokeFunction {lab03.SMOKE_TEST}"


@breaks("group-role")
def test_a_group_acting_as_the_stacks_codedeploy_role(account: LabSession) -> None:
    stack_role = account.client("iam").get_role(RoleName=f"{lab03.SERVICE}-codedeploy")["Role"]["Arn"]
    with group_changed(account, serviceRoleArn=stack_role):
        failed = assert_breaks(account, lab03, "group-role", intact=GROUP_CHECKS)
        assert failed.message == f"the group acts as {lab03.SERVICE}-codedeploy, not {lab01.ROLES['codedeploy']}"


# --- shipping the release --------------------------------------------------------------------------------

def current_task_definition(session: LabSession) -> dict[str, Any]:
    ecs = session.client("ecs")
    service = ecs.describe_services(cluster=lab03.CLUSTER, services=[lab03.SERVICE])["services"][0]
    primary = next(t["taskDefinition"] for t in service["taskSets"] if t["status"] == "PRIMARY")
    return dict(ecs.describe_task_definition(taskDefinition=primary)["taskDefinition"])


def deploy(session: LabSession, task_definition: str, hooks: bool = True, **overrides: Any) -> None:
    """Deploy ``task_definition`` with the app's AppSpec (its Hooks left out unless ``hooks``); wait for success."""
    appspec = APPSPEC.read_text().replace("<TASK_DEFINITION>", task_definition)
    codedeploy = session.client("codedeploy")
    deployment = codedeploy.create_deployment(
        applicationName=lab03.APPLICATION, deploymentGroupName=lab03.GROUP, **overrides,
        revision={"revisionType": "AppSpecContent",
                  "appSpecContent": {"content": appspec if hooks else appspec[:appspec.index("Hooks:")]}})
    codedeploy.get_waiter("deployment_successful").wait(deploymentId=deployment["deploymentId"],
                                                        WaiterConfig={"Delay": 1, "MaxAttempts": 120})


@contextmanager
def shipped(session: LabSession, image: str | None = None, hooks: bool = True, **overrides: Any) -> Iterator[None]:
    """A deployment that succeeds (of a new revision with ``image``, if given), then the release as it was."""
    current = current_task_definition(session)
    task_definition = current["taskDefinitionArn"]
    if image:
        copied = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
                  "requiresCompatibilities", "cpu", "memory")
        revision = {key: current[key] for key in copied if key in current}
        revision["containerDefinitions"][0]["image"] = image
        task_definition = session.client("ecs").register_task_definition(**revision)["taskDefinition"]["taskDefinitionArn"]
    with mutation(lambda: deploy(session, current["taskDefinitionArn"])):
        deploy(session, task_definition, hooks, **overrides)
        yield


@breaks("release-shipped")
def test_a_release_built_before_the_v2_commit_was_pushed(account: LabSession) -> None:
    # The image lab 02's fixing build pushed, tagged with its commit: what building before pushing v2 ships.
    fixed = next(b for b in reversed(lab02.builds(account)) if b["buildStatus"] == "SUCCEEDED")
    tag = lab02.exported(fixed)["IMAGE_TAG"]
    with shipped(account, image=f"{lab02.repository_uri(account)}:{tag}"):
        failed = assert_breaks(account, lab03, "release-shipped", intact=RELEASE_CHECKS)
        assert f"was built from {fixed['resolvedSourceVersion'][:7]}, which does not hold releases/v2.patch" in failed.message


def test_the_v2_image_named_by_its_digest_ships(account: LabSession) -> None:
    v2 = next(b for b in lab02.builds(account) if b["buildStatus"] == "SUCCEEDED")  # lab 03's build of v2
    digest = lab02.image_digests(account)[lab02.exported(v2)["IMAGE_TAG"]]
    with shipped(account, image=f"{lab02.repository_uri(account)}@{digest}"):
        result = lab03.release_shipped.run(account)
        assert result.passed and f"built from v2 at {v2['resolvedSourceVersion'][:7]}" in result.message, result


@breaks("main-is-v2")
def test_a_version_bumped_by_hand_without_the_patch(account: LabSession) -> None:
    codecommit = account.client("codecommit")
    repository, branch = lab01.REPOSITORY, lab01.BRANCH
    unpatched = ("app/pricing.py", "tests/test_pricing.py")  # as v1 has them; app/version.py says v2

    def commit(contents: dict[str, bytes], message: str) -> None:
        head = codecommit.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"]
        codecommit.create_commit(repositoryName=repository, branchName=branch, parentCommitId=head, commitMessage=message,
                                 putFiles=[{"filePath": path, "fileContent": body} for path, body in contents.items()])

    v2 = {path: codecommit.get_file(repositoryName=repository, commitSpecifier=branch, filePath=path)["fileContent"]
          for path in unpatched}
    v1 = {path: (ROOT / "infra" / "sample-app" / path).read_bytes() for path in unpatched}
    assert v1 != v2
    with mutation(lambda: commit(v2, "Release v2, the whole patch")):
        commit(v1, "Release v2")
        failed = assert_breaks(account, lab03, "main-is-v2", intact=RELEASE_CHECKS)
        assert failed.message.endswith("does not hold releases/v2.patch: app/pricing.py is not as the patch leaves it; "
                                       "tests/test_pricing.py is not as the patch leaves it")


@breaks("smoke-test-ran")
def test_a_release_shipped_with_an_appspec_without_hooks(account: LabSession) -> None:
    with shipped(account, hooks=False):
        failed = assert_breaks(account, lab03, "smoke-test-ran", intact=RELEASE_CHECKS)
        assert failed.message == f"{lab03.HOOK} was Skipped in the shipped deployment"


@breaks("shipped-as-canary")
def test_a_release_shipped_all_at_once(account: LabSession) -> None:
    with shipped(account, deploymentConfigName="CodeDeployDefault.ECSAllAtOnce"):
        failed = assert_breaks(account, lab03, "shipped-as-canary", intact=RELEASE_CHECKS)
        assert failed.message == "the shipped deployment used CodeDeployDefault.ECSAllAtOnce"


# --- the drill: a hook that says no ----------------------------------------------------------------------

def set_test_url(session: LabSession, url: str) -> str:
    """Point the smoke test at ``url``; the URL it had."""
    lam = session.client("lambda")
    variables = lam.get_function_configuration(FunctionName=lab03.SMOKE_TEST)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=lab03.SMOKE_TEST, Environment={"Variables": {**variables, "TEST_URL": url}})
    wait_for(lambda: lam.get_function_configuration(FunctionName=lab03.SMOKE_TEST).get("LastUpdateStatus") == "Successful",
             seconds=60)
    return str(variables["TEST_URL"])


def drill(session: LabSession, **overrides: Any) -> dict[str, Any]:
    """The drill as the lab asks for it (the release again, its smoke test pointed nowhere), with ``overrides``
    to create_deployment; the failed deployment, once it and any rollback of it ended."""
    codedeploy = session.client("codedeploy")
    appspec = APPSPEC.read_text().replace("<TASK_DEFINITION>", current_task_definition(session)["taskDefinitionArn"])
    working = set_test_url(session, lab03.BROKEN_TEST_URL)
    try:
        deployment_id = codedeploy.create_deployment(
            applicationName=lab03.APPLICATION, deploymentGroupName=lab03.GROUP, **overrides,
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}})["deploymentId"]

        def ended(deployment: str) -> dict[str, Any] | None:
            info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
            return info if info["status"] in ("Succeeded", "Failed", "Stopped") else None

        failed = wait_for(lambda: ended(deployment_id), seconds=120)
        rollback = (failed.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        if rollback:
            wait_for(lambda: ended(rollback), seconds=120)
        return dict(failed)
    finally:
        set_test_url(session, working)


@breaks("hook-failure-rolled-back")
def test_the_drill_with_auto_rollback_turned_off_for_it(account: LabSession) -> None:
    """A deployment may override its group's auto-rollback (CreateDeployment's autoRollbackConfiguration); one that a hook failed
    and nothing rolled back is not the drill. https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html"""
    with mutation(lambda: drill(account)):  # the newest hook failure is rolled back again after
        failed = drill(account, autoRollbackConfiguration={"enabled": False})
        assert (failed["status"], failed["errorInformation"]["code"]) == ("Failed", lab03.HOOK_FAILURE)
        result = assert_breaks(account, lab03, "hook-failure-rolled-back", intact=("smoke-test-restored",))
        assert result.message == (f"{failed['deploymentId']} failed at {lab03.HOOK} but nothing rolled it back "
                                  "(auto-rollback was off for it)")
    assert lab03.hook_failure_rolled_back.run(account).passed


@breaks("smoke-test-restored")
def test_the_smoke_test_left_pointing_nowhere_after_the_drill(account: LabSession) -> None:
    with mutation(lambda: set_test_url(account, lab03.listener_test_url(account))):
        set_test_url(account, lab03.BROKEN_TEST_URL)
        failed = assert_breaks(account, lab03, "smoke-test-restored", intact=("hook-failure-rolled-back",))
        assert failed.message.startswith(f"{lab03.SMOKE_TEST}'s TEST_URL is {lab03.BROKEN_TEST_URL}, not the test listener's http://")
