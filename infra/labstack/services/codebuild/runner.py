"""Run one build through CodeBuild's phases, recording each as AWS reports it.

Phase rules (AWS's "build phase transitions"): a failed INSTALL or PRE_BUILD skips to
FINALIZING; a failed BUILD still runs POST_BUILD (with ``CODEBUILD_BUILD_SUCCEEDING=0``)
and UPLOAD_ARTIFACTS; ``finally`` commands always run after their phase's commands. A phase's
``on-failure`` changes that (the buildspec reference): ``ABORT`` ends the build at the failed
phase (straight to FINALIZING), ``CONTINUE`` carries on to the next phase, ``RETRY…`` runs the
phase again first; unset, the transitions above decide. A stop or a timeout kills the build's
process group and goes to FINALIZING.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labstack import sandbox
from labstack.clock import now
from labstack.enforcement.roles import RoleRefused
from labstack.services.codebuild import (
    artifacts,
    buildspec,
    cache,
    environment,
    events,
    patterns,
    reports,
    sources,
)
from labstack.services.codebuild.logs import BuildLog, LogRefused
from labstack.services.codebuild.role import RoleSession
from labstack.services.codebuild.session import Interrupted, ShellSession
from labstack.services.codebuild.sources import PipelineInput

log = logging.getLogger("labstack.codebuild")
UTC = dt.timezone.utc
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)")
PHASE_TYPES = {"install": "INSTALL", "pre_build": "PRE_BUILD", "build": "BUILD", "post_build": "POST_BUILD"}



class PhaseFailed(Exception):
    """A phase ended badly: ``status`` (FAILED, FAULT…) with a context code and message."""

    def __init__(self, code: str, message: str, status: str = "FAILED") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class BuildJob:
    """One build: its AWS record (what BatchGetBuilds answers) and what running it needs."""

    record: dict[str, Any]
    account: str
    region: str
    project: dict[str, Any]
    workspace: Path
    buildspec_text: str | None
    variables: list[dict[str, str]]
    minute_seconds: float
    cache_dir: Path
    artifacts: dict[str, Any] = field(default_factory=dict)
    secondary_artifacts: list[dict[str, Any]] = field(default_factory=list)
    start_request: dict[str, Any] = field(default_factory=dict)
    pipeline_input: PipelineInput | None = None
    pipeline_output: Callable[[str | None, Path, RoleSession], None] | None = None  # (artifact id, zip, the role)
    webhook: Any = None  # the webhooks.Event that started the build: what it fetches, its CODEBUILD_WEBHOOK_*
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    stopped: bool = False

    @property
    def build_id(self) -> str:
        return self.record["id"]

    @property
    def uuid(self) -> str:
        return self.build_id.split(":", 1)[1]

    def snapshot(self) -> dict[str, Any]:
        """A copy of the record, safe to serialise while the build runs."""
        with self.lock:
            return copy.deepcopy(self.record)

    def begin_phase(self, phase_type: str) -> dict[str, Any]:
        with self.lock:
            phase = {"phaseType": phase_type, "startTime": now()}
            self.record["phases"].append(phase)
            self.record["currentPhase"] = phase_type
            return phase

    def end_phase(self, phase: dict[str, Any], status: str, code: str | None = "", message: str | None = "") -> None:
        with self.lock:
            phase["phaseStatus"] = status
            phase["endTime"] = now()
            phase["durationInSeconds"] = int((phase["endTime"] - phase["startTime"]).total_seconds())
            if code is not None:
                phase["contexts"] = [{"statusCode": code, "message": message or ""}]



class Runner:
    """Executes a :class:`BuildJob` from PROVISIONING to COMPLETED (the caller handles QUEUED)."""

    def __init__(self, job: BuildJob, labstack: Any, reports_sink: reports.ReportSink) -> None:
        self.job = job
        self.labstack = labstack
        self.clients = labstack.clients
        self.endpoint = labstack.settings.endpoint
        self.reports_sink = reports_sink
        self.record = job.record
        self.src = job.workspace / "src"
        self.root = job.workspace.parents[2]  # labstack's builds folder: the kit's build tools live there
        self.bwrap: str | None = None  # the bubblewrap the build's shell runs under (PROVISIONING decides)
        self.unconfined = ""  # why it runs without one
        self.deadline: float | None = None
        self.spec: buildspec.Buildspec | None = None
        self.session: ShellSession | None = None
        self.final_status = "SUCCEEDED"
        self.role = RoleSession(labstack, job.account, job.region)  # assumed at PROVISIONING
        where = job.record["logs"]  # the group and stream StartBuild chose (logsConfig and its override)
        self.log_enabled = where["cloudWatchLogs"]["status"] == "ENABLED"
        self.log = BuildLog(None, where.get("groupName", ""), where.get("streamName", ""))  # shipped as the role

    def _client(self, service: str) -> Any:
        """A client of the build's role session: what AWS does with the service role for the build."""
        return self.role.client(service)

    def _state_change(self) -> None:
        """The build's EventBridge state-change event, which CodeBuild emits itself (not as the role)."""
        events.state_change(self.clients.get("events", self.job.account, self.job.region), self.job.snapshot())

    # -- the whole build ---------------------------------------------------------------
    def run(self) -> None:
        """PROVISIONING … COMPLETED; never raises (a labstack fault becomes a FAULT build)."""
        job = self.job
        self.deadline = time.monotonic() + job.record["timeoutInMinutes"] * job.minute_seconds
        try:
            self._state_change()
            if self._phase("PROVISIONING", self._provision) and self._phase("DOWNLOAD_SOURCE", self._download_source):
                self._run_build_phases()  # a failed PROVISIONING (no log, no sandbox in class mode) runs nothing
        except _Over:
            pass
        except Exception:
            log.exception("build %s failed inside labstack", job.build_id)
            self.final_status = "FAULT"
        finally:
            self._finish()

    def _phase(self, phase_type: str, body: Callable[[], None]) -> bool:
        """Run one phase; True if it succeeded. Stops and timeouts end the build (raise _Over)."""
        phase = self.job.begin_phase(phase_type)
        if phase_type not in ("PROVISIONING",):
            self.log.container(f"Entering phase {phase_type}")
        try:
            self._check_interrupt()
            body()
        except Interrupted:
            self._interrupted(phase)
            raise _Over() from None
        except PhaseFailed as failure:
            self.job.end_phase(phase, failure.status, failure.code, failure.message)
            self._fail(failure.status)
            self.log.container(f"Phase complete: {phase_type} State: {failure.status}")
            self.log.container(f"Phase context status code: {failure.code} Message: {failure.message}")
            return False
        self.job.end_phase(phase, "SUCCEEDED")
        self.log.container(f"Phase complete: {phase_type} State: SUCCEEDED")
        self.log.container("Phase context status code:  Message: ")
        return True

    def _check_interrupt(self) -> None:
        if self.job.cancel.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline):
            raise Interrupted()

    def _interrupted(self, phase: dict[str, Any]) -> None:
        if self.job.stopped:
            status, code, message = "STOPPED", "BUILD_STOPPED", "Build was stopped"
        else:
            status, code = "TIMED_OUT", "BUILD_TIMED_OUT"
            message = f"Build has timed out. Build timeout is {self.record['timeoutInMinutes']} minutes"
        self.job.end_phase(phase, status, code, message)
        self.final_status = status
        self.log.container(f"Phase complete: {phase['phaseType']} State: {status}")
        self.log.container(f"Phase context status code: {code} Message: {message}")

    def _fail(self, status: str = "FAILED") -> None:
        if self.final_status == "SUCCEEDED":
            self.final_status = status

    # -- phases -----------------------------------------------------------------------
    def _provision(self) -> None:
        self.src.mkdir(parents=True, exist_ok=True)
        self._assume()
        self.log.container("Waiting for agent ping")
        if self.log_enabled:
            self.log.client = self._client("logs")
            try:
                self.log.open()  # the group, the stream and these first lines, or why not
            except LogRefused as refused:
                raise PhaseFailed("ACCESS_DENIED", f"Service role {self.record['serviceRole']} does not allow AWS "
                                  f"CodeBuild to {refused.step} for build {self.record['arn']}. "
                                  f"Error message: {refused.message}") from None
            except (BotoCoreError, ClientError) as exc:  # CloudWatch Logs is unreachable or refused the names
                raise PhaseFailed("CLIENT_ERROR", f"cannot write the build log to CloudWatch Logs: {exc}") from None
        self._pull_image()
        try:
            self.bwrap = sandbox.bwrap()
        except sandbox.Unavailable as exc:
            if self.labstack.settings.class_mode:  # a class's builds never run unsandboxed
                raise PhaseFailed("CLIENT_ERROR", f"{sandbox.refusal('builds', exc)}, then start the build again") from None
            self.bwrap, self.unconfined = None, str(exc)
        self.log.container("Waiting for DOWNLOAD_SOURCE")

    def _assume(self) -> None:
        """CodeBuild assumes the build's service role; the build fails here when it may not."""
        job = self.job
        seconds = (job.record["timeoutInMinutes"] + job.record["queuedTimeoutInMinutes"]) * job.minute_seconds
        try:
            self.role.assume(self.record["serviceRole"], job.build_id, job.project["arn"], seconds)
        except RoleRefused as refused:
            raise PhaseFailed("CLIENT_ERROR", str(refused)) from None

    def _pull_image(self) -> None:
        """A custom image in ECR pulled with the service role's credentials (imagePullCredentialsType
        SERVICE_ROLE) needs the role's ECR permissions; labstack runs the build on its own image, so this is
        the pull's authorization alone."""
        env = self.record["environment"]
        match = ECR_IMAGE.match(env.get("image", ""))
        if match is None or env.get("imagePullCredentialsType") != "SERVICE_ROLE":
            return
        account, region, repository = match.groups()
        arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
        for action, resource in (("ecr:GetAuthorizationToken", "*"), ("ecr:BatchCheckLayerAvailability", arn),
                                 ("ecr:GetDownloadUrlForLayer", arn), ("ecr:BatchGetImage", arn)):
            refused = self.role.denial(action, resource, "codebuild.PROVISIONING")
            if refused:
                raise PhaseFailed("BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE",
                                  f"Unable to pull customer's container image. CannotPullContainerError: Error response "
                                  f"from daemon: pull access denied for {env['image'].rsplit(':', 1)[0]}: denied: {refused}")

    def _download_source(self) -> None:
        job = self.job
        source = self.record["source"]
        try:
            version = job.webhook.commit if job.webhook else self.record.get("sourceVersion")  # pr/N: its head
            fetched = sources.fetch(self.labstack, job.account, job.region, source, version, self.src, self.role,
                                    job.pipeline_input)
            if fetched.resolved_version:
                with job.lock:
                    self.record["resolvedSourceVersion"] = fetched.resolved_version
            text = sources.buildspec_text(job.buildspec_text, self.src)
        except sources.SourceError as exc:
            raise PhaseFailed(exc.code, exc.message) from None
        try:
            self.spec = buildspec.parse(text)
        except buildspec.BuildspecError as exc:
            raise PhaseFailed("YAML_FILE_ERROR", str(exc)) from None
        cache.restore(self.record.get("cache") or {}, job.project["name"], job.cache_dir, self.src, self._client("s3"), self.log)
        self.log.container("Processing environment variables")
        try:
            env = self._environment()
        except environment.VariableError as exc:
            raise PhaseFailed(exc.code, str(exc)) from None
        shell = shutil.which(self.spec.shell, path=env["PATH"]) or self.spec.shell
        control = job.workspace / "control"
        jail = environment.jail(job.workspace, control, self.root, self.labstack.settings).argv(self.bwrap) if self.bwrap else None
        if jail:
            env[sandbox.INSIDE] = "1"
        self.session = ShellSession(shell, self.src, env, control, self.log, jail, on_start=self.labstack.children.track)
        self.log.container(f"Moving to directory {self.src}")
        if jail:
            self.log.container("labstack: this build runs under bubblewrap: only its workspace and /tmp are writable; "
                               "labstack's state, the learners file and the home folder of labstack's user are hidden")
        else:
            self.log.container(f"labstack: this build runs without a sandbox ({self.unconfined}): it can read and write "
                               f"whatever labstack's user can; {sandbox.INSTALL_HINT} to confine it")
        if self.record["environment"].get("privilegedMode"):
            self.log.container("labstack: privileged mode: docker is labstack's daemonless image tool "
                               "(FROM python images, built as real OCI images, pushed to ECR)")

    def _environment(self) -> dict[str, str]:
        job, spec, record = self.job, self.spec, self.record
        assert spec is not None and self.role.identity is not None
        python = environment.build_python(job.workspace, environment.tools_site(self.root))
        env = environment.base_environment(environment.tools_dir(self.root), python)
        lazy: dict[str, Any] = {}

        def client(name: str) -> Callable[[], Any]:
            return lambda: lazy.setdefault(name, self._client(name))

        def arn_of(secret_id: str) -> str:
            return environment.secret_arn(secret_id, self.clients.get("secretsmanager", job.account, job.region))

        values = dict(spec.variables)
        hidden: list[str] = []
        if spec.parameter_store or any(v.get("type") == "PARAMETER_STORE" for v in job.variables):
            self.log.container("Decrypting parameter store environment variables")
        for name, ref in spec.parameter_store.items():
            values[name] = environment.resolve_parameter(ref, client("ssm")())
            hidden.append(values[name])
        for name, ref in spec.secrets_manager.items():
            values[name] = environment.resolve_secret(ref, client("secretsmanager")(), arn_of)
            hidden.append(values[name])
        declared, secret_values = environment.resolve_variables(job.variables, client("ssm"), client("secretsmanager"),
                                                                arn_of)
        values.update(declared)
        hidden += secret_values
        self.log.secrets = sorted({h for h in hidden if len(h) >= 1}, key=len, reverse=True)
        started = int(record["startTime"].timestamp() * 1000)
        env.update(values)
        env.update({
            "HOME": str(job.workspace / "home"),
            "AWS_REGION": values.get("AWS_REGION", job.region),
            "AWS_DEFAULT_REGION": values.get("AWS_DEFAULT_REGION", job.region),
            "AWS_ENDPOINT_URL": self.endpoint,
            **({"LABSTACK_PRIVILEGED": "1", "LABSTACK_IMAGE_STORE": str(job.workspace / "images")}
               if record["environment"].get("privilegedMode") else {}),
            **self.role.identity.environment(),  # the build's commands act as the service role's session
            "CODEBUILD_BUILD_ID": record["id"],
            "CODEBUILD_BUILD_ARN": record["arn"],
            "CODEBUILD_BUILD_NUMBER": str(record["buildNumber"]),
            "CODEBUILD_BUILD_IMAGE": record["environment"]["image"],
            "CODEBUILD_BUILD_SUCCEEDING": "1",
            "CODEBUILD_BUILD_URL": (f"https://{job.region}.console.aws.amazon.com/codesuite/codebuild/projects/"
                                    f"{job.project['name']}/build/{record['id'].replace(':', '%3A')}/view/new"),
            "CODEBUILD_INITIATOR": record["initiator"],
            "CODEBUILD_KMS_KEY_ID": record.get("encryptionKey", ""),
            "CODEBUILD_LOG_PATH": self.log.stream,
            "CODEBUILD_PROJECT_ARN": job.project["arn"],
            "CODEBUILD_RESOLVED_SOURCE_VERSION": record.get("resolvedSourceVersion", ""),
            "CODEBUILD_SOURCE_REPO_URL": record["source"].get("location", ""),
            "CODEBUILD_SOURCE_VERSION": record.get("sourceVersion", ""),
            "CODEBUILD_SRC_DIR": str(self.src),
            "CODEBUILD_START_TIME": str(started),
            "CODEBUILD_CI": "true",
        })
        if job.webhook:
            env.update(job.webhook.environment())
        (job.workspace / "home").mkdir(exist_ok=True)
        return env

    def _run_build_phases(self) -> None:
        spec = self.spec
        assert spec is not None
        names = list(PHASE_TYPES)
        index = 0
        upload = True
        while index < len(names):
            name = names[index]
            definition = spec.phases.get(name) or buildspec.Phase(name)
            ok = self._phase(PHASE_TYPES[name], lambda d=definition: self._attempts(d))
            index += 1
            if ok:
                continue
            self._set_succeeding()
            if definition.on_failure == "CONTINUE":
                continue
            if definition.on_failure == "ABORT" or name in ("install", "pre_build"):
                upload = False  # ABORT ends the build here; unset (or retries spent): the phase transitions
                break
            if name == "post_build":
                break
            # a failed BUILD goes on to POST_BUILD
        if upload:
            self._phase("UPLOAD_ARTIFACTS", self._upload)

    def _set_succeeding(self) -> None:
        assert self.session is not None
        self.session.run("export CODEBUILD_BUILD_SUCCEEDING=0", None, threading.Event())

    def _attempts(self, phase: buildspec.Phase) -> None:
        """The phase's commands, run again while ``on-failure: RETRY…`` allows (the failure message matches
        its pattern and retries are left)."""
        retry = phase.on_failure if isinstance(phase.on_failure, buildspec.Retry) else None
        left = retry.count if retry else 0
        while True:
            try:
                self._commands(phase)
                return
            except PhaseFailed as failure:
                if not left or retry is None or not patterns.found(patterns.compile_pattern(retry.pattern), failure.message):
                    raise
                left -= 1
                self.log.container(f"labstack: on-failure RETRY: running phase {PHASE_TYPES[phase.name]} again "
                                   f"({retry.count - left} of {retry.count})")

    def _commands(self, phase: buildspec.Phase) -> None:
        assert self.session is not None
        if phase.name == "install":
            for runtime, wanted in phase.runtime_versions.items():
                problem = environment.runtime_problem(runtime, wanted)
                if problem:
                    raise PhaseFailed("YAML_FILE_ERROR", problem)
                self.log.container(f"Selecting '{runtime}' runtime version '{wanted}' based on manual selections...")
        failure: PhaseFailed | None = None
        for command in phase.commands:
            failure = self._command(command)
            if failure:
                break
        for command in phase.finally_commands:
            late = self._command(command)
            if late:
                failure = failure or late
                break
        if failure:
            raise failure

    def _command(self, command: str) -> PhaseFailed | None:
        assert self.session is not None
        self.log.container(f"Running command {command}")
        status = self.session.run(command, self.deadline, self.job.cancel)
        if status == 0:
            return None
        self.log.container(f"Command did not exit successfully {command} exit status {status}")
        return PhaseFailed("COMMAND_EXECUTION_ERROR", f"Error while executing command: {command}. Reason: exit status {status}")

    def _upload(self) -> None:
        job, spec = self.job, self.spec
        assert spec is not None and self.session is not None
        if spec.exported_variables:
            values = self.session.read_variables(spec.exported_variables, self.deadline, job.cancel)
            with job.lock:
                self.record["exportedEnvironmentVariables"] = [
                    {"name": n, "value": values.get(n, "")} for n in spec.exported_variables
                ]
        # Nothing of the build runs on while labstack reads its files: a background job cannot swap
        # a checked file for a link between the check and the read.
        self.session.close()
        arns, refused = self.reports_sink.publish(
            job, spec, self.src, self.log, lambda action, arn: self.role.denial(action, arn, "codebuild.UPLOAD_ARTIFACTS"))
        if arns:
            with job.lock:
                self.record["reportArns"] = arns
        cache.save(self.record.get("cache") or {}, job.project["name"], spec, job.cache_dir, self.src, self._client("s3"),
                   self.log)
        try:
            primary, secondary = artifacts.upload(job, spec, self.src, self.role, self.log)
        except artifacts.ArtifactError as exc:
            raise PhaseFailed("CLIENT_ERROR", str(exc)) from None
        with job.lock:
            self.record["artifacts"] = primary
            if secondary:
                self.record["secondaryArtifacts"] = secondary
        if refused:  # reports the role may not make fail the phase, after the artifacts
            raise PhaseFailed("CLIENT_ERROR", f"Error in UPLOAD_ARTIFACTS phase: [{', '.join(refused)}]")

    # -- the end ----------------------------------------------------------------------
    def _finish(self) -> None:
        job = self.job
        phase = job.begin_phase("FINALIZING")
        self.log.container("Entering phase FINALIZING")
        if self.session is not None:
            self.session.close()
        shutil.rmtree(job.workspace, ignore_errors=True)  # as on AWS, nothing of the build host outlives it
        job.end_phase(phase, "SUCCEEDED")
        self.log.container("Phase complete: FINALIZING State: SUCCEEDED")
        status = self.final_status
        self.log.close()  # every line is in CloudWatch Logs before the build reads as complete
        self.role.end()
        with job.lock:
            if self.log.lost:  # the role lost logs:PutLogEvents while the build ran
                phase["contexts"] = [{"statusCode": "ACCESS_DENIED", "message": (
                    f"Service role {self.record['serviceRole']} does not allow AWS CodeBuild to put log events to "
                    f"Amazon CloudWatch Logs for build {self.record['arn']}; lines of the build log were lost. "
                    f"Error message: {self.log.lost}")}]
            job.record["phases"].append({"phaseType": "COMPLETED", "startTime": now()})
            job.record["currentPhase"] = "COMPLETED"
            job.record["buildStatus"] = status
            job.record["endTime"] = now()
            job.record["buildComplete"] = True
        self._state_change()
        job.done.set()


class _Over(Exception):
    """The build was stopped or timed out: straight to FINALIZING."""
