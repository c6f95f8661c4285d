"""CodeBuild batch builds: StartBuildBatch runs the builds of the buildspec's batch section for real.

AWS's pages these tests follow: "Run builds in batches" (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html),
the "Batch build buildspec reference" (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html),
and the BuildBatch API reference (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BuildBatch.html).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import Lab, buildspec, wait_build
from tests.support.roles import service_role

pytest_plugins = ["tests.support.codebuild_fixtures"]

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


def wait_batch(lab: Lab, batch_id: str, timeout: float = 60) -> dict:
    """Poll until the batch is complete; the final BuildBatch."""
    deadline = time.monotonic() + timeout
    while True:
        batch = lab.codebuild.batch_get_build_batches(ids=[batch_id])["buildBatches"][0]
        if batch["complete"]:
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch['currentPhase']} after {timeout} s")
        time.sleep(0.1)


def run_batch(lab: Lab, project: str, timeout: float = 60, **overrides: Any) -> dict:
    started = lab.codebuild.start_build_batch(projectName=project, **overrides)["buildBatch"]
    return wait_batch(lab, started["id"], timeout)


def groups(batch: dict) -> dict[str, dict]:
    return {g["identifier"]: g for g in batch["buildGroups"]}


def builds_of(lab: Lab, batch: dict) -> dict[str, dict]:
    """The current build of each group that ran, by identifier (BatchGetBuilds)."""
    arns = {g["identifier"]: g["currentBuildSummary"]["arn"] for g in batch["buildGroups"] if "currentBuildSummary" in g}
    found = lab.codebuild.batch_get_builds(ids=[a.split("build/", 1)[1] for a in arns.values()])["builds"]
    by_arn = {b["arn"]: b for b in found}
    return {ident: by_arn[arn] for ident, arn in arns.items()}


@pytest.mark.slow
def test_a_build_list_runs_both_builds_for_real(lab: Lab) -> None:
    """The "Build list" example of https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html: two builds
    of the project, each with its own variables, both run."""
    batch = {"fast-fail": False, "build-list": [
        {"identifier": "build1", "env": {"variables": {"BUILD_ID": "build1"}}, "ignore-failure": False},
        {"identifier": "build2", "env": {"variables": {"BUILD_ID": "build2"}}, "ignore-failure": True}]}
    project = batch_project(lab, "list", batch, {"build": {"commands": ["echo id=$BUILD_ID ident=$CODEBUILD_BATCH_BUILD_IDENTIFIER"]}})
    started = lab.codebuild.start_build_batch(projectName="list")["buildBatch"]
    assert started["id"].startswith("list:") and started["arn"].endswith(f"build-batch/{started['id']}")
    assert started["buildBatchStatus"] == "IN_PROGRESS" and started["complete"] is False
    assert started["buildBatchNumber"] == 1
    done = wait_batch(lab, started["id"])
    assert done["buildBatchStatus"] == "SUCCEEDED" and done["currentPhase"] == "SUCCEEDED"
    assert [p["phaseType"] for p in done["phases"]] == ["SUBMITTED", "DOWNLOAD_BATCHSPEC", "IN_PROGRESS", "SUCCEEDED"]
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in done["phases"][:-1])
    assert done["buildBatchConfig"]["serviceRole"] == project["buildBatchConfig"]["serviceRole"]
    by_id = groups(done)
    assert set(by_id) == {"build1", "build2"}
    assert by_id["build2"]["ignoreFailure"] is True and by_id["build1"]["dependsOn"] == []
    builds = builds_of(lab, done)
    for ident, build in builds.items():
        assert build["buildStatus"] == "SUCCEEDED" and build["buildBatchArn"] == done["arn"]
        assert f"id={ident} ident={ident}" in lab.logs(build)
        summary = by_id[ident]["currentBuildSummary"]
        assert summary["buildStatus"] == "SUCCEEDED" and summary["primaryArtifact"]["identifier"] == ident
    listed = lab.codebuild.list_build_batches_for_project(projectName="list")["ids"]
    assert listed == [done["id"]] and done["id"] in lab.codebuild.list_build_batches()["ids"]
    assert {b.split(":", 1)[0] for b in lab.codebuild.list_builds_for_project(projectName="list")["ids"]} == {"list"}
