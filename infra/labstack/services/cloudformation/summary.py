"""ValidateTemplate's and GetTemplateSummary's answers, and the capabilities a template needs.

AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplateSummary.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (Capabilities)
"""

from __future__ import annotations

import json

from . import parameters
from .conditions import check_conditions
from .graph import check
from .template import BODY_LIMIT, load, transforms

IAM_TYPES = ("AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy",
             "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::UserToGroupAddition")
"""The resource types that need CAPABILITY_IAM (CreateStack's Capabilities documentation)."""
NAME_PROPERTIES = ("GroupName", "InstanceProfileName", "ManagedPolicyName", "RoleName", "UserName")
"""Properties that give an IAM resource a custom name, which needs CAPABILITY_NAMED_IAM."""


def required_capabilities(template: dict) -> tuple[list[str], str | None]:
    """(Capabilities, CapabilitiesReason) the template needs: CAPABILITY_IAM or CAPABILITY_NAMED_IAM for IAM
    resources, CAPABILITY_AUTO_EXPAND for declared transforms (macros)."""
    resources = template.get("Resources") or {}
    iam = [resource for resource in resources.values() if resource.get("Type") in IAM_TYPES]
    capabilities: list[str] = []
    reasons: list[str] = []
    if iam:
        named = any(key in (resource.get("Properties") or {}) for resource in iam for key in NAME_PROPERTIES)
        capabilities.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        types = sorted({resource["Type"] for resource in iam})
        reasons.append(f"The following resource(s) require capabilities: [{', '.join(types)}]")
    if transforms(template):
        capabilities.append("CAPABILITY_AUTO_EXPAND")
        if not reasons:
            reasons.append("The template contains transforms, which require CAPABILITY_AUTO_EXPAND")
    return capabilities, (reasons[0] if reasons else None)


def checked(text: str | bytes, *, limit: int = BODY_LIMIT) -> dict:
    """Load a template and make every check CloudFormation makes before it needs parameter values."""
    template = load(text, limit=limit)
    check_conditions(template)
    check(template)
    return template


def _common(template: dict) -> dict:
    answer: dict = {}
    if "Description" in template:
        answer["Description"] = template["Description"]
    capabilities, reason = required_capabilities(template)
    if capabilities:
        answer["Capabilities"] = capabilities
        answer["CapabilitiesReason"] = reason
    answer["DeclaredTransforms"] = transforms(template)
    return answer


def validate_template(text: str | bytes, *, limit: int = BODY_LIMIT) -> dict:
    """ValidateTemplate's answer for a template's text (TemplateError when it is invalid)."""
    template = checked(text, limit=limit)
    return {"Parameters": parameters.summary(template.get("Parameters") or {}), **_common(template)}


def template_summary(text: str | bytes, *, limit: int = BODY_LIMIT) -> dict:
    """GetTemplateSummary's answer for a template's text (TemplateError when it is invalid)."""
    template = checked(text, limit=limit)
    resources = template.get("Resources") or {}
    answer = {
        "Parameters": parameters.declarations(template.get("Parameters") or {}),
        **_common(template),
        "ResourceTypes": list(dict.fromkeys(resource["Type"] for resource in resources.values())),
        "Version": template.get("AWSTemplateFormatVersion", "2010-09-09"),
    }
    if "Metadata" in template:
        answer["Metadata"] = json.dumps(template["Metadata"])
    return answer
