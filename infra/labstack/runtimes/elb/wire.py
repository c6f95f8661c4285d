"""HTTP/1.1 with one client of a listener: h11's server side over a blocking socket.

h11 does the framing (Content-Length, chunked, HEAD, 1xx/204/304, keep-alive, pipelining);
this module adds what a load balancer in front of other servers needs besides: a guard that
refuses the request shapes two HTTP parsers may read differently (request smuggling), and
deadlines so that a slow or silent client cannot hold a worker.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import h11

READ_SIZE = 64 * 1024  # bytes read from the client at once: the most one body piece holds
MAX_HEAD_BYTES = 64 * 1024  # ALB's limit for a whole request head
_BLANK_LINE = re.compile(rb"\n\r?\n")  # where a head ends, as h11 finds it


class BadRequest(Exception):
    """The client broke HTTP/1.1 framing: it gets ``status`` and the connection closes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class ClientGone(Exception):
    """The client closed or reset the connection, or stayed silent past the idle timeout."""


def ambiguous_framing(head: bytes) -> str | None:
    """Why a request head's framing is ambiguous (RFC 9112 §6.3, §5.2), or None.

    h11 merges repeated identical Content-Length fields, lets Transfer-Encoding win over
    Content-Length and unfolds obsolete line folding; a server behind the listener may do
    otherwise, so a load balancer refuses all three.
    """
    lengths = encodings = 0
    for line in head.split(b"\n")[1:]:
        if line[:1] in (b" ", b"\t"):
            return "obsolete line folding in a request header"
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"content-length":
            lengths += 1 + line.count(b",")
        elif name == b"transfer-encoding":
            encodings += 1
    if lengths > 1:
        return "more than one Content-Length"
    if lengths and encodings:
        return "both Content-Length and Transfer-Encoding"
    return None


def origin_form(request: h11.Request) -> h11.Request:
    """``request`` with an absolute-form target (``GET http://host/path``) made origin-form.

    The URI's authority replaces the Host field (RFC 9112 §3.2.2), so that the rules and the
    target read the same host and a host-header rule cannot be walked around.
    """
    scheme, separator, rest = request.target.partition(b"://")
    if not separator or scheme.lower() not in (b"http", b"https"):
        return request
    authority, slash, path = rest.partition(b"/")
    authority, _, _ = authority.partition(b"?")  # "http://host?q" has no path
    target = b"/" + path if slash else b"/" + rest[len(authority):]
    if not authority or b"@" in authority:
        raise BadRequest(400, "an absolute request target without a host, or with user information")
    headers = [(name, value) for name, value in request.headers.raw_items() if name.lower() != b"host"]
    return h11.Request(method=request.method, target=target, headers=[(b"Host", authority), *headers],
                       http_version=request.http_version)


class ClientConnection:
    """One client's connection: requests in, responses out, in order, one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    @property
    def response_started(self) -> bool:
        """True once a response head went out: from then on an error can only close the connection."""
        return self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE)

    def next_request(self, timeout: float) -> h11.Request | None:
        """The next request's head, or None when the client closed or idled between requests.

        The whole head must arrive within ``timeout`` seconds (a client trickling it a byte
        at a time is dropped). Raises :class:`BadRequest` for a malformed or ambiguous head.
        """
        deadline = time.monotonic() + timeout
        while True:
            data, closed = self.h11.trailing_data
            end = _BLANK_LINE.search(data)
            if end is not None:
                problem = ambiguous_framing(data[:end.start()])
                if end.start() > MAX_HEAD_BYTES:
                    problem = "a request head larger than 64 KiB"
                if problem:
                    raise BadRequest(400, problem)
            if data or closed:  # h11 takes a head only once it is whole: the scan above saw it first
                try:
                    event = self.h11.next_event()
                except h11.RemoteProtocolError as exc:
                    if not data.strip() and closed:
                        return None
                    # ALB answers 501 to a transfer coding other than chunked, 400 to the rest
                    raise BadRequest(501 if exc.error_status_hint == 501 else 400, str(exc)) from None
                if isinstance(event, h11.Request):
                    return origin_form(event)
                if event is not h11.NEED_DATA:
                    return None  # the client closed between requests
            try:
                self._receive(deadline)
            except ClientGone:
                return None

    def body(self, timeout: float) -> Iterator[bytes]:
        """The request body in the pieces it arrives in; each read waits at most ``timeout``.

        Answers ``100 Continue`` first when the client waits for it. Raises :class:`BadRequest`
        (a bad chunk) or :class:`ClientGone`.
        """
        if self.h11.they_are_waiting_for_100_continue:
            self._send(h11.InformationalResponse(status_code=100, headers=[]), timeout)
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise BadRequest(400, str(exc)) from None
            if event is h11.NEED_DATA:
                self._receive(time.monotonic() + timeout)
            elif isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise ClientGone("the client closed before its body ended")

    def discard_body(self, timeout: float, limit: int) -> bool:
        """Read and drop the request body if it is at most ``limit`` bytes; True when it was."""
        if self.h11.they_are_waiting_for_100_continue:
            return False  # it has not been sent: the answer goes first, then the connection closes
        seen = 0
        try:
            for piece in self.body(timeout):
                seen += len(piece)
                if seen > limit:
                    return False
        except (BadRequest, ClientGone):
            return False
        return True

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], timeout: float, reason: bytes = b"") -> None:
        """Send a response head; h11 frames the body by the headers given (chunked when no length)."""
        self._send(h11.Response(status_code=status, headers=headers, reason=reason), timeout)

    def send(self, data: bytes, timeout: float) -> None:
        """Send a piece of the response body."""
        if data:
            self._send(h11.Data(data=data), timeout)

    def end(self, timeout: float) -> None:
        """End the response (the last chunk when it is chunked)."""
        self._send(h11.EndOfMessage(), timeout)

    def next_cycle(self) -> bool:
        """Make ready for the next request on this connection; False when it must close instead."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False

    def _receive(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClientGone("idle timeout")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(READ_SIZE)
        except OSError as exc:  # timeouts included
            raise ClientGone(str(exc)) from None
        self.h11.receive_data(data)  # b"" tells h11 the client closed

    def _send(self, event: h11.Event, timeout: float) -> None:
        try:
            data = self.h11.send(event)
        except h11.LocalProtocolError as exc:  # a target's answer h11 cannot frame for this client
            self.h11.send_failed()
            raise ClientGone(f"cannot send {type(event).__name__}: {exc}") from None
        if data:
            self.sock.settimeout(timeout)
            try:
                self.sock.sendall(data)
            except OSError as exc:
                self.h11.send_failed()
                raise ClientGone(str(exc)) from None
