"""A stack's Outputs: each active output's value and export name, evaluated once the resources exist.

AWS's page: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/outputs-section-structure.html
"""

from __future__ import annotations

from typing import Any

from .graph import active_outputs
from .intrinsics import NO_VALUE, Scope, evaluate
from .template import TemplateError


def _text(value: Any, name: str, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise TemplateError(f"Template error: the {what} of output {name} must evaluate to a string")


def evaluate_outputs(template: dict, scope: Scope) -> list[dict]:
    """DescribeStacks' ``Outputs``: OutputKey, OutputValue, Description and ExportName of the outputs whose
    Condition holds (``scope.conditions``); a list value is joined with commas."""
    described = []
    for name, output in active_outputs(template, scope.conditions).items():
        value = evaluate(output["Value"], scope)
        if value is NO_VALUE:
            continue
        entry = {"OutputKey": name, "OutputValue": _text(value, name, "Value")}
        if "Description" in output:
            entry["Description"] = _text(evaluate(output["Description"], scope), name, "Description")
        export = output.get("Export")
        if export is not None:
            if not isinstance(export, dict) or "Name" not in export:
                raise TemplateError(f"Template format error: Output {name} is malformed. The Export field must "
                                    "contain a Name.")
            entry["ExportName"] = _text(evaluate(export["Name"], scope), name, "Export Name")
        described.append(entry)
    names = [entry["ExportName"] for entry in described if "ExportName" in entry]
    duplicates = sorted({export for export in names if names.count(export) > 1})
    if duplicates:
        raise TemplateError(f"Template error: the template exports {', '.join(duplicates)} more than once")
    return described


def exports(outputs: list[dict]) -> dict[str, str]:
    """Export name -> value, from ``evaluate_outputs``' answer."""
    return {entry["ExportName"]: entry["OutputValue"] for entry in outputs if "ExportName" in entry}
