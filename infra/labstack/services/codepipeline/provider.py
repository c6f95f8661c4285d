"""CodePipeline: pipelines (V1 and V2) whose executions run their actions for real.

The API is here; ``engine`` runs executions, ``runners`` maps action types to the code that
runs them, ``triggers`` starts pipelines on pushes and new S3 versions.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from labstack.context import RequestContext
from labstack.enforcement.asks import Ask
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
from labstack.runtimes.eventbus import targets
from labstack.runtimes.loop import every
from labstack.services.codecommit.events import Outbox
from labstack.services.codeconnections import github
from labstack.services.codepipeline import acting, action_types, conditions, links, rule_types, structure, triggers
from labstack.services.codepipeline.action_types import ActionType, type_key
from labstack.services.codepipeline.engine import Engine
from labstack.services.codepipeline.jobs import Jobs
from labstack.services.codepipeline.model import Execution, Pipeline, now
from labstack.sources import SourceChange, change_feed
from labstack.state import AccountRegionStore

log = logging.getLogger("labstack.codepipeline")
MAX_PIPELINES = 1000
MAX_TAGS = 50
PAGE = 100
SOURCE_REVISION_TYPES = {"CodeCommit": ("COMMIT_ID",), "CodeStarSourceConnection": ("COMMIT_ID",),
                         "S3": ("S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"), "ECR": ("IMAGE_DIGEST",)}


@dataclass
class RegionState:
    """Pipelines and custom action types of one account+region."""

    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    custom_types: dict[tuple[str, str, str, str], ActionType] = field(default_factory=dict)
    custom_tags: dict[tuple[str, str, str, str], dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def _not_found(ctx: RequestContext, name: str) -> AwsError:
    return AwsError("PipelineNotFoundException", f"Account '{ctx.account}' does not have a pipeline with name '{name}'")


def _stage_index(pipeline: Pipeline, stage: str) -> int:
    """Where ``stage`` is in the pipeline's current version; StageNotFoundException if absent."""
    names = [s["name"] for s in pipeline.declaration["stages"]]
    if stage not in names:
        raise AwsError("StageNotFoundException", f"Stage {stage} does not exist in pipeline {pipeline.name}")
    return names.index(stage)


def _page(items: list, token: str | None, size: int) -> tuple[list, str | None]:
    try:
        start = int(token or 0)
    except ValueError:
        raise AwsError("InvalidNextTokenException", "The next token is not valid") from None
    if token is not None and not 0 < start < len(items):  # only tokens this function handed out
        raise AwsError("InvalidNextTokenException", "The next token is not valid")
    return items[start:start + size], (str(start + size) if start + size < len(items) else None)


def _normalised(declaration: dict) -> dict:
    """The declaration as GetPipeline shows it: defaults filled in."""
    decl = copy.deepcopy(declaration)
    decl.setdefault("pipelineType", "V1")
    decl.setdefault("executionMode", "SUPERSEDED")
    for stage in decl["stages"]:
        for action in stage["actions"]:
            action.setdefault("runOrder", 1)
            action.setdefault("configuration", {})
            action.setdefault("inputArtifacts", [])
            action.setdefault("outputArtifacts", [])
    return decl


def _check_tags(tags: list[dict], existing: dict[str, str] | None = None) -> dict[str, str]:
    merged = dict(existing or {})
    for tag in tags:
        if tag["key"].lower().startswith("aws:"):
            raise AwsError("InvalidTagsException", f"Tag key {tag['key']} uses the reserved prefix aws:")
        merged[tag["key"]] = tag["value"]
    if len(merged) > MAX_TAGS:
        raise AwsError("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags")
    return merged


class CodePipelineProvider(Provider):
    """Pipelines per account+region; each execution runs in threads of its own."""

    service = "codepipeline"

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.state: AccountRegionStore[RegionState] = AccountRegionStore(RegionState)
        self.jobs = Jobs()
        self.stop = threading.Event()
        self.outbox = Outbox()
        change_feed(labstack).subscribe(self._source_changed)
        labstack.moto.event_targets.register("codepipeline", self._rule_fired)
        labstack.hooks.on_reset(self.reset)
        labstack.hooks.on_shutdown(self.shutdown)
        every(labstack, labstack.clock.real_seconds(60), self._poll_s3, "codepipeline-s3-poll", self.stop)

    # -- lifecycle ----------------------------------------------------------------------
    def _executions(self) -> list[Execution]:
        return [e for _, st in self.state.items() for p in list(st.pipelines.values()) for e in list(p.executions)]

    def _abandon_all(self) -> None:
        running = [e for e in self._executions() if not e.done.is_set()]
        for execution in running:
            execution.stopping = True
            execution.abandon.set()
        for execution in running:
            execution.done.wait(10)

    def reset(self) -> None:
        """Abandon every execution and forget every pipeline, job and action type."""
        self._abandon_all()
        self.state.reset()
        self.jobs.store.reset()

    def shutdown(self) -> None:
        """Stop polling and listening for pushes; abandon running executions."""
        self.stop.set()
        change_feed(self.labstack).unsubscribe(self._source_changed)
        self._abandon_all()
        self.outbox.close()

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (account, _region), st in self.state.items():
            counts[account] = counts.get(account, 0) + len(st.pipelines) + len(st.custom_types)
        return counts

    def activity_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for (account, _region), st in self.state.items():
            for pipeline in list(st.pipelines.values()):
                running = sum(1 for e in list(pipeline.executions) if not e.done.is_set())
                if running:
                    counts.setdefault(account, {"executions": 0})["executions"] += running
        return counts

    def _region(self, ctx: RequestContext) -> RegionState:
        return self.state.get(ctx.account, ctx.region)

    def _pipeline(self, ctx: RequestContext, name: str) -> Pipeline:
        pipeline = self._region(ctx).pipelines.get(name)
        if pipeline is None:
            raise _not_found(ctx, name)
        return pipeline

    def _find_type(self, ctx: RequestContext):  # type: ignore[no-untyped-def]
        custom = self._region(ctx).custom_types

        def find(type_id: dict) -> ActionType | None:
            key = type_key(type_id)
            return action_types.CATALOGUE.get(key) or custom.get(key)

        return find

    # -- pipelines ----------------------------------------------------------------------
    def create_pipeline(self, ctx: RequestContext, request: dict) -> dict:
        """Check the declaration, store version 1 and start the pipeline, as AWS does on creation."""
        declaration = _normalised(request["pipeline"])
        structure.check(declaration, ctx.region, self._find_type(ctx))
        acting.check_roles(self.labstack, ctx.region, ctx.arn("codepipeline", declaration["name"]), declaration)
        tags = _check_tags(request.get("tags", []))
        declaration["version"] = 1
        with self.state.lock:
            region = self._region(ctx)
            name = declaration["name"]
            if name in region.pipelines:
                raise AwsError("PipelineNameInUseException", f"A pipeline with the name '{name}' already exists in account '{ctx.account}'")
            if len(region.pipelines) >= MAX_PIPELINES:
                raise AwsError("LimitExceededException", f"An account can have at most {MAX_PIPELINES} pipelines per region")
            pipeline = Pipeline(declaration=declaration, arn=ctx.arn("codepipeline", name), tags=tags)
            pipeline.versions[1] = declaration
            self._remember_s3(ctx.account, ctx.region, pipeline)  # before the poller can see the pipeline
            region.pipelines[name] = pipeline
        self._start(ctx.account, ctx.region, pipeline, {"triggerType": "CreatePipeline", "triggerDetail": self._caller(ctx)})
        result: dict = {"pipeline": copy.deepcopy(declaration)}
        if tags:
            result["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return result

    @staticmethod
    def _caller(ctx: RequestContext) -> str:
        return f"arn:aws:iam::{ctx.account}:root"

    def update_pipeline(self, ctx: RequestContext, request: dict) -> dict:
        """A new version. Executions in progress are cancelled: their running actions finish, then
        they end Cancelled (none runs on with the old structure)."""
        declaration = _normalised(request["pipeline"])
        structure.check(declaration, ctx.region, self._find_type(ctx))
        self._pipeline(ctx, declaration["name"])  # PipelineNotFoundException before the roles are looked at
        acting.check_roles(self.labstack, ctx.region, ctx.arn("codepipeline", declaration["name"]), declaration)
        with self.state.lock:
            pipeline = self._pipeline(ctx, declaration["name"])
            with pipeline.cond:
                declaration["version"] = pipeline.version + 1
                pipeline.declaration = declaration
                pipeline.versions[declaration["version"]] = declaration
                pipeline.updated = now()
                stages = {s["name"] for s in declaration["stages"]}
                pipeline.disabled = {k: v for k, v in pipeline.disabled.items() if k in stages}
                for execution in pipeline.executions:
                    if execution.status == "InProgress":
                        execution.cancelled = True
                pipeline.cond.notify_all()
        self._remember_s3(ctx.account, ctx.region, pipeline)
        return {"pipeline": copy.deepcopy(declaration)}

    def get_pipeline(self, ctx: RequestContext, request: dict) -> dict:
        """The current declaration (or ``version``) with the pipeline's metadata."""
        pipeline = self._pipeline(ctx, request["name"])
        version = request.get("version", pipeline.version)
        declaration = pipeline.versions.get(version)
        if declaration is None:
            raise AwsError("PipelineVersionNotFoundException",
                           f"Pipeline '{pipeline.name}' does not have version {version}")
        return {"pipeline": copy.deepcopy(declaration),
                "metadata": {"pipelineArn": pipeline.arn, "created": pipeline.created, "updated": pipeline.updated}}

    def delete_pipeline(self, ctx: RequestContext, request: dict) -> dict:
        """Forget the pipeline; its running executions are abandoned. Missing pipelines are no error."""
        with self.state.lock:
            pipeline = self._region(ctx).pipelines.pop(request["name"], None)
        if pipeline is not None:
            with pipeline.cond:
                pipeline.deleted = True
                for execution in pipeline.executions:
                    if not execution.done.is_set():
                        execution.stopping = True
                        execution.abandon.set()
                pipeline.cond.notify_all()
        return {}

    def list_pipelines(self, ctx: RequestContext, request: dict) -> dict:
        items = sorted(self._region(ctx).pipelines.values(), key=lambda p: p.name)
        page, token = _page([p.summary() for p in items], request.get("nextToken"), request.get("maxResults", PAGE))
        return {"pipelines": page, "nextToken": token}

    # -- tags ---------------------------------------------------------------------------
    def _tagged(self, ctx: RequestContext, arn: str) -> dict[str, str]:
        """The tags dict of the pipeline or custom action type ``arn`` names."""
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "codepipeline":
            raise AwsError("InvalidArnException", f"The ARN {arn} is not valid")
        region = self._region(ctx)
        if parts[5] == "actiontype" and len(parts) >= 7:
            owner, category, provider, version = (parts[6].split("/") + ["", "", "", ""])[:4]
            key = (category, owner, provider, version)
            if key in region.custom_types:
                return region.custom_tags.setdefault(key, {})
        pipeline = region.pipelines.get(parts[5])
        if pipeline is None or pipeline.arn != arn:
            raise AwsError("ResourceNotFoundException", f"The resource with ARN {arn} could not be found")
        return pipeline.tags

    def tag_resource(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            tags = self._tagged(ctx, request["resourceArn"])
            merged = _check_tags(request["tags"], tags)
            tags.clear()
            tags.update(merged)
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            tags = self._tagged(ctx, request["resourceArn"])
            for key in request["tagKeys"]:
                tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, request: dict) -> dict:
        tags = self._tagged(ctx, request["resourceArn"])
        page, token = _page([{"key": k, "value": v} for k, v in tags.items()], request.get("nextToken"),
                            request.get("maxResults", PAGE))
        return {"tags": page, "nextToken": token}

    # -- action types -------------------------------------------------------------------
    def list_action_types(self, ctx: RequestContext, request: dict) -> dict:
        owner = request.get("actionOwnerFilter")
        every_type = list(action_types.BUILTIN) + list(self._region(ctx).custom_types.values())
        listed = [t.describe() for t in every_type if owner is None or t.owner == owner]
        page, token = _page(listed, request.get("nextToken"), PAGE)
        return {"actionTypes": page, "nextToken": token}

    def list_rule_types(self, ctx: RequestContext, request: dict) -> dict:
        """The rule types of stage conditions, by owner and region."""
        return {"ruleTypes": rule_types.listed(request.get("ruleOwnerFilter"), request.get("regionFilter"))}

    def create_custom_action_type(self, ctx: RequestContext, request: dict) -> dict:
        created = action_types.custom(request)
        tags = _check_tags(request.get("tags", []))
        with self.state.lock:
            region = self._region(ctx)
            if created.key in region.custom_types:
                raise AwsError("ValidationException", f"Action type {'/'.join(created.key)} already exists")
            region.custom_types[created.key] = created
            region.custom_tags[created.key] = tags
        result: dict = {"actionType": created.describe()}
        if tags:
            result["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return result

    def delete_custom_action_type(self, ctx: RequestContext, request: dict) -> dict:
        key = (request["category"], "Custom", request["provider"], request["version"])
        with self.state.lock:
            region = self._region(ctx)
            region.custom_types.pop(key, None)
            region.custom_tags.pop(key, None)
        return {}

    # -- executions ---------------------------------------------------------------------
    def _start(self, account: str, region: str, pipeline: Pipeline, trigger: dict,
               variables: dict[str, str] | None = None, pinned: dict[str, tuple[str, str]] | None = None) -> Execution:
        with pipeline.cond:
            declaration = pipeline.declaration
            resolved = {v["name"]: v["defaultValue"] for v in declaration.get("variables", []) if "defaultValue" in v}
            resolved.update(variables or {})
            execution = Execution(pipeline_name=pipeline.name, version=pipeline.version, declaration=declaration,
                                  trigger=trigger, variables=resolved, pinned=dict(pinned or {}))
            pipeline.executions.append(execution)
        Engine(self, account, region, pipeline, execution).start()
        return execution

    def start_pipeline_execution(self, ctx: RequestContext, request: dict) -> dict:
        """Start an execution with V2 variables and source revision overrides."""
        pipeline = self._pipeline(ctx, request["name"])
        region = self._region(ctx)
        token = request.get("clientRequestToken")
        if token and token in region.tokens:
            return {"pipelineExecutionId": region.tokens[token]}
        declaration = pipeline.declaration
        declared = {v["name"]: v for v in declaration.get("variables", [])}
        given = {v["name"]: v["value"] for v in request.get("variables", [])}
        if given and declaration.get("pipelineType") != "V2":
            raise AwsError("ValidationException", "Pipeline-level variables are only supported in pipelines of type V2")
        for name in given:
            if name not in declared:
                raise AwsError("ValidationException", f"Variable {name} is not declared in pipeline {pipeline.name}")
        for name, variable in declared.items():
            if name not in given and "defaultValue" not in variable:
                raise AwsError("ValidationException", f"Variable {name} has no default value; a value must be given")
        sources = {a["name"]: a for a in declaration["stages"][0]["actions"]}
        pinned: dict[str, tuple[str, str]] = {}
        for override in request.get("sourceRevisions", []):
            action = sources.get(override["actionName"])
            if action is None:
                raise AwsError("ValidationException", f"{override['actionName']} is not a source action of pipeline {pipeline.name}")
            allowed = SOURCE_REVISION_TYPES.get(action["actionTypeId"]["provider"], ())
            if override["revisionType"] not in allowed:
                raise AwsError("ValidationException", f"Revision type {override['revisionType']} does not apply to source "
                               f"action {override['actionName']} ({action['actionTypeId']['provider']})")
            pinned[override["actionName"]] = (override["revisionType"], override["revisionValue"])
        execution = self._start(ctx.account, ctx.region, pipeline,
                                {"triggerType": "StartPipelineExecution", "triggerDetail": self._caller(ctx)}, given, pinned)
        if token:
            region.tokens[token] = execution.execution_id
        return {"pipelineExecutionId": execution.execution_id}

    def _execution(self, ctx: RequestContext, pipeline: Pipeline, execution_id: str) -> Execution:
        found = next((e for e in pipeline.executions if e.execution_id == execution_id), None)
        if found is None:
            raise AwsError("PipelineExecutionNotFoundException",
                           f"Pipeline execution {execution_id} does not exist in pipeline {pipeline.name}")
        return found

    def stop_pipeline_execution(self, ctx: RequestContext, request: dict) -> dict:
        """Stop: in-progress actions finish first, or are Abandoned with ``abandon``."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        execution_id = request["pipelineExecutionId"]
        abandon = request.get("abandon", False)
        with pipeline.cond:
            execution = next((e for e in pipeline.executions if e.execution_id == execution_id), None)
            if execution is None or execution.status not in ("InProgress", "Stopping"):
                state = execution.status if execution else "not found"
                raise AwsError("PipelineExecutionNotStoppableException",
                               f"Unable to stop pipeline execution {execution_id}: it is {state}")
            if execution.stopping and not abandon:
                raise AwsError("DuplicatedStopRequestException",
                               f"Pipeline execution {execution_id} is already stopping; only a stop with abandon may follow")
            execution.stopping = True
            execution.status = "Stopping"
            execution.stop_reason = request.get("reason", "")
            execution.last_update = now()
            for stage, status in execution.stages.items():  # the engine settles them once their actions end
                if status == "InProgress":
                    execution.stages[stage] = "Stopping"
            if abandon:
                for run in execution.actions:
                    if run.status == "InProgress":
                        run.status = "Abandoned"
                        run.last_update = now()
                execution.abandon.set()
            pipeline.cond.notify_all()
        return {"pipelineExecutionId": execution_id}

    def get_pipeline_execution(self, ctx: RequestContext, request: dict) -> dict:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        with pipeline.cond:
            return {"pipelineExecution": self._execution(ctx, pipeline, request["pipelineExecutionId"]).record()}

    def list_pipeline_executions(self, ctx: RequestContext, request: dict) -> dict:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        wanted = ((request.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        with pipeline.cond:
            items = [e.summary_record() for e in sorted(pipeline.executions, key=lambda e: e.start, reverse=True)
                     if wanted is None or e.stages.get(wanted) == "Succeeded"]
        page, token = _page(items, request.get("nextToken"), request.get("maxResults", PAGE))
        return {"pipelineExecutionSummaries": page, "nextToken": token}

    def get_pipeline_state(self, ctx: RequestContext, request: dict) -> dict:
        """Per stage: transition, waiting and latest executions, and each action's latest execution."""
        pipeline = self._pipeline(ctx, request["name"])
        base, find = links.base_url(ctx.host, self.labstack.settings.endpoint), self._find_type(ctx)
        with pipeline.cond:
            runs = sorted((r for e in pipeline.executions for r in e.actions), key=lambda r: r.start)
            newest_first = sorted(pipeline.executions, key=lambda e: e.start, reverse=True)
            stages = []
            for stage in pipeline.declaration["stages"]:
                name = stage["name"]
                state: dict = {"stageName": name, "inboundTransitionState": pipeline.transition(name), "actionStates": []}
                waiting = [{"pipelineExecutionId": e.execution_id, "status": "InProgress", "type": e.execution_type}
                           for e in newest_first if e.waiting_at == name]
                if waiting:
                    state["inboundExecution"] = waiting[0]
                    state["inboundExecutions"] = waiting
                entered = pipeline.latest.get(name)
                if entered is not None and name in entered.stages:
                    state["latestExecution"] = {"pipelineExecutionId": entered.execution_id,
                                                "status": entered.stages[name], "type": entered.execution_type}
                    retried = entered.retry_metadata(name)
                    if retried:
                        state["retryStageMetadata"] = retried
                for kind, key in conditions.STATE_KEYS.items():
                    shown_conditions = conditions.state(stage, kind, entered)
                    if shown_conditions is not None:
                        state[key] = shown_conditions
                for action in stage["actions"]:
                    shown = self._action_state(name, action, runs)
                    shown["entityUrl"] = links.entity_url(base, ctx.account, ctx.region, pipeline.name, action,
                                                          find(action["actionTypeId"]))
                    state["actionStates"].append(shown)
                stages.append(state)
        return {"pipelineName": pipeline.name, "pipelineVersion": pipeline.version, "stageStates": stages,
                "created": pipeline.created, "updated": pipeline.updated}

    @staticmethod
    def _action_state(stage: str, action: dict, runs: list) -> dict:
        shown: dict = {"actionName": action["name"]}
        latest = next((r for r in reversed(runs) if r.stage == stage and r.name == action["name"]), None)
        if latest is not None:
            shown["latestExecution"] = latest.latest()
            if action["actionTypeId"]["category"] == "Source" and latest.external_id:
                shown["currentRevision"] = {"revisionId": latest.external_id, "revisionChangeId": latest.external_id,
                                            "created": latest.last_update}
                if latest.external_url:
                    shown["revisionUrl"] = latest.external_url
        return shown

    def list_action_executions(self, ctx: RequestContext, request: dict) -> dict:
        """Action executions, newest first, with inputs, resolved configuration and outputs."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        wanted = (request.get("filter") or {}).get("pipelineExecutionId")
        with pipeline.cond:
            if wanted:
                executions = [self._execution(ctx, pipeline, wanted)]
            else:
                executions = list(pipeline.executions)
            runs = sorted((r for e in executions for r in e.actions), key=lambda r: r.start, reverse=True)
            details = [r.detail(ctx.region) for r in runs]
        page, token = _page(details, request.get("nextToken"), request.get("maxResults", PAGE))
        return {"actionExecutionDetails": page, "nextToken": token}

    def list_rule_executions(self, ctx: RequestContext, request: dict) -> dict:
        """Rule executions of the pipeline's stage conditions, newest first. ``latestInPipelineExecution``
        lists those of one execution: with startTimeRange Latest only each rule's latest run there."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        wanted = request.get("filter") or {}
        latest = wanted.get("latestInPipelineExecution") or {}
        with pipeline.cond:
            executions = list(pipeline.executions)
            for execution_id in (wanted.get("pipelineExecutionId"), latest.get("pipelineExecutionId")):
                if execution_id:
                    executions = [self._execution(ctx, pipeline, execution_id)]
            runs = sorted((r for e in executions for c in e.conditions for r in c.rules), key=lambda r: r.start,
                          reverse=True)
            if latest.get("startTimeRange") == "Latest":
                seen: set[tuple[str, str]] = set()
                runs = [r for r in runs if (r.stage, r.name) not in seen and not seen.add((r.stage, r.name))]
            details = [r.detail(ctx.region) for r in runs]
        page, token = _page(details, request.get("nextToken"), request.get("maxResults", PAGE))
        return {"ruleExecutionDetails": page, "nextToken": token}

    def override_stage_condition(self, ctx: RequestContext, request: dict) -> dict:
        """End the BEFORE_ENTRY or ON_SUCCESS condition a stage is evaluating for the execution: it is
        Overridden and counts as met (its rules still running are Abandoned)."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage, kind, execution_id = request["stageName"], request["conditionType"], request["pipelineExecutionId"]
        with pipeline.cond:
            _stage_index(pipeline, stage)
            execution = next((e for e in pipeline.executions if e.execution_id == execution_id), None)
            if execution is None or pipeline.latest.get(stage) is not execution:
                raise AwsError("NotLatestPipelineExecutionException",
                               f"Pipeline execution {execution_id} is not the latest execution of stage {stage}")
            if not conditions.override(execution, stage, kind):
                raise AwsError("ConditionNotOverridableException",
                               f"Stage {stage} of pipeline execution {execution_id} is not evaluating a "
                               f"{conditions.KINDS[kind]} condition that could be overridden")
            pipeline.cond.notify_all()
        return {}

    def retry_stage_execution(self, ctx: RequestContext, request: dict) -> dict:
        """Run a failed or stopped stage of a finished execution again and go on from there."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage_name, execution_id = request["stageName"], request["pipelineExecutionId"]
        with pipeline.cond:
            index = _stage_index(pipeline, stage_name)
            execution = next((e for e in pipeline.executions if e.execution_id == execution_id), None)
            if execution is None or execution.stages.get(stage_name) not in ("Failed", "Stopped") or not execution.done.is_set():
                raise AwsError("StageNotRetryableException",
                               f"Stage {stage_name} of pipeline execution {execution_id} cannot be retried: only a stage "
                               "that failed or stopped in a finished execution can")
            if pipeline.latest.get(stage_name) is not execution:
                raise AwsError("NotLatestPipelineExecutionException",
                               f"Pipeline execution {execution_id} is not the latest execution of stage {stage_name}")
            if execution.version != pipeline.version:
                raise AwsError("StageNotRetryableException",
                               f"Pipeline {pipeline.name} was updated since execution {execution_id} started; it cannot be retried")
            if stage_name in pipeline.occupied:
                raise AwsError("ConflictException", f"Stage {stage_name} is running another execution")
            execution.status = "InProgress"
            execution.summary = None
            execution.stopping = False
            execution.stop_reason = None
            execution.abandon = threading.Event()
            execution.done = threading.Event()
            execution.retry_attempts[stage_name] = execution.retry_attempts.get(stage_name, 0) + 1
            execution.last_update = now()
        Engine(self, ctx.account, ctx.region, pipeline, execution).start(index, request["retryMode"], True)
        return {"pipelineExecutionId": execution_id}

    def _transition(self, ctx: RequestContext, request: dict) -> tuple[Pipeline, str]:
        """The pipeline and the stage whose inbound transition a request is about."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stages, stage = pipeline.declaration["stages"], request["stageName"]
        index = _stage_index(pipeline, stage)
        if request["transitionType"] == "Outbound":
            if index + 1 == len(stages):
                raise AwsError("ValidationException", f"Stage {stage} is the last stage; it has no outbound transition")
            stage = stages[index + 1]["name"]
        return pipeline, stage

    def disable_stage_transition(self, ctx: RequestContext, request: dict) -> dict:
        """Hold executions at a stage's boundary (Outbound: the next stage's inbound one)."""
        pipeline, stage = self._transition(ctx, request)
        with pipeline.cond:
            pipeline.disabled[stage] = {"lastChangedBy": self._caller(ctx), "lastChangedAt": now(),
                                        "disabledReason": request["reason"]}
        return {}

    def enable_stage_transition(self, ctx: RequestContext, request: dict) -> dict:
        pipeline, stage = self._transition(ctx, request)
        with pipeline.cond:
            pipeline.disabled.pop(stage, None)
            pipeline.cond.notify_all()
        return {}

    def put_approval_result(self, ctx: RequestContext, request: dict) -> dict:
        """Answer a waiting Manual approval with its token."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage, action, token = request["stageName"], request["actionName"], request["token"]
        with pipeline.cond:
            declared = pipeline.declaration["stages"][_stage_index(pipeline, stage)]
            if not any(a["name"] == action for a in declared["actions"]):
                raise AwsError("ActionNotFoundException", f"Action {action} does not exist in stage {stage}")
            run = next((r for e in pipeline.executions for r in e.actions
                        if r.stage == stage and r.name == action and r.token == token), None)
            if run is None:
                raise AwsError("InvalidApprovalTokenException",
                               f"The token {token} does not belong to an approval request of action {action}")
            if run.status != "InProgress" or run.approval is not None:
                raise AwsError("ApprovalAlreadyCompletedException",
                               f"The approval request of action {action} with token {token} is already {run.status}")
            approved_at = now()
            run.approval = {**request["result"], "at": approved_at}
            run.updated_by = self._caller(ctx)
            run.answered.set()
        return {"approvedAt": approved_at}

    def put_action_revision(self, ctx: RequestContext, request: dict) -> dict:
        """A new revision for a source action starts the pipeline at it; a revision seen before does not."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage, name, revision = request["stageName"], request["actionName"], request["actionRevision"]["revisionId"]
        with pipeline.cond:
            declared = pipeline.declaration["stages"][_stage_index(pipeline, stage)]
            action = next((a for a in declared["actions"] if a["name"] == name), None)
            if action is None:
                raise AwsError("ActionNotFoundException", f"Action {name} does not exist in stage {stage}")
            if pipeline.put_revisions.get((stage, name)) == revision:
                return {"newRevision": False}
            pipeline.put_revisions[(stage, name)] = revision
        kinds = SOURCE_REVISION_TYPES.get(action["actionTypeId"]["provider"])
        pinned = {name: (kinds[0], revision)} if kinds and action["actionTypeId"]["category"] == "Source" else {}
        execution = self._start(ctx.account, ctx.region, pipeline,
                                {"triggerType": "PutActionRevision", "triggerDetail": self._caller(ctx)}, pinned=pinned)
        return {"newRevision": True, "pipelineExecutionId": execution.execution_id}

    def rollback_stage(self, ctx: RequestContext, request: dict) -> dict:
        """Run a stage again with the artifacts of an execution that succeeded in it (V2)."""
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage_name, target_id = request["stageName"], request["targetPipelineExecutionId"]
        with pipeline.cond:
            _stage_index(pipeline, stage_name)
            if pipeline.declaration.get("pipelineType") != "V2":
                raise AwsError("UnableToRollbackStageException", "Stages can be rolled back in pipelines of type V2 only")
            target = self._execution(ctx, pipeline, target_id)
            if target.execution_type != "STANDARD" or target.stages.get(stage_name) != "Succeeded":
                raise AwsError("UnableToRollbackStageException",
                               f"Pipeline execution {target_id} did not succeed in stage {stage_name}; only such an execution "
                               "can be the target of a rollback")
            if target.version != pipeline.version:
                raise AwsError("PipelineExecutionOutdatedException",
                               f"Pipeline execution {target_id} ran version {target.version} of the pipeline, which has been "
                               "updated since; it cannot be the target of a rollback")
            if stage_name in pipeline.occupied:
                raise AwsError("ConflictException", f"Stage {stage_name} is running an execution; roll back once it has ended")
        execution = self.roll_back(ctx.account, ctx.region, pipeline, stage_name, target,
                                   {"triggerType": "ManualRollback", "triggerDetail": self._caller(ctx)})
        return {"pipelineExecutionId": execution.execution_id}

    def roll_back(self, account: str, region: str, pipeline: Pipeline, stage_name: str, target: Execution,
                  trigger: dict) -> Execution:
        """A ROLLBACK execution that runs ``stage_name`` again with ``target``'s artifacts and variables."""
        with pipeline.cond:
            execution = Execution(pipeline_name=pipeline.name, version=pipeline.version, declaration=pipeline.declaration,
                                  trigger=trigger, variables=dict(target.variables), pinned={}, execution_type="ROLLBACK",
                                  rollback_target=target.execution_id)
            execution.artifacts = dict(target.artifacts)
            execution.outputs = copy.deepcopy(target.outputs)
            execution.revisions = [dict(r) for r in target.revisions]
            execution.source_revisions = [dict(r) for r in target.source_revisions]
            pipeline.executions.append(execution)
        index = _stage_index(pipeline, stage_name)
        Engine(self, account, region, pipeline, execution).start(index, last_stage=index)
        return execution

    def last_success(self, pipeline: Pipeline, stage_name: str, before: Execution) -> Execution | None:
        """The newest standard execution of the current version that succeeded in ``stage_name``."""
        with pipeline.cond:
            return next((e for e in sorted(pipeline.executions, key=lambda e: e.start, reverse=True)
                         if e is not before and e.execution_type == "STANDARD" and e.version == pipeline.version
                         and e.stages.get(stage_name) == "Succeeded"), None)

    # -- job workers --------------------------------------------------------------------
    def poll_for_jobs(self, ctx: RequestContext, request: dict) -> dict:
        """Hand queued jobs of a custom action type to a worker."""
        key = type_key(request["actionTypeId"])
        if key not in self._region(ctx).custom_types:
            raise AwsError("ActionTypeNotFoundException", f"Action type {'/'.join(key)} does not exist")
        handed = self.jobs.poll(ctx.account, ctx.region, key, request.get("maxBatchSize", 1), request.get("queryParam", {}))
        return {"jobs": [j.describe(with_nonce=True) for j in handed]}

    def get_job_details(self, ctx: RequestContext, request: dict) -> dict:
        return {"jobDetails": self.jobs.find(ctx.account, ctx.region, request["jobId"]).describe(with_nonce=False)}

    def acknowledge_job(self, ctx: RequestContext, request: dict) -> dict:
        return {"status": self.jobs.acknowledge(ctx.account, ctx.region, request["jobId"], request["nonce"])}

    def put_job_success_result(self, ctx: RequestContext, request: dict) -> dict:
        """A worker's success: summary, output variables, or a continuation token."""
        result = {k: request[k] for k in ("currentRevision", "continuationToken", "executionDetails", "outputVariables")
                  if k in request}
        self.jobs.complete(ctx.account, ctx.region, request["jobId"], "Succeeded", result)
        return {}

    def put_job_failure_result(self, ctx: RequestContext, request: dict) -> dict:
        """A worker's failure: the action fails with its message."""
        self.jobs.complete(ctx.account, ctx.region, request["jobId"], "Failed", {"failureDetails": request["failureDetails"]})
        return {}

    # -- triggers -----------------------------------------------------------------------
    def _source_changed(self, change: SourceChange) -> None:
        """A reference moved in a repository: start every pipeline that watches it."""
        for (account, region), st in self.state.items():
            if change.account is not None and (account, region) != (change.account, change.region):
                continue
            if (change.provider == "GitHub" and self.labstack.settings.class_mode
                    and not github.readable_by(self.labstack.settings.home, change.repository, account)):
                continue  # another account's repository: its pushes and pull requests are not this account's to hear
            for pipeline in list(st.pipelines.values()):
                try:
                    found = triggers.starts_for(self.labstack, pipeline.declaration, change)
                except Exception:
                    log.exception("could not match a source change against pipeline %s", pipeline.name)
                    continue
                if found:
                    first = found[0]
                    self._start(account, region, pipeline, {"triggerType": first.trigger_type, "triggerDetail": first.detail},
                                pinned={s.action: ("COMMIT_ID", s.revision) for s in found})

    def _rule_fired(self, _account: str, _region: str, target: dict, event: dict, rule_arn: str) -> None:
        """An EventBridge rule that targets a pipeline matched an event: start it (trigger
        CloudWatchEvent) if the target's role may (codepipeline:StartPipelineExecution). A CodeCommit
        reference change pins the commit it names."""
        _, _, _, region, account, name = target["Arn"].split(":", 5)
        if self.labstack.settings.class_mode and account != _account:
            log.info("EventBridge rule %s targets a pipeline of another account (%s): not started", rule_arn, account)
            return
        if not targets.may_invoke(self.labstack, _region, target, event, rule_arn,
                                  Ask("codepipeline:StartPipelineExecution", target["Arn"], resource_account=account)):
            return
        pipeline = self.state.get(account, region).pipelines.get(name)
        if pipeline is None:
            targets.failed(self.labstack, _region, target, event, rule_arn, "NO_RESOURCE",
                           f"Pipeline {target['Arn']} does not exist")
            return
        detail = event.get("detail") or {}
        pinned = {}
        for action in pipeline.declaration["stages"][0]["actions"]:
            config = action.get("configuration", {})
            if (action["actionTypeId"]["provider"] == "CodeCommit" and detail.get("commitId")
                    and config.get("RepositoryName") == detail.get("repositoryName")
                    and config.get("BranchName") == detail.get("referenceName")):
                pinned[action["name"]] = ("COMMIT_ID", detail["commitId"])
        self._start(account, region, pipeline, {"triggerType": "CloudWatchEvent", "triggerDetail": rule_arn},
                    pinned=pinned)

    def _s3_version(self, account: str, region: str, config: dict) -> str | None:
        try:
            head = self.labstack.clients.get("s3", account, region).head_object(Bucket=config["S3Bucket"], Key=config["S3ObjectKey"])
        except ClientError:
            return None
        return head.get("VersionId") or head.get("ETag")

    def _remember_s3(self, account: str, region: str, pipeline: Pipeline) -> None:
        """What each polled S3 source holds now: later versions start the pipeline."""
        for action in triggers.s3_polled(pipeline.declaration):
            version = self._s3_version(account, region, action["configuration"])
            if version is not None:
                pipeline.s3_seen[action["name"]] = version

    def _poll_s3(self) -> None:
        for (account, region), st in self.state.items():
            for pipeline in list(st.pipelines.values()):
                for action in triggers.s3_polled(pipeline.declaration):
                    version = self._s3_version(account, region, action["configuration"])
                    if version is None or pipeline.s3_seen.get(action["name"]) == version:
                        continue
                    pipeline.s3_seen[action["name"]] = version
                    bucket, object_key = action["configuration"]["S3Bucket"], action["configuration"]["S3ObjectKey"]
                    self._start(account, region, pipeline,
                                {"triggerType": "PollForSourceChanges", "triggerDetail": f"arn:aws:s3:::{bucket}/{object_key}"})


PROVIDER = CodePipelineProvider
