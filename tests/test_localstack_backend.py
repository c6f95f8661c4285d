"""The localstack backend: which service goes where, the variables that steer a plain boto3
client, LAB_BACKEND and ``grader.Lab(N, backend=...)``, and ``grader env``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from labstack.ports import free_port

import grader
from grader.backends import (
    DEFAULT_BESIDE_LOCALSTACK,
    DEFAULT_LOCALSTACK,
    LOCALSTACK_SERVICES,
    THROUGH_LABSTACK,
    Backend,
    endpoint_variable,
    fresh_account,
)
from grader.cli import main as grader_main
from tests.support.server import LabstackProcess


@pytest.fixture
def clean_environ() -> Iterator[None]:
    """os.environ as it was before the test (export and grader.Lab write into it)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_localstack_serves_the_issues_services_but_cloudformation_and_cloudwatch_stay_on_labstack() -> None:
    """CloudWatch is labstack's: LocalStack's free CloudWatch does not evaluate lab 06's metric math alarm."""
    assert set(LOCALSTACK_SERVICES) == {"s3", "iam", "sts", "sns", "sqs", "logs", "events", "ssm", "secretsmanager"}
    backend = Backend.named("localstack", {})
    assert backend.endpoint == DEFAULT_BESIDE_LOCALSTACK == "http://127.0.0.1:4577"
    for service in set(LOCALSTACK_SERVICES) - {"events"}:
        assert backend.endpoint_for(service) == DEFAULT_LOCALSTACK == "http://127.0.0.1:4566"
    # EventBridge's rules live in LocalStack, but calls go through labstack, which keeps pipeline targets
    assert THROUGH_LABSTACK == ("events",)
    for service in ("events", "cloudformation", "cloudwatch", "codebuild", "codedeploy", "codepipeline", "codecommit", "ecr", "ecs",
                    "elbv2", "lambda", "kms"):
        assert backend.endpoint_for(service) == DEFAULT_BESIDE_LOCALSTACK, service


def test_lab_backend_selects_the_backend() -> None:
    assert Backend.from_env({}).name == "embedded"
    assert Backend.from_env({"LAB_BACKEND": "localstack"}).endpoint_for("sqs") == DEFAULT_LOCALSTACK
    assert Backend.from_env({"LAB_BACKEND": "aws"}).endpoint_for("sqs") is None
    with pytest.raises(ValueError, match="choose one of embedded, localstack, aws"):
        Backend.from_env({"LAB_BACKEND": "localstak"})


def test_the_exported_variables_send_each_plain_boto3_client_to_its_place(clean_environ: None) -> None:
    Backend.named("localstack", {"LOCALSTACK_ENDPOINT": "http://ls.test:4566",
                                 "LABSTACK_ENDPOINT": "http://lab.test:4577"}).export()
    session = boto3.session.Session(region_name="us-east-1")
    for service in set(LOCALSTACK_SERVICES) - set(THROUGH_LABSTACK):
        assert session.client(service).meta.endpoint_url == "http://ls.test:4566", endpoint_variable(service)
    for service in ("events", "cloudformation", "cloudwatch", "codepipeline", "ecs"):
        assert session.client(service).meta.endpoint_url == "http://lab.test:4577", service


def test_variables_carry_the_backend_and_its_endpoints_to_another_process() -> None:
    env = Backend.named("localstack", {"LOCALSTACK_ENDPOINT": "http://ls.test:4566"}).variables()
    assert env["LAB_BACKEND"] == "localstack" and env["LOCALSTACK_ENDPOINT"] == "http://ls.test:4566"
    assert env["LABSTACK_ENDPOINT"] == env["AWS_ENDPOINT_URL"] == DEFAULT_BESIDE_LOCALSTACK
    assert Backend.named("localstack", env) == Backend.named("localstack", {"LOCALSTACK_ENDPOINT": "http://ls.test:4566"})
    assert env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] == env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == "http://ls.test:4566"
    assert not {"AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_CLOUDWATCH"} & set(env)
    assert Backend.named("embedded", {}).variables()["LAB_BACKEND"] == "embedded"


def test_a_kernel_started_for_a_session_finds_the_same_backend_and_account() -> None:
    """The gate's kernels: their ``grader.Lab`` reads the backend from the environment kernel_env gives them."""
    from grader.backends import LabSession
    from grader.notebooks import kernel_env

    backend = Backend.named("localstack", {"LOCALSTACK_ENDPOINT": "http://ls.test:4599", "LABSTACK_ENDPOINT": "http://lab.test:4598"})
    env = kernel_env(LabSession.for_key(backend, "135724683579"))
    assert Backend.from_env(env) == backend
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_ENDPOINT_URL_S3"]) == ("135724683579", "http://ls.test:4599")


def test_grader_env_prints_shell_lines_for_the_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert grader_main(["env", "--backend", "localstack"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "export LAB_BACKEND=localstack" in lines
    assert "export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:4566" in lines
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4577" in lines
    assert all(line.startswith(("export AWS_", "export LAB", "export LOCALSTACK_")) for line in lines)


def test_a_lab_takes_the_backend_and_says_how_to_start_localstack_when_it_is_down(
        clean_environ: None, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    os.environ.update(LOCALSTACK_ENDPOINT=dead, LABSTACK_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    lab = grader.Lab(1, backend="localstack")
    assert lab.backend.name == "localstack" and lab.session.client("sqs").meta.endpoint_url == dead
    assert os.environ["AWS_ENDPOINT_URL_SQS"] == dead
    out = capsys.readouterr().out
    assert out.startswith(f"✗ nothing usable answers at {dead}") and "make lab BACKEND=localstack" in out


def test_labstack_consumes_from_localstack_exactly_what_the_backend_sends_there() -> None:
    from labstack.upstream import SERVICES

    assert set(LOCALSTACK_SERVICES) == SERVICES


def test_grader_solve_creates_nothing_while_localstack_is_down_and_says_how_to_start_it(
        labstack: LabstackProcess, clean_environ: None, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    os.environ.update(LOCALSTACK_ENDPOINT=dead, LABSTACK_ENDPOINT=labstack.endpoint)
    account = fresh_account()
    assert grader_main(["solve", "2", "--backend", "localstack", "--account", account]) == 2
    port = dead.rsplit(":", 1)[1]
    assert capsys.readouterr() == ("", (f"✗ LocalStack does not answer at {dead}: start it with `labstack localstack up "
                                       f"--port {port}` (or `make lab BACKEND=localstack`), then run this again\n"))
    assert labstack.client("codecommit", account=account).list_repositories()["repositories"] == []
    assert labstack.client("kms", account=account).list_keys()["Keys"] == []


def test_grader_doctor_names_each_part_of_the_backend_and_the_one_that_is_down(
        labstack: LabstackProcess, clean_environ: None, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    os.environ.update(LOCALSTACK_ENDPOINT=dead, LABSTACK_ENDPOINT=labstack.endpoint, LAB_BACKEND="localstack")
    assert grader_main(["doctor"]) == 1
    assert capsys.readouterr().err.startswith(f"✗ LocalStack does not answer at {dead}: ")
    os.environ["LOCALSTACK_ENDPOINT"] = labstack.endpoint  # labstack answers LocalStack's health and STS too
    assert grader_main(["doctor", "--account", "246824682468"]) == 0
    assert capsys.readouterr().out == (f"✓ the localstack backend answers at {labstack.endpoint}: "
                                       "account 246824682468, region us-east-1\n")
