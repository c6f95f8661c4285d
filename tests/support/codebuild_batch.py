"""Helpers for the batch build tests: a batch service role, projects with a batch section, waiting for batches."""

from __future__ import annotations

from typing import Any

from tests.support.codebuild import Lab, buildspec
from tests.support.roles import service_role
from tests.support.waiting import wait_for

# What AWS's batch service role needs: "CodeBuild must be able to call the StartBuild, StopBuild, and RetryBuild
# actions on your behalf".
BATCH_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:StopBuild", "codebuild:RetryBuild"],
     "Resource": "*"}]}


def batch_role(lab: Lab, policy: dict = BATCH_POLICY, name: str = "codebuild-batch-role") -> str:
    """A batch service role of the lab's account, trusting CodeBuild."""
    return service_role(lab.client("iam"), name, "codebuild.amazonaws.com", policy=policy)


def batch_project(lab: Lab, name: str, batch: dict, phases: dict | None = None, **config: Any) -> dict:
    """A NO_SOURCE project whose buildspec has ``batch``, with batch builds enabled."""
    spec = buildspec(phases or {"build": {"commands": ["echo build $CODEBUILD_BATCH_BUILD_IDENTIFIER"]}}, batch=batch)
    return lab.project(name, spec, buildBatchConfig={"serviceRole": batch_role(lab), **config})


def failing(identifier: str, *after: str, status: int = 1) -> dict:
    """Build phases that fail (exit ``status``) in the batch's build ``identifier`` alone, then run ``after``."""
    test = f'if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = {identifier} ]; then exit {status}; fi'
    return {"build": {"commands": [test, *after]}}


def wait_batch(lab: Lab, batch_id: str, timeout: float = 60) -> dict:
    """Poll until the batch is complete; the final BuildBatch."""
    def complete() -> dict | None:
        batch = lab.codebuild.batch_get_build_batches(ids=[batch_id])["buildBatches"][0]
        return batch if batch["complete"] else None

    return wait_for(complete, timeout)


def run_batch(lab: Lab, project: str, timeout: float = 60, **overrides: Any) -> dict:
    started = lab.codebuild.start_build_batch(projectName=project, **overrides)["buildBatch"]
    return wait_batch(lab, started["id"], timeout)


def groups(batch: dict) -> dict[str, dict]:
    return {g["identifier"]: g for g in batch["buildGroups"]}


def builds_of(lab: Lab, batch: dict) -> dict[str, dict]:
    """The current build of each of the batch's tasks that ran (not its DOWNLOAD_SOURCE), by identifier."""
    arns = {g["identifier"]: g["currentBuildSummary"]["arn"] for g in batch["buildGroups"]
            if "currentBuildSummary" in g and g["identifier"] != "DOWNLOAD_SOURCE"}
    found = lab.codebuild.batch_get_builds(ids=[a.split("build/", 1)[1] for a in arns.values()])["builds"]
    by_arn = {b["arn"]: b for b in found}
    return {ident: by_arn[arn] for ident, arn in arns.items()}
