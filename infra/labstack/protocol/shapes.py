"""Check and convert values against botocore shapes.

One walker serves three jobs: validating a request as it arrived on the wire,
turning wire values into Python ones (timestamps, blobs) for providers, and turning
provider results back into wire values. Tests use :func:`problems` on responses too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from typing import Any, Callable

from botocore.model import Shape

from labstack.errors import validation_error

UTC = dt.timezone.utc
# Shapes whose length the model may bound: the Python type they need and the complaint if not.
_SIZED = {
    "list": (list, "Member must be a list"),
    "map": (dict, "Member must be a map"),
    "string": (str, "Member must be a string"),
}


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a model pattern; patterns Python cannot read are not enforced."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return f"'{text[:200]}'"


def _fail(out: list[str], path: str, value: Any, constraint: str) -> None:
    out.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}")


def _check_length(out: list[str], path: str, value: Any, size: int, meta: dict) -> None:
    if "min" in meta and size < meta["min"]:
        _fail(out, path, value, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        _fail(out, path, value, f"Member must have length less than or equal to {meta['max']}")


def problems(shape: Shape | None, value: Any, *, wire: bool = True, strict: bool = False, path: str = "") -> list[str]:
    """Every way ``value`` breaks ``shape``, in AWS's ValidationException wording.

    ``wire`` says the value is JSON as sent (epoch numbers, base64 blobs) rather than
    Python values; ``strict`` also reports members the shape does not define, which
    responses must never contain.
    """
    out: list[str] = []
    if shape is not None:
        _walk(shape, value, path, out, wire, strict)
    return out


def _walk(shape: Shape, value: Any, path: str, out: list[str], wire: bool, strict: bool) -> None:
    kind = shape.type_name
    meta = shape.metadata
    here = path or shape.name
    if kind == "structure":
        if meta.get("document"):
            return
        if not isinstance(value, dict):
            _fail(out, here, value, "Member must be a structure")
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                _fail(out, _join(path, name), None, "Member must not be null")
        for name, item in value.items():
            if name not in members:
                if strict and name != "__type":
                    out.append(f"Member '{_join(path, name)}' is not defined by shape {shape.name}")
                continue
            if item is not None:
                _walk(members[name], item, _join(path, name), out, wire, strict)
        if meta.get("union") and sum(1 for v in value.values() if v is not None) > 1:
            _fail(out, here, value, "Member must have exactly one member set")
    elif kind in _SIZED:
        expected, message = _SIZED[kind]
        if not isinstance(value, expected):
            _fail(out, here, value, message)
            return
        _check_length(out, here, value, len(value), meta)
        if kind == "list":
            for index, item in enumerate(value, start=1):
                if item is not None:
                    _walk(shape.member, item, f"{here}.{index}.member", out, wire, strict)
            return
        if kind == "map":
            for key, item in value.items():
                _walk(shape.key, key, f"{here}.{key}.key", out, wire, strict)
                if item is not None:
                    _walk(shape.value, item, f"{here}.{key}.value", out, wire, strict)
            return
        if shape.enum and value not in shape.enum and value not in _unlisted(shape.name):
            _fail(out, here, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            _fail(out, here, value, f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(out, here, value, "Member must be an integer")
            return
        _check_range(out, here, value, meta)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(out, here, value, "Member must be a number")
            return
        _check_range(out, here, value, meta)
    elif kind == "boolean":
        if not isinstance(value, bool):
            _fail(out, here, value, "Member must be a boolean")
    elif kind == "timestamp":
        ok = isinstance(value, (int, float, str)) and not isinstance(value, bool) if wire else isinstance(value, dt.datetime)
        if not ok or (wire and isinstance(value, str) and parse_time(value) is None):
            _fail(out, here, value, "Member must be a timestamp")
    elif kind == "blob":
        if wire:
            if not isinstance(value, str) or _b64(value) is None:
                _fail(out, here, value, "Member must be base64-encoded binary data")
        elif not isinstance(value, (bytes, bytearray)):
            _fail(out, here, value, "Member must be binary data")
        else:
            _check_length(out, here, value, len(value), meta)


def _check_range(out: list[str], path: str, value: float, meta: dict) -> None:
    if "min" in meta and value < meta["min"]:
        _fail(out, path, value, f"Member must have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        _fail(out, path, value, f"Member must have value less than or equal to {meta['max']}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_time(value: str) -> dt.datetime | None:
    """An ISO 8601 or epoch-seconds string as an aware datetime; None if it is neither."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return dt.datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _convert(shape: Shape | None, value: Any, leaf: Callable[[str, Any], Any], keep_unknown: bool) -> Any:
    """Rebuild ``value`` along ``shape``, passing timestamps and blobs through ``leaf``."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and not shape.metadata.get("document"):
        members = shape.members
        return {
            k: _convert(members.get(k), v, leaf, keep_unknown)
            for k, v in value.items()
            if v is not None and (keep_unknown or k in members)
        }
    if kind == "list":
        return [_convert(shape.member, v, leaf, keep_unknown) for v in value]
    if kind == "map":
        return {k: _convert(shape.value, v, leaf, keep_unknown) for k, v in value.items()}
    if kind in ("timestamp", "blob"):
        return leaf(kind, value)
    return value


def _python_leaf(kind: str, value: Any) -> Any:
    if kind == "blob":
        return _b64(value)
    if isinstance(value, str):
        return parse_time(value)
    return dt.datetime.fromtimestamp(value, UTC)


def _wire_leaf(kind: str, value: Any) -> Any:
    if kind == "blob":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(data).decode()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return round(value.timestamp(), 3)
    return value


def typed_text(shape: Shape, raw: str) -> Any:
    """Text from a form, URI or header as its wire value: numbers and booleans typed.

    Text that does not parse stays text, so validation names the member and the problem.
    """
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("float", "double"):
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def parse_wire(shape: Shape | None, wire: Any) -> Any:
    """Validate a request's wire value against its input shape, then turn it into Python.

    Raises AWS's ValidationException naming every broken constraint.
    """
    found = problems(shape, wire)
    if found:
        raise validation_error(found)
    return from_wire(shape, wire)


def from_wire(shape: Shape | None, value: Any) -> Any:
    """Turn a validated wire value into Python: datetimes and bytes where the shape says."""
    return _convert(shape, value, _python_leaf, keep_unknown=False)


def to_wire(shape: Shape | None, value: Any) -> Any:
    """Turn a provider's Python result into JSON wire values, dropping unset members.

    Members the shape lacks are kept, so the strict response check in tests sees them.
    """
    return _convert(shape, value, _wire_leaf, keep_unknown=True)


def _unlisted(shape_name: str) -> frozenset[str]:
    """Values AWS documents answering although botocore's enum lacks them (``shapecheck.UNLISTED_VALUES``)."""
    from labstack.protocol.shapecheck import UNLISTED_VALUES  # shapecheck imports this module

    return UNLISTED_VALUES.get(shape_name, frozenset())
