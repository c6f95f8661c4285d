"""What several handlers share, on top of ``properties``: tags as CloudFormation applies them, "already
gone" errors, properties AWS has and labstack refuses. (No ``TYPES``: the registry finds no handler here.)"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from labstack.services.cloudformation import properties
from labstack.services.cloudformation.resource import Context, HandlerError

T = TypeVar("T")


def refuse(type_name: str, props: dict, unsupported: Iterable[str]) -> None:
    """HandlerError naming the properties of ``props`` labstack cannot apply for ``type_name`` (never ignored)."""
    found = sorted(name for name in unsupported if props.get(name) is not None)
    if found:
        raise HandlerError(f"labstack does not support {', '.join(found)} of {type_name}", "InvalidRequest")


def key_values(props: dict, name: str = "Tags") -> list[dict]:
    """``props[name]``, a ``[{Key, Value}]`` list (tags, attributes) or, for tags, a ``{k: v}`` map, checked:
    anything else fails the resource naming the property."""
    value = props.get(name)
    if value is None or (name == "Tags" and isinstance(value, dict)):
        return properties.tag_list(value)
    if not isinstance(value, list) or not all(isinstance(item, dict) and "Key" in item for item in value):
        raise HandlerError(f"Value of property {name} must be of type List of {{Key, Value}}")
    return [{"Key": str(item["Key"]), "Value": "" if item.get("Value") is None else str(item["Value"])} for item in value]


def all_tags(ctx: Context, props: dict) -> list[dict]:
    """The template's tags, then the stack's tags and ``aws:cloudformation:*`` ones, as CloudFormation tags
    a resource whose type takes tags (a template tag wins over a stack tag of the same key)."""
    mine = key_values(props)
    keys = {t["Key"] for t in mine}
    return mine + [t for t in ctx.stack_tags() if t["Key"] not in keys]


def tag_changes(old: dict, new: dict) -> tuple[list[dict], list[str]]:
    """(tags to set as ``[{Key, Value}]``, keys to remove) between two templates' ``Tags``."""
    added, removed = properties.tag_changes(key_values(old), key_values(new))
    return properties.tag_list(added), removed


def user_tags(tags: Iterable[dict] | None, key: str = "Key", value: str = "Value") -> list[dict]:
    """Live tags in template form, without the ``aws:`` ones CloudFormation added."""
    return [{"Key": t[key], "Value": t[value]} for t in tags or [] if not str(t[key]).startswith("aws:")]


def gone(error: ClientError, *codes: str) -> bool:
    """Whether ``error`` says the resource does not exist (one of ``codes``, or a 404)."""
    return properties.error_code(error) in codes or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


def unless_gone(call: Callable[[], T], *codes: str) -> T | None:
    """``call()``'s answer, or None when the call says the resource does not exist (see ``gone``): a read of
    a deleted resource, or a deletion of one already gone."""
    try:
        return call()
    except ClientError as error:
        if gone(error, *codes):
            return None
        raise


def delete_when_free(ctx: Context, call: Callable[[], Any], missing: Iterable[str], busy: Iterable[str],
                     lab_seconds: float, what: str) -> None:
    """``call()`` (a deletion) until it succeeds or says the resource is gone (``missing``); while it answers
    one of ``busy`` (a dependency still being released), it is tried again, as CloudFormation does, for up to
    ``lab_seconds``; then the service's last refusal fails the resource."""
    missing, busy = tuple(missing), tuple(busy)
    refused: list[ClientError] = []

    def attempt() -> bool:
        try:
            call()
        except ClientError as error:
            if gone(error, *missing):
                return True
            if properties.error_code(error) not in busy:
                raise
            refused[:] = [error]
            return False
        return True

    try:
        ctx.wait(attempt, lab_seconds, what)
    except HandlerError:
        if refused:
            raise refused[0] from None
        raise


def integer(value: Any) -> int:
    """A port or count a template may give as a string (``!Ref`` of a Number parameter)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HandlerError(f"Value {value!r} is not an integer", "InvalidRequest") from None
