"""One call that readies a template for a stack operation: parameters, conditions, rules and the graph.

The engine calls ``prepare`` at CreateStack, UpdateStack and CreateChangeSet (a ``TemplateError`` there is the
operation's ValidationError answer, before any resource is touched), then walks ``Prepared.waves`` and calls
``Prepared.properties(logical_id)`` for each resource as its turn comes (by then the callbacks can answer Ref and
Fn::GetAtt of the resources made before it), and ``Prepared.outputs()`` at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import graph, parameters
from .conditions import evaluate_conditions
from .intrinsics import Scope, evaluate, pseudo_parameters
from .outputs import evaluate_outputs
from .rules import check_rules
from .template import BODY_LIMIT, load


@dataclass
class Prepared:
    """A template readied for one stack operation."""

    template: dict
    parameters: dict[str, parameters.Resolved]
    conditions: dict[str, bool]
    scope: Scope
    dependencies: dict[str, set[str]] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict]:
        """The resources this stack has (their Condition holds), by logical id."""
        return graph.active_resources(self.template, self.conditions)

    @property
    def waves(self) -> list[list[str]]:
        """Creation waves: each wave's resources depend only on earlier waves'."""
        return graph.creation_groups(self.dependencies)

    def properties(self, logical_id: str) -> dict:
        """A resource's Properties with every intrinsic function evaluated and AWS::NoValue removed."""
        return evaluate(self.template["Resources"][logical_id].get("Properties") or {}, self.scope)

    def outputs(self) -> list[dict]:
        """DescribeStacks' Outputs (OutputKey, OutputValue, Description, ExportName)."""
        return evaluate_outputs(self.template, self.scope)

    def described_parameters(self) -> list[dict]:
        """DescribeStacks' Parameters (NoEcho values masked)."""
        return parameters.describe(self.parameters)


def prepare(template: str | bytes | dict, given: Iterable[dict] = (), *, account: str, region: str,
            stack_name: str, stack_id: str, notification_arns: list[str] | None = None,
            previous: dict[str, str] | None = None, limit: int = BODY_LIMIT,
            ssm: parameters.Ssm | None = None, exists: parameters.Exists | None = None,
            ref: Callable[[str], Any] | None = None, get_att: Callable[[str, str], Any] | None = None,
            import_value: Callable[[str], Any] | None = None,
            azs: Callable[[str], list[str]] | None = None) -> Prepared:
    """Load ``template`` (text, or a dict ``load`` made), resolve the request's Parameters (``previous``: the
    stack's stored values for UsePreviousValue), evaluate Conditions and Rules, check every reference and the
    dependency graph. The callbacks are the engine's: see ``intrinsics.Scope`` and ``parameters.resolve``."""
    document = template if isinstance(template, dict) else load(template, limit=limit)
    resolved = parameters.resolve(document.get("Parameters") or {}, given, previous, ssm=ssm, exists=exists)
    scope = Scope(document, parameters.ref_values(resolved),
                  pseudo_parameters(account, region, stack_name, stack_id, notification_arns),
                  ref=ref, get_att=get_att, import_value=import_value, azs=azs)
    conditions = evaluate_conditions(document, scope)
    check_rules(document, scope)
    graph.check(document, conditions)
    return Prepared(document, resolved, conditions, scope, graph.dependencies(document, conditions))
