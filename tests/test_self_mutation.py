"""Self-mutation: lab 07's CDK pipeline deploys its own stack. Its stage UpdatePipeline makes a change set of
the pipeline's stack from the template committed in the repository (CloudFormation action CHANGE_SET_REPLACE,
runOrder 1) and executes it (CHANGE_SET_EXECUTE, runOrder 2). A real git push of a template with one more test
action changes the pipeline through the pipeline: the execution that updated it ends Cancelled once its running
action has finished, the pipeline (RestartExecutionOnUpdate) starts again, and that execution runs the new Test
stage. Every resource is made by labstack's own CloudFormation, every build really runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cdk import synthesize, template
from tests.support.gitcli import commit, git
from tests.support.grading import session_for
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

STACK = "selfmut-pipeline"
SETTINGS: dict[str, Any] = {"stack_name": STACK, "prefix": "selfmut", "repository": "selfmut-app", "branch": "main",
                            "template_path": f"cdk.out/{STACK}.template.json"}
WITH_SCAN = {**SETTINGS, "tests": [["UnitTests", "buildspec-unit.yml"], ["Lint", "buildspec-lint.yml"],
                                   ["SecurityScan", "buildspec-security.yml"]]}
ECHO = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo {what}\n"
APP = {"buildspec.yml": ECHO.format(what="build") + "artifacts:\n  files:\n    - buildspec.yml\n",
       **{f"buildspec-{n}.yml": ECHO.format(what=n) for n in ("unit", "lint", "security")}}
DONE = ("Succeeded", "Failed", "Stopped", "Cancelled", "Superseded")


def _executions(codepipeline: Any, name: str) -> list[dict]:
    """The pipeline's executions, oldest first."""
    return list(reversed(codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]))


def _ended(codepipeline: Any, name: str, count: int) -> list[dict] | None:
    """The first ``count`` executions once each has ended (None before)."""
    found = _executions(codepipeline, name)
    return found[:count] if len(found) >= count and all(e["status"] in DONE for e in found[:count]) else None


def _actions(codepipeline: Any, name: str, execution: str) -> dict[tuple[str, str], str]:
    """(stage, action) -> status of one execution's actions."""
    details = codepipeline.list_action_executions(pipelineName=name, filter={"pipelineExecutionId": execution})
    return {(d["stageName"], d["actionName"]): d["status"] for d in details["actionExecutionDetails"]}


def test_a_pushed_template_changes_the_pipeline_through_the_pipeline(pipeline_labstack: LabstackProcess, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html (the action
    modes), https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecution.html ("Cancelled: The
    pipeline's definition was updated before the pipeline execution could be completed"),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codepipeline-pipeline.html
    (RestartExecutionOnUpdate: rerun the pipeline after an update, which the CDK's Pipeline sets)."""
    first_synth, second_synth = synthesize(SETTINGS, tmp_path / "v1"), synthesize(WITH_SCAN, tmp_path / "v2")
    session = session_for(pipeline_labstack)
    codecommit, codepipeline = session.client("codecommit"), session.client("codepipeline")
    cloudformation = session.client("cloudformation")
    url = codecommit.create_repository(repositoryName="selfmut-app")["repositoryMetadata"]["cloneUrlHttp"]
    first, second = template(first_synth, tmp_path / "v1", STACK), template(second_synth, tmp_path / "v2", STACK)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "--quiet")
    commit(work, {**APP, SETTINGS["template_path"]: _text(first)}, "the pipeline as code")
    git(work, "push", "--quiet", url, "HEAD:main")

    cloudformation.create_stack(StackName=STACK, TemplateBody=_text(first), Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    name = codepipeline.list_pipelines()["pipelines"][0]["name"]
    [run] = wait_for(lambda: _ended(codepipeline, name, 1), seconds=240)
    assert run["status"] == "Succeeded", run  # its own change set changed nothing: the run went on to Test
    assert _actions(codepipeline, name, run["pipelineExecutionId"])[("UpdatePipeline", "ExecuteChanges")] == "Succeeded"

    pushed = commit(work, {SETTINGS["template_path"]: _text(second)}, "a security scan in the Test stage")
    git(work, "push", "--quiet", url, "HEAD:main")  # the stack's EventBridge rule starts the pipeline
    _, mutating, restarted = wait_for(lambda: _ended(codepipeline, name, 3), seconds=300)
    assert mutating["status"] == "Cancelled" and mutating["sourceRevisions"][0]["revisionId"] == pushed, mutating
    ran = _actions(codepipeline, name, mutating["pipelineExecutionId"])
    assert ran[("UpdatePipeline", "ExecuteChanges")] == "Succeeded" and ("Test", "UnitTests") not in ran
    assert restarted["status"] == "Succeeded", restarted  # started by CloudFormation's update, not by a push
    tests = {a for (stage, a), status in _actions(codepipeline, name, restarted["pipelineExecutionId"]).items()
             if stage == "Test" and status == "Succeeded"}
    assert tests == {"UnitTests", "Lint", "SecurityScan"}
    assert cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def _text(template_body: dict) -> str:
    return json.dumps(template_body, indent=1)
