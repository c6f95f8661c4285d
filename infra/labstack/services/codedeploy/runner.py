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

from labstack import motobridge
from labstack.enforcement import roles
from labstack.services.codedeploy.appspec import (
    AppSpec,
    AppSpecError,
    parse,
    revision_text,
)
from labstack.services.codedeploy.deployment import Deployment, HookExecution
from labstack.services.codedeploy.store import arn

log = logging.getLogger("labstack.codedeploy")
POLL_SECONDS = 0.05  # real seconds between checks while a deployment waits
ALARM_POLL_SECONDS = 0.1
HOOK_TIMEOUT_LAB_SECONDS = 3600  # a hook has one hour to report, as on AWS
SERVICE = "codedeploy.amazonaws.com"
DENIED = ("AccessDenied", "AccessDeniedException")
# Lifecycle events after which AWS cannot roll back: the ECS hooks list says of BeforeInstall, run before the
# replacement task set exists, "A rollback is not possible at this point"
# (https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html).
NO_ROLLBACK_EVENTS = frozenset({"BeforeInstall"})


def is_denial(exc: ClientError) -> bool:
    """True when a call failed because IAM denied it (the role's policies, or a deleted role)."""
    return exc.response.get("Error", {}).get("Code") in DENIED


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message") or str(exc)


class Halt(Exception):
    """The deployment cannot go on. ``trigger`` is the autoRollbackConfiguration event it counts as."""

    def __init__(self, code: str, message: str, status: str = "Failed", trigger: str | None = "DEPLOYMENT_FAILURE") -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.trigger = code, message, status, trigger
        self.unrollable_at: str | None = None  # the lifecycle event it ended in, when no rollback is possible there


class Gone(Exception):
    """labstack is resetting or shutting down: the deployment ends without a word."""


class Platform(Protocol):
    """What a compute platform does for a deployment (see ecs.py, lambdas.py, server.py)."""

    def prepare(self) -> None: ...
    def run(self) -> None: ...
    def undo(self) -> bool: ...
    def rollback_target(self, rollback: Deployment) -> None: ...


class Runner:
    """Drives ``deployment`` to an end state, acting as the deployment group's service role."""

    def __init__(self, provider: Any, deployment: Deployment) -> None:
        self.provider = provider
        self.labstack = provider.labstack
        self.deployment = deployment
        self.role = deployment.group.get("serviceRoleArn", "")
        self._alarm_checked = 0.0
        self.closing = provider.closing  # set at shutdown or a reset (which then gives the provider a new one)

    def client(self, service: str) -> Any:
        """A client acting as the service role (its session): what CodeDeploy does with the role on AWS."""
        d = self.deployment
        if d.session is None:
            raise RuntimeError(f"deployment {d.id} has no session of its service role")
        return self.labstack.clients.as_identity(service, d.session, d.region)

    def internal(self, service: str) -> Any:
        """A client of CodeDeploy itself, for what it observes without the role (task health, a task
        definition's containers: ECS and the load balancer tell CodeDeploy on AWS)."""
        return self.labstack.clients.get(service, self.deployment.account, self.deployment.region)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"codedeploy-{self.deployment.id}", daemon=True).start()

    def _run(self) -> None:
        from labstack.services.codedeploy.platforms import platform_for

        d = self.deployment
        platform: Platform | None = None
        try:
            self._assume()
            d.set_status("InProgress")
            platform = platform_for(self)
            platform.prepare()
            platform.run()
            d.target_status("Succeeded")
            self.provider.end(d, "Succeeded")
        except Halt as halt:
            self._halt(platform, halt)
        except Gone:
            pass
        except ClientError as exc:  # a call of the role's that IAM refused, or one labstack did not expect
            self._halt(platform, self.refusal(exc) or Halt("INTERNAL_ERROR", f"An internal error occurred: {error_message(exc)}"))
        except Exception as exc:  # a fault of labstack's: the deployment fails, labstack goes on
            log.exception("deployment %s failed inside labstack", d.id)
            self._halt(platform, Halt("INTERNAL_ERROR", f"An internal error occurred: {exc}"))
        finally:
            self._end_session()
            d.done.set()  # also when it never ended (labstack closing): its runner is gone

    # -- the service role ---------------------------------------------------------------
    def _assume(self) -> None:
        """CodeDeploy assumes the group's service role (trust checked, aws:SourceArn the group)."""
        d = self.deployment
        group_arn = arn(d.region, d.account, "deploymentgroup", f"{d.info['applicationName']}/{d.info['deploymentGroupName']}")
        try:
            d.session = roles.assume(self.labstack, SERVICE, self.role, f"codedeploy:{d.id}", source_arn=group_arn)
        except roles.RoleRefused as exc:
            if not self._role_exists():
                raise Halt("IAM_ROLE_MISSING", f"The service role {self.role} cannot be accessed: it does not exist. "
                           f"{exc}") from None
            raise Halt("IAM_ROLE_PERMISSIONS", f"AWS CodeDeploy does not have the permissions required to assume the "
                       f"role {self.role}. {exc}") from None

    def _role_exists(self) -> bool:
        parts = self.role.split(":")
        return len(parts) == 6 and motobridge.role(parts[4], parts[5].rpartition("/")[2], parts[1]) is not None

    def refusal(self, exc: ClientError) -> Halt | None:
        """The Halt for a call of the role's that IAM denied (None for any other error): AWS's
        AccessDenied sentence, which names the action and the resource."""
        if not is_denial(exc):
            return None
        if not self._role_exists():
            return Halt("IAM_ROLE_MISSING", f"The service role {self.role} cannot be accessed: it was deleted while "
                        f"the deployment was in progress. {error_message(exc)}")
        return Halt("IAM_ROLE_PERMISSIONS", f"The service role {self.role} does not give CodeDeploy the permissions "
                    f"it needs: {error_message(exc)}")

    def refuse(self, exc: ClientError) -> None:
        """Raise the deployment's IAM failure when ``exc`` is a denial; return for any other error."""
        halt = self.refusal(exc)
        if halt is not None:
            raise halt from None

    def _end_session(self) -> None:
        session = self.deployment.session
        if session is not None:
            self.labstack.keyring.revoke(session.access_key)
            self.labstack.clients.forget(session.access_key)

    # -- waiting ------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Raise if the deployment must end now: a stop, its group deleted, an alarm in ALARM."""
        d = self.deployment
        if self.closing.is_set():
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
        why = ""
        try:
            found = self.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        except ClientError as exc:
            found, why = None, f": {error_message(exc)}"
        missing = names if found is None else sorted(set(names) - {a["AlarmName"] for a in found})
        if missing and not config.get("ignorePollAlarmFailure"):
            raise Halt("ALARM_ACTIVE", "The deployment was stopped because the state of alarm(s) "
                       f"{', '.join(missing)} could not be read from CloudWatch{why}.", "Stopped", "DEPLOYMENT_STOP_ON_ALARM")
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
        try:
            self._await_hook(event, function)
        except Halt as halt:
            if event in NO_ROLLBACK_EVENTS:
                halt.unrollable_at = event
            raise
        d.event(event, "Succeeded")

    def _await_hook(self, event: str, function: str) -> None:
        d = self.deployment
        hook = d.new_hook(event, function)
        hook.status = "InProgress"  # before the invoke: the function may report before invoke returns here
        payload = json.dumps({"DeploymentId": d.id, "LifecycleEventHookExecutionId": hook.execution_id})
        try:
            self.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=payload.encode())
        except ClientError as exc:
            refused = self.refusal(exc)
            self._hook_failed(hook, f"The {event} hook function {function} could not be invoked: {error_message(exc)}",
                              refused.code if refused is not None else "HOOK_EXECUTION_FAILURE")
        if not self.wait(HOOK_TIMEOUT_LAB_SECONDS, hook.reported):
            hook.status = "Failed"
            self._hook_failed(hook, f"The {event} hook function {function} did not report a status with "
                                    "PutLifecycleEventHookExecutionStatus within one hour (lab time).")
        if hook.status != "Succeeded":
            self._hook_failed(hook, f"The {event} hook function {function} reported Failed.")

    def _hook_failed(self, hook: HookExecution, message: str, code: str = "HOOK_EXECUTION_FAILURE") -> None:
        hook.status = "Failed"
        hook.reported.set()
        self.deployment.event(hook.event, "Failed", message)
        raise Halt(code, f"Lifecycle event {hook.event} failed: {message}")

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

    def _halt(self, platform: Platform | None, halt: Halt) -> None:
        d = self.deployment
        with d.lock:
            d.info["errorInformation"] = {"code": halt.code, "message": halt.message[:1000]}
            d.finish_events("Failed")
            d.target_status("Failed")
        # Nothing changed when the role could not be assumed: there is nothing to roll back.
        rollback = platform is not None and self._wants_rollback(halt) and not self.closing.is_set()
        if rollback and halt.unrollable_at:
            with d.lock:
                d.info["rollbackInfo"] = {"rollbackMessage": f"Deployment {d.id} was not rolled back: it ended at "
                                          f"{halt.unrollable_at}, where a rollback is not possible."}
            rollback = False
        if not rollback:
            self._undo(platform)
            self.provider.end(d, halt.status)
            return
        redo = self.provider.rollback_for(d)
        redo.session = d.session  # the rollback acts as the same role
        with d.lock:
            d.info["rollbackInfo"] = {"rollbackDeploymentId": redo.id, "rollbackMessage":
                                      f"Deployment {d.id} was rolled back by deployment {redo.id}: {halt.message}"[:1000]}
        self.provider.end(d, halt.status)  # the rollback deployment is the group's active one now
        redo.set_status("InProgress")
        platform.rollback_target(redo)
        failed = self._undo(platform)
        redo.finish_events("Failed" if failed else "Succeeded")
        redo.target_status("Failed" if failed else "Succeeded")
        if failed is not None:
            redo.info["errorInformation"] = {"code": failed.code, "message": f"The rollback could not restore the "
                                             f"original: {failed.message}"[:1000]}
        self.provider.end(redo, "Failed" if failed else "Succeeded")

    def _undo(self, platform: Platform | None) -> Halt | None:
        """Put the original back; None when done, else why not (a denial of the role's, named)."""
        if platform is None:
            return None
        try:
            return None if platform.undo() else Halt("INTERNAL_ERROR", "the original could not be restored.")
        except ClientError as exc:
            log.warning("deployment %s: could not undo: %s", self.deployment.id, error_message(exc))
            return self.refusal(exc) or Halt("INTERNAL_ERROR", error_message(exc))
        except Exception as exc:
            log.exception("could not undo a deployment")
            return Halt("INTERNAL_ERROR", str(exc))

