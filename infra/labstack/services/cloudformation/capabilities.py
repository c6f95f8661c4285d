"""The capabilities a template needs acknowledged: CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND.

IAM resources need CAPABILITY_IAM, and CAPABILITY_NAMED_IAM when they have custom names; a template with
macros (a Transform) needs CAPABILITY_AUTO_EXPAND:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (Capabilities)
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html#using-iam-capabilities
"""

from __future__ import annotations

from labstack.errors import AwsError
from labstack.services.cloudformation.template import transforms

IAM_TYPES = {  # type -> the property holding its custom name
    "AWS::IAM::AccessKey": None, "AWS::IAM::Group": "GroupName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::Policy": None, "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName", "AWS::IAM::UserToGroupAddition": None,
}


def required(template: dict) -> tuple[list[str], str]:
    """(capabilities the template needs, AWS's CapabilitiesReason)."""
    resources = template.get("Resources") or {}
    iam = [(k, r) for k, r in resources.items() if isinstance(r, dict) and r.get("Type") in IAM_TYPES]
    needed: list[str] = []
    reason = ""
    if iam:
        named = any(IAM_TYPES[r["Type"]] and IAM_TYPES[r["Type"]] in (r.get("Properties") or {}) for _, r in iam)
        needed.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        reason = f"The following resource(s) require capabilities: [{', '.join(sorted({r['Type'] for _, r in iam}))}]"
    if transforms(template):
        needed.append("CAPABILITY_AUTO_EXPAND")
        reason = reason or "The template contains macros (a Transform)"
    return needed, reason


def check(template: dict, given: list[str]) -> None:
    """InsufficientCapabilitiesException, in AWS's words, when ``given`` lacks what the template needs
    (CAPABILITY_NAMED_IAM covers CAPABILITY_IAM)."""
    needed, _ = required(template)
    have = set(given)
    if "CAPABILITY_NAMED_IAM" in have:
        have.add("CAPABILITY_IAM")
    missing = [c for c in needed if c not in have]
    if missing:
        raise AwsError("InsufficientCapabilitiesException", f"Requires capabilities : [{', '.join(missing)}]", 400)
