"""A stack's template with its values: what the engine reads while it walks the resources.

It binds the template language (``intrinsics``, ``conditions``, ``graph``, ``parameters``) to one stack: its
parameter values and pseudo parameters, the conditions' results, the resources the stack has, their
properties evaluated against what the stack's resources answer for Ref and Fn::GetAtt, and its outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labstack.services.cloudformation import graph, parameters
from labstack.services.cloudformation.conditions import evaluate_conditions
from labstack.services.cloudformation.outputs import evaluate_outputs
from labstack.services.cloudformation.intrinsics import Scope, evaluate, function_of, pseudo_parameters
from labstack.services.cloudformation.stacks import Stack, StackResource
from labstack.services.cloudformation.template import TemplateError


class Document:
    """One template bound to one stack's parameter values; ``held`` (the stack's resources) answers Ref
    and Fn::GetAtt. ``imported`` collects the exports its evaluation read."""

    def __init__(self, template: dict, resolved: dict[str, parameters.Resolved], stack: Stack,
                 export_value: Callable[[str], str | None], azs: Callable[[str], list[str]] | None = None) -> None:
        self.template = template
        self.stack = stack
        self.imported: set[str] = set()
        self._export_value = export_value
        self._held: dict[str, StackResource] = {}
        self.scope = Scope(template, parameters=parameters.ref_values(resolved),
                           pseudo=pseudo_parameters(stack.account, stack.region, stack.name, stack.stack_id,
                                                    stack.notification_arns),
                           ref=self._ref, get_att=self._get_att, import_value=self._import, azs=azs)
        self.conditions = evaluate_conditions(template, self.scope)
        self.resources = graph.active_resources(template, self.conditions)

    def graph(self) -> dict[str, set[str]]:
        """Resource -> the resources it depends on (the stack's active resources only)."""
        return graph.dependencies(self.template, self.conditions)

    def properties(self, logical_id: str, held: dict[str, StackResource]) -> dict:
        """The resource's Properties, evaluated (AWS::NoValue removed)."""
        self._held = held
        value = evaluate(self.resources[logical_id].get("Properties") or {}, self.scope)
        if not isinstance(value, dict):
            raise TemplateError(f"Template error: the Properties of {logical_id} must be a JSON object")
        return value

    def outputs(self, held: dict[str, StackResource]) -> list[dict]:
        """DescribeStacks' Outputs: each active output's value (lists joined with commas) and export name."""
        self._held = held
        return evaluate_outputs(self.template, self.scope)

    def deletion_policy(self, logical_id: str) -> str:
        """The resource's DeletionPolicy (Delete when it states none)."""
        return str((self.template.get("Resources") or {}).get(logical_id, {}).get("DeletionPolicy", "Delete"))

    def update_replace_policy(self, logical_id: str) -> str:
        """The resource's UpdateReplacePolicy (Delete when it states none)."""
        return str((self.template.get("Resources") or {}).get(logical_id, {}).get("UpdateReplacePolicy", "Delete"))

    def _ref(self, logical_id: str) -> Any:
        held = self._held.get(logical_id)
        if held is None or held.physical_id is None:
            raise TemplateError(f"Template error: resource {logical_id} has not been created")
        return held.ref_value()

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        held = self._held.get(logical_id)
        if held is None or held.physical_id is None:
            raise TemplateError(f"Template error: resource {logical_id} has not been created")
        if attribute not in held.attributes:
            raise TemplateError(f"Template error: resource {logical_id} does not support attribute type {attribute} "
                                "in Fn::GetAtt")
        return held.attributes[attribute]

    def _import(self, name: str) -> str:
        value = self._export_value(name)
        if value is None:
            raise TemplateError(f"No export named {name} found.")
        self.imported.add(name)
        return value


def static_imports(template: dict, resolved: dict[str, parameters.Resolved], stack: Stack) -> list[str]:
    """The export names a template imports that are known before any resource exists (AWS resolves them at
    CreateStack and UpdateStack; ImportValue may not depend on a resource)."""
    scope = Scope(template, parameters=parameters.ref_values(resolved),
                  pseudo=pseudo_parameters(stack.account, stack.region, stack.name, stack.stack_id))
    try:
        scope.conditions = evaluate_conditions(template, scope)
    except TemplateError:
        return []
    names: list[str] = []

    def walk(value: Any) -> None:
        call = function_of(value)
        if call is not None and call[0] == "Fn::ImportValue":
            try:
                name = evaluate(call[1], scope)
            except TemplateError:
                return
            if isinstance(name, str) and name not in names:
                names.append(name)
            return
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(graph.active_resources(template, scope.conditions))
    walk(graph.active_outputs(template, scope.conditions))
    return names

