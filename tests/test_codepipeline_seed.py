"""The seed's pipeline end to end: a git push to the local GitHub starts it; the sample app is
built, tested and scanned (in parallel), deployed to staging, waits at the manual approval
with a message in the inbox, and after approval reaches production through a CodeDeploy
blue/green deployment."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.support.codepipeline import PipelineLab
from tests.support.codepipeline_seed import SeedWorld
from tests.support.gitcli import commit, git
from tests.support.sampleapp import answer, app_copy
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]


@pytest.mark.slow
def test_a_push_runs_the_seed_pipeline_to_production_after_approval(lab: PipelineLab, tmp_path: Path) -> None:
    world = SeedWorld(lab, tmp_path)
    repo = f"org{lab.account}/sample-app"
    cp = lab.codepipeline
    cp.create_pipeline(pipeline=world.pipeline(repo))
    first = lab.wait_for_executions("app-pipeline", 1)[0]
    assert lab.wait("app-pipeline", first["pipelineExecutionId"])["status"] == "Failed"  # nothing pushed yet
    work = app_copy(tmp_path / "work", "v2")
    git(work, "init", "--quiet")
    pushed = commit(work, {}, "release v2")  # the app's buildspec writes imageDetail.json for <IMAGE1_NAME>
    git(work, "push", "--quiet", f"{lab.server.endpoint}/github/{repo}.git", "main")
    started = lab.wait_for_executions("app-pipeline", 2)[0]
    assert started["trigger"]["triggerType"] == "Webhook"
    execution_id = started["pipelineExecutionId"]

    def approval_token() -> str | None:
        if lab.execution("app-pipeline", execution_id)["status"] != "InProgress":
            raise AssertionError(json.dumps(lab.actions("app-pipeline", execution_id), default=str)[:3000])
        return lab.action_state("app-pipeline", "Approval", "ManualApproval").get("latestExecution", {}).get("token")

    token = wait_for(approval_token, seconds=180)
    runs = lab.actions("app-pipeline", execution_id)
    assert runs["UnitTests"]["startTime"] < runs["SecurityScan"]["lastUpdateTime"]  # side by side
    listed = cp.list_action_executions(pipelineName="app-pipeline", filter={"pipelineExecutionId": execution_id})
    by_stage = {(d["stageName"], d["actionName"]): (d["actionExecutionId"], d["status"]) for d in listed["actionExecutionDetails"]}
    shown = {(s["stageName"], a["actionName"]): (a["latestExecution"]["actionExecutionId"], a["latestExecution"]["status"])
             for s in cp.get_pipeline_state(name="app-pipeline")["stageStates"] for a in s["actionStates"]
             if s["stageName"] != "Deploy_Production"}
    assert shown == by_stage and by_stage[("Approval", "ManualApproval")][1] == "InProgress"
    assert by_stage[("Deploy_Staging", "Deploy")][1] == "Succeeded"
    image = f"{world.repository}:{pushed[:7]}"
    ecs = lab.client("ecs")
    staged = ecs.describe_services(cluster="staging", services=["app-staging"])["services"][0]
    assert ecs.describe_task_definition(taskDefinition=staged["taskDefinition"])["taskDefinition"]["containerDefinitions"][0]["image"] == image
    with urllib.request.urlopen(f"{lab.server.endpoint}/_labstack/inbox?account={lab.account}", timeout=10) as response:
        mail = json.loads(response.read())["messages"][-1]
    assert mail["subject"] == "APPROVAL NEEDED: AWS CodePipeline app-pipeline for action ManualApproval"
    assert token in mail["body"] and "Please review staging deployment before production" in mail["body"]
    cp.put_approval_result(pipelineName="app-pipeline", stageName="Approval", actionName="ManualApproval",
                           result={"summary": "staging looks right", "status": "Approved"}, token=token)
    done = lab.wait("app-pipeline", execution_id, timeout=90)
    assert done["status"] == "Succeeded", json.dumps(lab.actions("app-pipeline", execution_id), default=str)[:3000]
    assert done["artifactRevisions"][0]["revisionId"] == pushed
    assert wait_for(lambda: answer(world.prod_url) == (200, "v2") and answer(world.prod_url), seconds=30)
