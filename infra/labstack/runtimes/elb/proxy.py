"""A listener that listens: a local HTTP server applying the listener's rules and actions."""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

from labstack.runtimes.elb.model import Listener, TargetGroup

log = logging.getLogger("labstack.elb")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "content-length"}
# What the runtime lends a listener server: the listener now, the target groups now, and
# the targets a group may route to.
Lookup = Callable[[], tuple[Listener | None, dict[str, TargetGroup]]]
Routable = Callable[[TargetGroup], list[tuple[str, int]]]
# Told of every answer: listener, target group (None if the ELB answered), status,
# whether the ELB generated it, and the target's response time.
Record = Callable[[Listener, "str | None", int, bool, "float | None"], None]


class WeightedTurns:
    """Smooth weighted round robin: each group gets its weight's share of every run of requests
    (10/90 sends 1 in each 10), rather than that share only on average."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credit: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}

    def pick(self, groups: tuple[tuple[str, int], ...]) -> str:
        with self._lock:
            credit = self._credit.setdefault(groups, {arn: 0 for arn, _ in groups})
            total = 0
            for arn, weight in groups:
                credit[arn] += weight
                total += weight
            chosen = max(groups, key=lambda group: credit[group[0]])[0]
            credit[chosen] -= total
            if len(self._credit) > 1024:  # forget old weightings (a deployment makes a few)
                self._credit = {groups: credit}
            return chosen


_TURNS = WeightedTurns()


def pick_target_group(action: dict[str, Any]) -> str | None:
    """The target group of a forward action; weighted forward configs share requests by weight."""
    if action.get("TargetGroupArn"):
        return action["TargetGroupArn"]
    groups = tuple((g["TargetGroupArn"], int(g.get("Weight", 1))) for g in action.get("ForwardConfig", {}).get("TargetGroups", [])
                   if int(g.get("Weight", 1)) > 0)
    return _TURNS.pick(groups) if groups else None


class ListenerServer(ThreadingHTTPServer):
    """Serves one ELBv2 listener on a local port."""

    daemon_threads = True

    def __init__(self, port: int, lookup: Lookup, routable: Routable, record: Record, host: str = "127.0.0.1") -> None:
        self.lookup = lookup
        self.routable = routable
        self.record = record
        super().__init__((host, port), _ListenerHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("listener client %s went away mid-request", client_address, exc_info=True)

    def start(self) -> "ListenerServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ListenerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ListenerServer
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug(format, *args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        listener, groups = self.server.lookup()
        if listener is None:
            return self._reply(None, 503, b"", "text/plain")
        url = urlsplit(self.path)
        host = (self.headers.get("Host") or "").split(":")[0]
        rule = next((r for r in listener.rules if r.matches(host, url.path or "/")), None)
        action = next((a for a in rule.actions if a.get("Type") in ("forward", "fixed-response", "redirect")), None) if rule else None
        if action is None:
            return self._reply(listener, 503, b"", "text/plain")
        if action["Type"] == "fixed-response":
            config = action.get("FixedResponseConfig", {})
            return self._reply(listener, int(config.get("StatusCode", 200)), (config.get("MessageBody") or "").encode(),
                               config.get("ContentType", "text/plain"))
        if action["Type"] == "redirect":
            return self._redirect(action.get("RedirectConfig", {}), listener, host, url)
        group = groups.get(pick_target_group(action) or "")
        targets = self.server.routable(group) if group else []
        if not targets:
            return self._reply(listener, 503, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", "text/html")
        self._forward(random.choice(targets), listener, group.arn, body)  # type: ignore[union-attr]

    def _forward(self, target: tuple[str, int], listener: Listener, group: str, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        forwarded = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {self.client_address[0]}" if forwarded else self.client_address[0]
        headers["X-Forwarded-Proto"] = listener.protocol.lower() or "http"
        headers["X-Forwarded-Port"] = str(listener.port)
        conn = http.client.HTTPConnection(target[0], target[1], timeout=60)
        started = time.perf_counter()
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError:
            return self._reply(listener, 504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>", "text/html")
        except OSError:
            return self._reply(listener, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        finally:
            conn.close()
        self.server.record(listener, group, response.status, False, time.perf_counter() - started)
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _redirect(self, config: dict[str, Any], listener: Listener, host: str, url: Any) -> None:
        values = {"protocol": listener.protocol.lower() or "http", "host": host, "port": str(listener.port),
                  "path": url.path.lstrip("/"), "query": url.query}

        def fill(key: str, default: str) -> str:
            text = str(config.get(key) or default)
            for name, value in values.items():
                text = text.replace("#{" + name + "}", value)
            return text

        protocol, port = fill("Protocol", "#{protocol}").lower(), fill("Port", "#{port}")
        location = f"{protocol}://{fill('Host', '#{host}')}:{port}/{fill('Path', '/#{path}').lstrip('/')}"
        query = fill("Query", "#{query}")
        if query:
            location += f"?{query}"
        code = 301 if config.get("StatusCode") == "HTTP_301" else 302
        self.server.record(listener, None, code, True, None)
        self.send_response(code)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _reply(self, listener: Listener | None, status: int, body: bytes, content_type: str) -> None:
        """An answer the load balancer itself gives (fixed responses, 5XX of its own)."""
        if listener is not None:
            self.server.record(listener, None, status, True, None)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
