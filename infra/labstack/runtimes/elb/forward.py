"""A request on its way to a target and the answer on its way back, as an ALB passes them.

The target side is httpcore's connection pool (kept-alive connections, connect/read/write
timeouts, a connection dropped whenever an exchange did not finish cleanly); the client side
is :mod:`labstack.runtimes.elb.wire`. Bodies go through in the pieces they arrive in.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import h11
import httpcore

from labstack.runtimes.elb.model import Listener
from labstack.runtimes.elb.wire import ClientConnection
from labstack.sessions import COOKIE

CONNECT_TIMEOUT = 10.0  # ALB gives a target 10 s to accept a connection, then answers 504
TARGET_KEEPALIVE = 2.0  # seconds an idle target connection is kept: shorter than most servers keep theirs
# Hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112 §7.1), a proxy's own credentials, and Expect,
# which the listener answers itself.
HOP_BY_HOP = frozenset({b"connection", b"proxy-connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade", b"proxy-authenticate", b"proxy-authorization"})
_SET_BY_ELB = frozenset({b"expect", b"x-forwarded-proto", b"x-forwarded-port"})

Headers = list[tuple[bytes, bytes]]
_SESSION_COOKIE = COOKIE.encode()


class TargetFailed(Exception):
    """The target could not be reached or did not answer properly: the ELB answers ``status`` (502 or 504)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def end_to_end(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """``headers`` without the hop-by-hop ones, those a ``Connection`` field names included."""
    pairs = [(name, value) for name, value in headers]
    named = {token.strip().lower() for name, value in pairs if name.lower() == b"connection" for token in value.split(b",")}
    return [(name, value) for name, value in pairs if name.lower() not in HOP_BY_HOP and name.lower() not in named]


def request_headers(request: h11.Request, listener: Listener, peer: tuple[str, int]) -> Headers:
    """What the target receives: the client's end-to-end fields, then X-Forwarded-* as ALB sets them.

    X-Forwarded-For follows the load balancer's ``routing.http.xff_header_processing.mode``
    (append the client, preserve, or remove) and ``routing.http.xff_client_port.enabled``;
    X-Forwarded-Proto and X-Forwarded-Port always name the listener.
    """
    headers = [(n, v) for n, v in end_to_end(request.headers.raw_items()) if n.lower() not in _SET_BY_ELB]
    headers = _without_console_session(headers)
    if listener.xff_mode != "preserve":
        forwarded = [v for n, v in headers if n.lower() == b"x-forwarded-for"]
        headers = [(n, v) for n, v in headers if n.lower() != b"x-forwarded-for"]
        if listener.xff_mode != "remove":
            client = f"{peer[0]}:{peer[1]}" if listener.xff_client_port else peer[0]
            headers.append((b"X-Forwarded-For", b", ".join([*forwarded, client.encode()])))
    headers.append((b"X-Forwarded-Proto", (listener.protocol.lower() or "http").encode()))
    headers.append((b"X-Forwarded-Port", str(listener.port).encode()))
    return headers


def _without_console_session(headers: Headers) -> Headers:
    """``headers`` less labstack's console session cookie: a browser sends it to every port of the host
    (cookies ignore ports), and a learner's app behind a listener must never receive another's session."""
    kept: Headers = []
    for name, value in headers:
        if name.lower() == b"cookie":
            crumbs = [c for c in value.split(b";") if c.strip().split(b"=", 1)[0] != _SESSION_COOKIE]
            if not crumbs:
                continue
            value = b";".join(crumbs).strip()
        kept.append((name, value))
    return kept


@dataclass
class Exchange:
    """One forwarded request: its status and the target's response time once the head came back."""

    status: int = 0
    seconds: float | None = None


def forward(pool: httpcore.ConnectionPool, client: ClientConnection, request: h11.Request, target: tuple[str, int],
            listener: Listener, peer: tuple[str, int], exchange: Exchange) -> None:
    """Send ``request`` to ``target`` and stream its answer to the client, noting it in ``exchange``.

    Raises :class:`TargetFailed` when the target fails, and passes the client's own failures
    on (:class:`~labstack.runtimes.elb.wire.BadRequest`, ``ClientGone``); after either, the
    client connection must close if a response had started.
    """
    timeout = listener.idle_timeout
    headers = request_headers(request, listener, peer)
    framing = {n.lower(): v for n, v in request.headers.raw_items() if n.lower() in (b"content-length", b"transfer-encoding")}
    body = client.body(timeout)
    content: Iterable[bytes] | None = None
    if b"transfer-encoding" in framing:
        headers.append((b"Transfer-Encoding", b"chunked"))
        content = body
    elif int(framing.get(b"content-length", b"0")):
        content = body
    else:
        for _ in body:  # no body: h11 still has its end to hand over
            pass
    url = httpcore.URL(scheme=b"http", host=target[0].encode(), port=target[1], target=request.target)
    limits = {"connect": min(CONNECT_TIMEOUT, timeout), "read": timeout, "write": timeout, "pool": timeout}
    started = time.perf_counter()
    try:
        with pool.stream(request.method, url, headers=headers, content=content, extensions={"timeout": limits}) as response:
            exchange.status, exchange.seconds = response.status, time.perf_counter() - started
            if response.status < 200:
                raise TargetFailed(502, f"the target answered {response.status} to a request that asked for no upgrade")
            client.respond(response.status, end_to_end(response.headers), timeout,
                           reason=response.extensions.get("reason_phrase", b""))
            for piece in response.iter_stream():
                client.send(piece, timeout)
            client.end(timeout)
    except httpcore.TimeoutException as exc:
        raise TargetFailed(504, f"{type(exc).__name__}: {exc}") from None
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise TargetFailed(502, f"{type(exc).__name__}: {exc}") from None
