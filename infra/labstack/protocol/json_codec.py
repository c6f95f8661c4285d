"""The JSON 1.0/1.1 protocol: ``X-Amz-Target: Prefix.Operation`` and a JSON body."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, ServiceModel

from labstack.errors import JSON, AwsError
from labstack.protocol import shapes
from labstack.protocol.incoming import Incoming

Response = tuple[int, list[tuple[str, str]], bytes]
_JSON_TYPES = ("application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json")


class JsonCodec:
    """Parses and serialises one service's JSON-protocol operations."""

    protocol = JSON

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.json_version = model.metadata.get("jsonVersion", "1.0")
        self.content_type = f"application/x-amz-json-{self.json_version}"

    def operation_name(self, incoming: Incoming) -> str | None:
        target = incoming.header("X-Amz-Target") or ""
        prefix, _, operation = target.rpartition(".")
        return operation if prefix == self.model.metadata.get("targetPrefix") else None

    def parse(self, op_model: OperationModel, incoming: Incoming) -> dict[str, Any]:
        kind = incoming.content_type.split(";")[0].strip().lower()
        if kind not in _JSON_TYPES:
            raise AwsError(
                "UnsupportedMediaTypeException",
                f"Content-Type must be {self.content_type}, not {incoming.content_type or 'empty'}",
                415,
            )
        body = incoming.body
        try:
            data = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}", 400) from None
        if not isinstance(data, dict):
            raise AwsError("SerializationException", "Request body must be a JSON object", 400)
        return shapes.parse_wire(op_model.input_shape, data)

    def serialize(self, op_model: OperationModel, result: dict[str, Any], request_id: str) -> Response:
        payload = json.dumps(shapes.to_wire(op_model.output_shape, result)).encode()
        headers = [
            ("Content-Type", self.content_type),
            ("x-amzn-RequestId", request_id),
            ("Content-Length", str(len(payload))),
        ]
        return 200, headers, payload
