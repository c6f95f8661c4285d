"""A task's life as ECS reports it: PROVISIONING → PENDING → RUNNING → STOPPED, with the
times, exit codes, stop codes and reasons ECS gives."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from labstack.archives import ArchiveError
from labstack import sandbox
from labstack.clock import now
from labstack.enforcement import roles
from labstack.enforcement.asks import Ask
from labstack.images.blobs import BlobStore
from labstack.images.registry import RegistryError, parse_reference
from labstack.images.unpack import unpack
from labstack.keyring import Identity
from labstack.runtimes.ecs.launch import Launch, confined, plan, shims

log = logging.getLogger("labstack.ecs")
SERVICE = "ecs-tasks.amazonaws.com"
# The execution role's keys outlive the task by this many real seconds: the log lines it wrote last are
# still being shipped with them (the shipper batches every few seconds).
LOG_KEYS_GRACE_SECONDS = 15.0


class PullError(Exception):
    """The image cannot be had (ECS: CannotPullContainerError)."""


class StartRefused(Exception):
    """What ECS does before the app starts failed (roles, registry auth, logs, secrets): the message is
    the task's stoppedReason."""


def _denied(exc: ClientError) -> str:
    """``Code: message`` of a failed call, as ECS's agent quotes it."""
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message') or exc}"


@dataclass
class RunningTask:
    """One task: its AWS record and the processes behind it."""

    record: dict[str, Any]
    definition: dict[str, Any]
    account: str
    region: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)  # a stop asked for, or a container ended
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    launches: dict[str, Launch] = field(default_factory=dict)
    execution: Identity | None = None  # ECS's session of the execution role: image pull, logs, secrets
    app: Identity | None = None  # the app's session of the task role: the container's credentials

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.record)

    def update(self, **values: Any) -> None:
        with self.lock:
            self.record.update(values)

    def container(self, name: str, **values: Any) -> None:
        with self.lock:
            for container in self.record["containers"]:
                if container["name"] == name:
                    container.update(values)


class TaskRunner:
    """Runs tasks: pulls and unpacks the image, starts each container, watches them end."""

    def __init__(self, labstack: Any, ship_logs: Callable[[str, str, str, str, list[str], Identity | None], None],
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.labstack = labstack
        self.ship_logs = ship_logs
        # Called when a task has STOPPED, so the service scheduler replaces it or goes on with a rollout at once.
        self.on_change = on_change
        home = labstack.settings.home / "images"
        self.blobs = BlobStore(home / "blobs")
        self.rootfs = home / "rootfs"
        self.shims = shims(home / "shims")

    def start(self, task: RunningTask) -> None:
        threading.Thread(target=self._live, args=(task,), name=f"task-{task.record['taskArn'][-8:]}", daemon=True).start()

    def stop(self, task: RunningTask, reason: str, code: str = "UserInitiated") -> None:
        with task.lock:
            if task.record["desiredStatus"] != "STOPPED":
                task.record.update(desiredStatus="STOPPED", stoppedReason=reason, stopCode=code)
        task.stop_requested.set()
        task.changed.set()

    # -- the task's life ---------------------------------------------------------------
    def _live(self, task: RunningTask) -> None:
        try:
            self._run(task)
        except Exception as exc:  # never leave a task stuck half-started
            log.exception("task %s failed", task.record["taskArn"])
            self._kill_all(task)
            self._stopped(task, "TaskFailedToStart", f"labstack could not run the task: {exc}")

    def _run(self, task: RunningTask) -> None:
        task.update(lastStatus="PENDING", pullStartedAt=now())
        try:
            self._assume(task)
            self._registry_auth(task)
            images = {c["name"]: self._pull(task, c["image"]) for c in task.definition["containerDefinitions"]}
            for container in task.definition["containerDefinitions"]:
                self._log_stream(task, container)
        except (PullError, StartRefused) as exc:
            task.update(pullStoppedAt=now())
            reason = f"CannotPullContainerError: {exc}" if isinstance(exc, PullError) else str(exc)
            self._stopped(task, "TaskFailedToStart", reason)
            return
        task.update(pullStoppedAt=now())
        if task.stop_requested.is_set():
            self._stopped(task, task.record.get("stopCode") or "UserInitiated", task.record.get("stoppedReason") or "")
            return
        for container in task.definition["containerDefinitions"]:
            try:
                self._start_container(task, container, *images[container["name"]])
            except StartRefused as exc:  # a secret or parameter the execution role cannot read
                self._kill_all(task)
                self._stopped(task, "TaskFailedToStart", str(exc))
                return
            except (OSError, ValueError) as exc:
                self._kill_all(task)
                self._stopped(task, "TaskFailedToStart", f"CannotStartContainerError: {exc}")
                return
        task.update(lastStatus="RUNNING", startedAt=now(), connectivity="CONNECTED", connectivityAt=now())
        for container in task.definition["containerDefinitions"]:
            if container.get("healthCheck"):
                threading.Thread(target=self._check_health, args=(task, container), daemon=True).start()
        self._watch(task)

    # -- what ECS does as the execution role before the app starts ------------------------
    def _assume(self, task: RunningTask) -> None:
        """Sessions of the task definition's execution role and task role (``ecs-tasks.amazonaws.com``
        assumes them, aws:SourceArn the task), each named for the task's id as on AWS."""
        arn = task.record["taskArn"]
        for field_name, slot in (("executionRoleArn", "execution"), ("taskRoleArn", "app")):
            role = task.definition.get(field_name)
            if not role:
                continue
            try:
                identity = roles.assume(self.labstack, SERVICE, role, f"ecs:{arn}", source_arn=arn,
                                        session_name=arn.rsplit("/", 1)[1])
            except roles.RoleRefused as exc:
                raise StartRefused(f"ResourceInitializationError: ECS was unable to assume the role '{role}' that "
                                   f"was provided for this task ({field_name}): {exc}") from None
            setattr(task, slot, identity)

    def _client(self, task: RunningTask, service: str, region: str | None = None) -> Any:
        """A client acting as the task's execution role; labstack's own with LABSTACK_IAM=off and no role."""
        if task.execution is not None:
            return self.labstack.clients.as_identity(service, task.execution, region or task.region)
        return self.labstack.clients.get(service, task.account, region or task.region)

    def _registry_auth(self, task: RunningTask) -> None:
        """ECR's authorization token, as the execution role (Fargate has no other credentials to pull
        a private Amazon ECR image with: without the role, the task cannot pull)."""
        if task.execution is None:
            if self.labstack.gate.mode == "off":
                return
            raise PullError("Fargate requires task definition to have execution role ARN to support ECR images: "
                            f"the task definition {task.definition['taskDefinitionArn']} has no executionRoleArn")
        try:
            self._client(task, "ecr").get_authorization_token()
        except ClientError as exc:
            raise StartRefused("ResourceInitializationError: unable to pull secrets or registry auth: execution "
                               "resource retrieval failed: unable to retrieve ecr registry auth: service call has "
                               f"been retried 3 time(s): {_denied(exc)}") from None

    def _log_stream(self, task: RunningTask, container: dict[str, Any]) -> None:
        """The awslogs driver creates the container's log stream as the execution role before it starts
        (a group the task definition names but nobody made, labstack makes, as it always has)."""
        config = container.get("logConfiguration") or {}
        if config.get("logDriver") != "awslogs" or task.execution is None:
            return
        group, stream, region = _log_target(task, container)
        logs = self._client(task, "logs", region)
        try:
            try:
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            except logs.exceptions.ResourceNotFoundException:
                maker = logs if (config.get("options") or {}).get("awslogs-create-group") == "true" else \
                    self.labstack.clients.get("logs", task.account, region)
                try:
                    maker.create_log_group(logGroupName=group)
                except maker.exceptions.ResourceAlreadyExistsException:
                    pass
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        except ClientError as exc:
            raise StartRefused("ResourceInitializationError: failed to validate logger args: create stream has been "
                               f"retried 1 times: failed to create Cloudwatch log stream: {_denied(exc)} : "
                               "exit status 1") from None

    def _pull(self, task: RunningTask, image: str) -> tuple[Any, dict[str, Any]]:
        try:
            account, region, repository, tag = parse_reference(image)
        except RegistryError as exc:
            raise PullError(str(exc)) from None
        if self.labstack.settings.class_mode and account != task.account:
            raise PullError(f"{image} is another account's image: this labstack serves a class, and a task pulls "
                            "only its own account's images")
        ecr = self._client(task, "ecr", region) if task.execution else self.labstack.clients.get("ecr", account, region)
        image_id = {"imageDigest": tag} if tag.startswith("sha256:") else {"imageTag": tag}
        try:
            found = ecr.batch_get_image(registryId=account, repositoryName=repository, imageIds=[image_id])
        except ecr.exceptions.RepositoryNotFoundException:
            raise PullError(f"repository {repository} does not exist in account {account}") from None
        except ClientError as exc:
            raise PullError(f"pull image manifest has been retried 1 time(s): failed to resolve ref {image}: "
                            f"{_denied(exc)}") from None
        if not found["images"]:
            raise PullError(f"pull image manifest has been retried 1 time(s): {image}: not found")
        manifest = json.loads(found["images"][0]["imageManifest"])
        digest = found["images"][0]["imageId"]["imageDigest"]
        self._layers_allowed(task, image, f"arn:aws:ecr:{region}:{account}:repository/{repository}", account)
        missing = [layer["digest"] for layer in [manifest["config"], *manifest["layers"]] if not self.blobs.has(layer["digest"])]
        if missing:
            raise PullError(f"{image}: layers {missing} are not in the registry")
        config = json.loads(self.blobs.path(manifest["config"]["digest"]).read_bytes()).get("config", {})
        task.container(self._name_of(task, image), imageDigest=digest)
        try:
            return unpack(manifest, digest, self.blobs, self.rootfs), config
        except ArchiveError as exc:  # a hostile or oversized layer: the pull fails, saying why
            raise PullError(str(exc)) from None

    def _layers_allowed(self, task: RunningTask, image: str, repository: str, account: str) -> None:
        """The layers come from labstack's blob store, so no ECR call is made for them: the execution
        role's permission to check and download them is asked of the gate, as the calls would be."""
        if task.execution is None:
            return
        for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer"):
            decision = self.labstack.gate.authorize(task.execution, Ask(action, repository, resource_account=account),
                                                    task.region, f"ecs task {task.record['taskArn']} pulls {image}")
            if decision is not None and not decision.allowed:
                raise PullError(f"pull image manifest has been retried 1 time(s): failed to copy: {image}: "
                                f"AccessDeniedException: {decision.message()}")

    @staticmethod
    def _name_of(task: RunningTask, image: str) -> str:
        return next(c["name"] for c in task.definition["containerDefinitions"] if c["image"] == image)

    def _start_container(self, task: RunningTask, container: dict[str, Any], rootfs: Any, image: dict[str, Any]) -> None:
        extra = {"AWS_REGION": task.region, "AWS_DEFAULT_REGION": task.region, **self._credentials(task),
                 "AWS_ENDPOINT_URL": self.labstack.settings.endpoint,
                 "ECS_TASK_ARN": task.record["taskArn"], **self._secrets(task, container)}
        launch = plan(container, image, rootfs, self.shims, extra)
        if not launch.argv:
            raise ValueError(f"container {container['name']} has no command and its image has no CMD")
        settings = self.labstack.settings
        launch.jail = sandbox.Jail.hiding(settings.home, settings.learners, die_with_parent=False,  # outlives this thread
                                          readable=(self.shims.resolve(), Path(rootfs).resolve()))  # as readonlyRootFilesystem
        try:
            jail = sandbox.prefix(launch.jail, required=settings.class_mode)
        except sandbox.Unavailable as exc:
            raise ValueError(sandbox.refusal("tasks", exc)) from None
        proc = subprocess.Popen(confined(launch.argv, jail), cwd=launch.cwd, env=launch.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.labstack.children.track(proc)  # ended at the next start if labstack dies without its shutdown
        task.processes[container["name"]] = proc
        task.launches[container["name"]] = launch
        task.container(container["name"], lastStatus="RUNNING", runtimeId=str(proc.pid),
                       networkBindings=launch.bindings)
        threading.Thread(target=self._pump, args=(task, container, proc), daemon=True).start()
        threading.Thread(target=_tell_when_ended, args=(task, proc), daemon=True).start()

    def _credentials(self, task: RunningTask) -> dict[str, str]:
        """The app's credentials: a session of the task role, or none without one (as on AWS); with
        LABSTACK_IAM=off, keys of the account as before."""
        if task.app is not None:
            return task.app.environment()
        if self.labstack.gate.mode == "off":
            return self.labstack.keyring.issue(task.account, f"ecs:{task.record['taskArn']}").environment()
        return {}

    def _secrets(self, task: RunningTask, container: dict[str, Any]) -> dict[str, str]:
        """The container's secrets, read as the execution role (secretsmanager:GetSecretValue,
        ssm:GetParameters; kms:Decrypt where the key asks)."""
        values = {}
        for secret in container.get("secrets") or []:
            source = secret["valueFrom"]
            if ":secretsmanager:" in source:
                where, client = "secret from asm", self._client(task, "secretsmanager")
                read = lambda: client.get_secret_value(SecretId=source)["SecretString"]  # noqa: E731
            else:
                where, client = "secrets from ssm", self._client(task, "ssm")
                name = source.split(":parameter", 1)[1] if ":parameter" in source else source
                read = lambda: _parameter(client, name)  # noqa: E731
            try:
                values[secret["name"]] = read()
            except ClientError as exc:
                raise StartRefused("ResourceInitializationError: unable to pull secrets or registry auth: execution "
                                   f"resource retrieval failed: unable to retrieve {where}: service call has been "
                                   f"retried 1 time(s): {_denied(exc)}") from None
        return values

    def _pump(self, task: RunningTask, container: dict[str, Any], proc: subprocess.Popen) -> None:
        """The container's output, line by line, to its awslogs stream (the shipper batches)."""
        config = container.get("logConfiguration") or {}
        group, stream, region = _log_target(task, container)
        shipped = config.get("logDriver") == "awslogs" and group
        assert proc.stdout is not None
        for raw in iter(lambda: proc.stdout.readline(16_384), b""):  # type: ignore[union-attr]
            if shipped:
                self.ship_logs(task.account, region, group, stream, [raw.decode("utf-8", "replace").rstrip("\n")],
                               task.execution)

    def _check_health(self, task: RunningTask, container: dict[str, Any]) -> None:
        """Run the container's health check as ECS does: after startPeriod, every interval,
        UNHEALTHY after ``retries`` failures in a row (the waits on the lab clock)."""
        check = container["healthCheck"]
        test = list(check.get("command") or [])
        kind, argv = (test[0], test[1:]) if test else ("NONE", [])
        if kind == "NONE" or not argv:
            return
        argv = ["/bin/sh", "-c", " ".join(argv)] if kind == "CMD-SHELL" else argv
        interval, timeout = check.get("interval", 30), check.get("timeout", 5)
        retries, start_period = check.get("retries", 3), check.get("startPeriod", 0)
        launch = task.launches[container["name"]]
        if launch.jail is not None:  # each check a sandbox of its own, ended with this thread if it overstays
            argv = [*sandbox.prefix(dataclasses.replace(launch.jail, die_with_parent=True),
                                   required=self.labstack.settings.class_mode), *argv]
        started = time.monotonic()
        failures = 0
        clock = self.labstack.clock
        while not task.stop_requested.is_set() and clock.sleep(interval, task.stop_requested):
            try:
                passed = subprocess.run(argv, check=False, cwd=launch.cwd, env=launch.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, timeout=max(0.5, timeout)).returncode == 0
            except (subprocess.TimeoutExpired, OSError):
                passed = False
            failures = 0 if passed else failures + 1
            in_grace = time.monotonic() - started < clock.real_seconds(start_period)
            if passed:
                task.container(container["name"], healthStatus="HEALTHY")
            elif failures >= retries and not in_grace:
                task.container(container["name"], healthStatus="UNHEALTHY")
            self._task_health(task)

    @staticmethod
    def _task_health(task: RunningTask) -> None:
        """UNHEALTHY if an essential container is; HEALTHY once every checked essential one is."""
        essentials = {c["name"] for c in task.definition["containerDefinitions"]
                      if c.get("essential", True) and c.get("healthCheck")}
        with task.lock:
            states = [c.get("healthStatus", "UNKNOWN") for c in task.record["containers"] if c["name"] in essentials]
            if "UNHEALTHY" in states:
                task.record["healthStatus"] = "UNHEALTHY"
            elif states and all(s == "HEALTHY" for s in states):
                task.record["healthStatus"] = "HEALTHY"

    def _watch(self, task: RunningTask) -> None:
        essentials = {c["name"] for c in task.definition["containerDefinitions"] if c.get("essential", True)}
        while True:  # woken by a stop or a container's end rather than polling them
            task.changed.wait()
            task.changed.clear()  # what happened before this is looked at below
            if task.stop_requested.is_set():
                task.update(lastStatus="DEACTIVATING", stoppingAt=now())
                self._terminate(task)
                self._stopped(task, task.record.get("stopCode") or "UserInitiated", task.record.get("stoppedReason") or "")
                return
            for name, proc in list(task.processes.items()):
                code = proc.poll()
                if code is not None:
                    task.container(name, lastStatus="STOPPED", exitCode=code)
                    if name in essentials:
                        task.update(stoppingAt=now())
                        self._terminate(task)
                        self._stopped(task, "EssentialContainerExited", "Essential container in task exited")
                        return

    def _terminate(self, task: RunningTask) -> None:
        """SIGTERM each container, SIGKILL after its stopTimeout (lab seconds, default 30)."""
        timeouts = {c["name"]: c.get("stopTimeout", 30) for c in task.definition["containerDefinitions"]}
        for name, proc in task.processes.items():
            if proc.poll() is None:
                _signal(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=max(0.2, self.labstack.clock.real_seconds(timeouts.get(name, 30))))
                except subprocess.TimeoutExpired:
                    _signal(proc, signal.SIGKILL)
                    proc.wait()
            task.container(name, lastStatus="STOPPED", exitCode=proc.returncode)

    def _kill_all(self, task: RunningTask) -> None:
        for proc in task.processes.values():
            _signal(proc, signal.SIGKILL)
            proc.wait()

    def _stopped(self, task: RunningTask, code: str, reason: str) -> None:
        with task.lock:
            stamp = now()
            task.record.update(lastStatus="STOPPED", desiredStatus="STOPPED", stopCode=code, stoppedReason=reason,
                               stoppedAt=stamp, executionStoppedAt=stamp)
            task.record.setdefault("stoppingAt", stamp)
            for container in task.record["containers"]:
                container["lastStatus"] = "STOPPED"
        self._revoke(task.app)
        if task.execution is not None:  # after its last log lines went out
            timer = threading.Timer(LOG_KEYS_GRACE_SECONDS, self._revoke, args=(task.execution,))
            timer.daemon = True
            timer.start()
        self.on_change()

    def _revoke(self, identity: Identity | None) -> None:
        if identity is not None:
            self.labstack.keyring.revoke(identity.access_key)
            self.labstack.clients.forget(identity.access_key)

    def shutdown(self, tasks: list[RunningTask]) -> None:
        for task in tasks:
            task.stop_requested.set()
            task.changed.set()
            self._kill_all(task)


def _log_target(task: RunningTask, container: dict[str, Any]) -> tuple[str, str, str]:
    """(group, stream, region) of the container's awslogs configuration (group "" when none)."""
    options = (container.get("logConfiguration") or {}).get("options") or {}
    stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{task.record['taskArn'].rsplit('/', 1)[1]}"
    return options.get("awslogs-group") or "", stream, options.get("awslogs-region", task.region)


def _parameter(ssm: Any, name: str) -> str:
    """One SSM parameter's value, read with GetParameters as ECS does."""
    found = ssm.get_parameters(Names=[name], WithDecryption=True)
    if not found["Parameters"]:
        raise ClientError({"Error": {"Code": "InvalidParameters", "Message": f"invalid parameters: {name}"}},
                          "GetParameters")
    return found["Parameters"][0]["Value"]


def _tell_when_ended(task: RunningTask, proc: subprocess.Popen) -> None:
    """Wake the task's watcher when ``proc`` ends."""
    proc.wait()
    task.changed.set()


def _signal(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
