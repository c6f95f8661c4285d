"""ECS tasks act as their roles: the execution role pulls the image, writes the logs and reads the secrets
(a denial stops the task with ECS's stoppedReason), and the task role is the app's only credentials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for
from tests.support.webimage import push_web_image

ACCOUNT = "212121212121"
ECS = "ecs-tasks.amazonaws.com"
# What AmazonECSTaskExecutionRolePolicy grants.
PULL = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
LOGS = ["logs:CreateLogStream", "logs:PutLogEvents"]
# The container prints its credentials, then whether its session may read each parameter.
SHOW_CREDENTIALS = "import os; print('creds', os.environ.get('AWS_ACCESS_KEY_ID', 'none'), " \
                   "os.environ.get('AWS_SECRET_ACCESS_KEY', 'none'), os.environ.get('AWS_SESSION_TOKEN', 'none'), flush=True)"


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


class Tasks:
    """An account with the web image in ECR, a cluster and a log group."""

    def __init__(self, labstack: LabstackProcess, folder: Path) -> None:
        self.labstack = labstack
        self.image = push_web_image(labstack, ACCOUNT, folder, repository="iam-web")
        self.ecs = labstack.client("ecs", account=ACCOUNT)
        self.iam = labstack.client("iam", account=ACCOUNT)
        self.logs = labstack.client("logs", account=ACCOUNT)
        self.ecs.create_cluster(clusterName="iam")
        self.logs.create_log_group(logGroupName="/ecs/iam")

    def run(self, family: str, execution: str | None, task_role: str | None = None, until: str = "STOPPED",
            **container: Any) -> dict[str, Any]:
        """Run one task of a new task definition; returns it once ``until`` (its lastStatus)."""
        definition = {"name": "web", "image": self.image, "essential": True, "memory": 256,
                      "logConfiguration": {"logDriver": "awslogs", "options": {
                          "awslogs-group": "/ecs/iam", "awslogs-region": "us-east-1", "awslogs-stream-prefix": family}},
                      "command": ["python", "-c", "print('started')"], **container}
        roles = {"executionRoleArn": execution} if execution else {}
        if task_role:
            roles["taskRoleArn"] = task_role
        self.ecs.register_task_definition(family=family, containerDefinitions=[definition], networkMode="awsvpc",
                                          requiresCompatibilities=["FARGATE"], cpu="256", memory="512", **roles)
        arn = self.ecs.run_task(cluster="iam", taskDefinition=family)["tasks"][0]["taskArn"]
        return wait_for(lambda: (t := self.ecs.describe_tasks(cluster="iam", tasks=[arn])["tasks"][0])["lastStatus"]
                        == until and t)

    def logged(self, task: dict[str, Any], family: str) -> list[str]:
        stream = f"{family}/web/{task['taskArn'].rsplit('/', 1)[1]}"
        try:
            return [e["message"] for e in self.logs.get_log_events(logGroupName="/ecs/iam", logStreamName=stream)["events"]]
        except self.logs.exceptions.ResourceNotFoundException:
            return []


@pytest.fixture(scope="module")
def tasks(labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> Tasks:
    return Tasks(labstack, tmp_path_factory.mktemp("iam-ecs"))


def session(role: str, task: dict[str, Any]) -> str:
    """The ARN of the task's session of ``role``: named for the task's id, as on AWS."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/{task['taskArn'].rsplit('/', 1)[1]}"


def test_the_execution_roles_managed_grant_runs_the_task_and_ships_its_log(tasks: Tasks) -> None:
    execution = service_role(tasks.iam, "iam-exec-managed", ECS, policy=None)
    tasks.iam.attach_role_policy(RoleName="iam-exec-managed",
                                 PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    task = tasks.run("managed", execution)
    assert task["stopCode"] == "EssentialContainerExited", task.get("stoppedReason")
    assert wait_for(lambda: "started" in tasks.logged(task, "managed"), seconds=30)


def test_an_execution_role_without_get_authorization_token_cannot_pull(tasks: Tasks) -> None:
    execution = service_role(tasks.iam, "iam-exec-no-auth", ECS, policy=allow(*PULL[1:], *LOGS))
    task = tasks.run("no-auth", execution)
    assert task["stopCode"] == "TaskFailedToStart"
    reason = task["stoppedReason"]
    assert reason.startswith("ResourceInitializationError: unable to pull secrets or registry auth: ")
    assert f"{session(execution, task)} is not authorized to perform: ecr:GetAuthorizationToken on resource: *" in reason
    assert task["containers"][0]["lastStatus"] == "STOPPED" and "imageDigest" not in task["containers"][0]


def test_an_execution_role_without_batch_get_image_cannot_pull(tasks: Tasks) -> None:
    execution = service_role(tasks.iam, "iam-exec-no-image", ECS, policy=allow("ecr:GetAuthorizationToken", *LOGS))
    task = tasks.run("no-image", execution)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: ")
    assert "is not authorized to perform: ecr:BatchGetImage on resource: " \
           f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/iam-web" in task["stoppedReason"]


def test_an_execution_role_without_create_log_stream_stops_the_task(tasks: Tasks) -> None:
    execution = service_role(tasks.iam, "iam-exec-no-logs", ECS, policy=allow(*PULL))
    task = tasks.run("no-logs", execution)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("ResourceInitializationError: failed to validate logger args: ")
    assert f"{session(execution, task)} is not authorized to perform: logs:CreateLogStream" in task["stoppedReason"]
    assert tasks.logged(task, "no-logs") == []


def test_an_execution_role_that_may_not_read_a_secret_stops_the_task(tasks: Tasks) -> None:
    secret = tasks.labstack.client("secretsmanager", account=ACCOUNT).create_secret(
        Name="iam/api-key", SecretString="k-1")["ARN"]
    execution = service_role(tasks.iam, "iam-exec-no-secret", ECS, policy=allow(*PULL, *LOGS))
    task = tasks.run("no-secret", execution, secrets=[{"name": "API_KEY", "valueFrom": secret}])
    assert task["stopCode"] == "TaskFailedToStart"
    assert "unable to retrieve secret from asm" in task["stoppedReason"]
    assert "is not authorized to perform: secretsmanager:GetSecretValue" in task["stoppedReason"]
    tasks.iam.put_role_policy(RoleName="iam-exec-no-secret", PolicyName="secret", PolicyDocument=json.dumps(
        allow("secretsmanager:GetSecretValue", resource=secret)))
    task = tasks.run("secret", execution, secrets=[{"name": "API_KEY", "valueFrom": secret}],
                     command=["python", "-c", "import os; print('key=' + os.environ['API_KEY'])"])
    assert task["stopCode"] == "EssentialContainerExited", task.get("stoppedReason")
    assert wait_for(lambda: "key=k-1" in tasks.logged(task, "secret"), seconds=30)


def test_a_task_without_an_execution_role_cannot_pull_from_private_ecr(tasks: Tasks) -> None:
    task = tasks.run("no-execution-role", None)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: Fargate requires task definition to have "
                                            "execution role ARN to support ECR images")


def test_an_execution_role_ecs_may_not_assume_stops_the_task(tasks: Tasks) -> None:
    lambda_only = service_role(tasks.iam, "iam-exec-lambda-only", "lambda.amazonaws.com")
    task = tasks.run("untrusted", lambda_only)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith(f"ResourceInitializationError: ECS was unable to assume the role "
                                            f"'{lambda_only}'")


def credentials_of(tasks: Tasks, task: dict[str, Any], family: str) -> list[str]:
    line = wait_for(lambda: next((m for m in tasks.logged(task, family) if m.startswith("creds ")), None), seconds=30)
    return line.split(" ")[1:]


def test_the_app_gets_a_session_of_its_task_role_and_only_that(tasks: Tasks) -> None:
    ssm = tasks.labstack.client("ssm", account=ACCOUNT)
    for name in ("/iam/open", "/iam/closed"):
        ssm.put_parameter(Name=name, Value=name, Type="String")
    execution = service_role(tasks.iam, "iam-exec", ECS, policy=allow(*PULL, *LOGS))
    app = service_role(tasks.iam, "iam-app", ECS, policy=allow(
        "ssm:GetParameter", resource=f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/iam/open"))
    task = tasks.run("app", execution, app, until="RUNNING",
                     command=["python", "-c", SHOW_CREDENTIALS + "; import time; time.sleep(60)"])
    key, secret, token = credentials_of(tasks, task, "app")
    as_app = {"account": key, "secret": secret, "token": token}
    assert tasks.labstack.client("ssm", **as_app).get_parameter(Name="/iam/open")["Parameter"]["Value"] == "/iam/open"
    with pytest.raises(ClientError) as caught:
        tasks.labstack.client("ssm", **as_app).get_parameter(Name="/iam/closed")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"{session(app, task)} is not authorized to perform: ssm:GetParameter" in caught.value.response["Error"]["Message"]
    # Once the task stops its session is revoked: the keys no longer reach the account as the role.
    tasks.ecs.stop_task(cluster="iam", task=task["taskArn"])
    wait_for(lambda: tasks.ecs.describe_tasks(cluster="iam", tasks=[task["taskArn"]])["tasks"][0]["lastStatus"] == "STOPPED")
    with pytest.raises(ClientError) as caught:
        tasks.labstack.client("ssm", **as_app).get_parameter(Name="/iam/open")
    assert session(app, task) not in caught.value.response["Error"]["Message"]


def test_without_a_task_role_the_app_has_no_credentials(tasks: Tasks) -> None:
    execution = service_role(tasks.iam, "iam-exec", ECS, policy=allow(*PULL, *LOGS))
    task = tasks.run("no-app-role", execution, command=["python", "-c", SHOW_CREDENTIALS])
    assert credentials_of(tasks, task, "no-app-role") == ["none", "none", "none"]


@pytest.fixture(params=["report", "off"])
def lenient(request: pytest.FixtureRequest) -> tuple[LabstackProcess, str]:
    """The shared labstack with LABSTACK_IAM=report, then the one with off."""
    return request.getfixturevalue(f"iam_{request.param}_labstack"), request.param


@pytest.mark.slow
def test_report_mode_lets_the_task_run_and_logs_what_it_would_deny_and_off_decides_nothing(
        lenient: tuple[LabstackProcess, str], tmp_path: Path) -> None:
    server, mode = lenient
    tasks = Tasks(server, tmp_path)
    execution = service_role(tasks.iam, "iam-exec-nothing", ECS, policy=None)
    task = tasks.run("lenient", execution)
    assert task["stopCode"] == "EssentialContainerExited", task.get("stoppedReason")
    assert wait_for(lambda: "started" in tasks.logged(task, "lenient"), seconds=30)
    log = Path(server.settings.log_file).read_text()
    would_deny = f"{session(execution, task)} is not authorized to perform: ecr:GetAuthorizationToken"
    if mode == "report":
        assert "LABSTACK_IAM=report let through" in log and would_deny in log
    else:
        assert would_deny not in log
