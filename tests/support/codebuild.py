"""Helpers for the CodeBuild tests: projects with inline buildspecs, waiting for builds."""

from __future__ import annotations

import secrets
import time
from typing import Any

import psutil
import yaml

from tests.support.responses import check_responses
from tests.support.roles import EVERYTHING, service_role

ENVIRONMENT = {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"}


def buildspec(phases: dict[str, Any], **sections: Any) -> str:
    """A buildspec 0.2 as YAML text, from phases and any other top-level sections."""
    return yaml.safe_dump({"version": 0.2, "phases": phases, **sections}, sort_keys=False)


def inline_project(client: Any, name: str, spec: str, role: str, **extra: Any) -> dict:
    """A NO_SOURCE project running ``spec``, without artifacts unless ``extra`` says so."""
    args = {
        "name": name,
        "source": {"type": "NO_SOURCE", "buildspec": spec},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": ENVIRONMENT,
        "serviceRole": role,
        **extra,
    }
    return client.create_project(**args)["project"]


def wait_build(client: Any, build_id: str, timeout: float = 30) -> dict:
    """Poll until the build is complete; the final build record."""
    deadline = time.monotonic() + timeout
    while True:
        build = client.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"]:
            return build
        if time.monotonic() > deadline:
            raise AssertionError(f"build {build_id} still {build['currentPhase']} after {timeout} s")
        time.sleep(0.05)


def run_build(client: Any, project: str, timeout: float = 30, **overrides: Any) -> dict:
    """Start a build of ``project`` and wait for it to complete."""
    started = client.start_build(projectName=project, **overrides)["build"]
    return wait_build(client, started["id"], timeout)


def phases(build: dict) -> dict[str, dict]:
    """The build's phase records by phase type."""
    return {p["phaseType"]: p for p in build["phases"]}


def phase_statuses(build: dict) -> list[tuple[str, str | None]]:
    """(phaseType, phaseStatus) of every phase record, in order."""
    return [(p["phaseType"], p.get("phaseStatus")) for p in build["phases"]]


def log_lines(logs: Any, build: dict) -> list[str]:
    """Every message of the build's CloudWatch Logs stream, in order."""
    where = build["logs"]
    events = logs.get_log_events(logGroupName=where["groupName"], logStreamName=where["streamName"], startFromHead=True)
    return [e["message"] for e in events["events"]]


def role_arn(account: str) -> str:
    """A service role ARN in ``account`` (:func:`build_role` makes it)."""
    return f"arn:aws:iam::{account}:role/codebuild-role"


def build_role(iam: Any, policy: dict[str, Any] | None = EVERYTHING) -> str:
    """The account's ``codebuild-role``, trusting CodeBuild (and EventBridge, whose rules the tests point at
    it) with ``policy``: what a build needs when IAM is enforced."""
    return service_role(iam, "codebuild-role", "codebuild.amazonaws.com", "events.amazonaws.com", policy=policy)


def new_account() -> str:
    """A fresh 12-digit account (the access key id), so each test starts from empty state."""
    return f"{secrets.randbelow(10**11) + 10**11}"


class Lab:
    """Clients of one account on a labstack, with a service role builds may use; the CodeBuild client
    checks every response."""

    def __init__(self, server: Any, account: str | None = None) -> None:
        self.server = server
        self.account = account or new_account()
        self.role = build_role(self.client("iam"))
        self.codebuild = check_responses(server.client("codebuild", account=self.account))

    def client(self, service: str) -> Any:
        return self.server.client(service, account=self.account)

    def project(self, name: str, spec: str, **extra: Any) -> dict:
        """A NO_SOURCE project of this account (``role`` defaults to the account's)."""
        extra.setdefault("role", self.role)
        return inline_project(self.codebuild, name, spec, **extra)

    def run(self, project: str, timeout: float = 30, **overrides: Any) -> dict:
        return run_build(self.codebuild, project, timeout, **overrides)

    def logs(self, build: dict) -> list[str]:
        return log_lines(self.client("logs"), build)


def marked_sleep() -> str:
    """A ``sleep`` command no other process of this machine runs, to find it with :func:`running`."""
    return f"sleep 300.{secrets.randbelow(10**9)}"


def running(command: str) -> list[psutil.Process]:
    """The live processes of this machine that run ``command`` (a sandboxed build sees a PID namespace
    of its own, so it cannot name its processes by their pids here)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["cmdline"] == command.split() and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found
