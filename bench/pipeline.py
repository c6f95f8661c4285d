"""CodePipeline figure: a two-stage pipeline (S3 source → CodeBuild build of ``echo hi``) from
start_pipeline_execution to Succeeded, beside the sum of its actions' own work run directly
(the source object read from S3, and the same build started with start_build)."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from typing import Any

from bench.core import Figure, Options, client, start_warm
from bench.measure import summary
from bench.servers import LABSTACK

COMMAND = "echo hi"
BUCKET = "bench-pipeline-artifacts"
SOURCES = "bench-pipeline-sources"
KEY = "source.zip"
PIPELINE = "bench-pipeline"
ROLE = "arn:aws:iam::123456789012:role/bench"
POLL_SECONDS = 0.005
WARMUP_RUNS = 2
ENVIRONMENT = {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"}
SPEC = f"version: 0.2\nphases:\n  build:\n    commands:\n      - {COMMAND}\n"


def _set_up(s3: Any, codebuild: Any, codepipeline: Any) -> None:
    for bucket in (BUCKET, SOURCES):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=SOURCES, VersioningConfiguration={"Status": "Enabled"})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("app.txt", "hello")
    s3.put_object(Bucket=SOURCES, Key=KEY, Body=archive.getvalue())
    codebuild.create_project(name="bench-piped", serviceRole=ROLE, environment=ENVIRONMENT,
                             source={"type": "CODEPIPELINE", "buildspec": SPEC}, artifacts={"type": "CODEPIPELINE"})
    codebuild.create_project(name="bench-direct", serviceRole=ROLE, environment=ENVIRONMENT,
                             source={"type": "NO_SOURCE", "buildspec": SPEC}, artifacts={"type": "NO_ARTIFACTS"})
    source = {"name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
              "configuration": {"S3Bucket": SOURCES, "S3ObjectKey": KEY, "PollForSourceChanges": "false"},
              "outputArtifacts": [{"name": "src"}]}
    build = {"name": "Build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
             "configuration": {"ProjectName": "bench-piped"}, "inputArtifacts": [{"name": "src"}]}
    codepipeline.create_pipeline(pipeline={
        "name": PIPELINE, "roleArn": ROLE, "artifactStore": {"type": "S3", "location": BUCKET},
        "stages": [{"name": "Source", "actions": [source]}, {"name": "Build", "actions": [build]}]})
    first = codepipeline.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0]
    _wait_execution(codepipeline, first["pipelineExecutionId"])  # the run that creating the pipeline starts


def _wait_execution(codepipeline: Any, execution_id: str) -> None:
    while True:
        status = codepipeline.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)["pipelineExecution"]["status"]
        if status == "Succeeded":
            return
        if status != "InProgress":
            raise RuntimeError(f"bench pipeline execution {execution_id} ended {status}")
        time.sleep(POLL_SECONDS)


def _one_execution(codepipeline: Any) -> float:
    started = time.perf_counter()
    _wait_execution(codepipeline, codepipeline.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"])
    return time.perf_counter() - started


def _actions_directly(s3: Any, codebuild: Any) -> float:
    """The pipeline's work without the pipeline: read the source, run the build."""
    started = time.perf_counter()
    s3.get_object(Bucket=SOURCES, Key=KEY)["Body"].read()
    build_id = codebuild.start_build(projectName="bench-direct")["build"]["id"]
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"]:
            if build["buildStatus"] != "SUCCEEDED":
                raise RuntimeError(f"bench build {build_id} ended {build['buildStatus']}")
            return time.perf_counter() - started
        time.sleep(POLL_SECONDS)


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """The pipeline figure on a fresh labstack; the reference is its actions' work run directly."""
    count = max(options.repeat * 2, 10)
    with start_warm(LABSTACK) as lab:
        s3, codebuild, codepipeline = client(lab, "s3"), client(lab, "codebuild"), client(lab, "codepipeline")
        _set_up(s3, codebuild, codepipeline)
        for _ in range(WARMUP_RUNS):
            _one_execution(codepipeline)
            _actions_directly(s3, codebuild)
        piped, direct = [], []
        for _ in range(count):  # taking turns, so drift on the machine hits both alike
            piped.append(_one_execution(codepipeline))
            direct.append(_actions_directly(s3, codebuild))
        progress("CodePipeline two-stage execution")
    piped_s, direct_s = summary(piped), summary(direct)
    method = (f"{count} runs after {WARMUP_RUNS} warm-up, taking turns; polled every {POLL_SECONDS * 1000:g} ms; reference: "
              "GetObject of the source zip + start_build -> COMPLETED of the same buildspec")
    return [
        Figure("codepipeline_two_stage_p50_s", "CodePipeline S3 source -> CodeBuild `echo hi`, start -> Succeeded p50 "
               "(reference: the same actions run directly)", "s", piped_s["p50"], direct_s["p50"],
               detail={"method": method, "pipeline_s": piped_s, "direct_s": direct_s}),
        Figure("codepipeline_two_stage_p95_s", "CodePipeline two-stage execution p95 (reference: the same actions run directly)",
               "s", piped_s["p95"], direct_s["p95"]),
    ]
