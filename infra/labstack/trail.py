"""The event log: every AWS call labstack serves, kept per account as CloudTrail keeps management events.

The gateway opens a :class:`Call` for each request it routes to a provider or to moto and finishes
it once the answer's status is known; failed calls carry their error code. Recording costs one
parse of the request's names, no disk I/O, and one append under a lock to its caller's log in its
account: when an account holds ``LABSTACK_TRAIL_EVENTS`` (default 20000), the busiest caller's oldest
reads go first, then its oldest changes.
``services/cloudtrail`` serves the log as ``LookupEvents``.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from labstack.context import RequestContext
from labstack.keyring import Identity
from labstack.principals import Principals
from labstack.protocol.incoming import Incoming
from labstack.services.cloudtrail import records, resources, wire
from labstack.services.cloudtrail.records import Event

log = logging.getLogger("labstack.trail")
DEFAULT_EVENTS = 20_000
PRINCIPALS = 32  # callers with a log of their own in one account
_OTHERS = "(others)"
CALLER_HEADER = "X-Labstack-Caller"  # which service labstack's own engines call for (trusted on their keys only)
MAX_AGENT = 1024  # characters of a user agent, error code or error message an event keeps
_serving = threading.local()  # the service the current request thread is serving, for engines' calls made from it


class Trail:
    """Each account's recent events, safe to use from any thread.

    An account holds at most ``limit`` events. When it is full, reads go first (grading reads only
    changes): the oldest read of whoever read most, and only in an account of changes alone the oldest
    change of whoever changed most. One principal flooding its own account (a learner's root, say) thus
    drops its own events, never the changes of a role session that called less. Past :data:`PRINCIPALS`
    logs in one account, the rest share one.
    """

    def __init__(self, limit: int = DEFAULT_EVENTS) -> None:
        self.limit = limit
        self.principals = Principals()
        self._lock = threading.Lock()
        self._accounts: dict[str, dict[tuple[str, bool], deque[Event]]] = {}  # (caller, read-only) -> events
        self._sizes: dict[str, int] = {}
        self._agents: dict[str, str] = {}  # one copy of each user agent string

    def add(self, event: Event) -> None:
        """Keep ``event`` in its account's log (when full, dropping the busiest caller's oldest read, or
        its oldest change when the account holds no reads)."""
        who = (str(event.identity.get("arn") or event.identity.get("invokedBy") or event.identity.get("type")),
               event.read_only)
        with self._lock:
            logs = self._accounts.setdefault(event.account, {})
            log = logs.get(who)
            if log is None:
                log = logs[who] = deque() if len(logs) < PRINCIPALS else logs.setdefault((_OTHERS, who[1]), deque())
            log.append(event)
            size = self._sizes.get(event.account, 0) + 1
            if size > self.limit:
                reads = [log for (_, read_only), log in logs.items() if read_only and log]
                max(reads or logs.values(), key=len).popleft()
                size -= 1
            self._sizes[event.account] = size

    def events(self, account: str) -> list[Event]:
        """A snapshot of ``account``'s events, newest first."""
        with self._lock:
            logs = [list(log) for log in self._accounts.get(account, {}).values()]
        merged = heapq.merge(*logs, key=lambda e: e.time) if len(logs) > 1 else iter(logs[0] if logs else [])
        return list(merged)[::-1]

    def clear(self) -> None:
        """Forget every account's events (labstack's reset)."""
        with self._lock:
            self._accounts.clear()
            self._sizes.clear()
            self._agents.clear()
        self.principals.forget()

    def agent(self, text: str) -> str:
        """``text`` shortened to :data:`MAX_AGENT`, one shared copy per distinct string."""
        text = text[:MAX_AGENT]
        with self._lock:
            if len(self._agents) > 1000:
                self._agents.clear()
            return self._agents.setdefault(text, text)

    def record(self, *, account: str, region: str, source: str, name: str, request_id: str, ip: str, agent: str,
               access_key: str | None, holder: Identity | None, acting: str | None = None,
               named: Iterable[resources.Named] = (), returned: Iterable[resources.Named] = (),
               error: tuple[str, str] | None = None, extra: dict[str, Any] | None = None,
               identity: dict[str, Any] | None = None) -> Event:
        """Record one call now; ``holder`` is the key's identity as the keyring knows it (None for a key it
        does not: the account's root on a laptop), unless ``identity`` says who called."""
        service_host = None
        if identity is None:
            identity, service_host = self.principals.identity(access_key, holder, account, acting)
        if service_host is not None:
            ip = agent = service_host
        event = Event(time.time(), str(uuid.uuid4()), request_id, source, name, region, account, ip, self.agent(agent),
                      identity, records.read_only(name), tuple(named), tuple(returned), extra=extra)
        if error is not None:
            event.error_code, event.error_message = error[0][:MAX_AGENT], error[1][:MAX_AGENT]
        self.add(event)
        return event


def serving(service: str | None) -> None:
    """Note which service the current thread's request is for (None when it is done)."""
    _serving.service = service


def mark_caller(request: Any, **_: Any) -> None:
    """botocore ``before-sign`` hook for labstack's own clients: say which service the call is made for,
    from the request being served on this thread or the engine thread's name (``codedeploy-<id>``)."""
    acting = getattr(_serving, "service", None) or threading.current_thread().name
    request.headers[CALLER_HEADER] = acting[:64]


class Call:
    """One AWS request on its way through the gateway, recorded once when its answer is known."""

    def __init__(self, trail: Trail, ctx: RequestContext, holder: Identity | None, incoming: Incoming,
                 operation: str | None) -> None:
        self.trail = trail
        self.ctx = ctx
        self.holder = holder
        environ = incoming.environ
        service = ctx.service or ""
        bucket = _virtual_bucket(environ) if service == "s3" else None
        try:
            found, params = wire.operation(incoming, service, bucket)
        except (ValueError, TypeError, LookupError, AttributeError):  # unreadable: answered, recorded if named
            log.exception("could not read the names of a %s request", service)
            found, params = None, {}
        self.name = operation or found
        self.params = params  # the request's parameters as sent (the IAM gate reads them too)
        self.named = resources.of_request(service, self.name, params)
        if service == "s3" and params.get("Bucket") and params.get("Key"):
            self.named.append(resources.s3_object(params["Bucket"], params["Key"]))
        self.ip = environ.get("REMOTE_ADDR", "")
        self.agent = environ.get("HTTP_USER_AGENT", "")
        self.acting = environ.get("HTTP_" + CALLER_HEADER.upper().replace("-", "_")) if holder is not None and holder.internal else None
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.request_id = ctx.request_id  # unless the answer names its own (moto's)
        self.done = False
        serving(ctx.service)

    def start_response(self, start_response: Callable[..., Any]) -> Callable[..., Any]:
        """``start_response`` that notes the answer's status and headers on the way."""

        def noted(status: str, headers: list, exc_info: Any = None) -> Any:
            self.status = int(status.split()[0])
            self.headers = headers
            return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)

        return noted

    def finish(self, body: Iterable[bytes]) -> Iterable[bytes]:
        """Record the call from its answer; returns the body to send. An answer of at most
        ``wire.MAX_PARSED_ANSWER`` bytes is read whole for its request id, error and new identifiers; a
        larger one streams on untouched."""
        error = None
        returned: list[resources.Named] = []
        if self._small():
            whole = b"".join(body)
            close = getattr(body, "close", None)
            if close is not None:
                close()  # the answer is read whole: release what produced it (moto's response)
            body = [whole]
            self.request_id = wire.request_id(self.headers, body[0]) or self.request_id
            if self.status >= 400:
                error = wire.error(self.headers, body[0])
            elif self.name and not records.read_only(self.name):
                returned = resources.of_answer(wire.answered(body[0], resources.RETURNED_MEMBERS))
        elif self.status >= 400:
            error = (f"HTTP{self.status}", "")
        self._record(error, returned)
        return body

    def failed(self, code: str, message: str) -> None:
        """Record the call as failed with an AWS error labstack raised before any answer."""
        self._record((code, message), [])

    def _record(self, error: tuple[str, str] | None, returned: list[resources.Named]) -> None:
        serving(None)
        if self.done or not self.name:
            return
        self.done = True
        ctx = self.ctx
        self.trail.record(account=ctx.account, region=ctx.region, source=ctx.service or "", name=self.name,
                          request_id=self.request_id, ip=self.ip, agent=self.agent, access_key=ctx.access_key,
                          holder=self.holder, acting=self.acting, named=self.named, returned=returned, error=error)

    def _small(self) -> bool:
        length = next((v for k, v in self.headers if k.lower() == "content-length"), None)
        return length is not None and length.isdigit() and int(length) <= wire.MAX_PARSED_ANSWER


def _virtual_bucket(environ: dict) -> str | None:
    """The bucket a virtual-hosted-style S3 request names in its Host (``bucket.s3.localhost…``), if any."""
    host = (environ.get("HTTP_HOST") or "").split(":")[0].lower()
    for marker in (".s3.", ".s3-"):
        if marker in host:
            return host.split(marker)[0] or None
    return None
