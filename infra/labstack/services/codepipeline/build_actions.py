"""Build and Test actions with CodeBuild: a build of the project whose source is the input
artifact and whose CODEPIPELINE artifacts become the action's output artifacts (the build reads
and writes them as the project's service role: ``build_artifacts``). The build's exported
variables are the action's output variables."""

from __future__ import annotations

import json
from typing import Any

from labstack.errors import AwsError
from labstack.services.codebuild.batches import failed_phase
from labstack.services.codepipeline import acting, batch_builds, build_artifacts
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed, ActionJob

POLL = 0.05


def _codebuild(job: ActionJob):  # type: ignore[no-untyped-def]
    return next(p for p in job.labstack.providers if p.service == "codebuild")


def _overrides(job: ActionJob, primary: str) -> dict:
    overrides: dict = {"sourceTypeOverride": "CODEPIPELINE",
                       "artifactsOverride": {"type": "CODEPIPELINE" if job.output_names() else "NO_ARTIFACTS"}}
    revision = job.execution.artifacts[primary].get("revision")
    if revision:  # the build's CODEBUILD_RESOLVED_SOURCE_VERSION, "the source revision provided by CodePipeline"
        overrides["sourceVersion"] = revision
    raw = job.configuration.get("EnvironmentVariables")
    if raw:
        try:
            declared = json.loads(raw)
            overrides["environmentVariablesOverride"] = [{"name": v["name"], "value": v["value"], "type": v.get("type", "PLAINTEXT")}
                                                         for v in declared]
        except (ValueError, TypeError, KeyError):
            raise ActionFailed("EnvironmentVariables must be a JSON list of objects with name, value and type",
                               "ConfigurationError") from None
    return overrides


def _failure(build: dict) -> str:
    phase, code, message = failed_phase(build)
    return f"Build terminated with state: {build['buildStatus']}. Phase: {phase}, Code: {code}, Message: {message}"


def _refused(call: str) -> Any:
    """How CodePipeline reports CodeBuild's AccessDeniedException for ``call`` (startBuild…)."""
    def failure(sentence: str) -> ActionFailed:
        return ActionFailed(f"Error calling {call}: {sentence} (Service: AWSCodeBuild; Status Code: 400; "
                            "Error Code: AccessDeniedException)")
    return failure


def codebuild(job: ActionJob) -> dict[str, str]:
    """Start the project's build on the input artifact as the action's role and wait for it; the build reads
    and stores the artifacts itself, as the project's service role (``build_artifacts``)."""
    config = job.configuration
    inputs = job.input_names()
    primary = config.get("PrimarySource") or inputs[0]
    if len(inputs) > 1:
        raise ActionFailed("labstack's CodeBuild action takes one input artifact; secondary sources "
                           f"({', '.join(i for i in inputs if i != primary)}) are not handed to builds", "ConfigurationError")
    source = build_artifacts.reader(job, primary)
    if config.get("BatchEnabled", "false").lower() == "true":
        return batch_builds.run(job, _codebuild(job), source, _overrides(job, primary), _refused)
    outputs = job.output_names()
    stored: dict[str, dict[str, str]] = {}
    acting.authorize(job, "codebuild", "StartBuild", {"projectName": config["ProjectName"]}, _refused("startBuild"))
    try:
        build_job = _codebuild(job).start_pipeline_build(
            job.account, job.region, config["ProjectName"], job.pipeline.name, source,
            build_artifacts.writer(job, stored, lambda ident: ident or outputs[0]), _overrides(job, primary))
    except AwsError as exc:
        raise ActionFailed(f"Error calling startBuild: {exc.message} (Service: AWSCodeBuild; Error Code: {exc.code})",
                           "ConfigurationError") from None
    build_id = build_job.build_id
    url = (f"https://{job.region}.console.aws.amazon.com/codesuite/codebuild/projects/{config['ProjectName']}/"
           f"build/{build_id.replace(':', '%3A')}/view/new")
    job.update(external_id=build_id, external_url=url)
    while not build_job.done.wait(POLL):
        if job.cancel.is_set():
            raise Abandoned()
    acting.authorize(job, "codebuild", "BatchGetBuilds", {"ids": [build_id]}, _refused("batchGetBuilds"))
    build = build_job.snapshot()
    if build["buildStatus"] != "SUCCEEDED":
        raise ActionFailed(_failure(build))
    build_artifacts.hand_on(job, stored, "The build produced no artifact for output artifact {name}")
    return {v["name"]: v["value"] for v in build.get("exportedEnvironmentVariables", [])}
