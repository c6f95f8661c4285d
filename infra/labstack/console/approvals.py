"""Manual approvals as the console sees them: found in SNS notifications, checked against the
pipeline's state, answered with PutApprovalResult."""

from __future__ import annotations

import json
import re
from typing import Any

SUBJECT_PREFIX = "APPROVAL NEEDED: "
_FIELDS = {"Pipeline name": "pipelineName", "Stage name": "stageName", "Action name": "actionName"}
_TOKEN = re.compile(r"/approve/([0-9a-fA-F-]{36})\b")


def approval_in(message: dict[str, Any]) -> dict[str, str] | None:
    """The approval request (pipelineName, stageName, actionName, token) an inbox message
    carries, whether it was delivered as email or email-json; None for any other message."""
    if not message.get("subject", "").startswith(SUBJECT_PREFIX):
        return None
    body = message.get("body", "")
    if message.get("protocol") == "email-json":
        try:
            found = json.loads(json.loads(body)["Message"])["approval"]
        except (ValueError, KeyError, TypeError):
            return None
        keys = ("pipelineName", "stageName", "actionName", "token")
        return {k: found[k] for k in keys} if all(isinstance(found.get(k), str) for k in keys) else None
    approval: dict[str, str] = {}
    for line in body.splitlines():
        label, _, value = line.partition(": ")
        if label in _FIELDS:
            approval[_FIELDS[label]] = value.strip()
    token = _TOKEN.search(body)
    if token is None or len(approval) != len(_FIELDS):
        return None
    approval["token"] = token.group(1)
    return approval


def pending_tokens(codepipeline: Any, pipeline: str) -> set[str]:
    """Tokens of the approvals of ``pipeline`` still waiting for an answer."""
    state = codepipeline.get_pipeline_state(name=pipeline)
    return {action["latestExecution"]["token"] for stage in state["stageStates"] for action in stage["actionStates"]
            if action.get("latestExecution", {}).get("status") == "InProgress" and action["latestExecution"].get("token")}


def answer(codepipeline: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Approve or reject one approval action; ``request`` names it and carries ``status``
    (Approved or Rejected) and an optional ``summary``."""
    status = request.get("status")
    if status not in ("Approved", "Rejected"):
        raise ValueError("status must be Approved or Rejected")
    names = {k: request.get(k) for k in ("pipelineName", "stageName", "actionName", "token")}
    missing = [k for k, v in names.items() if not isinstance(v, str) or not v]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    summary = request.get("summary") or f"{status} in the labstack console"
    answered = codepipeline.put_approval_result(result={"summary": str(summary)[:512], "status": status}, **names)
    return {"status": status, "approvedAt": answered.get("approvedAt")}
