"""The ECS runtime: a task runs its image as a local process, with ECS's states, codes and reasons."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections import Counter
from typing import Any

import pytest

from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for
from tests.support.webimage import push_web_image

ACCOUNT = "147014701470"
REPOSITORY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web"




@pytest.fixture(scope="module")
def ecs(labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An image pushed to ECR, a cluster, and task definitions that use it."""
    push_web_image(labstack, ACCOUNT, tmp_path_factory.mktemp("web"))
    labstack.client("ssm", account=ACCOUNT).put_parameter(Name="/app/db/password", Value="s3cret", Type="SecureString")
    client = check_responses(labstack.client("ecs", account=ACCOUNT))
    client.create_cluster(clusterName="labs")
    execution = service_role(labstack.client("iam", account=ACCOUNT), "web-task-execution", "ecs-tasks.amazonaws.com")
    container = {"name": "web", "image": f"{REPOSITORY}:v1", "essential": True, "memory": 256,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                 "secrets": [{"name": "DB_PASSWORD", "valueFrom": "/app/db/password"}],
                 "logConfiguration": {"logDriver": "awslogs", "options": {
                     "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}}
    client.register_task_definition(family="web", containerDefinitions=[container], requiresCompatibilities=["FARGATE"],
                                     networkMode="awsvpc", cpu="256", memory="512", executionRoleArn=execution)
    # RUNNING for a moment (0.3 s: longer than a scheduler tick), then it crashes.
    client.register_task_definition(executionRoleArn=execution, family="crash", containerDefinitions=[
        {**container, "command": ["python", "-c", "import sys, time; time.sleep(0.3); print('bye'); sys.exit(3)"]}])
    client.register_task_definition(executionRoleArn=execution, family="ghost",
                                     containerDefinitions=[{**container, "image": f"{REPOSITORY}:missing"}])
    labstack.client("logs", account=ACCOUNT).create_log_group(logGroupName="/ecs/web")
    client.web_container = container
    client.execution_role = execution
    return client


def task_of(ecs: Any, arn: str) -> dict[str, Any]:
    return ecs.describe_tasks(cluster="labs", tasks=[arn])["tasks"][0]


def test_a_task_runs_its_image_and_answers_on_its_port(labstack: LabstackProcess, ecs: Any) -> None:
    started = ecs.run_task(cluster="labs", taskDefinition="web", startedBy="test")["tasks"][0]
    assert (started["lastStatus"], started["desiredStatus"]) == ("PROVISIONING", "RUNNING")
    running = wait_for(lambda: (t := task_of(ecs, started["taskArn"]))["lastStatus"] == "RUNNING" and t)
    binding = running["containers"][0]["networkBindings"][0]
    assert (binding["bindIP"], binding["containerPort"]) == ("127.0.0.1", 8080)
    assert running["containers"][0]["imageDigest"].startswith("sha256:")
    body = wait_for(lambda: _get(f"http://127.0.0.1:{binding['hostPort']}/"))
    assert body == "v1 s3cret True"  # image ENV, the SSM secret, WORKDIR
    assert started["taskArn"] in ecs.list_tasks(cluster="labs", startedBy="test")["taskArns"]
    status = json.loads(urllib.request.urlopen(labstack.endpoint + "/_labstack/status", timeout=10).read())
    assert status["accounts"][ACCOUNT]["tasks"] >= 1
    logs = labstack.client("logs", account=ACCOUNT)
    stream = f"web/web/{started['taskArn'].rsplit('/', 1)[1]}"
    wait_for(lambda: _logged(logs, stream, "listening on"))
    stopped = ecs.stop_task(cluster="labs", task=started["taskArn"], reason="done with it")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    final = wait_for(lambda: (t := task_of(ecs, started["taskArn"]))["lastStatus"] == "STOPPED" and t)
    assert (final["stopCode"], final["stoppedReason"]) == ("UserInitiated", "done with it")
    assert started["taskArn"] in ecs.list_tasks(cluster="labs", desiredStatus="STOPPED")["taskArns"]
    assert _get(f"http://127.0.0.1:{binding['hostPort']}/") is None  # the process is gone


def test_secrets_manager_values_reach_the_container(labstack: LabstackProcess, ecs: Any) -> None:
    secret = labstack.client("secretsmanager", account=ACCOUNT).create_secret(Name="prod/api-key", SecretString="k-123")["ARN"]
    ecs.register_task_definition(executionRoleArn=ecs.execution_role, family="secretive", containerDefinitions=[{
        **ecs.web_container, "command": ["python", "-c", "import os; print('key=' + os.environ['API_KEY'])"],
        "secrets": [{"name": "API_KEY", "valueFrom": secret}]}])
    arn = ecs.run_task(cluster="labs", taskDefinition="secretive")["tasks"][0]["taskArn"]
    wait_for(lambda: task_of(ecs, arn)["lastStatus"] == "STOPPED")
    logs = labstack.client("logs", account=ACCOUNT)
    wait_for(lambda: _logged(logs, f"web/web/{arn.rsplit('/', 1)[1]}", "key=k-123"))


def test_an_essential_container_that_exits_stops_its_task(ecs: Any) -> None:
    arn = ecs.run_task(cluster="labs", taskDefinition="crash")["tasks"][0]["taskArn"]
    final = wait_for(lambda: (t := task_of(ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert (final["stopCode"], final["stoppedReason"]) == ("EssentialContainerExited", "Essential container in task exited")
    assert final["containers"][0]["exitCode"] == 3


def test_an_app_whose_port_is_taken_stops_with_its_exit_code(ecs: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ecs.register_task_definition(executionRoleArn=ecs.execution_role, family="clash", containerDefinitions=[{
            **ecs.web_container, "command": [
            "python", "-c", f"import socket; socket.socket().bind(('127.0.0.1', {port}))"]}])
        arn = ecs.run_task(cluster="labs", taskDefinition="clash")["tasks"][0]["taskArn"]
        final = wait_for(lambda: (t := task_of(ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert final["stopCode"] == "EssentialContainerExited" and final["containers"][0]["exitCode"] == 1


def test_an_image_that_is_not_in_ecr_cannot_be_pulled(ecs: Any) -> None:
    arn = ecs.run_task(cluster="labs", taskDefinition="ghost")["tasks"][0]["taskArn"]
    final = wait_for(lambda: (t := task_of(ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert final["stopCode"] == "TaskFailedToStart"
    assert final["stoppedReason"].startswith("CannotPullContainerError:")


def test_unknown_clusters_definitions_and_tasks_are_named(ecs: Any) -> None:
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.run_task(cluster="nowhere", taskDefinition="web")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.run_task(cluster="labs", taskDefinition="no-such-family")
    assert ecs.describe_tasks(cluster="labs", tasks=["0" * 32])["failures"] == [{"arn": "0" * 32, "reason": "MISSING"}]
    # Overlaid operations pass moto's refusal on as it is, not as a 500.
    with pytest.raises(ecs.exceptions.ClusterNotFoundException) as caught:
        ecs.create_service(cluster="nowhere", serviceName="web", taskDefinition="web")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def _logged(logs: Any, stream: str, text: str) -> bool:
    try:
        events = logs.get_log_events(logGroupName="/ecs/web", logStreamName=stream)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return False
    return any(text in e["message"] for e in events)


@pytest.mark.slow
def test_a_service_keeps_its_tasks_running_behind_its_target_group(labstack: LabstackProcess, ecs: Any) -> None:
    ec2 = labstack.client("ec2", account=ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    elb = labstack.client("elbv2", account=ACCOUNT)
    group = elb.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", HealthCheckPath="/",
                                    HealthCheckIntervalSeconds=5, HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    balancer = elb.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"]
    ecs.create_service(cluster="labs", serviceName="web", taskDefinition="web", desiredCount=2,
                       loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 8080}])

    def service() -> dict[str, Any]:
        return ecs.describe_services(cluster="labs", services=["web"])["services"][0]

    wait_for(lambda: service()["runningCount"] == 2)
    arns = ecs.list_tasks(cluster="labs", serviceName="web")["taskArns"]
    assert len(arns) == 2
    def healthy_targets() -> list[dict[str, Any]]:
        health = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return [h["Target"] for h in health if h["TargetHealth"]["State"] == "healthy"]

    targets = wait_for(lambda: len(healthy_targets()) == 2 and healthy_targets())
    assert {t["Id"] for t in targets} == {"127.0.0.1"} and len({t["Port"] for t in targets}) == 2
    endpoints = json.loads(urllib.request.urlopen(labstack.endpoint + "/_labstack/endpoints", timeout=10).read())["endpoints"]
    url = next(e["url"] for e in endpoints if e["listenerArn"] == listener)
    assert wait_for(lambda: _get(url + "/")) == "v1 s3cret True"
    # A task that dies is replaced by the scheduler.
    ecs.stop_task(cluster="labs", task=arns[0], reason="simulated failure")
    wait_for(lambda: arns[0] not in (now := ecs.list_tasks(cluster="labs", serviceName="web")["taskArns"]) and len(now) == 2)
    wait_for(lambda: any("steady state" in e["message"] for e in service()["events"]))  # once the tasks stay up
    # A new task definition rolls the service over: new tasks first, then the old ones go.
    v2 = ecs.register_task_definition(executionRoleArn=ecs.execution_role, family="web", containerDefinitions=[
        {**ecs.web_container, "environment": [{"name": "VERSION", "value": "v2"}]}])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="labs", service="web", taskDefinition=v2)
    wait_for(lambda: service()["deployments"][0]["rolloutState"] == "COMPLETED" and service()["runningCount"] == 2
             and all(_get(url + "/") == "v2 s3cret True" for _ in range(10)), seconds=30)
    # forceNewDeployment replaces every task with a fresh one of the same task definition.
    before = set(ecs.list_tasks(cluster="labs", serviceName="web")["taskArns"])
    ecs.update_service(cluster="labs", service="web", forceNewDeployment=True)
    wait_for(lambda: (now := set(ecs.list_tasks(cluster="labs", serviceName="web")["taskArns"])) and not now & before
             and service()["runningCount"] == 2 and service()["deployments"][0]["rolloutState"] == "COMPLETED", seconds=30)
    # Scaling in stops a task and takes it out of the target group.
    ecs.update_service(cluster="labs", service="web", desiredCount=1)
    wait_for(lambda: len(ecs.list_tasks(cluster="labs", serviceName="web")["taskArns"]) == 1 and service()["runningCount"] == 1)
    wait_for(lambda: len([h for h in elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
                          if h["TargetHealth"]["State"] != "draining"]) == 1)
    ecs.update_service(cluster="labs", service="web", desiredCount=0)
    wait_for(lambda: ecs.list_tasks(cluster="labs", serviceName="web")["taskArns"] == [])


@pytest.mark.slow
def test_task_sets_run_their_own_tasks_for_code_deploy(labstack: LabstackProcess, ecs: Any) -> None:
    """A CODE_DEPLOY service: each task set runs scale % of desiredCount, in its own target group."""
    ec2 = labstack.client("ec2", account=ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    elb = labstack.client("elbv2", account=ACCOUNT)
    blue, green = (elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
                   ["TargetGroups"][0]["TargetGroupArn"] for name in ("ts-blue", "ts-green"))
    network = {"awsvpcConfiguration": {
        "subnets": [ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]],
        "securityGroups": [ec2.create_security_group(GroupName="bg", Description="bg", VpcId=vpc)["GroupId"]]}}
    made = ecs.create_service(cluster="labs", serviceName="bg", desiredCount=2, deploymentController={"type": "CODE_DEPLOY"},
                       taskDefinition="web", networkConfiguration=network,
                       loadBalancers=[{"targetGroupArn": blue, "containerName": "web", "containerPort": 8080}])
    # As on AWS, the service's own task definition and load balancer become its PRIMARY task set,
    # already in CreateService's answer.
    (first,) = made["service"]["taskSets"]
    assert first["status"] == "PRIMARY"
    assert (first["scale"], first["loadBalancers"][0]["targetGroupArn"]) == (
        {"value": 100.0, "unit": "PERCENT"}, blue)
    second = ecs.create_task_set(cluster="labs", service="bg", taskDefinition="web", launchType="FARGATE", scale={"value": 50, "unit": "PERCENT"},
                                 networkConfiguration=network,
                                 loadBalancers=[{"targetGroupArn": green, "containerName": "web", "containerPort": 8080}])["taskSet"]

    def task_set(arn: str) -> dict[str, Any]:
        return ecs.describe_task_sets(cluster="labs", service="bg", taskSets=[arn])["taskSets"][0]

    wait_for(lambda: task_set(first["taskSetArn"]).get("runningCount") == 2 and task_set(second["taskSetArn"]).get("runningCount") == 1)
    counted = wait_for(lambda: (s := ecs.describe_services(cluster="labs", services=["bg"])["services"][0])["runningCount"] == 3 and s)
    assert counted["pendingCount"] == 0  # the service counts its task sets' tasks, as ECS does
    assert task_set(second["taskSetArn"])["computedDesiredCount"] == 1
    wait_for(lambda: len(elb.describe_target_health(TargetGroupArn=blue)["TargetHealthDescriptions"]) == 2
             and len(elb.describe_target_health(TargetGroupArn=green)["TargetHealthDescriptions"]) == 1)
    tasks = ecs.describe_tasks(cluster="labs", tasks=ecs.list_tasks(cluster="labs", serviceName="bg")["taskArns"])["tasks"]
    assert Counter(t["startedBy"] for t in tasks) == {first["id"]: 2, second["id"]: 1}
    ecs.delete_task_set(cluster="labs", service="bg", taskSet=first["taskSetArn"])
    wait_for(lambda: len(ecs.list_tasks(cluster="labs", serviceName="bg")["taskArns"]) == 1)
    wait_for(lambda: [h["TargetHealth"]["State"] for h in elb.describe_target_health(TargetGroupArn=blue)["TargetHealthDescriptions"]]
             in ([], ["draining", "draining"]))


def test_container_health_checks_set_the_health_status(ecs: Any) -> None:
    probe = "python -c \"import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/')\""
    ecs.register_task_definition(executionRoleArn=ecs.execution_role, family="checked", containerDefinitions=[{
        **ecs.web_container, "healthCheck": {
        "command": ["CMD-SHELL", probe], "interval": 5, "timeout": 2, "retries": 2}}])
    arn = ecs.run_task(cluster="labs", taskDefinition="checked")["tasks"][0]["taskArn"]
    healthy = wait_for(lambda: (t := task_of(ecs, arn))["healthStatus"] == "HEALTHY" and t)
    assert healthy["containers"][0]["healthStatus"] == "HEALTHY"
    ecs.stop_task(cluster="labs", task=arn)


@pytest.mark.slow
def test_a_service_replaces_tasks_that_fail_their_health_checks(ecs: Any) -> None:
    ecs.register_task_definition(executionRoleArn=ecs.execution_role, family="sick", containerDefinitions=[{
        **ecs.web_container, "healthCheck": {
        "command": ["CMD-SHELL", "exit 1"], "interval": 5, "timeout": 2, "retries": 2}}])
    ecs.create_service(cluster="labs", serviceName="sick", taskDefinition="sick", desiredCount=1)
    first = wait_for(lambda: ecs.list_tasks(cluster="labs", serviceName="sick")["taskArns"])[0]
    stopped = wait_for(lambda: (t := task_of(ecs, first))["lastStatus"] == "STOPPED" and t)
    assert stopped["stoppedReason"] == "Task failed container health checks"
    assert stopped["containers"][0]["healthStatus"] == "UNHEALTHY"
    wait_for(lambda: (arns := ecs.list_tasks(cluster="labs", serviceName="sick")["taskArns"]) and first not in arns)
    ecs.update_service(cluster="labs", service="sick", desiredCount=0)


@pytest.mark.slow
def test_the_circuit_breaker_rolls_a_failing_deployment_back(ecs: Any) -> None:
    """The seed's `circuitBreaker: { rollback: true }`: a version that cannot start is undone."""
    ecs.create_service(cluster="labs", serviceName="guarded", taskDefinition="web", desiredCount=1,
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                                "maximumPercent": 200, "minimumHealthyPercent": 100})

    def service() -> dict[str, Any]:
        return ecs.describe_services(cluster="labs", services=["guarded"])["services"][0]

    wait_for(lambda: service()["deployments"][0]["rolloutState"] == "COMPLETED")
    good = service()["taskDefinition"]
    assert service()["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    ecs.update_service(cluster="labs", service="guarded", taskDefinition="crash")

    def rolled_back() -> list[str]:
        now = service()
        crashing = now["deployments"][0]
        assert not (":task-definition/crash:" in crashing["taskDefinition"] and crashing["rolloutState"] == "COMPLETED"), \
            "a deployment whose tasks crash counted as completed"
        return [e["message"] for e in now["events"] if "rolling back to deployment" in e["message"]]

    events = wait_for(rolled_back, seconds=90)  # tasks that fail to start, one after another: slow on a loaded machine
    assert any("deployment failed: tasks failed to start" in e["message"] for e in service()["events"]), events
    wait_for(lambda: service()["taskDefinition"] == good and service()["deployments"][0]["rolloutState"] == "COMPLETED"
             and service()["runningCount"] == 1, seconds=60)
    ecs.update_service(cluster="labs", service="guarded", desiredCount=0)
