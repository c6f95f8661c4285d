"""A template's Parameters: their declared types and constraints, and the values a stack operation gives them.

``resolve`` turns the request's ``Parameters`` (with ``UsePreviousValue`` on update) into each parameter's value,
checked against its declaration with CloudFormation's messages; ``ref_values`` is what ``Ref`` returns for each
(a string, or a list for the list types); ``describe`` is DescribeStacks' Parameters list (``****`` for NoEcho);
``summary`` is ValidateTemplate's and GetTemplateSummary's declaration lists.

AWS's page: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/parameters-section-structure.html
(the same text: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..codebuild.patterns import PatternError, compile_pattern
from .template import format_error, TemplateError

PATTERN_SECONDS = 0.5
"""How long one AllowedPattern match may run: a pattern that backtracks catastrophically is stopped, not left to
hang labstack (AWS documents no such limit)."""
MASK = "****"
"""What DescribeStacks shows for a NoEcho parameter's value."""

AWS_TYPES = ("AWS::EC2::AvailabilityZone::Name", "AWS::EC2::Image::Id", "AWS::EC2::Instance::Id",
             "AWS::EC2::KeyPair::KeyName", "AWS::EC2::SecurityGroup::GroupName", "AWS::EC2::SecurityGroup::Id",
             "AWS::EC2::Subnet::Id", "AWS::EC2::Volume::Id", "AWS::EC2::VPC::Id", "AWS::Route53::HostedZone::Id")
"""AWS-specific parameter types: the value is an existing resource's name or id."""
AWS_LIST_TYPES = tuple(f"List<{name}>" for name in AWS_TYPES if name != "AWS::EC2::KeyPair::KeyName")
SSM_PREFIX = "AWS::SSM::Parameter::Value<"

Ssm = Callable[[str], "str | None"]
"""The engine's SSM reader: a Systems Manager parameter's value by name, None when it does not exist."""
Exists = Callable[[str, str], bool]
"""The engine's check that an AWS-specific parameter's value names an existing resource: (type, value) -> bool."""


@dataclass(frozen=True)
class ParameterType:
    """A declared Type, decomposed: the base type, whether Ref gives a list, and whether SSM supplies it."""

    name: str
    base: str          # String, Number, or an AWS-specific type name
    is_list: bool
    from_ssm: bool


def parse_type(name: Any) -> ParameterType:
    """Decompose a parameter Type, or TemplateError ``Unrecognized parameter type: X``."""
    if not isinstance(name, str):
        raise format_error(f"Unrecognized parameter type: {name}")
    inner, from_ssm = name, False
    if name.startswith(SSM_PREFIX) and name.endswith(">"):
        inner, from_ssm = name[len(SSM_PREFIX):-1], True
    if name == "AWS::SSM::Parameter::Name":
        return ParameterType(name, "String", False, False)
    if inner in ("String", "Number") and not (from_ssm and inner == "Number"):
        return ParameterType(name, inner, False, from_ssm)
    if inner in ("CommaDelimitedList", "List<String>") and (from_ssm or inner == "CommaDelimitedList"):
        return ParameterType(name, "String", True, from_ssm)
    if inner == "List<Number>" and not from_ssm:
        return ParameterType(name, "Number", True, False)
    if inner in AWS_TYPES:
        return ParameterType(name, inner, False, from_ssm)
    if inner in AWS_LIST_TYPES:
        return ParameterType(name, inner[len("List<"):-1], True, from_ssm)
    raise format_error(f"Unrecognized parameter type: {name}")


def check_declaration(name: str, declaration: dict) -> None:
    """Check one Parameters member: its Type, and numbers where numbers are declared."""
    if "Type" not in declaration:
        raise format_error("Every Parameters object must contain a Type member.")
    parse_type(declaration["Type"])
    for key in ("MinLength", "MaxLength", "MinValue", "MaxValue"):
        if key in declaration and _number(declaration[key]) is None:
            raise format_error(f"Parameter '{name}' {key} must be a number.")
    allowed = declaration.get("AllowedValues")
    if allowed is not None and not isinstance(allowed, list):
        raise format_error(f"Parameter '{name}' AllowedValues must be a list.")
    if declaration.get("AllowedPattern") is not None:
        _pattern(name, declaration["AllowedPattern"])


def _pattern(name: str, pattern: Any) -> Any:
    """A parameter's AllowedPattern compiled (with the ``regex`` package, whose matches take a time limit)."""
    try:
        return compile_pattern(str(pattern))
    except PatternError:
        raise TemplateError(f"Parameter '{name}' AllowedPattern must be a valid regular expression.") from None


@dataclass
class Resolved:
    """One parameter's value for a stack operation."""

    key: str
    type: ParameterType
    value: str                  # as given (or the Default): what DescribeStacks shows, unless NoEcho
    no_echo: bool
    resolved: str | None = None  # the SSM parameter's value, for the AWS::SSM::Parameter::Value<...> types

    @property
    def ref(self) -> str | list[str]:
        """What ``Ref`` returns: a string, or a list of strings for the list types (members space-trimmed)."""
        text = self.resolved if self.type.from_ssm else self.value
        assert text is not None
        if self.type.is_list:
            return [item.strip() for item in text.split(",")] if text != "" else []
        return text


def _text(value: Any) -> str:
    """A template or request value as CloudFormation's text (YAML's true -> "true", a list -> "a,b")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _no_echo(declaration: dict) -> bool:
    return _text(declaration.get("NoEcho", False)).lower() == "true"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _shown(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def resolve(declared: dict, given: Iterable[dict] = (), previous: dict[str, str] | None = None, *,
            ssm: Ssm | None = None, exists: Exists | None = None) -> dict[str, Resolved]:
    """Each declared parameter's value, from ``given`` (the request's Parameters list), the Default, or
    ``previous`` (the stack's last values, for ``UsePreviousValue``); checked against its constraints.

    ``ssm`` reads Systems Manager for the ``AWS::SSM::Parameter::Value<...>`` types; ``exists`` checks the
    AWS-specific types (when the engine passes it). Errors are CloudFormation's ValidationErrors.
    """
    values: dict[str, str] = {}
    for item in given:
        key = item.get("ParameterKey")
        if key is None:
            continue
        if item.get("UsePreviousValue"):
            if item.get("ParameterValue") not in (None, ""):
                raise TemplateError(f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as "
                                    "true and non empty value for a parameter")
            if previous is None or key not in previous:
                raise TemplateError(f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as "
                                    "true for a parameter key not in the previous template")
            values[key] = previous[key]
        else:
            values[key] = _text(item.get("ParameterValue", ""))
    unknown = [key for key in values if key not in declared]
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [name for name, declaration in declared.items()
               if name not in values and "Default" not in declaration]
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    resolved: dict[str, Resolved] = {}
    for name, declaration in declared.items():
        kind = parse_type(declaration["Type"])
        value = values[name] if name in values else _text(declaration["Default"])
        _check_value(name, kind, value, declaration)
        parameter = Resolved(name, kind, value, _no_echo(declaration))
        if kind.from_ssm:
            parameter.resolved = _read_ssm(value, ssm)
        if exists is not None and kind.base in AWS_TYPES:
            items = parameter.ref if kind.is_list else [parameter.ref]
            for item in items:
                if item and not exists(kind.base, str(item)):
                    raise TemplateError(f"Parameter validation failed: parameter value {item} for parameter name "
                                        f"{name} does not exist.")
        resolved[name] = parameter
    return resolved


def _read_ssm(name: str, ssm: Ssm | None) -> str:
    value = ssm(name) if ssm is not None else None
    if value is None:
        raise TemplateError(f"Unable to fetch parameters [{name}] from parameter store for this account.")
    return value


def _check_value(name: str, kind: ParameterType, value: str, declaration: dict) -> None:
    """Check a value against AllowedValues, AllowedPattern, Min/MaxLength, Min/MaxValue and the type."""
    described = declaration.get("ConstraintDescription")

    def fail(reason: str) -> TemplateError:
        if described is not None:
            return TemplateError(f"Parameter '{name}' failed to satisfy constraint: {_text(described)}")
        return TemplateError(f"Parameter '{name}' {reason}")

    items = [item.strip() for item in value.split(",")] if kind.is_list and not kind.from_ssm else [value]
    allowed = declaration.get("AllowedValues")
    if allowed is not None:
        texts = [_text(option) for option in allowed]
        if any(item not in texts for item in items):
            raise TemplateError(f"Parameter '{name}' must be one of AllowedValues")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None:
        compiled = _pattern(name, pattern)
        for item in items:
            try:
                matched = compiled.fullmatch(item, timeout=PATTERN_SECONDS) is not None
            except TimeoutError:
                raise TemplateError(f"Parameter '{name}' could not be matched against AllowedPattern {pattern} within "
                                    f"{PATTERN_SECONDS} s; labstack stops patterns that backtrack catastrophically"
                                    ) from None
            if not matched:
                raise fail(f"must match pattern {pattern}")
    if kind.base == "Number" and not kind.from_ssm:
        for item in items:
            number = _number(item)
            if number is None:
                raise fail("must be a number")
            low, high = _number(declaration.get("MinValue")), _number(declaration.get("MaxValue"))
            if low is not None and number < low:
                raise fail(f"must be a number not less than {_shown(low)}")
            if high is not None and number > high:
                raise fail(f"must be a number not greater than {_shown(high)}")
    if kind.base == "String" and not kind.is_list:
        low, high = _number(declaration.get("MinLength")), _number(declaration.get("MaxLength"))
        if low is not None and len(value) < low:
            raise fail(f"must contain at least {_shown(low)} characters")
        if high is not None and len(value) > high:
            raise fail(f"must contain at most {_shown(high)} characters")


def ref_values(resolved: dict[str, Resolved]) -> dict[str, Any]:
    """Parameter name -> what ``Ref`` returns for it."""
    return {name: parameter.ref for name, parameter in resolved.items()}


def stored_values(resolved: dict[str, Resolved]) -> dict[str, str]:
    """Parameter name -> the value as given: what the engine keeps for a later ``UsePreviousValue``."""
    return {name: parameter.value for name, parameter in resolved.items()}


def describe(resolved: dict[str, Resolved]) -> list[dict]:
    """DescribeStacks' ``Parameters``: NoEcho values masked, SSM types with their ``ResolvedValue``."""
    described = []
    for name, parameter in resolved.items():
        entry: dict[str, Any] = {"ParameterKey": name, "ParameterValue": MASK if parameter.no_echo else parameter.value}
        if parameter.type.from_ssm:
            entry["ResolvedValue"] = MASK if parameter.no_echo else parameter.resolved
        described.append(entry)
    return described


def summary(declared: dict) -> list[dict]:
    """ValidateTemplate's ``Parameters``: key, default, NoEcho and description of each declared parameter."""
    listed = []
    for name, declaration in declared.items():
        entry: dict[str, Any] = {"ParameterKey": name, "NoEcho": _no_echo(declaration)}
        if "Default" in declaration:
            entry["DefaultValue"] = _text(declaration["Default"])
        if "Description" in declaration:
            entry["Description"] = _text(declaration["Description"])
        listed.append(entry)
    return listed


def declarations(declared: dict) -> list[dict]:
    """GetTemplateSummary's ``Parameters`` (ParameterDeclaration): summary plus Type and constraints."""
    listed = []
    for entry in summary(declared):
        declaration = declared[entry["ParameterKey"]]
        entry["ParameterType"] = declaration["Type"]
        allowed = declaration.get("AllowedValues")
        if allowed is not None:
            entry["ParameterConstraints"] = {"AllowedValues": [_text(option) for option in allowed]}
        listed.append(entry)
    return listed
