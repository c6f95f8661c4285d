"""Runs one deployment in a thread of its own: the platform's lifecycle, lifecycle hooks as
Lambda invocations, alarm watching, stops, and the rollback that puts the original back."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from botocore.exceptions import ClientError

from labstack.services.codedeploy.appspec import (
    AppSpec,
    AppSpecError,
    parse,
    revision_text,
)
from labstack.services.codedeploy.deployment import Deployment, HookExecution

log = logging.getLogger("labstack.codedeploy")
POLL_SECONDS = 0.05  # real seconds between checks while a deployment waits
ALARM_POLL_SECONDS = 0.1
HOOK_TIMEOUT_LAB_SECONDS = 3600  # a hook has one hour to report, as on AWS


class Halt(Exception):
    """The deployment cannot go on. ``trigger`` is the autoRollbackConfiguration event it counts as."""

    def __init__(self, code: str, message: str, status: str = "Failed", trigger: str | None = "DEPLOYMENT_FAILURE") -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.trigger = code, message, status, trigger


class Gone(Exception):
    """labstack is resetting or shutting down: the deployment ends without a word."""


class Platform(Protocol):
    """What a compute platform does for a deployment (see ecs.py, lambdas.py, server.py)."""

    def prepare(self) -> None: ...
    def run(self) -> None: ...
    def undo(self) -> bool: ...
    def rollback_target(self, rollback: Deployment) -> None: ...


class Runner:
    """Drives ``deployment`` to an end state."""

    def __init__(self, provider: Any, deployment: Deployment) -> None:
        self.provider = provider
        self.labstack = provider.labstack
        self.deployment = deployment
        self._alarm_checked = 0.0

    def client(self, service: str) -> Any:
        return self.labstack.clients.get(service, self.deployment.account, self.deployment.region)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"codedeploy-{self.deployment.id}", daemon=True).start()

    def _run(self) -> None:
        from labstack.services.codedeploy.platforms import platform_for

        d = self.deployment
        platform = platform_for(self)
        try:
            d.set_status("InProgress")
            platform.prepare()
            platform.run()
            d.target_status("Succeeded")
            d.set_status("Succeeded")
        except Halt as halt:
            self._halt(platform, halt)
        except Gone:
            pass
        except Exception as exc:  # a fault of labstack's: the deployment fails, labstack goes on
            log.exception("deployment %s failed inside labstack", d.id)
            self._halt(platform, Halt("INTERNAL_ERROR", f"An internal error occurred: {exc}"))
        finally:
            d.done.set()
            self.provider.ended(d)

    # -- waiting ------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Raise if the deployment must end now: a stop, its group deleted, an alarm in ALARM."""
        d = self.deployment
        if self.provider.closing.is_set():
            raise Gone()
        if d.stop.is_set():
            raise Halt("MANUAL_STOP", "The deployment was stopped by a StopDeployment request.", "Stopped",
                       "DEPLOYMENT_STOP_ON_REQUEST")
        if not self.provider.group_exists(d):
            raise Halt("DEPLOYMENT_GROUP_MISSING", f"The deployment group {d.info['deploymentGroupName']} was deleted "
                       "while the deployment was in progress.")
        if time.monotonic() - self._alarm_checked >= ALARM_POLL_SECONDS:
            self._alarm_checked = time.monotonic()
            self._check_alarms()

    def _check_alarms(self) -> None:
        config = self.deployment.group.get("alarmConfiguration") or {}
        names = [a["name"] for a in config.get("alarms") or []]
        if not config.get("enabled") or not names:
            return
        try:
            found = self.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        except ClientError:
            found = None
        missing = names if found is None else sorted(set(names) - {a["AlarmName"] for a in found})
        if missing and not config.get("ignorePollAlarmFailure"):
            raise Halt("ALARM_ACTIVE", "The deployment was stopped because the state of alarm(s) "
                       f"{', '.join(missing)} could not be read from CloudWatch.", "Stopped", "DEPLOYMENT_STOP_ON_ALARM")
        firing = [a["AlarmName"] for a in found or [] if a["StateValue"] == "ALARM"]
        if firing:
            raise Halt("ALARM_ACTIVE", "One or more alarms have been activated according to the Amazon CloudWatch "
                       f"metrics you selected, and the affected deployments have been stopped. Activated alarms: "
                       f"<{', '.join(firing)}>", "Stopped", "DEPLOYMENT_STOP_ON_ALARM")

    def wait(self, lab_seconds: float, until: threading.Event | None = None) -> bool:
        """Wait ``lab_seconds`` of lab time, checking all along; True when ``until`` came first."""
        deadline = self.labstack.clock.deadline(lab_seconds)
        while True:
            self.checkpoint()
            if until is not None and until.is_set():
                return True
            left = deadline.remaining_real()
            if left <= 0:
                return False
            time.sleep(min(left, POLL_SECONDS))

    def wait_for(self, condition: Any, lab_seconds: float, real_floor: float = 0.0) -> bool:
        """Poll ``condition()`` until true (True) or ``lab_seconds`` of lab time passed (False).
        ``real_floor``: real seconds it waits at least, for work that runs in real time (tasks starting)."""
        deadline = max(self.labstack.clock.deadline(lab_seconds).at, time.monotonic() + real_floor)
        while True:
            self.checkpoint()
            if condition():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS * 2)

    def appspec(self, platform: str, fetch_s3: Any) -> AppSpec:
        """The deployment's AppSpec for ``platform``; an unusable one ends it (INVALID_REVISION)."""
        try:
            return parse(revision_text(self.deployment.info["revision"], fetch_s3), platform)
        except AppSpecError as exc:
            raise Halt("INVALID_REVISION", f"The AppSpec file is not valid: {exc}") from None

    # -- hooks --------------------------------------------------------------------------
    def hook(self, event: str, function: str | None) -> None:
        """Run lifecycle event ``event``'s hook: invoke the function and await its verdict."""
        d = self.deployment
        if not function:
            d.event(event, "Skipped")
            return
        d.event(event, "InProgress")
        hook = d.new_hook(event, function)
        hook.status = "InProgress"  # before the invoke: the function may report before invoke returns here
        payload = json.dumps({"DeploymentId": d.id, "LifecycleEventHookExecutionId": hook.execution_id})
        try:
            self.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=payload.encode())
        except ClientError as exc:
            self._hook_failed(hook, f"The {event} hook function {function} could not be invoked: "
                                    f"{exc.response['Error'].get('Message', exc)}")
        if not self.wait(HOOK_TIMEOUT_LAB_SECONDS, hook.reported):
            hook.status = "Failed"
            self._hook_failed(hook, f"The {event} hook function {function} did not report a status with "
                                    "PutLifecycleEventHookExecutionStatus within one hour (lab time).")
        if hook.status != "Succeeded":
            self._hook_failed(hook, f"The {event} hook function {function} reported Failed.")
        d.event(event, "Succeeded")

    def _hook_failed(self, hook: HookExecution, message: str) -> None:
        hook.status = "Failed"
        hook.reported.set()
        self.deployment.event(hook.event, "Failed", message)
        raise Halt("HOOK_EXECUTION_FAILURE", f"Lifecycle event {hook.event} failed: {message}")

    @contextlib.contextmanager
    def step(self, event: str) -> Iterator[None]:
        """``with runner.step("Install"):`` marks the event InProgress, then Succeeded (Failed on a Halt)."""
        self.deployment.event(event, "InProgress")
        try:
            yield
        except Halt:
            self.deployment.event(event, "Failed")
            raise
        self.deployment.event(event, "Succeeded")

    # -- the end ------------------------------------------------------------------------
    def _wants_rollback(self, halt: Halt) -> bool:
        d = self.deployment
        if halt.trigger == "DEPLOYMENT_STOP_ON_REQUEST" and d.stop_rollback is not None:
            return d.stop_rollback
        config = d.info.get("autoRollbackConfiguration") or {}
        return bool(config.get("enabled")) and halt.trigger in (config.get("events") or [])

    def _halt(self, platform: Platform, halt: Halt) -> None:
        d = self.deployment
        with d.lock:
            d.info["errorInformation"] = {"code": halt.code, "message": halt.message}
            d.finish_events("Failed")
            d.target_status("Failed")
        rollback = self._wants_rollback(halt) and not self.provider.closing.is_set()
        if not rollback:
            self._undo(platform)
            d.set_status(halt.status)
            return
        redo = self.provider.rollback_for(d)
        with d.lock:
            d.info["rollbackInfo"] = {"rollbackDeploymentId": redo.id, "rollbackMessage":
                                      f"Deployment {d.id} was rolled back by deployment {redo.id}: {halt.message}"[:1000]}
        d.set_status(halt.status)
        redo.set_status("InProgress")
        platform.rollback_target(redo)
        undone = self._undo(platform)
        redo.finish_events("Succeeded" if undone else "Failed")
        redo.target_status("Succeeded" if undone else "Failed")
        if not undone:
            redo.info["errorInformation"] = {"code": "INTERNAL_ERROR", "message": "The rollback could not restore the original."}
        redo.set_status("Succeeded" if undone else "Failed")
        redo.done.set()
        self.provider.ended(redo)

    @staticmethod
    def _undo(platform: Platform) -> bool:
        try:
            return platform.undo()
        except Exception:
            log.exception("could not undo a deployment")
            return False

