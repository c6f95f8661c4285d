"""Where a load balancer's listener answers on this machine (for the labs and the CLI)."""

from __future__ import annotations

import os
from typing import Any

from labstack.daemon import get_json


def endpoints(endpoint: str | None = None) -> list[dict[str, Any]]:
    """Every listener labstack runs: ARNs, account, region, port and local URL."""
    base = endpoint or os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:4566"
    return list(get_json(f"{base.rstrip('/')}/_labstack/endpoints", timeout=10)["endpoints"])  # signed in class mode


def listener_url(load_balancer: str, port: int = 80, endpoint: str | None = None) -> str:
    """The local URL of ``load_balancer``'s listener on ``port`` (name or ARN of the load balancer).

    On AWS a listener is reached at the load balancer's DNS name; labstack gives each
    listener a port of its own on 127.0.0.1.
    """
    for entry in endpoints(endpoint):
        name = entry["loadBalancerArn"].split("/")[-2]
        if load_balancer in (entry["loadBalancerArn"], name) and entry["port"] == port:
            return entry["url"]
    raise LookupError(f"no listener on port {port} of load balancer {load_balancer!r} (is it created, with a listener?)")
