"""The notebook views: a pipeline drawn as the console draws it, a build's phases and log tail,
and a deployment's traffic, errors, alarm state and lifecycle events on one time axis."""

from __future__ import annotations

from collections import Counter

import pytest

from grader import views
from grader.backends import Backend, LabSession
from grader.live import Traffic
from tests.support.codebuild import build_role, buildspec, role_arn
from tests.support.server import LabstackProcess

PIPELINE = {"name": "shop", "stages": [
    {"name": "Source", "actions": [{"name": "Code", "runOrder": 1, "actionTypeId": {"category": "Source", "provider": "CodeCommit"}}]},
    {"name": "Test", "actions": [
        {"name": "UnitTests", "runOrder": 1, "actionTypeId": {"category": "Test", "provider": "CodeBuild"}},
        {"name": "SecurityScan", "runOrder": 1, "actionTypeId": {"category": "Test", "provider": "CodeBuild"}}]},
    {"name": "Approval", "actions": [{"name": "Manual", "runOrder": 1, "actionTypeId": {"category": "Approval", "provider": "Manual"}}]},
]}
STATE = {"stageStates": [
    {"stageName": "Source", "latestExecution": {"status": "Succeeded", "pipelineExecutionId": "abcdef12-0000"},
     "actionStates": [{"actionName": "Code", "latestExecution": {"status": "Succeeded", "summary": "Add <b>v2</b>\nbody"}}]},
    {"stageName": "Test", "inboundTransitionState": {"enabled": True}, "latestExecution": {"status": "Failed"},
     "actionStates": [{"actionName": "UnitTests", "latestExecution": {"status": "Succeeded"}},
                      {"actionName": "SecurityScan", "latestExecution": {"status": "Failed",
                                                                        "errorDetails": {"message": "B602 found"}}}]},
    {"stageName": "Approval", "inboundTransitionState": {"enabled": False, "disabledReason": "freeze"},
     "latestExecution": {"status": "InProgress"},
     "actionStates": [{"actionName": "Manual", "latestExecution": {"status": "InProgress", "token": "t"}}]},
]}


def test_a_pipeline_is_drawn_with_parallel_actions_transitions_and_approvals() -> None:
    page = views.pipeline_html(PIPELINE, STATE)
    assert page.index("Source") < page.index("Test") < page.index("Approval")
    test_stage = page[page.index("<b>Test</b>"):page.index("<b>Approval</b>")]
    assert test_stage.count('display:flex') == 1  # UnitTests and SecurityScan side by side
    assert "B602 found" in test_stage and views.COLOURS["Failed"] in test_stage
    assert "transition disabled freeze" in page and ">Waiting<" in page
    assert "&lt;b&gt;v2&lt;/b&gt;" in page and "body" not in page  # escaped, first line only


def test_a_deployment_chart_puts_versions_errors_alarms_and_events_on_one_axis() -> None:
    seconds = [Counter({("v1", 200): 9, ("v2", 200): 1}), Counter({("v1", 200): 8, ("v2", 500): 2}), Counter({("v1", 200): 10})]
    timeline = views.Timeline(alarms=["OK", "ALARM", "ALARM"], events={"AllowTraffic started": 0.5}, status="Stopped")
    svg = views.deployment_svg(seconds, timeline)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and 'role="img"' in svg
    assert "v2 10% at 0 s" in svg and "v2 20% at 1 s" in svg
    assert svg.count("<title>alarm ALARM at") == 2 and "AllowTraffic started" in svg and "<polyline" in svg
    timeline.note_events([{"lifecycleEventName": "Install", "status": "Succeeded", "startTime": 1, "endTime": 2},
                          {"lifecycleEventName": "AfterInstall", "status": "Skipped", "startTime": 1}], 3.0)
    assert timeline.events["Install ended"] == 3.0 and "AfterInstall started" not in timeline.events
    text = views.deployment_text(seconds, timeline, Traffic("http://127.0.0.1:9/", seconds=seconds))
    assert "Stopped  alarm ALARM" in text and "Install ended @3s" in text


@pytest.mark.slow
def test_a_build_is_watched_until_it_completes(labstack: LabstackProcess, capsys: pytest.CaptureFixture[str]) -> None:
    account = "323232323232"
    build_role(labstack.client("iam", account=account))
    codebuild = labstack.client("codebuild", account=account)
    codebuild.create_project(name="viewed", source={"type": "NO_SOURCE", "buildspec": buildspec(
        {"build": {"commands": ["echo first line", "echo last line"]}})}, artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=role_arn(account))
    build_id = codebuild.start_build(projectName="viewed")["build"]["id"]
    session = LabSession.for_key(Backend("embedded", labstack.endpoint), account)
    build = views.watch_build(session, build_id, timeout=60)
    assert build["buildStatus"] == "SUCCEEDED"
    shown = capsys.readouterr().out
    assert "BUILD" in shown and "SUCCEEDED" in shown
    page = views.build_html(build, views.build_log(session, build))
    assert "last line" in page and "<caption" in page


