"""Helpers for the CodePipeline tests: declarations, a lab of clients for one account,
and waiting for executions."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

from tests.support.codebuild import ENVIRONMENT, buildspec, new_account
from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.waiting import wait_for

DONE = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")


def action(name: str, category: str, provider: str, configuration: dict | None = None, inputs: tuple = (),
           outputs: tuple = (), run_order: int = 1, owner: str = "AWS", **extra: Any) -> dict:
    """An ``ActionDeclaration``."""
    return {"name": name, "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": "1"},
            "runOrder": run_order, "configuration": configuration or {},
            "inputArtifacts": [{"name": n} for n in inputs], "outputArtifacts": [{"name": n} for n in outputs], **extra}


def s3_source(bucket: str, key: str = "source.zip", output: str = "src", **config: str) -> dict:
    return action("Source", "Source", "S3", {"S3Bucket": bucket, "S3ObjectKey": key, "PollForSourceChanges": "false", **config},
                  outputs=(output,))


def build(name: str, project: str, inputs: tuple = ("src",), outputs: tuple = (), category: str = "Build", **extra: Any) -> dict:
    return action(name, category, "CodeBuild", {"ProjectName": project}, inputs=inputs, outputs=outputs, **extra)


def stage(name: str, *actions: dict) -> dict:
    return {"name": name, "actions": list(actions)}


def zipped(files: dict[str, str]) -> bytes:
    """A zip archive of ``files``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


class PipelineLab:
    """Clients of one fresh account, an artifact bucket and a versioned source bucket."""

    def __init__(self, server: Any, account: str | None = None) -> None:
        self.server = server
        self.account = account or new_account()
        iam = self.client("iam")
        # labstack enforces IAM: the pipeline acts as a role that exists and trusts CodePipeline (and
        # EventBridge, which starts the pipeline as it in the trigger tests); builds act as build-role.
        self.role = service_role(iam, "pipeline-role", "codepipeline.amazonaws.com", "events.amazonaws.com")
        self.build_role = service_role(iam, "build-role", "codebuild.amazonaws.com")
        self.codepipeline = check_responses(server.client("codepipeline", account=self.account))
        self.codebuild = check_responses(server.client("codebuild", account=self.account))
        self.s3 = self.client("s3")
        self.bucket = f"artifacts-{self.account}"
        self.sources = f"sources-{self.account}"
        for bucket in (self.bucket, self.sources):
            self.s3.create_bucket(Bucket=bucket)
        self.s3.put_bucket_versioning(Bucket=self.sources, VersioningConfiguration={"Status": "Enabled"})

    def client(self, service: str, validate: bool = True) -> Any:
        return self.server.client(service, account=self.account, validate=validate)

    def source(self, files: dict[str, str], key: str = "source.zip") -> str:
        """Upload a source zip; its version id."""
        return self.s3.put_object(Bucket=self.sources, Key=key, Body=zipped(files))["VersionId"]

    def project(self, name: str, commands: list[str], **sections: Any) -> None:
        """A CodeBuild project for pipelines: CODEPIPELINE source and artifacts, an inline buildspec."""
        self.codebuild.create_project(name=name, source={"type": "CODEPIPELINE", "buildspec": buildspec({"build": {"commands": commands}}, **sections)},
                                      artifacts={"type": "CODEPIPELINE"}, environment=ENVIRONMENT,
                                      serviceRole=self.build_role)

    def declaration(self, name: str, *stages: dict, **extra: Any) -> dict:
        return {"name": name, "roleArn": self.role, "artifactStore": {"type": "S3", "location": self.bucket},
                "stages": list(stages), **extra}

    def create(self, name: str, *stages: dict, **extra: Any) -> dict:
        """Create the pipeline and wait until the execution its creation starts has ended."""
        created = self.codepipeline.create_pipeline(pipeline=self.declaration(name, *stages, **extra))["pipeline"]
        first = self.wait_for_executions(name, 1)[0]
        self.wait(name, first["pipelineExecutionId"])
        return created

    def wait_for_executions(self, name: str, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} has {len(found)} executions, not {count}, after {timeout} s")
            time.sleep(0.05)

    def wait_for_revision(self, name: str, revision: str, timeout: float = 20) -> dict:
        """The summary of the execution that runs ``revision``. Events reach EventBridge
        asynchronously, so a late event of an earlier push may start an execution of its own first."""
        def running() -> dict | None:
            found = self.codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
            return next((e for e in found if any(r.get("revisionId") == revision for r in e.get("sourceRevisions", []))), None)

        return wait_for(running, seconds=timeout)

    def execution(self, name: str, execution_id: str) -> dict:
        return self.codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)["pipelineExecution"]

    def wait(self, name: str, execution_id: str, statuses: tuple = DONE, timeout: float = 40) -> dict:
        """Poll until the execution's status is one of ``statuses``; the execution."""
        deadline = time.monotonic() + timeout
        while True:
            execution = self.execution(name, execution_id)
            if execution["status"] in statuses:
                return execution
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {execution_id} still {execution['status']} after {timeout} s")
            time.sleep(0.05)

    def run(self, name: str, timeout: float = 40, **request: Any) -> dict:
        """Start an execution and wait for it to end."""
        started = self.codepipeline.start_pipeline_execution(name=name, **request)["pipelineExecutionId"]
        return self.wait(name, started, timeout=timeout)

    def actions(self, name: str, execution_id: str) -> dict[str, dict]:
        """The action executions of one pipeline execution, by action name (the latest of each)."""
        details = self.codepipeline.list_action_executions(pipelineName=name, filter={"pipelineExecutionId": execution_id})
        found: dict[str, dict] = {}
        for detail in reversed(details["actionExecutionDetails"]):
            found[detail["actionName"]] = detail
        return found

    def action_state(self, name: str, stage_name: str, action_name: str) -> dict:
        states = self.codepipeline.get_pipeline_state(name=name)["stageStates"]
        found = next(s for s in states if s["stageName"] == stage_name)
        return next(a for a in found["actionStates"] if a["actionName"] == action_name)
