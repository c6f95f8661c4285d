"""Lambda deployments: an alias's weights move from CurrentVersion to TargetVersion, with hooks,
and go back when an alarm fires."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.bluegreen import HOOK, zipped
from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
ACCOUNT = "181818181818"
APP = "def handler(event, context):\n    return '{version}'\n"


@pytest.fixture(scope="module")
def setup(labstack: LabstackProcess) -> dict[str, Any]:
    lam = labstack.client("lambda", account=ACCOUNT)
    iam = labstack.client("iam", account=ACCOUNT)
    role = service_role(iam, "fn", "lambda.amazonaws.com", "codedeploy.amazonaws.com")
    lam.create_function(FunctionName="api", Runtime="python3.12", Role=role, Handler="hook.handler",
                        Code={"ZipFile": zipped(APP.format(version="one"))}, Publish=True)
    lam.update_function_code(FunctionName="api", ZipFile=zipped(APP.format(version="two")), Publish=True)
    lam.create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    lam.create_function(FunctionName="check", Runtime="python3.12", Role=role, Handler="hook.handler",
                        Code={"ZipFile": zipped(HOOK)}, Timeout=30)
    cd = check_responses(labstack.client("codedeploy", account=ACCOUNT))
    cd.create_application(applicationName="fn", computePlatform="Lambda")
    cw = labstack.client("cloudwatch", account=ACCOUNT)
    cw.put_metric_alarm(AlarmName="fn-errors", Namespace="Shop", MetricName="Errors", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                        TreatMissingData="notBreaching")
    return {"lam": lam, "cd": cd, "cw": cw, "role": role}


def appspec(current: str, target: str) -> str:
    return json.dumps({"version": 0.0, "Resources": [{"api": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "api", "Alias": "live", "CurrentVersion": current, "TargetVersion": target}}}],
        "Hooks": [{"BeforeAllowTraffic": "check"}, {"AfterAllowTraffic": "check"}]})


def deploy(setup: dict[str, Any], group: str, config: str, current: str, target: str, **extra: Any) -> str:
    cd = setup["cd"]
    if group not in cd.list_deployment_groups(applicationName="fn")["deploymentGroups"]:
        cd.create_deployment_group(applicationName="fn", deploymentGroupName=group, serviceRoleArn=setup["role"],
                                   deploymentConfigName=config, **extra)
    return cd.create_deployment(applicationName="fn", deploymentGroupName=group, revision={
        "revisionType": "String", "string": {"content": appspec(current, target)}})["deploymentId"]


def status(setup: dict[str, Any], deployment: str) -> dict[str, Any]:
    return setup["cd"].get_deployment(deploymentId=deployment)["deploymentInfo"]


def alias(setup: dict[str, Any]) -> dict[str, Any]:
    return setup["lam"].get_alias(FunctionName="api", Name="live")


def test_a_linear_deployment_moves_the_alias_step_by_step(setup: dict[str, Any]) -> None:
    deployment = deploy(setup, "linear", "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", "1", "2")
    seen = set()
    while status(setup, deployment)["status"] not in ("Succeeded", "Failed", "Stopped"):
        weights = (alias(setup).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        seen.add(round(weights.get("2", 0), 1))
    info = status(setup, deployment)
    assert info["status"] == "Succeeded", info.get("errorInformation")
    assert {0.1, 0.5, 0.9} <= seen
    assert alias(setup)["FunctionVersion"] == "2"
    target = setup["cd"].batch_get_deployment_targets(deploymentId=deployment, targetIds=["api:live"])["deploymentTargets"][0]
    assert target["deploymentTargetType"] == "LambdaTarget"
    events = [(e["lifecycleEventName"], e["status"]) for e in target["lambdaTarget"]["lifecycleEvents"]]
    assert events == [("BeforeAllowTraffic", "Succeeded"), ("AllowTraffic", "Succeeded"), ("AfterAllowTraffic", "Succeeded")]
    assert target["lambdaTarget"]["lambdaFunctionInfo"]["targetVersionWeight"] == 1.0


def test_an_alarm_sends_the_alias_back_to_the_current_version(setup: dict[str, Any]) -> None:
    deployment = deploy(setup, "canary", "CodeDeployDefault.LambdaCanary10Percent30Minutes", "2", "1",
                        alarmConfiguration={"enabled": True, "alarms": [{"name": "fn-errors"}]},
                        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]})
    wait_for(lambda: (alias(setup).get("RoutingConfig") or {}).get("AdditionalVersionWeights"))
    setup["cw"].put_metric_data(Namespace="Shop", MetricData=[{"MetricName": "Errors", "Value": 5}])
    info = wait_for(lambda: (d := status(setup, deployment))["status"] == "Stopped" and d)
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    wait_for(lambda: status(setup, info["rollbackInfo"]["rollbackDeploymentId"])["status"] == "Succeeded")
    now = alias(setup)
    assert now["FunctionVersion"] == "2" and not (now.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_a_wrong_current_version_is_refused(setup: dict[str, Any]) -> None:
    deployment = deploy(setup, "wrong", "CodeDeployDefault.LambdaAllAtOnce", "7", "1")
    info = wait_for(lambda: (d := status(setup, deployment))["status"] == "Failed" and d)
    assert info["errorInformation"]["code"] == "INVALID_LAMBDA_FUNCTION"
    right = deploy(setup, "wrong", "CodeDeployDefault.LambdaAllAtOnce", "2", "1")
    with pytest.raises(setup["cd"].exceptions.UnsupportedActionForDeploymentTypeException):
        setup["cd"].continue_deployment(deploymentId=right)
    assert wait_for(lambda: (d := status(setup, right))["status"] in ("Succeeded", "Failed") and d)["status"] == "Succeeded"


def test_an_alarm_that_cannot_be_read_stops_unless_poll_failures_are_ignored(setup: dict[str, Any]) -> None:
    versions = ("2", "1") if alias(setup)["FunctionVersion"] == "2" else ("1", "2")
    stopped = deploy(setup, "ghost-alarm", "CodeDeployDefault.LambdaAllAtOnce", *versions,
                     alarmConfiguration={"enabled": True, "alarms": [{"name": "no-such-alarm"}]})
    # (60 s: once, on CI's shared labstack, the second deployment had not ended after 20)
    info = wait_for(lambda: (d := status(setup, stopped))["status"] in ("Stopped", "Succeeded") and d, seconds=60)
    assert info["status"] == "Stopped" and "no-such-alarm" in info["errorInformation"]["message"]
    assert alias(setup)["FunctionVersion"] == versions[0]
    ignored = deploy(setup, "ghost-ignored", "CodeDeployDefault.LambdaAllAtOnce", *versions,
                     alarmConfiguration={"enabled": True, "ignorePollAlarmFailure": True, "alarms": [{"name": "no-such-alarm"}]})
    assert wait_for(lambda: (d := status(setup, ignored))["status"] in ("Stopped", "Succeeded") and d,
                    seconds=60)["status"] == "Succeeded"
    assert alias(setup)["FunctionVersion"] == versions[1]


def test_triggers_and_eventbridge_hear_of_each_state_change(labstack: LabstackProcess, setup: dict[str, Any]) -> None:
    sns, sqs = labstack.client("sns", account=ACCOUNT), labstack.client("sqs", account=ACCOUNT)
    events = labstack.client("events", account=ACCOUNT)
    topic = sns.create_topic(Name="deploys")["TopicArn"]
    queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("deploy-topic", "deploy-events")}
    arns = {name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for name, url in queues.items()}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arns["deploy-topic"], Attributes={"RawMessageDelivery": "true"})
    events.put_rule(Name="deploys", EventPattern=json.dumps({"source": ["aws.codedeploy"]}))
    events.put_targets(Rule="deploys", Targets=[{"Id": "q", "Arn": arns["deploy-events"]}])
    with pytest.raises(setup["cd"].exceptions.InvalidTriggerConfigException):
        deploy(setup, "bad-trigger", "CodeDeployDefault.LambdaAllAtOnce", "2", "1", triggerConfigurations=[
            {"triggerName": "t", "triggerTargetArn": topic + "-missing", "triggerEvents": ["DeploymentSuccess"]}])
    versions = ("2", "1") if alias(setup)["FunctionVersion"] == "2" else ("1", "2")
    deployment = deploy(setup, "told", "CodeDeployDefault.LambdaAllAtOnce", *versions, triggerConfigurations=[
        {"triggerName": "all", "triggerTargetArn": topic, "triggerEvents": ["DeploymentStart", "DeploymentSuccess"]}])
    wait_for(lambda: status(setup, deployment)["status"] == "Succeeded")

    def drain(name: str) -> list[dict[str, Any]]:
        found = sqs.receive_message(QueueUrl=queues[name], MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return [json.loads(m["Body"]) for m in found]

    told: list[dict[str, Any]] = []
    wait_for(lambda: told.extend(drain("deploy-topic")) or len(told) >= 2)
    assert [(m["eventTriggerName"], m["status"]) for m in told] == [("all", "InProgress"), ("all", "Succeeded")]
    assert told[1]["deploymentId"] == deployment and told[1]["deploymentOverview"]["Succeeded"] == "1"
    seen: list[dict[str, Any]] = []
    wait_for(lambda: seen.extend(drain("deploy-events")) or {"START", "SUCCESS"} <= {
        e["detail"]["state"] for e in seen if e["detail"]["deploymentId"] == deployment})
    assert {e["detail-type"] for e in seen} == {"CodeDeploy Deployment State-change Notification"}
