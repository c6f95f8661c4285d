"""Lab 07 on the LocalStack backend: CloudFormation stays on labstack (LocalStack's free runtime serves
CloudFormation, but its stacks could not make the Code* resources, which it answers 501 for), and labstack's
engine makes each resource through that resource's own API, so the stack's bucket, roles and topic land in
LocalStack and its KMS key and CodeBuild projects in labstack. The base stack and a sketch of the pipeline stack
(tests/test_checks_lab07.py) pass their checks there; the checks of the pipeline's runs need labs 01–06 first
(tests/test_grader_gate_localstack.py runs them all)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grader.backends import Backend, LabSession, fresh_account
from grader.checks import lab07
from tests.conftest import CLIENT_TIMEOUT
from tests.support.localstack import LocalStack
from tests.support.mutations import results
from tests.support.server import LabstackProcess, start_labstack
from tests.test_checks_lab07 import BASE_CHECKS, TEMPLATE_CHECKS, HERE, _template, deploy, sketch

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
pytest_plugins = ["tests.support.localstack_fixtures"]


@pytest.fixture(scope="module")
def beside(localstack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """labstack beside LocalStack, as `make lab BACKEND=localstack` runs it."""
    server = start_labstack(tmp_path_factory.mktemp("beside-home"), LABSTACK_PROVIDERS="",
                            LABSTACK_UPSTREAM=localstack.endpoint, LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def account(beside: LabstackProcess, localstack: LocalStack) -> LabSession:
    """An account on the LocalStack backend with the reference base stack and a sketch pipeline stack, the
    latter through a change set."""
    backend = Backend.named("localstack", {"LOCALSTACK_ENDPOINT": localstack.endpoint, "LABSTACK_ENDPOINT": beside.endpoint})
    session = LabSession.for_key(backend, fresh_account())
    assert deploy(session, lab07.BASE_STACK, _template("base.yaml")) == "CREATE_COMPLETE"
    session.client("s3").put_object(Bucket=lab07.names(session)["base_bucket"], Key=lab07.NESTED_KEY,
                                    Body=(HERE / "build-projects.yaml").read_bytes())
    assert deploy(session, lab07.PIPELINE_STACK, sketch(), change_set=True) == "CREATE_COMPLETE"
    return session


def test_the_stack_checks_pass_on_the_localstack_backend(account: LabSession) -> None:
    found = results(account, lab07, (*BASE_CHECKS, *TEMPLATE_CHECKS, "pipeline-stack", "change-set"))
    assert [r for r in found.values() if not r.passed] == []


def test_the_stacks_resources_live_where_the_backend_serves_their_service(account: LabSession, localstack: LocalStack,
                                                                           beside: LabstackProcess) -> None:
    names = lab07.names(account)
    direct = localstack.client("s3", account.account)
    assert direct.get_bucket_versioning(Bucket=names["base_bucket"])["Status"] == "Enabled"
    for role in ("codepipeline", "codebuild", "codedeploy", "events"):
        assert localstack.client("iam", account.account).get_role(RoleName=f"{lab07.PREFIX}-{role}")
    topics = [t["TopicArn"] for t in localstack.client("sns", account.account).list_topics()["Topics"]]
    notices = lab07.one(account, lab07.PIPELINE_STACK, "AWS::SNS::Topic")
    assert notices in topics
    assert account.backend.endpoint_for("codebuild") == beside.endpoint
    projects = account.client("codebuild").batch_get_projects(names=[f"{lab07.PREFIX}-{lab07.ENVIRONMENT}-lint"])["projects"]
    assert [p["source"]["buildspec"] for p in projects] == ["buildspec-lint.yml"]
