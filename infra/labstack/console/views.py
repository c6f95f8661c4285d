"""What each console page shows, assembled from labstack's public AWS API in one account and
region (``labstack.clients``), so the console sees exactly what a learner's boto3 sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from labstack.console.approvals import approval_in, pending_tokens

RECENT = 25  # builds and deployments listed
HISTORY = 20  # pipeline executions listed
LOG_LINES = 200  # lines in a build's log tail
INBOX_VIEW = "/_labstack/inbox"


@dataclass(frozen=True)
class Where:
    """The account and region the console looks at."""

    account: str
    region: str


def _client(labstack: Any, service: str, where: Where) -> Any:
    return labstack.clients.get(service, where.account, where.region)


def _clean(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def accounts(labstack: Any, only: set[str] | None = None) -> dict[str, Any]:
    """Every account with resources (of ``only`` those, in class mode): per-service counts and running
    work, plus the listeners."""
    status = labstack.status(only)
    return {key: status[key] for key in ("accounts", "endpoints", "version", "uptime_seconds", "time_scale")}


def pipelines(labstack: Any, where: Where) -> dict[str, Any]:
    """The account's pipelines, each with its latest execution."""
    cp = _client(labstack, "codepipeline", where)
    found = [p for page in cp.get_paginator("list_pipelines").paginate() for p in page["pipelines"]]
    for pipeline in found:
        latest = cp.list_pipeline_executions(pipelineName=pipeline["name"], maxResults=1)["pipelineExecutionSummaries"]
        pipeline["latestExecution"] = latest[0] if latest else None
    return {"pipelines": sorted(found, key=lambda p: p["name"])}


def pipeline(labstack: Any, where: Where, name: str) -> dict[str, Any]:
    """One pipeline: its declaration, its live state and its recent executions."""
    cp = _client(labstack, "codepipeline", where)
    declaration = cp.get_pipeline(name=name)
    state = cp.get_pipeline_state(name=name)
    history = cp.list_pipeline_executions(pipelineName=name, maxResults=HISTORY)["pipelineExecutionSummaries"]
    return {"pipeline": declaration["pipeline"], "metadata": declaration.get("metadata", {}), "state": _clean(state),
            "executions": history}


def builds(labstack: Any, where: Where) -> dict[str, Any]:
    """The account's projects and its most recent builds."""
    cb = _client(labstack, "codebuild", where)
    projects = cb.list_projects(sortBy="NAME")["projects"]
    ids = cb.list_builds(sortOrder="DESCENDING")["ids"][:RECENT]
    found = cb.batch_get_builds(ids=ids)["builds"] if ids else []
    keys = ("id", "projectName", "buildNumber", "buildStatus", "currentPhase", "startTime", "endTime", "initiator")
    return {"projects": projects, "builds": [{k: b.get(k) for k in keys} for b in found]}


def build(labstack: Any, where: Where, build_id: str) -> dict[str, Any]:
    """One build with its phases and the tail of its CloudWatch log."""
    found = _client(labstack, "codebuild", where).batch_get_builds(ids=[build_id])
    if not found["builds"]:
        raise LookupError(f"no build {build_id} in {where.account} {where.region}")
    detail = found["builds"][0]
    logs = detail.get("logs", {})
    lines: list[str] = []
    if logs.get("groupName") and logs.get("streamName"):
        try:
            events = _client(labstack, "logs", where).get_log_events(
                logGroupName=logs["groupName"], logStreamName=logs["streamName"], limit=LOG_LINES, startFromHead=False)
            lines = [e["message"].rstrip("\n") for e in events["events"]]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    return {"build": detail, "log": lines}


def deployments(labstack: Any, where: Where) -> dict[str, Any]:
    """The account's most recent CodeDeploy deployments, newest first."""
    cd = _client(labstack, "codedeploy", where)
    ids = [d for app in cd.list_applications()["applications"]
           for d in cd.list_deployments(applicationName=app)["deployments"]]
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), 25):
        found += cd.batch_get_deployments(deploymentIds=ids[start:start + 25])["deploymentsInfo"]
    found.sort(key=lambda d: d["createTime"], reverse=True)
    keys = ("deploymentId", "applicationName", "deploymentGroupName", "deploymentConfigName", "status",
            "computePlatform", "createTime", "completeTime", "creator")
    return {"deployments": [{k: d.get(k) for k in keys} for d in found[:RECENT]]}


def deployment(labstack: Any, where: Where, deployment_id: str) -> dict[str, Any]:
    """One deployment: its info, its targets' lifecycle events and traffic (task-set or alias
    weights), and the weights its load balancer's listeners forward with right now."""
    cd = _client(labstack, "codedeploy", where)
    info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    try:
        target_ids = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "DeploymentNotStartedException":
            raise
        target_ids = []  # as on AWS, a deployment has no targets to list until it starts
    targets = cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=target_ids)["deploymentTargets"] if target_ids else []
    group = cd.get_deployment_group(applicationName=info["applicationName"],
                                    deploymentGroupName=info["deploymentGroupName"])["deploymentGroupInfo"]
    return {"deployment": info, "targets": targets, "listeners": _listener_weights(labstack, where, group)}


def _listener_weights(labstack: Any, where: Where, group: dict[str, Any]) -> list[dict[str, Any]]:
    routes = [(role, arn) for pair in group.get("loadBalancerInfo", {}).get("targetGroupPairInfoList", [])
              for role, key in (("production", "prodTrafficRoute"), ("test", "testTrafficRoute"))
              for arn in pair.get(key, {}).get("listenerArns", [])]
    if not routes:
        return []
    found = _client(labstack, "elbv2", where).describe_listeners(ListenerArns=[arn for _role, arn in routes])["Listeners"]
    by_arn = {listener["ListenerArn"]: listener for listener in found}
    shown = []
    for role, arn in routes:
        listener = by_arn.get(arn)
        if listener is not None:
            shown.append({"role": role, "listenerArn": arn, "port": listener.get("Port"),
                          "weights": _forward_weights(listener.get("DefaultActions", []))})
    return shown


def _forward_weights(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Target group name and weight for each target group a listener's forward action names."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        total = sum(g.get("Weight", 1) for g in groups) or 1
        return [{"targetGroup": g["TargetGroupArn"].split(":targetgroup/")[-1].split("/")[0],
                 "percent": round(100 * g.get("Weight", 1) / total, 1)} for g in groups]
    return []


def inbox(labstack: Any, where: Where) -> dict[str, Any]:
    """SNS email the account received, newest first; approval requests carry the approval and
    whether it still waits for an answer."""
    view = labstack.views.get(INBOX_VIEW)
    messages = view({"QUERY_STRING": urlencode({"account": where.account, "region": where.region})})["messages"] if view else []
    cp = _client(labstack, "codepipeline", where)
    waiting: dict[str, set[str]] = {}
    shown = [dict(m) for m in messages]  # copies: the inbox keeps its own
    for message in shown:
        approval = approval_in(message)
        if approval is None:
            continue
        name = approval["pipelineName"]
        if name not in waiting:
            try:
                waiting[name] = pending_tokens(cp, name)
            except ClientError:
                waiting[name] = set()  # the pipeline is gone
        message["approval"] = {**approval, "pending": approval["token"] in waiting[name]}
    return {"messages": list(reversed(shown))}
