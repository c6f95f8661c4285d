"""What the ECS lock costs (issue 21, labstack.motowrites): concurrent ECS calls that write, served by moto
through the gateway, which holds the lock the ECS service scheduler writes under, beside the same calls on the
same labstack with the lock left out; the two take turns round by round, so drift on the machine affects them
alike. (Calls that only read, Describe/List/Get, take no lock.)

Figure: the wall time of ``THREADS`` threads sending ``--requests`` signed ``ecs.TagResource`` calls at once,
per call (median of the rounds).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from bench.core import Figure, Options
from bench.measure import prepare, send
from bench.servers import HOST
from labstack.config import Settings
from labstack.ports import free_port
from tests.support.inprocess import serving

THREADS = 8
ROUNDS = 9


def _burst(port: int, request: Any, count: int) -> Callable[[], float]:
    """``count`` sends of ``request`` from ``THREADS`` threads at once; the seconds per call."""

    def one(_: int) -> None:
        status, body = send(HOST, port, request)
        if status != 200:
            raise RuntimeError(f"TagResource answered {status}: {body[:300]!r}")

    def once() -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(one, range(count)))
        return (time.perf_counter() - started) / count

    return once


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """The one figure: per-call wall time with the lock beside without it."""
    with tempfile.TemporaryDirectory() as home, serving(Settings(port=free_port(), home=Path(home))) as labstack:
        ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=labstack.settings.endpoint,
                           aws_access_key_id="test", aws_secret_access_key="test")
        cluster = ecs.create_cluster(clusterName="bench")["cluster"]["clusterArn"]
        request = prepare(ecs, "tag_resource", resourceArn=cluster, tags=[{"key": "bench", "value": "1"}])
        burst = _burst(labstack.settings.port, request, max(THREADS, options.requests))
        burst()  # warm-up
        held = labstack.moto_writes.lock_for
        samples: dict[str, list[float]] = {"locked": [], "unlocked": []}
        for turn in range(ROUNDS):
            for kind in ("locked", "unlocked") if turn % 2 == 0 else ("unlocked", "locked"):
                if kind == "unlocked":  # the reference: moto served without the lock
                    labstack.moto_writes.lock_for = lambda service, operation: None
                try:
                    samples[kind].append(burst())
                finally:
                    labstack.moto_writes.lock_for = held
        progress("ECS calls with and without the lock")
    locked, unlocked = (statistics.median(samples[k]) * 1000 for k in ("locked", "unlocked"))
    figure = Figure("moto_writes_ecs_call_ms", f"ecs.TagResource served by moto, {THREADS} threads at once, wall "
                    "time per call with the ECS lock (reference: the same labstack without it)", "ms", locked, unlocked,
                    target="<= 1.1x", detail={"rounds": ROUNDS, "calls_per_round": max(THREADS, options.requests),
                                               "samples_ms": {k: [round(v * 1000, 3) for v in s] for k, s in samples.items()}})
    figure.met = figure.ratio <= 1.1
    return [figure]
