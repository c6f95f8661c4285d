"""EventBridge events of a pipeline: ``CodePipeline Pipeline Execution State Change``, and the
Stage and Action ones, sent to the account's default bus as CodePipeline sends them."""

from __future__ import annotations

import json
import logging
from typing import Any

from labstack.services.codepipeline.model import Execution

log = logging.getLogger("labstack.codepipeline")


def _send(events: Any, arn: str, detail_type: str, detail: dict) -> None:
    entry = {"Source": "aws.codepipeline", "DetailType": detail_type, "Resources": [arn], "Detail": json.dumps(detail)}
    try:
        events.put_events(Entries=[entry])
    except Exception:  # an event that cannot be sent must not change the execution
        log.warning("could not send %s for %s", detail_type, arn, exc_info=True)


def _base(execution: Execution, state: str) -> dict:
    trigger = execution.trigger
    return {"pipeline": execution.pipeline_name, "execution-id": execution.execution_id,
            "start-time": execution.start.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "execution-trigger": {"trigger-type": trigger["triggerType"], "trigger-detail": trigger.get("triggerDetail", "")},
            "state": state, "version": float(execution.version), "pipeline-execution-attempt": 1.0}


def state_of(status: str) -> str:
    """The event ``state`` of an execution or stage status: upper case, and Cancelled spelt as the
    events spell it (CANCELED)."""
    return "CANCELED" if status == "Cancelled" else status.upper()


def pipeline_changed(events: Any, arn: str, execution: Execution, state: str) -> None:
    """STARTED, SUCCEEDED, FAILED, STOPPING, STOPPED, SUPERSEDED, CANCELED, RESUMED."""
    _send(events, arn, "CodePipeline Pipeline Execution State Change", _base(execution, state))


def stage_changed(events: Any, arn: str, execution: Execution, stage: str, state: str) -> None:
    """STARTED, SUCCEEDED, FAILED, STOPPING, STOPPED, CANCELED, RESUMED."""
    _send(events, arn, "CodePipeline Stage Execution State Change", {**_base(execution, state), "stage": stage})


def action_changed(events: Any, arn: str, execution: Execution, stage: str, action: dict, region: str, state: str,
                   run_detail: dict | None = None) -> None:
    """STARTED, SUCCEEDED, FAILED, ABANDONED, CANCELED; the action's type and artifacts."""
    detail = {**_base(execution, state), "stage": stage, "action": action["name"], "region": action.get("region", region),
              "type": dict(action["actionTypeId"])}
    if run_detail is not None:
        detail["input-artifacts"] = [{"name": a["name"], "s3location": a.get("s3location", {})}
                                     for a in run_detail["input"]["inputArtifacts"]]
        detail["output-artifacts"] = [{"name": a["name"], "s3location": a.get("s3location", {})}
                                      for a in run_detail["output"]["outputArtifacts"]]
        result = run_detail["output"].get("executionResult")
        if result:
            names = {"externalExecutionId": "external-execution-id", "externalExecutionSummary": "external-execution-summary",
                     "externalExecutionUrl": "external-execution-url"}
            detail["execution-result"] = {names[k]: v for k, v in result.items() if k in names}
            if "errorDetails" in result:
                detail["execution-result"]["error-code"] = result["errorDetails"].get("code", "")
    _send(events, arn, "CodePipeline Action Execution State Change", detail)
