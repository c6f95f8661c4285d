"""Lab checks against a real labstack: an empty account fails every check with a hint, wrong
resources fail with a message that names what was found, and nothing ever raises."""

from __future__ import annotations

import json

import pytest

from grader import checks
from grader.backends import Backend, LabSession
from grader.checks import Check, Fail, lab01
from grader.results import CheckResult
from tests.support.grading import session_for
from tests.support.server import LabstackProcess


def run_all(session: LabSession) -> dict[str, CheckResult]:
    report = checks.run("lab 01", session, checks.select(lab01.CHECKS, (), hidden=True))
    return {r.id: r for r in report.results}


def test_an_empty_account_fails_every_check_with_a_hint(labstack: LabstackProcess) -> None:
    results = run_all(session_for(labstack))
    assert set(results) == {c.id for c in lab01.CHECKS}
    assert sum(r.points for r in results.values()) == 30
    for result in results.values():
        assert not result.passed and result.earned == 0
        assert result.hint and result.message
        assert "Traceback" not in result.message and "answered" not in result.message, result
    assert results["bucket-exists"].message.startswith("there is no bucket cicd-lab-artifacts-")
    assert results["repo-has-main"].message == "cicd-lab-app has no branch main: nothing was pushed to it yet"


def test_wrong_resources_fail_with_what_was_found(labstack: LabstackProcess) -> None:
    session = session_for(labstack)
    iam, ssm, secrets = session.client("iam"), session.client("ssm"), session.client("secretsmanager")
    trust_ec2 = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["codebuild.amazonaws.com", "ec2.amazonaws.com"]},
         "Action": "sts:AssumeRole"}]}
    for name in lab01.ROLES.values():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_ec2))
    ssm.put_parameter(Name=lab01.DB_PASSWORD_PARAMETER, Value="hunter2", Type="String")
    secrets.create_secret(Name=lab01.API_KEY_SECRET, SecretString="not json")
    session.client("s3").create_bucket(Bucket=lab01.bucket_name(session.account))

    results = run_all(session)
    assert results["codebuild-role-trust"].passed
    assert not results["codedeploy-role-trust"].passed
    assert "trusts codebuild.amazonaws.com, ec2.amazonaws.com, not codedeploy.amazonaws.com" in results["codedeploy-role-trust"].message
    assert "also trusts ec2.amazonaws.com" in results["trust-least-privilege"].message
    assert results["db-password-parameter"].message.startswith(f"{lab01.DB_PASSWORD_PARAMETER} is a String")
    assert results["api-key-secret"].passed
    assert results["api-key-field"].message == f"{lab01.API_KEY_SECRET} holds plain text, not a JSON object"
    assert results["bucket-exists"].passed
    assert results["bucket-versioning"].message.endswith("is never enabled")
    # A new bucket has S3's default SSE-S3 encryption (as on AWS since 2023), not the lab's KMS key.
    assert results["bucket-encryption"].message == "default encryption is AES256, not aws:kms"
    assert "may not ssm:GetParameters on arn:aws:ssm:" in results["codebuild-reads-config"].message


def test_an_unreachable_backend_is_a_cross_with_a_way_out() -> None:
    session = LabSession.for_key(Backend("embedded", "http://127.0.0.1:9"), "123456789012")
    results = run_all(session)
    assert all(not r.passed and r.hint == checks.UNREACHABLE_HINT for r in results.values())
    assert results["kms-key"].message.startswith("could not reach the backend")


def test_a_check_that_breaks_reports_instead_of_raising(labstack: LabstackProcess) -> None:
    def broken(_session: LabSession) -> str:
        return {}["missing"]

    def failing(_session: LabSession) -> str:
        raise Fail("found a teapot")

    session = session_for(labstack)
    crashed = Check("broken", 3, "a hint", False, broken).run(session)
    assert (crashed.passed, crashed.earned, crashed.hint) == (False, 0, "a hint")
    assert crashed.message == "the check itself failed (KeyError: 'missing')"
    assert Check("failing", 1, "h", False, failing).run(session).message == "found a teapot"


def test_select_names_checks_and_rejects_unknown_ones() -> None:
    visible = checks.select(lab01.CHECKS, (), hidden=False)
    assert visible and not any(c.hidden for c in visible)
    assert len(checks.select(lab01.CHECKS, (), hidden=True)) == len(lab01.CHECKS) > len(visible)
    assert [c.id for c in checks.select(lab01.CHECKS, ("key-rotation", "kms-key"), hidden=False)] == ["key-rotation", "kms-key"]
    with pytest.raises(ValueError, match="no check called nope"):
        checks.select(lab01.CHECKS, ("nope",), hidden=False)
    with pytest.raises(ValueError, match="there is no lab 99; labs with checks: 1"):
        checks.lab_module(99)


# --- lab 01's least-privilege checks, by evaluation: wrong-but-plausible roles fail with a clear message ---

LEAST_PRIVILEGE = ("trust-least-privilege", "codedeploy-role-policy", "codebuild-reads-config")


def _lab01_roles(session: LabSession) -> tuple[str, str]:
    """Lab 01's roles as its solution builds them; the parameter's and the secret's ARNs."""
    iam = session.client("iam")
    for service, name in lab01.ROLES.items():
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": f"{service}.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": session.account}}}]}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=lab01.ROLES["codedeploy"],
                           PolicyArn=f"arn:aws:iam::aws:policy/{lab01.CODEDEPLOY_ECS_POLICY}")
    session.client("ssm").put_parameter(Name=lab01.DB_PASSWORD_PARAMETER, Value="pw", Type="SecureString")
    parameter_arn = session.client("ssm").get_parameter(Name=lab01.DB_PASSWORD_PARAMETER)["Parameter"]["ARN"]
    secret_arn = session.client("secretsmanager").create_secret(
        Name=lab01.API_KEY_SECRET, SecretString=json.dumps({"API_KEY": "k"}))["ARN"]
    _put(session, "codebuild", "read-build-config",
         {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn},
         {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn})
    return parameter_arn, secret_arn


def _put(session: LabSession, service: str, name: str, *statements: dict[str, object]) -> None:
    session.client("iam").put_role_policy(RoleName=lab01.ROLES[service], PolicyName=name, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))


def _least_privilege(session: LabSession) -> dict[str, CheckResult]:
    report = checks.run("lab 01", session, checks.select(lab01.CHECKS, LEAST_PRIVILEGE, hidden=True))
    return {r.id: r for r in report.results}


def test_lab01_least_privilege_passes_the_solutions_roles(labstack: LabstackProcess) -> None:
    session = session_for(labstack)
    _lab01_roles(session)
    results = _least_privilege(session)
    assert all(r.passed for r in results.values()), results
    assert run_all(session)["codebuild-role-trust"].passed  # a confused-deputy condition is good practice


@pytest.mark.parametrize(("statements", "expected"), [
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"}],
     'allows more than reading that parameter and that secret: every action of every service ("Action": "*"'),
    ([{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}],
     "IAM privilege escalation: iam:CreateUser, iam:CreateAccessKey, iam:PutRolePolicy"),
    ([{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
     "secretsmanager:GetSecretValue on other resources than arn:aws:secretsmanager:"),
    ([{"Effect": "Allow", "Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/app/db/*"}],
     "every ssm action (ssm:*); ssm:GetParameters on other resources than arn:aws:ssm:"),
    ([{"Sid": "NoParameters", "Effect": "Deny", "Action": "ssm:Get*", "Resource": "*"}],
     'may not ssm:GetParameters on arn:aws:ssm:'),
], ids=["action-star", "notaction-grants-iam", "any-secret", "ssm-star", "deny-blocks"])
def test_lab01_codebuild_role_beyond_or_blocked_fails(labstack: LabstackProcess, statements: list[dict[str, object]],
                                                      expected: str) -> None:
    session = session_for(labstack)
    _lab01_roles(session)
    _put(session, "codebuild", "extra", *statements)
    result = _least_privilege(session)["codebuild-reads-config"]
    assert not result.passed and result.hint
    assert expected in result.message, result.message
    if statements[0].get("Sid") == "NoParameters":
        assert result.message.endswith('(denied by statement "NoParameters" of identity-based policy inline policy extra)')


def test_lab01_codedeploy_role_by_evaluation(labstack: LabstackProcess) -> None:
    session = session_for(labstack)
    _lab01_roles(session)
    _put(session, "codedeploy", "admin-too", {"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    result = _least_privilege(session)["codedeploy-role-policy"]
    assert not result.passed
    assert "allows IAM privilege escalation: iam:CreateUser" in result.message, result.message
    iam = session.client("iam")
    iam.delete_role_policy(RoleName=lab01.ROLES["codedeploy"], PolicyName="admin-too")
    _put(session, "codedeploy", "no-listeners", {"Sid": "Frozen", "Effect": "Deny",
                                                 "Action": "elasticloadbalancing:Modify*", "Resource": "*"})
    result = _least_privilege(session)["codedeploy-role-policy"]
    assert result.message.startswith(f"{lab01.ROLES['codedeploy']} may not elasticloadbalancing:ModifyListener on * "
                                     '(denied by statement "Frozen"'), result.message
    iam.delete_role_policy(RoleName=lab01.ROLES["codedeploy"], PolicyName="no-listeners")
    iam.detach_role_policy(RoleName=lab01.ROLES["codedeploy"],
                           PolicyArn=f"arn:aws:iam::aws:policy/{lab01.CODEDEPLOY_ECS_POLICY}")
    result = _least_privilege(session)["codedeploy-role-policy"]
    assert result.message.startswith(f"{lab01.ROLES['codedeploy']} may not ecs:DescribeServices on *"), result.message


def test_lab01_trust_beyond_the_service_fails(labstack: LabstackProcess) -> None:
    session = session_for(labstack)
    _lab01_roles(session)
    iam = session.client("iam")
    iam.update_assume_role_policy(RoleName=lab01.ROLES["codepipeline"], PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
            "Service": "codepipeline.amazonaws.com", "AWS": f"arn:aws:iam::{session.account}:root"}}]}))
    iam.update_assume_role_policy(RoleName=lab01.ROLES["codebuild"], PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*"}]}))
    result = _least_privilege(session)["trust-least-privilege"]
    assert not result.passed
    assert f"{lab01.ROLES['codepipeline']} also trusts IAM users and roles of {session.account}" in result.message
    assert (f"{lab01.ROLES['codebuild']} also trusts any service, IAM users and roles of {session.account}, "
            "principals of other accounts") in result.message
