"""What the Code* handlers (CodeBuild, CodeCommit, CodeDeploy, CodePipeline, CodeStar Connections) share:
refusing properties labstack cannot honour, tag differences, and telling "already gone" from a failure.

No resource types here (no ``TYPES``): the registry skips this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from labstack.services.cloudformation.resource import HandlerError


def refuse(type_name: str, props: Mapping[str, Any], unsupported: Mapping[str, str]) -> None:
    """HandlerError naming the first property of ``props`` that ``unsupported`` lists (name -> why),
    so a template never has a property silently ignored."""
    for name, why in unsupported.items():
        if props.get(name) not in (None, [], {}):
            raise HandlerError(f"{type_name} property {name} is not supported by labstack: {why}")


def tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """CloudFormation's ``[{Key, Value}]`` tags as a ``{key: value}`` dict."""
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags or ()}


def tag_changes(old: Iterable[Mapping[str, Any]] | None,
                new: Iterable[Mapping[str, Any]] | None) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove) to go from the ``old`` template tags to the ``new`` ones."""
    before, after = tag_map(old), tag_map(new)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    return changed, sorted(before.keys() - after.keys())


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_gone(error: ClientError, *codes: str) -> bool:
    """True when the call failed because the resource does not exist (one of ``codes``)."""
    return error_code(error) in codes


def changed(old: Mapping[str, Any], new: Mapping[str, Any], *names: str) -> bool:
    """Whether any of the properties ``names`` differs between the ``old`` and ``new`` template props."""
    return any(old.get(name) != new.get(name) for name in names)
