"""The resources' dependency graph: DependsOn plus the implicit references (Ref, Fn::GetAtt, Fn::Sub).

``check`` refuses what CloudFormation refuses before it creates anything (references to nothing, circular
dependencies); ``dependencies`` is the graph the engine walks; ``creation_groups`` the resources that can be
made together, wave by wave; deletion runs the other way round. Built on the standard library's ``graphlib``.

AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/resources-section-structure.html
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any, Iterator

from .intrinsics import function_of, split_get_att, sub_variables
from .template import TemplateError, format_error


def reference_pairs(value: Any, conditions: dict[str, bool] | None = None) -> Iterator[tuple[str, str | None]]:
    """The names a template value refers to: ``(name, None)`` for a Ref or a ``${name}``, ``(name, attribute)``
    for a Fn::GetAtt or a ``${name.attribute}`` (pseudo parameters included; the caller tells them apart). With
    ``conditions``, only the Fn::If branches those conditions choose count."""
    call = function_of(value)
    if call is not None:
        name, argument = call
        if name == "Ref" and isinstance(argument, str):
            yield argument, None
            return
        if name == "Fn::GetAtt":
            try:
                logical_id, attribute = split_get_att(argument)
            except TemplateError:
                return
            if isinstance(logical_id, str):
                yield logical_id, attribute if isinstance(attribute, str) else None
            yield from reference_pairs(attribute, conditions)
            return
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (
                (argument[0], argument[1]) if isinstance(argument, list) and len(argument) == 2 else ("", {}))
            if isinstance(text, str) and isinstance(variables, dict):
                for variable in sub_variables(text):
                    head, _, attribute = variable.partition(".")
                    if head not in variables:
                        yield head, attribute or None
                yield from reference_pairs(variables, conditions)
            return
        if name == "Fn::If" and conditions is not None and isinstance(argument, list) and len(argument) == 3:
            if isinstance(argument[0], str) and argument[0] in conditions:
                yield from reference_pairs(argument[1] if conditions[argument[0]] else argument[2], conditions)
                return
    if isinstance(value, dict):
        for item in value.values():
            yield from reference_pairs(item, conditions)
    elif isinstance(value, list):
        for item in value:
            yield from reference_pairs(item, conditions)


def references(value: Any, conditions: dict[str, bool] | None = None) -> tuple[set[str], set[str]]:
    """(names ``Ref``'d or ``${name}``-substituted, logical ids read with Fn::GetAtt or ``${id.attr}``) in
    ``value``; with ``conditions``, only the Fn::If branches those conditions choose count."""
    refs: set[str] = set()
    atts: set[str] = set()
    for name, attribute in reference_pairs(value, conditions):
        (refs if attribute is None else atts).add(name)
    return refs, atts


def depends_on(resource: dict) -> list[str]:
    """A resource's DependsOn as a list."""
    declared = resource.get("DependsOn")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _active(members: dict, conditions: dict[str, bool] | None) -> dict[str, dict]:
    if conditions is None:
        return dict(members)
    return {name: member for name, member in members.items()
            if "Condition" not in member or conditions.get(member["Condition"], False)}


def active_resources(template: dict, conditions: dict[str, bool] | None = None) -> dict[str, dict]:
    """The resources the stack has: those with no Condition, or whose Condition is true."""
    return _active(template.get("Resources") or {}, conditions)


def active_outputs(template: dict, conditions: dict[str, bool] | None = None) -> dict[str, dict]:
    """The outputs the stack has: those with no Condition, or whose Condition is true."""
    return _active(template.get("Outputs") or {}, conditions)


def _unresolved(names: list[str], block: str) -> TemplateError:
    return format_error(f"Unresolved resource dependencies [{', '.join(names)}] in the {block} block of the template")


def dependencies(template: dict, conditions: dict[str, bool] | None = None) -> dict[str, set[str]]:
    """Resource -> the resources it depends on (DependsOn and implicit references), the active ones only."""
    resources = active_resources(template, conditions)
    graph = {}
    for logical_id, resource in resources.items():
        refs, atts = references(resource, conditions)
        graph[logical_id] = (refs | atts | set(depends_on(resource))) & set(resources)  # itself too: a cycle
    return graph


def check(template: dict, conditions: dict[str, bool] | None = None) -> None:
    """CloudFormation's reference checks: every Ref, Fn::GetAtt, Fn::Sub variable and DependsOn names something
    the template declares, and no dependency is circular; with ``conditions``, then the same among the resources
    and outputs the stack will have."""
    if conditions is not None:
        check(template)
    declared = template.get("Resources") or {}
    resources = active_resources(template, conditions)
    parameters = template.get("Parameters") or {}
    conditions_declared = template.get("Conditions") or {}

    def known(name: str) -> bool:
        return name in resources or name in parameters or name.startswith("AWS::")

    for block in ("Resources", "Outputs"):
        for member in (template.get(block) or {}).values():
            condition = member.get("Condition")
            if condition is not None and condition not in conditions_declared:
                raise format_error(f"Unresolved condition dependencies [{condition}] in the {block} block of the "
                                   "template")
    for block, members in (("Resources", resources), ("Outputs", active_outputs(template, conditions))):
        missing: list[str] = []
        for member in members.values():
            refs, atts = references(member, conditions)
            if block == "Resources":
                refs |= set(depends_on(member))
            for name in sorted(atts):
                if name not in declared:
                    raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {name}")
            missing += [name for name in sorted(refs | atts) if not known(name) and name not in missing]
        if missing:
            raise _unresolved(missing, block)
    order(dependencies(template, conditions))


def order(graph: dict[str, set[str]]) -> list[str]:
    """The creation order of ``graph`` (dependencies first); circular dependencies are CloudFormation's error."""
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        cycle = sorted(set(err.args[1]))
        raise TemplateError(f"Circular dependency between resources: [{', '.join(cycle)}]") from None


def creation_groups(graph: dict[str, set[str]]) -> list[list[str]]:
    """Waves of resources to create: each wave's resources depend only on earlier waves' (so may run together)."""
    order(graph)
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    waves = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        waves.append(ready)
        sorter.done(*ready)
    return waves


def deletion_groups(graph: dict[str, set[str]]) -> list[list[str]]:
    """Waves of resources to delete: dependents before what they depend on (creation's waves reversed)."""
    return list(reversed(creation_groups(graph)))
