"""labstack's own HTTP endpoints: health (also at LocalStack's path), status, endpoints, reset and the console."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterable

from labstack import console

if TYPE_CHECKING:
    from labstack.instance import Labstack

HEALTH = ("/_labstack/health", "/_localstack/health")  # answered during warm-up too


def json_response(start_response: Callable[..., Any], status: str, payload: dict, head: bool = False) -> Iterable[bytes]:
    """A JSON answer (no body for HEAD)."""
    body = json.dumps(payload, indent=1).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [] if head else [body]


def handle(labstack: "Labstack", environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Serve ``/_labstack/*`` and ``/_localstack/*``."""
    path = environ.get("PATH_INFO", "").rstrip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    head = method == "HEAD"
    if path in HEALTH and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.health(), head)
    # Everything else answers once warm-up is over: providers register their views meanwhile.
    try:
        labstack.wait_warm()
    except (TimeoutError, RuntimeError) as exc:
        return json_response(start_response, "503 Service Unavailable", {"error": str(exc)}, head)
    if console.serves(path):
        return console.handle(labstack, environ, start_response)
    if path == "/_labstack/status" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.status(), head)
    if path == "/_labstack/endpoints" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", {"endpoints": labstack.endpoints()}, head)
    if path in labstack.views and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.views[path](environ), head)
    if path == "/_labstack/reset" and method == "POST":
        labstack.reset()
        return json_response(start_response, "200 OK", {"reset": True})
    known = {*HEALTH, "/_labstack/status", "/_labstack/endpoints", "/_labstack/reset",
             *labstack.views}
    if path in known:
        return json_response(start_response, "405 Method Not Allowed", {"error": f"{method} is not allowed on {path}"})
    return json_response(start_response, "404 Not Found", {"error": f"no labstack endpoint {path}", "endpoints": sorted(known)})
