"""Timing helpers: raw HTTP requests prepared once by botocore, health polling, percentiles."""

from __future__ import annotations

import gc
import http.client
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

POLL_INTERVAL = 0.005
# Transport hints the replay does without: the body always goes with the headers.
_DROPPED_HEADERS = {"expect"}


@dataclass(frozen=True)
class RawRequest:
    """A signed request as botocore would send it, ready to replay with http.client."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Captured(Exception):
    """Raised from botocore's ``before-send`` hook to stop the request before the wire."""

    def __init__(self, request: RawRequest) -> None:
        super().__init__("captured")
        self.request = request


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def prepare(client: Any, operation: str, **params: Any) -> RawRequest:
    """Serialise and sign ``client.<operation>(**params)`` without sending it."""

    def capture(request: Any, **_: Any) -> None:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        url = request.url.split("://", 1)[1]
        path = "/" + url.split("/", 1)[1] if "/" in url else "/"
        headers = {_text(k): _text(v) for k, v in request.headers.items() if _text(k).lower() not in _DROPPED_HEADERS}
        raise _Captured(RawRequest(request.method, path, headers, body if isinstance(body, bytes) else _text(body or "").encode()))

    client.meta.events.register_first("before-send", capture)
    try:
        getattr(client, operation)(**params)
    except _Captured as captured:
        return captured.request
    finally:
        client.meta.events.unregister("before-send", capture)
    raise RuntimeError(f"{operation} was not sent through before-send")


def send(host: str, port: int, request: RawRequest, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``request`` on a new connection (the servers close after each answer)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(request.method, request.path, body=request.body, headers=request.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def timed_sender(host: str, port: int, request: RawRequest) -> Callable[[], float]:
    """A callable that sends ``request`` once and returns the seconds it took (raises unless 200)."""

    def once() -> float:
        started = time.perf_counter()
        status, body = send(host, port, request)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{request.method} {request.path} answered {status}: {body[:300]!r}")
        return elapsed

    return once


def timed_call(call: Callable[[], Any]) -> Callable[[], float]:
    """Wrap a client call so it returns the seconds it took."""

    def once() -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return once


def wait_for_200(host: str, port: int, path: str, deadline: float, alive: Callable[[], None]) -> float:
    """Poll ``GET path`` every ~5 ms until it answers 200; return the ``perf_counter`` then.

    ``deadline`` is a ``perf_counter`` value; ``alive`` raises if the server died.
    """
    while time.perf_counter() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2.0)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return time.perf_counter()
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):  # not listening yet, or reset
            pass
        alive()
        time.sleep(POLL_INTERVAL)
    raise TimeoutError(f"nothing answered 200 on http://{host}:{port}{path} in time")


def interleaved(samplers: dict[str, Callable[[], float]], count: int, warmup: int, rounds: int = 5) -> dict[str, list[float]]:
    """Time each sampler ``count`` times after ``warmup`` untimed runs.

    The samplers take turns in ``rounds`` blocks, so drift on the machine hits all alike;
    the garbage collector is paused while timing.
    """
    for sampler in samplers.values():
        for _ in range(warmup):
            sampler()
    samples: dict[str, list[float]] = {name: [] for name in samplers}
    per_round = [count // rounds + (1 if i < count % rounds else 0) for i in range(rounds)]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for block in per_round:
            for name, sampler in samplers.items():
                samples[name].extend(sampler() for _ in range(block))
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct``-th percentile (linear interpolation between closest ranks)."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples: list[float]) -> dict[str, float]:
    """p50, p95, min, mean (in the samples' unit) and the count."""
    return {
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "min": min(samples),
        "mean": statistics.fmean(samples),
        "n": len(samples),
    }
