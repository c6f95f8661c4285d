"""Lab 02's checks, each broken as a learner might break it: in an account where catch-up built labs
01–03 (shared, each change put back), or in an account of its own for what cannot be undone. Each
test expects exactly its check to fail, with its hint, and the checks beside it to pass.

Real builds on a real labstack: the colleague's failing tests "fixed" by deleting them or by changing
what they expect (each build succeeds, neither is a fix), then the real fix; a build whose buildspec
has no reports section.
"""

from __future__ import annotations

import ast
import json
from types import SimpleNamespace
from typing import Any

import pytest

from grader.backends import LabSession
from grader.checks import lab01, lab02
from grader.notebooks import ROOT
from grader.provenance import ADMINISTRATOR
from tests.support.codebuild import run_build
from tests.support.grading import session_for
from tests.support.mutations import (
    assert_breaks,
    breaks,
    mutation,
    project_changed,
    role_policy,
    solved,
    uncovered,
)
from tests.support.later_labs import solved_through
from tests.support.server import LabstackProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start

PROJECT_CHECKS = ("project-source", "project-environment", "project-role", "project-ecr-variable", "project-logs",
                  "project-cache", "project-artifacts")
BUILD_CHECKS = ("build-succeeded", "image-pushed", "build-fixed", "reports-recorded")
BUILD_TIMEOUT = 120


@pytest.fixture(scope="module")
def account(sampleapp_labstack: LabstackProcess) -> LabSession:
    """Labs 01–03 built by catch-up in the account the modules of labs 02–07 share (they run on one worker)."""
    return solved_through(sampleapp_labstack, 3)


@pytest.fixture(scope="module")
def stopped_at_the_failure(sampleapp_labstack: LabstackProcess) -> LabSession:
    """An account of its own with labs 01–02 built, then every successful build deleted: a learner who
    stopped after the colleague's commit failed the build (tests that build here delete their builds)."""
    session = solved(sampleapp_labstack, 2)
    codebuild = session.client("codebuild")
    done = [b["id"] for b in lab02.builds(session) if b["buildStatus"] == "SUCCEEDED"]
    assert done and not codebuild.batch_delete_builds(ids=done).get("buildsNotDeleted")
    return session


def test_every_check_of_lab_02_is_broken_by_a_test() -> None:
    assert uncovered(lab02, globals()) == set()


def test_each_check_names_resources_of_this_lab_that_it_grades() -> None:
    session = SimpleNamespace(account="123456789012", region="us-east-1")
    own = set(lab02.names(session)) - set(lab01.names(session))  # not an earlier lab's: catch-up made those
    assert [c.id for c in lab02.CHECKS if (not c.uses) or not set(c.uses) <= own] == []


# --- the image repository ------------------------------------------------------------------------------

@breaks("ecr-repository")
def test_an_image_repository_named_after_the_source_repository(sampleapp_labstack: LabstackProcess) -> None:
    session = session_for(sampleapp_labstack)
    session.client("ecr").create_repository(repositoryName=lab01.REPOSITORY)
    failed = assert_breaks(session, lab02, "ecr-repository")
    assert failed.message == f"there is no ECR repository {lab02.ECR_REPOSITORY}"


@breaks("ecr-scan-on-push")
def test_a_repository_that_does_not_scan_on_push(account: LabSession) -> None:
    ecr = account.client("ecr")

    def scanning(on: bool) -> None:
        ecr.put_image_scanning_configuration(repositoryName=lab02.ECR_REPOSITORY,
                                             imageScanningConfiguration={"scanOnPush": on})

    with mutation(lambda: scanning(True)):
        scanning(False)
        failed = assert_breaks(account, lab02, "ecr-scan-on-push", intact=["ecr-repository"])
        assert failed.message == f"{lab02.ECR_REPOSITORY} does not scan images on push"


# --- the build role ---------------------------------------------------------------------------------------

def build_policy(session: LabSession, change: Any) -> dict[str, Any]:
    """The build role's policy (lab 02's ``build``) with each statement passed through ``change``."""
    document = session.client("iam").get_role_policy(RoleName=lab01.ROLES["codebuild"],
                                                     PolicyName=lab02.BUILD_POLICY)["PolicyDocument"]
    return {**document, "Statement": [change(dict(statement)) for statement in document["Statement"]]}


ROLE_CHECKS = ("build-role-can-push", "build-role-source-logs-artifacts-reports", "build-role-ecr-login")


def login_policy(action: str, resource: str) -> dict[str, Any]:
    """An ``ecr-login`` policy of one statement."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def repository_arn(session: LabSession) -> str:
    """The ARN of lab 02's ECR repository."""
    return str(session.client("ecr").describe_repositories(repositoryNames=[lab02.ECR_REPOSITORY])["repositories"][0]["repositoryArn"])


@breaks("build-role-can-push")
def test_pushing_allowed_to_every_repository(account: LabSession) -> None:
    every = repository_arn(account).replace(f"/{lab02.ECR_REPOSITORY}", "/*")

    def every_repository(statement: dict[str, Any]) -> dict[str, Any]:
        return {**statement, "Resource": every} if "ecr:PutImage" in statement["Action"] else statement

    with role_policy(account, lab01.ROLES["codebuild"], lab02.BUILD_POLICY, build_policy(account, every_repository)):
        failed = assert_breaks(account, lab02, "build-role-can-push", intact=ROLE_CHECKS)
        other = f"arn:aws:ecr:{account.region}:{account.account}:repository/another-app"
        assert failed.message == (f"{lab01.ROLES['codebuild']} may push to any repository (ecr:PutImage on {other}), "
                                  f"not just {lab02.ECR_REPOSITORY}")


@breaks("build-role-ecr-login")
def test_docker_login_allowed_on_the_repository_only(account: LabSession) -> None:
    with role_policy(account, lab01.ROLES["codebuild"], lab02.LOGIN_POLICY,
                     login_policy(lab02.LOGIN_ACTION, repository_arn(account))):
        failed = assert_breaks(account, lab02, "build-role-ecr-login", intact=ROLE_CHECKS)
        assert failed.message == (f"{lab01.ROLES['codebuild']} may still not ecr:GetAuthorizationToken on *: "
                                  "docker login in pre_build cannot get a token")


@breaks("build-role-least-privilege")
def test_a_role_never_granted_the_login_is_not_judged_least_privilege(account: LabSession) -> None:
    with role_policy(account, lab01.ROLES["codebuild"], lab02.LOGIN_POLICY, None):
        failed = assert_breaks(account, lab02, "build-role-least-privilege",
                               intact=("build-role-can-push", "build-role-source-logs-artifacts-reports"))
        assert failed.message == (f"{lab01.ROLES['codebuild']} may not ecr:GetAuthorizationToken yet: grant it first, "
                                  "then this judges how")


@breaks("build-role-least-privilege")
def test_the_denial_fixed_with_every_ecr_action(account: LabSession) -> None:
    with role_policy(account, lab01.ROLES["codebuild"], lab02.LOGIN_POLICY, login_policy("ecr:*", "*")):
        failed = assert_breaks(account, lab02, "build-role-least-privilege",
                               intact=("build-role-ecr-login", "build-role-source-logs-artifacts-reports"))
        assert failed.message.startswith(f"{lab01.ROLES['codebuild']} allows more than a build needs: "
                                         "every ecr action (ecr:*); ecr:PutImage on other resources than "), failed.message


@breaks("build-role-least-privilege")
def test_the_denial_fixed_with_administrator_access(account: LabSession) -> None:
    iam, role = account.client("iam"), lab01.ROLES["codebuild"]
    with mutation(lambda: iam.detach_role_policy(RoleName=role, PolicyArn=ADMINISTRATOR)):
        iam.attach_role_policy(RoleName=role, PolicyArn=ADMINISTRATOR)
        failed = assert_breaks(account, lab02, "build-role-least-privilege", intact=ROLE_CHECKS[1:])
        assert failed.message.startswith(f"{role} allows more than a build needs: every action of every service"), \
            failed.message


@breaks("build-role-source-logs-artifacts-reports")
def test_artifacts_allowed_on_the_bucket_but_not_its_objects(account: LabSession) -> None:
    bucket = f"arn:aws:s3:::{lab01.bucket_name(account.account)}"

    def bucket_only(statement: dict[str, Any]) -> dict[str, Any]:
        return {**statement, "Resource": bucket} if bucket in statement["Resource"] else statement

    with role_policy(account, lab01.ROLES["codebuild"], lab02.BUILD_POLICY, build_policy(account, bucket_only)):
        failed = assert_breaks(account, lab02, "build-role-source-logs-artifacts-reports", intact=ROLE_CHECKS)
        assert failed.message == f"{lab01.ROLES['codebuild']} may not s3:PutObject on {bucket}/{lab02.ARTIFACT_NAME}"


# --- the project --------------------------------------------------------------------------------------------

def environment(session: LabSession, **changes: Any) -> dict[str, Any]:
    """The project's environment with ``changes``."""
    return {**session.client("codebuild").batch_get_projects(names=[lab02.PROJECT])["projects"][0]["environment"], **changes}


@breaks("project-source")
def test_a_project_that_builds_master(account: LabSession) -> None:
    with project_changed(account, lab02.PROJECT, sourceVersion="refs/heads/master"):
        failed = assert_breaks(account, lab02, "project-source", intact=PROJECT_CHECKS)
        assert failed.message == f"the project builds refs/heads/master, not the branch {lab01.BRANCH}"


@breaks("project-environment")
def test_a_project_without_privileged_mode(account: LabSession) -> None:
    with project_changed(account, lab02.PROJECT, environment=environment(account, privilegedMode=False)):
        failed = assert_breaks(account, lab02, "project-environment", intact=PROJECT_CHECKS)
        assert failed.message == "privilegedMode is False"


@breaks("project-role")
def test_a_project_acting_as_another_role_codebuild_may_assume(account: LabSession) -> None:
    # CodeBuild refuses a role it may not assume (the pipeline's), so the plausible mistake is a second
    # build role: the stack's, or one made by hand under a near name.
    iam = account.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "codebuild.amazonaws.com"}}]}
    role = iam.create_role(RoleName="cicd-lab-build-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    with mutation(lambda: iam.delete_role(RoleName="cicd-lab-build-role")), \
            project_changed(account, lab02.PROJECT, serviceRole=role):
        failed = assert_breaks(account, lab02, "project-role", intact=PROJECT_CHECKS)
        assert failed.message == f"the project's service role is {role}"


@breaks("project-ecr-variable")
def test_ecr_repo_set_to_the_repository_name(account: LabSession) -> None:
    variables = [{"name": "ECR_REPO", "value": lab02.ECR_REPOSITORY, "type": "PLAINTEXT"}]
    with project_changed(account, lab02.PROJECT, environment=environment(account, environmentVariables=variables)):
        failed = assert_breaks(account, lab02, "project-ecr-variable", intact=PROJECT_CHECKS)
        assert failed.message == f"ECR_REPO is '{lab02.ECR_REPOSITORY}', not {lab02.repository_uri(account)}"


@breaks("project-logs")
def test_logs_in_codebuilds_default_group(account: LabSession) -> None:
    default = f"/aws/codebuild/{lab02.PROJECT}"
    with project_changed(account, lab02.PROJECT, logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": default}}):
        failed = assert_breaks(account, lab02, "project-logs", intact=PROJECT_CHECKS)
        assert failed.message == f"CloudWatch logs are ENABLED in {default}"


@breaks("project-cache")
def test_a_project_without_a_cache(account: LabSession) -> None:
    with project_changed(account, lab02.PROJECT, cache={"type": "NO_CACHE"}):
        failed = assert_breaks(account, lab02, "project-cache", intact=PROJECT_CHECKS)
        assert failed.message == "the cache is NO_CACHE"


@breaks("project-artifacts")
def test_artifacts_that_are_not_zipped(account: LabSession) -> None:
    with project_changed(account, lab02.PROJECT, artifacts={
            "type": "S3", "location": lab01.bucket_name(account.account), "name": lab02.ARTIFACT_NAME, "packaging": "NONE"}):
        failed = assert_breaks(account, lab02, "project-artifacts", intact=PROJECT_CHECKS)
        assert failed.message.endswith(f"{lab02.ARTIFACT_NAME} packaged as NONE")


# --- builds ---------------------------------------------------------------------------------------------------

@breaks("build-succeeded")
def test_only_the_colleagues_failing_build(stopped_at_the_failure: LabSession) -> None:
    session = stopped_at_the_failure
    failed = assert_breaks(session, lab02, "build-succeeded", intact=["ecr-repository", *PROJECT_CHECKS])
    # the first build was denied ecr:GetAuthorizationToken, the second failed on the colleague's change
    assert failed.message == f"none of the 2 builds of {lab02.PROJECT} succeeded (newest: FAILED)"


def without_test(source: str, name: str) -> str:
    """``source`` without the test function ``name``."""
    function = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = source.splitlines(keepends=True)
    return "".join(lines[:function.lineno - 1] + lines[function.end_lineno:])


@breaks("build-fixed")
def test_failing_tests_deleted_or_made_to_expect_the_bug(stopped_at_the_failure: LabSession) -> None:
    session = stopped_at_the_failure
    codecommit, codebuild = session.client("codecommit"), session.client("codebuild")
    app = ROOT / "infra" / "sample-app"
    pricing, tests, server_tests = (app / path for path in ("app/pricing.py", "tests/test_pricing.py", "tests/test_server.py"))
    buggy = pricing.read_text().replace('TAX_RATE = Decimal("0.08")', 'TAX_RATE = Decimal("0.07")')
    made: list[str] = []

    def push_and_build(message: str, files: dict[Any, str]) -> dict[str, Any]:
        head = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]
        codecommit.create_commit(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, parentCommitId=head,
                                 commitMessage=message, putFiles=[{"filePath": str(path.relative_to(app)),
                                                                   "fileContent": text.encode()}
                                                                  for path, text in files.items()])
        build = run_build(codebuild, lab02.PROJECT, timeout=BUILD_TIMEOUT)
        made.append(build["id"])
        assert build["buildStatus"] == "SUCCEEDED", build["phases"]
        return build

    failing = {"tests.test_pricing.test_a_plain_order_pays_tax_on_the_subtotal",
               "tests.test_server.test_quote_answers_the_priced_order"}
    with mutation(lambda: codebuild.batch_delete_builds(ids=made)):
        push_and_build("Remove the flaky tests", {pricing: buggy, tests: without_test(
            tests.read_text(), "test_a_plain_order_pays_tax_on_the_subtotal"), server_tests: without_test(
            server_tests.read_text(), "test_quote_answers_the_priced_order")})
        failed = assert_breaks(session, lab02, "build-fixed", intact=BUILD_CHECKS)
        assert failed.message.endswith(" is gone; ".join(sorted(failing)) + " is gone")

        push_and_build("The tax is 7 % now", {pricing: buggy, tests: tests.read_text().replace(
            '"tax": "2.00", "total": "27.00"', '"tax": "1.75", "total": "26.75"'), server_tests: server_tests.read_text()
            .replace('"102.60"', '"101.65"')})
        failed = assert_breaks(session, lab02, "build-fixed", intact=BUILD_CHECKS)
        assert failed.message.endswith(" was changed; ".join(sorted(failing)) + " was changed")

        push_and_build("Sales tax is 8 % again", {pricing: pricing.read_text(), tests: tests.read_text(),
                                                 server_tests: server_tests.read_text()})
        assert lab02.build_fixed.run(session).passed  # the real fix, after both


@breaks("image-pushed")
def test_the_tagged_image_deleted_from_ecr(account: LabSession) -> None:
    ecr = account.client("ecr")
    newest = next(b for b in lab02.builds(account) if b["buildStatus"] == "SUCCEEDED")
    tag = lab02.exported(newest)["IMAGE_TAG"]
    image = ecr.batch_get_image(repositoryName=lab02.ECR_REPOSITORY, imageIds=[{"imageTag": tag}])["images"][0]

    def put_back() -> None:
        ecr.put_image(repositoryName=lab02.ECR_REPOSITORY, imageManifest=image["imageManifest"], imageTag=tag,
                      imageManifestMediaType=image["imageManifestMediaType"])

    with mutation(put_back):
        ecr.batch_delete_image(repositoryName=lab02.ECR_REPOSITORY, imageIds=[{"imageTag": tag}])
        failed = assert_breaks(account, lab02, "image-pushed", intact=BUILD_CHECKS)
        assert failed.message == f"{lab02.ECR_REPOSITORY} has no image tagged {tag}"


@breaks("reports-recorded")
def test_a_build_whose_buildspec_has_no_reports(account: LabSession) -> None:
    codebuild = account.client("codebuild")
    spec = (ROOT / "infra" / "sample-app" / "buildspec.yml").read_text()
    build = run_build(codebuild, lab02.PROJECT, timeout=BUILD_TIMEOUT, buildspecOverride=spec[:spec.index("\nreports:")])
    with mutation(lambda: codebuild.batch_delete_builds(ids=[build["id"]])):
        assert build["buildStatus"] == "SUCCEEDED", build["phases"]
        failed = assert_breaks(account, lab02, "reports-recorded", intact=BUILD_CHECKS)
        assert failed.message == "the newest successful build has reports in no report group"
