"""The WSGI gateway: routes each request to labstack's own endpoints, a provider or moto."""

from __future__ import annotations

import io
import logging
import zlib
from contextlib import nullcontext
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from labstack import authenticate, crossaccount, internal, signatures, upstream, webguard
from labstack.config import S3_MAX_BODY_BYTES
from labstack.context import RequestContext, context_for, credential_from
from labstack.enforcement import reading
from labstack.errors import (
    JSON,
    QUERY,
    REST_JSON,
    REST_XML,
    AwsError,
    new_request_id,
    not_emulated,
    render,
)
from labstack.instance import Labstack
from labstack.keyring import Identity
from labstack.protocol.incoming import Incoming
from labstack.signatures import AuthFailure
from labstack.trail import Call

log = logging.getLogger("labstack.gateway")
StartResponse = Callable[..., Any]


def status_line(code: int) -> str:
    """``"404 Not Found"`` for 404: the WSGI status string of a code."""
    return f"{code} {HTTPStatus(code).phrase}"


def guess_protocol(environ: dict, service: str | None) -> str:
    """The wire format a client expects errors in, judged from the request alone."""
    if service == "s3":
        return REST_XML
    if environ.get("HTTP_X_AMZ_TARGET"):
        return JSON
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") or "Action=" in environ.get("QUERY_STRING", ""):
        return QUERY
    return REST_JSON if service else REST_XML


class BodyTooLarge(Exception):
    """The request body passed the configured limit while it was read."""


class _BoundedInput:
    """A ``wsgi.input`` that never reads past the body.

    With a Content-Length it delivers exactly that many bytes (no read blocks on a
    kept-alive socket); without one (chunked) it raises once ``left`` is exceeded.
    """

    def __init__(self, stream: Any, left: int, strict: bool) -> None:
        self._stream = stream
        self._left = left
        self._strict = strict

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.readline, size)

    def _take(self, reader: Callable[[int], bytes], size: int | None) -> bytes:
        cap = self._left + (1 if self._strict else 0)
        want = cap if size is None or size < 0 else min(size, cap)
        data = reader(want) if want > 0 else b""
        self._left -= len(data)
        if self._left < 0:
            raise BodyTooLarge()
        return data

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class Gateway:
    """The one WSGI application labstack serves."""

    def __init__(self, labstack: Labstack) -> None:
        self.labstack = labstack

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        service = None
        request_id = None
        try:
            refused = webguard.screen(self.labstack, environ, start_response)  # a web page's forged request
            if refused is not None:
                return refused
            if path.startswith(("/_labstack/", "/_localstack/")) or path in ("/_labstack", "/_localstack"):
                return internal.handle(self.labstack, environ, start_response)
            if path.startswith(_MOTO_OWN) or path in ("/moto-api", "/latest"):
                raise AwsError("AccessDenied", f"{path} is moto's own administration, not an AWS API: labstack does "
                                               "not serve it", 403)
            self._wait_warm()  # providers add their routes while labstack warms up
            route = self.labstack.routes.match(path)
            if route is not None:
                return route(environ, _sandboxed(start_response))  # learners' text too: never a page of ours
            credential = credential_from(environ)
            service = credential.service if credential else None
            identity = authenticate.identify(self.labstack, credential)
            ctx = context_for(environ, credential, self.labstack.default_account, identity.account if identity else None)
            request_id = ctx.request_id
            return self._route(environ, start_response, ctx, credential is not None, identity)
        except AuthFailure as failure:
            err = signatures.aws_error(failure, service, guess_protocol(environ, service))
            return self._send_error(start_response, err, guess_protocol(environ, service), request_id)
        except AwsError as err:
            return self._send_error(start_response, err, guess_protocol(environ, service), request_id)
        except BodyTooLarge:
            return self._too_large(environ, start_response, service)
        except (TimeoutError, ConnectionError):
            raise  # the server drops the connection
        except Exception:
            log.exception("unexpected failure on %s", path)
            err = AwsError("InternalFailure", "labstack failed on this request; see `labstack logs`", 500, sender_fault=False)
            return self._send_error(start_response, err, guess_protocol(environ, service), request_id)

    def _route(self, environ: dict, start_response: StartResponse, ctx: RequestContext, signed: bool,
               identity: Identity | None) -> Iterable[bytes]:
        limit = S3_MAX_BODY_BYTES if ctx.service == "s3" else self.labstack.settings.max_body_bytes
        length = _content_length(environ)
        if length is not None and length > limit:
            raise BodyTooLarge()
        environ["wsgi.input"] = _BoundedInput(environ["wsgi.input"], limit if length is None else length, length is None)
        # Class mode verifies every key; the laptop verifies the keys IAM, STS and labstack issued (it knows
        # their secrets), so a deleted user's or a guessed key never passes for the account's root.
        if identity is not None and (self.labstack.settings.class_mode or identity.session_token is not None
                                     or identity.name == "iam"):
            authenticate.verify(environ, ctx.service, ctx.region, identity, length)
        if ctx.service != "s3" and environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
            _inflate(environ, limit)  # as moto would: the gate and the trail read what moto serves
        # IAM decides an IAM user's or a role session's call by the service it is signed for: its target must
        # be that service's too (signed for STS, CodeBuild's CreateProject would be decided as sts:CreateProject).
        evaluated = self.labstack.gate.mode != "off" and self.labstack.gate.principal(identity) is not None
        if identity is not None and (self.labstack.settings.class_mode or evaluated):
            try:
                if self.labstack.settings.class_mode:
                    crossaccount.check(environ, ctx.service, ctx.account, identity, guess_protocol(environ, ctx.service))
                target = environ.get("HTTP_X_AMZ_TARGET")
                if target and not self.labstack.router.agrees(target, ctx.service):
                    raise AwsError("UnknownOperationException", f"{target} is not an operation of {ctx.service}, which "
                                                                "the request is signed for", 400)
            except AwsError as err:  # a refused call is an event too (AccessDenied…)
                Call(self.labstack.trail, ctx, identity, Incoming(environ), None).failed(err.code, err.message)
                raise
        incoming = Incoming(environ)
        # labstack's runtimes reach moto's own answer under their overlay with this header; in class mode
        # only with labstack's own keys (an overlay may be a check, as AssumeRole's trust policy is), and
        # never with the keys of a principal IAM decides (an IAM user, a role session).
        direct = environ.get("HTTP_X_LABSTACK_DIRECT") == "moto" and (
            (identity is not None and identity.internal) or (not self.labstack.settings.class_mode and not evaluated))
        found = None if direct else self.labstack.router.match(incoming, ctx.service)
        if self.labstack.proxy is not None and ctx.service in upstream.signing_names():
            if found is None or not found[0].provider.upstream_only:
                return self.labstack.proxy.forward(environ, start_response, ctx.service, ctx.access_key, ctx.account)
        # Every signed call is recorded once (CloudTrail's event history), but not labstack's own call to
        # moto under an overlay (the overlay's call is recorded).
        internal_direct = direct and identity is not None and identity.internal
        call = None if internal_direct or not ctx.service else Call(self.labstack.trail, ctx, identity, incoming, found[1] if found else None)
        respond = call.start_response(start_response) if call else start_response
        try:
            if call is not None:  # IAM: the caller's policies decide (labstack.enforcement.gate)
                protocol = guess_protocol(environ, ctx.service)
                # moto reads an operation wherever it finds one: all of them must be the one decided
                unclear: Callable[[], str | None] | None = None
                if ctx.service == "s3":
                    unclear = lambda: reading.s3_disagreement(incoming, call.name, call.params)
                elif found is None:
                    unclear = lambda: reading.disagreement(incoming, call.name, call.params, protocol == QUERY)
                self.labstack.gate.check(ctx, identity, call.name, call.params, protocol, environ.get("REMOTE_ADDR", ""),
                                         unclear)
            if found is None:
                with self.labstack.moto.serving():  # a rule firing meanwhile delivers to this labstack's targets
                    body = self._to_moto(environ, respond, ctx)
                return call.finish(body) if call else body
            if not signed:
                raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token: sign the request with SigV4", 403)
            dispatcher, operation = found
            status, headers, payload = dispatcher.dispatch(ctx, operation, incoming)
            respond(status_line(status), headers)
            return call.finish([payload]) if call else [payload]
        except AwsError as err:
            if call is not None:
                call.failed(err.code, err.message)
            raise
        except (TimeoutError, ConnectionError, BodyTooLarge):
            raise  # a request that never arrived whole is no call
        except Exception:
            if call is not None:
                call.failed("InternalFailure", "labstack failed on this request")
            raise

    def _wait_warm(self) -> None:
        try:
            self.labstack.wait_warm()
        except (TimeoutError, RuntimeError) as exc:
            raise AwsError("ServiceUnavailable", str(exc), 503, sender_fault=False) from None

    def _to_moto(self, environ: dict, start_response: StartResponse, ctx: RequestContext) -> Iterable[bytes]:
        """Forward to moto in the request's account; never let an HTML page or bare 500 out."""
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = ctx.account
        self.labstack.moto.prepare(ctx.service, ctx.account, ctx.partition)
        moto = self.labstack.moto.app
        assert moto is not None
        operation = _operation_name(environ)
        try:
            app = moto.get_application(environ)  # type: ignore[attr-defined]
        except (TimeoutError, ConnectionError, BodyTooLarge):
            raise
        except Exception:
            raise not_emulated(ctx.service or "this service", operation) from None
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        writes = self.labstack.moto_writes.lock_for(ctx.service, operation)  # a runtime writes these models too
        if writes is not None:
            _buffer(environ)  # read whole before the lock: a slow client holds nobody up
        try:
            with writes if writes is not None else nullcontext():
                body = app(environ, capture)
        except (TimeoutError, ConnectionError, BodyTooLarge, AwsError, AuthFailure):
            raise
        except NotImplementedError:
            raise not_emulated(ctx.service or "this service", operation) from None
        except Exception as exc:
            log.exception("moto failed on %s %s", ctx.service, operation)
            raise AwsError("InternalFailure", f"the emulated {ctx.service} failed on {operation}: {exc}", 500, sender_fault=False) from None
        code = int(captured["status"].split()[0])
        content_type = next((v for k, v in captured["headers"] if k.lower() == "content-type"), "")
        if code in (404, 405) and content_type.startswith("text/html"):
            page = b"".join(body)
            _close(body)
            if page.strip():  # werkzeug's page for a route moto lacks; an empty 404 is moto's answer (HeadBucket)
                raise not_emulated(ctx.service or "this service", operation)
            body = [page]
        # No answer is ever a page of labstack's origin (the console, its API): an S3 object, say, may be
        # another learner's HTML, whatever service name its URL was signed for.
        start_response(captured["status"], [*captured["headers"], *SANDBOXED])
        return body

    def _send_error(self, start_response: StartResponse, err: AwsError, protocol: str, request_id: str | None) -> Iterable[bytes]:
        status, headers, body = render(err, protocol, request_id or new_request_id())
        start_response(status_line(status), headers)
        return [body]

    def _too_large(self, environ: dict, start_response: StartResponse, service: str | None) -> Iterable[bytes]:
        """Refuse an oversized body and close the connection (its rest is never read)."""
        if service == "s3":
            err = AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size (5 GB)", 400)
        else:
            limit = self.labstack.settings.max_body_bytes
            err = AwsError("RequestEntityTooLarge", f"Request body exceeds labstack's limit of {limit} bytes", 413)
        status, headers, body = render(err, guess_protocol(environ, service), new_request_id())
        # The unread rest of the body makes the connection unusable; werkzeug closes it
        # after every response anyway, and says so in a Connection header.
        start_response(status_line(status), headers)
        return [body]


# An answer served from labstack's origin could be another learner's HTML page; sandboxed, it runs in
# an opaque origin of its own, so its requests to labstack are cross-origin and refused (webguard).
SANDBOXED = [("Content-Security-Policy", "sandbox"), ("X-Content-Type-Options", "nosniff")]
# moto's own endpoints: its dashboard, state dump and reset, and the EC2 instance metadata it imitates.
_MOTO_OWN = ("/moto-api/", "/latest/")


def _sandboxed(start_response: StartResponse) -> StartResponse:
    """``start_response`` adding the SANDBOXED headers to an answer (in place of any the app set itself)."""
    names = {name.lower() for name, _ in SANDBOXED}

    def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*(h for h in headers if h[0].lower() not in names), *SANDBOXED], exc_info)

    return respond


def _content_length(environ: dict) -> int | None:
    raw = environ.get("CONTENT_LENGTH")
    if not raw:
        return None if environ.get("wsgi.input_terminated") else 0
    try:
        return max(0, int(raw))
    except ValueError:
        raise AwsError("BadRequest", "Content-Length is not a number", 400) from None


def _inflate(environ: dict, limit: int) -> None:
    """Replace a gzip request body (botocore compresses CloudWatch's PutMetricData) by its content, at most
    ``limit`` bytes of it."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(environ["wsgi.input"].read(), limit + 1)
    except zlib.error:
        raise AwsError("MalformedInput", "the request says Content-Encoding: gzip, but its body is not gzip", 400) from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_CONTENT_ENCODING", None)


def _buffer(environ: dict) -> None:
    """Replace the request's body stream (already bounded) by its content, read now."""
    body = environ["wsgi.input"].read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _operation_name(environ: dict) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    return action[0] if action else None


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
