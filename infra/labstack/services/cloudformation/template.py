"""Loading a CloudFormation template: JSON or YAML (with the short-form tags), bounded, and its structure checked.

``load`` is what CreateStack, UpdateStack, CreateChangeSet, ValidateTemplate and GetTemplateSummary call on a
template's text: it parses (YAML through cfn-lint's decoder, which turns ``!Ref``, ``!GetAtt a.b``, ``!Sub`` ...
into their long forms), refuses what CloudFormation refuses (YAML aliases, a body over the size limits) and what
would hurt labstack (nesting deeper than ``MAX_DEPTH``), and checks the sections as CloudFormation does before it
looks at parameter values. Every refusal is a ``TemplateError``: AWS's ``ValidationError`` with AWS's wording.

AWS's pages: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-formats.html (formats),
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html (sections),
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html (limits).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, Iterator

import yaml
from cfnlint.decode import cfn_yaml

from ...errors import AwsError

BODY_LIMIT = 51_200
"""Bytes of a TemplateBody passed in a request (AWS's quota)."""
URL_LIMIT = 1_048_576
"""Bytes of a template read from S3 through TemplateURL (AWS's quota: 1 MB)."""
MAX_DEPTH = 64
"""Nesting depth of a template's values labstack accepts (AWS documents none; it bounds labstack's recursion)."""

VERSION = "2010-09-09"
SECTIONS = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
            "Conditions", "Transform", "Resources", "Outputs")
RESOURCE_ATTRIBUTES = ("Type", "Properties", "DependsOn", "Metadata", "Condition", "DeletionPolicy",
                       "UpdatePolicy", "UpdateReplacePolicy", "CreationPolicy", "Version")
LIMITS = {"Parameters": 200, "Resources": 500, "Outputs": 200, "Mappings": 200}
"""AWS's per-template quotas (cloudformation-limits.html)."""
DESCRIPTION_LIMIT = 1024
FUNCTIONS = ("Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If",
             "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Fn::FindInMap", "Fn::ImportValue", "Fn::GetAZs",
             "Fn::Base64", "Fn::Cidr", "Fn::Length", "Fn::ToJsonString", "Fn::Transform")
"""The intrinsic and condition functions (``intrinsics`` evaluates them)."""
RULE_FUNCTIONS = ("Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::RefAll", "Fn::ValueOf",
                  "Fn::ValueOfAll")
"""The functions only the Rules section may use (``rules`` evaluates them)."""

_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")


class TemplateError(AwsError):
    """The template (or a value given for it) is invalid: CloudFormation's ``ValidationError``, HTTP 400."""

    def __init__(self, message: str) -> None:
        super().__init__("ValidationError", message, 400)


def format_error(detail: str) -> TemplateError:
    """A ``Template format error: <detail>`` ValidationError, as CloudFormation words structural faults."""
    return TemplateError(f"Template format error: {detail}")


def parse(text: str | bytes, *, limit: int = BODY_LIMIT) -> dict:
    """Parse a template's text (JSON, else YAML with short-form tags) into plain dicts, lists and scalars.

    ``limit`` is ``BODY_LIMIT`` for a TemplateBody and ``URL_LIMIT`` for a template read through TemplateURL.
    YAML aliases are refused (CloudFormation does not resolve them), so an alias bomb never expands.
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if len(raw) > limit:
        if limit == BODY_LIMIT:
            raise TemplateError("1 validation error detected: Value at 'templateBody' failed to satisfy "
                                f"constraint: Member must have length less than or equal to {BODY_LIMIT}")
        raise TemplateError(f"Template may not exceed {limit} bytes in size.")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise format_error("the template is not valid UTF-8 text") from None
    if not source.strip():
        raise format_error("the template is empty.")
    if source.lstrip().startswith("{"):
        document = _parse_json(source)
    else:
        document = _parse_yaml(source)
    return _plain(document)


def _parse_json(source: str) -> Any:
    """JSON first, as CloudFormation reads a template; text that is not JSON may still be YAML (a flow mapping)."""
    try:
        return json.loads(source)
    except json.JSONDecodeError as err:
        problem = format_error(f"JSON not well-formed. (line {err.lineno},  column {err.colno})")
    except RecursionError:
        raise format_error(f"JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:  # a number Python will not convert (thousands of digits)
        raise format_error(f"JSON not well-formed. {err}") from None
    try:
        return _parse_yaml(source)
    except TemplateError:
        raise problem from None


def _parse_yaml(source: str) -> Any:
    if "*" in source and _has_alias(source):
        raise TemplateError("Template error: YAML aliases are not allowed in CloudFormation templates")
    try:
        return cfn_yaml.loads(source)
    except cfn_yaml.CfnParseError as err:  # cfn-lint's own findings (a duplicate key, ...), before its base class
        raise format_error(f"YAML not well-formed. {err.matches[0].message}") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise format_error(f"YAML not well-formed.{where}") from None
    except yaml.YAMLError:
        raise format_error("YAML not well-formed.") from None


def _has_alias(source: str) -> bool:
    try:
        return any(isinstance(token, yaml.AliasToken) for token in yaml.scan(source, Loader=cfn_yaml.FastLoader))
    except yaml.YAMLError:
        return False  # the parser reports the syntax error with its position


def _plain(value: Any, depth: int = 0) -> Any:
    """Copy a decoded document into builtin types (cfn-lint's nodes carry marks), bounding its depth."""
    if depth > MAX_DEPTH:
        raise format_error(f"the template nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {str(_plain(key, depth + 1)): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()  # YAML reads an unquoted 2010-09-09 as a date; CloudFormation keeps the text
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def load(text: str | bytes, *, limit: int = BODY_LIMIT) -> dict:
    """Parse ``text`` and check its structure; the template as a dict, or a ``TemplateError``."""
    template = parse(text, limit=limit)
    check_structure(template)
    return template


def check_structure(template: Any) -> None:
    """CloudFormation's structural checks on a parsed template (sections, resources, parameters, outputs)."""
    if not isinstance(template, dict):
        raise format_error("unsupported structure.")
    unknown = [key for key in template if key not in SECTIONS]
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    version = template.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != VERSION:
        raise format_error("unsupported value for AWSTemplateFormatVersion.")
    description = template.get("Description")
    if description is not None:
        if not isinstance(description, str):
            raise format_error("Every Description member must be a string.")
        if len(description.encode()) > DESCRIPTION_LIMIT:
            raise format_error(f"Description must be no longer than {DESCRIPTION_LIMIT} bytes.")
    for section in ("Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Outputs"):
        if section in template and not isinstance(template[section], dict):
            raise format_error(f"{section} section must be a JSON object.")
    for section, limit in LIMITS.items():
        count = len(template.get(section) or {})
        if count > limit:
            raise format_error(f"Number of {section.lower()}, {count}, is greater than maximum allowed, {limit}")
    _check_resources(template.get("Resources"))
    _check_parameters(template.get("Parameters") or {})
    _check_mappings(template.get("Mappings") or {})
    _check_outputs(template.get("Outputs") or {})
    for section in ("Conditions", "Resources", "Outputs"):
        _check_functions(template.get(section), FUNCTIONS)
    _check_functions(template.get("Rules"), FUNCTIONS + RULE_FUNCTIONS)


def nodes(value: Any) -> Iterator[Any]:
    """Every value inside ``value`` (``value`` first), depth first, without recursion."""
    pending = [value]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, dict):
            pending.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            pending.extend(reversed(node))


AWS_LISTED_FUNCTIONS = ("Fn::Base64", "Fn::GetAtt", "Fn::GetAZs", "Fn::ImportValue", "Fn::Join", "Fn::Split",
                        "Fn::FindInMap", "Fn::Select", "Ref", "Fn::Equals", "Fn::If", "Fn::Not", "Condition", "Fn::And",
                        "Fn::Or", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::ValueOf",
                        "Fn::ValueOfAll", "Fn::RefAll", "Fn::Sub", "Fn::Cidr")
"""The functions CloudFormation names, in its order, when it refuses one it does not know."""


def _check_functions(value: Any, known: tuple[str, ...]) -> None:
    """Refuse a one-key ``Fn::*`` mapping naming no function CloudFormation has (``!Foo`` reads as ``Fn::Foo``;
    the prefix is matched in any case, as CloudFormation does), and a rule function outside the Rules section."""
    for node in nodes(value):
        if isinstance(node, dict) and len(node) == 1:
            name = next(iter(node))
            if not name.lower().startswith("fn::") or name in known:
                continue
            if name in RULE_FUNCTIONS:
                raise format_error(f"{name} can only be used in the Rules section")
            raise TemplateError(f"Template Error: Encountered unsupported function: {name} Supported functions are: "
                                f"[{', '.join(AWS_LISTED_FUNCTIONS)}]")


def _check_resources(resources: Any) -> None:
    if not resources:
        raise format_error("At least one Resources member must be defined.")
    if not isinstance(resources, dict):
        raise format_error("Resources section must be a JSON object.")
    for logical_id, resource in resources.items():
        if not _LOGICAL_ID.match(logical_id):
            raise format_error(f"Resource name {logical_id} is non alphanumeric.")
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise format_error(f"[/Resources/{logical_id}] Every Resources object must contain a Type member.")
        for attribute in resource:
            if attribute not in RESOURCE_ATTRIBUTES:
                raise format_error(f"Invalid template resource property '{attribute}'")
        properties = resource.get("Properties")
        if properties is not None and not isinstance(properties, dict):
            raise format_error(f"[/Resources/{logical_id}/Properties] 'Properties' must be a JSON object.")
        depends = resource.get("DependsOn")
        if depends is not None and not (isinstance(depends, str) or (
                isinstance(depends, list) and all(isinstance(name, str) for name in depends))):
            raise format_error(f"DependsOn must be a string or list of strings in resource {logical_id}.")
        if "Condition" in resource and not isinstance(resource["Condition"], str):
            raise format_error(f"Condition of resource {logical_id} must be a string.")


PARAMETER_PROPERTIES = ("Type", "Default", "NoEcho", "AllowedValues", "AllowedPattern", "MaxLength", "MinLength",
                        "MaxValue", "MinValue", "Description", "ConstraintDescription")


def _check_parameters(parameters: dict) -> None:
    from .parameters import check_declaration  # the parameter types live with the parameters

    for name, declaration in parameters.items():
        if not _LOGICAL_ID.match(name):
            raise format_error(f"Parameter name {name} is non alphanumeric.")
        if not isinstance(declaration, dict):
            raise format_error("Any Parameters member must be a JSON object.")
        for key in declaration:
            if key not in PARAMETER_PROPERTIES:
                raise format_error(f"Invalid template parameter property '{key}'")
        check_declaration(name, declaration)


def _check_mappings(mappings: dict) -> None:
    for name, mapping in mappings.items():
        if not isinstance(mapping, dict):
            raise format_error(f"Every Mappings member {name} must be a map")
        for key, attributes in mapping.items():
            if not isinstance(attributes, dict):
                raise format_error(f"Every Mappings member {key} must be a map")
            for value in attributes.values():
                if isinstance(value, dict):
                    raise format_error("Every Mappings attribute must be a String or a List.")


def _check_outputs(outputs: dict) -> None:
    for name, output in outputs.items():
        if not _LOGICAL_ID.match(name):
            raise format_error(f"Output {name} is malformed. The Name field of every Outputs member must be "
                               "alphanumeric.")
        if not isinstance(output, dict) or "Value" not in output:
            raise format_error("Every Outputs member must contain a Value object")
        for key in output:
            if key not in ("Value", "Description", "Export", "Condition"):
                raise format_error(f"Invalid template property or properties [{key}] in Outputs member {name}")


def transforms(template: dict) -> list[str]:
    """The template's declared transforms (the Transform section, a name or a list of names)."""
    declared = template.get("Transform")
    if declared is None:
        return []
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [name if isinstance(name, str) else str(name.get("Name", "")) for name in declared]
    if isinstance(declared, dict):
        return [str(declared.get("Name", ""))]
    return []
