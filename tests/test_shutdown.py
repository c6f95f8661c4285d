"""`labstack down` leaves nothing running: no task, no function worker, no listener."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import psutil
import pytest
from labstack.ports import port_is_free

from tests.support.roles import service_role
from tests.support.server import start_labstack
from tests.support.webimage import push_web_image

ACCOUNT = "975397539753"

pytestmark = pytest.mark.slow


def test_down_leaves_no_child_running(tmp_path: Path) -> None:
    server = start_labstack(tmp_path / "home")
    try:
        image = push_web_image(server, ACCOUNT, tmp_path)
        ecs = server.client("ecs", account=ACCOUNT)
        ecs.create_cluster(clusterName="c")
        execution = service_role(server.client("iam", account=ACCOUNT), "web-task-execution", "ecs-tasks.amazonaws.com")
        ecs.register_task_definition(family="web", executionRoleArn=execution, containerDefinitions=[
            {"name": "web", "image": image, "memory": 128, "portMappings": [{"containerPort": 8080}]}])
        arn = ecs.run_task(cluster="c", taskDefinition="web")["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 20
        while ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]["lastStatus"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        role = server.client("iam", account=ACCOUNT).create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        lam = server.client("lambda", account=ACCOUNT)
        lam.create_function(FunctionName="f", Runtime="python3.12", Role=role["Role"]["Arn"], Handler="app.handler",
                            Code={"ZipFile": buffer.getvalue()})
        assert lam.invoke(FunctionName="f")["StatusCode"] == 200
        children = psutil.Process(server.pid).children(recursive=True)
        assert len(children) >= 2  # the task's process and the function's worker (git or others may add more)
    finally:
        server.stop()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    assert port_is_free("127.0.0.1", server.settings.port)
