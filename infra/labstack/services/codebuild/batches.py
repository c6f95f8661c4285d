"""Batch builds: StartBuildBatch and its kin, each build of a batch a real build of the build engine.

A batch goes through AWS's batch phases: SUBMITTED, DOWNLOAD_BATCHSPEC (CodeBuild assumes the
project's ``buildBatchConfig.serviceRole``, runs the batch's first build, DOWNLOAD_SOURCE, which downloads
the source as the project's service role, and reads the buildspec's ``batch`` section from that
revision: :mod:`batchspec`), IN_PROGRESS (its builds start as their dependencies allow;
each is a StartBuild of the project the batch role must be allowed to make), COMBINE_ARTIFACTS
(when artifacts are combined) and a last phase named for the outcome: SUCCEEDED, FAILED or STOPPED.
``buildGroups`` reports each build by its identifier, with the builds of earlier tries of a
retried batch in ``priorBuildSummaryList``.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labstack.archives import ArchiveError, extract_zip, write_zip
from labstack.clock import now
from labstack.context import RequestContext
from labstack.enforcement.roles import RoleRefused
from labstack.errors import AwsError
from labstack.protocol.paging import page
from labstack.services.codebuild import batchspec, projects, sources
from labstack.services.codebuild.artifacts import ArtifactError, walk
from labstack.services.codebuild.buildspec import BuildspecError
from labstack.services.codebuild.role import RoleSession
from labstack.services.codebuild.runner import BuildJob
from labstack.services.codebuild.sources import PipelineInput
from labstack.state import AccountRegionStore

if TYPE_CHECKING:
    from labstack.services.codebuild.provider import CodeBuildProvider

log = logging.getLogger("labstack.codebuild")
POLL = 0.05
# Batches one account may have in progress at once (each runs a thread and its builds); past it StartBuildBatch
# and RetryBuildBatch are refused.
MAX_BATCHES = int(os.environ.get("LABSTACK_CODEBUILD_MAX_BATCHES") or 10)
DEFAULT_TIMEOUT_MINUTES = 480  # buildBatchConfig.timeoutInMins when the project sets none (AWS's console default)
# StartBuildBatch members a build of the batch does not take, and those StartBuild spells differently.
_BATCH_ONLY = {"projectName", "idempotencyToken", "buildBatchConfigOverride", "debugSessionEnabled",
               "reportBuildBatchStatusOverride", "buildTimeoutInMinutesOverride"}
_FINAL_PHASE = {"SUCCEEDED": "SUCCEEDED", "STOPPED": "STOPPED", "FAILED": "FAILED", "FAULT": "FAILED",
                "TIMED_OUT": "FAILED"}
PENDING, RUNNING, SKIPPED = "PENDING", "RUNNING", "SKIPPED"
SOURCE_GROUP = batchspec.SOURCE_GROUP
# What the DOWNLOAD_SOURCE build runs: nothing but the download (and no artifacts).
_SOURCE_ONLY = {"buildspecOverride": "version: 0.2\n", "artifactsOverride": {"type": "NO_ARTIFACTS"},
                "secondaryArtifactsOverride": []}

# A pipeline's hand-over of an artifact: (output name, or None for the combined artifact; the zip; the role
# session that stores it in the pipeline's artifact store: the build's, or the batch's for the combined one).
Output = Callable[[str | None, Path, RoleSession], None]


def failed_phase(record: dict[str, Any]) -> tuple[str, str, str]:
    """(phase type, status code, message) of the last phase of a build or batch that did not succeed."""
    failed = next((p for p in reversed(record["phases"]) if p.get("phaseStatus") not in (None, "SUCCEEDED")), {})
    context = (failed.get("contexts") or [{}])[0]
    return failed.get("phaseType", record["currentPhase"]), context.get("statusCode", ""), context.get("message", "")


class _Failed(Exception):
    """A batch phase failed: its context code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Group:
    """One build of the batch: its task, the builds it ran (the last is current) and where it stands."""

    task: batchspec.Task
    jobs: list[BuildJob] = field(default_factory=list)
    state: str = PENDING  # PENDING, RUNNING, SKIPPED or the last build's status

    def view(self, declared: dict) -> dict[str, Any]:
        """The group as BuildGroup: identifier, dependsOn, ignoreFailure and its builds' summaries."""
        group: dict[str, Any] = {"identifier": self.task.identifier, "ignoreFailure": self.task.ignore_failure}
        if self.task.identifier != SOURCE_GROUP:  # as AWS shows it, the first group depends on nothing, not []
            group["dependsOn"] = list(self.task.depend_on)
        if self.jobs:
            group["currentBuildSummary"] = _summary(self.jobs[-1], self.task.identifier, declared)
        if len(self.jobs) > 1:
            group["priorBuildSummaryList"] = [_summary(j, self.task.identifier, declared) for j in self.jobs[:-1]]
        return group


def _summary(job: BuildJob, identifier: str, declared: dict) -> dict[str, Any]:
    """A build as BuildSummary: its ARN, when it was requested, its status and, once complete, its artifacts."""
    build = job.snapshot()
    summary: dict[str, Any] = {"arn": build["arn"], "requestedOn": build["startTime"], "buildStatus": build["buildStatus"]}
    if build["buildComplete"]:
        primary = {"type": (job.artifacts or declared).get("type", "NO_ARTIFACTS"), "identifier": identifier}
        if build["artifacts"].get("location"):
            primary["location"] = build["artifacts"]["location"]
        summary["primaryArtifact"] = primary
        summary["secondaryArtifacts"] = [
            {"type": extra.get("type", "NO_ARTIFACTS"), "identifier": record.get("artifactIdentifier", ""),
             **({"location": record["location"]} if record.get("location") else {})}
            for extra, record in zip(job.secondary_artifacts, build.get("secondaryArtifacts", []))]
    return summary


@dataclass
class BatchRun:
    """One batch build: its AWS record (what BatchGetBuildBatches answers) and what running it needs."""

    record: dict[str, Any]
    ctx: RequestContext
    project: dict[str, Any]
    build_request: dict[str, Any]  # what each build of the batch is started with, before its task's overrides
    config: dict[str, Any]  # the effective buildBatchConfig
    buildspec: str | None
    initiator: str
    workspace: Path
    pipeline_input: PipelineInput | None = None
    pipeline_output: Output | None = None
    per_build: Callable[[str], dict] | None = None  # a pipeline's artifact overrides for a build identifier
    spec: batchspec.BatchSpec | None = None
    groups: dict[str, Group] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    stopped: bool = False

    # A batch records its phases exactly as a build does.
    begin_phase = BuildJob.begin_phase
    end_phase = BuildJob.end_phase

    @property
    def batch_id(self) -> str:
        return self.record["id"]

    def snapshot(self) -> dict[str, Any]:
        """The batch as BuildBatch, safe to serialise while it runs."""
        with self.lock:
            record = copy.deepcopy(self.record)
            record["buildGroups"] = [g.view(self.project["artifacts"]) for g in self.groups.values()]
            return record

    def stop(self) -> None:
        """Ask the batch to stop: its running builds are stopped, no other starts."""
        self.stopped = True
        self.cancel.set()
        self.wake.set()


@dataclass
class BatchState:
    """The batches of one account+region."""

    runs: dict[str, BatchRun] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def build_request(request: dict[str, Any]) -> dict[str, Any]:
    """The StartBuild request of a build of the batch StartBuildBatch ``request`` asks for."""
    out = {k: v for k, v in request.items() if k not in _BATCH_ONLY}
    if "buildTimeoutInMinutesOverride" in request:
        out["timeoutInMinutesOverride"] = request["buildTimeoutInMinutesOverride"]
    return out


class Batches:
    """Every batch of the CodeBuild provider; each batch runs in a thread of its own."""

    def __init__(self, provider: CodeBuildProvider, minute_seconds: float) -> None:
        self.provider = provider
        self.minute_seconds = minute_seconds  # how long a minute of timeoutInMins lasts
        self.labstack = provider.labstack
        self.state: AccountRegionStore[BatchState] = AccountRegionStore(BatchState)
        self.labstack.hooks.on_reset(self.reset)
        self.labstack.hooks.on_shutdown(self.stop_all)

    def stop_all(self) -> None:
        """Stop every running batch and wait (briefly) until each has finished."""
        runs = [run for _, st in self.state.items() for run in st.runs.values() if not run.done.is_set()]
        for run in runs:
            run.stop()
        for run in runs:
            run.done.wait(15)

    def reset(self) -> None:
        self.stop_all()
        self.state.reset()

    def _region(self, ctx: RequestContext) -> BatchState:
        return self.state.get(ctx.account, ctx.region)

    def _check_room(self, account: str) -> None:
        """Refuse a batch of ``account`` when it already has MAX_BATCHES in progress (hold ``state.lock``)."""
        busy = sum(1 for (owner, _), st in self.state.items() if owner == account
                   for run in st.runs.values() if not run.done.is_set())
        if busy >= MAX_BATCHES:
            raise AwsError("AccountLimitExceededException",
                           f"Cannot have more than {MAX_BATCHES} build batches in progress in account {account} "
                           "(labstack's LABSTACK_CODEBUILD_MAX_BATCHES); wait for a batch to finish or stop one")

    def find(self, ctx: RequestContext, ident: str) -> BatchRun | None:
        """The batch with id or ARN ``ident``."""
        key = ident.split("build-batch/", 1)[1] if ident.startswith("arn:") else ident
        return self._region(ctx).runs.get(key)

    def _found(self, ctx: RequestContext, ident: str) -> BatchRun:
        run = self.find(ctx, ident)
        if run is None:
            raise AwsError("ResourceNotFoundException", f"Build batch {ident} does not exist")
        return run

    # -- starting ----------------------------------------------------------------------
    def start(self, ctx: RequestContext, request: dict[str, Any], initiator: str = "root",
              pipeline_input: PipelineInput | None = None, pipeline_output: Output | None = None,
              per_build: Callable[[str], dict] | None = None) -> BatchRun:
        """Record a batch of ``request`` (SUBMITTED) and run it in the background."""
        state = self._region(ctx)
        project = self.provider._project(ctx, request["projectName"])
        token = request.get("idempotencyToken")
        with self.state.lock:
            if token and state.tokens.get(token) in state.runs:
                return state.runs[state.tokens[token]]
        config = {**(project.get("buildBatchConfig") or {}), **(request.get("buildBatchConfigOverride") or {})}
        if not config.get("serviceRole"):
            raise AwsError("InvalidInputException", f"Batch builds are not enabled for project {project['arn']}: "
                           "its buildBatchConfig needs a serviceRole")
        projects.check_batch_config(ctx, config)
        config.setdefault("timeoutInMins", DEFAULT_TIMEOUT_MINUTES)
        base = build_request(request)
        built, _, buildspec_text, _, _ = self.provider._effective(ctx, project, base, initiator)  # AWS's override checks
        with self.state.lock:
            self._check_room(ctx.account)
            number = state.numbers.get(project["name"], 0) + 1
            state.numbers[project["name"]] = number
            batch_id = f"{project['name']}:{uuid.uuid4()}"
            record: dict[str, Any] = {
                "id": batch_id, "arn": ctx.arn("codebuild", f"build-batch/{batch_id}"), "startTime": built["startTime"],
                "currentPhase": "SUBMITTED", "buildBatchStatus": "IN_PROGRESS", "projectName": project["name"],
                "phases": [{"phaseType": "SUBMITTED", "startTime": built["startTime"]}],
                "source": built["source"], "secondarySources": [], "secondarySourceVersions": [],
                "artifacts": {"location": ""}, "secondaryArtifacts": [], "cache": built["cache"],
                "environment": built["environment"], "serviceRole": built["serviceRole"],
                "logConfig": request.get("logsConfigOverride") or project.get("logsConfig") or {},
                "buildTimeoutInMinutes": built["timeoutInMinutes"],
                "queuedTimeoutInMinutes": built["queuedTimeoutInMinutes"], "complete": False, "initiator": initiator,
                "encryptionKey": built["encryptionKey"], "buildBatchNumber": number, "buildBatchConfig": config,
            }
            if built.get("sourceVersion"):
                record["sourceVersion"] = built["sourceVersion"]
            run = BatchRun(record=record, ctx=ctx, project=project, build_request=base, config=config,
                           buildspec=buildspec_text, initiator=initiator,
                           workspace=self.provider.root / ctx.account / ctx.region / f"batch-{batch_id.split(':', 1)[1]}",
                           pipeline_input=pipeline_input, pipeline_output=pipeline_output, per_build=per_build)
            state.runs[batch_id] = run
            if token:
                state.tokens[token] = batch_id
        self._launch(run)
        return run

    def _launch(self, run: BatchRun) -> None:
        threading.Thread(target=_Runner(self, run).run, name=f"batch-{run.batch_id}", daemon=True).start()

    # -- the other operations ------------------------------------------------------------
    def get(self, ctx: RequestContext, ids: list[str]) -> dict[str, Any]:
        """BatchGetBuildBatches."""
        found, missing = [], []
        for ident in ids:
            run = self.find(ctx, ident)
            if run is None:
                missing.append(ident)
            else:
                found.append(run.snapshot())
        return {"buildBatches": found, "buildBatchesNotFound": missing}

    def listed(self, ctx: RequestContext, request: dict[str, Any], project: str | None = None) -> dict[str, Any]:
        """ListBuildBatches and ListBuildBatchesForProject: ids, newest first unless ASCENDING."""
        wanted = (request.get("filter") or {}).get("status")
        with self.state.lock:
            runs = [r for r in self._region(ctx).runs.values() if project is None or r.record["projectName"] == project]
        chosen = [r for r in runs if not wanted or r.record["buildBatchStatus"] == wanted]
        chosen.sort(key=lambda r: r.record["startTime"], reverse=request.get("sortOrder", "DESCENDING") == "DESCENDING")
        ids, token = page([r.batch_id for r in chosen], request.get("nextToken"), request.get("maxResults", 100),
                          "InvalidInputException", "Invalid next token")
        return {"ids": ids, "nextToken": token}

    def stop(self, ctx: RequestContext, ident: str) -> BatchRun:
        """StopBuildBatch: the batch's builds are stopped; a complete batch keeps its status."""
        run = self._found(ctx, ident)
        if not run.done.is_set():
            run.stop()
            run.done.wait(15)
        return run

    def retry(self, ctx: RequestContext, request: dict[str, Any]) -> BatchRun:
        """RetryBuildBatch: a complete batch runs again, all its builds (RETRY_ALL_BUILDS, the default) or those
        that did not succeed (RETRY_FAILED_BUILDS); the builds it ran before stay in priorBuildSummaryList."""
        state = self._region(ctx)
        token = request.get("idempotencyToken")
        if token and "id" not in request and state.tokens.get(token) in state.runs:
            return state.runs[state.tokens[token]]
        run = self._found(ctx, request.get("id", ""))
        self.provider._project(ctx, run.project["name"])  # a batch of a deleted project is not run again
        retry_type = request.get("retryType", "RETRY_ALL_BUILDS")
        with self.state.lock, run.lock:
            if not run.done.is_set():
                raise AwsError("InvalidInputException", f"Build batch {run.batch_id} is still in progress; "
                               "only a complete batch can be retried")
            self._check_room(ctx.account)
            again = [g for g in run.groups.values() if g.task.identifier != SOURCE_GROUP
                     and (retry_type == "RETRY_ALL_BUILDS" or g.state != "SUCCEEDED")]
            if run.spec is not None and not again:
                raise AwsError("InvalidInputException", f"Build batch {run.batch_id} has no failed builds to retry")
            for group in again:
                group.state = PENDING
            last = run.record["phases"][-1]
            last["endTime"] = now()
            last["durationInSeconds"] = int((last["endTime"] - last["startTime"]).total_seconds())
            run.record["phases"].append({"phaseType": "SUBMITTED", "startTime": now()})
            run.record.update(currentPhase="SUBMITTED", buildBatchStatus="IN_PROGRESS", complete=False)
            run.record.pop("endTime", None)
            run.stopped = False
            run.cancel.clear()
            run.done.clear()  # under the lock: a second retry now finds the batch in progress
        if token:
            with self.state.lock:
                state.tokens[token] = run.batch_id
        self._launch(run)
        return run

    def delete(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        """DeleteBuildBatch: the batch and the builds it ran (a batch in progress is refused)."""
        run = self.find(ctx, ident)
        if run is None:
            raise AwsError("InvalidInputException", f"Build batch {ident} does not exist")
        if not run.done.is_set():
            raise AwsError("InvalidInputException", f"Build batch {run.batch_id} is in progress; stop it before "
                           "deleting it")
        deleted, kept = [], []
        with self.provider.state.lock:
            builds = self.provider._region(ctx).builds
            for group in run.groups.values():
                for job in group.jobs:
                    if builds.pop(job.build_id, None) is not None:
                        deleted.append(job.record["arn"])
                    else:
                        kept.append({"id": job.record["arn"], "statusCode": "BUILD_NOT_FOUND"})
        with self.state.lock:
            self._region(ctx).runs.pop(run.batch_id, None)
        return {"statusCode": "BATCH_DELETED", "buildsDeleted": deleted or None, "buildsNotDeleted": kept}


class _Runner:
    """Runs one batch from SUBMITTED (or a retry's SUBMITTED) to its final phase; never raises."""

    def __init__(self, batches: Batches, run: BatchRun) -> None:
        self.batches = batches
        self.provider = batches.provider
        self.batch = run
        self.role = RoleSession(batches.labstack, run.ctx.account, run.ctx.region)
        self.status = "SUCCEEDED"

    def run(self) -> None:
        run = self.batch
        try:
            run.end_phase(run.record["phases"][-1], "SUCCEEDED", None)
            if run.spec is None:
                self._phase("DOWNLOAD_BATCHSPEC", self._download)
            if self.status == "SUCCEEDED":
                self._in_progress()
            if self.status == "SUCCEEDED" and run.config.get("combineArtifacts") and run.pipeline_output is not None:
                self._phase("COMBINE_ARTIFACTS", self._combine)
        except Exception:  # a labstack fault: the batch ends FAULT, never stuck in progress
            log.exception("batch %s failed inside labstack", run.batch_id)
            self.status = "FAULT"
        finally:
            self._finish()

    def _phase(self, phase_type: str, body: Callable[[], None]) -> None:
        phase = self.batch.begin_phase(phase_type)
        try:
            body()
        except _Failed as failure:
            self.status = "STOPPED" if self.batch.stopped else "FAILED"
            self.batch.end_phase(phase, self.status, failure.code, failure.message)
            return
        self.batch.end_phase(phase, "SUCCEEDED", None)

    def _assume(self, session: RoleSession, role: str) -> None:
        """CodeBuild assumes ``role`` for the batch, as it does a build's service role."""
        run = self.batch
        seconds = run.config["timeoutInMins"] * self.batches.minute_seconds
        try:
            session.assume(role, run.batch_id, run.project["arn"], seconds)
        except RoleRefused as refused:
            raise _Failed("CLIENT_ERROR", str(refused)) from None

    # -- DOWNLOAD_BATCHSPEC -----------------------------------------------------------
    def _download(self) -> None:
        """Run the DOWNLOAD_SOURCE build, then read the batch section of the buildspec of the revision it built
        (fetched as the project's service role, as that build fetched it: the batch role needs no access to the
        source)."""
        run = self.batch
        self._assume(self.role, run.config["serviceRole"])
        self._download_source()
        fetcher = RoleSession(self.batches.labstack, run.ctx.account, run.ctx.region)
        with tempfile.TemporaryDirectory(prefix="batchspec-") as tmp:
            try:
                self._assume(fetcher, run.record["serviceRole"])
                fetched = sources.fetch(self.batches.labstack, run.ctx.account, run.ctx.region, run.record["source"],
                                        run.record.get("resolvedSourceVersion") or run.record.get("sourceVersion"),
                                        Path(tmp), fetcher, run.pipeline_input)
                text = sources.buildspec_text(run.buildspec, Path(tmp))
            except sources.SourceError as exc:
                raise _Failed(exc.code, exc.message) from None
            finally:
                fetcher.end()
        if fetched.resolved_version:
            with run.lock:
                run.record["resolvedSourceVersion"] = fetched.resolved_version
        allowed = (run.config.get("restrictions") or {}).get("maximumBuildsAllowed")
        try:
            spec = batchspec.read(text, allowed)
        except batchspec.BatchLimitError as exc:
            raise _Failed("CLIENT_ERROR", str(exc)) from None
        except BuildspecError as exc:
            raise _Failed("YAML_FILE_ERROR", str(exc)) from None
        permitted = (run.config.get("restrictions") or {}).get("computeTypesAllowed")
        if permitted:
            for task in spec.tasks:
                compute = task.overrides.get("computeTypeOverride", run.record["environment"]["computeType"])
                if compute not in permitted:
                    raise _Failed("CLIENT_ERROR", f"Build {task.identifier} uses compute type {compute}, which the "
                                  f"batch does not allow (restrictions/computeTypesAllowed: {', '.join(permitted)})")
        with run.lock:
            run.spec = spec
            run.groups.update((t.identifier, Group(t)) for t in spec.tasks)

    def _download_source(self) -> None:
        """The batch's first build, DOWNLOAD_SOURCE: a real build of the project that downloads the source and
        runs nothing else; the batch goes on at the revision it resolved, or fails as it failed."""
        run = self.batch
        with run.lock:
            group = run.groups.setdefault(SOURCE_GROUP, Group(batchspec.Task(SOURCE_GROUP)))
        self._start(group, _SOURCE_ONLY)
        job = group.jobs[-1]
        while not job.done.wait(POLL):
            if run.cancel.is_set():
                self._stop_builds([group])
        build = job.snapshot()
        group.state = build["buildStatus"]
        if group.state != "SUCCEEDED":
            _, code, message = failed_phase(build)
            raise _Failed(code or "CLIENT_ERROR", f"Build {SOURCE_GROUP} ended {group.state}: {message}")
        if build.get("resolvedSourceVersion"):
            with run.lock:
                run.record["resolvedSourceVersion"] = build["resolvedSourceVersion"]

    # -- IN_PROGRESS ------------------------------------------------------------------
    def _in_progress(self) -> None:
        run = self.batch
        assert run.spec is not None
        phase = run.begin_phase("IN_PROGRESS")
        if self.role.identity is None:  # a retry: the batch spec is known, the role not yet assumed
            try:
                self._assume(self.role, run.config["serviceRole"])
            except _Failed as refused:
                run.end_phase(phase, "FAILED", refused.code, refused.message)
                self.status = "FAILED"
                return
        deadline = time.monotonic() + run.config["timeoutInMins"] * self.batches.minute_seconds
        failure: tuple[str, str] | None = None
        timed_out = False
        while True:
            with run.lock:
                groups = list(run.groups.values())
            for group in groups:
                if group.state == RUNNING and group.jobs[-1].done.is_set():
                    group.state = group.jobs[-1].record["buildStatus"]
                    if group.state != "SUCCEEDED" and not group.task.ignore_failure:
                        failure = failure or ("BUILD_FAILED", f"Build {group.task.identifier} ended {group.state}")
                        if run.spec.fast_fail:
                            self._stop_builds(groups)
            if not timed_out and time.monotonic() >= deadline:
                timed_out = True
                self._stop_builds(groups)
            if run.cancel.is_set():
                self._stop_builds(groups)
            stopping = run.cancel.is_set() or timed_out or (failure is not None and run.spec.fast_fail)
            if not stopping:
                for group in groups:
                    if group.state == PENDING:
                        failure = self._maybe_start(group, failure)
            if not any(g.state == RUNNING for g in groups) and (stopping or not any(g.state == PENDING for g in groups)):
                break
            run.wake.wait(POLL)
            run.wake.clear()
        if run.stopped:
            self.status, code, message = "STOPPED", "BATCH_STOPPED", "Build batch was stopped"
        elif timed_out:
            self.status, code = "TIMED_OUT", "BATCH_TIMED_OUT"
            message = f"Build batch has timed out. Batch timeout is {run.config['timeoutInMins']} minutes"
        elif failure is not None:
            self.status, (code, message) = "FAILED", failure
        else:
            run.end_phase(phase, "SUCCEEDED", None)
            return
        run.end_phase(phase, self.status, code, message)

    def _maybe_start(self, group: Group, failure: tuple[str, str] | None) -> tuple[str, str] | None:
        """Start ``group``'s build once every build it depends on is over; skip it when one of them failed
        (and may not be ignored). The failure the batch ends with, if any."""
        deps = [self.batch.groups[d] for d in group.task.depend_on]
        if any(d.state in (PENDING, RUNNING) for d in deps):
            return failure
        if any(d.state != "SUCCEEDED" and not d.task.ignore_failure for d in deps):
            group.state = SKIPPED
            return failure
        try:
            self._start(group)
        except _Failed as refused:
            group.state = "FAULT"
            if not group.task.ignore_failure:
                return failure or (refused.code, refused.message)
        return failure

    def _start(self, group: Group, only: dict | None = None) -> None:
        """StartBuild of the project for ``group``, made as the batch role (which must be allowed to); ``only``:
        the overrides of a build that hands the pipeline nothing (DOWNLOAD_SOURCE)."""
        run = self.batch
        task = group.task
        denied = self.role.denial("codebuild:StartBuild", run.project["arn"], "codebuild.batch")
        if denied:
            raise _Failed("CLIENT_ERROR", f"The batch service role {run.config['serviceRole']} may not start build "
                          f"{task.identifier}: {denied}")
        request = dict(run.build_request)
        request.update(task.overrides)
        if task.buildspec:
            request["buildspecOverride"] = task.buildspec
        if task.variables:
            declared = {v["name"]: v for v in request.get("environmentVariablesOverride", [])}
            declared.update({n: {"name": n, "value": v, "type": "PLAINTEXT"} for n, v in task.variables.items()})
            request["environmentVariablesOverride"] = list(declared.values())
        if run.record.get("resolvedSourceVersion"):
            request["sourceVersion"] = run.record["resolvedSourceVersion"]  # every build builds the same revision
        if only is not None:
            request.update(only)
        elif run.per_build is not None:
            request.update(run.per_build(task.identifier))
        output = None
        if run.pipeline_output is not None and only is None:
            def output(ident: str | None, path: Path, role: RoleSession, name: str = task.identifier) -> None:
                self._hand_over(name, ident, path, role)
        try:
            job = self.provider._new_job(run.ctx, request, run.project, run.pipeline_input, output, run.initiator,
                                         batch=(run.record["arn"], task.identifier))
        except AwsError as exc:
            raise _Failed("CLIENT_ERROR", f"Build {task.identifier} could not start: {exc.code}: {exc.message}") from None
        with run.lock:
            group.jobs.append(job)
            group.state = RUNNING

    def _stop_builds(self, groups: list[Group]) -> None:
        for group in groups:
            if group.state == RUNNING:
                self.provider.stop_job(group.jobs[-1])

    # -- artifacts for a pipeline -----------------------------------------------------
    def _hand_over(self, build: str, ident: str | None, path: Path, role: RoleSession) -> None:
        """A build's CODEPIPELINE artifact: kept for COMBINE_ARTIFACTS (primary artifacts, when combined), or
        handed to the pipeline as ``build`` (primary) or ``build_ident`` (secondary), as AWS names them."""
        run = self.batch
        assert run.pipeline_output is not None
        if ident is None and run.config.get("combineArtifacts"):
            run.workspace.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, run.workspace / f"{build}.zip")
            return
        run.pipeline_output(build if ident is None else f"{build}_{ident}", path, role)

    def _combine(self) -> None:
        """One zip of every build's primary artifact, each in a folder named for its build identifier."""
        run = self.batch
        assert run.pipeline_output is not None
        tree = run.workspace / "combined"
        try:
            for group in run.groups.values():
                part = run.workspace / f"{group.task.identifier}.zip"
                if part.is_file():
                    extract_zip(part.read_bytes(), tree / group.task.identifier, "a build's artifact")
            target = run.workspace / "combined.zip"
            write_zip([(tree / rel, rel) for rel in walk(tree)], target, "the combined artifact")
            run.pipeline_output(None, target, self.role)  # stored as the batch's service role
        except (ArchiveError, ArtifactError) as exc:
            raise _Failed("CLIENT_ERROR", str(exc)) from None

    # -- the end ----------------------------------------------------------------------
    def _finish(self) -> None:
        run = self.batch
        self.role.end()
        shutil.rmtree(run.workspace, ignore_errors=True)
        with run.lock:
            run.record["phases"].append({"phaseType": _FINAL_PHASE[self.status], "startTime": now()})
            run.record.update(currentPhase=_FINAL_PHASE[self.status], buildBatchStatus=self.status, endTime=now(),
                              complete=True)
        run.done.set()
