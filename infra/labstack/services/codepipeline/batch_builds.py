"""The CodeBuild action with ``BatchEnabled``: a batch build of the project instead of one build.

As AWS's "CodePipeline integration with CodeBuild and batch builds" sample describes, each output
artifact is named for what it holds: ``<build identifier>`` for a build's primary artifact and
``<build identifier>_<artifact identifier>`` for one of its secondary artifacts. With
``CombineArtifacts`` the action has one output artifact, the primary artifacts of every build
combined into one zip (a folder per build identifier).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labstack.errors import AwsError
from labstack.services.codebuild.batches import failed_phase
from labstack.services.codepipeline import acting, build_artifacts
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed, ActionJob

POLL = 0.05


def _true(value: str | None) -> bool:
    return (value or "false").lower() == "true"


def _failure(batch: dict) -> str:
    phase, code, message = failed_phase(batch)
    return (f"Build batch terminated with state: {batch['buildBatchStatus']}. Phase: {phase}, Code: {code}, "
            f"Message: {message}")


def run(job: ActionJob, codebuild: Any, source: build_artifacts.Reader, overrides: dict,
        refused: Callable[[str], Any]) -> dict[str, str]:
    """Run a batch build of the action's project on ``source`` (the primary input, which its builds read as their
    role) with the action's ``overrides``; wait for it; its builds' stored artifacts become the action's output
    artifacts. ``refused(call)`` words an AccessDeniedException as CodePipeline reports it."""
    config = job.configuration
    outputs = job.output_names()
    combine = _true(config.get("CombineArtifacts"))
    if combine and len(outputs) > 1:
        raise ActionFailed("With CombineArtifacts the CodeBuild action has one output artifact, the combined artifacts "
                           f"of the batch; it declares {len(outputs)}", "ConfigurationError")
    stored: dict[str, dict[str, str]] = {}

    def per_build(identifier: str) -> dict:
        """A build's artifacts: CODEPIPELINE for those an output artifact is named for."""
        prefix = f"{identifier}_"
        secondary = [] if combine else [name[len(prefix):] for name in outputs if name.startswith(prefix)]
        return {"artifactsOverride": {"type": "CODEPIPELINE" if combine or identifier in outputs else "NO_ARTIFACTS"},
                "secondaryArtifactsOverride": [{"type": "CODEPIPELINE", "artifactIdentifier": s} for s in secondary]}

    project = config["ProjectName"]
    acting.authorize(job, "codebuild", "StartBuildBatch", {"projectName": project}, refused("startBuildBatch"))
    try:
        batch = codebuild.start_pipeline_batch(
            job.account, job.region, project, job.pipeline.name, source,
            build_artifacts.writer(job, stored, lambda name: outputs[0] if name is None else name), per_build, combine, overrides)
    except AwsError as exc:
        raise ActionFailed(f"Error calling startBuildBatch: {exc.message} (Service: AWSCodeBuild; Error Code: {exc.code})",
                           "ConfigurationError") from None
    job.update(external_id=batch.batch_id,
               external_url=(f"https://{job.region}.console.aws.amazon.com/codesuite/codebuild/projects/{project}/"
                             f"batch/{batch.batch_id.replace(':', '%3A')}"))
    while not batch.done.wait(POLL):
        if job.cancel.is_set():
            raise Abandoned()
    acting.authorize(job, "codebuild", "BatchGetBuildBatches", {"ids": [batch.batch_id]}, refused("batchGetBuildBatches"))
    record = batch.snapshot()
    if record["buildBatchStatus"] != "SUCCEEDED":
        raise ActionFailed(_failure(record))
    build_artifacts.hand_on(job, stored, "The batch produced no artifact for output artifact {name}: name it for a "
                            "build identifier, or <build identifier>_<secondary artifact identifier>")
    return {}
