"""The HTTP service: ``/`` says which version answers, ``/health`` is for load balancers,
``/quote?price=&quantity=&coupon=`` prices an order. Every answer carries ``X-App-Version``.

It listens on ``HOST``:``PORT`` (default all interfaces, port 8080), the container port the
task definition maps."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app import pricing
from app.version import SERVICE, VERSION

Answer = tuple[int, dict[str, Any]]


def index(params: dict[str, str]) -> Answer:
    return 200, {"service": SERVICE, "version": VERSION, "message": f"Hello from {SERVICE} {VERSION}"}


def health(params: dict[str, str]) -> Answer:
    return 200, {"status": "ok", "version": VERSION}


def quote(params: dict[str, str]) -> Answer:
    missing = [name for name in ("price", "quantity") if name not in params]
    if missing:
        return 400, {"error": f"missing {', '.join(missing)}"}
    try:
        priced = pricing.quote(params["price"], params["quantity"], params.get("coupon"))
    except ValueError as problem:
        return 400, {"error": str(problem)}
    return 200, {"version": VERSION, **priced.as_dict()}


ROUTES: dict[str, Callable[[dict[str, str]], Answer]] = {"/": index, "/health": health, "/quote": quote}


def respond(target: str) -> Answer:
    """The status and JSON body for a GET of ``target`` (a path with its query)."""
    url = urlsplit(target)
    route = ROUTES.get(url.path)
    if route is None:
        return 404, {"error": f"no such path: {url.path}"}
    params = {name: values[-1] for name, values in parse_qs(url.query).items()}
    try:
        return route(params)
    except Exception as error:  # noqa: BLE001 - a bug answers 500, as in any web framework, and is logged
        print(f"error serving {target}: {error!r}", file=sys.stderr, flush=True)
        return 500, {"error": "internal server error"}


class Handler(BaseHTTPRequestHandler):
    """GET only; JSON answers."""

    server_version = f"{SERVICE}/{VERSION}"

    def do_GET(self) -> None:
        status, body = respond(self.path)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-App-Version", VERSION)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    """Serve until stopped."""
    # A container listens on all its interfaces; bandit is told this one is on purpose.
    host = os.environ.get("HOST", "0.0.0.0")  # nosec B104
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"{SERVICE} {VERSION} listening on {host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
