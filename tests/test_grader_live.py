"""grader.live against a real pipeline: runs left before an approval are cleared for a new one."""

from __future__ import annotations

import pytest

from grader import live
from grader.backends import Backend, LabSession
from tests.support.codepipeline import PipelineLab, action, build, s3_source, stage
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.codepipeline_fixtures"]


def test_runs_waiting_at_an_approval_or_on_their_way_are_stopped_and_a_new_run_reaches_it(
        pipeline_labstack: LabstackProcess) -> None:
    lab = PipelineLab(pipeline_labstack)  # not the `lab` fixture: other modules' plugins define one too
    lab.source({"app.txt": "v1"})
    lab.project("slow", ["sleep 3"])
    session = LabSession.for_key(Backend("embedded", lab.server.endpoint), lab.account)
    source, building = stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "slow"))
    lab.codepipeline.create_pipeline(pipeline=lab.declaration(
        "approved", source, building, stage("Approval", action("Manual", "Approval", "Manual"))))
    waiting = lab.wait_for_executions("approved", 1)[0]["pipelineExecutionId"]
    wait_for(lambda: live.approval_token(session, "approved", waiting), seconds=30)
    on_its_way = lab.codepipeline.start_pipeline_execution(name="approved")["pipelineExecutionId"]
    wait_for(lambda: live.stage_status(session, "approved", "Build", on_its_way) == "InProgress", seconds=30)

    assert sorted(live.stop_waiting_approvals(session, "approved")) == sorted([waiting, on_its_way])
    assert [lab.execution("approved", e)["status"] for e in (waiting, on_its_way)] == ["Stopped", "Stopped"]
    fresh = lab.codepipeline.start_pipeline_execution(name="approved")["pipelineExecutionId"]
    assert wait_for(lambda: live.approval_token(session, "approved", fresh), seconds=30)

    lab.codepipeline.create_pipeline(pipeline=lab.declaration("plain", source, building))  # no approval: left alone
    running = lab.wait_for_executions("plain", 1)[0]["pipelineExecutionId"]
    assert live.stop_waiting_approvals(session, "plain") == []
    assert lab.wait("plain", running)["status"] == "Succeeded"
