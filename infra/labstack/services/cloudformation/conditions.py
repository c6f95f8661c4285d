"""A template's Conditions section, evaluated once per stack operation from the parameters' values.

A condition may use Fn::Equals, Fn::And, Fn::Or, Fn::Not, Fn::If, Fn::FindInMap, Ref to parameters and pseudo
parameters, and other conditions by name (``Condition``); never a resource.

AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/conditions-section-structure.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any

from .intrinsics import Scope, evaluate, function_of
from .template import TemplateError, format_error, nodes


def _names_used(value: Any, found: dict[str, set[str]]) -> None:
    """Collect the condition names (key "conditions") and Ref names (key "refs") a condition uses."""
    for node in nodes(value):
        call = function_of(node)
        if call is None:
            continue
        name, argument = call
        if name in ("Condition", "Ref") and isinstance(argument, str):
            found["conditions" if name == "Condition" else "refs"].add(argument)
        elif name == "Fn::If" and isinstance(argument, list) and argument and isinstance(argument[0], str):
            found["conditions"].add(argument[0])


def check_conditions(template: dict) -> None:
    """Static checks: no condition refers to a resource, an undeclared name, or (through others) to itself."""
    declared = template.get("Conditions") or {}
    resources = template.get("Resources") or {}
    parameters = template.get("Parameters") or {}
    uses: dict[str, set[str]] = {}
    for name, body in declared.items():
        found: dict[str, set[str]] = {"conditions": set(), "refs": set()}
        _names_used(body, found)
        on_resources = sorted(ref for ref in found["refs"] if ref in resources)
        if on_resources:
            raise format_error(f"Unresolved dependencies [{', '.join(on_resources)}]. Cannot reference resources "
                               "in the Conditions block of the template")
        unknown = sorted(ref for ref in found["refs"] if ref not in parameters and not ref.startswith("AWS::"))
        if unknown:
            raise format_error(f"Unresolved resource dependencies [{', '.join(unknown)}] in the Conditions block "
                               "of the template")
        missing = sorted(condition for condition in found["conditions"] if condition not in declared)
        if missing:
            raise format_error(f"Unresolved condition dependencies [{', '.join(missing)}] in the Conditions block "
                               "of the template")
        uses[name] = found["conditions"]
    _check_acyclic(uses)


def _check_acyclic(uses: dict[str, set[str]]) -> None:
    try:
        tuple(TopologicalSorter(uses).static_order())
    except CycleError as err:
        cycle = sorted(set(err.args[1]))
        raise TemplateError(f"Template error: Circular dependency between conditions: [{', '.join(cycle)}]") from None


def evaluate_conditions(template: dict, scope: Scope) -> dict[str, bool]:
    """Each declared condition's result (``scope`` carries the parameters and pseudo parameters)."""
    declared = template.get("Conditions") or {}
    check_conditions(template)
    results: dict[str, bool] = {}
    scope.conditions = results

    def result(name: str) -> bool:
        if name not in results:
            found: dict[str, set[str]] = {"conditions": set(), "refs": set()}
            _names_used(declared[name], found)
            for needed in found["conditions"]:
                result(needed)
            value = evaluate(declared[name], scope)
            if not isinstance(value, bool):
                raise TemplateError(f"Template error: condition {name} must evaluate to true or false; use "
                                    "Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition")
            results[name] = value
        return results[name]

    for name in declared:
        result(name)
    return results
