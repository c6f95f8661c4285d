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
