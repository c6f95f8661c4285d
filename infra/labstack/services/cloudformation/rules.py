"""A template's Rules section: assertions on the parameter values, checked before any resource is made.

A rule whose RuleCondition holds must have every Assert true; a false one fails the operation with the
assertion's AssertDescription. The rule functions are Fn::And, Fn::Or, Fn::Not, Fn::Equals, Fn::If, Ref and the
rule-only Fn::Contains, Fn::EachMemberEquals and Fn::EachMemberIn. Fn::RefAll, Fn::ValueOf and Fn::ValueOfAll
(which read the account's EC2 resources) are refused as unsupported.

AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/rules-section-structure.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html
"""

from __future__ import annotations

from typing import Any

from .intrinsics import Scope, evaluate
from .template import TemplateError, format_error

UNSUPPORTED = ("Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll")


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item) for item in items]


def _two(argument: Any, scope: Scope, function: str) -> tuple[Any, Any]:
    if not isinstance(argument, list) or len(argument) != 2:
        raise TemplateError(f"Template error: {function} requires a list of two elements")
    return evaluate(_rule_functions(argument[0], scope), scope), evaluate(_rule_functions(argument[1], scope), scope)


def _rule_functions(value: Any, scope: Scope) -> Any:
    """``value`` with the rule-only functions replaced by their results, for ``evaluate`` to finish."""
    if isinstance(value, dict) and len(value) == 1:
        name, argument = next(iter(value.items()))
        if name == "Fn::Contains":
            items, wanted = _two(argument, scope, name)
            return str(wanted) in _strings(items)
        if name == "Fn::EachMemberEquals":
            items, wanted = _two(argument, scope, name)
            return all(item == str(wanted) for item in _strings(items))
        if name == "Fn::EachMemberIn":
            items, allowed = _two(argument, scope, name)
            return set(_strings(items)) <= set(_strings(allowed))
        if name in UNSUPPORTED:
            raise TemplateError(f"Template error: labstack does not support {name} in Rules")
    if isinstance(value, dict):
        return {key: _rule_functions(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [_rule_functions(item, scope) for item in value]
    return value


def _holds(expression: Any, scope: Scope, rule: str) -> bool:
    result = evaluate(_rule_functions(expression, scope), scope)
    if isinstance(result, str) and result.lower() in ("true", "false"):
        return result.lower() == "true"
    if not isinstance(result, bool):
        raise TemplateError(f"Template error: every Assert and RuleCondition of rule {rule} must evaluate to a "
                            "boolean")
    return result


def check_rules(template: dict, scope: Scope) -> None:
    """Check every rule of the template against the parameter values in ``scope``."""
    for name, rule in (template.get("Rules") or {}).items():
        if not isinstance(rule, dict) or not isinstance(rule.get("Assertions"), list):
            raise format_error(f"Every Rules member must contain an Assertions list (rule {name})")
        if "RuleCondition" in rule and not _holds(rule["RuleCondition"], scope, name):
            continue
        for assertion in rule["Assertions"]:
            if not isinstance(assertion, dict) or "Assert" not in assertion:
                raise format_error(f"Every Assertions member must contain an Assert (rule {name})")
            if not _holds(assertion["Assert"], scope, name):
                description = assertion.get("AssertDescription")
                raise TemplateError(str(description) if description is not None
                                    else f"Template error: assertion of rule {name} failed")
