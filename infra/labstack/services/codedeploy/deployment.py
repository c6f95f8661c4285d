"""A deployment as CodeDeploy reports it: its DeploymentInfo, its one target with lifecycle
events, and the hook executions waiting for PutLifecycleEventHookExecutionStatus."""

from __future__ import annotations

import base64
import copy
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labstack.clock import now
from labstack.keyring import Identity

ECS_EVENTS = ("BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
              "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
LAMBDA_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
DONE = ("Succeeded", "Failed", "Stopped")



@dataclass
class HookExecution:
    """One lifecycle hook: the function was invoked and its verdict is awaited."""

    execution_id: str
    event: str
    function: str
    status: str = "Pending"
    reported: threading.Event = field(default_factory=threading.Event)


@dataclass
class Deployment:
    """One deployment; ``info`` is what GetDeployment answers. Changes happen under ``lock``."""

    account: str
    region: str
    info: dict[str, Any]
    group: dict[str, Any]
    config: dict[str, Any]
    target: dict[str, Any] | None = None
    target_type: str = "ECSTarget"
    hooks: dict[str, HookExecution] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    stop: threading.Event = field(default_factory=threading.Event)
    stop_rollback: bool | None = None  # what StopDeployment's autoRollbackEnabled said
    ready_continue: threading.Event = field(default_factory=threading.Event)
    termination_continue: threading.Event = field(default_factory=threading.Event)
    waiting_for: str | None = None  # READY_WAIT or TERMINATION_WAIT while it waits for ContinueDeployment
    done: threading.Event = field(default_factory=threading.Event)  # ended (a final status), or its runner gone
    on_status: Callable[[Deployment, str], None] | None = None  # told of each new status, outside the lock
    session: Identity | None = None  # CodeDeploy's session of the group's service role while it runs

    @property
    def id(self) -> str:
        return self.info["deploymentId"]

    def set_status(self, status: str) -> None:
        """Move to ``status`` and tell ``on_status`` of the change."""
        if self.change_status(status) and self.on_status is not None:
            self.on_status(self, status)

    def change_status(self, status: str) -> bool:
        """Move to ``status`` without telling anyone; True when it changed. A final status sets ``done`` in
        the same step: a deployment reported ended is no longer its group's active deployment."""
        with self.lock:
            changed = self.info.get("status") != status
            self.info["status"] = status
            if status == "InProgress" and "startTime" not in self.info:
                self.info["startTime"] = now()
            if status in DONE:
                self.info["completeTime"] = now()
                self.done.set()
            self._overview()
        return changed

    def new_target(self, target_type: str, record: dict[str, Any], events: tuple[str, ...]) -> None:
        """The deployment's target, its lifecycle events all Pending."""
        with self.lock:
            self.target_type = target_type
            self.target = {"deploymentId": self.id, **record, "lastUpdatedAt": now(), "status": "Pending",
                           "lifecycleEvents": [{"lifecycleEventName": name, "status": "Pending"} for name in events]}
            self._overview()

    def event(self, name: str, status: str, message: str | None = None) -> None:
        """Move lifecycle event ``name`` to ``status`` (times and diagnostics as AWS shows them)."""
        with self.lock:
            if self.target is None:
                return
            for item in self.target["lifecycleEvents"]:
                if item["lifecycleEventName"] != name:
                    continue
                item["status"] = status
                if status == "InProgress":
                    item["startTime"] = now()
                elif status in ("Succeeded", "Failed", "Skipped"):
                    item.setdefault("startTime", now())
                    item["endTime"] = now()
                if status == "Failed" and message:
                    item["diagnostics"] = {"errorCode": "ScriptFailed", "scriptName": name, "message": message[:1000],
                                           "logTail": ""}
            self.target_status("InProgress" if status == "InProgress" else self.target["status"])

    def target_status(self, status: str) -> None:
        with self.lock:
            if self.target is not None:
                self.target["status"] = status
                self.target["lastUpdatedAt"] = now()
                self._overview()

    def finish_events(self, status: str) -> None:
        """At the end: an event still running ends as the deployment did; one never started is Skipped."""
        with self.lock:
            for item in (self.target or {}).get("lifecycleEvents", []):
                if item["status"] in ("Pending", "InProgress"):
                    item["status"] = status if item["status"] == "InProgress" else "Skipped"
                    item.setdefault("startTime", now())
                    item["endTime"] = now()

    def _overview(self) -> None:
        counts = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
        if self.target is not None:
            state = self.target["status"]
            counts[state if state in counts else "Failed"] += 1
        self.info["deploymentOverview"] = counts

    def new_hook(self, event: str, function: str) -> HookExecution:
        token = base64.b64encode(os.urandom(96)).decode()
        hook = HookExecution(token, event, function)
        with self.lock:
            self.hooks[token] = hook
        return hook

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.info)

    def target_snapshot(self) -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self.target)

