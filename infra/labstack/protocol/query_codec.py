"""The query protocol (IAM, STS, SNS, ELBv2…): a form of ``Action=…`` in, XML out."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

from botocore.model import OperationModel, ServiceModel, Shape

from labstack.errors import QUERY
from labstack.protocol import shapes
from labstack.protocol.incoming import Incoming

Response = tuple[int, list[tuple[str, str]], bytes]


class QueryCodec:
    """Parses form parameters by the input shape and writes botocore's expected XML."""

    protocol = QUERY

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.namespace = model.metadata.get("xmlNamespace", "")

    def params(self, incoming: Incoming) -> dict[str, str]:
        """The request's parameters: the query string, then a form body."""
        merged = {k: v[-1] for k, v in incoming.query.items()}
        if incoming.content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(incoming.body.decode("utf-8", "replace"), keep_blank_values=True)
            merged.update({k: v[-1] for k, v in form.items()})
        return merged

    def operation_name(self, incoming: Incoming) -> str | None:
        return self.params(incoming).get("Action")

    def parse(self, op_model: OperationModel, incoming: Incoming) -> dict[str, Any]:
        shape = op_model.input_shape
        if shape is None:
            return {}
        return shapes.parse_wire(shape, _read_structure(shape, self.params(incoming), ""))

    def serialize(self, op_model: OperationModel, result: dict[str, Any], request_id: str) -> Response:
        name = op_model.name
        root = ElementTree.Element(f"{name}Response", {"xmlns": self.namespace} if self.namespace else {})
        shape = op_model.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
            _write_members(ElementTree.SubElement(root, wrapper), shape, result)
        metadata = ElementTree.SubElement(root, "ResponseMetadata")
        ElementTree.SubElement(metadata, "RequestId").text = request_id
        body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        return 200, headers, body


def _name(shape: Shape, default: str) -> str:
    return shape.serialization.get("name", default)


def _read(shape: Shape, params: dict[str, str], prefix: str) -> Any:
    """The wire value (JSON-like) of the parameters under ``prefix``."""
    kind = shape.type_name
    if kind == "structure":  # a nested structure the request leaves out stays out (not an empty one)
        return _read_structure(shape, params, prefix) if not prefix or _present(params, prefix) else None
    if kind == "list":
        if params.get(prefix) == "":
            return []
        if shape.serialization.get("flattened"):
            base = prefix
        else:
            base = f"{prefix}.{_name(shape.member, 'member')}"
        items = []
        index = 1
        while _present(params, f"{base}.{index}"):
            items.append(_read(shape.member, params, f"{base}.{index}"))
            index += 1
        return items if items else None
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name, value_name = _name(shape.key, "key"), _name(shape.value, "value")
        result = {}
        index = 1
        while f"{base}.{index}.{key_name}" in params:
            key = params[f"{base}.{index}.{key_name}"]
            result[key] = _read(shape.value, params, f"{base}.{index}.{value_name}")
            index += 1
        return result if result else None
    raw = params.get(prefix)
    return None if raw is None else shapes.typed_text(shape, raw)


def _read_structure(shape: Shape, params: dict[str, str], prefix: str) -> dict[str, Any]:
    out = {}
    for member, member_shape in shape.members.items():
        key = _name(member_shape, member)
        value = _read(member_shape, params, f"{prefix}.{key}" if prefix else key)
        if value is not None:
            out[member] = value
    return out


def _present(params: dict[str, str], prefix: str) -> bool:
    return prefix in params or any(k.startswith(prefix + ".") for k in params)


def _write_members(parent: ElementTree.Element, shape: Shape, value: dict[str, Any]) -> None:
    for member, item in value.items():
        member_shape = shape.members.get(member)
        if item is None or member_shape is None:
            continue
        _write(parent, member_shape, _name(member_shape, member), item)


def _write(parent: ElementTree.Element, shape: Shape, name: str, value: Any) -> None:
    kind = shape.type_name
    if kind == "list":
        if shape.serialization.get("flattened"):
            for item in value:
                _write(parent, shape.member, _name(shape.member, name), item)
            return
        holder = ElementTree.SubElement(parent, name)
        for item in value:
            _write(holder, shape.member, _name(shape.member, "member"), item)
        return
    if kind == "map":
        flattened = shape.serialization.get("flattened")
        holder = parent if flattened else ElementTree.SubElement(parent, name)
        for key, item in value.items():
            entry = ElementTree.SubElement(holder, name if flattened else "entry")
            _write(entry, shape.key, _name(shape.key, "key"), key)
            _write(entry, shape.value, _name(shape.value, "value"), item)
        return
    element = ElementTree.SubElement(parent, name)
    if kind == "structure":
        _write_members(element, shape, value)
    elif kind == "boolean":
        element.text = "true" if value else "false"
    elif kind == "timestamp":
        element.text = _iso(value)
    elif kind == "blob":
        element.text = base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    else:
        element.text = str(value)


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)
