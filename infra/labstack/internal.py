"""labstack's own HTTP endpoints: health (also at LocalStack's path), status, endpoints, reset and the console."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterable

from labstack import console

if TYPE_CHECKING:
    from labstack.instance import Labstack


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
    if console.serves(path):
        return console.handle(labstack, environ, start_response)
    if path in ("/_labstack/health", "/_localstack/health") and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.health(), head)
    if path == "/_labstack/status" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.status(), head)
    if path == "/_labstack/endpoints" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", {"endpoints": labstack.endpoints()}, head)
    if path in labstack.views and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.views[path](environ), head)
    if path == "/_labstack/reset" and method == "POST":
        labstack.wait_warm()
        labstack.reset()
        return json_response(start_response, "200 OK", {"reset": True})
    known = {"/_labstack/health", "/_localstack/health", "/_labstack/status", "/_labstack/endpoints", "/_labstack/reset",
             *labstack.views}
    if path in known:
        return json_response(start_response, "405 Method Not Allowed", {"error": f"{method} is not allowed on {path}"})
    return json_response(start_response, "404 Not Found", {"error": f"no labstack endpoint {path}", "endpoints": sorted(known)})
