"""A build acts as its service role (LABSTACK_IAM=enforce): each permission the role lacks fails the build
where AWS fails it, with AWS's words in the phase context and the log; the role fixed, the next build runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import ENVIRONMENT, Lab, buildspec, phases, role_arn, wait_build
from tests.support.codepipeline import zipped
from tests.support.roles import service_role, trust
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codebuild_fixtures"]
CODEBUILD = "codebuild.amazonaws.com"
JUNIT = '<testsuite name="s"><testcase classname="c" name="t" time="0.1"/></testsuite>'


def logs_for(account: str, *projects: str) -> dict[str, Any]:
    """A policy letting a build of ``projects`` write its log (CodeBuild's default group), and nothing else."""
    groups = [f"arn:aws:logs:us-east-1:{account}:log-group:/aws/codebuild/{p}" for p in projects]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": groups + [f"{group}:*" for group in groups]}]}


def granting(policy: dict[str, Any], *statements: dict[str, Any]) -> dict[str, Any]:
    """``policy`` with ``statements`` added."""
    return {**policy, "Statement": [*policy["Statement"], *statements]}


def session_of(lab: Lab, role: str, build: dict) -> str:
    """The ARN of a build's session of ``role``, as AWS names it."""
    return f"arn:aws:sts::{lab.account}:assumed-role/{role}/AWSCodeBuild-{build['id'].split(':', 1)[1]}"


def denied(lab: Lab, role: str, build: dict, action: str, resource: str) -> str:
    """AWS's sentence for the build's session being refused ``action`` on ``resource``."""
    return (f"User: {session_of(lab, role, build)} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action")


def failed_in(build: dict, phase: str) -> dict[str, str]:
    """The one context of the phase the build failed in (and the build failed)."""
    assert build["buildStatus"] == "FAILED", build["phases"]
    record = phases(build)[phase]
    assert record["phaseStatus"] == "FAILED", build["phases"]
    return record["contexts"][0]


def test_a_role_that_may_not_write_logs_fails_provisioning_and_the_fixed_role_builds(lab: Lab) -> None:
    role = service_role(lab.client("iam"), "no-logs", CODEBUILD, policy=None)
    lab.project("quiet", buildspec({"build": {"commands": ["echo built"]}}), role=role)
    build = lab.run("quiet")
    uuid = build["id"].split(":", 1)[1]
    context = failed_in(build, "PROVISIONING")
    stream = f"arn:aws:logs:us-east-1:{lab.account}:log-group:/aws/codebuild/quiet:log-stream:{uuid}"
    assert context == {"statusCode": "ACCESS_DENIED", "message": (
        f"Service role {role} does not allow AWS CodeBuild to create Amazon CloudWatch Logs log streams for build "
        f"{build['arn']}. Error message: AccessDeniedException: "
        f"{denied(lab, 'no-logs', build, 'logs:CreateLogStream', stream)}")}
    assert [p["phaseType"] for p in build["phases"]] == ["SUBMITTED", "QUEUED", "PROVISIONING", "FINALIZING", "COMPLETED"]
    assert lab.client("logs").describe_log_groups(logGroupNamePrefix="/aws/codebuild/quiet")["logGroups"] == []

    service_role(lab.client("iam"), "no-logs", CODEBUILD, policy=logs_for(lab.account, "quiet"))
    again = lab.run("quiet")
    assert again["buildStatus"] == "SUCCEEDED" and "built" in lab.logs(again)


def test_a_denied_call_in_the_build_shows_as_the_cli_and_the_sdk_print_it(lab: Lab) -> None:
    role = service_role(lab.client("iam"), "logs-only", CODEBUILD, policy=logs_for(lab.account, "calls"))
    lab.project("calls", buildspec({"build": {"commands": [
        "python3 -c 'import boto3; boto3.client(\"ssm\").describe_parameters()' || true",
        "aws ecr get-login-password > /dev/null", "echo never"]}}), role=role)
    build = lab.run("calls", timeout=60)
    context = failed_in(build, "BUILD")
    assert context["statusCode"] == "COMMAND_EXECUTION_ERROR"
    assert context["message"].startswith("Error while executing command: aws ecr get-login-password > /dev/null. Reason: exit status")
    lines = lab.logs(build)
    text = "\n".join(lines)
    assert ("botocore.errorfactory.AccessDeniedException: An error occurred (AccessDeniedException) when calling the "
            f"DescribeParameters operation: {denied(lab, 'logs-only', build, 'ssm:DescribeParameters', '*')}") in text
    assert ("An error occurred (AccessDeniedException) when calling the GetAuthorizationToken operation: "
            f"{denied(lab, 'logs-only', build, 'ecr:GetAuthorizationToken', '*')}") in text
    assert "never" not in lines


def test_a_parameter_or_secret_the_role_may_not_read_fails_download_source(lab: Lab) -> None:
    lab.client("ssm").put_parameter(Name="/app/db-host", Value="db.internal", Type="String")
    lab.client("secretsmanager").create_secret(Name="app-token", SecretString="s3cr3t-token")
    policy = logs_for(lab.account, "params")
    role = service_role(lab.client("iam"), "no-params", CODEBUILD, policy=policy)
    lab.project("params", buildspec({"build": {"commands": ["echo host=$DB_HOST token=$TOKEN"]}},
                                    env={"parameter-store": {"DB_HOST": "/app/db-host"},
                                         "secrets-manager": {"TOKEN": "app-token"}}), role=role)
    build = lab.run("params")
    context = failed_in(build, "DOWNLOAD_SOURCE")
    parameter = f"arn:aws:ssm:us-east-1:{lab.account}:parameter/app/db-host"
    assert context == {"statusCode": "Decrypted Variables Error", "message":
                       f"AccessDeniedException: {denied(lab, 'no-params', build, 'ssm:GetParameters', parameter)}"}
    lines = lab.logs(build)
    assert any(line.endswith("Decrypting parameter store environment variables") for line in lines)
    assert any(line.endswith(f"Phase context status code: Decrypted Variables Error Message: {context['message']}")
               for line in lines)

    policy = granting(policy, {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter})
    service_role(lab.client("iam"), "no-params", CODEBUILD, policy=policy)
    build = lab.run("params")
    context = failed_in(build, "DOWNLOAD_SOURCE")
    assert context["statusCode"] == "Secrets Manager Error"
    assert context["message"].startswith(f"AccessDeniedException: User: {session_of(lab, 'no-params', build)} is not "
                                         "authorized to perform: secretsmanager:GetSecretValue on resource: ")

    secret = lab.client("secretsmanager").describe_secret(SecretId="app-token")["ARN"]
    service_role(lab.client("iam"), "no-params", CODEBUILD, policy=granting(
        policy, {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}))
    build = lab.run("params")
    assert build["buildStatus"] == "SUCCEEDED" and "host=*** token=***" in lab.logs(build)


def test_s3_source_and_artifacts_are_read_and_written_as_the_role(lab: Lab) -> None:
    s3 = lab.client("s3")
    source, out = f"src-{lab.account}", f"out-{lab.account}"
    for bucket in (source, out):
        s3.create_bucket(Bucket=bucket)
    spec = buildspec({"build": {"commands": ["echo app > app.txt"]}}, artifacts={"files": ["app.txt"]})
    s3.put_object(Bucket=source, Key="app.zip", Body=zipped({"buildspec.yml": spec}))
    policy = logs_for(lab.account, "s3-build")
    role = service_role(lab.client("iam"), "s3-build", CODEBUILD, policy=policy)
    lab.codebuild.create_project(name="s3-build", serviceRole=role, environment=ENVIRONMENT,
                                 source={"type": "S3", "location": f"{source}/app.zip"},
                                 artifacts={"type": "S3", "location": out, "name": "app", "packaging": "ZIP"})
    build = lab.run("s3-build")
    context = failed_in(build, "DOWNLOAD_SOURCE")
    assert context["statusCode"] == "CLIENT_ERROR"
    assert denied(lab, "s3-build", build, "s3:GetObject", f"arn:aws:s3:::{source}/app.zip") in context["message"]

    policy = granting(policy, {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                               "Resource": f"arn:aws:s3:::{source}/*"})
    service_role(lab.client("iam"), "s3-build", CODEBUILD, policy=policy)
    build = lab.run("s3-build")
    context = failed_in(build, "UPLOAD_ARTIFACTS")
    assert context["statusCode"] == "CLIENT_ERROR"
    assert denied(lab, "s3-build", build, "s3:PutObject", f"arn:aws:s3:::{out}/app") in context["message"]
    assert s3.list_objects_v2(Bucket=out).get("KeyCount") == 0

    service_role(lab.client("iam"), "s3-build", CODEBUILD, policy=granting(
        policy, {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{out}/*"}))
    assert lab.run("s3-build")["buildStatus"] == "SUCCEEDED"
    assert s3.get_object(Bucket=out, Key="app")["ContentLength"] > 0


def test_reports_need_the_roles_report_permissions(lab: Lab) -> None:
    policy = logs_for(lab.account, "tested")
    role = service_role(lab.client("iam"), "no-reports", CODEBUILD, policy=policy)
    lab.project("tested", buildspec({"build": {"commands": [f"echo '{JUNIT}' > junit.xml"]}},
                                    reports={"unit": {"files": ["junit.xml"], "file-format": "JUNITXML"}}), role=role)
    build = lab.run("tested")
    group = f"arn:aws:codebuild:us-east-1:{lab.account}:report-group/tested-unit"
    assert failed_in(build, "UPLOAD_ARTIFACTS") == {"statusCode": "CLIENT_ERROR", "message": (
        "Error in UPLOAD_ARTIFACTS phase: [unit: [error creating report group: AccessDeniedException: "
        f"{denied(lab, 'no-reports', build, 'codebuild:CreateReportGroup', group)}]]")}
    assert "reportArns" not in build and not lab.codebuild.list_report_groups().get("reportGroups")

    service_role(lab.client("iam"), "no-reports", CODEBUILD, policy=granting(policy, {
        "Effect": "Allow", "Resource": group, "Action": ["codebuild:CreateReportGroup", "codebuild:CreateReport",
                                                         "codebuild:UpdateReport", "codebuild:BatchPutTestCases"]}))
    build = lab.run("tested")
    assert build["buildStatus"] == "SUCCEEDED" and len(build["reportArns"]) == 1


def test_a_codecommit_source_needs_git_pull(lab: Lab) -> None:
    codecommit = lab.client("codecommit")
    codecommit.create_repository(repositoryName="app")
    codecommit.put_file(repositoryName="app", branchName="main", filePath="buildspec.yml",
                        fileContent=buildspec({"build": {"commands": ["echo from-git"]}}).encode())
    url = "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/app"
    policy = logs_for(lab.account, "pulled")
    role = service_role(lab.client("iam"), "no-pull", CODEBUILD, policy=policy)
    lab.codebuild.create_project(name="pulled", serviceRole=role, source={"type": "CODECOMMIT", "location": url},
                                 artifacts={"type": "NO_ARTIFACTS"}, sourceVersion="main", environment=ENVIRONMENT)
    build = lab.run("pulled")
    context = failed_in(build, "DOWNLOAD_SOURCE")
    repository = f"arn:aws:codecommit:us-east-1:{lab.account}:app"
    assert context["statusCode"] == "CLIENT_ERROR"
    assert context["message"].endswith(denied(lab, "no-pull", build, "codecommit:GitPull", repository))

    service_role(lab.client("iam"), "no-pull", CODEBUILD, policy=granting(
        policy, {"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": repository}))
    build = lab.run("pulled")
    assert build["buildStatus"] == "SUCCEEDED" and "from-git" in lab.logs(build)


def test_a_custom_ecr_image_pulled_with_the_service_role_needs_its_ecr_permissions(lab: Lab) -> None:
    role = service_role(lab.client("iam"), "no-pull-image", CODEBUILD, policy=logs_for(lab.account, "custom"))
    image = f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/builder:1"
    lab.project("custom", buildspec({"build": {"commands": ["true"]}}), role=role,
                environment={**ENVIRONMENT, "image": image, "imagePullCredentialsType": "SERVICE_ROLE"})
    build = lab.run("custom")
    context = failed_in(build, "PROVISIONING")
    assert context["statusCode"] == "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE"
    assert context["message"].endswith(f"denied: {denied(lab, 'no-pull-image', build, 'ecr:GetAuthorizationToken', '*')}")


def test_a_role_codebuild_may_not_assume_is_refused_at_create_and_fails_a_later_build(lab: Lab) -> None:
    iam = lab.client("iam")
    untrusting = service_role(iam, "for-lambda", "lambda.amazonaws.com")
    missing = f"arn:aws:iam::{lab.account}:role/nobody"
    for role in (untrusting, missing):
        with pytest.raises(ClientError) as refused:
            lab.project("refused", buildspec({"build": {"commands": ["true"]}}), role=role)
        assert refused.value.response["Error"] == {
            "Code": "InvalidInputException", "Message": f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"}
    assert lab.codebuild.list_projects().get("projects") is None

    role = service_role(iam, "trusted-once", CODEBUILD, policy=logs_for(lab.account, "later"))
    lab.project("later", buildspec({"build": {"commands": ["echo ran"]}}), role=role)
    with pytest.raises(ClientError) as refused:
        lab.codebuild.update_project(name="later", serviceRole=untrusting)
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    iam.update_assume_role_policy(RoleName="trusted-once", PolicyDocument=json.dumps(trust("lambda.amazonaws.com")))
    started = lab.codebuild.start_build(projectName="later")["build"]
    build = wait_build(lab.codebuild, started["id"])
    assert failed_in(build, "PROVISIONING") == {
        "statusCode": "CLIENT_ERROR", "message": f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"}
    assert [p["phaseType"] for p in build["phases"]] == ["SUBMITTED", "QUEUED", "PROVISIONING", "FINALIZING", "COMPLETED"]
    overridden = lab.run("later", serviceRoleOverride=missing)
    assert failed_in(overridden, "PROVISIONING")["message"] == f"CodeBuild is not authorized to perform: sts:AssumeRole on {missing}"


def test_a_role_deleted_while_the_build_runs_fails_the_build_not_labstack(lab: Lab) -> None:
    iam = lab.client("iam")
    role = service_role(iam, "doomed", CODEBUILD)
    lab.project("doomed", buildspec({"build": {"commands": [
        "echo started", "while aws sts get-caller-identity > /dev/null && aws ssm describe-parameters > /dev/null; "
        "do sleep 0.2; done", "aws ssm describe-parameters"]}}), role=role)
    started = lab.codebuild.start_build(projectName="doomed")["build"]
    wait_for(lambda: "started" in lab.logs(lab.codebuild.batch_get_builds(ids=[started["id"]])["builds"][0]), seconds=30)
    iam.delete_role_policy(RoleName="doomed", PolicyName="test")
    iam.delete_role(RoleName="doomed")
    build = wait_build(lab.codebuild, started["id"], timeout=60)
    context = failed_in(build, "BUILD")
    assert context == {"statusCode": "COMMAND_EXECUTION_ERROR",
                       "message": "Error while executing command: aws ssm describe-parameters. Reason: exit status 255"}
    finalizing = phases(build)["FINALIZING"]["contexts"][0]
    assert finalizing["statusCode"] == "ACCESS_DENIED"
    assert (f"lines of the build log were lost. Error message: AccessDeniedException: User: {session_of(lab, 'doomed', build)} "
            "is not authorized to perform: logs:PutLogEvents") in finalizing["message"]
    assert lab.codebuild.batch_get_builds(ids=[build["id"]])["builds"][0]["buildComplete"]


def test_cloudtrail_names_the_builds_calls_as_its_session_whose_keys_end_with_it(lab: Lab) -> None:
    lab.project("traced", buildspec({"build": {"commands": [
        "aws ssm describe-parameters > /dev/null",
        "echo KEYS $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN"]}}))
    build = lab.run("traced")
    assert build["buildStatus"] == "SUCCEEDED"
    trail = lab.client("cloudtrail")
    session = session_of(lab, "codebuild-role", build)

    def recorded(name: str) -> dict[str, Any] | None:
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
        return next((json.loads(e["CloudTrailEvent"]) for e in events), None)

    described = wait_for(lambda: recorded("DescribeParameters"), seconds=10)
    assert described["userIdentity"]["type"] == "AssumedRole" and described["userIdentity"]["arn"] == session
    assert described["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == lab.role
    stream = wait_for(lambda: recorded("CreateLogStream"), seconds=10)
    assert stream["userIdentity"]["arn"] == session and stream["userIdentity"].get("invokedBy") == CODEBUILD
    key, secret, token = next(line.split()[1:] for line in lab.logs(build) if line.startswith("KEYS "))
    assert key.startswith("ASIA")
    with pytest.raises(ClientError) as revoked:  # the session ended with the build
        lab.server.client("sts", account=key, secret=secret, token=token).get_caller_identity()
    assert revoked.value.response["Error"]["Code"] == "ExpiredToken"




@pytest.mark.slow
def test_report_mode_lets_the_build_through_and_logs_what_enforce_would_deny(iam_report_labstack: LabstackProcess) -> None:
    lab = Lab(iam_report_labstack)
    untrusting = service_role(lab.client("iam"), "for-lambda", "lambda.amazonaws.com", policy=None)
    lab.project("tolerated", buildspec({"build": {"commands": ["aws ssm describe-parameters > /dev/null", "echo ok"]}}),
                role=untrusting)
    build = lab.run("tolerated")
    assert build["buildStatus"] == "SUCCEEDED" and "ok" in lab.logs(build)
    log = Path(iam_report_labstack.settings.log_file).read_text()
    assert "LABSTACK_IAM=report let through" in log
    session = f"assumed-role/for-lambda/AWSCodeBuild-{build['id'].split(':', 1)[1]}"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents", "ssm:DescribeParameters"):
        assert f"{session} is not authorized to perform: {action}" in log


@pytest.mark.slow
def test_off_mode_builds_as_before(iam_off_labstack: LabstackProcess) -> None:
    lab = Lab(iam_off_labstack)
    lab.project("unchecked", buildspec({"build": {"commands": ["aws ssm describe-parameters > /dev/null", "echo ok"]}}),
                role=role_arn(lab.account).replace("codebuild-role", "never-made"))
    build = lab.run("unchecked")
    assert build["buildStatus"] == "SUCCEEDED" and "ok" in lab.logs(build)


@pytest.mark.slow
def test_docker_push_is_decided_as_the_builds_session(lab: Lab) -> None:
    account = lab.account
    lab.client("ecr").create_repository(repositoryName="app")
    uri = f"{account}.dkr.ecr.us-east-1.amazonaws.com/app"
    repository = f"arn:aws:ecr:us-east-1:{account}:repository/app"
    policy = granting(logs_for(account, "pusher"), {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
    role = service_role(lab.client("iam"), "pusher", CODEBUILD, policy=policy)
    spec = buildspec({"build": {"commands": [
        "printf 'FROM python:3.12-slim\\nCOPY app.py /app.py\\n' > Dockerfile", "echo 'print(1)' > app.py",
        f"aws ecr get-login-password | docker login --username AWS --password-stdin {uri.split('/')[0]}",
        f"docker build -t {uri}:1 .", f"docker push {uri}:1"]}})
    lab.project("pusher", spec, role=role, environment={**ENVIRONMENT, "privilegedMode": True})
    build = lab.run("pusher", timeout=120)
    context = failed_in(build, "BUILD")
    assert context["message"].startswith(f"Error while executing command: docker push {uri}:1.")
    text = "\n".join(lab.logs(build))
    assert denied(lab, "pusher", build, "ecr:BatchCheckLayerAvailability", repository) in text
    assert lab.client("ecr").describe_images(repositoryName="app")["imageDetails"] == []

    service_role(lab.client("iam"), "pusher", CODEBUILD, policy=granting(policy, {
        "Effect": "Allow", "Resource": repository, "Action": [
            "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload", "ecr:PutImage"]}))
    build = lab.run("pusher", timeout=120)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lab.logs(build))
    assert [i["imageTags"] for i in lab.client("ecr").describe_images(repositoryName="app")["imageDetails"]] == [["1"]]
