"""Stage conditions as an execution evaluates them (CodePipeline user guide, "Configure conditions for
a stage"): a condition's rules run together; the condition is met when every rule passes, and when one
fails the condition fails and its result engages.

- ``beforeEntry`` (BEFORE_ENTRY): before the stage's actions run. FAIL fails the stage, SKIP skips it
  and the execution goes on with the next stage.
- ``onSuccess`` (ON_SUCCESS): once the actions have succeeded. FAIL fails the stage, ROLLBACK fails it
  and rolls it back to the last execution that succeeded in it.
- ``onFailure`` (ON_FAILURE): once the stage has failed. The condition's result (ROLLBACK, FAIL or
  RETRY) engages when the condition fails; without conditions onFailure's own result always does.

A condition that waits (a deployment window, an alarm's WaitTime) can be overridden
(OverrideStageCondition): it ends Overridden and counts as met. Rollback executions evaluate no
conditions.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from labstack.services.codepipeline import acting, rules, variables
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed
from labstack.services.codepipeline.model import ConditionRun, Execution, RuleRun, now

log = logging.getLogger("labstack.codepipeline")
KINDS = {"BEFORE_ENTRY": "beforeEntry", "ON_SUCCESS": "onSuccess", "ON_FAILURE": "onFailure"}
STATE_KEYS = {"BEFORE_ENTRY": "beforeEntryConditionState", "ON_SUCCESS": "onSuccessConditionState",
              "ON_FAILURE": "onFailureConditionState"}
STOPPED = "STOPPED"  # what :func:`outcome` answers when the execution was stopped while a condition ran


def declared(stage: dict, kind: str) -> list[dict]:
    """The conditions ``stage`` declares of ``kind``."""
    return (stage.get(KINDS[kind]) or {}).get("conditions") or []


def outcome(engine: Any, stage: dict, kind: str) -> str | None:
    """Evaluate the ``kind`` condition of ``stage`` for ``engine``'s execution: the result that engages
    (FAIL, SKIP, ROLLBACK, RETRY), :data:`STOPPED`, or None when the stage goes on as it is."""
    execution: Execution = engine.execution
    failure = stage.get("onFailure") or {}
    conditions = declared(stage, kind)
    if not conditions:
        return failure.get("result") if kind == "ON_FAILURE" else None
    if execution.execution_type != "STANDARD":
        return None
    for condition in conditions:
        status = _evaluate(engine, stage, kind, condition)
        if status == "Abandoned":
            return STOPPED
        if status == "Failed":
            return condition.get("result") or failure.get("result") or "FAIL"
    return None


def _evaluate(engine: Any, stage: dict, kind: str, condition: dict) -> str:
    """Run the condition's rules together; its ConditionExecution status."""
    execution, pipeline = engine.execution, engine.pipeline
    run = ConditionRun(execution_id=execution.execution_id, stage=stage["name"], kind=kind)
    with pipeline.cond:
        for rule in condition["rules"]:
            run.rules.append(RuleRun(execution_id=execution.execution_id, pipeline_version=execution.version,
                                     stage=stage["name"], declaration=rule))
        execution.conditions.append(run)
        execution.last_update = now()
    threads = [threading.Thread(target=_run_rule, args=(engine, run, rule), daemon=True,
                                name=f"rule-{rule.rule_execution_id[:8]}") for rule in run.rules]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pipeline.cond:
        failed = [r for r in run.rules if r.status == "Failed"]
        if run.overridden.is_set():
            run.status, run.summary = "Overridden", "The condition was overridden"
        elif failed:
            run.status, run.summary = "Failed", f"Rule {failed[0].name} failed: {failed[0].summary or ''}"[:2048]
        elif any(r.status == "Abandoned" for r in run.rules):
            run.status = "Abandoned"
        else:
            run.status = "Succeeded"
        run.last_update = now()
        pipeline.cond.notify_all()
        return run.status


def _run_rule(engine: Any, condition: ConditionRun, run: RuleRun) -> None:
    job = None
    status, summary, error = "Succeeded", None, None
    try:
        configuration = variables.resolve(run.declaration.get("configuration", {}), engine._namespaces())
        with engine.pipeline.cond:
            run.resolved = configuration
        job = rules.RuleJob(engine.labstack, engine.provider, engine.account, engine.region, engine.pipeline,
                            engine.execution, run, configuration, condition=condition)  # type: ignore[arg-type]
        acting.start(job)  # the rule acts as the pipeline's role (or its own)
        rules.EVALUATORS[run.declaration["ruleTypeId"]["provider"]](job)
    except variables.Unresolved as exc:
        status, summary, error = "Failed", str(exc), {"code": "ConfigurationError", "message": str(exc)}
    except ActionFailed as exc:
        status, summary, error = "Failed", exc.message, {"code": exc.code, "message": exc.message[:5000]}
    except Abandoned:
        status = "Abandoned"
    except Exception as exc:
        log.exception("rule %s failed inside labstack", run.name)
        summary = f"labstack could not evaluate this rule: {exc}"
        status, error = "Failed", {"code": "JobFailed", "message": summary[:5000]}
    finally:
        if job is not None:
            acting.end(job)
    with engine.pipeline.cond:
        run.status = status
        if summary:
            run.summary = summary[:2048]
        run.error = error
        run.last_update = now()
        engine.pipeline.cond.notify_all()


def state(stage: dict, kind: str, latest: Execution | None) -> dict | None:
    """The ``StageConditionState`` of ``stage``'s ``kind`` condition: its latest evaluation (in
    ``latest``, the stage's latest execution) and each rule's latest execution; None if none is declared."""
    conditions = declared(stage, kind)
    if not conditions:
        return None
    runs = [c for c in (latest.conditions if latest else []) if c.stage == stage["name"] and c.kind == kind]
    shown: dict = {"conditionStates": []}
    if runs:
        last = runs[-1].execution()
        shown["latestExecution"] = {k: v for k, v in last.items() if k != "lastStatusChange"}
    for condition in conditions:
        state_of: dict = {"ruleStates": []}
        if runs:
            state_of["latestExecution"] = runs[-1].execution()
        for rule in condition["rules"]:
            rule_state: dict = {"ruleName": rule["name"]}
            found = [r for c in runs for r in c.rules if r.name == rule["name"]]
            if found:
                rule_state["latestExecution"] = found[-1].latest()
            state_of["ruleStates"].append(rule_state)
        shown["conditionStates"].append(state_of)
    return shown


def override(execution: Execution, stage: str, kind: str) -> bool:
    """Override the ``kind`` condition of ``stage`` that ``execution`` is evaluating; False if none is
    in progress. (The caller holds the pipeline's lock.)"""
    running = [c for c in execution.conditions if c.stage == stage and c.kind == kind and c.status == "InProgress"]
    for condition in running:
        condition.overridden.set()
    return bool(running)
