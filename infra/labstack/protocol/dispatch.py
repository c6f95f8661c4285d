"""From a request to a provider method and back, in whichever protocol the service speaks."""

from __future__ import annotations

import functools
import logging
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError, EndpointConnectionError

from labstack.context import RequestContext
from labstack.errors import AwsError, not_emulated, render
from labstack.protocol import models
from labstack.protocol.incoming import Incoming
from labstack.protocol.json_codec import JsonCodec
from labstack.protocol.provider import Provider
from labstack.protocol.query_codec import QueryCodec
from labstack.protocol.rest_codec import RestJsonCodec
from labstack.upstream import unreachable

log = logging.getLogger("labstack.protocol")
Response = tuple[int, list[tuple[str, str]], bytes]
CODECS: dict[str, Any] = {"json": JsonCodec, "query": QueryCodec, "rest-json": RestJsonCodec}


class Dispatcher:
    """Serves one provider: parse and validate, call the method, serialise the answer.

    Only the model's metadata is read at registration; the model itself, its codec and
    its operations are built when the first request for the service arrives.
    """

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        meta = models.metadata(provider.service)
        self.protocol = models.resolved_protocol(meta)
        if self.protocol not in CODECS:
            raise ValueError(f"{provider.service} speaks {self.protocol}, which labstack does not serve")
        self.target_prefix: str | None = meta.get("targetPrefix")
        self.signing_name: str = meta.get("signingName") or meta["endpointPrefix"]

    @functools.cached_property
    def model(self) -> Any:
        return self.provider.model

    @functools.cached_property
    def codec(self) -> Any:
        return CODECS[self.protocol](self.model)

    @functools.cached_property
    def operations(self) -> dict[str, Any]:
        return models.operations(self.provider.service)

    def handles(self, operation: str | None) -> bool:
        """Whether this provider answers ``operation`` (an overlay only what it implements)."""
        if not self.provider.overlay:
            return True
        return bool(operation) and hasattr(self.provider, xform_name(operation)) and operation in self.operations

    def dispatch(self, ctx: RequestContext, operation: str | None, incoming: Incoming) -> Response:
        """Answer one request; every failure becomes an error in the service's protocol."""
        ctx.operation = operation
        incoming.body  # noqa: B018 - read it here: a stalled or oversized body is the gateway's to answer
        try:
            return self._dispatch(ctx, operation, incoming)
        except AwsError as err:
            return self.error(err, ctx)
        except ClientError as exc:
            if not self.provider.overlay:
                raise
            # An overlay asked moto underneath it, and moto refused: that refusal is the answer.
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return self.error(AwsError(error.get("Code", "ValidationException"), error.get("Message", str(exc)), status), ctx)
        except Exception as exc:
            upstream = self.provider.labstack.settings.upstream
            if upstream and isinstance(exc, EndpointConnectionError) and str(exc.kwargs.get("endpoint_url")).startswith(upstream):
                return self.error(unreachable(upstream, None, "connection refused"), ctx)  # labstack needed LocalStack
            log.exception("%s.%s failed", self.model.service_name, operation)
            failure = AwsError("InternalFailure", f"labstack failed while handling {operation}; see `labstack logs`",
                               500, sender_fault=False)
            return self.error(failure, ctx)

    def error(self, err: AwsError, ctx: RequestContext) -> Response:
        """Render an error, taking the status the model documents when none is given."""
        if err.status is None:
            err.status = models.error_status(self.model, err.code) or 400
        return render(err, self.protocol, ctx.request_id, getattr(self.codec, "json_version", "1.1"))

    def _dispatch(self, ctx: RequestContext, operation: str | None, incoming: Incoming) -> Response:
        op_model = self.operations.get(operation or "")
        if op_model is None:
            raise AwsError("UnknownOperationException",
                           f"{operation or 'this request'} is not an operation of {self.model.service_id}", 400)
        try:
            request = self.codec.parse(op_model, incoming)
        except AwsError as err:
            raise self.provider.invalid_input(op_model.name, err) from None
        method = getattr(self.provider, xform_name(op_model.name), None)
        if method is None:
            raise not_emulated(self.model.service_id, op_model.name)
        result = method(ctx, request) or {}
        checker = self.provider.labstack.shape_check
        if checker is not None:
            checker.verify(self.provider.service, op_model, self.protocol, result)
        return self.codec.serialize(op_model, result, ctx.request_id)


class Router:
    """Finds which provider, if any, answers a request; None means moto does.

    A service may have several overlays (a runtime's and a test's, say): the one added last that
    implements the operation answers it."""

    def __init__(self) -> None:
        self._by_target: dict[str, list[Dispatcher]] = {}
        self._by_service: dict[str, list[Dispatcher]] = {}

    def add(self, dispatcher: Dispatcher) -> None:
        if dispatcher.protocol == "json":
            self._by_target.setdefault(dispatcher.target_prefix or "", []).insert(0, dispatcher)
        else:
            self._by_service.setdefault(dispatcher.signing_name, []).insert(0, dispatcher)

    def agrees(self, target: str, signing_service: str | None) -> bool:
        """Whether a JSON call's ``X-Amz-Target`` and the service its signature is for name the same service,
        as far as labstack serves either (moto alone serves the rest, and reads them the same way)."""
        prefix = target.rpartition(".")[0]
        by_target = self._by_target.get(prefix, [])
        by_scope = [d for ds in self._by_target.values() for d in ds if d.signing_name == signing_service]
        return (all(d.signing_name == signing_service for d in by_target)
                and all(d.target_prefix == prefix for d in by_scope))

    def match(self, incoming: Incoming, signing_service: str | None) -> tuple[Dispatcher, str | None] | None:
        """The dispatcher and operation for this request, or None to forward it to moto."""
        target = incoming.header("X-Amz-Target")
        if target:
            prefix, _, operation = target.rpartition(".")
            candidates = self._by_target.get(prefix, [])
        else:
            candidates = self._by_service.get(signing_service or "", [])
            operation = candidates[0].codec.operation_name(incoming) if candidates else None
        return next(((d, operation) for d in candidates if d.handles(operation)), None)
