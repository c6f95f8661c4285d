"""CodeDeploy beside the runtime steps it drives: an ECS blue/green deployment (ECSAllAtOnce, no
hooks) beside the same task-set, health and listener changes made directly; and how fast
production traffic is back on the original after an alarm fires."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.compute import Endpoint
from bench.core import Figure, Options
from bench.measure import summary
from bench.servers import healthy_labstack
from tests.support.bluegreen import BlueGreen
from tests.support.waiting import wait_for

ACCOUNT = "191919191919"


def _deployment_seconds(bg: BlueGreen) -> float:
    started = time.perf_counter()
    deployment = bg.deploy("v2" if bg.serving(requests=1) == {"v1"} else "v1")
    info = wait_for(lambda: (d := bg.deployment(deployment))["status"] in ("Succeeded", "Failed", "Stopped") and d)
    if info["status"] != "Succeeded":
        raise RuntimeError(f"the deployment ended {info['status']}: {info.get('errorInformation')}")
    seconds = time.perf_counter() - started
    bg.settle()
    return seconds


def _direct_seconds(bg: BlueGreen) -> float:
    """The same work without CodeDeploy: a task set, its targets healthy, the listener moved, the old set gone."""
    sets = bg.task_sets()
    (old,) = sets
    serving = old["loadBalancers"][0]["targetGroupArn"]
    other = next(g["TargetGroupArn"] for g in (bg.blue, bg.green) if g["TargetGroupArn"] != serving)
    version = "v2" if old["taskDefinition"] == bg.versions["v1"] else "v1"
    before = {(h["Target"]["Id"], h["Target"]["Port"]) for h in bg.elb.describe_target_health(TargetGroupArn=other)["TargetHealthDescriptions"]}
    started = time.perf_counter()
    new = bg.ecs.create_task_set(cluster=bg.name, service=bg.name, taskDefinition=bg.versions[version], launchType="FARGATE",
                                 networkConfiguration=bg.network, loadBalancers=[{"targetGroupArn": other, "containerName": "web",
                                                                                  "containerPort": 8080}])["taskSet"]
    bg.ecs.update_task_set(cluster=bg.name, service=bg.name, taskSet=new["taskSetArn"], scale={"value": 100.0, "unit": "PERCENT"})
    wait_for(lambda: any(h["TargetHealth"]["State"] == "healthy" and (h["Target"]["Id"], h["Target"]["Port"]) not in before
                       for h in bg.elb.describe_target_health(TargetGroupArn=other)["TargetHealthDescriptions"]))
    for listener in (bg.test, bg.prod):
        bg.elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": other}])
    wait_for(lambda: bg.serving(requests=1) == {version})
    bg.ecs.update_service_primary_task_set(cluster=bg.name, service=bg.name, primaryTaskSet=new["taskSetArn"])
    bg.ecs.delete_task_set(cluster=bg.name, service=bg.name, taskSet=old["taskSetArn"])
    seconds = time.perf_counter() - started
    bg.settle()
    return seconds


def _rollback_seconds(bg: BlueGreen, metric: str) -> float:
    """From an alarm turning ALARM during a canary (on real metric data) to every production
    request answered by the original."""
    bg.cw.put_metric_alarm(AlarmName="bench-alarm", Namespace="Bench", MetricName=metric, Statistic="Sum", Period=60,
                           EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                           TreatMissingData="notBreaching")
    bg.group("CodeDeployDefault.ECSCanary10Percent15Minutes", alarms=["bench-alarm"])
    original = bg.serving(requests=5)
    deployment = bg.deploy("v2" if original == {"v1"} else "v1")
    wait_for(lambda: len(bg.weights()) == 2)
    bg.cw.put_metric_data(Namespace="Bench", MetricData=[{"MetricName": metric, "Value": 10}])
    wait_for(lambda: bg.cw.describe_alarms(AlarmNames=["bench-alarm"])["MetricAlarms"][0]["StateValue"] == "ALARM")
    started = time.perf_counter()
    wait_for(lambda: bg.serving(requests=50) == original)
    seconds = time.perf_counter() - started
    info = wait_for(lambda: (d := bg.deployment(deployment))["status"] in ("Stopped", "Failed", "Succeeded") and d)
    if info["status"] != "Stopped":
        raise RuntimeError(f"the alarm did not stop the deployment: {info['status']}")
    bg.cw.delete_alarms(AlarmNames=["bench-alarm"])
    bg.settle()
    return seconds


def _listener_switch_seconds(bg: BlueGreen) -> float:
    """The reference: during a canary, one ModifyListener sending everything back to the original,
    until every production request lands there; then the deployment is stopped."""
    bg.group("CodeDeployDefault.ECSCanary10Percent15Minutes")
    original = bg.serving(requests=5)
    deployment = bg.deploy("v2" if original == {"v1"} else "v1")
    wait_for(lambda: len(bg.weights()) == 2)
    name = max(bg.weights().items(), key=lambda item: item[1])[0]
    group = next(g["TargetGroupArn"] for g in (bg.blue, bg.green) if g["TargetGroupName"] == name)
    started = time.perf_counter()
    bg.elb.modify_listener(ListenerArn=bg.prod, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    wait_for(lambda: bg.serving(requests=50) == original)
    seconds = time.perf_counter() - started
    bg.cd.stop_deployment(deploymentId=deployment, autoRollbackEnabled=True)
    wait_for(lambda: bg.deployment(deployment)["status"] == "Stopped")
    bg.settle()
    return seconds


def _canary(bg: BlueGreen) -> tuple[float, float, int]:
    """The course's canary (10 % for 5 minutes, then a 5-minute termination wait): seconds from
    create to Succeeded, the new version's share of production requests during the canary, and
    how many requests that share is of."""
    bg.group("CodeDeployDefault.ECSCanary10Percent5Minutes", termination_minutes=5)
    original = bg.serving(requests=5)
    new = "v2" if original == {"v1"} else "v1"
    started = time.perf_counter()
    deployment = bg.deploy(new)
    wait_for(lambda: len(bg.weights()) == 2)
    answers = []
    while len(bg.weights()) == 2:
        answers += list(bg.serving(requests=1))
    wait_for(lambda: bg.deployment(deployment)["status"] == "Succeeded", seconds=60)
    seconds = time.perf_counter() - started
    bg.settle()
    return seconds, answers.count(new) / len(answers), len(answers)


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """One labstack: blue/green deployments and direct replays, then alarm rollbacks."""
    deployments, direct, rollbacks, switches = [], [], [], []
    with healthy_labstack() as server, tempfile.TemporaryDirectory() as folder:
        bg = BlueGreen(Endpoint(server), ACCOUNT, Path(folder), name="bench")  # type: ignore[arg-type]
        bg.group()
        runs = max(3, min(options.repeat, 5))
        for _ in range(runs):
            deployments.append(_deployment_seconds(bg))
            direct.append(_direct_seconds(bg))
        progress("CodeDeploy ECS blue/green")
        for round_ in range(runs):
            rollbacks.append(_rollback_seconds(bg, f"Errors{round_}"))
            switches.append(_listener_switch_seconds(bg))
        progress("CodeDeploy alarm rollback")
        canary_s, share, requests = _canary(bg)
        progress("CodeDeploy canary")
    deploy = Figure("codedeploy_ecs_all_at_once_s", f"CodeDeploy ECS blue/green, ECSAllAtOnce, no hooks: create to "
                    f"Succeeded, median of {runs} (reference: the same steps made directly)", "s",
                    summary(deployments)["p50"], summary(direct)["p50"], target="labstack <= 5 s",
                    detail={"reference": "task set + healthy targets + listener change + old set deleted, by hand",
                            "runs_s": deployments, "reference_runs_s": direct})
    deploy.met = deploy.labstack <= 5
    rollback = Figure("codedeploy_alarm_rollback_s", f"alarm in ALARM to production traffic back on the original, median "
                      f"of {runs} (reference: one ModifyListener doing the same by hand)", "s", summary(rollbacks)["p50"],
                      summary(switches)["p50"], target="labstack <= 3 s",
                      detail={"reference": "ModifyListener until every request lands on the original",
                              "runs_s": rollbacks, "reference_runs_s": switches})
    rollback.met = rollback.labstack <= 3
    scale = 60.0  # the benchmark's labstack runs at the default time scale
    canary = Figure("codedeploy_ecs_canary_s", f"ECSCanary10Percent5Minutes + 5-minute termination wait, create to "
                    f"Succeeded; new version's share {share:.1%} of {requests} requests in the canary "
                    "(reference: the 10 lab minutes of waits at the default scale)", "s", canary_s, 10 * 60 / scale,
                    target="about 10 s; share 10 % +- 5 with >= 200 requests",
                    detail={"share": share, "requests": requests})
    canary.met = canary_s <= 15 and abs(share - 0.10) <= 0.05 and requests >= 200
    return [deploy, rollback, canary]
