"""EventBridge invoking a target labstack serves (a pipeline) as the target's role, as AWS does.

A rule's target that needs a role (``RoleArn``: a pipeline needs ``codepipeline:StartPipelineExecution``)
is invoked by ``events.amazonaws.com`` with a session of that role: the role's trust policy must let
EventBridge assume it (``aws:SourceArn`` the rule's ARN) and its policies must allow the call. An
invocation that fails does not reach the target: EventBridge counts it in the rule's
``FailedInvocations`` metric and, when the target names a dead-letter queue, sends the event there with
the attributes AWS documents (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from labstack.enforcement import roles
from labstack.enforcement.asks import Ask

log = logging.getLogger("labstack.events")
SERVICE = "events.amazonaws.com"


def may_invoke(labstack: Any, region: str, target: dict[str, Any], event: dict[str, Any], rule_arn: str,
               ask: Ask) -> bool:
    """True when EventBridge, acting as the target's role, may make ``ask`` (the call that invokes the
    target); otherwise the invocation has :func:`failed` and the caller delivers nothing."""
    if labstack.gate.mode == "off":
        return True  # nothing decided (off), or the role lives in the upstream, out of the evaluator's reach
    role = target.get("RoleArn")
    if not role:
        failed(labstack, region, target, event, rule_arn, "NO_PERMISSIONS",
               f"The target {target['Arn']} has no RoleArn: EventBridge needs a role to make {ask.action}")
        return False
    try:
        session = roles.assume(labstack, SERVICE, role, f"events:{rule_arn.rpartition('/')[2]}", source_arn=rule_arn,
                               seconds=60)
    except roles.RoleRefused as exc:
        failed(labstack, region, target, event, rule_arn, "FAILED_TO_ASSUME_ROLE", str(exc))
        return False
    try:
        decision = labstack.gate.authorize(session, ask, region, f"events invokes {target['Arn']}")
    finally:
        labstack.keyring.revoke(session.access_key)
    if decision is not None and not decision.allowed:
        failed(labstack, region, target, event, rule_arn, "NO_PERMISSIONS", decision.message())
        return False
    return True


def failed(labstack: Any, region: str, target: dict[str, Any], event: dict[str, Any], rule_arn: str, code: str,
           message: str) -> None:
    """A failed invocation of ``target``: logged, counted (AWS/Events FailedInvocations of the rule) and
    sent to the target's dead-letter queue if it has one."""
    account = rule_arn.split(":")[4]
    rule = rule_arn.rpartition("/")[2]
    log.warning("EventBridge rule %s could not invoke %s: %s (%s)", rule, target["Arn"], message, code)
    metrics = ["FailedInvocations"]
    queue = (target.get("DeadLetterConfig") or {}).get("Arn")
    if queue:
        metrics.append("InvocationsSentToDLQ" if _to_queue(labstack, account, region, queue, event, {
            "RULE_ARN": rule_arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": code, "ERROR_MESSAGE": message[:1000]})
            else "InvocationsFailedToBeSentToDLQ")
    try:
        labstack.clients.get("cloudwatch", account, region).put_metric_data(Namespace="AWS/Events", MetricData=[
            {"MetricName": name, "Dimensions": [{"Name": "RuleName", "Value": rule}], "Value": 1.0, "Unit": "Count"}
            for name in metrics])
    except ClientError:
        log.warning("could not count the failed invocation of rule %s", rule, exc_info=True)


def _to_queue(labstack: Any, account: str, region: str, queue_arn: str, event: dict[str, Any],
              attributes: dict[str, str]) -> bool:
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return False
    sqs = labstack.clients.get("sqs", account, parts[3] or region)
    try:
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event, default=str), MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()})
    except ClientError:
        log.warning("could not send the failed event to the dead-letter queue %s", queue_arn, exc_info=True)
        return False
    return True
