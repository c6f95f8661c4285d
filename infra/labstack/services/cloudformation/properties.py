"""Small helpers the resource handlers share: refusing properties a handler does not make, tolerating
a resource already gone, tag changes, JSON documents, ARNs.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Collection, Iterator
from typing import Any

from botocore.exceptions import ClientError
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

from labstack.services.cloudformation.resource import Context, HandlerError


def only(type_name: str, props: dict, supported: Collection[str], ctx: Context | None = None) -> None:
    """Refuse, naming them, the properties of ``props`` this handler does not make (never ignore one); with
    ``ctx`` (a resource's own properties, not a nested part's), also a missing property the type's schema
    requires, in CloudFormation's words."""
    if not isinstance(props, dict):
        raise HandlerError(f"Value of {type_name} must be of type Object")
    if ctx is not None:
        missing = [key for key in _required(type_name) if props.get(key) in (None, "", [], {})]
        if missing:
            raise HandlerError(f"Properties validation failed for resource {ctx.logical_id} with message: "
                               f"#: required key [{missing[0]}] not found")
        kinds = _kinds(type_name)
        for key, value in props.items():
            kind = kinds.get(key)
            if (kind == "array" and not isinstance(value, list)) or (kind == "object" and not isinstance(value, dict)):
                raise HandlerError(f"Value of property {{/{key}}} must be of type {'List' if kind == 'array' else 'Object'}")
    unknown = sorted(key for key in props if key not in supported)
    if unknown:
        raise HandlerError(f"labstack's {type_name} does not support the propert{'y' if len(unknown) == 1 else 'ies'} "
                           f"{', '.join(unknown)}; supported: {', '.join(sorted(supported))}")


@functools.lru_cache(maxsize=None)
def _required(type_name: str) -> tuple[str, ...]:
    """The top-level properties ``type_name``'s registry schema requires (cfn-lint ships the schemas)."""
    try:
        return tuple(PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema.get("required") or ())
    except ResourceNotFoundError:
        return ()


@functools.lru_cache(maxsize=None)
def _kinds(type_name: str) -> dict[str, str]:
    """The JSON type (``array``, ``object``) of each top-level property whose schema states one plainly."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema
    except ResourceNotFoundError:
        return {}
    out = {}
    for name, spec in (schema.get("properties") or {}).items():
        if isinstance(spec, dict) and "$ref" in spec:
            spec = (schema.get("definitions") or {}).get(spec["$ref"].rpartition("/")[2], {})
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind in ("array", "object"):
            out[name] = kind
    return out


def pick(props: dict, *keys: str) -> dict:
    """The entries of ``props`` named ``keys`` that are present."""
    return {key: props[key] for key in keys if key in props}


def changed(old: dict, new: dict, *keys: str) -> bool:
    """True when any of ``keys`` differs between ``old`` and ``new`` (absent counts as a value)."""
    return any(old.get(key) != new.get(key) for key in keys)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a client error."""
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def gone_ok(*codes: str) -> Iterator[None]:
    """Swallow a ClientError whose code is one of ``codes`` (the resource is already gone)."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) not in codes:
            raise


def document(value: Any) -> str:
    """A JSON document (a policy, an event pattern) as the text the APIs take."""
    return value if isinstance(value, str) else json.dumps(value)


def parsed(value: Any) -> Any:
    """JSON text as the object a template writes (anything else as it is)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def tag_map(tags: Any) -> dict[str, str]:
    """CloudFormation tags (``[{Key, Value}]`` or a ``{k: v}`` map) as a map."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or []}


def tag_list(tags: Any) -> list[dict[str, str]]:
    """CloudFormation tags as ``[{Key, Value}]``."""
    return [{"Key": k, "Value": v} for k, v in tag_map(tags).items()]


def tag_changes(old: Any, new: Any) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove) that turn ``old`` into ``new``."""
    before, after = tag_map(old), tag_map(new)
    return ({k: v for k, v in after.items() if before.get(k) != v}, [k for k in before if k not in after])


def retag(old: dict, new: dict, untag: Callable[[list[str]], Any], tag: Callable[[dict[str, str]], Any]) -> None:
    """Apply a change of the ``Tags`` property: ``untag(keys)`` for the keys gone, ``tag(tags)`` (a map) for
    the new and changed ones."""
    put, remove = tag_changes(old.get("Tags"), new.get("Tags"))
    if remove:
        untag(remove)
    if put:
        tag(put)


def arn(ctx: Context, service: str, resource: str, region: bool = True, account: bool = True) -> str:
    """An ARN in the stack's partition (and region and account, unless the service's ARNs omit them)."""
    return f"arn:{ctx.partition}:{service}:{ctx.region if region else ''}:{ctx.account if account else ''}:{resource}"


def url_suffix(ctx: Context) -> str:
    """The partition's domain (AWS::URLSuffix)."""
    return "amazonaws.com.cn" if ctx.partition == "aws-cn" else "amazonaws.com"


def without_empty(data: dict) -> dict:
    """``data`` without None, empty lists and empty maps (what a template would not write)."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}
