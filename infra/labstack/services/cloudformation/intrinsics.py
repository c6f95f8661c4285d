"""CloudFormation's intrinsic functions, condition functions and pseudo parameters, evaluated on a template's values.

The engine builds a ``Scope`` per stack operation (parameters, pseudo parameters, conditions, and callbacks for
what only it knows: a resource's Ref and attributes, an export's value, a region's Availability Zones) and calls
``evaluate`` on a resource's Properties or an output's Value. ``AWS::NoValue`` removes the property or list item
that holds it. Faults are ``TemplateError`` (ValidationError) with CloudFormation's ``Template error: ...`` words.

AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .template import FUNCTIONS, TemplateError, transforms

NO_VALUE = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()
"""What ``Ref: AWS::NoValue`` evaluates to; ``evaluate`` drops it from the mappings and lists holding it."""

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
"""The transform that adds Fn::Length, Fn::ToJsonString and Fn::FindInMap's DefaultValue (labstack evaluates them
itself): https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-languageextensions.html"""

OUTPUT_BUDGET = 16 * 1024 * 1024
"""Characters the text functions (Fn::Join, Fn::Sub, Fn::Split, Fn::Base64, Fn::ToJsonString) may make in one
stack operation's evaluation: a template that joins its own joins (a few hundred bytes can describe gigabytes) is
refused instead of exhausting labstack's memory. AWS documents no such number; legitimate templates stay far below."""

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def partition(region: str) -> str:
    """AWS::Partition for a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def url_suffix(region: str) -> str:
    """AWS::URLSuffix for a region."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def pseudo_parameters(account: str, region: str, stack_name: str, stack_id: str,
                      notification_arns: list[str] | None = None) -> dict[str, Any]:
    """The pseudo parameters' values for a stack (AWS::NoValue is handled by ``evaluate`` itself)."""
    return {
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Partition": partition(region),
        "AWS::URLSuffix": url_suffix(region),
        "AWS::NotificationARNs": list(notification_arns or []),
    }


@dataclass
class Scope:
    """What intrinsic functions read: the template, the parameters' Ref values, the pseudo parameters, the
    conditions' results, and the engine's callbacks.

    ``ref(logical_id)`` is a resource's Ref value; ``get_att(logical_id, attribute)`` its attribute;
    ``import_value(name)`` an export's value; ``azs(region)`` a region's Availability Zone names. A callback the
    engine leaves None makes the function that needs it fail with a clear TemplateError.
    """

    template: dict
    parameters: dict[str, Any] = field(default_factory=dict)
    pseudo: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    ref: Callable[[str], Any] | None = None
    get_att: Callable[[str, str], Any] | None = None
    import_value: Callable[[str], Any] | None = None
    azs: Callable[[str], list[str]] | None = None
    budget: int = OUTPUT_BUDGET  # characters the text functions may still make (see OUTPUT_BUDGET)

    @property
    def resources(self) -> dict:
        """The template's resources (all of them: a Ref to one whose Condition is false is the engine's to refuse)."""
        return self.template.get("Resources") or {}


def function_of(value: Any) -> tuple[str, Any] | None:
    """(name, argument) when ``value`` is an intrinsic function call (a one-key mapping), else None."""
    if isinstance(value, dict) and len(value) == 1:
        name, argument = next(iter(value.items()))
        if name in FUNCTIONS:
            return name, argument
    return None


def evaluate(value: Any, scope: Scope) -> Any:
    """``value`` with every intrinsic function evaluated and ``AWS::NoValue`` removed from its containers."""
    call = function_of(value)
    if call is not None:
        name, argument = call
        return _FUNCTIONS[name](argument, scope)
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            evaluated = evaluate(item, scope)
            if evaluated is not NO_VALUE:
                result[key] = evaluated
        return result
    if isinstance(value, list):
        return [item for item in (evaluate(item, scope) for item in value) if item is not NO_VALUE]
    return value


def _error(message: str) -> TemplateError:
    return TemplateError(f"Template error: {message}")


def _needs_language_extensions(function: str, scope: Scope) -> None:
    if LANGUAGE_EXTENSIONS not in transforms(scope.template):
        raise TemplateError(f"Template format error: {function} needs the {LANGUAGE_EXTENSIONS} transform in the "
                            "template's Transform section")


def _spend(scope: Scope, characters: int, function: str) -> None:
    """Charge text a function is about to make to the scope's budget, refusing it past OUTPUT_BUDGET."""
    scope.budget -= characters
    if scope.budget < 0:
        raise _error(f"{function} makes more text than labstack evaluates for one stack operation "
                     f"({OUTPUT_BUDGET} characters in all)")


def _string(value: Any, function: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise _error(f"every {function} object requires string values, not {type(value).__name__}")


def _ref(name: Any, scope: Scope) -> Any:
    if not isinstance(name, str):
        raise _error("Ref requires a string: the logical name of a parameter or resource, or a pseudo parameter")
    if name == "AWS::NoValue":
        return NO_VALUE
    if name in scope.parameters:
        return scope.parameters[name]
    if name in scope.pseudo:
        return scope.pseudo[name]
    if name in scope.resources:
        if scope.ref is None:
            raise _error(f"Ref to resource {name} cannot be evaluated here")
        return scope.ref(name)
    raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}] in the Resources block "
                        "of the template")


def split_get_att(argument: Any) -> tuple[Any, Any]:
    """Fn::GetAtt's (logical id, attribute): the list form, or the ``Resource.Attribute`` string form."""
    if isinstance(argument, str) and "." in argument:
        logical_id, attribute = argument.split(".", 1)
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2:
        return argument[0], argument[1]
    raise _error("every Fn::GetAtt object requires two non-empty parameters")


def _get_att(argument: Any, scope: Scope) -> Any:
    logical_id, attribute = split_get_att(argument)
    attribute = evaluate(attribute, scope)
    if not isinstance(logical_id, str) or not isinstance(attribute, str) or not logical_id or not attribute:
        raise _error("every Fn::GetAtt object requires two non-empty parameters")
    if logical_id not in scope.resources:
        raise _error(f"instance of Fn::GetAtt references undefined resource {logical_id}")
    if scope.get_att is None:
        raise _error(f"Fn::GetAtt of {logical_id}.{attribute} cannot be evaluated here")
    return scope.get_att(logical_id, attribute)


def sub_variables(template: str) -> list[str]:
    """The ``${...}`` variable names of an Fn::Sub string (``${!Literal}`` escapes excluded)."""
    return [name.strip() for name in _SUB_VARIABLE.findall(template) if not name.startswith("!")]


def _sub(argument: Any, scope: Scope) -> str:
    if isinstance(argument, str):
        text, variables = argument, {}
    elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
        text, variables = argument[0], {key: evaluate(item, scope) for key, item in argument[1].items()}
    else:
        raise _error("Fn::Sub expects a string, or a list of a string and a map of variables")
    if not isinstance(text, str):
        raise _error("the first element of Fn::Sub must be a string")

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        name = name.strip()
        if name in variables:
            value = variables[name]
        elif "." in name and name.split(".", 1)[0] in scope.resources:
            value = _get_att(name, scope)
        else:
            value = _ref(name, scope)
        if isinstance(value, list):
            raise _error(f"Fn::Sub variable {name} is a list; Fn::Sub substitutes strings only")
        piece = _string(value, "Fn::Sub")
        _spend(scope, len(piece), "Fn::Sub")
        return piece

    _spend(scope, len(text), "Fn::Sub")
    return _SUB_VARIABLE.sub(replace, text)


def _join(argument: Any, scope: Scope) -> str:
    problem = _error("every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of "
                     "strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to "
                     "be joined.")
    if not isinstance(argument, list) or len(argument) != 2:
        raise problem
    delimiter, items = argument[0], evaluate(argument[1], scope)
    if not isinstance(delimiter, str) or not isinstance(items, list):
        raise problem
    texts = [_string(item, "Fn::Join") for item in items]
    _spend(scope, sum(map(len, texts)) + len(delimiter) * max(len(texts) - 1, 0), "Fn::Join")
    return delimiter.join(texts)


def _select(argument: Any, scope: Scope) -> Any:
    if not isinstance(argument, list) or len(argument) != 2:
        raise _error("Fn::Select requires a list of two elements: an index and a list of objects")
    index, items = evaluate(argument[0], scope), evaluate(argument[1], scope)
    try:
        position = int(str(index))
    except ValueError:
        raise _error("Fn::Select requires an integer index") from None
    if not isinstance(items, list):
        raise _error("the second element of Fn::Select must be a list")
    if not 0 <= position < len(items):
        raise _error(f"Fn::Select cannot select nonexistent value at index {position}")
    return items[position]


def _split(argument: Any, scope: Scope) -> list[str]:
    if not isinstance(argument, list) or len(argument) != 2 or not isinstance(argument[0], str):
        raise _error("Fn::Split requires a list of two elements: a delimiter and a string")
    source = _string(evaluate(argument[1], scope), "Fn::Split")
    _spend(scope, len(source), "Fn::Split")
    return source.split(argument[0]) if argument[0] else [source]


def condition_value(name: Any, scope: Scope, where: str) -> bool:
    """A named condition's result, or TemplateError when the Conditions section does not declare it."""
    if not isinstance(name, str) or name not in scope.conditions:
        raise _error(f"unresolved condition dependency {name} in {where}")
    return scope.conditions[name]


def _if(argument: Any, scope: Scope) -> Any:
    if not isinstance(argument, list) or len(argument) != 3:
        raise _error("Fn::If requires a list argument with three elements")
    chosen = argument[1] if condition_value(argument[0], scope, "Fn::If") else argument[2]
    return evaluate(chosen, scope)


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _equals(argument: Any, scope: Scope) -> bool:
    if not isinstance(argument, list) or len(argument) != 2:
        raise _error("Fn::Equals requires a list of two values to compare")
    left, right = (_scalar_text(evaluate(item, scope)) for item in argument)
    return left == right


def _boolean(value: Any, scope: Scope, function: str) -> bool:
    result = evaluate(value, scope)
    if isinstance(result, bool):
        return result
    if isinstance(result, str) and result.lower() in ("true", "false"):
        return result.lower() == "true"
    raise _error(f"{function} requires condition functions or condition names as its arguments")


def _and(argument: Any, scope: Scope) -> bool:
    if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
        raise _error("Fn::And requires a list of 2 to 10 conditions")
    return all([_boolean(item, scope, "Fn::And") for item in argument])


def _or(argument: Any, scope: Scope) -> bool:
    if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
        raise _error("Fn::Or requires a list of 2 to 10 conditions")
    return any([_boolean(item, scope, "Fn::Or") for item in argument])


def _not(argument: Any, scope: Scope) -> bool:
    if not isinstance(argument, list) or len(argument) != 1:
        raise _error("Fn::Not requires a list of exactly one condition")
    return not _boolean(argument[0], scope, "Fn::Not")


def _condition(argument: Any, scope: Scope) -> bool:
    return condition_value(argument, scope, "Condition")


def _find_in_map(argument: Any, scope: Scope) -> Any:
    if not isinstance(argument, list) or len(argument) not in (3, 4):
        raise _error("Fn::FindInMap requires a list of a map name, a top-level key and a second-level key")
    names = [evaluate(item, scope) for item in argument[:3]]
    default = None
    if len(argument) == 4:
        _needs_language_extensions("Fn::FindInMap's DefaultValue", scope)
        if not isinstance(argument[3], dict) or set(argument[3]) != {"DefaultValue"}:
            raise _error("the fourth element of Fn::FindInMap must be a map with one key, DefaultValue")
        default = argument[3]
    for name in names:
        if not isinstance(name, (str, int, float)) or isinstance(name, bool):
            raise _error("every Fn::FindInMap key must be a string")
    map_name, top, second = (str(name) for name in names)
    mapping = (scope.template.get("Mappings") or {}).get(map_name)
    if mapping is None:
        if default is not None:
            return evaluate(default["DefaultValue"], scope)
        raise _error(f"Unable to get mapping for {map_name}::{top}::{second}")
    try:
        return mapping[top][second]
    except (KeyError, TypeError):
        if default is not None:
            return evaluate(default["DefaultValue"], scope)
        raise _error(f"Unable to get mapping for {map_name}::{top}::{second}") from None


def _import_value(argument: Any, scope: Scope) -> Any:
    name = evaluate(argument, scope)
    if not isinstance(name, str):
        raise _error("Fn::ImportValue requires the name of an export, a string")
    if scope.import_value is None:
        raise _error(f"Fn::ImportValue of {name} cannot be evaluated here")
    return scope.import_value(name)


def _get_azs(argument: Any, scope: Scope) -> list[str]:
    region = evaluate(argument, scope)
    if not isinstance(region, str):
        raise _error("Fn::GetAZs requires a region name, a string")
    if scope.azs is None:
        raise _error("Fn::GetAZs cannot be evaluated here")
    return list(scope.azs(region or scope.pseudo.get("AWS::Region", "")))


def _base64(argument: Any, scope: Scope) -> str:
    data = _string(evaluate(argument, scope), "Fn::Base64").encode()
    _spend(scope, (len(data) + 2) // 3 * 4, "Fn::Base64")
    return base64.b64encode(data).decode()


def _cidr(argument: Any, scope: Scope) -> list[str]:
    if not isinstance(argument, list) or len(argument) not in (2, 3):
        raise _error("Fn::Cidr requires a list of an address block, a count and the subnet's host bits")
    values = [evaluate(item, scope) for item in argument]
    try:
        network = ipaddress.ip_network(_string(values[0], "Fn::Cidr"), strict=False)
        count = int(str(values[1]))
        bits = int(str(values[2])) if len(values) == 3 else None
    except ValueError as err:
        raise _error(f"Fn::Cidr: {err}") from None
    if bits is None:
        raise _error("Fn::Cidr requires the subnet's host bits (cidrBits)")
    prefix = network.max_prefixlen - bits
    if not 1 <= count <= 256 or not network.prefixlen <= prefix <= network.max_prefixlen:
        raise _error(f"Fn::Cidr cannot make {count} subnets of {bits} host bits from {network}")
    subnets = []
    for subnet in network.subnets(new_prefix=prefix):
        subnets.append(str(subnet))
        if len(subnets) == count:
            return subnets
    raise _error(f"Fn::Cidr cannot make {count} subnets of {bits} host bits from {network}")


def _length(argument: Any, scope: Scope) -> int:
    _needs_language_extensions("Fn::Length", scope)
    items = evaluate(argument, scope)
    if not isinstance(items, list):
        raise _error("Fn::Length requires a list")
    return len(items)


def _to_json_string(argument: Any, scope: Scope) -> str:
    _needs_language_extensions("Fn::ToJsonString", scope)
    value = evaluate(argument, scope)
    if not isinstance(value, (dict, list)):
        raise _error("Fn::ToJsonString requires an object or a list")
    text = json.dumps(value, separators=(",", ":"))
    _spend(scope, len(text), "Fn::ToJsonString")
    return text


def _transform(argument: Any, scope: Scope) -> Any:
    raise _error("Fn::Transform (macros) is not supported by labstack")


_FUNCTIONS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref, "Condition": _condition, "Fn::GetAtt": _get_att, "Fn::Sub": _sub, "Fn::Join": _join,
    "Fn::Select": _select, "Fn::Split": _split, "Fn::If": _if, "Fn::Equals": _equals, "Fn::And": _and,
    "Fn::Or": _or, "Fn::Not": _not, "Fn::FindInMap": _find_in_map, "Fn::ImportValue": _import_value,
    "Fn::GetAZs": _get_azs, "Fn::Base64": _base64, "Fn::Cidr": _cidr, "Fn::Length": _length,
    "Fn::ToJsonString": _to_json_string, "Fn::Transform": _transform,
}
