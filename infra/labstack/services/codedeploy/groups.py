"""Deployment-group checks CodeDeploy makes when a group is created or updated."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.enforcement import roles
from labstack.errors import AwsError

ROLE_PREFIX = "arn:aws:iam::"
DEFAULT_CONFIGS = {"Server": "CodeDeployDefault.OneAtATime", "ECS": "CodeDeployDefault.ECSAllAtOnce",
                   "Lambda": "CodeDeployDefault.LambdaAllAtOnce"}


def check_role(labstack: Any, account: str, region: str, role_arn: str, group_arn: str) -> None:
    """The service role must be an IAM role that exists and that CodeDeploy may assume for the group
    (its trust policy, with aws:SourceArn the group's ARN): CodeDeploy assumes it on the spot."""
    if not role_arn.startswith(ROLE_PREFIX) or ":role/" not in role_arn:
        raise AwsError("InvalidRoleException", f"The service role ARN {role_arn} is not a valid IAM role ARN.")
    try:
        labstack.clients.get("iam", account, region).get_role(RoleName=role_arn.rsplit("/", 1)[1])
    except ClientError:
        raise AwsError("InvalidRoleException", f"AWS CodeDeploy does not have the permissions required to assume the "
                       f"role {role_arn}: the role does not exist.") from None
    try:
        session = roles.assume(labstack, "codedeploy.amazonaws.com", role_arn, "codedeploy:check", source_arn=group_arn)
    except roles.RoleRefused as exc:
        raise AwsError("InvalidRoleException", f"AWS CodeDeploy does not have the permissions required to assume the "
                       f"role {role_arn}. {exc}") from None
    labstack.keyring.revoke(session.access_key)


def check_alarms(config: dict[str, Any] | None) -> None:
    if not config:
        return
    alarms = config.get("alarms") or []
    if len(alarms) > 10:
        raise AwsError("AlarmsLimitExceededException", "The maximum number of alarms for a deployment group (10) was exceeded.")
    if config.get("enabled") and not alarms:
        raise AwsError("InvalidAlarmConfigException", "The alarm configuration is enabled but names no alarm.")
    names = [a.get("name") for a in alarms]
    if len(set(names)) != len(names) or not all(names):
        raise AwsError("InvalidAlarmConfigException", "Alarm names must be given and unique.")


def check_triggers(clients: Any, account: str, region: str, triggers: list[dict[str, Any]] | None) -> None:
    """At most 10 triggers, each with a name, events and an SNS topic that exists."""
    if not triggers:
        return
    if len(triggers) > 10:
        raise AwsError("TriggerTargetsLimitExceededException", "A deployment group can have at most 10 triggers.")
    sns = clients.get("sns", account, region)
    for trigger in triggers:
        if not trigger.get("triggerName") or not trigger.get("triggerEvents") or not trigger.get("triggerTargetArn"):
            raise AwsError("InvalidTriggerConfigException", "A trigger needs triggerName, triggerEvents and triggerTargetArn.")
        try:
            sns.get_topic_attributes(TopicArn=trigger["triggerTargetArn"])
        except ClientError:
            raise AwsError("InvalidTriggerConfigException", f"The trigger target {trigger['triggerTargetArn']} is not "
                           "an SNS topic of this account and region.") from None


def check_rollback(config: dict[str, Any] | None) -> None:
    if config and config.get("enabled") and not config.get("events"):
        raise AwsError("InvalidAutoRollbackConfigException",
                       "Automatic rollback is enabled but no event (DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM or "
                       "DEPLOYMENT_STOP_ON_REQUEST) is given.")


def check_ecs(clients: Any, account: str, region: str, group: dict[str, Any], others: list[dict[str, Any]]) -> None:
    """An ECS group: blue/green with traffic control, one CODE_DEPLOY service, one target group pair."""
    style = group.get("deploymentStyle") or {}
    if style.get("deploymentType") != "BLUE_GREEN" or style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL":
        raise AwsError("InvalidDeploymentStyleException",
                       "An ECS deployment group must use deploymentType BLUE_GREEN and deploymentOption WITH_TRAFFIC_CONTROL.")
    services = group.get("ecsServices") or []
    if len(services) != 1:
        raise AwsError("InvalidECSServiceException", "An ECS deployment group needs exactly one ECS service.")
    cluster, name = services[0].get("clusterName"), services[0].get("serviceName")
    try:
        found = clients.get("ecs", account, region).describe_services(cluster=cluster, services=[name])["services"]
    except ClientError:
        found = []
    if not found or found[0].get("status") != "ACTIVE":
        raise AwsError("InvalidECSServiceException", f"The ECS service {name} does not exist in cluster {cluster}.")
    if (found[0].get("deploymentController") or {}).get("type") != "CODE_DEPLOY":
        raise AwsError("InvalidECSServiceException",
                       f"The ECS service {name} must use the CODE_DEPLOY deployment controller.")
    for other in others:
        if any(s.get("clusterName") == cluster and s.get("serviceName") == name for s in other.get("ecsServices") or []):
            raise AwsError("ECSServiceMappingLimitExceededException", f"The ECS service {name} in cluster {cluster} "
                           f"already belongs to deployment group {other['deploymentGroupName']}.")
    if not (group.get("blueGreenDeploymentConfiguration") or {}).get("terminateBlueInstancesOnDeploymentSuccess"):
        raise AwsError("InvalidBlueGreenDeploymentConfigurationException",
                       "An ECS deployment group needs blueGreenDeploymentConfiguration with "
                       "terminateBlueInstancesOnDeploymentSuccess.")
    _check_pair(clients.get("elbv2", account, region), group)


def _check_pair(elb: Any, group: dict[str, Any]) -> None:
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if len(pairs) != 1:
        raise AwsError("InvalidTargetGroupPairException", "An ECS deployment group needs exactly one target group pair.")
    pair = pairs[0]
    names = [tg.get("name") for tg in pair.get("targetGroups") or []]
    if len(names) != 2 or len(set(names)) != 2:
        raise AwsError("InvalidTargetGroupPairException", "A target group pair needs two different target groups.")
    prod = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
    test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
    if len(prod) != 1 or len(test) > 1:
        raise AwsError("InvalidTargetGroupPairException",
                       "A target group pair needs one production listener and at most one test listener.")
    try:
        elb.describe_target_groups(Names=names)
        elb.describe_listeners(ListenerArns=prod + test)
    except ClientError as exc:
        raise AwsError("InvalidTargetGroupPairException", f"The target group pair cannot be used: "
                       f"{exc.response['Error'].get('Message', exc)}") from None


def check_style_for_platform(platform: str, group: dict[str, Any]) -> None:
    """Lambda groups are blue/green with traffic control; Server groups take what they are given."""
    if platform == "Lambda":
        style = group.get("deploymentStyle") or {}
        if style and (style.get("deploymentType"), style.get("deploymentOption")) != ("BLUE_GREEN", "WITH_TRAFFIC_CONTROL"):
            raise AwsError("InvalidDeploymentStyleException",
                           "A Lambda deployment group must use deploymentType BLUE_GREEN and deploymentOption WITH_TRAFFIC_CONTROL.")
        group["deploymentStyle"] = {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    elif platform == "Server":
        group.setdefault("deploymentStyle", {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"})
