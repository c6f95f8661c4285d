"""What CloudFormation's resource type schemas say about each type's properties.

cfn-lint ships AWS's CloudFormation registry schemas (``cfnlint/data/schemas``) and a public loader,
``cfnlint.schema.PROVIDER_SCHEMA_MANAGER``. From a type's schema come: ``createOnlyProperties`` (a change
requires replacement), ``conditionalCreateOnlyProperties`` (it may), ``readOnlyProperties`` (Fn::GetAtt
values), ``writeOnlyProperties`` (never read back, so drift does not compare them),
``primaryIdentifier``, the defaults a schema states and the lists whose order does not matter
(``insertionOrder: false``).

Where AWS's resource reference page states a property's update behaviour differently from the schema,
the page wins (:data:`DOCUMENTED`): CloudFormation's users read the page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

ALWAYS, CONDITIONALLY, NEVER = "Always", "Conditionally", "Never"
"""DescribeChangeSet's RequiresRecreation values."""

_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
DOCUMENTED: dict[str, dict[str, str]] = {
    # "Update requires" as the type's reference page states it, where the registry schema says otherwise.
    # aws-resource-events-rule.html#cfn-events-rule-eventbusname: Replacement (schema: conditional)
    "AWS::Events::Rule": {"EventBusName": ALWAYS},
    # aws-resource-ecs-service.html#cfn-ecs-service-launchtype, #cfn-ecs-service-deploymentcontroller:
    # Replacement (schema: conditional, and updatable)
    "AWS::ECS::Service": {"LaunchType": ALWAYS, "DeploymentController": ALWAYS},
    # aws-resource-kms-key.html (its "Important" note): a change of KeySpec, KeyUsage, Origin or MultiRegion
    # fails the update whatever the UpdateReplacePolicy, so no key is deleted by replacement: the handler's
    # update refuses it (the properties' own lines say Replacement; the note says what happens)
    "AWS::KMS::Key": {"KeySpec": NEVER, "KeyUsage": NEVER, "MultiRegion": NEVER, "Origin": NEVER},
    # aws-resource-lambda-function.html#cfn-lambda-function-packagetype: No interruption (schema: create-only)
    "AWS::Lambda::Function": {"PackageType": NEVER},
    # aws-resource-sns-subscription.html#cfn-sns-subscription-region: No interruption (schema: conditional)
    "AWS::SNS::Subscription": {"Region": NEVER},
}
"""Per type, top-level properties whose reference page (under ``_PAGE``) contradicts the schema."""

Path = tuple[str, ...]


def _paths(pointers: list[str] | None) -> frozenset[Path]:
    """``/properties/A/B`` JSON pointers as ``("A", "B")``."""
    out = set()
    for pointer in pointers or ():
        parts = pointer.split("/")
        if len(parts) > 2 and parts[1] == "properties":
            out.add(tuple(parts[2:]))
    return frozenset(out)


@dataclass(frozen=True)
class TypeSchema:
    """The update-relevant facts of one resource type's schema (empty for a type without one)."""

    type_name: str
    create_only: frozenset[Path] = frozenset()
    conditional: frozenset[Path] = frozenset()
    read_only: frozenset[Path] = frozenset()
    write_only: frozenset[Path] = frozenset()
    primary_identifier: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    properties: frozenset[str] = frozenset()
    tag_property: str | None = None
    unordered: frozenset[Path] = frozenset()  # list properties whose order does not matter (insertionOrder: false)

    def recreation(self, name: str, old: Any, new: Any) -> str:
        """RequiresRecreation for a change of top-level property ``name`` from ``old`` to ``new``
        (None when absent): Always, Conditionally or Never."""
        documented = DOCUMENTED.get(self.type_name, {}).get(name)
        if documented is not None:
            return documented
        if _touches(self.create_only, name, old, new):
            return ALWAYS
        if _touches(self.conditional, name, old, new):
            return CONDITIONALLY
        return NEVER

    def write_only_path(self, path: Path) -> bool:
        """True when ``path`` (property names, list indexes as ``"*"``) is or lies under a write-only property."""
        return any(path[: len(w)] == w for w in self.write_only)


def _touches(paths: frozenset[Path], name: str, old: Any, new: Any) -> bool:
    """Whether the change of ``name`` changes the value at any of ``paths`` rooted at it."""
    for path in paths:
        if path[0] != name:
            continue
        if len(path) == 1 or sorted(map(repr, _at(old, path[1:]))) != sorted(map(repr, _at(new, path[1:]))):
            return True
    return False


def _at(value: Any, path: Path) -> Iterator[Any]:
    """The values at ``path`` under ``value`` (``*`` walks every list item); absent parts yield nothing."""
    if not path:
        yield value
        return
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(value, list):
        for item in value:
            yield from _at(item, rest)
    elif isinstance(value, dict) and head in value:
        yield from _at(value[head], rest)


@functools.lru_cache(maxsize=None)
def type_schema(type_name: str, region: str = "us-east-1") -> TypeSchema:
    """The schema facts of ``type_name``, loaded once (an empty TypeSchema for an unknown or custom type)."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_name).schema
    except ResourceNotFoundError:
        return TypeSchema(type_name)
    props = schema.get("properties") or {}
    tagging = schema.get("tagging") or {}
    tag_pointer = tagging.get("tagProperty", "/properties/Tags" if "Tags" in props else "")
    return TypeSchema(
        type_name=type_name,
        create_only=_paths(schema.get("createOnlyProperties")),
        conditional=_paths(schema.get("conditionalCreateOnlyProperties")),
        read_only=_paths(schema.get("readOnlyProperties")),
        write_only=_paths(schema.get("writeOnlyProperties")),
        primary_identifier=tuple(p.split("/")[-1] for p in schema.get("primaryIdentifier") or ()),
        defaults={k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v},
        properties=frozenset(props),
        tag_property=tag_pointer.split("/")[-1] if tag_pointer else None,
        unordered=frozenset((k,) for k, v in props.items() if isinstance(v, dict) and v.get("insertionOrder") is False),
    )
