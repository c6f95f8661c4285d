"""A phase's ``on-failure`` in the buildspec, as AWS's buildspec reference documents it.

https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases.on-failure:
``ABORT`` aborts the build, ``CONTINUE`` continues to the next phase, ``RETRY`` / ``RETRY-count`` /
``RETRY-regex`` / ``RETRY-count-regex`` retry (up to 3 times by default, count between 0 and 100, while
the error message matches the regular expression); unset, the failure follows the build phase
transitions (https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html): a
failed INSTALL or PRE_BUILD goes to FINALIZING, a failed BUILD still runs POST_BUILD, and UPLOAD_ARTIFACTS
"is always attempted, even if the BUILD phase fails". ``finally`` commands run even when a command of
their phase fails.
"""

from __future__ import annotations

import pytest

from tests.support.codebuild import Lab, buildspec, phases

pytest_plugins = ["tests.support.codebuild_fixtures"]

BUILD_PHASES = ["install", "pre_build", "build", "post_build"]
TAIL = ["FINALIZING", "COMPLETED"]


def _after_source(build: dict) -> list[str]:
    kinds = [p["phaseType"] for p in build["phases"]]
    return kinds[kinds.index("DOWNLOAD_SOURCE") + 1:]


def _expected(failing: str, setting: str | None) -> list[str]:
    """The phases after DOWNLOAD_SOURCE when ``failing`` fails with ``on-failure: setting``."""
    ran = [p.upper() for p in BUILD_PHASES[: BUILD_PHASES.index(failing) + 1]]
    rest = [p.upper() for p in BUILD_PHASES[BUILD_PHASES.index(failing) + 1:]]
    if setting == "CONTINUE":
        return ran + rest + ["UPLOAD_ARTIFACTS"] + TAIL
    if setting == "ABORT" or failing in ("install", "pre_build"):
        return ran + TAIL
    if failing == "build":  # unset: POST_BUILD and UPLOAD_ARTIFACTS still run
        return ran + ["POST_BUILD", "UPLOAD_ARTIFACTS"] + TAIL
    return ran + ["UPLOAD_ARTIFACTS"] + TAIL


@pytest.mark.slow
@pytest.mark.parametrize("setting", [None, "ABORT", "CONTINUE"])
@pytest.mark.parametrize("failing", BUILD_PHASES)
def test_a_failed_phase_goes_where_on_failure_says(lab: Lab, failing: str, setting: str | None) -> None:
    """Every phase failing under every setting: the phases that ran, the finally block, the status."""
    body: dict = {}
    for name in BUILD_PHASES:
        body[name] = {"commands": [f"echo ran-{name}"] + (["exit 3"] if name == failing else [])}
        if name == failing:
            body[name]["finally"] = [f"echo finally-{name}"]
            if setting:
                body[name]["on-failure"] = setting
    name = f"of-{failing.replace('_', '-')}-{(setting or 'unset').lower()}"
    lab.project(name, buildspec(body))
    build = lab.run(name)
    assert build["buildStatus"] == "FAILED"
    assert _after_source(build) == _expected(failing, setting)
    assert phases(build)[failing.upper()]["phaseStatus"] == "FAILED"
    lines = lab.logs(build)
    assert f"finally-{failing}" in lines
    for later in _expected(failing, setting):
        if later.lower() in BUILD_PHASES and later.lower() != failing:
            assert f"ran-{later.lower()}" in lines


def test_abort_on_build_skips_post_build_which_unset_runs(lab: Lab) -> None:
    """The one place ABORT and unset differ most: a failed BUILD. Unset runs POST_BUILD (with
    CODEBUILD_BUILD_SUCCEEDING=0) and UPLOAD_ARTIFACTS; ABORT runs neither."""
    def spec(setting: str | None) -> str:
        build = {"commands": ["false"], **({"on-failure": setting} if setting else {})}
        return buildspec({"build": build, "post_build": {"commands": ["echo post succeeding=$CODEBUILD_BUILD_SUCCEEDING"]}})

    lab.project("unset", spec(None))
    lab.project("abort", spec("ABORT"))
    unset, abort = lab.run("unset"), lab.run("abort")
    assert "POST_BUILD" in phases(unset) and "UPLOAD_ARTIFACTS" in phases(unset)
    assert "post succeeding=0" in lab.logs(unset)
    assert "POST_BUILD" not in phases(abort) and "UPLOAD_ARTIFACTS" not in phases(abort)
    assert not any(line.startswith("post ") for line in lab.logs(abort))
    assert unset["buildStatus"] == abort["buildStatus"] == "FAILED"


def _flaky(fail_times: int) -> list[str]:
    """Commands failing the first ``fail_times`` runs of their phase, counted in a file of the source."""
    return ["n=$(( $(cat tries 2>/dev/null || echo 0) + 1 )); echo $n > tries; echo try-$n",
            f"[ $(cat tries) -gt {fail_times} ]"]


@pytest.mark.parametrize("setting, fails, status, tries", [
    ("RETRY", 3, "SUCCEEDED", 4),  # up to 3 retries by default
    ("RETRY", 4, "FAILED", 4),
    ("RETRY-1", 1, "SUCCEEDED", 2),
    ("RETRY-1", 2, "FAILED", 2),
    ("RETRY-0", 1, "FAILED", 1),
    ("RETRY-2-exit status 1$", 2, "SUCCEEDED", 3),  # the message matches the regular expression
    ("RETRY-2-exit status 7$", 2, "FAILED", 1),  # it does not: no retry
    ("RETRY-.*Reason: exit", 1, "SUCCEEDED", 2),
])
def test_retry_runs_the_failed_phase_again(lab: Lab, setting: str, fails: int, status: str, tries: int) -> None:
    name = f"retry-{abs(hash(setting)) % 10**6}-{fails}"
    lab.project(name, buildspec({"build": {"on-failure": setting, "commands": _flaky(fails)},
                                 "post_build": {"commands": ["echo total=$(cat tries)"]}}))
    build = lab.run(name)
    assert build["buildStatus"] == status
    assert phases(build)["BUILD"]["phaseStatus"] == status
    assert f"total={tries}" in lab.logs(build)


@pytest.mark.parametrize("setting", ["RETRY-101", "RETRY-2-(unclosed", "SKIP", "ABORTED"])
def test_bad_on_failure_values_fail_download_source(lab: Lab, setting: str) -> None:
    lab.project("bad-of", buildspec({"build": {"on-failure": setting, "commands": ["true"]}}))
    build = lab.run("bad-of")
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and context["statusCode"] == "YAML_FILE_ERROR"
    assert "on-failure" in context["message"]


def test_a_catastrophic_retry_pattern_does_not_hang_the_build(lab: Lab) -> None:
    """Attack: ``RETRY-1-command: (a|a)*$`` backtracks 2^40 ways against the failure message of the
    command ``aaaa…ab``. labstack's matcher gives up after its time limit (counted as no match): the
    phase is not retried, the build ends and labstack answers."""
    command = "a" * 40 + "b"
    lab.project("redos", buildspec({"build": {"on-failure": "RETRY-1-command: (a|a)*$", "commands": [command]}}))
    build = lab.run("redos", timeout=60)
    assert build["buildStatus"] == "FAILED"
    assert "again" not in " ".join(lab.logs(build))
    assert lab.codebuild.list_projects()["projects"]
