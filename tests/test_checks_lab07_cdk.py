"""Lab 07's CDK checks (section 8), proven by mutation: a stack no CDK synthesized, a CDK stack whose pipeline never
updated itself (a small account, the kit's app synthesized without production), and, in the solved account, the
CDK pipeline's change set stage without its execute action (changed by hand and put back)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.backends import LabSession
from grader.checks import lab07
from tests.support.cdk import synthesize, template
from tests.support.grading import session_for
from tests.support.later_labs import assert_fails, assert_passes, pipeline_changed, solved_through
from tests.support.mutations import breaks
from tests.support.server import LabstackProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("solved-account")]
WAIT = {"Delay": 1, "MaxAttempts": 240}


def _create(session: LabSession, body: dict[str, Any]) -> None:
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(StackName=lab07.CDK_STACK, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=lab07.CDK_STACK, WaiterConfig=WAIT)


@breaks("cdk-stack")
def test_a_stack_no_cdk_synthesized(sampleapp_labstack: LabstackProcess) -> None:
    small = session_for(sampleapp_labstack)
    assert_fails(small, lab07, "cdk-stack", f"there is no stack {lab07.CDK_STACK}")
    _create(small, {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
    assert_fails(small, lab07, "cdk-stack", "not synthesized by the CDK")


@breaks("cdk-mutated")
def test_a_cdk_pipeline_that_never_updated_itself(sampleapp_labstack: LabstackProcess, tmp_path: Path) -> None:
    """The kit's app (no production, no staging) deployed as it is: the stack and its self-mutating stage pass, the
    mutation has not happened."""
    synth = synthesize({"stack_name": lab07.CDK_STACK, "branch": lab07.CDK_BRANCH}, tmp_path)
    small = session_for(sampleapp_labstack)
    _create(small, template(synth, tmp_path, lab07.CDK_STACK))
    assert_passes(small, lab07, "cdk-stack", "cdk-self-mutating")
    assert_fails(small, lab07, "cdk-mutated", "has not updated itself yet")


@pytest.fixture(scope="module")
def solved(sampleapp_labstack: LabstackProcess) -> LabSession:
    """This worker's solved account, with labs 01–07 done (shared with lab 07's other tests)."""
    return solved_through(sampleapp_labstack, 7)


@breaks("cdk-self-mutating")
def test_a_cdk_pipeline_that_prepares_its_change_set_but_never_executes_it(solved: LabSession) -> None:
    def drop_execute(declaration: dict[str, Any]) -> None:
        for stage in declaration["stages"]:
            stage["actions"] = [a for a in stage["actions"]
                                if a.get("configuration", {}).get("ActionMode") != "CHANGE_SET_EXECUTE"]

    name = lab07.cdk_pipeline(solved)["name"]
    with pipeline_changed(solved, drop_execute, name):
        assert_fails(solved, lab07, "cdk-self-mutating", "CHANGE_SET_EXECUTE", still=("cdk-stack",))
    assert_passes(solved, lab07, "cdk-self-mutating", "cdk-mutated")
