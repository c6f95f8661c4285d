"""The four core figures: cold start, idle memory, JSON-call latency and S3 PutObject."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.measure import (
    RawRequest,
    interleaved,
    prepare,
    send,
    summary,
    timed_call,
    timed_sender,
    wait_for_200,
)
from bench.servers import HOST, KINDS, LABSTACK, MOTO, Server, ServerKind
from tests.support.server import MODELS

MIB = 1024 * 1024
START_TIMEOUT = 60.0
IDLE_SECONDS = 2.0
BUCKET = "bench-bucket"
KEY = "bench/object-1k"
WIDGET = "bench-widget"
LOG_GROUP = "/bench/group"


@dataclass(frozen=True)
class Options:
    """How much to measure."""

    repeat: int = 7
    requests: int = 500
    warmup: int = 50
    learners: int = 30  # the autograded class (bench.classroom)


@dataclass
class Figure:
    """One row of the report: labstack's value, moto_server's, and labstack's target."""

    key: str
    label: str
    unit: str
    labstack: float
    moto: float
    target: str = ""
    met: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.labstack / self.moto if self.moto else float("inf")


def use_test_models() -> None:
    """Let boto3 in this process find the ``labtest`` model (before any session exists)."""
    current = os.environ.get("AWS_DATA_PATH")
    if str(MODELS) not in (current or "").split(os.pathsep):
        os.environ["AWS_DATA_PATH"] = str(MODELS) + (os.pathsep + current if current else "")


def client(server: Server, service: str, account: str = "test") -> Any:
    """A boto3 client for ``server``: test credentials (``account`` is the access key id),
    path-style S3, no retries."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=account, aws_secret_access_key="test", region_name="us-east-1")
    config = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})
    return session.client(service, endpoint_url=server.endpoint, config=config)


def list_buckets_request(server: Server) -> RawRequest:
    """A signed S3 ListBuckets: the request that makes both servers load moto's S3."""
    return prepare(client(server, "s3"), "list_buckets")


def _one_cold_start(kind: ServerKind) -> tuple[float, float]:
    """Seconds from spawn to the health 200, and to the first answered S3 request."""
    with Server(kind) as server:
        first_request = list_buckets_request(server)  # signed before the clock starts
        started = server.start()
        healthy = wait_for_200(HOST, server.port, kind.health_path, started + START_TIMEOUT, server.check_alive)
        status, body = send(HOST, server.port, first_request, timeout=START_TIMEOUT)
        answered = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"{kind.name}: first ListBuckets answered {status}: {body[:300]!r}")
    return healthy - started, answered - started


def cold_start(repeat: int, progress: Callable[[str], None]) -> list[Figure]:
    """Figure 1: spawn to health 200, median of ``repeat`` runs per server (taking turns)."""
    health: dict[str, list[float]] = {k.name: [] for k in KINDS}
    ready: dict[str, list[float]] = {k.name: [] for k in KINDS}
    for run in range(repeat):
        for kind in KINDS:
            to_health, to_answer = _one_cold_start(kind)
            health[kind.name].append(to_health)
            ready[kind.name].append(to_answer)
        progress(f"cold start {run + 1}/{repeat}")
    lab_health = summary(health[LABSTACK.name])["p50"]
    return [
        Figure(
            "cold_start_to_health_s", f"cold start -> health 200 (median of {repeat})", "s",
            lab_health, summary(health[MOTO.name])["p50"],
            target="labstack <= 0.5 s", met=lab_health <= 0.5,
            detail={"runs_s": health, "health_paths": {k.name: k.health_path for k in KINDS}},
        ),
        Figure(
            "cold_start_to_first_s3_answer_s", f"cold start -> first S3 answer (median of {repeat})", "s",
            summary(ready[LABSTACK.name])["p50"], summary(ready[MOTO.name])["p50"],
            detail={"runs_s": ready, "request": "S3 ListBuckets, sent right after the health 200"},
        ),
    ]


def start_warm(kind: ServerKind) -> Server:
    """Start a server, wait for its health 200, then send one ListBuckets so moto is loaded."""
    server = Server(kind)
    try:
        first_request = list_buckets_request(server)
        started = server.start()
        wait_for_200(HOST, server.port, kind.health_path, started + START_TIMEOUT, server.check_alive)
        status, body = send(HOST, server.port, first_request, timeout=START_TIMEOUT)
        if status != 200:
            raise RuntimeError(f"{kind.name}: warm-up ListBuckets answered {status}: {body[:300]!r}")
    except BaseException:
        server.stop()
        raise
    return server


def _rss(servers: tuple[Server, Server]) -> dict[str, int]:
    return {s.kind.name: psutil.Process(s.proc.pid).memory_info().rss for s in servers if s.proc}


def idle_after_start() -> Figure:
    """Figure 2: RSS of each server idle after start: up, moto imported, no request served.

    labstack imports moto right after it answers health; it says so with ``"ready": true``.
    """
    servers = (Server(LABSTACK), Server(MOTO))
    try:
        for server in servers:
            started = server.start()
            wait_for_200(HOST, server.port, server.kind.health_path, started + START_TIMEOUT, server.check_alive)
        _wait_ready(servers[0])
        time.sleep(IDLE_SECONDS)
        rss = _rss(servers)
    finally:
        for server in servers:
            server.stop()
    lab_mib = rss[LABSTACK.name] / MIB
    return Figure("idle_rss_after_start_mib", f"idle RSS after start, moto loaded, {IDLE_SECONDS:g} s idle", "MiB",
                  lab_mib, rss[MOTO.name] / MIB, target="labstack <= 80 MiB", met=lab_mib <= 80, detail={"rss_bytes": rss})


def _wait_ready(server: Server) -> None:
    deadline = time.perf_counter() + START_TIMEOUT
    while time.perf_counter() < deadline:
        status, body = send(HOST, server.port, RawRequest("GET", LABSTACK.health_path, {}, b""))
        if status == 200 and json.loads(body).get("ready"):
            return
        time.sleep(0.02)
    raise RuntimeError("labstack never became ready")


def idle_memory(lab: Server, moto: Server) -> Figure:
    """Figure 2, secondary: RSS of each server ~2 s after its warm-up S3 request."""
    time.sleep(IDLE_SECONDS)
    rss = _rss((lab, moto))
    detail = {"rss_bytes": rss, "warm_up_request": "S3 ListBuckets"}
    return Figure("idle_rss_mib", f"idle RSS, {IDLE_SECONDS:g} s after a warm-up S3 request", "MiB",
                  rss[LABSTACK.name] / MIB, rss[MOTO.name] / MIB, detail=detail)


def _sizes(server: Server, request: RawRequest) -> dict[str, int]:
    status, body = send(HOST, server.port, request)
    if status != 200:
        raise RuntimeError(f"{server.kind.name} {request.path} answered {status}: {body[:300]!r}")
    return {"request_body_bytes": len(request.body), "response_body_bytes": len(body)}


def _latency_rows(key: str, label: str, lab: list[float], moto: list[float], detail: dict[str, Any],
                  target: str = "", p50_limit_ms: float | None = None, ratio_limit: float | None = None) -> list[Figure]:
    """p50 and p95 rows (ms) for one side-by-side latency comparison."""
    lab_s, moto_s = summary(lab), summary(moto)
    detail = {**detail, "labstack_ms": _ms(lab_s), "moto_server_ms": _ms(moto_s)}
    p50 = Figure(f"{key}_p50_ms", f"{label} p50", "ms", lab_s["p50"] * 1000, moto_s["p50"] * 1000, target=target, detail=detail)
    if p50_limit_ms is not None:
        p50.met = p50.labstack <= p50_limit_ms
    if ratio_limit is not None:
        p50.met = p50.ratio <= ratio_limit
    p95 = Figure(f"{key}_p95_ms", f"{label} p95", "ms", lab_s["p95"] * 1000, moto_s["p95"] * 1000)
    return [p50, p95]


def _ms(stats: dict[str, float]) -> dict[str, float]:
    return {k: (v if k == "n" else round(v * 1000, 4)) for k, v in stats.items()}


def json_latency(lab: Server, moto: Server, options: Options) -> list[Figure]:
    """Figure 3: a labstack-owned JSON call, and a moto-served one on both servers."""
    client(lab, "labtest").create_widget(name=WIDGET)
    for server in (lab, moto):
        client(server, "logs").create_log_group(logGroupName=LOG_GROUP)
    own = prepare(client(lab, "labtest"), "get_widget", name=WIDGET)
    logs_lab = prepare(client(lab, "logs"), "describe_log_groups")
    logs_moto = prepare(client(moto, "logs"), "describe_log_groups")
    sizes = {"labtest GetWidget": _sizes(lab, own), "logs DescribeLogGroups": _sizes(moto, logs_moto)}
    samples = interleaved(
        {
            "own": timed_sender(HOST, lab.port, own),
            "logs_lab": timed_sender(HOST, lab.port, logs_lab),
            "logs_moto": timed_sender(HOST, moto.port, logs_moto),
        },
        options.requests, options.warmup,
    )
    method = f"raw signed request, new connection each, {options.requests} after {options.warmup} warm-up"
    return _latency_rows(
        "json_own_vs_moto", "JSON call (labstack labtest.GetWidget | moto logs.DescribeLogGroups)",
        samples["own"], samples["logs_moto"], {"method": method, "sizes": sizes},
        target="labstack p50 <= 3 ms", p50_limit_ms=3.0,
    ) + _latency_rows(
        "json_moto_call_via_gateway", "logs.DescribeLogGroups (labstack gateway -> moto)",
        samples["logs_lab"], samples["logs_moto"], {"method": method},
    )


def s3_put(lab: Server, moto: Server, options: Options) -> list[Figure]:
    """Figure 4: S3 PutObject of 1 KiB, raw signed requests and through boto3."""
    payload = os.urandom(1024)
    clients = {s.kind.name: client(s, "s3") for s in (lab, moto)}
    for c in clients.values():
        c.create_bucket(Bucket=BUCKET)
    raw = {name: prepare(c, "put_object", Bucket=BUCKET, Key=KEY, Body=payload) for name, c in clients.items()}
    servers = {LABSTACK.name: lab, MOTO.name: moto}
    raw_samples = interleaved(
        {name: timed_sender(HOST, servers[name].port, request) for name, request in raw.items()},
        options.requests, options.warmup,
    )

    def put_with(c: Any) -> Callable[[], Any]:
        return lambda: c.put_object(Bucket=BUCKET, Key=KEY, Body=payload)

    sdk_samples = interleaved(
        {name: timed_call(put_with(c)) for name, c in clients.items()}, options.requests, options.warmup,
    )
    method = f"{options.requests} after {options.warmup} warm-up, path-style /{BUCKET}/{KEY}"
    return _latency_rows(
        "s3_put_1k_raw", "S3 PutObject 1 KiB, raw request",
        raw_samples[LABSTACK.name], raw_samples[MOTO.name],
        {"method": f"raw signed PUT, new connection each, {method}"},
        target="ratio <= 1.2x", ratio_limit=1.2,
    ) + _latency_rows(
        "s3_put_1k_boto3", "S3 PutObject 1 KiB, boto3 put_object",
        sdk_samples[LABSTACK.name], sdk_samples[MOTO.name],
        {"method": f"boto3 client.put_object, {method}"},
    )


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Measure every figure; every server started here is stopped before returning."""
    use_test_models()
    figures = cold_start(options.repeat, progress)
    figures.append(idle_after_start())
    progress("idle memory after start")
    with start_warm(LABSTACK) as lab, start_warm(MOTO) as moto:
        figures.append(idle_memory(lab, moto))
        progress("idle memory")
        figures += json_latency(lab, moto, options)
        progress("JSON call latency")
        figures += s3_put(lab, moto, options)
        progress("S3 PutObject")
    return figures
