"""CodeDeploy acts as the deployment group's service role: every call it makes for a deployment (ECS,
the load balancer, hook functions, S3, alarms, SNS) is decided by that role's policies, and a denial fails
the deployment with the AccessDenied sentence in its errorInformation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.bluegreen import BlueGreen
from tests.support.roles import service_role, trust
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

ACCOUNT = "202020202020"
MANAGED = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"


def ecs_role_policy(iam: Any, without: str = "", **extra: list[str]) -> dict[str, Any]:
    """AWSCodeDeployRoleForECS as moto ships it, ``without`` one action; ``extra`` adds actions on
    resources (``{"arn:...": ["lambda:InvokeFunction"]}`` style, keyed by resource)."""
    version = iam.get_policy(PolicyArn=MANAGED)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=MANAGED, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != without]
    document["Statement"] += [{"Effect": "Allow", "Action": actions, "Resource": resource}
                              for resource, actions in extra.items()]
    return document


def restricted(iam: Any, name: str, policy: dict[str, Any]) -> str:
    """A CodeDeploy service role with only ``policy``."""
    return service_role(iam, name, "codedeploy.amazonaws.com", policy=policy)


@pytest.fixture(scope="module")
def bg(labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> BlueGreen:
    return BlueGreen(labstack, ACCOUNT, tmp_path_factory.mktemp("iam-bg"), name="iamcd")


def session_of(role_arn: str) -> str:
    """The start of CodeDeploy's session ARN of ``role_arn`` (the session is named for the deployment)."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rsplit('/', 1)[1]}/codedeploy-d-"


@pytest.mark.slow
def test_the_labs_managed_policy_is_enough_for_a_deployment_with_hooks_triggers_and_alarms(bg: BlueGreen) -> None:
    """The labs attach AWSCodeDeployRoleForECS: everything CodeDeploy does with the role is in it."""
    role = service_role(bg.iam, "iamcd-managed", "codedeploy.amazonaws.com", policy=None)
    bg.iam.attach_role_policy(RoleName="iamcd-managed", PolicyArn=MANAGED)
    hook = bg.hook_function("iamcd-smoke")
    sns = bg.labstack.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name="iamcd-deploys")["TopicArn"]
    queue = bg.labstack.client("sqs", account=ACCOUNT)
    inbox = queue.create_queue(QueueName="iamcd-deploys")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.get_queue_attributes(
        QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    bg.cw.put_metric_alarm(AlarmName="iamcd-errors", Namespace="Shop", MetricName="Errors", Statistic="Sum", Period=60,
                           EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                           TreatMissingData="notBreaching")
    bg.group(role=role, alarms=["iamcd-errors"], triggerConfigurations=[{
        "triggerName": "all", "triggerTargetArn": topic, "triggerEvents": ["DeploymentStart", "DeploymentSuccess"]}])
    info = bg.finish(bg.deploy("v2", hooks={"AfterAllowTestTraffic": hook}))
    assert info["status"] == "Succeeded", info.get("errorInformation")
    assert bg.serving() == {"v2"}
    published = wait_for(lambda: queue.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages"))
    messages = [json.loads(json.loads(m["Body"])["Message"]) for m in published]  # sns:Publish as the role
    assert {(m["eventTriggerName"], m["deploymentId"]) for m in messages} == {("all", info["deploymentId"])}
    bg.settle()


@pytest.mark.slow
def test_a_role_without_create_task_set_fails_the_deployment_and_rolls_back(bg: BlueGreen) -> None:
    role = restricted(bg.iam, "iamcd-no-taskset", ecs_role_policy(bg.iam, without="ecs:CreateTaskSet"))
    bg.group(role=role)
    before = bg.serving()
    info = bg.finish(bg.deploy("v3"))
    assert info["status"] == "Failed"
    error = info["errorInformation"]
    assert error["code"] == "IAM_ROLE_PERMISSIONS"
    assert session_of(role) in error["message"]
    assert "is not authorized to perform: ecs:CreateTaskSet on resource: " in error["message"]
    assert "because no identity-based policy allows the ecs:CreateTaskSet action" in error["message"]
    # Auto-rollback (DEPLOYMENT_FAILURE) ran as the same role: the listeners it may modify are back.
    rollback = bg.deployment(info["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["status"] == "Succeeded" and rollback["creator"] == "codeDeployRollback"
    assert len(bg.task_sets()) == 1 and bg.serving() == before
    target = bg.target(info["deploymentId"])
    install = next(e for e in target["lifecycleEvents"] if e["lifecycleEventName"] == "Install")
    assert install["status"] == "Failed"


@pytest.mark.slow
def test_a_hook_the_role_may_not_invoke_fails_the_deployment_until_it_is_granted(bg: BlueGreen) -> None:
    """The labs' break-and-fix: the smoke-test hook needs lambda:InvokeFunction on that function."""
    hook = bg.hook_function("iamcd-smoke-test")
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{hook}"
    role = restricted(bg.iam, "iamcd-no-invoke", ecs_role_policy(bg.iam, without="lambda:InvokeFunction"))
    bg.group(role=role)
    info = bg.finish(bg.deploy("v2", hooks={"AfterAllowTestTraffic": hook}))
    assert info["status"] == "Failed"
    error = info["errorInformation"]
    assert error["code"] == "IAM_ROLE_PERMISSIONS", error
    assert f"is not authorized to perform: lambda:InvokeFunction on resource: {function_arn}" in error["message"]
    events = {e["lifecycleEventName"]: e for e in bg.target(info["deploymentId"])["lifecycleEvents"]}
    assert events["AfterAllowTestTraffic"]["status"] == "Failed"
    assert "lambda:InvokeFunction" in events["AfterAllowTestTraffic"]["diagnostics"]["message"]
    bg.settle()
    # The learner grants exactly that permission; the next deployment goes through.
    fixed = ecs_role_policy(bg.iam, without="lambda:InvokeFunction", **{function_arn: ["lambda:InvokeFunction"]})
    bg.iam.put_role_policy(RoleName="iamcd-no-invoke", PolicyName="test", PolicyDocument=json.dumps(fixed))
    again = bg.finish(bg.deploy("v1", hooks={"AfterAllowTestTraffic": hook}))
    assert again["status"] == "Succeeded", again.get("errorInformation")
    assert bg.serving() == {"v1"}
    bg.settle()


def test_create_deployment_group_refuses_a_role_codedeploy_cannot_assume(labstack: LabstackProcess) -> None:
    iam = labstack.client("iam", account=ACCOUNT)
    cd = labstack.client("codedeploy", account=ACCOUNT)
    cd.create_application(applicationName="iamcd-servers", computePlatform="Server")
    lambda_only = service_role(iam, "iamcd-lambda-only", "lambda.amazonaws.com")
    # Confused-deputy guard: the trust allows CodeDeploy only for another deployment group.
    guarded_trust = trust("codedeploy.amazonaws.com")
    guarded_trust["Statement"][0]["Condition"] = {"ArnLike": {"aws:SourceArn": (
        f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentgroup:iamcd-servers/fleet")}}
    guarded = iam.create_role(RoleName="iamcd-guarded", AssumeRolePolicyDocument=json.dumps(guarded_trust))["Role"]["Arn"]
    for role in (lambda_only, guarded):
        with pytest.raises(ClientError) as caught:
            cd.create_deployment_group(applicationName="iamcd-servers", deploymentGroupName="other", serviceRoleArn=role)
        assert caught.value.response["Error"]["Code"] == "InvalidRoleException"
        assert caught.value.response["Error"]["Message"].startswith(
            f"AWS CodeDeploy does not have the permissions required to assume the role {role}")
    assert "other" not in cd.list_deployment_groups(applicationName="iamcd-servers")["deploymentGroups"]
    cd.create_deployment_group(applicationName="iamcd-servers", deploymentGroupName="fleet", serviceRoleArn=guarded)


@pytest.mark.slow
def test_a_role_deleted_mid_deployment_fails_it_and_the_rollback_says_so(labstack: LabstackProcess,
                                                                          bg: BlueGreen) -> None:
    role = restricted(bg.iam, "iamcd-doomed", ecs_role_policy(bg.iam))
    bg.group(role=role, ready={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60})
    before = bg.serving()
    deployment = bg.deploy("v2")
    wait_for(lambda: bg.deployment(deployment)["status"] == "Ready", seconds=60)
    bg.iam.delete_role_policy(RoleName="iamcd-doomed", PolicyName="test")
    bg.iam.delete_role(RoleName="iamcd-doomed")
    bg.cd.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    info = bg.finish(deployment)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "IAM_ROLE_MISSING"
    assert "was deleted while the deployment was in progress" in info["errorInformation"]["message"]
    assert "elasticloadbalancing:ModifyListener" in info["errorInformation"]["message"]
    rollback = bg.deployment(info["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["status"] == "Failed" and rollback["errorInformation"]["code"] == "IAM_ROLE_MISSING"
    assert rollback["errorInformation"]["message"].startswith("The rollback could not restore the original")
    # labstack is up and CodeDeploy answers; production traffic never moved.
    assert bg.cd.get_deployment(deploymentId=deployment)["deploymentInfo"]["deploymentId"] == deployment
    assert bg.serving() == before



@pytest.mark.slow
def test_report_mode_lets_the_denied_deployment_through_and_logs_it(iam_report_labstack: LabstackProcess,
                                                                      tmp_path: Path) -> None:
    bg = BlueGreen(iam_report_labstack, ACCOUNT, tmp_path, name="report")
    role = restricted(bg.iam, "report-no-taskset", ecs_role_policy(bg.iam, without="ecs:CreateTaskSet"))
    bg.group(role=role)
    info = bg.finish(bg.deploy("v2"))
    assert info["status"] == "Succeeded", info.get("errorInformation")
    log = Path(iam_report_labstack.settings.log_file).read_text()
    assert "LABSTACK_IAM=report let through" in log
    assert f"{session_of(role)}" in log and "is not authorized to perform: ecs:CreateTaskSet" in log
