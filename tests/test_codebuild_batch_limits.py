"""Batch builds against their time limit and a reset, on a labstack whose minutes are short: the batch ends,
its builds stop, nothing of it keeps running."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from labstack import daemon

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab, buildspec, marked_sleep, running, wait_build
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for
from tests.support.codebuild_batch import batch_role, groups, wait_batch

MINUTE = 0.3  # seconds per timeout minute: a batch timeout of 5 minutes lasts 1.5 s

pytest_plugins = ["tests.support.codebuild_fixtures"]


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    server = start_labstack(tmp_path_factory.mktemp("codebuild-batch-fast"), LABSTACK_PROVIDERS="",
                            LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT, LABSTACK_CODEBUILD_MINUTE_SECONDS=str(MINUTE))
    yield server
    server.stop()


def sleeper(lab: Lab, name: str, command: str, batch: dict, **config: object) -> None:
    lab.project(name, buildspec({"build": {"commands": [command]}}, batch=batch), timeoutInMinutes=480,
                buildBatchConfig={"serviceRole": batch_role(lab), **config})


@pytest.mark.slow
def test_a_batch_past_its_timeout_times_out_and_stops_its_builds(fast: LabstackProcess) -> None:
    """buildBatchConfig.timeoutInMins, "the maximum amount of time, in minutes, that the batch build must be completed
    in" (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectBuildBatchConfig.html): the batch ends
    TIMED_OUT and the build it was running is stopped, its process gone."""
    lab = Lab(fast)
    command = marked_sleep()
    sleeper(lab, "late", command, {"build-list": [{"identifier": "slow"}]}, timeoutInMins=5)
    started = lab.codebuild.start_build_batch(projectName="late")["buildBatch"]
    done = wait_batch(lab, started["id"], timeout=60)
    assert done["buildBatchStatus"] == "TIMED_OUT" and done["currentPhase"] == "FAILED"
    phase = next(p for p in done["phases"] if p["phaseType"] == "IN_PROGRESS")
    assert phase["phaseStatus"] == "TIMED_OUT" and "5 minutes" in phase["contexts"][0]["message"]
    build = wait_build(lab.codebuild, groups(done)["slow"]["currentBuildSummary"]["arn"].split("build/", 1)[1])
    assert build["buildStatus"] == "STOPPED"
    assert running(command) == []


@pytest.mark.slow
def test_reset_stops_a_running_batch_and_none_of_its_builds_starts_after(fast: LabstackProcess) -> None:
    """A reset in the middle of a build graph: the batch and its running build stop, and the build waiting on it
    (which a stopped build may not hold back: ignore-failure) never starts in the emptied labstack."""
    lab = Lab(fast)
    command = marked_sleep()
    graph = {"build-graph": [{"identifier": "a", "ignore-failure": True}, {"identifier": "b", "depend-on": ["a"]},
                             {"identifier": "c", "depend-on": ["b"]}]}
    sleeper(lab, "chain", command, graph)
    lab.codebuild.start_build_batch(projectName="chain")
    wait_for(lambda: running(command), 30)
    daemon.get_json(fast.endpoint + "/_labstack/reset", timeout=60, method="POST")
    time.sleep(1)  # long enough for a batch thread that survived to start its next build
    assert lab.codebuild.list_build_batches()["ids"] == []
    assert "ids" not in lab.codebuild.list_builds()
    assert running(command) == []
