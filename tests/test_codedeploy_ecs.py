"""ECS blue/green deployments that really move traffic: hooks, weights, waits, alarms, rollback."""

from __future__ import annotations

import io
import math
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.bluegreen import ENDED, SILENT_HOOK, BlueGreen, appspec
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for
from tests.support.webapp import fetch

pytestmark = pytest.mark.slow
ACCOUNT = "171717171717"


@pytest.fixture(scope="module")
def bg(labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> BlueGreen:
    return BlueGreen(labstack, ACCOUNT, tmp_path_factory.mktemp("bg"))


def test_all_at_once_with_hooks_replaces_the_original_task_set(bg: BlueGreen) -> None:
    hooks = {event: bg.hook_function(f"hook-{event}") for event in (
        "BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")}
    bg.group()
    original = bg.task_sets()[0]
    deployment = bg.deploy("v2", hooks=hooks)
    info = bg.finish(deployment)
    assert info["status"] == "Succeeded", info.get("errorInformation")
    assert info["deploymentOverview"]["Succeeded"] == 1 and info["instanceTerminationWaitTimeStarted"] is True
    target = bg.target(deployment)
    events = {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}
    assert list(events) == ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
                            "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
    assert all(e["status"] == "Succeeded" and e["startTime"] <= e["endTime"] for e in events.values())
    assert target["targetId"] == f"{bg.name}:{bg.name}" and target["status"] == "Succeeded"
    green = next(ts for ts in target["taskSetsInfo"] if ts["taskSetLabel"] == "Green")
    assert (green["trafficWeight"], green["targetGroup"]["name"]) == (100.0, bg.green["TargetGroupName"])
    assert bg.weights() == {bg.green["TargetGroupName"]: 100} == bg.weights(bg.test)
    assert bg.serving() == {"v2"} and bg.serving(bg.test_url) == {"v2"}
    bg.settle()
    (now,) = bg.task_sets()
    assert now["status"] == "PRIMARY" and now["id"] != original["id"] and now["externalId"] == deployment
    group = bg.cd.get_deployment_group(applicationName=bg.name, deploymentGroupName=bg.name)["deploymentGroupInfo"]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == deployment
    # The next deployment starts from green: blue is now the replacement's target group.
    again = bg.finish(bg.deploy("v1"))
    assert again["status"] == "Succeeded" and again["previousRevision"] == info["revision"]
    assert bg.weights() == {bg.blue["TargetGroupName"]: 100} and bg.serving() == {"v1"}
    bg.settle()


def test_a_canary_sends_its_share_then_the_rest_and_waits_before_terminating(bg: BlueGreen) -> None:
    """The seed's CodeDeployDefault.ECSCanary10Percent5Minutes with a 5-minute termination wait."""
    bg.group("CodeDeployDefault.ECSCanary10Percent5Minutes", termination_minutes=5)
    started = time.monotonic()
    deployment = bg.deploy("v2")
    wait_for(lambda: len(bg.weights()) == 2, seconds=30)
    assert sorted(bg.weights().values()) == [10, 90]
    answers = Counter()
    while len(bg.weights()) == 2:
        status, body = fetch(bg.prod_url)
        answers[(status, body.split(" ")[0])] += 1
    total = sum(answers.values())
    share = answers[(200, "v2")] / total
    # How many requests fit in the canary's 5 lab minutes depends on the machine; the share is
    # judged within 4 standard deviations of a 10 % binomial (at least ±5 points).
    margin = max(0.05, 4 * math.sqrt(0.1 * 0.9 / total))
    assert total >= 100 and abs(share - 0.10) <= margin, (answers, margin)
    assert answers[(200, "v1")] + answers[(200, "v2")] == total
    wait_for(lambda: bg.deployment(deployment)["instanceTerminationWaitTimeStarted"], seconds=10)
    assert bg.serving() == {"v2"} and len(bg.task_sets()) == 2  # the original waits out its termination time
    info = bg.finish(deployment)
    elapsed = time.monotonic() - started
    assert info["status"] == "Succeeded" and 10 <= elapsed < 30
    bg.settle()


def test_an_alarm_during_the_canary_stops_the_deployment_and_rolls_traffic_back(bg: BlueGreen) -> None:
    """A faulty version (5xx) trips an error alarm; traffic goes back to the original, a rollback
    deployment appears, and the replacement task set is removed."""
    before, weights_before = bg.serving().pop(), bg.weights()
    bg.cw.put_metric_alarm(AlarmName="bg-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
                           Dimensions=[{"Name": "LoadBalancer", "Value": bg.balancer["LoadBalancerArn"].split(":loadbalancer/")[1]}],
                           Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=2, ComparisonOperator="GreaterThanThreshold",
                           TreatMissingData="notBreaching")
    bg.group("CodeDeployDefault.ECSCanary10Percent15Minutes", termination_minutes=5, alarms=["bg-5xx"])
    deployment = bg.deploy("v3")
    wait_for(lambda: len(bg.weights()) == 2, seconds=30)
    while bg.cw.describe_alarms(AlarmNames=["bg-5xx"])["MetricAlarms"][0]["StateValue"] != "ALARM":
        fetch(bg.prod_url)
    alarmed = time.monotonic()
    # Back means the listener forwards to the original again and 50 requests in a row get it (a 10 %
    # canary would show itself in 50 requests but for a 0.5 % chance).
    wait_for(lambda: bg.weights() == weights_before and bg.serving(requests=50) == {before}, seconds=10)
    restored = time.monotonic() - alarmed
    assert restored < 3, restored
    info = bg.finish(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "bg-5xx" in info["errorInformation"]["message"]
    rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
    rollback = bg.finish(rollback_id)
    assert rollback["status"] == "Succeeded" and rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment
    bg.settle()
    bg.cw.delete_alarms(AlarmNames=["bg-5xx"])


def test_bad_revisions_fail_with_aws_codes_and_leave_the_service_alone(bg: BlueGreen) -> None:
    bg.group()
    serving = bg.serving()
    for spec, code, words in (({"container": "nope"}, "ECS_UPDATE_ERROR", "does not exist"),
                              ({"port": 9999}, "ECS_UPDATE_ERROR", "container port 9999"),
                              ({"hooks": {"BeforeInstall": "no-such-function"}}, "HOOK_EXECUTION_FAILURE", "no-such-function")):
        info = bg.finish(bg.deploy("v2", **spec))
        assert info["status"] == "Failed" and info["errorInformation"]["code"] == code, info
        assert words in info["errorInformation"]["message"]
        assert bg.serving() == serving and len(bg.task_sets()) == 1
    info = bg.finish(bg.deploy(f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/ghost:1"))
    assert info["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    text = bg.cd.create_deployment(applicationName=bg.name, deploymentGroupName=bg.name, revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0\nResources: [oops"}})["deploymentId"]
    assert bg.finish(text)["errorInformation"]["code"] == "INVALID_REVISION"
    failed_hook = bg.hook_function("says-no", verdict="Failed")
    info = bg.finish(bg.deploy("v2", hooks={"AfterAllowTestTraffic": failed_hook}))
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE" and "rollbackInfo" in info
    events = {e["lifecycleEventName"]: e["status"] for e in bg.target(info["deploymentId"])["lifecycleEvents"]}
    assert events["AfterAllowTestTraffic"] == "Failed" and events["AllowTraffic"] == "Skipped"
    bg.settle()
    assert bg.serving() == serving and bg.serving(bg.test_url) == serving


def test_a_deployment_reported_ended_no_longer_holds_its_group(bg: BlueGreen) -> None:
    """The moment GetDeployment reports a deployment ended, the group takes the next one. A failed deployment's
    automatic rollback is a new deployment (a new id), and the group's last attempted deployment
    (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html,
    https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentGroupInfo.html)."""
    bg.group()
    ghost = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/ghost:1"
    deployment = bg.deploy(ghost)
    for _ in range(5):
        info = wait_for(lambda d=deployment: (i := bg.deployment(d))["status"] in ENDED and i, seconds=30, interval=0)
        rollback = info["rollbackInfo"]["rollbackDeploymentId"]
        wait_for(lambda r=rollback: bg.deployment(r)["status"] in ENDED, seconds=30, interval=0)
        deployment = bg.deploy(ghost)  # at once: nothing holds the group any more
    rollback = bg.finish(deployment)["rollbackInfo"]["rollbackDeploymentId"]
    group = bg.cd.get_deployment_group(applicationName=bg.name, deploymentGroupName=bg.name)["deploymentGroupInfo"]
    last = group["lastAttemptedDeployment"]
    assert (last["deploymentId"], last["status"]) == (rollback, "Succeeded"), (deployment, last)


def test_one_deployment_at_a_time_and_a_deleted_group_fails_the_running_one(bg: BlueGreen) -> None:
    bg.group("CodeDeployDefault.ECSCanary10Percent15Minutes")
    serving = bg.serving()
    first = bg.deploy("v2")
    with pytest.raises(ClientError) as caught:
        bg.deploy("v2")
    assert caught.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    wait_for(lambda: len(bg.weights()) == 2, seconds=30)
    bg.cd.delete_deployment_group(applicationName=bg.name, deploymentGroupName=bg.name)
    info = bg.finish(first)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "DEPLOYMENT_GROUP_MISSING"
    bg.settle()
    assert bg.serving() == serving


def test_ready_wait_and_termination_wait_continue_on_request(bg: BlueGreen) -> None:
    bg.group(termination_minutes=60, ready={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60})
    serving = bg.serving()
    new = "v1" if serving == {"v2"} else "v2"
    deployment = bg.deploy(new)
    with pytest.raises(ClientError) as caught:
        bg.cd.continue_deployment(deploymentId=deployment, deploymentWaitType="TERMINATION_WAIT")
    assert caught.value.response["Error"]["Code"] in ("InvalidDeploymentStatusException", "DeploymentIsNotInReadyStateException")
    wait_for(lambda: bg.deployment(deployment)["status"] == "Ready", seconds=30)
    assert bg.serving(bg.test_url) == {new} and bg.serving() == serving  # test traffic only
    bg.cd.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    wait_for(lambda: bg.deployment(deployment)["instanceTerminationWaitTimeStarted"], seconds=30)
    assert bg.serving() == {new} and bg.deployment(deployment)["status"] == "InProgress"
    bg.cd.continue_deployment(deploymentId=deployment, deploymentWaitType="TERMINATION_WAIT")
    assert bg.finish(deployment, seconds=10)["status"] == "Succeeded"
    bg.settle()


def test_stop_with_rollback_restores_the_original(bg: BlueGreen) -> None:
    bg.group("CodeDeployDefault.ECSLinear10PercentEvery3Minutes")
    serving = bg.serving()
    deployment = bg.deploy("v2")
    wait_for(lambda: len(bg.weights()) == 2, seconds=30)
    assert bg.cd.stop_deployment(deploymentId=deployment, autoRollbackEnabled=True)["status"] == "Pending"
    info = bg.finish(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert bg.finish(info["rollbackInfo"]["rollbackDeploymentId"])["status"] == "Succeeded"
    bg.settle()
    assert bg.serving() == serving


@pytest.fixture(scope="module")
def hour_in_a_second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack whose lab hour lasts a real second, to see a hook time out."""
    server = start_labstack(tmp_path_factory.mktemp("hourly"), LABSTACK_TIME_SCALE="3600")
    yield server
    server.stop()


def test_a_hook_that_never_reports_times_out(hour_in_a_second: LabstackProcess, tmp_path: Path) -> None:
    bg = BlueGreen(hour_in_a_second, ACCOUNT, tmp_path, name="quiet")
    bg.group()
    info = bg.finish(bg.deploy("v2", hooks={"AfterInstall": bg.hook_function("quiet", SILENT_HOOK)}))
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert "within one hour" in info["errorInformation"]["message"]
    bg.settle()
    assert bg.serving() == {"v1"}




def test_revisions_from_s3_as_yaml_or_a_zip_bundle(labstack: LabstackProcess, bg: BlueGreen) -> None:
    """An AppSpec read from S3 (a YAML object, or appspec.yml inside a zip), with its NetworkConfiguration."""
    s3 = labstack.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="bg-revisions")
    bg.group()
    subnet = bg.network["awsvpcConfiguration"]["subnets"][0]
    for key, bundle in (("appspec.yaml", "YAML"), ("bundle.zip", "zip")):
        version = "v1" if bg.serving() == {"v2"} else "v2"
        text = appspec(bg.versions[version]).replace('        PlatformVersion: "LATEST"\n', (
            '        PlatformVersion: "LATEST"\n        NetworkConfiguration:\n          AwsvpcConfiguration:\n'
            f'            Subnets: ["{subnet}"]\n            AssignPublicIp: "DISABLED"\n'))
        if bundle == "zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("appspec.yml", text)
            body = buffer.getvalue()
        else:
            body = text.encode()
        s3.put_object(Bucket="bg-revisions", Key=key, Body=body)
        revision = {"revisionType": "S3", "s3Location": {"bucket": "bg-revisions", "key": key, "bundleType": bundle}}
        deployment = bg.cd.create_deployment(applicationName=bg.name, deploymentGroupName=bg.name, revision=revision)["deploymentId"]
        info = bg.finish(deployment)
        assert info["status"] == "Succeeded", info.get("errorInformation")
        assert bg.serving() == {version}
        bg.settle()
        (task_set,) = bg.task_sets()
        assert task_set["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [subnet]
