"""Providers: one class per service, one method per operation, driven by botocore's model.

A provider subclasses :class:`Provider`, sets ``service`` to botocore's service name
and defines a method per operation, named as boto3 names it (``create_project``)::

    def create_project(self, ctx: RequestContext, request: dict) -> dict: ...

The request arrives validated against the input shape, with timestamps as datetimes
and blobs as bytes; the returned dict is serialised through the output shape.
Errors are raised as :class:`labstack.errors.AwsError`.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import TYPE_CHECKING, ClassVar

from botocore import xform_name
from botocore.model import ServiceModel

from labstack.context import RequestContext
from labstack.errors import JSON, AwsError, not_emulated, render, validation_error
from labstack.protocol import models, shapes

if TYPE_CHECKING:
    from labstack.instance import Labstack

log = logging.getLogger("labstack.protocol")
Response = tuple[int, list[tuple[str, str]], bytes]


class Provider:
    """Base class of labstack's own services."""

    service: ClassVar[str]

    def __init__(self, labstack: "Labstack") -> None:
        self.labstack = labstack

    @property
    def model(self) -> ServiceModel:
        return models.service_model(self.service)

    def resource_counts(self) -> dict[str, int]:
        """Per account, how many resources this service holds (for ``labstack status``)."""
        return {}

    def activity_counts(self) -> dict[str, dict[str, int]]:
        """Per account, running work by kind (``builds``, ``deployments``…)."""
        return {}


class JsonDispatcher:
    """Serves one provider over the JSON 1.0/1.1 protocol (``X-Amz-Target``)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.model = provider.model
        self.prefix = self.model.metadata["targetPrefix"]
        self.json_version = self.model.metadata.get("jsonVersion", "1.0")
        self.content_type = f"application/x-amz-json-{self.json_version}"
        self.operations = models.operations(provider.service)

    def error(self, err: AwsError, ctx: RequestContext) -> Response:
        """Render an error, taking the status the model documents when none is given."""
        if err.status is None:
            err.status = models.error_status(self.model, err.code) or 400
        return render(err, JSON, ctx.request_id, self.json_version)

    def dispatch(self, ctx: RequestContext, operation: str, content_type: str, body: bytes) -> Response:
        """Parse, validate, call the provider and serialise its answer."""
        ctx.operation = operation
        try:
            return self._dispatch(ctx, operation, content_type, body)
        except AwsError as err:
            return self.error(err, ctx)
        except Exception:
            log.exception("%s.%s failed", self.provider.service, operation)
            return self.error(
                AwsError("InternalFailure", f"labstack failed while handling {operation}; see `labstack logs`", 500, sender_fault=False),
                ctx,
            )

    def _dispatch(self, ctx: RequestContext, operation: str, content_type: str, body: bytes) -> Response:
        op_model = self.operations.get(operation)
        if op_model is None:
            raise AwsError("UnknownOperationException", f"{self.prefix}.{operation} is not an operation of {self.model.service_id}", 400)
        kind = content_type.split(";")[0].strip().lower()
        if kind not in ("application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json"):
            raise AwsError(
                "UnsupportedMediaTypeException",
                f"Content-Type must be {self.content_type}, not {content_type or 'empty'}",
                415,
            )
        try:
            data = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}", 400) from None
        if not isinstance(data, dict):
            raise AwsError("SerializationException", "Request body must be a JSON object", 400)
        found = shapes.problems(op_model.input_shape, data)
        if found:
            raise validation_error(found)
        method = getattr(self.provider, xform_name(operation), None)
        if method is None:
            raise not_emulated(self.model.service_id, operation)
        result = method(ctx, shapes.from_wire(op_model.input_shape, data)) or {}
        payload = json.dumps(shapes.to_wire(op_model.output_shape, result)).encode()
        headers = [
            ("Content-Type", self.content_type),
            ("x-amzn-RequestId", ctx.request_id),
            ("Content-Length", str(len(payload))),
        ]
        return 200, headers, payload


def load_provider(spec: str) -> type[Provider]:
    """Import ``module:Class`` (how ``LABSTACK_PROVIDERS`` names extra providers)."""
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise ValueError(f"provider {spec!r} must be written module:Class")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"{spec} is not a labstack Provider")
    return cls
