"""CodeBuild under bad input and limits: huge buildspecs and output, endless loops, stray
children, the per-account concurrency limit and the timeouts, with labstack healthy after."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import psutil
import pytest
from labstack import daemon

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab, buildspec, marked_sleep, phase_statuses, phases, running, wait_build
from tests.support.server import LabstackProcess, start_labstack

MINUTE = 0.3  # seconds per timeout minute on the fast server: a 5-minute timeout lasts 1.5 s

pytest_plugins = ["tests.support.codebuild_fixtures"]


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack whose build timeouts are short and which runs one build per account at a time."""
    server = start_labstack(tmp_path_factory.mktemp("codebuild-fast"), LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT,
                            LABSTACK_CODEBUILD_MINUTE_SECONDS=str(MINUTE), LABSTACK_CODEBUILD_CONCURRENT_BUILDS="1")
    yield server
    server.stop()


def _healthy(server: LabstackProcess) -> None:
    with urllib.request.urlopen(server.endpoint + "/_labstack/health", timeout=5) as reply:
        assert reply.status == 200


@pytest.mark.slow
def test_a_five_megabyte_buildspec_fails_the_build_not_labstack(lab: Lab) -> None:
    lab.project("huge-spec", buildspec({"build": {"commands": ["true"]}}))
    huge = buildspec({"build": {"commands": ["echo " + "x" * 1000] * 5000}})
    assert len(huge) > 5_000_000
    build = lab.run("huge-spec", buildspecOverride=huge)
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and context["statusCode"] == "YAML_FILE_ERROR"
    assert "limit" in context["message"]
    _healthy(lab.server)


def test_two_hundred_megabytes_of_output_keep_memory_bounded(lab: Lab) -> None:
    lab.project("loud", buildspec({"build": {"commands": ["yes | head -c 200000000", "echo still-here"]}}))
    labstack = psutil.Process(lab.server.pid)
    before = labstack.memory_info().rss
    build = lab.run("loud", timeout=120)
    grown = labstack.memory_info().rss - before
    assert build["buildStatus"] == "SUCCEEDED"
    assert grown < 120 * 1024 * 1024, f"labstack grew by {grown / 2**20:.0f} MiB"
    where = build["logs"]
    tail = lab.client("logs").get_log_events(logGroupName=where["groupName"], logStreamName=where["streamName"],
                                             startFromHead=False, limit=20)["events"]
    assert any("further output is discarded" in e["message"] for e in tail)
    _healthy(lab.server)


def test_children_left_behind_are_killed_when_the_build_ends(lab: Lab) -> None:
    sleep = marked_sleep()
    lab.project("forks", buildspec({"build": {"commands": [f"sh -c '{sleep} > /dev/null 2>&1 &'", "echo parent-done"]}}))
    build = lab.run("forks")
    assert build["buildStatus"] == "SUCCEEDED"
    deadline = time.monotonic() + 5
    while running(sleep):
        assert time.monotonic() < deadline, f"{sleep} outlived its build"
        time.sleep(0.05)


def test_an_endless_loop_times_out(fast: LabstackProcess) -> None:
    lab = Lab(fast)
    # 20 minutes (6 s here): on a loaded machine the phases before BUILD alone have taken 1.5 s
    lab.project("endless", buildspec({"build": {"commands": ["while true; do :; done"]}}), timeoutInMinutes=20)
    started = time.monotonic()
    build = lab.run("endless", timeout=30)
    assert 20 * MINUTE <= time.monotonic() - started < 20 * MINUTE + 5
    assert build["buildStatus"] == "TIMED_OUT"
    assert phases(build)["BUILD"]["phaseStatus"] == "TIMED_OUT"
    assert phases(build)["BUILD"]["contexts"][0]["statusCode"] == "BUILD_TIMED_OUT"
    assert [p["phaseType"] for p in build["phases"]][-2:] == ["FINALIZING", "COMPLETED"]
    _healthy(fast)


def test_builds_beyond_the_account_limit_wait_in_queued(fast: LabstackProcess) -> None:
    lab = Lab(fast)
    lab.project("first", buildspec({"build": {"commands": ["sleep 3"]}}))  # long enough for a loaded machine
    lab.project("second", buildspec({"build": {"commands": ["true"]}}))
    one = lab.codebuild.start_build(projectName="first")["build"]
    time.sleep(0.3)
    two = lab.codebuild.start_build(projectName="second")["build"]
    time.sleep(0.3)
    now = {b["id"]: b for b in lab.codebuild.batch_get_builds(ids=[one["id"], two["id"]])["builds"]}
    assert now[two["id"]]["currentPhase"] == "QUEUED", {b["projectName"]: (b["currentPhase"], b["buildStatus"]) for b in now.values()}
    other = Lab(fast)  # the limit is per account: another account is not held up
    other.project("elsewhere", buildspec({"build": {"commands": ["true"]}}))
    assert other.run("elsewhere", timeout=10)["buildStatus"] == "SUCCEEDED"
    first, second = wait_build(lab.codebuild, one["id"]), wait_build(lab.codebuild, two["id"])
    assert first["buildStatus"] == second["buildStatus"] == "SUCCEEDED"
    assert phases(second)["QUEUED"]["endTime"] >= phases(first)["BUILD"]["endTime"]


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["TIMED_OUT", "STOPPED"])
def test_a_build_that_never_leaves_queued(fast: LabstackProcess, ending: str) -> None:
    lab = Lab(fast)
    lab.project("hog", buildspec({"build": {"commands": ["sleep 2.5"]}}), timeoutInMinutes=20)
    lab.project("waits", buildspec({"build": {"commands": ["true"]}}), queuedTimeoutInMinutes=5)
    hog = lab.codebuild.start_build(projectName="hog")["build"]
    waiting = lab.codebuild.start_build(projectName="waits")["build"]
    time.sleep(0.3)
    with urllib.request.urlopen(fast.endpoint + "/_labstack/status", timeout=5) as reply:
        assert json.load(reply)["accounts"][lab.account]["builds"] == 2
    if ending == "STOPPED":
        assert lab.codebuild.stop_build(id=waiting["id"])["build"]["buildStatus"] == "STOPPED"
    waited = wait_build(lab.codebuild, waiting["id"], timeout=10)  # the queued timeout is 5 * 0.3 s
    assert waited["buildStatus"] == ending
    assert phase_statuses(waited) == [("SUBMITTED", "SUCCEEDED"), ("QUEUED", ending), ("COMPLETED", None)]
    assert wait_build(lab.codebuild, hog["id"])["buildStatus"] == "SUCCEEDED"


def test_reset_stops_running_builds_and_forgets_them(fast: LabstackProcess) -> None:
    lab = Lab(fast)
    lab.project("long", buildspec({"build": {"commands": ["sleep 60"]}}), timeoutInMinutes=60)
    lab.codebuild.start_build(projectName="long")
    time.sleep(0.5)
    started = time.monotonic()
    daemon.get_json(fast.endpoint + "/_labstack/reset", timeout=30, method="POST")
    assert time.monotonic() - started < 10
    assert "projects" not in lab.codebuild.list_projects()
    assert "ids" not in lab.codebuild.list_builds()
    _healthy(fast)
