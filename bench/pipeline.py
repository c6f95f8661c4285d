"""CodePipeline figures.

- A two-stage pipeline (S3 source → CodeBuild build of ``echo hi``) from
  start_pipeline_execution to Succeeded, beside the sum of its actions' own work run directly
  (the source object read from S3, and the same build started with start_build).
- The seed's pipeline with trivial build commands and an AllAtOnce production deploy: a git push
  to the Approval action in progress, and the approval to Succeeded, each beside the sum of the
  durations its actions report (list_action_executions), which shows the engine's overhead.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labstack.config import Settings

from bench.core import Figure, Options, client, start_warm
from bench.measure import summary
from bench.servers import HOST, LABSTACK, Server, healthy_labstack
from tests.support.codepipeline import PipelineLab
from tests.support.codepipeline_seed import SeedWorld
from tests.support.gitcli import commit, git
from tests.support.sampleapp import app_copy
from tests.support.server import LabstackProcess

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


def _two_stage(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """The two-stage figure on a fresh labstack; the reference is its actions' work run directly."""
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


# -- the seed's pipeline, trivial builds ---------------------------------------------------
SEED_ACCOUNT = "181818181818"
SEED_PIPELINE = "app-pipeline"
SEED_POLL_SECONDS = 0.02
SEED_TIMEOUT = 120.0
BEFORE_APPROVAL = ("Source", "Build", "Test", "Deploy_Staging")
# The Build project's buildspec, trivial: it ships the image already in ECR (``first``) and the deploy files.
TRIVIAL_BUILD = """version: 0.2
phases:
  build:
    commands:
      - ACCOUNT_ID=$(echo $CODEBUILD_BUILD_ARN | cut -d':' -f5)
      - printf '[{"name":"app","imageUri":"%s"}]' $ECR_REPO:first > imagedefinitions.json
      - printf '{"ImageURI":"%s"}' $ECR_REPO:first > imageDetail.json
      - sed -i -e "s|<ACCOUNT_ID>|$ACCOUNT_ID|g" -e "s|<AWS_REGION>|$AWS_REGION|g" taskdef.json
artifacts:
  files: [imagedefinitions.json, imageDetail.json, taskdef.json, appspec.yaml]
  discard-paths: yes
"""
TRIVIAL_CHECK = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo checked\n"


def _poll(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.perf_counter() + SEED_TIMEOUT
    while time.perf_counter() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(SEED_POLL_SECONDS)
    raise RuntimeError(f"bench seed pipeline: {what} not within {SEED_TIMEOUT:g} s")


def _seconds(detail: dict) -> float:
    return (detail["lastUpdateTime"] - detail["startTime"]).total_seconds()


def _critical_path(details: list[dict], stages: list[dict]) -> float:
    """The actions' own durations along the path: per stage and runOrder group, its longest action."""
    orders = {(s["name"], a["name"]): a.get("runOrder", 1) for s in stages for a in s["actions"]}
    longest: dict[tuple[str, int], float] = {}
    for detail in details:
        group = (detail["stageName"], orders[(detail["stageName"], detail["actionName"])])
        longest[group] = max(longest.get(group, 0.0), _seconds(detail))
    return sum(longest.values())


@dataclass
class SeedSpans:
    """One push's figures, in seconds."""

    to_approval: float      # git push started -> the Approval action InProgress
    path_before: float      # the actions' own durations before the approval, along the path
    sum_before: float       # the same, every action counted (the Test stage's two run side by side)
    push: float             # the git push command itself
    to_succeeded: float     # put_approval_result -> execution Succeeded
    production: float       # Deploy_Production's own duration


class SeedRun:
    """The seed's pipeline (SeedWorld) in one account, started by pushes of a sample app whose
    buildspecs are trivial."""

    def __init__(self, server: Server, folder: Path) -> None:
        pid = server.proc.pid if server.proc is not None else 0
        self.lab = PipelineLab(LabstackProcess(Settings(host=HOST, port=server.port, home=server.home), pid), SEED_ACCOUNT)
        self.world = SeedWorld(self.lab, folder)
        self.cp = self.lab.codepipeline
        self.work = app_copy(folder / "work")
        for spec, text in (("buildspec.yml", TRIVIAL_BUILD), ("buildspec-unit.yml", TRIVIAL_CHECK),
                           ("buildspec-security.yml", TRIVIAL_CHECK)):
            (self.work / spec).write_text(text)
        git(self.work, "init", "--quiet")
        self.repo = f"org{SEED_ACCOUNT}/sample-app"
        self.stages = self.cp.create_pipeline(pipeline=self.world.pipeline(self.repo))["pipeline"]["stages"]
        first = self.lab.wait_for_executions(SEED_PIPELINE, 1)[0]["pipelineExecutionId"]
        self.lab.wait(SEED_PIPELINE, first)  # fails: nothing pushed yet
        self.pushes = 0

    def _execution_ids(self) -> list[str]:
        listed = self.cp.list_pipeline_executions(pipelineName=SEED_PIPELINE)["pipelineExecutionSummaries"]
        return [e["pipelineExecutionId"] for e in listed]

    def _waiting_token(self, execution_id: str) -> str | None:
        execution = self.lab.execution(SEED_PIPELINE, execution_id)
        if execution["status"] != "InProgress":
            raise RuntimeError(f"bench seed execution ended {execution['status']}: {execution.get('statusSummary')}")
        state = self.lab.action_state(SEED_PIPELINE, "Approval", "ManualApproval").get("latestExecution", {})
        return state.get("token") if state.get("status") == "InProgress" else None

    def _production_settled(self) -> bool:
        ecs = self.lab.client("ecs")
        return len(ecs.describe_services(cluster="production", services=["app-prod"])["services"][0]["taskSets"]) == 1

    def once(self) -> SeedSpans:
        """Push, wait for the approval, approve, wait for Succeeded."""
        self.pushes += 1
        commit(self.work, {"PUSH.txt": str(self.pushes)}, f"push {self.pushes}")
        known = set(self._execution_ids())
        pushed = time.perf_counter()
        git(self.work, "push", "--quiet", f"{self.lab.server.endpoint}/github/{self.repo}.git", "main")
        push_seconds = time.perf_counter() - pushed
        execution_id = _poll(lambda: next((e for e in self._execution_ids() if e not in known), None),
                             "an execution started by the push")
        token = _poll(lambda: self._waiting_token(execution_id), "the approval waiting")
        to_approval = time.perf_counter() - pushed
        approved = time.perf_counter()
        self.cp.put_approval_result(pipelineName=SEED_PIPELINE, stageName="Approval", actionName="ManualApproval",
                                    result={"summary": "bench", "status": "Approved"}, token=token)
        ended = _poll(lambda: (s := self.lab.execution(SEED_PIPELINE, execution_id)["status"]) != "InProgress" and s,
                      "the execution ending")
        to_succeeded = time.perf_counter() - approved
        if ended != "Succeeded":
            raise RuntimeError(f"bench seed execution ended {ended}")
        details = self.cp.list_action_executions(pipelineName=SEED_PIPELINE, filter={"pipelineExecutionId": execution_id}
                                                 )["actionExecutionDetails"]
        before = [d for d in details if d["stageName"] in BEFORE_APPROVAL]
        production = [d for d in details if d["stageName"] == "Deploy_Production"]
        _poll(self._production_settled, "the production service back to one task set")
        return SeedSpans(to_approval, _critical_path(before, self.stages), sum(_seconds(d) for d in before), push_seconds,
                         to_succeeded, _critical_path(production, self.stages))


def _seed(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """The seed-shaped pipeline on a labstack of its own: one warm-up push, then timed pushes."""
    runs = max(3, min(options.repeat, 5))
    spans: list[SeedSpans] = []
    with healthy_labstack() as server, tempfile.TemporaryDirectory() as folder:
        seed = SeedRun(server, Path(folder))
        seed.once()
        for _ in range(runs):
            spans.append(seed.once())
        progress("CodePipeline seed-shaped pipeline")
    stats = {name: summary([getattr(s, name) for s in spans]) for name in SeedSpans.__dataclass_fields__}
    method = (f"median of {runs} pushes after one warm-up, polled every {SEED_POLL_SECONDS * 1000:g} ms; the clock starts "
              "before the git push command; reference: lastUpdateTime - startTime of the span's action executions, "
              "summed along the path (of actions side by side, the longest)")
    approval = Figure("codepipeline_seed_push_to_approval_s", "Seed pipeline, trivial builds: git push -> Approval "
                      "InProgress, median (reference: its actions' own durations, summed along the path)", "s",
                      stats["to_approval"]["p50"], stats["path_before"]["p50"], target="labstack <= 10 s",
                      detail={"method": method, **stats})
    approval.met = approval.labstack <= 10
    production = Figure("codepipeline_seed_approval_to_succeeded_s", "Seed pipeline: put_approval_result -> Succeeded "
                        "(CodeDeployToECS, ECSAllAtOnce), median (reference: Deploy_Production's own duration)", "s",
                        stats["to_succeeded"]["p50"], stats["production"]["p50"], target="labstack <= 8 s",
                        detail={"method": method})
    production.met = production.labstack <= 8
    return [approval, production]


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """The two-stage figures, then the seed-shaped pipeline's."""
    return _two_stage(options, progress) + _seed(options, progress)
