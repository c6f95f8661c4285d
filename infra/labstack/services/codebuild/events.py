"""EventBridge events a build sends, as CodeBuild does: ``CodeBuild Build State Change``
when it starts (IN_PROGRESS) and when it ends (SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT)."""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("labstack.codebuild")


def _time(value: Any) -> str:
    return value.strftime("%b %-d, %Y %-I:%M:%S %p") if value is not None else ""


def state_change(events: Any, build: dict[str, Any]) -> None:
    """Send the state of ``build`` (a record as BatchGetBuilds shows it) to the default bus."""
    current = build["phases"][-1] if build["phases"] else {}
    context = (current.get("contexts") or [{}])[0]
    detail = {
        "build-status": build["buildStatus"],
        "project-name": build["projectName"],
        "build-id": build["arn"],
        "current-phase": build["currentPhase"],
        "current-phase-context": json.dumps([context.get("message", "")]),
        "version": "1",
        "additional-information": {
            "build-complete": build["buildComplete"],
            "build-number": build["buildNumber"],
            "initiator": build["initiator"],
            "build-start-time": _time(build["startTime"]),
            "source": build["source"],
            "source-version": build.get("resolvedSourceVersion", build.get("sourceVersion", "")),
            "artifact": build.get("artifacts", {}),
            "environment": build["environment"],
            "timeout-in-minutes": build["timeoutInMinutes"],
            "queued-timeout-in-minutes": build["queuedTimeoutInMinutes"],
            "logs": {k: v for k, v in build.get("logs", {}).items() if k in ("groupName", "streamName", "deepLink")},
            "phases": [{k: (_time(v) if k.endswith("Time") else v) for k, v in p.items()} for p in build["phases"]],
        },
    }
    entry = {"Source": "aws.codebuild", "DetailType": "CodeBuild Build State Change", "Resources": [build["arn"]],
             "Detail": json.dumps(detail, default=str)}
    try:
        events.put_events(Entries=[entry])
    except Exception:  # an event that cannot be sent must not change the build
        log.warning("could not send the state change of %s to EventBridge", build["id"], exc_info=True)
