"""What an update will do to a stack's resources, as DescribeChangeSet reports it.

Given the stack's current template (its declarations, resolved properties and parameter values) and
the submitted one, :func:`changes` lists AWS's ``Change`` structures: ``Add``/``Modify``/``Remove``, the
``Replacement`` verdict (``True``/``False``/``Conditional``, the most intrusive of the details), the
``Scope`` and one ``Details`` entry per cause (a direct template edit, a changed parameter, a referenced
resource that is replaced or modified), each with ``RequiresRecreation`` from the type's schema
(``schemas``). The shapes and rules follow AWS's examples and reference:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html
"""

from __future__ import annotations

import graphlib
import json
from dataclasses import dataclass, field
from typing import Any

from labstack.services.cloudformation.graph import reference_pairs
from labstack.services.cloudformation.schemas import ALWAYS, CONDITIONALLY, NEVER, type_schema

_POLICIES = ("Metadata", "CreationPolicy", "UpdatePolicy", "DeletionPolicy", "UpdateReplacePolicy")
_IMPACT = {NEVER: 0, CONDITIONALLY: 1, ALWAYS: 2}
_REPLACEMENT = {0: "False", 1: "Conditional", 2: "True"}
NESTED_STACK = "AWS::CloudFormation::Stack"


@dataclass
class Side:
    """One template of a stack as the plan sees it.

    ``declarations``: logical id -> the resource's declaration as written (Type, Properties, Metadata,
    policies), only resources whose Condition holds; ``properties``: logical id -> resolved properties
    (None where they cannot be known before the update runs); ``parameters``: parameter values;
    ``physical_ids``: the current resources' ids (the old side only); ``conditions``: the template's condition
    values (an Fn::If branch not taken refers to nothing).
    """

    declarations: dict[str, dict]
    properties: dict[str, dict | None]
    parameters: dict[str, Any] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] | None = None


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _detail(attribute: str, name: str | None, recreation: str, evaluation: str, source: str,
            causing: str | None = None) -> dict:
    target: dict[str, Any] = {"Attribute": attribute}
    if name is not None:
        target["Name"] = name
    target["RequiresRecreation"] = recreation
    out: dict[str, Any] = {"Target": target, "Evaluation": evaluation, "ChangeSource": source}
    if causing is not None:
        out["CausingEntity"] = causing
    return out


class _Planner:
    def __init__(self, old: Side, new: Side) -> None:
        self.old, self.new = old, new
        self.verdicts: dict[str, str] = {}  # logical id -> Replacement of the resources planned so far

    def order(self) -> list[str]:
        """The new template's resources, each after the resources it refers to."""
        names = self.new.declarations
        graph = {k: {r for r, _ in reference_pairs(d.get("Properties"), self.new.conditions) if r in names and r != k}
                 for k, d in names.items()}
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError:
            return list(names)

    def modify(self, logical: str) -> dict | None:
        old_decl, new_decl = self.old.declarations[logical], self.new.declarations[logical]
        schema = type_schema(new_decl["Type"])
        old_props = self.old.properties.get(logical) or {}
        new_props = self.new.properties.get(logical)
        old_raw, new_raw = old_decl.get("Properties") or {}, new_decl.get("Properties") or {}
        details: list[dict] = []
        impact = 0
        for name in list(dict.fromkeys([*old_raw, *new_raw])):
            raw_before, raw_after = old_raw.get(name), new_raw.get(name)
            before = old_props.get(name)
            after = new_props.get(name) if new_props is not None else raw_after
            attribute, target = ("Tags", None) if name == schema.tag_property else ("Properties", name)
            recreation = schema.recreation(name, before, after) if attribute == "Properties" else NEVER
            found = self._causes(raw_before, raw_after, before, after, new_props is not None)
            for evaluation, source, causing, certain in found:
                details.append(_detail(attribute, target, recreation, evaluation, source, causing))
                level = _IMPACT[recreation]
                impact = max(impact, level if certain or level < 2 else 1)
        for attribute in _POLICIES:
            if not _same(old_decl.get(attribute), new_decl.get(attribute)):
                details.append(_detail(attribute, None, NEVER, "Static", "DirectModification"))
        if not details and new_decl["Type"] == NESTED_STACK:  # its template may have changed
            details.append(_detail("Properties", None, NEVER, "Static", "Automatic"))
        if not details:
            return None
        replacement = _REPLACEMENT[impact]
        self.verdicts[logical] = replacement
        change = {"Action": "Modify", "LogicalResourceId": logical,
                  "PhysicalResourceId": self.old.physical_ids.get(logical), "ResourceType": new_decl["Type"],
                  "Replacement": replacement, "Scope": list(dict.fromkeys(d["Target"]["Attribute"] for d in details)),
                  "Details": details}
        if replacement == "True":
            change["PolicyAction"] = _policy("Replace", new_decl.get("UpdateReplacePolicy"))
        return change

    def _causes(self, raw_before: Any, raw_after: Any, before: Any, after: Any,
                resolved: bool) -> list[tuple[str, str, str | None, bool]]:
        """Why one property changes: (Evaluation, ChangeSource, CausingEntity, certain) per cause."""
        causes: list[tuple[str, str, str | None, bool]] = []
        direct = not _same(raw_before, raw_after)
        names = list(dict.fromkeys(reference_pairs(raw_after, self.new.conditions)))
        params = [n for n, attr in names if attr is None and n in self.new.parameters
                  and n not in self.new.declarations and not _same(self.old.parameters.get(n), self.new.parameters[n])]
        if direct:
            causes.append(("Static", "DirectModification", None, True))
        elif params:
            causes.append(("Dynamic", "DirectModification", None, True))
        causes += [("Static", "ParameterReference", n, True) for n in params if not direct]
        for name, attr in names:
            verdict = self.verdicts.get(name)
            if verdict is None or direct:
                continue
            if attr is None and verdict != "False":
                causes.append(("Dynamic", "ResourceReference", name, verdict == "True"))
            elif attr is not None:
                causes.append(("Dynamic", "ResourceAttribute", f"{name}.{attr}", False))
        if not causes and resolved and not _same(before, after):  # a mapping, an import, a condition's value
            causes.append(("Static", "DirectModification", None, True))
        return causes


def _policy(prefix: str, policy: str | None) -> str:
    kept = {"Retain": "Retain", "Snapshot": "Snapshot"}.get(policy or "", "Delete")
    return f"{prefix}And{kept}" if prefix else kept


def changes(old: Side, new: Side) -> list[dict]:
    """AWS's ``Changes`` for updating a stack from ``old`` to ``new``: Add and Modify in the new template's
    dependency order, then Remove."""
    planner = _Planner(old, new)
    out: list[dict] = []
    for logical in planner.order():
        declared = new.declarations[logical]
        before = old.declarations.get(logical)
        if before is not None and before.get("Type") == declared.get("Type"):
            change = planner.modify(logical)
        else:
            planner.verdicts[logical] = "True"
            change = {"Action": "Add", "LogicalResourceId": logical, "ResourceType": declared["Type"],
                      "Scope": [], "Details": []}
            if before is not None:
                out.append(_removal(old, logical))
        if change is not None:
            out.append({"Type": "Resource", "ResourceChange": {k: v for k, v in change.items() if v is not None}})
    out += [_removal(old, k) for k in old.declarations if k not in new.declarations]
    return out


def _removal(old: Side, logical: str) -> dict:
    declared = old.declarations[logical]
    change = {"Action": "Remove", "LogicalResourceId": logical, "PhysicalResourceId": old.physical_ids.get(logical),
              "ResourceType": declared["Type"], "Scope": [], "Details": [],
              "PolicyAction": _policy("", declared.get("DeletionPolicy"))}
    return {"Type": "Resource", "ResourceChange": {k: v for k, v in change.items() if v is not None}}
