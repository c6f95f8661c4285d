"""The console as its tests reach it: its JSON API over plain HTTP, and a pipeline that builds
and then waits at a manual approval announced to an email inbox."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.waiting import wait_for

API = "/_labstack/api/"
PIPELINE = "gated"


def call(endpoint: str, path: str, account: str, body: dict[str, Any] | None = None,
         content_type: str = "application/json", query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of a console API call in ``account`` (with ``query`` besides); a POST when
    ``body`` is given."""
    url = f"{endpoint}{API}{path}?{urllib.parse.urlencode({**(query or {}), 'account': account, 'region': 'us-east-1'})}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(endpoint: str, path: str, account: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """A console API answer that must be a 200."""
    status, answer = call(endpoint, path, account, query=query)
    assert status == 200, answer
    return answer


def gated_pipeline(lab: PipelineLab) -> str:
    """Create pipeline ``gated`` (S3 source, a CodeBuild build, a manual approval notifying an
    email subscriber) and wait until its first execution waits for approval; that execution's id."""
    sns = lab.client("sns")
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="lead@example.com")
    lab.source({"app.txt": "v1"})
    lab.project("unit", ["echo unit tests pass"])
    lab.codepipeline.create_pipeline(pipeline=lab.declaration(
        PIPELINE, stage("Source", s3_source(lab.sources)),
        stage("Build", action("Build", "Build", "CodeBuild", {"ProjectName": "unit"}, inputs=("src",))),
        stage("Approve", action("Review", "Approval", "Manual", {"NotificationArn": topic, "CustomData": "Look at staging"}))))
    wait_for(lambda: lab.action_state(PIPELINE, "Approve", "Review").get("latestExecution", {}).get("token"), seconds=40)
    return lab.wait_for_executions(PIPELINE, 1)[0]["pipelineExecutionId"]
