"""ValidateTemplate's and GetTemplateSummary's answers for a loaded template.

AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplateSummary.html
"""

from __future__ import annotations

import json

from . import capabilities, parameters
from .conditions import check_conditions
from .graph import check
from .template import VERSION, transforms


def _common(template: dict) -> dict:
    answer: dict = {}
    if "Description" in template:
        answer["Description"] = template["Description"]
    needed, reason = capabilities.required(template)
    if needed:
        answer["Capabilities"] = needed
        answer["CapabilitiesReason"] = reason
    answer["DeclaredTransforms"] = transforms(template)
    return answer


def validate_template(template: dict) -> dict:
    """ValidateTemplate's answer for a template ``template.load`` made, after the checks CloudFormation makes on
    a template alone (conditions, references, circular dependencies): a TemplateError when one fails."""
    check_conditions(template)
    check(template)
    return {"Parameters": parameters.summary(template.get("Parameters") or {}), **_common(template)}


def template_summary(template: dict) -> dict:
    """GetTemplateSummary's answer for a loaded template (the same checks as ValidateTemplate first)."""
    check_conditions(template)
    check(template)
    resources = template.get("Resources") or {}
    answer = {
        "Parameters": parameters.declarations(template.get("Parameters") or {}),
        **_common(template),
        "ResourceTypes": list(dict.fromkeys(resource["Type"] for resource in resources.values())),
        "Version": str(template.get("AWSTemplateFormatVersion", VERSION)),
    }
    if "Metadata" in template:
        answer["Metadata"] = json.dumps(template["Metadata"])
    return answer
