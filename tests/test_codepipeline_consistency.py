"""GetPipelineState agrees with ListActionExecutions and GetPipelineExecution at every moment.

While an execution of a pipeline with parallel actions runs, each sample reads the state, the
execution, the execution's action executions and the state again. The calls cannot be made at
one instant, so each sample requires what the order of the calls allows: an action is no further
along in the first state than in the list, nor in the list than in the second state, its status
never changes once it ended, and each state agrees with itself (a stage's status with its
actions', runOrder groups in order, stages in order).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.codepipeline import (
    DONE,
    PipelineLab,
    action,
    build,
    s3_source,
    stage,
)

pytest_plugins = ["tests.support.codepipeline_fixtures"]

NAME = "busy"
Key = tuple[str, str]
View = tuple[int, str | None, str | None]  # (0 not run / 1 running or stopping / 2 ended, status, id)
NOT_RUN: View = (0, None, None)


def _phase(status: str) -> int:
    return 1 if status in ("InProgress", "Stopping") else 2


def _declaration(lab: PipelineLab) -> list[dict]:
    """Source -> Build (two parallel actions, then a third) -> Test (two parallel, one told to fail or not)."""
    for project, commands in (("quick", ["sleep 0.2"]), ("slow", ["sleep 0.6"]),
                              ("verdict", ["sleep 0.3", 'exit "$VERDICT"'])):
        lab.project(project, commands)
    lab.project("compile", ["sleep 0.6", "echo built > bin.txt"], artifacts={"files": ["bin.txt"]})
    verdict = '[{"name": "VERDICT", "value": "#{variables.Verdict}", "type": "PLAINTEXT"}]'
    test = action("Scan", "Test", "CodeBuild", {"ProjectName": "verdict", "EnvironmentVariables": verdict}, inputs=("src",))
    return [stage("Source", s3_source(lab.sources)),
            stage("Build", build("Compile", "compile", outputs=("bin",)), build("Lint", "quick"),
                  build("Package", "quick", inputs=("bin",), run_order=2)),
            stage("Test", build("Unit", "slow", category="Test"), test)]


def _state_views(state: dict, old: set[str], execution_id: str) -> tuple[dict[str, View], dict[Key, View]]:
    """This execution's stages and actions as one GetPipelineState answer shows them."""
    stages: dict[str, View] = {}
    actions: dict[Key, View] = {}
    for shown in state["stageStates"]:
        latest = shown.get("latestExecution")
        mine = latest is not None and latest["pipelineExecutionId"] == execution_id
        stages[shown["stageName"]] = (_phase(latest["status"]), latest["status"], execution_id) if mine else NOT_RUN
        for entry in shown["actionStates"]:
            run = entry.get("latestExecution")
            ours = run is not None and run["actionExecutionId"] not in old
            actions[(shown["stageName"], entry["actionName"])] = \
                (_phase(run["status"]), run["status"], run["actionExecutionId"]) if ours else NOT_RUN
    return stages, actions


def _listed_views(details: list[dict], keys: list[Key]) -> dict[Key, View]:
    """This execution's actions as ListActionExecutions (filtered on it) shows them."""
    views = dict.fromkeys(keys, NOT_RUN)
    for detail in sorted(details, key=lambda d: d["startTime"]):
        views[(detail["stageName"], detail["actionName"])] = \
            (_phase(detail["status"]), detail["status"], detail["actionExecutionId"])
    return views


def _in_order(earlier: View, later: View, what: str) -> None:
    """``later`` was read after ``earlier``: no going back, the same run, an ended run unchanged."""
    assert earlier[0] <= later[0], f"{what} went back from {earlier} to {later}"
    if earlier[0] and later[0]:
        assert earlier[2] == later[2], f"{what} shows run {earlier[2]}, then run {later[2]}"
    if earlier[0] == 2:
        assert earlier[1] == later[1], f"{what} ended {earlier[1]}, then shows {later[1]}"


def _self_consistent(declared: list[dict], stages: dict[str, View], actions: dict[Key, View]) -> None:
    """One state agrees with itself: stage status against its actions', runOrder groups and stages in order."""
    before_done = True
    for declared_stage in declared:
        name = declared_stage["name"]
        mine = {a["name"]: actions[(name, a["name"])] for a in declared_stage["actions"]}
        phase, status, _ = stages[name]
        if phase == 0:
            assert all(v == NOT_RUN for v in mine.values()), f"stage {name} not entered, yet its actions ran: {mine}"
        else:
            assert before_done, f"stage {name} is {status} while an earlier stage has not succeeded"
        if status == "Succeeded":
            assert all(v[1] == "Succeeded" for v in mine.values()), f"stage {name} Succeeded with actions {mine}"
        if status == "Failed":
            assert any(v[1] == "Failed" for v in mine.values()) and all(v[0] == 2 for v in mine.values()), \
                f"stage {name} Failed with actions {mine}"
        for started in (a for a in declared_stage["actions"] if mine[a["name"]][0]):
            earlier = [a["name"] for a in declared_stage["actions"] if a["runOrder"] < started["runOrder"]]
            assert all(mine[e][1] == "Succeeded" for e in earlier), \
                f"{started['name']} started before runOrder {started['runOrder'] - 1} of stage {name} succeeded: {mine}"
        before_done = status == "Succeeded"


def _external_ids(state: dict) -> dict[str, str | None]:
    return {a["latestExecution"]["actionExecutionId"]: a["latestExecution"].get("externalExecutionId")
            for s in state["stageStates"] for a in s["actionStates"] if "latestExecution" in a}


def _sample_until_done(lab: PipelineLab, declared: list[dict], execution_id: str, old: set[str],
                       stop_in: str | None = None) -> dict[str, Any]:
    """Sample state, execution, action executions and state again until the execution ends; check
    each sample. With ``stop_in``, stop the execution (without abandon) once an action of that stage runs."""
    cp = lab.codepipeline
    keys = [(s["name"], a["name"]) for s in declared for a in s["actions"]]
    seen = {"samples": 0, "running": 0}
    previous: dict[Key, View] = dict.fromkeys(keys, NOT_RUN)
    while True:
        first = cp.get_pipeline_state(name=NAME)
        execution = lab.execution(NAME, execution_id)
        details = cp.list_action_executions(pipelineName=NAME, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
        second = cp.get_pipeline_state(name=NAME)
        (stages1, actions1), (stages2, actions2) = (_state_views(s, old, execution_id) for s in (first, second))
        listed = _listed_views(details, keys)
        for key in keys:
            what = f"action {key[0]}.{key[1]}"
            _in_order(previous[key], actions1[key], what)
            _in_order(actions1[key], listed[key], what)
            _in_order(listed[key], actions2[key], what)
        for name in stages1:
            _in_order(stages1[name], stages2[name], f"stage {name}")
        _self_consistent(declared, stages1, actions1)
        _self_consistent(declared, stages2, actions2)
        ended = {d["actionExecutionId"]: d.get("output", {}).get("executionResult", {}).get("externalExecutionId")
                 for d in details if d["status"] != "InProgress"}
        shown = _external_ids(second)
        assert all(shown[i] == e for i, e in ended.items() if i in shown), f"external ids differ: {ended} / {shown}"
        if execution["status"] == "Succeeded":
            assert all(v[1] == "Succeeded" for v in listed.values()), f"execution Succeeded, actions {listed}"
            assert all(v[1] == "Succeeded" for v in stages2.values()), f"execution Succeeded, stages {stages2}"
        if execution["status"] in ("Stopping", "Stopped"):
            assert all(v[1] != "InProgress" for v in stages2.values()), f"execution {execution['status']}, stages {stages2}"
        if execution["status"] == "Stopped":
            assert all(v[0] != 1 for v in listed.values()), f"execution Stopped, actions {listed}"
        if stop_in and execution["status"] == "InProgress" and any(v[0] == 1 for k, v in listed.items() if k[0] == stop_in):
            cp.stop_pipeline_execution(pipelineName=NAME, pipelineExecutionId=execution_id, reason="enough")
        if execution["status"] == "Failed":
            assert any(v[1] == "Failed" for v in listed.values()) and all(v[0] != 1 for v in listed.values())
            assert any(v[1] == "Failed" for v in stages2.values()), f"execution Failed, stages {stages2}"
        seen["samples"] += 1
        seen["running"] += any(v[0] == 1 for v in listed.values())
        previous = actions2
        if execution["status"] in DONE:
            return {**seen, "status": execution["status"], "actions": listed}


@pytest.mark.slow
def test_state_list_and_execution_never_contradict_each_other_while_an_execution_runs(lab: PipelineLab) -> None:
    lab.source({"app.txt": "hello"})
    created = lab.create(NAME, *_declaration(lab), pipelineType="V2",
                         variables=[{"name": "Verdict", "defaultValue": "0"}])
    declared = created["stages"]
    for verdict, outcome, stop_in in (("0", "Succeeded", None), ("1", "Failed", None), ("0", "Stopped", "Build")):
        listed = lab.codepipeline.list_action_executions(pipelineName=NAME)["actionExecutionDetails"]
        old = {d["actionExecutionId"] for d in listed}
        execution_id = lab.codepipeline.start_pipeline_execution(
            name=NAME, variables=[{"name": "Verdict", "value": verdict}])["pipelineExecutionId"]
        seen = _sample_until_done(lab, declared, execution_id, old, stop_in)
        assert seen["status"] == outcome, seen
        assert seen["running"] >= 3, f"too few samples caught actions running to prove anything: {seen}"
        assert seen["actions"][("Test", "Scan")][1] == {"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": None}[outcome]
