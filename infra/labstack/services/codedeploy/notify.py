"""What a deployment tells the world when its state changes: the deployment group's triggers
(SNS messages in CodeDeploy's trigger JSON) and EventBridge's "CodeDeploy Deployment
State-change Notification"."""

from __future__ import annotations

import json
import logging
from typing import Any

from labstack.services.codedeploy.deployment import Deployment

log = logging.getLogger("labstack.codedeploy")
# Deployment status -> (trigger event, EventBridge state)
CHANGES = {"InProgress": ("DeploymentStart", "START"), "Succeeded": ("DeploymentSuccess", "SUCCESS"),
           "Failed": ("DeploymentFailure", "FAILURE"), "Stopped": ("DeploymentStop", "STOP"),
           "Ready": ("DeploymentReady", "READY")}


def _epoch(value: Any) -> str:
    return f"{value.timestamp():.3f}" if value is not None else ""


def trigger_message(d: Deployment, trigger: dict[str, Any], status: str) -> str:
    """The JSON CodeDeploy sends a deployment trigger's topic."""
    info = d.info
    message: dict[str, Any] = {
        "region": d.region, "accountId": d.account, "eventTriggerName": trigger["triggerName"],
        "applicationName": info["applicationName"], "deploymentId": d.id,
        "deploymentGroupName": info["deploymentGroupName"], "createTime": _epoch(info.get("createTime")),
        "completeTime": _epoch(info.get("completeTime")),
        "deploymentOverview": {k: str(v) for k, v in (info.get("deploymentOverview") or {}).items() if k != "Ready"},
        "status": status,
    }
    error = info.get("errorInformation")
    if error:
        message["errorInformation"] = {"ErrorCode": error["code"], "ErrorMessage": error["message"]}
    return json.dumps(message)


def announce(clients: Any, d: Deployment, event: str, status: str) -> None:
    """Publish ``event`` (DeploymentStart, DeploymentRollback…) to the triggers that ask for it, as the
    service role (sns:Publish), and the state change to EventBridge. A topic or bus that fails (or the
    role's denial) never changes the deployment."""
    for trigger in d.group.get("triggerConfigurations") or []:
        if event not in (trigger.get("triggerEvents") or []):
            continue
        if d.session is None:  # CodeDeploy publishes as the service role: without its session, nothing goes out
            log.warning("trigger %s of deployment %s: no session of the service role to publish with",
                        trigger.get("triggerName"), d.id)
            continue
        try:
            clients.as_identity("sns", d.session, d.region).publish(
                TopicArn=trigger["triggerTargetArn"], Message=trigger_message(d, trigger, status),
                Subject=f"{status}: AWS CodeDeploy {d.id} in {d.region} to {d.info['applicationName']}"[:100])
        except Exception:
            log.warning("trigger %s of deployment %s could not publish", trigger.get("triggerName"), d.id, exc_info=True)
    state = next((s for e, s in CHANGES.values() if e == event), None)
    if state is None:
        return
    detail = {"region": d.region, "deploymentId": d.id, "instanceGroupId": d.group["deploymentGroupId"],
              "deploymentGroup": d.info["deploymentGroupName"], "state": state, "application": d.info["applicationName"]}
    group_arn = f"arn:aws:codedeploy:{d.region}:{d.account}:deploymentgroup:{d.info['applicationName']}/{d.info['deploymentGroupName']}"
    try:
        clients.get("events", d.account, d.region).put_events(Entries=[{
            "Source": "aws.codedeploy", "DetailType": "CodeDeploy Deployment State-change Notification",
            "Resources": [f"arn:aws:codedeploy:{d.region}:{d.account}:application:{d.info['applicationName']}", group_arn],
            "Detail": json.dumps(detail)}])
    except Exception:
        log.warning("deployment %s: EventBridge did not take its state change", d.id, exc_info=True)
