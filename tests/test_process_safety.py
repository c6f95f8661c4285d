"""Process-wide state made safe: two labstacks in one process keep their own ELB rotations; the ECS scheduler's
writes to moto and UpdateService requests never lose each other; CodeDeploy's shutdown reaches deployments
started after a reset."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from labstack.config import Settings
from labstack.ports import free_port
from labstack.runtimes.ecs.deployments import Deployments

from tests.support.bluegreen import SILENT_HOOK, zipped
from tests.support.inprocess import client, serving
from tests.support.roles import service_role
from tests.support.server import CHECK_SHAPES
from tests.support.waiting import wait_for
from tests.support.webapp import VersionApp, fetch

ACCOUNT = "123456789012"  # the account of the in-process clients' key


def _settings(home: Path) -> Settings:
    return Settings(port=free_port(), home=home, check_shapes=CHECK_SHAPES == "1")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Any]:
    """One labstack in this process (moto's state is the process's: one at a time for the ECS scheduler)."""
    with serving(_settings(tmp_path / "home")) as labstack:
        yield labstack


# -- ELB: each labstack its own round robin ------------------------------------------------------------------


@pytest.fixture
def apps() -> Iterator[dict[str, VersionApp]]:
    started = {name: VersionApp(name) for name in ("a1", "a2", "b1", "b2")}
    yield started
    for app in started.values():
        app.stop()


def _alb(elb: Any, ec2: Any) -> tuple[dict[str, str], str]:
    """Target groups a (weight 1) and b (weight 3) behind one listener; returns (groups, listener ARN)."""
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    groups = {name: elb.create_target_group(Name=f"rr-{name}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
                                            HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
              for name in ("a", "b")}
    balancer = elb.create_load_balancer(Name="rr", Subnets=subnets, Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": groups["a"], "Weight": 1}, {"TargetGroupArn": groups["b"], "Weight": 3}]}}],
    )["Listeners"][0]["ListenerArn"]
    return groups, listener


def _url(labstack: Any, listener: str) -> str | None:
    return next((e["url"] for e in labstack.endpoints() if e["listenerArn"] == listener), None)


@pytest.mark.slow
def test_two_labstacks_in_one_process_keep_their_own_round_robin(tmp_path: Path, apps: dict[str, VersionApp]) -> None:
    """Each labstack's listener sends exactly its weights' share of its own requests (1 in 4 to the weight-1
    group) and goes round robin over each group's targets, whatever the other labstack's listener serves at
    the same time: first strictly taking turns with it, then under concurrent requests to both.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#forward-actions
    (weighted target groups) and
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#modify-routing-algorithm
    (round robin, the default routing algorithm)."""
    with serving(_settings(tmp_path / "one")) as one, serving(_settings(tmp_path / "two")) as two:
        groups, listener = _alb(client(one, "elbv2"), client(one, "ec2"))  # moto's state: the process's
        for labstack in (one, two):  # registered targets: each labstack's own
            elb = client(labstack, "elbv2")
            for name in ("a", "b"):
                elb.register_targets(TargetGroupArn=groups[name], Targets=[
                    {"Id": apps[f"{name}{i}"].host, "Port": apps[f"{name}{i}"].port} for i in (1, 2)])

        def healthy(labstack: Any) -> bool:
            elb = client(labstack, "elbv2")
            return all(h["TargetHealth"]["State"] == "healthy" for name in ("a", "b")
                       for h in elb.describe_target_health(TargetGroupArn=groups[name])["TargetHealthDescriptions"])

        wait_for(lambda: healthy(one) and healthy(two))
        urls = {"one": wait_for(lambda: _url(one, listener)), "two": wait_for(lambda: _url(two, listener))}
        assert urls["one"] != urls["two"]
        seen: dict[str, Counter[str]] = {"one": Counter(), "two": Counter()}

        def get(which: str) -> None:
            status, text = fetch(urls[which] + "/")
            assert status == 200, text
            seen[which][text.split()[0]] += 1

        for _ in range(8):  # taking turns: with one rotation for both, "one" would get every other pick
            get("one")
            get("two")
        for which in seen:
            assert seen[which] == {"a1": 1, "a2": 1, "b1": 3, "b2": 3}, (which, seen)
        with ThreadPoolExecutor(max_workers=8) as pool:  # at once: 40 more each
            list(pool.map(get, ["one", "two"] * 40))
        for which in seen:
            assert seen[which] == {"a1": 6, "a2": 6, "b1": 18, "b2": 18}, (which, seen)


# -- ECS: the scheduler's writes and UpdateService -----------------------------------------------------------


def _definitions(ecs: Any, *families: str, image: str = "public.ecr.aws/none/nothing:1") -> dict[str, str]:
    """Task definitions (never started: their services want 0 tasks, or their image does not exist)."""
    container = {"name": "app", "image": image, "essential": True, "memory": 128}
    return {family: ecs.register_task_definition(family=family, containerDefinitions=[container])["taskDefinition"]
            ["taskDefinitionArn"] for family in families}


def _service(ecs: Any, cluster: str, name: str) -> dict[str, Any]:
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]


class _Paused:
    """An ECS client whose DescribeTaskDefinition of ``family`` answers, then waits until the test lets it go."""

    def __init__(self, real: Any, family: str, reached: threading.Event, go: threading.Event) -> None:
        self._real, self._family, self._reached, self._go = real, family, reached, go

    def describe_task_definition(self, **request: Any) -> Any:
        answer = self._real.describe_task_definition(**request)
        if request.get("taskDefinition") == self._family and not self._reached.is_set():
            self._reached.set()
            assert self._go.wait(60), "the test never let the scheduler go on"
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_an_update_service_while_the_scheduler_resolves_the_task_definition_is_not_lost(lab: Any, monkeypatch) -> None:
    """The scheduler writes a task definition given as a family as its ARN (as ECS keeps it). An UpdateService
    that lands between the scheduler's reading and its write wins: the write is dropped, and the next tick
    resolves the new one. (Without the check, the scheduler wrote the old ARN over the learner's update.)"""
    ecs = client(lab, "ecs")
    ecs.create_cluster(clusterName="race")
    arns = _definitions(ecs, "first", "second")
    ecs.create_service(cluster="race", serviceName="svc", taskDefinition=arns["first"], desiredCount=0)
    reached, go = threading.Event(), threading.Event()
    real_get = lab.clients.get
    monkeypatch.setattr(lab.clients, "get", lambda service, *args, **kwargs: _Paused(
        real_get(service, *args, **kwargs), "first", reached, go) if service == "ecs" else real_get(service, *args, **kwargs))
    ecs.update_service(cluster="race", service="svc", taskDefinition="first")  # moto keeps the family as given
    assert reached.wait(30), "the scheduler never resolved the family"
    ecs.update_service(cluster="race", service="svc", taskDefinition="second")  # while the scheduler holds "first"
    go.set()
    wait_for(lambda: _service(ecs, "race", "svc")["taskDefinition"].startswith("arn:"))
    assert _service(ecs, "race", "svc")["taskDefinition"] == arns["second"]
    wait_for(lambda: _service(ecs, "race", "svc")["deployments"][0]["taskDefinition"] == arns["second"])


@pytest.mark.slow
def test_an_update_service_during_a_circuit_breaker_rollback_is_not_lost(lab: Any, monkeypatch) -> None:
    """The circuit breaker decides to roll a failing deployment back while the learner's UpdateService lands:
    both stay. The learner's task definition is the service's, and the failed deployment and the breaker's
    events are kept. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html"""
    ecs = client(lab, "ecs")
    ecs.create_cluster(clusterName="breaker")
    arns = {**_definitions(ecs, "good", "next"), **_definitions(ecs, "ghost", image=f"{ACCOUNT}.dkr.ecr.us-east-1."
                                                                                     "amazonaws.com/absent:1")}
    ecs.create_service(cluster="breaker", serviceName="svc", taskDefinition=arns["good"], desiredCount=0)
    wait_for(lambda: _service(ecs, "breaker", "svc")["deployments"][0]["rolloutState"] == "COMPLETED")
    reached, go = threading.Event(), threading.Event()
    trip = Deployments.trip

    def paused_trip(self: Deployments, *args: Any) -> str | None:
        back_to = trip(self, *args)
        if back_to is not None and not reached.is_set():
            reached.set()  # decided: roll back to "good"; not written yet
            assert go.wait(60), "the test never let the scheduler go on"
        return back_to

    monkeypatch.setattr(Deployments, "trip", paused_trip)
    ecs.update_service(cluster="breaker", service="svc", taskDefinition=arns["ghost"], desiredCount=1,
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    assert reached.wait(60), "the circuit breaker never tripped"
    ecs.update_service(cluster="breaker", service="svc", taskDefinition=arns["next"], desiredCount=0)
    go.set()
    wait_for(lambda: _service(ecs, "breaker", "svc")["deployments"][0]["taskDefinition"] == arns["next"])
    service = _service(ecs, "breaker", "svc")
    assert service["taskDefinition"] == arns["next"]
    messages = [e["message"] for e in service["events"]]
    assert any("deployment failed: tasks failed to start" in m for m in messages), messages
    assert any("rolling back to deployment" in m for m in messages), messages


STACK = json.dumps({"Resources": {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "stacked"}}}})


def test_moto_serves_an_ecs_request_only_while_no_runtime_writes(lab: Any) -> None:
    """The gateway takes the ECS lock the scheduler writes under: while it is held, an ECS call that writes
    waits, and so does a stack (which makes ECS resources in moto's process); a call that only reads does not,
    nor does a call of a service no runtime writes."""
    ecs, sqs, cfn = client(lab, "ecs"), client(lab, "sqs"), client(lab, "cloudformation")
    ecs.create_cluster(clusterName="before")
    answered: list[str] = []
    with lab.moto_writes.lock("ecs"):
        waiting = [threading.Thread(target=lambda: answered.append(ecs.create_cluster(clusterName="held")
                                                                   ["cluster"]["clusterName"])),
                   threading.Thread(target=lambda: answered.append(cfn.create_stack(StackName="stack", TemplateBody=STACK)
                                                                   ["StackId"].split("/")[1]))]
        for thread in waiting:
            thread.start()
        sqs.create_queue(QueueName="not-held")  # served meanwhile
        assert ecs.describe_clusters(clusters=["before"])["clusters"][0]["clusterName"] == "before"  # a read
        for thread in waiting:
            thread.join(1.0)
        assert all(thread.is_alive() for thread in waiting) and answered == []
    for thread in waiting:
        thread.join(30)
    assert sorted(answered) == ["held", "stack"]
    assert ecs.describe_clusters(clusters=["stacked"])["clusters"][0]["status"] == "ACTIVE"


# -- CodeDeploy: shutdown after reset ------------------------------------------------------------------------


def _hooked_deployment(lab: Any) -> str:
    """A Lambda deployment waiting on a BeforeAllowTraffic hook that never reports (an hour of lab time)."""
    lam, iam = client(lab, "lambda"), client(lab, "iam")
    role = service_role(iam, "fn", "lambda.amazonaws.com", "codedeploy.amazonaws.com")
    for name, source in (("api", "def handler(event, context):\n    return 1\n"), ("silent", SILENT_HOOK)):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="hook.handler",
                            Code={"ZipFile": zipped(source)}, Publish=True)
    lam.update_function_code(FunctionName="api", ZipFile=zipped("def handler(event, context):\n    return 2\n"),
                             Publish=True)
    lam.create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    cd = client(lab, "codedeploy")
    cd.create_application(applicationName="fn", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="fn", deploymentGroupName="g", serviceRoleArn=role,
                               deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce")
    appspec = {"version": 0.0, "Resources": [{"api": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "api", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}],
        "Hooks": [{"BeforeAllowTraffic": "silent"}]}
    deployment = cd.create_deployment(applicationName="fn", deploymentGroupName="g", revision={
        "revisionType": "String", "string": {"content": json.dumps(appspec)}})["deploymentId"]
    wait_for(lambda: cd.get_deployment(deploymentId=deployment)["deploymentInfo"]["status"] == "InProgress")
    wait_for(lambda: _workers(lab))  # the hook ran: its function's worker is warm
    return deployment


def _runner_alive(deployment: str) -> bool:
    return any(t.name == f"codedeploy-{deployment}" for t in threading.enumerate())


def _workers(lab: Any) -> list[psutil.Process]:
    """Processes this labstack started that still run (recorded in its home: labstack.orphans)."""
    folder = lab.settings.home / "children"
    pids = [int(p.name.split(".")[0]) for p in folder.glob("*.json")] if folder.exists() else []
    return [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_shutdown_after_a_reset_ends_the_deployments_started_since(lab: Any) -> None:
    """A reset ends the deployments running then; shutdown later ends those started after it too: their
    runner threads end, and no worker process of theirs is left."""
    before = _hooked_deployment(lab)
    lab.reset()
    wait_for(lambda: not _runner_alive(before))
    after = _hooked_deployment(lab)
    assert _runner_alive(after)
    workers = _workers(lab)
    lab.shutdown()
    wait_for(lambda: not _runner_alive(after))
    wait_for(lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers))
    assert _workers(lab) == []
