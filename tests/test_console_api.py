"""The console's pages and JSON API: a pipeline waiting for approval, its build, a Lambda
deployment, the inbox and the account's resources, as the console shows them; answering the
approval through the API lets the pipeline go on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support.bluegreen import zipped
from tests.support.browser_console import PIPELINE, call, gated_pipeline, get
from tests.support.codepipeline import PipelineLab
from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

APP = "def handler(event, context):\n    return '{version}'\n"


@pytest.fixture(scope="module")
def lab(labstack: LabstackProcess) -> PipelineLab:
    return PipelineLab(labstack)


@pytest.fixture(scope="module")
def execution(lab: PipelineLab) -> str:
    return gated_pipeline(lab)


@pytest.fixture(scope="module")
def deployment(lab: PipelineLab) -> str:
    """A finished Lambda deployment (alias ``live`` moved from version 1 to 2) in the lab's account."""
    lam, cd = lab.client("lambda"), lab.client("codedeploy")
    role = service_role(lab.client("iam"), "deployer", "codedeploy.amazonaws.com", "lambda.amazonaws.com")
    lam.create_function(FunctionName="api", Runtime="python3.12", Role=role, Handler="hook.handler",
                        Code={"ZipFile": zipped(APP.format(version="one"))}, Publish=True)
    lam.update_function_code(FunctionName="api", ZipFile=zipped(APP.format(version="two")), Publish=True)
    lam.create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    cd.create_application(applicationName="fn", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="fn", deploymentGroupName="fn-group", serviceRoleArn=role,
                               deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
                               deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    spec = {"version": 0.0, "Resources": [{"api": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "api", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}]}
    deployment_id = cd.create_deployment(applicationName="fn", deploymentGroupName="fn-group", revision={
        "revisionType": "String", "string": {"content": json.dumps(spec)}})["deploymentId"]
    wait_for(lambda: cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"] == "Succeeded", seconds=40)
    return deployment_id


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_console_page_and_its_assets_are_served_by_labstack(labstack: LabstackProcess) -> None:
    for path in ("/_labstack/", "/_labstack", "/_labstack/console/"):
        status, headers, body = fetch(labstack.endpoint + path)
        assert status == 200 and headers["Content-Type"].startswith("text/html"), path
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    page = body.decode()
    for asset, kind in (("console.css", "text/css"), ("console.js", "text/javascript"), ("favicon.svg", "image/svg+xml")):
        assert f'"/_labstack/console/{asset}"' in page
        status, headers, _ = fetch(f"{labstack.endpoint}/_labstack/console/{asset}")
        assert status == 200 and headers["Content-Type"].startswith(kind)
    for missing in ("/_labstack/console/nothing.js", "/_labstack/console/..%2Fapp.py", "/_labstack/console/app.py"):
        assert fetch(labstack.endpoint + missing)[0] == 404, missing
    status, _, body = fetch(labstack.endpoint + "/_labstack/health")
    assert status == 200 and json.loads(body)["edition"] == "labstack"
    assert fetch(labstack.endpoint + "/_labstack/status")[0] == 200


def test_the_pipeline_shows_its_stages_state_and_history(lab: PipelineLab, execution: str) -> None:
    listed = get(lab.server.endpoint, "pipelines", lab.account)["pipelines"]
    assert [(p["name"], p["latestExecution"]["pipelineExecutionId"], p["latestExecution"]["status"]) for p in listed] == [
        (PIPELINE, execution, "InProgress")]
    shown = get(lab.server.endpoint, f"pipelines/{PIPELINE}", lab.account)
    assert [s["name"] for s in shown["pipeline"]["stages"]] == ["Source", "Build", "Approve"]
    states = {s["stageName"]: s for s in shown["state"]["stageStates"]}
    assert states["Build"]["latestExecution"]["status"] == "Succeeded"
    assert states["Build"]["inboundTransitionState"]["enabled"] is True
    review = states["Approve"]["actionStates"][0]["latestExecution"]
    assert review["status"] == "InProgress" and review["token"]
    assert [e["pipelineExecutionId"] for e in shown["executions"]] == [execution]


def test_a_build_shows_its_phases_and_log(lab: PipelineLab, execution: str) -> None:
    builds = get(lab.server.endpoint, "builds", lab.account)
    assert builds["projects"] == ["unit"]
    (listed,) = builds["builds"]
    assert (listed["projectName"], listed["buildStatus"], listed["initiator"]) == ("unit", "SUCCEEDED", f"codepipeline/{PIPELINE}")
    shown = get(lab.server.endpoint, f"builds/{listed['id']}", lab.account)
    phases = [p["phaseType"] for p in shown["build"]["phases"]]
    assert phases[0] == "SUBMITTED" and "BUILD" in phases and phases[-1] == "COMPLETED"
    assert "unit tests pass" in shown["log"]


def test_a_deployment_shows_its_lifecycle_events_and_the_alias_weights(lab: PipelineLab, deployment: str) -> None:
    listed = get(lab.server.endpoint, "deployments", lab.account)["deployments"]
    assert [(d["deploymentId"], d["applicationName"], d["status"]) for d in listed] == [(deployment, "fn", "Succeeded")]
    shown = get(lab.server.endpoint, f"deployments/{deployment}", lab.account)
    assert shown["deployment"]["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    (target,) = shown["targets"]
    function = target["lambdaTarget"]["lambdaFunctionInfo"]
    assert (function["functionAlias"], function["currentVersion"], function["targetVersion"]) == ("live", "1", "2")
    events = [e["lifecycleEventName"] for e in target["lambdaTarget"]["lifecycleEvents"]]
    assert "AllowTraffic" in events
    assert shown["listeners"] == []  # a Lambda deployment moves no load balancer


def test_the_resources_of_each_account_are_counted(lab: PipelineLab, execution: str) -> None:
    accounts = get(lab.server.endpoint, "accounts", lab.account)["accounts"]
    resources = accounts[lab.account]["resources"]
    assert resources["codepipeline"] == 1 and resources["s3"] == 2 and resources["sns"] >= 1


def test_bad_requests_get_a_json_error(lab: PipelineLab, execution: str) -> None:
    assert call(lab.server.endpoint, "pipelines", "12345")[0] == 400
    status, answer = call(lab.server.endpoint, "pipelines/nothing-here", lab.account)
    assert status == 404 and answer["error"] == "PipelineNotFoundException"
    assert call(lab.server.endpoint, "nothing", lab.account)[0] == 404
    approval: dict[str, Any] = {"pipelineName": PIPELINE, "stageName": "Approve", "actionName": "Review",
                                "token": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "status": "Approved"}
    # text/plain is what a cross-site form can send: refused before the console reads it (tests/test_web_attacks.py)
    assert call(lab.server.endpoint, "approvals", lab.account, approval, content_type="text/plain")[0] == 403
    assert call(lab.server.endpoint, "approvals", lab.account, {**approval, "status": "Maybe"})[0] == 400
    status, answer = call(lab.server.endpoint, "approvals", lab.account, approval)
    assert status == 400 and answer["error"] == "InvalidApprovalTokenException"


def test_the_inbox_offers_the_approval_and_answering_it_lets_the_pipeline_go_on(lab: PipelineLab, execution: str) -> None:
    (mail,) = get(lab.server.endpoint, "inbox", lab.account)["messages"]
    assert mail["subject"] == f"APPROVAL NEEDED: AWS CodePipeline {PIPELINE} for action Review"
    approval = mail["approval"]
    assert (approval["pipelineName"], approval["stageName"], approval["actionName"], approval["pending"]) == (
        PIPELINE, "Approve", "Review", True)
    status, answer = call(lab.server.endpoint, "approvals", lab.account,
                          {**{k: approval[k] for k in ("pipelineName", "stageName", "actionName", "token")},
                           "status": "Approved", "summary": "ship it"})
    assert status == 200 and answer["status"] == "Approved" and answer["approvedAt"]
    assert lab.wait(PIPELINE, execution)["status"] == "Succeeded"
    assert lab.actions(PIPELINE, execution)["Review"]["output"]["executionResult"]["externalExecutionSummary"] == "ship it"
    (mail,) = get(lab.server.endpoint, "inbox", lab.account)["messages"]
    assert mail["approval"]["pending"] is False
    raw = json.loads(urllib.request.urlopen(f"{lab.server.endpoint}/_labstack/inbox?account={lab.account}", timeout=10).read())
    assert "approval" not in raw["messages"][0]  # the console annotates a copy, never the inbox itself
