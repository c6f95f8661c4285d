"""Run one pipeline execution: stages in order, actions grouped by runOrder.

- Actions with the same runOrder run in parallel; the next group starts when the whole group
  has finished. A failed action fails its stage once its siblings have finished, and the stage
  fails the execution.
- A stage holds one execution at a time (SUPERSEDED and QUEUED); an execution waits at the
  stage's inbound boundary while the stage is busy or its inbound transition is disabled.
  SUPERSEDED: a newer execution waiting at the same boundary replaces an older one (which ends
  Superseded). QUEUED: executions enter in the order they started. PARALLEL: executions do not
  wait for each other at all.
- Stop: without abandon, in-progress actions finish and the execution then ends Stopped; with
  abandon, in-progress actions are Abandoned at once.
- UpdatePipeline: in-progress actions finish, then the stage and the execution end Cancelled (an
  execution waiting at a stage boundary ends Cancelled at once); none goes on with the old structure.
- Stage conditions (``conditions``): once an execution has entered a stage its beforeEntry condition
  decides whether the actions run (SKIP: the stage is Skipped and the execution goes on); onSuccess
  may fail or roll back a stage whose actions succeeded; onFailure's result (or its condition's) may
  retry or roll back a failed one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from labstack.services.codepipeline import acting, conditions, events, runners, variables
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed, ActionJob
from labstack.services.codepipeline.model import ActionRun, Execution, Pipeline, now

log = logging.getLogger("labstack.codepipeline")
WAIT_TICK = 0.1


class Engine:
    """Runs ``execution`` of ``pipeline`` in a thread of its own."""

    def __init__(self, provider: Any, account: str, region: str, pipeline: Pipeline, execution: Execution) -> None:
        self.provider = provider
        self.labstack = provider.labstack
        self.account = account
        self.region = region
        self.pipeline = pipeline
        self.execution = execution
        self.events = self.labstack.clients.get("events", account, region)
        self.send = provider.outbox.send  # events go out in order, without holding up the execution
        self.result: str | None = None  # the result that engaged in the stage being run (ROLLBACK…)
        self.condition_failed: str | None = None  # why a condition failed the stage being run

    def _emit(self, sender: Any, *args: Any) -> None:
        self.send(lambda: sender(self.events, self.pipeline.arn, *args))

    # -- the whole execution ------------------------------------------------------------
    def start(self, first_stage: int = 0, retry_mode: str | None = None, resumed: bool = False,
              last_stage: int | None = None) -> None:
        """Run stages ``first_stage`` to ``last_stage`` (default: the last) in the background."""
        last = len(self.execution.declaration["stages"]) - 1 if last_stage is None else last_stage
        threading.Thread(target=self._run_safely, args=(first_stage, last, retry_mode, resumed), daemon=True,
                         name=f"pipeline-{self.execution.execution_id[:8]}").start()

    def _run_safely(self, first_stage: int, last_stage: int, retry_mode: str | None, resumed: bool) -> None:
        try:
            self._run(first_stage, last_stage, retry_mode, resumed)
        except Exception:
            log.exception("pipeline execution %s failed inside labstack", self.execution.execution_id)
            self._finish("Failed", "labstack could not run this execution; see its log")

    def _run(self, first_stage: int, last_stage: int, retry_mode: str | None, resumed: bool) -> None:
        execution = self.execution
        self._emit(events.pipeline_changed, execution, "RESUMED" if resumed else "STARTED")
        stages = execution.declaration["stages"]
        for index in range(first_stage, last_stage + 1):
            stage = stages[index]
            outcome = self._enter(stage["name"])
            if outcome != "entered":
                self._finish(outcome, None)
                return
            self.result = self.condition_failed = None
            try:
                gate = conditions.outcome(self, stage, "BEFORE_ENTRY")
                if gate is None:
                    status = self._run_stage(stage, retry_mode if index == first_stage else None,
                                             resumed and index == first_stage)
                    status = self._after_failure(stage, status)
                else:
                    status = self._not_entered(stage, gate)
            finally:
                self._leave(stage["name"])
            if status == "Skipped":
                continue
            if status != "Succeeded":
                ended = status if status in ("Stopped", "Cancelled") else "Failed"
                self._finish(ended, self._failure_summary(stage, status))
                self._roll_back_automatically(stage, status)
                return
        self._finish("Succeeded", None)

    def _not_entered(self, stage: dict, gate: str) -> str:
        """The beforeEntry condition failed (SKIP: the stage is Skipped; FAIL: it fails) or the
        execution was stopped while it ran."""
        status = {"SKIP": "Skipped", conditions.STOPPED: self._interrupted()}.get(gate, "Failed")
        if status == "Failed":
            self.condition_failed = self._condition_summary(stage, "BEFORE_ENTRY")
        with self.pipeline.cond:
            self.execution.stages[stage["name"]] = status
            self.execution.last_update = now()
        if status != "Skipped":  # the stage events' states have no SKIPPED
            self._emit(events.stage_changed, self.execution, stage["name"], events.state_of(status))
        return status

    def _interrupted(self) -> str:
        """How a stage ends whose condition was interrupted: Cancelled by an update, else Stopped."""
        return "Cancelled" if self.execution.cancelled else "Stopped"

    def _condition_summary(self, stage: dict, kind: str) -> str:
        ran = [c for c in self.execution.conditions if c.stage == stage["name"] and c.kind == kind]
        said = ran[-1].summary if ran else None
        return f"The {conditions.KINDS[kind]} condition of stage {stage['name']} failed: {said or 'see its rules'}"

    def _after_failure(self, stage: dict, status: str) -> str:
        """onFailure: its result (or the result of its condition, when that fails) engages. RETRY runs
        a failed stage once more, in the retry mode it declares."""
        if status != "Failed" or self.condition_failed:
            return status
        result = conditions.outcome(self, stage, "ON_FAILURE")
        execution = self.execution
        if result == "RETRY" and not execution.auto_retries.get(stage["name"]):
            with self.pipeline.cond:
                execution.auto_retries[stage["name"]] = 1
            mode = ((stage.get("onFailure") or {}).get("retryConfiguration") or {}).get("retryMode", "FAILED_ACTIONS")
            return self._run_stage(stage, mode, True)
        self.result = result
        return status

    def _roll_back_automatically(self, stage: dict, status: str) -> None:
        """ROLLBACK (onFailure's, or an onSuccess condition's): the stage runs again with the last
        execution that succeeded in it."""
        if status != "Failed" or self.result != "ROLLBACK" or self.execution.execution_type != "STANDARD":
            return
        target = self.provider.last_success(self.pipeline, stage["name"], self.execution)
        if target is not None:
            self.provider.roll_back(self.account, self.region, self.pipeline, stage["name"], target,
                                    {"triggerType": "AutomatedRollback", "triggerDetail": self.execution.execution_id})

    def _failure_summary(self, stage: dict, status: str) -> str | None:
        if status == "Stopped":
            return None
        if self.condition_failed:
            return self.condition_failed
        if status == "Cancelled":
            return f"The pipeline was updated while this execution ran in stage {stage['name']}"
        failed = [r for r in self.execution.actions if r.stage == stage["name"] and r.status == "Failed"]
        if failed:
            return f"Action {failed[-1].name} in stage {stage['name']} failed: {failed[-1].summary or 'see its error details'}"
        return None

    def _finish(self, status: str, summary: str | None) -> None:
        execution = self.execution
        with self.pipeline.cond:
            if status == "Stopped" and execution.stop_reason:
                summary = summary or execution.stop_reason
            execution.status = status
            if summary:
                execution.summary = summary[:2048]
            execution.waiting_at = None
            execution.last_update = now()
            self.pipeline.cond.notify_all()
        self._emit(events.pipeline_changed, execution, events.state_of(status))
        execution.done.set()

    # -- stage boundaries ---------------------------------------------------------------
    def _enter(self, stage: str) -> str:
        """Wait at the inbound boundary of ``stage``: ``entered``, or how the execution ends."""
        pipeline, execution = self.pipeline, self.execution
        with pipeline.cond:
            execution.waiting_at = stage
            execution.last_update = now()
            pipeline.cond.notify_all()
            while True:
                if execution.stopping or execution.abandon.is_set() or pipeline.deleted:
                    execution.waiting_at = None
                    return "Stopped"
                if execution.cancelled:
                    execution.waiting_at = None
                    return "Cancelled"
                waiting = [e for e in pipeline.executions if e.waiting_at == stage and e.status == "InProgress"]
                if execution.mode == "SUPERSEDED" and any(e.start > execution.start for e in waiting):
                    execution.waiting_at = None
                    return "Superseded"
                enabled = stage not in pipeline.disabled
                free = execution.mode == "PARALLEL" or stage not in pipeline.occupied
                first = execution.mode != "QUEUED" or min(waiting, key=lambda e: e.start) is execution
                if enabled and free and first:
                    execution.waiting_at = None
                    if execution.mode != "PARALLEL":
                        pipeline.occupied[stage] = execution.execution_id
                    execution.stages[stage] = "InProgress"
                    pipeline.latest[stage] = execution
                    execution.last_update = now()
                    return "entered"
                pipeline.cond.wait(WAIT_TICK)

    def _leave(self, stage: str) -> None:
        with self.pipeline.cond:
            if self.pipeline.occupied.get(stage) == self.execution.execution_id:
                del self.pipeline.occupied[stage]
            self.pipeline.cond.notify_all()

    # -- one stage ----------------------------------------------------------------------
    def _run_stage(self, stage: dict, retry_mode: str | None, resumed: bool) -> str:
        execution = self.execution
        self._emit(events.stage_changed, execution, stage["name"], "RESUMED" if resumed else "STARTED")
        groups: dict[int, list[dict]] = {}
        for action in stage["actions"]:
            groups.setdefault(action.get("runOrder", 1), []).append(action)
        status = "Succeeded"
        for order in sorted(groups):
            if execution.stopping or execution.abandon.is_set():
                status = "Stopped"
                break
            if execution.cancelled:
                status = "Cancelled"
                break
            wanted = [a for a in groups[order] if not self._keep_result(stage["name"], a, retry_mode)]
            threads = [self._start_action(stage["name"], action) for action in wanted]
            for thread in threads:
                thread.join()
            results = [execution.latest_run(stage["name"], a["name"]) for a in groups[order]]
            if execution.abandon.is_set():
                status = "Stopped"
                break
            if any(r is not None and r.status == "Failed" for r in results):
                status = "Failed"
                break
            if execution.cancelled:
                status = "Cancelled"
                break
            if execution.stopping:
                status = "Stopped"
                break
        if status == "Succeeded":
            status = self._on_success(stage)
        with self.pipeline.cond:
            execution.stages[stage["name"]] = status
            execution.last_update = now()
        self._emit(events.stage_changed, execution, stage["name"], events.state_of(status))
        return status

    def _on_success(self, stage: dict) -> str:
        """The stage's actions succeeded: its onSuccess condition decides (FAIL and ROLLBACK fail it)."""
        result = conditions.outcome(self, stage, "ON_SUCCESS")
        if result == conditions.STOPPED:
            return self._interrupted()
        if result is None:
            return "Succeeded"
        self.result = result
        self.condition_failed = self._condition_summary(stage, "ON_SUCCESS")
        return "Failed"

    def _keep_result(self, stage: str, action: dict, retry_mode: str | None) -> bool:
        """On a FAILED_ACTIONS retry, actions that succeeded keep their result."""
        if retry_mode != "FAILED_ACTIONS":
            return False
        run = self.execution.latest_run(stage, action["name"])
        return run is not None and run.status == "Succeeded"

    # -- one action ---------------------------------------------------------------------
    def _start_action(self, stage: str, action: dict) -> threading.Thread:
        execution = self.execution
        run = ActionRun(execution_id=execution.execution_id, pipeline_version=execution.version, stage=stage,
                        declaration=action)
        for name in (a["name"] for a in action.get("inputArtifacts", [])):
            where = execution.artifacts.get(name, {})
            run.input_artifacts.append({"name": name, "s3location": {"bucket": where.get("bucket", ""), "key": where.get("key", "")}})
        with self.pipeline.cond:
            execution.actions.append(run)
            execution.last_update = now()
        self._emit(events.action_changed, execution, stage, action, self.region, "STARTED")
        thread = threading.Thread(target=self._run_action, args=(run,), daemon=True,
                                  name=f"action-{run.action_execution_id[:8]}")
        thread.start()
        return thread

    def _namespaces(self) -> dict[str, dict[str, str]]:
        execution = self.execution
        return {**execution.outputs, "variables": dict(execution.variables),
                "codepipeline": {"PipelineExecutionId": execution.execution_id}}

    def _run_action(self, run: ActionRun) -> None:
        execution = self.execution
        job = None
        try:
            configuration = variables.resolve(run.declaration.get("configuration", {}), self._namespaces())
            with self.pipeline.cond:
                run.resolved = configuration
            job = ActionJob(self.labstack, self.provider, self.account, self.region, self.pipeline, execution, run,
                            configuration)
            acting.start(job)  # the action acts as the pipeline's role (or its own)
            outputs = runners.run(job) or {}
            status, summary, error = "Succeeded", run.summary, None
        except variables.Unresolved as exc:
            outputs, status, summary, error = {}, "Failed", str(exc), {"code": "ConfigurationError", "message": str(exc)}
        except ActionFailed as exc:
            outputs, status, summary, error = {}, "Failed", exc.message, {"code": exc.code, "message": exc.message[:5000]}
        except Abandoned:
            outputs, status, summary, error = {}, "Abandoned", run.summary, None
        except Exception as exc:
            log.exception("action %s failed inside labstack", run.name)
            message = f"labstack could not run this action: {exc}"
            outputs, status, summary, error = {}, "Failed", message, {"code": "JobFailed", "message": message[:5000]}
        finally:
            if job is not None:
                acting.end(job)
        with self.pipeline.cond:
            if run.status != "Abandoned":  # else a stop with abandon has settled it already
                run.status = status
                if summary:
                    run.summary = summary[:2048]
                run.error = error
                run.output_variables = {k: str(v) for k, v in outputs.items()}
                namespace = run.declaration.get("namespace")
                if namespace and status == "Succeeded":
                    execution.outputs[namespace] = dict(run.output_variables)
                run.last_update = now()
                execution.last_update = run.last_update
            self.pipeline.cond.notify_all()
            detail = run.detail(self.region)
        self._emit(events.action_changed, execution, run.stage, run.declaration, self.region, run.status.upper(), detail)
