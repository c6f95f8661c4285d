"""CodeBuild: projects, builds that run their buildspec for real, and test/coverage reports."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.paging import page
from labstack.protocol.provider import Provider
from labstack.services.codebuild import batches, cache, projects, sources, webhooks
from labstack.services.codebuild.logs import location
from labstack.services.codebuild.reports import ReportSink, Store
from labstack.services.codebuild.role import RoleSession, check_assumable
from labstack.services.codebuild.runner import BuildJob, Runner, now
from labstack.services.codeconnections import github
from labstack.sources import change_feed
from labstack.state import AccountRegionStore

log = logging.getLogger("labstack.codebuild")
UTC = dt.timezone.utc
PAGE = 100
# Seconds one minute of timeoutInMinutes/queuedTimeoutInMinutes lasts: builds run in real
# time, so 60; tests shorten it to see a TIMED_OUT build without waiting five minutes.
MINUTE_SECONDS = float(os.environ.get("LABSTACK_CODEBUILD_MINUTE_SECONDS") or 60)
# Builds one account may run at once; the rest wait in QUEUED.
CONCURRENT_BUILDS = int(os.environ.get("LABSTACK_CODEBUILD_CONCURRENT_BUILDS") or 20)
# Builds one account may have waiting (SUBMITTED or QUEUED) at once: five times the concurrent limit, as AWS's
# queue; past it StartBuild (and a batch's or webhook's build) is refused, so no account can pile up threads.
MAX_QUEUED_BUILDS = int(os.environ.get("LABSTACK_CODEBUILD_MAX_QUEUED_BUILDS") or 5 * CONCURRENT_BUILDS)
CURATED_IMAGES = [
    ("AMAZON_LINUX", "aws/codebuild/amazonlinux2-x86_64-standard:5.0", "Amazon Linux 2023 x86_64 standard:5.0"),
    ("AMAZON_LINUX", "aws/codebuild/amazonlinux2-x86_64-standard:4.0", "Amazon Linux 2 x86_64 standard:4.0"),
    ("UBUNTU", "aws/codebuild/standard:7.0", "Ubuntu 22.04 standard:7.0"),
    ("UBUNTU", "aws/codebuild/standard:6.0", "Ubuntu 20.04 standard:6.0"),
]


@dataclass
class RegionState:
    """Projects and builds of one account+region."""

    projects: dict[str, dict] = field(default_factory=dict)
    builds: dict[str, BuildJob] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


class Slots:
    """A per-account limit on running builds; waiting builds stay QUEUED, at most ``queue`` of them an account."""

    def __init__(self, limit: int, queue: int) -> None:
        self.limit = limit
        self.queue = queue
        self.running: dict[str, int] = {}
        self.waiting: dict[str, int] = {}
        self.cond = threading.Condition()

    def enqueue(self, account: str) -> None:
        """Count a new build of ``account`` as waiting; refused (AccountLimitExceededException) when its queue is full."""
        with self.cond:
            if self.waiting.get(account, 0) >= self.queue:
                raise AwsError("AccountLimitExceededException",
                               f"Cannot have more than {self.queue} queued builds in account {account} "
                               "(labstack's LABSTACK_CODEBUILD_MAX_QUEUED_BUILDS); wait for builds to finish")
            self.waiting[account] = self.waiting.get(account, 0) + 1

    def acquire(self, account: str, deadline: float, cancel: threading.Event) -> bool:
        """Wait (no longer than ``deadline``, until ``cancel`` and a :meth:`wake`) for a slot of an enqueued build."""
        with self.cond:
            try:
                while self.running.get(account, 0) >= self.limit:
                    left = deadline - time.monotonic()
                    if left <= 0 or cancel.is_set():
                        return False
                    self.cond.wait(left)
                self.running[account] = self.running.get(account, 0) + 1
                return True
            finally:
                self.waiting[account] -= 1

    def wake(self) -> None:
        """Let waiting builds look again at their cancel event (call after setting one)."""
        with self.cond:
            self.cond.notify_all()

    def release(self, account: str) -> None:
        with self.cond:
            self.running[account] -= 1
            self.cond.notify_all()


def _complete_unrun(job: BuildJob, status: str) -> None:
    """End a build that never reached its runner (stopped or timed out in QUEUED, or a fault)."""
    with job.lock:
        job.record["phases"].append({"phaseType": "COMPLETED", "startTime": now()})
        job.record.update(currentPhase="COMPLETED", buildStatus=status, endTime=now(), buildComplete=True)
    job.done.set()


def _split(table: dict, keys: list[str]) -> tuple[list | None, list[str] | None]:
    """The values of ``table`` at ``keys``, and the keys it lacks (None when empty, as the model's
    minimum lengths want)."""
    return [table[k] for k in keys if k in table] or None, [k for k in keys if k not in table] or None


def _page(items: list, token: str | None, size: int = PAGE) -> tuple[list, str | None]:
    return page(items, token, size, "InvalidInputException", "Invalid next token")


class CodeBuildProvider(Provider):
    """Projects and builds per account+region; each build runs in a thread of its own."""

    service = "codebuild"

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.state: AccountRegionStore[RegionState] = AccountRegionStore(RegionState)
        self.reports = ReportSink()
        self.slots = Slots(CONCURRENT_BUILDS, MAX_QUEUED_BUILDS)
        self.root = labstack.settings.home / "builds"
        self.batches = batches.Batches(self, MINUTE_SECONDS)  # first: its reset stops batches before their builds
        labstack.hooks.on_reset(self.reset)
        labstack.hooks.on_shutdown(self.stop_all)
        self.webhooks = webhooks.Listener(self._hooked_projects, self._webhook_build,
                                          lambda full_id: github.repository(self.labstack.settings.home, full_id),
                                          self._github_owner, self._github_readable)
        change_feed(labstack).subscribe(self.webhooks.heard)
        self.webhooks.run()
        labstack.hooks.on_shutdown(self._stop_webhooks)

    # -- lifecycle ----------------------------------------------------------------------
    def _jobs(self) -> list[BuildJob]:
        with self.state.lock:
            return [job for _, st in self.state.items() for job in st.builds.values()]

    def _region_jobs(self, ctx: RequestContext) -> list[BuildJob]:
        with self.state.lock:
            return list(self._region(ctx).builds.values())

    def stop_all(self) -> None:
        """Stop every running build and wait (briefly) until each has finished."""
        jobs = [job for job in self._jobs() if not job.done.is_set()]
        for job in jobs:
            self.stop_job(job)
        for job in jobs:
            job.done.wait(10)

    def stop_job(self, job: BuildJob) -> None:
        """Ask ``job`` to stop, waking it if it waits in QUEUED."""
        job.stopped = True
        job.cancel.set()
        self.slots.wake()

    def reset(self) -> None:
        self.stop_all()
        self.state.reset()
        self.reports.stores.reset()
        shutil.rmtree(self.root, ignore_errors=True)

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (account, _region), st in self.state.items():
            counts[account] = counts.get(account, 0) + len(st.projects) + len(st.builds)
        for (account, _region), store in self.reports.stores.items():
            counts[account] = counts.get(account, 0) + len(store.groups) + len(store.reports)
        return counts

    def activity_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for job in self._jobs():
            if not job.done.is_set():
                counts.setdefault(job.account, {"builds": 0})["builds"] += 1
        return counts

    def _region(self, ctx: RequestContext) -> RegionState:
        return self.state.get(ctx.account, ctx.region)

    # -- projects -----------------------------------------------------------------------
    def _project(self, ctx: RequestContext, name_or_arn: str) -> dict:
        name = name_or_arn.rsplit("project/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        project = self._region(ctx).projects.get(name)
        if project is None:
            raise AwsError("ResourceNotFoundException", f"Project cannot be found: {ctx.arn('codebuild', f'project/{name}')}")
        return project

    def _check_role(self, project: dict) -> None:
        """CodeBuild refuses a project whose service role (or batch service role) it may not assume (AWS checks
        on create and update)."""
        for role in (project["serviceRole"], (project.get("buildBatchConfig") or {}).get("serviceRole")):
            refused = check_assumable(self.labstack, role, project["arn"]) if role else None
            if refused:
                raise AwsError("InvalidInputException", refused)

    def create_project(self, ctx: RequestContext, request: dict) -> dict:
        project = projects.new(ctx, request)
        projects.check(ctx, project)
        self._check_role(project)
        with self.state.lock:
            existing = self._region(ctx).projects
            if project["name"] in existing:
                raise AwsError("ResourceAlreadyExistsException", f"Project already exists: {project['arn']}")
            existing[project["name"]] = project
        return {"project": project}

    def update_project(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            changed = projects.update(self._project(ctx, request["name"]), request)
            projects.check(ctx, changed)
            if "serviceRole" in request or "buildBatchConfig" in request:
                self._check_role(changed)
            self._region(ctx).projects[changed["name"]] = changed
        return {"project": changed}

    def delete_project(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            name = request["name"].rsplit("project/", 1)[-1]
            self._region(ctx).projects.pop(name, None)
        return {}

    def batch_get_projects(self, ctx: RequestContext, request: dict) -> dict:
        found, missing = [], []
        for name in request["names"]:
            try:
                found.append(self._project(ctx, name))
            except AwsError:
                missing.append(name)
        return {"projects": found, "projectsNotFound": missing or None}

    def list_projects(self, ctx: RequestContext, request: dict) -> dict:
        key = {"NAME": "name", "CREATED_TIME": "created", "LAST_MODIFIED_TIME": "lastModified"}[request.get("sortBy", "NAME")]
        items = sorted(self._region(ctx).projects.values(), key=lambda p: p[key], reverse=request.get("sortOrder") == "DESCENDING")
        names, token = _page([p["name"] for p in items], request.get("nextToken"))
        return {"projects": names or None, "nextToken": token}

    def _cache_dir(self, ctx: RequestContext, project_name: str) -> Path:
        return self.root / ctx.account / ctx.region / "cache" / project_name

    def invalidate_project_cache(self, ctx: RequestContext, request: dict) -> dict:
        """Reset the project's cache (LOCAL or S3): its next build starts cold."""
        project = self._project(ctx, request["projectName"])
        cache.invalidate(project.get("cache") or {}, project["name"], self._cache_dir(ctx, project["name"]),
                         self.labstack.clients.get("s3", ctx.account, ctx.region))
        return {}

    # -- webhooks (webhooks.py) ----------------------------------------------------------
    def create_webhook(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            project = self._project(ctx, request["projectName"])
            if project.get("webhook"):
                raise AwsError("ResourceAlreadyExistsException", f"Webhook already exists for project {project['name']}")
            webhooks.check(project, request)
            full_id = webhooks.github_repository(project["source"].get("location", "")) or ""
            try:
                readable = self._github_readable(full_id, ctx.account)
            except ValueError as exc:  # a name the local GitHub cannot hold
                raise AwsError("InvalidInputException", str(exc)) from None
            if not readable:  # its events would tell another learner's pushes
                raise AwsError("OAuthProviderException", f"Failed to create webhook: GitHub repository {full_id} is "
                               "not found or not accessible with this account's GitHub access")
            project["webhook"] = webhooks.record(request)
            return {"webhook": project["webhook"]}

    def update_webhook(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            project = self._hooked(ctx, request["projectName"])
            webhooks.check(project, {**project["webhook"], **request})
            project["webhook"] = webhooks.record(request, project["webhook"])
            return {"webhook": project["webhook"]}

    def delete_webhook(self, ctx: RequestContext, request: dict) -> dict:
        with self.state.lock:
            del self._hooked(ctx, request["projectName"])["webhook"]
        return {}

    def _hooked(self, ctx: RequestContext, name: str) -> dict:
        project = self._project(ctx, name)
        if not project.get("webhook"):
            raise AwsError("ResourceNotFoundException", f"Webhook does not exist for project {project['name']}")
        return project

    def _hooked_projects(self) -> list[tuple[str, str, dict]]:
        with self.state.lock:
            return [(account, region, project) for (account, region), st in self.state.items()
                    for project in st.projects.values() if project.get("webhook")]

    def _github_owner(self, full_id: str) -> str:
        """Who a push to the local GitHub's ``owner/repo`` counts as (ACTOR_ACCOUNT_ID): the account that
        owns the repository in class mode, else its owner's name."""
        return github.owner_of(github.repository(self.labstack.settings.home, full_id)) or full_id.partition("/")[0]

    def _github_readable(self, full_id: str, account: str) -> bool:
        return not self.labstack.settings.class_mode or github.readable_by(self.labstack.settings.home, full_id, account)

    def _webhook_build(self, account: str, region: str, project: dict, event: webhooks.Event) -> None:
        """A build (or batch build) of ``project`` for webhook ``event``."""
        ctx = RequestContext(account=account, region=region, service="codebuild")
        try:
            if (project.get("webhook") or {}).get("buildType") == "BUILD_BATCH":  # its builds fetch the commit itself
                self.batches.start(ctx, {"projectName": project["name"], "sourceVersion": event.commit},
                                   webhooks.initiator())
            else:
                self._new_job(ctx, {"projectName": project["name"], "sourceVersion": event.source_version}, project,
                              initiator=webhooks.initiator(), webhook=event)
        except AwsError as exc:  # e.g. the project's concurrent build limit: AWS starts no build either
            log.warning("webhook build of %s not started: %s", project["name"], exc.message)

    def _stop_webhooks(self) -> None:
        change_feed(self.labstack).unsubscribe(self.webhooks.heard)
        self.webhooks.close()

    # -- builds -------------------------------------------------------------------------
    def start_build(self, ctx: RequestContext, request: dict) -> dict:
        """Record the build (SUBMITTED) and run it in the background."""
        job = self._new_job(ctx, request, self._project(ctx, request["projectName"]))
        return {"build": job.snapshot()}

    def start_pipeline_build(self, account: str, region: str, project_name: str, pipeline_name: str,
                             input_path: sources.PipelineInput, output: Callable[[str | None, Path, RoleSession], None],
                             overrides: dict | None = None) -> BuildJob:
        """For the CodePipeline engine: a build of ``project_name`` (source and artifacts of type
        CODEPIPELINE) whose source is ``input_path`` (a zip, a directory, or a reader the build calls with
        its role session) and whose artifacts are handed to ``output(artifactIdentifier, zip_path, role)`` in
        UPLOAD_ARTIFACTS, with the build's role session to store them as (the zip lives in the build's
        workspace, which goes at the end of the build: read or move it). Wait on
        ``job.done``; ``job.snapshot()`` is the build as BatchGetBuilds shows it."""
        ctx = RequestContext(account=account, region=region, service="codebuild")
        request = {"projectName": project_name, **(overrides or {})}
        return self._new_job(ctx, request, self._project(ctx, project_name), input_path, output,
                             initiator=f"codepipeline/{pipeline_name}")

    def _new_job(self, ctx: RequestContext, request: dict, project: dict, pipeline_input: Any = None,
                 pipeline_output: Any = None, initiator: str = "root", webhook: Any = None, batch: tuple[str, str] | None = None) -> BuildJob:
        """A build of ``project`` started and running; ``batch`` is (batch ARN, build identifier) for a batch's build."""
        state = self._region(ctx)
        token = request.get("idempotencyToken")
        with self.state.lock:
            if token and token in state.tokens and state.tokens[token] in state.builds:
                return state.builds[state.tokens[token]]
            limit = project.get("concurrentBuildLimit")
            running = sum(1 for j in state.builds.values() if j.record["projectName"] == project["name"] and not j.done.is_set())
            if limit and running >= limit:
                raise AwsError("AccountLimitExceededException",
                               f"Cannot have more than {limit} active builds for the project {project['name']}")
            record, variables, buildspec_text, declared, secondary = self._effective(ctx, project, request, initiator)
            number = state.numbers.get(project["name"], 0) + 1
            state.numbers[project["name"]] = number
            record["buildNumber"] = number
            if batch:
                record["buildBatchArn"] = batch[0]
                variables = [*variables, {"name": "CODEBUILD_BATCH_BUILD_IDENTIFIER", "value": batch[1], "type": "PLAINTEXT"}]
            self.slots.enqueue(ctx.account)
            build_uuid = record["id"].split(":", 1)[1]
            workspace = self.root / ctx.account / ctx.region / build_uuid
            job = BuildJob(
                record=record, account=ctx.account, region=ctx.region, project=project, workspace=workspace,
                buildspec_text=buildspec_text, variables=variables, minute_seconds=MINUTE_SECONDS,
                cache_dir=self._cache_dir(ctx, project["name"]),
                artifacts=declared, secondary_artifacts=secondary, start_request=dict(request),
                pipeline_input=pipeline_input, pipeline_output=pipeline_output, webhook=webhook,
            )
            state.builds[job.build_id] = job
            if token:
                state.tokens[token] = job.build_id
        threading.Thread(target=self._execute, args=(job,), name=f"build-{build_uuid}", daemon=True).start()
        return job

    def _effective(self, ctx: RequestContext, project: dict, request: dict, initiator: str) -> tuple:
        """The build record for ``request`` on ``project``, with every override applied."""
        source = dict(project["source"])
        if "sourceTypeOverride" in request:
            source["type"] = request["sourceTypeOverride"]
        if "sourceLocationOverride" in request:
            source["location"] = request["sourceLocationOverride"]
        if "buildspecOverride" in request:
            source["buildspec"] = request["buildspecOverride"]
        if source["type"] == "NO_SOURCE" and not source.get("buildspec"):
            raise AwsError("InvalidInputException", "Build spec cannot be empty for NO_SOURCE source type")
        env = {**project["environment"]}
        for key, member in (("imageOverride", "image"), ("computeTypeOverride", "computeType"),
                            ("environmentTypeOverride", "type"), ("privilegedModeOverride", "privilegedMode"),
                            ("imagePullCredentialsTypeOverride", "imagePullCredentialsType")):
            if key in request:
                env[member] = request[key]
        variables = {v["name"]: {"type": "PLAINTEXT", **v} for v in project["environment"].get("environmentVariables", [])}
        for var in request.get("environmentVariablesOverride", []):
            if var["name"].startswith("CODEBUILD_"):
                raise AwsError("InvalidInputException", f"Invalid environment variable name {var['name']}: names starting with CODEBUILD_ are reserved")
            variables[var["name"]] = {"type": "PLAINTEXT", **var}
        env["environmentVariables"] = list(variables.values())
        role = request.get("serviceRoleOverride", project["serviceRole"])
        if "serviceRoleOverride" in request:
            projects.check_role(ctx, role)
        declared = dict(request.get("artifactsOverride") or project["artifacts"])
        secondary = list(request.get("secondaryArtifactsOverride", project.get("secondaryArtifacts", [])))
        logs_config = request.get("logsConfigOverride") or project.get("logsConfig") or {}
        build_id = f"{project['name']}:{uuid.uuid4()}"
        cw = logs_config.get("cloudWatchLogs") or {"status": "ENABLED"}
        group = cw.get("groupName") or f"/aws/codebuild/{project['name']}"
        stream = f"{cw['streamName']}/{build_id.split(':', 1)[1]}" if cw.get("streamName") else build_id.split(":", 1)[1]
        started = now()
        record: dict[str, Any] = {
            "id": build_id,
            "arn": ctx.arn("codebuild", f"build/{build_id}"),
            "startTime": started,
            "currentPhase": "SUBMITTED",
            "buildStatus": "IN_PROGRESS",
            "projectName": project["name"],
            "phases": [{"phaseType": "SUBMITTED", "startTime": started}],
            "source": source,
            "secondarySources": [],
            "secondarySourceVersions": [],
            "artifacts": {"location": ""},
            "secondaryArtifacts": [],
            "cache": request.get("cacheOverride") or project.get("cache") or {"type": "NO_CACHE"},
            "environment": env,
            "serviceRole": role,
            "logs": location(ctx.account, ctx.region, group, stream) if cw.get("status") == "ENABLED"
            else {"cloudWatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": "DISABLED"}},
            "timeoutInMinutes": request.get("timeoutInMinutesOverride", project["timeoutInMinutes"]),
            "queuedTimeoutInMinutes": request.get("queuedTimeoutInMinutesOverride", project["queuedTimeoutInMinutes"]),
            "buildComplete": False,
            "initiator": initiator,
            "encryptionKey": request.get("encryptionKeyOverride", project.get("encryptionKey", "")),
        }
        version = request.get("sourceVersion") or project.get("sourceVersion")
        if version:
            record["sourceVersion"] = version
        return record, env["environmentVariables"], source.get("buildspec"), declared, secondary

    def _execute(self, job: BuildJob) -> None:
        """SUBMITTED → QUEUED (waiting for a slot) → the runner."""
        submitted = job.record["phases"][0]
        job.end_phase(submitted, "SUCCEEDED", None)
        queued = job.begin_phase("QUEUED")
        deadline = time.monotonic() + job.record["queuedTimeoutInMinutes"] * job.minute_seconds
        if not self.slots.acquire(job.account, deadline, job.cancel):
            status = "STOPPED" if job.stopped else "TIMED_OUT"
            job.end_phase(queued, status, None)
            _complete_unrun(job, status)
            return
        try:
            job.end_phase(queued, "SUCCEEDED", None)
            Runner(job, self.labstack, self.reports).run()
        except Exception:  # the runner could not even start: a FAULT build, never a build stuck in progress
            log.exception("build %s could not start", job.build_id)
            _complete_unrun(job, "FAULT")
        finally:
            self.slots.release(job.account)

    def _job(self, ctx: RequestContext, build_id: str) -> BuildJob | None:
        ident = build_id.split("build/", 1)[1] if build_id.startswith("arn:") else build_id
        return self._region(ctx).builds.get(ident)

    def batch_get_builds(self, ctx: RequestContext, request: dict) -> dict:
        found, missing = [], []
        for ident in request["ids"]:
            job = self._job(ctx, ident)
            if job is None:
                missing.append(ident)
            else:
                found.append(job.snapshot())
        return {"builds": found, "buildsNotFound": missing or None}

    def _listed(self, jobs: list[BuildJob], request: dict) -> dict:
        ordered = sorted(jobs, key=lambda j: j.record["startTime"], reverse=request.get("sortOrder", "DESCENDING") == "DESCENDING")
        ids, token = _page([j.build_id for j in ordered], request.get("nextToken"))
        return {"ids": ids or None, "nextToken": token}

    def list_builds(self, ctx: RequestContext, request: dict) -> dict:
        return self._listed(self._region_jobs(ctx), request)

    def list_builds_for_project(self, ctx: RequestContext, request: dict) -> dict:
        name = self._project(ctx, request["projectName"])["name"]
        return self._listed([j for j in self._region_jobs(ctx) if j.record["projectName"] == name], request)

    def stop_build(self, ctx: RequestContext, request: dict) -> dict:
        job = self._job(ctx, request["id"])
        if job is None:
            raise AwsError("ResourceNotFoundException", f"Build {request['id']} does not exist")
        if not job.done.is_set():
            self.stop_job(job)
            job.done.wait(5)
        return {"build": job.snapshot()}

    def retry_build(self, ctx: RequestContext, request: dict) -> dict:
        state = self._region(ctx)
        token = request.get("idempotencyToken")
        if token and token in state.tokens and "id" not in request:
            return {"build": state.builds[state.tokens[token]].snapshot()}
        job = self._job(ctx, request.get("id", ""))
        if job is None:
            raise AwsError("ResourceNotFoundException", f"Build {request.get('id', '')} does not exist")
        again = {k: v for k, v in job.start_request.items() if k != "idempotencyToken"}
        if token:
            again["idempotencyToken"] = token
        retried = self._new_job(ctx, again, self._project(ctx, job.record["projectName"]))
        return {"build": retried.snapshot()}

    def batch_delete_builds(self, ctx: RequestContext, request: dict) -> dict:
        deleted, kept = [], []
        with self.state.lock:
            builds = self._region(ctx).builds
            for ident in request["ids"]:
                job = self._job(ctx, ident)
                if job is None:
                    kept.append({"id": ident, "statusCode": "BUILD_NOT_FOUND"})
                elif not job.done.is_set():
                    kept.append({"id": ident, "statusCode": "BUILD_IN_PROGRESS"})
                else:
                    del builds[job.build_id]
                    deleted.append(ident)
        return {"buildsDeleted": deleted or None, "buildsNotDeleted": kept}

    # -- batch builds (batches.py) -------------------------------------------------------
    def start_build_batch(self, ctx: RequestContext, request: dict) -> dict:
        return {"buildBatch": self.batches.start(ctx, request).snapshot()}

    def start_pipeline_batch(self, account: str, region: str, project_name: str, pipeline_name: str,
                             input_path: sources.PipelineInput, output: batches.Output, per_build: Callable[[str], dict], combine: bool,
                             overrides: dict | None = None) -> batches.BatchRun:
        """For the CodePipeline engine: a batch of ``project_name`` whose source is ``input_path``; each build's
        CODEPIPELINE artifacts go to ``output(name, zip, role)`` named ``<build>`` or ``<build>_<artifact>`` (with
        ``combine``, one combined artifact, name None); ``per_build(identifier)`` adds a build's overrides."""
        ctx = RequestContext(account=account, region=region, service="codebuild")
        request = {"projectName": project_name, **(overrides or {})}
        if combine:
            request["buildBatchConfigOverride"] = {"combineArtifacts": True}
        return self.batches.start(ctx, request, f"codepipeline/{pipeline_name}", input_path, output, per_build)

    def batch_get_build_batches(self, ctx: RequestContext, request: dict) -> dict:
        return self.batches.get(ctx, request["ids"])

    def list_build_batches(self, ctx: RequestContext, request: dict) -> dict:
        return self.batches.listed(ctx, request)

    def list_build_batches_for_project(self, ctx: RequestContext, request: dict) -> dict:
        return self.batches.listed(ctx, request, self._project(ctx, request.get("projectName", ""))["name"])

    def stop_build_batch(self, ctx: RequestContext, request: dict) -> dict:
        return {"buildBatch": self.batches.stop(ctx, request["id"]).snapshot()}

    def retry_build_batch(self, ctx: RequestContext, request: dict) -> dict:
        return {"buildBatch": self.batches.retry(ctx, request).snapshot()}

    def delete_build_batch(self, ctx: RequestContext, request: dict) -> dict:
        return self.batches.delete(ctx, request["id"])

    def list_curated_environment_images(self, ctx: RequestContext, request: dict) -> dict:
        platforms: dict[str, list] = {}
        for platform, name, description in CURATED_IMAGES:
            platforms.setdefault(platform, []).append({"name": name, "description": description, "versions": [f"{name}-26.11.01"]})
        return {"platforms": [{"platform": p, "languages": [{"language": "BASE", "images": images}]} for p, images in platforms.items()]}

    # -- reports ------------------------------------------------------------------------
    def _store(self, ctx: RequestContext) -> Store:
        return self.reports.store(ctx.account, ctx.region)

    def _group(self, ctx: RequestContext, arn: str) -> dict:
        group = self._store(ctx).groups.get(arn)
        if group is None:
            raise AwsError("ResourceNotFoundException", f"Report group {arn} does not exist")
        return group

    def create_report_group(self, ctx: RequestContext, request: dict) -> dict:
        with self.reports.lock:
            arn = ctx.arn("codebuild", f"report-group/{request['name']}")
            if arn in self._store(ctx).groups:
                raise AwsError("ResourceAlreadyExistsException", f"Report group already exists: {arn}")
            group = self.reports.ensure_group(ctx.account, ctx.region, request["name"], request["type"])
            group["exportConfig"] = request["exportConfig"]
            if request.get("tags"):
                group["tags"] = request["tags"]
        return {"reportGroup": group}

    def update_report_group(self, ctx: RequestContext, request: dict) -> dict:
        with self.reports.lock:
            group = self._group(ctx, request["arn"])
            for key in ("exportConfig", "tags"):
                if key in request:
                    group[key] = request[key]
            group["lastModified"] = now()
        return {"reportGroup": group}

    def delete_report_group(self, ctx: RequestContext, request: dict) -> dict:
        with self.reports.lock:
            store = self._store(ctx)
            owned = [arn for arn, r in store.reports.items() if r["reportGroupArn"] == request["arn"]]
            if owned and not request.get("deleteReports"):
                raise AwsError("InvalidInputException", "Report group has reports; set deleteReports to delete them too")
            for arn in owned:
                self._drop_report(store, arn)
            store.groups.pop(request["arn"], None)
        return {}

    @staticmethod
    def _drop_report(store: Store, arn: str) -> None:
        store.reports.pop(arn, None)
        store.test_cases.pop(arn, None)
        store.coverages.pop(arn, None)

    def delete_report(self, ctx: RequestContext, request: dict) -> dict:
        with self.reports.lock:
            self._drop_report(self._store(ctx), request["arn"])
        return {}

    def batch_get_report_groups(self, ctx: RequestContext, request: dict) -> dict:
        found, missing = _split(self._store(ctx).groups, request["reportGroupArns"])
        return {"reportGroups": found, "reportGroupsNotFound": missing}

    def list_report_groups(self, ctx: RequestContext, request: dict) -> dict:
        key = {"NAME": "name", "CREATED_TIME": "created", "LAST_MODIFIED_TIME": "lastModified"}[request.get("sortBy", "CREATED_TIME")]
        items = sorted(self._store(ctx).groups.values(), key=lambda g: g[key], reverse=request.get("sortOrder") == "DESCENDING")
        arns, token = _page([g["arn"] for g in items], request.get("nextToken"), request.get("maxResults", PAGE))
        return {"reportGroups": arns or None, "nextToken": token}

    def _reports(self, reports: list[dict], request: dict) -> dict:
        wanted = (request.get("filter") or {}).get("status")
        items = sorted((r for r in reports if not wanted or r["status"] == wanted), key=lambda r: r["created"],
                       reverse=request.get("sortOrder", "DESCENDING") == "DESCENDING")
        arns, token = _page([r["arn"] for r in items], request.get("nextToken"), request.get("maxResults", PAGE))
        return {"reports": arns or None, "nextToken": token}

    def list_reports(self, ctx: RequestContext, request: dict) -> dict:
        return self._reports(list(self._store(ctx).reports.values()), request)

    def list_reports_for_report_group(self, ctx: RequestContext, request: dict) -> dict:
        self._group(ctx, request["reportGroupArn"])
        owned = [r for r in self._store(ctx).reports.values() if r["reportGroupArn"] == request["reportGroupArn"]]
        return self._reports(owned, request)

    def batch_get_reports(self, ctx: RequestContext, request: dict) -> dict:
        found, missing = _split(self._store(ctx).reports, request["reportArns"])
        return {"reports": found, "reportsNotFound": missing}

    def describe_test_cases(self, ctx: RequestContext, request: dict) -> dict:
        store = self._store(ctx)
        if request["reportArn"] not in store.reports:
            raise AwsError("ResourceNotFoundException", f"Report {request['reportArn']} does not exist")
        wanted = request.get("filter") or {}
        cases = [c for c in store.test_cases.get(request["reportArn"], [])
                 if (not wanted.get("status") or c["status"] == wanted["status"])
                 and (not wanted.get("keyword") or wanted["keyword"] in c["name"] or wanted["keyword"] in c["prefix"])]
        page, token = _page(cases, request.get("nextToken"), request.get("maxResults", PAGE))
        return {"testCases": page, "nextToken": token}

    def describe_code_coverages(self, ctx: RequestContext, request: dict) -> dict:
        low = request.get("minLineCoveragePercentage", 0.0)
        high = request.get("maxLineCoveragePercentage", 100.0)
        files = [f for f in self._store(ctx).coverages.get(request["reportArn"], []) if low <= f["lineCoveragePercentage"] <= high]
        key = "filePath" if request.get("sortBy") == "FILE_PATH" else "lineCoveragePercentage"
        files.sort(key=lambda f: f[key], reverse=request.get("sortOrder") == "DESCENDING")
        page, token = _page(files, request.get("nextToken"), request.get("maxResults", PAGE))
        return {"codeCoverages": page, "nextToken": token}

    def get_report_group_trend(self, ctx: RequestContext, request: dict) -> dict:
        self._group(ctx, request["reportGroupArn"])
        owned = sorted((r for r in self._store(ctx).reports.values() if r["reportGroupArn"] == request["reportGroupArn"]),
                       key=lambda r: r["created"], reverse=True)[: request.get("numOfReports", 100)]
        field_name = request["trendField"]
        raw = []
        for report in owned:
            value = _trend_value(report, field_name)
            if value is not None:
                raw.append({"reportArn": report["arn"], "data": _number(value)})
        values = [float(r["data"]) for r in raw]
        stats = {"average": _number(statistics.fmean(values)), "max": _number(max(values)), "min": _number(min(values))} if values else {}
        return {"stats": stats, "rawData": raw}


def _trend_value(report: dict, field_name: str) -> float | None:
    tests, cover = report.get("testSummary"), report.get("codeCoverageSummary")
    if tests is not None:
        passed = tests["statusCounts"].get("SUCCEEDED", 0)
        return {"PASS_RATE": 100.0 * passed / tests["total"] if tests["total"] else 0.0,
                "DURATION": tests["durationInNanoSeconds"], "TOTAL": tests["total"]}.get(field_name)
    if cover is not None:
        return {"LINE_COVERAGE": cover["lineCoveragePercentage"], "LINES_COVERED": cover["linesCovered"],
                "LINES_MISSED": cover["linesMissed"], "BRANCH_COVERAGE": cover["branchCoveragePercentage"],
                "BRANCHES_COVERED": cover["branchesCovered"], "BRANCHES_MISSED": cover["branchesMissed"]}.get(field_name)
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


PROVIDER = CodeBuildProvider
