"""A listener that listens: a local HTTP/1.1 server applying the listener's rules and actions.

Each client connection gets a thread (up to :data:`MAX_CONNECTIONS` at once) that reads its
requests one after the other with :mod:`~labstack.runtimes.elb.wire` and either answers as
the load balancer (fixed responses, redirects, its own 4XX/5XX) or forwards to a target with
:mod:`~labstack.runtimes.elb.forward`.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlsplit

import h11
import httpcore

from labstack.runtimes.elb.forward import TARGET_KEEPALIVE, Exchange, TargetFailed, forward
from labstack.runtimes.elb.model import Listener, TargetGroup
from labstack.runtimes.elb.wire import BadRequest, ClientConnection, ClientGone

log = logging.getLogger("labstack.elb")
MAX_CONNECTIONS = 256  # client connections a listener serves at once; more are closed at once
DISCARD_LIMIT = 64 * 1024  # a body the ELB answers itself is read and dropped up to this; past it the connection closes
DEFAULT_IDLE_TIMEOUT = 60.0  # while the listener is being deleted
LINGER_SECONDS, LINGER_BYTES = 1.0, 256 * 1024  # read and dropped after the last answer, before the close
# What the runtime lends a listener server: the listener now, the target groups now, and
# the targets a group may route to.
Lookup = Callable[[], tuple[Listener | None, dict[str, TargetGroup]]]
Routable = Callable[[TargetGroup], list[tuple[str, int]]]
# Told of every answer: listener, target group (None if the ELB answered), status,
# whether the ELB generated it, and the target's response time.
Record = Callable[[Listener, "str | None", int, bool, "float | None"], None]
_PHRASES = {503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


class Rotations:
    """Where one ELB runtime's round robins stand: which target group of a weighted forward action is
    next, and which target of each group. Every labstack has its own, so two in one process never take
    each other's turns.

    Target groups go by smooth weighted round robin: each gets its weight's share of every run of
    requests (10/90 sends 1 in each 10), rather than that share only on average. Targets of a group
    go round robin, ALB's default routing algorithm, over those routable at the time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credit: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
        self._next: dict[str, int] = {}

    def group(self, groups: tuple[tuple[str, int], ...]) -> str:
        """The next of ``groups`` ((target group ARN, weight) pairs, weights above 0)."""
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

    def target(self, group: str, targets: list[tuple[str, int]]) -> tuple[str, int]:
        """The next of ``targets`` (not empty) of target group ``group``."""
        with self._lock:
            turn = self._next.get(group, 0)
            if len(self._next) > 1024 and group not in self._next:  # forget groups long deleted
                self._next.clear()
            self._next[group] = (turn + 1) % len(targets)
            return targets[turn % len(targets)]

    def reset(self) -> None:
        with self._lock:
            self._credit.clear()
            self._next.clear()


def pick_target_group(action: dict[str, Any], rotations: Rotations) -> str | None:
    """The target group of a forward action; weighted forward configs share requests by weight."""
    if action.get("TargetGroupArn"):
        return action["TargetGroupArn"]
    groups = tuple((g["TargetGroupArn"], int(g.get("Weight", 1))) for g in action.get("ForwardConfig", {}).get("TargetGroups", [])
                   if int(g.get("Weight", 1)) > 0)
    return rotations.group(groups) if groups else None


def _phrase(status: int) -> str:
    try:
        return _PHRASES.get(status) or HTTPStatus(status).phrase
    except ValueError:  # a fixed response may use a code with no name
        return ""


def error_page(status: int) -> bytes:
    """The HTML body of an error the load balancer answers itself."""
    return f"<html><body><h1>{status} {_phrase(status)}</h1></body></html>".encode()


class ListenerServer(socketserver.ThreadingTCPServer):
    """Serves one ELBv2 listener on a local port."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, lookup: Lookup, routable: Routable, record: Record, rotations: Rotations,
                 host: str = "127.0.0.1") -> None:
        self.lookup = lookup
        self.routable = routable
        self.record = record
        self.rotations = rotations  # the runtime's: shared by its listeners, never by another labstack's
        self.targets = httpcore.ConnectionPool(max_connections=MAX_CONNECTIONS, keepalive_expiry=TARGET_KEEPALIVE)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), socketserver.BaseRequestHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)

    def start(self) -> "ListenerServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, drop the connections still open and the kept-alive target connections."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            still_open = list(self._open)
        for sock in still_open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.targets.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= MAX_CONNECTIONS
            if not full:
                self._open.add(request)
        if full:
            log.warning("listener on port %s: %d connections open, one more refused", self.server_address[1], MAX_CONNECTIONS)
            request.close()
            return
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        _Session(self, request, client_address).serve()

    def shutdown_request(self, request: Any) -> None:
        """Close a client connection, after reading what the client still sends for a moment, so
        that the close does not reset the connection before the client has read the last answer."""
        with self._open_lock:
            self._open.discard(request)
        try:
            request.shutdown(socket.SHUT_WR)
            deadline, left = time.monotonic() + LINGER_SECONDS, LINGER_BYTES
            while left > 0 and (remaining := deadline - time.monotonic()) > 0:
                request.settimeout(remaining)
                data = request.recv(min(left, 65536))
                if not data:
                    break
                left -= len(data)
        except OSError:
            pass
        request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("listener client %s: unexpected error", client_address)


class _Session:
    """One client connection: its requests answered in order until it closes or must close."""

    def __init__(self, server: ListenerServer, sock: socket.socket, peer: tuple[str, int]) -> None:
        self.server = server
        self.client = ClientConnection(sock)
        self.peer = peer
        self.timeout = DEFAULT_IDLE_TIMEOUT
        self.method = b""

    def serve(self) -> None:
        while True:
            listener, _ = self.server.lookup()
            self.timeout = listener.idle_timeout if listener else DEFAULT_IDLE_TIMEOUT
            self.method = b""
            try:
                try:
                    request = self.client.next_request(self.timeout)
                    if request is None:
                        return
                    self.method = request.method
                    self._answer(request)
                except BadRequest as bad:
                    if self.client.response_started:
                        return
                    log.debug("listener client %s: %s", self.peer[0], bad)
                    self._own(listener, bad.status, error_page(bad.status), "text/html", close=True)
                    return
            except ClientGone as gone:
                log.debug("listener client %s: %s", self.peer[0], gone)
                return
            if not self.client.next_cycle():
                return

    def _answer(self, request: h11.Request) -> None:
        listener, groups = self.server.lookup()
        if listener is None:
            return self._own(None, 503, b"", "text/plain")
        self.timeout = listener.idle_timeout
        url = urlsplit(request.target.decode("latin-1"))
        host = next((v for n, v in request.headers if n == b"host"), b"").decode("latin-1").split(":")[0]
        rule = next((r for r in listener.rules if r.matches(host, url.path or "/")), None)
        action = next((a for a in rule.actions if a.get("Type") in ("forward", "fixed-response", "redirect")), None) if rule else None
        if action is None:
            return self._own(listener, 503, b"", "text/plain")
        if action["Type"] == "fixed-response":
            config = action.get("FixedResponseConfig", {})
            return self._own(listener, int(config.get("StatusCode", 200)), (config.get("MessageBody") or "").encode(),
                             config.get("ContentType", "text/plain"))
        if action["Type"] == "redirect":
            return self._redirect(action.get("RedirectConfig", {}), listener, host, url)
        group = groups.get(pick_target_group(action, self.server.rotations) or "")
        targets = self.server.routable(group) if group else []
        if group is None or not targets:
            return self._own(listener, 503, error_page(503), "text/html")
        exchange = Exchange()
        try:
            forward(self.server.targets, self.client, request, self.server.rotations.target(group.arn, targets), listener, self.peer, exchange)
        except TargetFailed as failed:
            log.info("listener target %s: %s", group.name, failed)
            if self.client.response_started:
                self.server.record(listener, group.arn, exchange.status, False, exchange.seconds)
                raise ClientGone("the target failed mid-answer") from None
            return self._own(listener, failed.status, error_page(failed.status), "text/html")
        self.server.record(listener, group.arn, exchange.status, False, exchange.seconds)

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
        self._own(listener, code, b"", None, [(b"Location", location.encode())])

    def _own(self, listener: Listener | None, status: int, body: bytes, content_type: str | None,
             extra: list[tuple[bytes, bytes]] | None = None, close: bool = False) -> None:
        """An answer the load balancer gives itself (fixed responses, redirects, its own 4XX/5XX).

        The request's body, if any, is read and dropped first, so that the next request on the
        connection starts where it should; a large one closes the connection instead.
        """
        if listener is not None:
            self.server.record(listener, None, status, True, None)
        if not close and self.client.h11.their_state is h11.SEND_BODY:
            close = not self.client.discard_body(self.timeout, DISCARD_LIMIT)
        bodiless = status in (204, 304)
        headers = [(b"Server", b"awselb/2.0"), (b"Date", formatdate(usegmt=True).encode()), *(extra or [])]
        if not bodiless:
            headers.append((b"Content-Length", str(len(body)).encode()))
        if content_type:
            headers.append((b"Content-Type", content_type.encode()))
        if close:
            headers.append((b"Connection", b"close"))
        self.client.respond(status, headers, self.timeout, reason=_phrase(status).encode())
        if self.method != b"HEAD" and not bodiless:
            self.client.send(body, self.timeout)
        self.client.end(self.timeout)
