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
from labstack.images.blobs import BlobStore
from labstack.images.registry import RegistryError, parse_reference
from labstack.images.unpack import unpack
from labstack.runtimes.ecs.launch import Launch, confined, plan, shims

log = logging.getLogger("labstack.ecs")



class PullError(Exception):
    """The image cannot be had (ECS: CannotPullContainerError)."""


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

    def __init__(self, labstack: Any, ship_logs: Callable[[str, str, str, str, list[str]], None],
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
            images = {c["name"]: self._pull(task, c["image"]) for c in task.definition["containerDefinitions"]}
        except PullError as exc:
            task.update(pullStoppedAt=now())
            self._stopped(task, "TaskFailedToStart", f"CannotPullContainerError: {exc}")
            return
        task.update(pullStoppedAt=now())
        if task.stop_requested.is_set():
            self._stopped(task, task.record.get("stopCode") or "UserInitiated", task.record.get("stoppedReason") or "")
            return
        for container in task.definition["containerDefinitions"]:
            try:
                self._start_container(task, container, *images[container["name"]])
            except ClientError as exc:  # a secret or parameter the task cannot read
                self._kill_all(task)
                self._stopped(task, "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets: "
                              f"{exc.response['Error'].get('Message', exc)}")
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

    def _pull(self, task: RunningTask, image: str) -> tuple[Any, dict[str, Any]]:
        try:
            account, region, repository, tag = parse_reference(image)
        except RegistryError as exc:
            raise PullError(str(exc)) from None
        if self.labstack.settings.class_mode and account != task.account:
            raise PullError(f"{image} is another account's image: this labstack serves a class, and a task pulls "
                            "only its own account's images")
        ecr = self.labstack.clients.get("ecr", account, region)
        image_id = {"imageDigest": tag} if tag.startswith("sha256:") else {"imageTag": tag}
        try:
            found = ecr.batch_get_image(registryId=account, repositoryName=repository, imageIds=[image_id])
        except ecr.exceptions.RepositoryNotFoundException:
            raise PullError(f"repository {repository} does not exist in account {account}") from None
        if not found["images"]:
            raise PullError(f"pull image manifest has been retried 1 time(s): {image}: not found")
        manifest = json.loads(found["images"][0]["imageManifest"])
        digest = found["images"][0]["imageId"]["imageDigest"]
        missing = [layer["digest"] for layer in [manifest["config"], *manifest["layers"]] if not self.blobs.has(layer["digest"])]
        if missing:
            raise PullError(f"{image}: layers {missing} are not in the registry")
        config = json.loads(self.blobs.path(manifest["config"]["digest"]).read_bytes()).get("config", {})
        task.container(self._name_of(task, image), imageDigest=digest)
        try:
            return unpack(manifest, digest, self.blobs, self.rootfs), config
        except ArchiveError as exc:  # a hostile or oversized layer: the pull fails, saying why
            raise PullError(str(exc)) from None

    @staticmethod
    def _name_of(task: RunningTask, image: str) -> str:
        return next(c["name"] for c in task.definition["containerDefinitions"] if c["image"] == image)

    def _start_container(self, task: RunningTask, container: dict[str, Any], rootfs: Any, image: dict[str, Any]) -> None:
        extra = {"AWS_REGION": task.region, "AWS_DEFAULT_REGION": task.region, **self.labstack.keyring.issue(task.account, f"ecs:{task.record['taskArn']}").environment(),
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
        task.processes[container["name"]] = proc
        task.launches[container["name"]] = launch
        task.container(container["name"], lastStatus="RUNNING", runtimeId=str(proc.pid),
                       networkBindings=launch.bindings)
        threading.Thread(target=self._pump, args=(task, container, proc), daemon=True).start()
        threading.Thread(target=_tell_when_ended, args=(task, proc), daemon=True).start()

    def _secrets(self, task: RunningTask, container: dict[str, Any]) -> dict[str, str]:
        values = {}
        for secret in container.get("secrets") or []:
            source = secret["valueFrom"]
            if ":secretsmanager:" in source:
                client = self.labstack.clients.get("secretsmanager", task.account, task.region)
                values[secret["name"]] = client.get_secret_value(SecretId=source)["SecretString"]
            else:
                client = self.labstack.clients.get("ssm", task.account, task.region)
                name = source.split(":parameter", 1)[1] if ":parameter" in source else source
                values[secret["name"]] = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        return values

    def _pump(self, task: RunningTask, container: dict[str, Any], proc: subprocess.Popen) -> None:
        """The container's output, line by line, to its awslogs stream (the shipper batches)."""
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        group = options.get("awslogs-group") if config.get("logDriver") == "awslogs" else None
        stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{task.record['taskArn'].rsplit('/', 1)[1]}"
        region = options.get("awslogs-region", task.region)
        assert proc.stdout is not None
        for raw in iter(lambda: proc.stdout.readline(16_384), b""):  # type: ignore[union-attr]
            if group:
                self.ship_logs(task.account, region, group, stream, [raw.decode("utf-8", "replace").rstrip("\n")])

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
        self.on_change()

    def shutdown(self, tasks: list[RunningTask]) -> None:
        for task in tasks:
            task.stop_requested.set()
            task.changed.set()
            self._kill_all(task)


def _tell_when_ended(task: RunningTask, proc: subprocess.Popen) -> None:
    """Wake the task's watcher when ``proc`` ends."""
    proc.wait()
    task.changed.set()


def _signal(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
