"""The CI gate on the LocalStack backend (`grader ci --backend localstack --lane solutions --lane
unanswered`): a real LocalStack serves S3, IAM, STS, SNS, SQS, Logs, Events, SSM and Secrets Manager,
labstack (``--upstream``, lab clock at 4 as ``make lab BACKEND=localstack`` runs it) the rest, CloudWatch
included (LocalStack's free CloudWatch does not evaluate lab 06's metric math alarm).
In one account the six solutions in order score full marks, and beside them, in another, the six
unanswered labs score 0 with a hint under every failing check; afterwards the solutions' account is
looked at in LocalStack and in labstack to see that each resource lives where the backend says.

The in-order lane (each lab unanswered right after the one before it is solved) and the lanes of each
lab alone run on the embedded backend (tests/test_grader_gate.py): here they would add minutes to the
longest module of the suite.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grader import checks, ci, notebooks
from grader.backends import Backend, LabSession, fresh_account
from grader.checks import lab01, lab02, lab03, lab04, lab05, lab06
from tests.conftest import CLIENT_TIMEOUT
from tests.support.localstack import LocalStack
from tests.support.server import LabstackProcess, offline_builds, start_labstack
from tests.support.grading import written_note
from tests.test_grader_gate import POINTS

pytestmark = [pytest.mark.slow, pytest.mark.first, pytest.mark.timeout(1500)]
pytest_plugins = ["tests.support.localstack_fixtures"]

BESIDE_TIME_SCALE = "60"  # the lab clock of `make lab BACKEND=localstack`: the default, as on embedded


@pytest.fixture(scope="module")
def beside(localstack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """labstack beside LocalStack, set up as for the sample app's builds (the kit's venv first on PATH, no index)."""
    server = start_labstack(tmp_path_factory.mktemp("beside-home"), LABSTACK_PROVIDERS="",
                            LABSTACK_UPSTREAM=localstack.endpoint, LABSTACK_TIME_SCALE=BESIDE_TIME_SCALE,
                            LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT, **offline_builds())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gate(beside: LabstackProcess, localstack: LocalStack,
         tmp_path_factory: pytest.TempPathFactory) -> tuple[bool, list[str], LabSession]:
    """The solutions and unanswered lanes on the LocalStack backend, run once: whether they passed, what the
    gate said, and the solutions' account."""
    backend = Backend.named("localstack", {"LOCALSTACK_ENDPOINT": localstack.endpoint, "LABSTACK_ENDPOINT": beside.endpoint})
    account = LabSession.for_key(backend, fresh_account())
    said: list[str] = []
    key = account.credentials_env()["AWS_ACCESS_KEY_ID"]
    passed = ci.run(backend, tmp_path_factory.mktemp("gate-localstack"), say=said.append, in_order=key,
                     only=["solutions", "unanswered"])
    return passed, said, account


def test_every_lab_scores_0_unanswered_and_full_marks_solved_on_localstack(
        gate: tuple[bool, list[str], LabSession]) -> None:
    passed, said, _ = gate
    assert list(POINTS) == checks.lab_numbers()
    expected = ["✓ labs/ matches solutions/"]
    for number, points in POINTS.items():
        slug = notebooks.slug(number)
        expected += [f"✓ {slug}: unanswered it scores 0/{points}{written_note(number)}, a hint under every failing check",
                     f"✓ {slug}: the solution scores {points}/{points}{written_note(number)}"]
    assert said[0] == expected[0], said  # first, while the lanes run
    assert (passed, sorted(said)) == (True, sorted(expected)), "\n".join(said)


def test_localstack_holds_the_buckets_roles_parameters_logs_and_topic_but_not_the_alarm(
        gate: tuple[bool, list[str], LabSession], localstack: LocalStack) -> None:
    _, _, session = gate
    account = session.account

    def direct(service: str):  # type: ignore[no-untyped-def]
        return localstack.client(service, account)

    bucket = lab01.bucket_name(account)
    assert direct("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert direct("s3").list_objects_v2(Bucket=bucket)["KeyCount"] > 0  # the pipeline's artifacts
    for role in lab01.ROLES.values():
        assert direct("iam").get_role(RoleName=role)["Role"]["Arn"] == f"arn:aws:iam::{account}:role/{role}"
    assert direct("ssm").get_parameter(Name=lab01.DB_PASSWORD_PARAMETER)["Parameter"]["Type"] == "SecureString"
    assert direct("secretsmanager").describe_secret(SecretId=lab01.API_KEY_SECRET)["Name"] == lab01.API_KEY_SECRET
    streams = direct("logs").describe_log_streams(logGroupName=lab02.LOG_GROUP)["logStreams"]
    assert streams, f"no build logged in LocalStack's {lab02.LOG_GROUP}"
    topics = [t["TopicArn"] for t in direct("sns").list_topics()["Topics"]]
    assert f"arn:aws:sns:us-east-1:{account}:{lab05.TOPIC}" in topics
    assert direct("events").describe_rule(Name=lab04.TRIGGER_RULE)["State"] == "ENABLED"
    # the metric math alarm is labstack's (test below): none was put into LocalStack's CloudWatch
    assert direct("cloudwatch").describe_alarms(AlarmNames=[lab06.ALARM])["MetricAlarms"] == []


def test_labstack_holds_the_code_services_and_the_alarm_that_stopped_v3(
        gate: tuple[bool, list[str], LabSession], beside: LabstackProcess) -> None:
    _, _, session = gate
    assert session.client("codecommit").get_repository(repositoryName=lab01.REPOSITORY)
    assert session.client("codebuild").batch_get_projects(names=[lab02.PROJECT])["projects"]
    assert session.client("ecs").describe_services(cluster=lab03.CLUSTER, services=[lab03.SERVICE])["services"]
    assert session.client("codepipeline").get_pipeline(name=lab04.PIPELINE)["pipeline"]["name"] == lab04.PIPELINE
    assert session.backend.endpoint_for("codebuild") == beside.endpoint != session.backend.endpoint_for("s3")
    # labstack's alarms runtime evaluated the metric math alarm: it fired on v3's 5xx and returned to OK
    assert session.backend.endpoint_for("cloudwatch") == beside.endpoint
    cloudwatch = session.client("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=[lab06.ALARM])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK" and alarm["Metrics"], alarm
    history = cloudwatch.describe_alarm_history(AlarmName=lab06.ALARM, HistoryItemType="StateUpdate")
    assert any("to ALARM" in item["HistorySummary"] for item in history["AlarmHistoryItems"]), history
    codedeploy = session.client("codedeploy")
    ids = codedeploy.list_deployments(applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP,
                                      includeOnlyStatuses=["Stopped"])["deployments"]
    stopped = [codedeploy.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids]
    assert [d["errorInformation"]["code"] for d in stopped] == ["ALARM_ACTIVE"]
