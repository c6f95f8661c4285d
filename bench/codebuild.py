"""CodeBuild figures: a trivial build from start_build to COMPLETED beside a plain
``subprocess.run`` of the same command, and the throughput of 10 builds started at once."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.core import Figure, Options, client, start_warm
from bench.measure import summary
from bench.servers import LABSTACK

COMMAND = "echo hi"
PROJECT = "bench-trivial"
ROLE = "arn:aws:iam::123456789012:role/bench"
POLL_SECONDS = 0.005
CONCURRENT = 10
WARMUP_BUILDS = 3


def _project(codebuild: Any) -> None:
    codebuild.create_project(
        name=PROJECT, serviceRole=ROLE, artifacts={"type": "NO_ARTIFACTS"},
        source={"type": "NO_SOURCE", "buildspec": f"version: 0.2\nphases:\n  build:\n    commands:\n      - {COMMAND}\n"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
    )


def _wait(codebuild: Any, build_id: str) -> dict:
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"]:
            if build["buildStatus"] != "SUCCEEDED":
                raise RuntimeError(f"bench build {build_id} ended {build['buildStatus']}")
            return build
        time.sleep(POLL_SECONDS)


def _one_build(codebuild: Any) -> float:
    started = time.perf_counter()
    _wait(codebuild, codebuild.start_build(projectName=PROJECT)["build"]["id"])
    return time.perf_counter() - started


def _one_subprocess() -> float:
    started = time.perf_counter()
    subprocess.run(["bash", "-c", COMMAND], check=True, capture_output=True)
    return time.perf_counter() - started


def _all_at_once(work: Callable[[], Any], count: int) -> float:
    """Seconds for ``count`` threads each running ``work`` once, started together."""
    gate = threading.Barrier(count + 1)

    def run() -> None:
        gate.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Both CodeBuild figures on a fresh labstack; the reference is the same command run directly."""
    count = max(options.repeat * 3, 10)
    with start_warm(LABSTACK) as lab:
        codebuild = client(lab, "codebuild")
        _project(codebuild)
        for _ in range(WARMUP_BUILDS):
            _one_build(codebuild)
            _one_subprocess()
        builds, plain = [], []
        for _ in range(count):  # taking turns, so drift on the machine hits both alike
            builds.append(_one_build(codebuild))
            plain.append(_one_subprocess())
        progress("CodeBuild trivial build")
        clients = [client(lab, "codebuild") for _ in range(CONCURRENT)]
        pool = iter(clients)
        lock = threading.Lock()

        def build_once() -> None:
            with lock:
                own = next(pool)
            _one_build(own)

        burst = _all_at_once(build_once, CONCURRENT)
        plain_burst = _all_at_once(_one_subprocess, CONCURRENT)
        progress("CodeBuild 10 builds at once")
    build_s, plain_s = summary(builds), summary(plain)
    method = f"{count} runs after {WARMUP_BUILDS} warm-up, taking turns; builds polled with BatchGetBuilds every {POLL_SECONDS * 1000:g} ms"
    return [
        Figure("codebuild_trivial_build_p50_s", f"CodeBuild `{COMMAND}` start_build -> COMPLETED p50 (reference: plain subprocess.run)",
               "s", build_s["p50"], plain_s["p50"], target="labstack <= 1.0 s", met=build_s["p50"] <= 1.0,
               detail={"method": method, "labstack_s": build_s, "subprocess_s": plain_s}),
        Figure("codebuild_trivial_build_p95_s", "CodeBuild trivial build p95 (reference: plain subprocess.run)", "s",
               build_s["p95"], plain_s["p95"]),
        Figure("codebuild_10_at_once_builds_per_s", f"CodeBuild {CONCURRENT} builds at once, throughput (reference: {CONCURRENT} subprocess.run)",
               "/s", CONCURRENT / burst, CONCURRENT / plain_burst,
               detail={"labstack_wall_s": burst, "subprocess_wall_s": plain_burst,
                       "note": "higher is better here; the ratio is labstack / subprocess"}),
    ]
