"""CloudFormation properties <-> a service API's shapes, driven by botocore's service models.

A handler turns its resolved properties (PascalCase, as the template wrote them) into an API call's
parameters with :func:`to_api`, and an API description back into template form with :func:`from_api`
(for ``read()``, so drift compares like with like). Member names are matched case-insensitively and
recursively; values are coerced to what the model says a member is (CloudFormation passes many
scalars as strings: ``"true"``, ``"5"``), JSON objects become the JSON text a string member holds (an
IAM policy document, an event pattern), and the two tag forms (``[{Key, Value}]`` lists and ``{k: v}``
maps) are turned into whichever the shape wants. A property the API has no member for is refused,
naming its path, as CloudFormation refuses unsupported properties.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from botocore.model import Shape

from labstack.protocol.models import operations, service_model
from labstack.services.cloudformation.resource import HandlerError

_KIND_NAMES = {"structure": "Object", "list": "List", "map": "Object", "boolean": "Boolean", "integer": "Integer",
               "long": "Integer", "float": "Number", "double": "Number", "string": "String"}


def to_api(service: str, operation: str, props: dict, *, drop: Iterable[str] = (),
           rename: dict[str, str] | None = None) -> dict:
    """``props`` (CloudFormation names) as the parameters of ``service``'s ``operation`` (botocore names).

    ``drop`` and ``rename`` take property paths without list indexes (``"Triggers"``,
    ``"Stages.Actions.Namespace"``); ``rename`` maps such a path to the API member's name. An
    unknown property or a value of the wrong type raises :class:`HandlerError` naming its path.
    """
    shape = operations(service)[operation].input_shape
    if shape is None:
        return {}
    walk = _ToApi(set(drop), dict(rename or {}))
    return walk.structure(shape, props or {}, "", "")


def from_api(service: str, shape_name: str, data: dict, like: dict, *, rename: dict[str, str] | None = None) -> dict:
    """API data of shape ``shape_name`` back in template form, guided by ``like`` (the template's props).

    Only properties ``like`` names are returned (what the API adds on its own, the template never set);
    list items beyond ``like``'s take their names from the model (``key`` -> ``Key``). Scalars come back
    in the form ``like`` holds them (``"true"`` stays a string, a policy document a dict).
    """
    shape = service_model(service).shape_for(shape_name)
    return _back(shape, data, like, "", dict(rename or {}))


def _members(shape: Shape) -> dict[str, str]:
    """The structure's member names by their lower-case form."""
    return {name.lower(): name for name in shape.members}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _ToApi:
    """One conversion: the dropped and renamed property paths, and the walk."""

    def __init__(self, drop: set[str], rename: dict[str, str]) -> None:
        self.drop = drop
        self.rename = rename

    def value(self, shape: Shape, value: Any, path: str, names: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if shape.metadata.get("document"):
                return value
            return self.structure(shape, value, path, names)
        if kind == "list":
            return self.list(shape, value, path, names)
        if kind == "map":
            return self.map(shape, value, path, names)
        return _scalar(kind, value, path)

    def structure(self, shape: Shape, value: Any, path: str, names: str) -> dict:
        if not isinstance(value, dict):
            raise _wrong_type(path, "structure")
        members = _members(shape)
        out: dict[str, Any] = {}
        for key, item in value.items():
            here, named = _join(path, key), _join(names, key)
            if named in self.drop or item is None:
                continue
            target = self.rename.get(named, key)
            member = members.get(target.lower())
            if member is None:
                raise HandlerError(f"Encountered unsupported property {here}")
            out[member] = self.value(shape.members[member], item, here, named)
        return out

    def list(self, shape: Shape, value: Any, path: str, names: str) -> list:
        if isinstance(value, dict) and shape.member.type_name == "structure":
            value = _map_as_pairs(shape.member, value, path)
            return [self.value(shape.member, item, f"{path}[{i}]", names) for i, item in enumerate(value)]
        if not isinstance(value, list):
            raise _wrong_type(path, "list")
        return [self.value(shape.member, item, f"{path}[{i}]", names) for i, item in enumerate(value)]

    def map(self, shape: Shape, value: Any, path: str, names: str) -> dict:
        if isinstance(value, list):
            value = dict(_pair(item, f"{path}[{i}]") for i, item in enumerate(value))
        if not isinstance(value, dict):
            raise _wrong_type(path, "map")
        return {str(key): self.value(shape.value, item, f"{path}.{key}", names) for key, item in value.items()}


def _wrong_type(path: str, kind: str) -> HandlerError:
    return HandlerError(f"Value of property {path} must be of type {_KIND_NAMES.get(kind, kind)}")


def _map_as_pairs(member: Shape, value: dict, path: str) -> list[dict]:
    """A ``{k: v}`` map for a list of two-member structures (``[{Key, Value}]``-like)."""
    names = _members(member)
    key = names.get("key") or names.get("name")
    rest = [name for name in member.members if name != key]
    val = names.get("value") or (rest[0] if len(rest) == 1 else None)
    if key is None or val is None:
        raise _wrong_type(path, "list")
    return [{key: k, val: v} for k, v in value.items()]


def _pair(item: Any, path: str) -> tuple[str, Any]:
    """One ``(key, value)`` of a map written as a list: ``{Key, Value}``, or two entries of which one
    alone is a string (``{Region, ArtifactStore}``)."""
    if isinstance(item, dict):
        lower = {k.lower(): v for k, v in item.items()}
        if set(lower) == {"key", "value"}:
            return str(lower["key"]), lower["value"]
        strings = [k for k, v in item.items() if isinstance(v, str)]
        if len(item) == 2 and len(strings) == 1:
            other = next(k for k in item if k != strings[0])
            return item[strings[0]], item[other]
    raise _wrong_type(path, "map")


def _as_text(value: Any) -> str | None:
    """A value as the text a string member holds: booleans as ``true``/``false``, numbers as written,
    objects and lists as JSON; None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return None


def _scalar(kind: str, value: Any, path: str) -> Any:
    """A scalar coerced to the member's kind, as CloudFormation coerces property values."""
    if kind == "string":
        text = _as_text(value)
        if text is not None:
            return text
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind in ("integer", "long"):
        if isinstance(value, bool):
            raise _wrong_type(path, kind)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif kind in ("float", "double"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
    else:  # timestamps and blobs: botocore takes strings (and bytes) as they are
        return value
    raise _wrong_type(path, kind)


def _template_name(api_name: str) -> str:
    return api_name[:1].upper() + api_name[1:]


def _back(shape: Shape, data: Any, like: Any, names: str, rename: dict[str, str]) -> Any:
    kind = shape.type_name
    if data is None:
        return None
    if kind == "structure" and not shape.metadata.get("document") and isinstance(data, dict):
        if not isinstance(like, dict):
            return {_template_name(k): _back(shape.members[k], v, None, _join(names, _template_name(k)), rename)
                    for k, v in data.items() if k in shape.members and v is not None}
        members = _members(shape)
        out: dict[str, Any] = {}
        for key, wanted in like.items():
            named = _join(names, key)
            member = members.get(rename.get(named, key).lower())
            if member is not None and data.get(member) is not None:
                out[key] = _back(shape.members[member], data[member], wanted, named, rename)
        return out
    if kind == "list" and isinstance(data, list):
        if isinstance(like, dict) and shape.member.type_name == "structure":
            return dict(_pair(_back(shape.member, item, None, names, rename), names) for item in data)
        guides = like if isinstance(like, list) else []
        return [_back(shape.member, item, guides[i] if i < len(guides) else (guides[0] if guides else None),
                      names, rename) for i, item in enumerate(data)]
    if kind == "map" and isinstance(data, dict):
        if isinstance(like, list):
            key, val = _pair_names(like)
            return [{key: k, val: _back(shape.value, v, None, names, rename)} for k, v in data.items()]
        guide = like if isinstance(like, dict) else {}
        return {k: _back(shape.value, v, guide.get(k), names, rename) for k, v in data.items()}
    return _like(data, like)


def _pair_names(like: list) -> tuple[str, str]:
    """The entry names a template's list-form map uses (``Key``/``Value`` unless it shows others)."""
    first = like[0] if like and isinstance(like[0], dict) else {}
    strings = [k for k, v in first.items() if isinstance(v, str)]
    if len(first) == 2 and {k.lower() for k in first} != {"key", "value"} and len(strings) == 1:
        return strings[0], next(k for k in first if k != strings[0])
    return "Key", "Value"


def _like(value: Any, like: Any) -> Any:
    """An API scalar in the form the template wrote it (a string for a string, a dict for JSON text)."""
    if isinstance(like, (dict, list)) and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(like, str) and not isinstance(value, str):
        text = _as_text(value)
        return value if text is None else text
    if isinstance(like, bool) and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(like, (int, float)) and not isinstance(like, bool) and isinstance(value, str):
        try:
            return type(like)(value)
        except ValueError:
            return value
    return value
