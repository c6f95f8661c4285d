"""The records CodePipeline keeps: pipelines with their versions and transitions, executions,
stage and action executions. Each knows how to show itself in the API's shapes."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from labstack.clock import now

UTC = dt.timezone.utc



def new_id() -> str:
    """A fresh id, as AWS writes execution ids and tokens (a UUID)."""
    return str(uuid.uuid4())


@dataclass
class StepRun:
    """What an action execution and a rule execution share: where it ran, when, and how it ended."""

    execution_id: str
    pipeline_version: int
    stage: str
    declaration: dict
    start: dt.datetime = field(default_factory=now)
    last_update: dt.datetime = field(default_factory=now)
    status: str = "InProgress"
    summary: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    error: dict | None = None
    resolved: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.declaration["name"]


@dataclass
class ActionRun(StepRun):
    """One execution of one action (what ListActionExecutions lists)."""

    action_execution_id: str = field(default_factory=new_id)
    token: str | None = None
    percent: int | None = None
    updated_by: str | None = None
    input_artifacts: list[dict] = field(default_factory=list)
    output_artifacts: list[dict] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)
    approval: dict | None = None
    answered: threading.Event = field(default_factory=threading.Event)

    def detail(self, region: str) -> dict:
        """The ``ActionExecutionDetail`` shape."""
        decl = self.declaration
        given: dict[str, Any] = {
            "actionTypeId": dict(decl["actionTypeId"]),
            "configuration": dict(decl.get("configuration", {})),
            "resolvedConfiguration": dict(self.resolved),
            "region": decl.get("region", region),
            "inputArtifacts": [dict(a) for a in self.input_artifacts],
        }
        if decl.get("roleArn"):
            given["roleArn"] = decl["roleArn"]
        if decl.get("namespace"):
            given["namespace"] = decl["namespace"]
        result: dict[str, Any] = {}
        if self.external_id:
            result["externalExecutionId"] = self.external_id
        if self.summary:
            result["externalExecutionSummary"] = self.summary
        if self.external_url:
            result["externalExecutionUrl"] = self.external_url
        if self.error:
            result["errorDetails"] = dict(self.error)
        output: dict[str, Any] = {"outputArtifacts": [dict(a) for a in self.output_artifacts],
                                  "outputVariables": dict(self.output_variables)}
        if result:
            output["executionResult"] = result
        detail = {
            "pipelineExecutionId": self.execution_id, "actionExecutionId": self.action_execution_id,
            "pipelineVersion": self.pipeline_version, "stageName": self.stage, "actionName": self.name,
            "startTime": self.start, "lastUpdateTime": self.last_update, "status": self.status,
            "input": given, "output": output,
        }
        if self.updated_by:
            detail["updatedBy"] = self.updated_by
        return detail

    def latest(self) -> dict:
        """The ``ActionExecution`` shape (an action's latest execution in GetPipelineState)."""
        state: dict[str, Any] = {"actionExecutionId": self.action_execution_id, "status": self.status,
                                 "lastStatusChange": self.last_update}
        for key, value in (("summary", self.summary), ("token", self.token if self.status == "InProgress" else None),
                           ("lastUpdatedBy", self.updated_by), ("externalExecutionId", self.external_id),
                           ("externalExecutionUrl", self.external_url), ("percentComplete", self.percent),
                           ("errorDetails", self.error)):
            if value is not None:
                state[key] = value
        return state


@dataclass
class RuleRun(StepRun):
    """One execution of one rule of a stage condition (what ListRuleExecutions lists)."""

    rule_execution_id: str = field(default_factory=new_id)

    def detail(self, region: str) -> dict:
        """The ``RuleExecutionDetail`` shape."""
        decl = self.declaration
        given: dict[str, Any] = {"ruleTypeId": dict(decl["ruleTypeId"]), "configuration": dict(decl.get("configuration", {})),
                                 "resolvedConfiguration": dict(self.resolved), "region": decl.get("region", region),
                                 "inputArtifacts": [{"name": a["name"]} for a in decl.get("inputArtifacts", [])]}
        if decl.get("roleArn"):
            given["roleArn"] = decl["roleArn"]
        result: dict[str, Any] = {}
        for key, value in (("externalExecutionId", self.external_id), ("externalExecutionSummary", self.summary),
                           ("externalExecutionUrl", self.external_url), ("errorDetails", self.error)):
            if value is not None:
                result[key] = value
        return {"pipelineExecutionId": self.execution_id, "ruleExecutionId": self.rule_execution_id,
                "pipelineVersion": self.pipeline_version, "stageName": self.stage, "ruleName": self.name,
                "startTime": self.start, "lastUpdateTime": self.last_update, "status": self.status,
                "input": given, "output": {"executionResult": result} if result else {}}

    def latest(self) -> dict:
        """The ``RuleExecution`` shape (a rule's latest execution in GetPipelineState)."""
        state: dict[str, Any] = {"ruleExecutionId": self.rule_execution_id, "status": self.status,
                                 "lastStatusChange": self.last_update}
        for key, value in (("summary", self.summary), ("externalExecutionId", self.external_id),
                           ("externalExecutionUrl", self.external_url), ("errorDetails", self.error)):
            if value is not None:
                state[key] = value
        return state


@dataclass
class ConditionRun:
    """One evaluation of a stage's condition: ``kind`` BEFORE_ENTRY, ON_SUCCESS or ON_FAILURE."""

    execution_id: str
    stage: str
    kind: str
    status: str = "InProgress"
    summary: str | None = None
    last_update: dt.datetime = field(default_factory=now)
    rules: list[RuleRun] = field(default_factory=list)
    overridden: threading.Event = field(default_factory=threading.Event)

    def execution(self) -> dict:
        """The ``ConditionExecution`` shape (``StageConditionsExecution`` is its part without the time)."""
        shown: dict[str, Any] = {"status": self.status, "lastStatusChange": self.last_update}
        if self.summary:
            shown["summary"] = self.summary
        return shown


@dataclass
class Execution:
    """One pipeline execution; its thread runs the stages of ``declaration`` (its version)."""

    pipeline_name: str
    version: int
    declaration: dict
    trigger: dict
    variables: dict[str, str]
    pinned: dict[str, tuple[str, str]]
    execution_id: str = field(default_factory=new_id)
    status: str = "InProgress"
    summary: str | None = None
    start: dt.datetime = field(default_factory=now)
    last_update: dt.datetime = field(default_factory=now)
    stages: dict[str, str] = field(default_factory=dict)
    actions: list[ActionRun] = field(default_factory=list)
    artifacts: dict[str, dict] = field(default_factory=dict)
    revisions: list[dict] = field(default_factory=list)
    source_revisions: list[dict] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    waiting_at: str | None = None
    stopping: bool = False
    stop_reason: str | None = None
    cancelled: bool = False  # the pipeline was updated: running actions finish, then it ends Cancelled
    abandon: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    retry_attempts: dict[str, int] = field(default_factory=dict)
    auto_retries: dict[str, int] = field(default_factory=dict)
    execution_type: str = "STANDARD"
    rollback_target: str | None = None
    conditions: list[ConditionRun] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return self.declaration.get("executionMode", "SUPERSEDED")

    def record(self) -> dict:
        """The ``PipelineExecution`` shape."""
        execution: dict[str, Any] = {
            "pipelineName": self.pipeline_name, "pipelineVersion": self.version,
            "pipelineExecutionId": self.execution_id, "status": self.status,
            "artifactRevisions": [dict(r) for r in self.revisions],
            "trigger": dict(self.trigger), "executionMode": self.mode, "executionType": self.execution_type,
        }
        if self.summary:
            execution["statusSummary"] = self.summary
        if self.rollback_target:
            execution["rollbackMetadata"] = {"rollbackTargetPipelineExecutionId": self.rollback_target}
        if self.declaration.get("pipelineType") == "V2":
            execution["variables"] = [{"name": k, "resolvedValue": v} for k, v in self.variables.items()]
        return execution

    def summary_record(self) -> dict:
        """The ``PipelineExecutionSummary`` shape."""
        summary: dict[str, Any] = {
            "pipelineExecutionId": self.execution_id, "status": self.status, "startTime": self.start,
            "lastUpdateTime": self.last_update, "sourceRevisions": [dict(r) for r in self.source_revisions],
            "trigger": dict(self.trigger), "executionMode": self.mode, "executionType": self.execution_type,
        }
        if self.summary:
            summary["statusSummary"] = self.summary
        if self.rollback_target:
            summary["rollbackMetadata"] = {"rollbackTargetPipelineExecutionId": self.rollback_target}
        if self.stop_reason is not None:
            summary["stopTrigger"] = {"reason": self.stop_reason}
        return summary

    def retry_metadata(self, stage: str) -> dict | None:
        """The ``RetryStageMetadata`` of ``stage``, if it was retried."""
        manual, automatic = self.retry_attempts.get(stage), self.auto_retries.get(stage)
        if not manual and not automatic:
            return None
        shown: dict[str, Any] = {"latestRetryTrigger": "ManualStageRetry" if manual else "AutomatedStageRetry"}
        if manual:
            shown["manualStageRetryAttempt"] = manual
        if automatic:
            shown["autoStageRetryAttempt"] = automatic
        return shown

    def latest_run(self, stage: str, action: str) -> ActionRun | None:
        """The newest execution of ``action`` in ``stage`` within this pipeline execution."""
        for run in reversed(self.actions):
            if run.stage == stage and run.name == action:
                return run
        return None


@dataclass
class Pipeline:
    """A pipeline: its current declaration, earlier versions, transitions and executions."""

    declaration: dict
    arn: str
    created: dt.datetime = field(default_factory=now)
    updated: dt.datetime = field(default_factory=now)
    versions: dict[int, dict] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    disabled: dict[str, dict] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    occupied: dict[str, str] = field(default_factory=dict)
    latest: dict[str, Execution] = field(default_factory=dict)
    put_revisions: dict[tuple[str, str], str] = field(default_factory=dict)
    s3_seen: dict[str, str] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)
    deleted: bool = False

    @property
    def name(self) -> str:
        return self.declaration["name"]

    @property
    def version(self) -> int:
        return self.declaration["version"]

    def transition(self, stage: str) -> dict:
        """The ``TransitionState`` shape of the inbound transition of ``stage``."""
        off = self.disabled.get(stage)
        if off is None:
            return {"enabled": True}
        return {"enabled": False, **off}

    def summary(self) -> dict:
        """The ``PipelineSummary`` shape."""
        decl = self.declaration
        return {"name": decl["name"], "version": decl["version"], "pipelineType": decl.get("pipelineType", "V1"),
                "executionMode": decl.get("executionMode", "SUPERSEDED"), "created": self.created, "updated": self.updated}
