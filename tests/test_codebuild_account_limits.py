"""A learner piling up builds and batches: past the per-account caps StartBuild and StartBuildBatch are refused
with AccountLimitExceededException naming the setting, labstack keeps answering and other accounts still build."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab, buildspec, marked_sleep, running
from tests.support.codebuild_batch import batch_role, wait_batch
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    server = start_labstack(tmp_path_factory.mktemp("codebuild-capped"), LABSTACK_PROVIDERS="",
                            LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT, LABSTACK_CODEBUILD_CONCURRENT_BUILDS="1",
                            LABSTACK_CODEBUILD_MAX_QUEUED_BUILDS="2", LABSTACK_CODEBUILD_MAX_BATCHES="2")
    yield server
    server.stop()


def refusal(call) -> str:  # type: ignore[no-untyped-def]
    """The message of the AccountLimitExceededException ``call()`` raises."""
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "AccountLimitExceededException"
    return caught.value.response["Error"]["Message"]


def another_account_builds(server: LabstackProcess) -> None:
    other = Lab(server)
    other.project("fine", buildspec({"build": {"commands": ["echo fine"]}}))
    assert other.run("fine", timeout=60)["buildStatus"] == "SUCCEEDED"


@pytest.mark.slow
def test_queued_builds_past_the_cap_are_refused_and_a_stop_frees_the_queue(capped: LabstackProcess) -> None:
    """"The maximum number of builds in a queue is five times the concurrent build limit"
    (https://docs.aws.amazon.com/codebuild/latest/userguide/builds-working.html); labstack's queue is
    LABSTACK_CODEBUILD_MAX_QUEUED_BUILDS: one build runs, two wait, the fourth StartBuild is refused."""
    lab = Lab(capped)
    command = marked_sleep()
    lab.project("hog", buildspec({"build": {"commands": [command]}}))
    started = [lab.codebuild.start_build(projectName="hog")["build"]["id"] for _ in range(3)]
    wait_for(lambda: running(command), 30)
    message = refusal(lambda: lab.codebuild.start_build(projectName="hog"))
    assert "2 queued builds" in message and "LABSTACK_CODEBUILD_MAX_QUEUED_BUILDS" in message
    assert lab.codebuild.list_projects()["projects"] == ["hog"]  # labstack keeps answering
    another_account_builds(capped)
    stopped = lab.codebuild.stop_build(id=started[2])["build"]  # a queued build stops at once, freeing its place
    assert stopped["buildStatus"] == "STOPPED"
    lab.codebuild.start_build(projectName="hog")
    for build in [*started, *lab.codebuild.list_builds_for_project(projectName="hog")["ids"]]:
        lab.codebuild.stop_build(id=build)
    assert running(command) == []


@pytest.mark.slow
def test_batches_past_the_cap_are_refused(capped: LabstackProcess) -> None:
    """Two batches in progress (LABSTACK_CODEBUILD_MAX_BATCHES=2): the third StartBuildBatch is refused and
    names the setting; once one batch is stopped another may start."""
    lab = Lab(capped)
    command = marked_sleep()
    lab.project("batches", buildspec({"build": {"commands": [command]}}, batch={"build-list": [{"identifier": "a"}]}),
                buildBatchConfig={"serviceRole": batch_role(lab)})
    first, second = (lab.codebuild.start_build_batch(projectName="batches")["buildBatch"]["id"] for _ in range(2))
    message = refusal(lambda: lab.codebuild.start_build_batch(projectName="batches"))
    assert "2 build batches in progress" in message and "LABSTACK_CODEBUILD_MAX_BATCHES" in message
    another_account_builds(capped)
    lab.codebuild.stop_build_batch(id=first)
    assert wait_batch(lab, first)["buildBatchStatus"] == "STOPPED"
    third = lab.codebuild.start_build_batch(projectName="batches")["buildBatch"]["id"]
    for batch in (second, third):
        lab.codebuild.stop_build_batch(id=batch)
        wait_batch(lab, batch)
    assert running(command) == []
