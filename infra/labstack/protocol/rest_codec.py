"""The rest-json protocol (Lambda…): the operation is the method and path; members travel
in the URI, the query string, headers and a JSON body (or a raw payload)."""

from __future__ import annotations

import base64
import email.utils
import json
import re
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel, Shape

from labstack.errors import REST_JSON, AwsError
from labstack.protocol import shapes
from labstack.protocol.incoming import Incoming

Response = tuple[int, list[tuple[str, str]], bytes]


def _template_regex(uri: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex for a requestUri's path (``{Name}`` one segment, ``{Name+}`` greedy) and its query literals."""
    path, _, query = uri.partition("?")
    pattern = ""
    for literal, name, greedy in re.findall(r"([^{]*)(?:\{(\w+)(\+?)\})?", path):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
    return re.compile(f"^{pattern}/?$"), [q.split("=")[0] for q in query.split("&") if q]


class RestJsonCodec:
    """Matches, parses and serialises one rest-json service's operations."""

    protocol = REST_JSON

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        routes = []
        for name in model.operation_names:
            op_model = model.operation_model(name)
            http = op_model.http
            regex, literals = _template_regex(http["requestUri"])
            specificity = len(re.sub(r"\{[^}]*\}", "", http["requestUri"]))
            # a header the operation requires tells it from another at the same URI (S3's CopyObject, PutObject)
            shape = op_model.input_shape
            headers = [] if shape is None else [
                shape.members[m].serialization.get("name", m) for m in shape.required_members
                if shape.members[m].serialization.get("location") == "header"]
            # so does a query-string member it requires (S3's AbortMultipartUpload's uploadId, DeleteObject)
            queries = [] if shape is None else [
                shape.members[m].serialization.get("name", m) for m in shape.required_members
                if shape.members[m].serialization.get("location") == "querystring"]
            routes.append((specificity + len(headers) + len(queries), http["method"].upper(), regex, literals,
                           headers, queries, name))
        self._routes = sorted(routes, key=lambda r: -r[0])
        self._by_method: dict[str, list[tuple]] = {}
        for route in self._routes:
            self._by_method.setdefault(route[1], []).append(route)

    def operation_name(self, incoming: Incoming) -> str | None:
        found = self.match(incoming)
        return found[0] if found else None

    def match(self, incoming: Incoming, path: str | None = None) -> tuple[str, dict[str, str]] | None:
        """The operation a request calls, with the URI's labels (``{FunctionName}``…) undecoded; ``path``
        replaces the request's own (an S3 bucket named by the Host)."""
        path = incoming.path if path is None else path
        lacking = None  # the first route that matches but for a required query-string member (a validation error)
        for _specificity, _verb, regex, literals, headers, queries, name in self._by_method.get(incoming.method, ()):
            found = regex.match(path)
            if (found is not None and all(q in incoming.query for q in literals)
                    and all(incoming.header(h) is not None for h in headers)):
                if all(q in incoming.query for q in queries):
                    return name, found.groupdict()
                lacking = lacking or (name, found.groupdict())
        return lacking

    def parse(self, op_model: OperationModel, incoming: Incoming) -> dict[str, Any]:
        shape = op_model.input_shape
        if shape is None:
            return {}
        regex = next(r[2] for r in self._routes if r[-1] == op_model.name)
        labels = {k: unquote(v) for k, v in regex.match(incoming.path).groupdict().items()}  # type: ignore[union-attr]
        payload_member = shape.serialization.get("payload")
        wire: dict[str, Any] = {}
        for member, member_shape in shape.members.items():
            where = member_shape.serialization.get("location")
            name = member_shape.serialization.get("name", member)
            if where == "uri" and name in labels:
                wire[member] = _wire_text(member_shape, labels[name])
            elif where == "querystring" and name in incoming.query:
                found = incoming.query[name]
                wire[member] = _wire_text(member_shape, found if member_shape.type_name == "list" else found[-1])
            elif where == "header" and incoming.header(name) is not None:
                wire[member] = _wire_text(member_shape, incoming.header(name))
            elif where == "headers":
                prefixed = incoming.headers_with_prefix(name)
                if prefixed:
                    wire[member] = prefixed
            elif member == payload_member:
                payload = _wire_payload(member_shape, incoming.body)
                if payload is not None:
                    wire[member] = payload
        if payload_member is None and incoming.body.strip():
            members = shape.members
            body = _json_object(incoming.body)
            wire.update({k: v for k, v in body.items() if k not in members or "location" not in members[k].serialization})
        return shapes.parse_wire(shape, wire)

    def serialize(self, op_model: OperationModel, result: dict[str, Any], request_id: str) -> Response:
        shape = op_model.output_shape
        status = op_model.http.get("responseCode", 200)
        headers = [("x-amzn-RequestId", request_id)]
        body = b""
        if shape is not None:
            payload_member = shape.serialization.get("payload")
            rest: dict[str, Any] = {}
            for member, item in result.items():
                member_shape = shape.members.get(member)
                where = member_shape.serialization.get("location") if member_shape else None
                if item is None:
                    continue
                if where == "statusCode":
                    status = int(item)
                elif where == "header":
                    headers.append((member_shape.serialization.get("name", member), _to_text(member_shape, item)))  # type: ignore[union-attr]
                elif where == "headers":
                    prefix = member_shape.serialization.get("name", "")  # type: ignore[union-attr]
                    headers += [(prefix + k, str(v)) for k, v in item.items()]
                elif member == payload_member:
                    body = self._payload_bytes(member_shape, item)  # type: ignore[arg-type]
                else:
                    rest[member] = item
            if payload_member is None:
                body = json.dumps(shapes.to_wire(shape, rest)).encode()
        content_type = "application/octet-stream" if body and body[:1] not in (b"{", b"[") else "application/json"
        headers += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        return status, headers, body

    @staticmethod
    def _payload_bytes(shape: Shape, value: Any) -> bytes:
        if shape.type_name == "blob":
            return value if isinstance(value, bytes) else str(value).encode()
        if shape.type_name == "string":
            return str(value).encode()
        return json.dumps(shapes.to_wire(shape, value)).encode()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}", 400) from None
    if not isinstance(data, dict):
        raise AwsError("SerializationException", "Request body must be a JSON object", 400)
    return data


def _wire_payload(shape: Shape, body: bytes) -> Any:
    """A payload member as its wire value: blobs base64, strings text, structures JSON."""
    if shape.type_name == "blob":
        return base64.b64encode(body).decode()
    if shape.type_name == "string":
        return body.decode("utf-8", "replace")
    return _json_object(body) if body.strip() else None


def _wire_text(shape: Shape, raw: Any) -> Any:
    """A URI, query or header value as its wire value (HTTP-dates become ISO 8601)."""
    if shape.type_name == "list":
        return [_wire_text(shape.member, item) for item in raw]
    if shape.type_name == "timestamp" and shapes.parse_time(raw) is None:
        try:
            return email.utils.parsedate_to_datetime(raw).isoformat()
        except (TypeError, ValueError):
            return raw
    return shapes.typed_text(shape, raw)


def _to_text(shape: Shape, value: Any) -> str:
    """A header value: HTTP-dates for timestamps, lower-case booleans, base64 JSON values."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp" and hasattr(value, "timetuple"):
        return email.utils.format_datetime(value, usegmt=True) if value.tzinfo else email.utils.format_datetime(value)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode()
    if kind == "blob":
        return base64.b64encode(value).decode()
    return str(value)
