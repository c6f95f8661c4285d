"""IAM questions the checks ask, answered by labstack's policy evaluator (``labstack.iampolicy``).

Every answer comes from evaluating requests as AWS would (explicit deny, NotAction, NotResource,
conditions, wildcards), never from reading strings in a document: "may this role ssm:GetParameters
on that parameter?", "who may assume this role?", "what does this role allow beyond what the lab
needs?". The checks stay boto3-only: documents are read through the account's IAM API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Union

from botocore.exceptions import ClientError

from grader.checks import Fail
from labstack.iampolicy import (
    IDENTITY,
    TRUST,
    Decision,
    Policy,
    PolicyError,
    Principal,
    Request,
    can_assume,
    evaluate,
)

Document = Mapping[str, Any]
PolicyLike = Union[Policy, Document]
# What a lab needs: (action, resource) or (action, resource, request context).
Need = Union[tuple[str, str], tuple[str, str, Mapping[str, Any]]]

# Who asks when only the policies matter: a session of an unnamed role (identity policies do not
# depend on who holds them, except through policy variables and conditions).
PROBE_ACCOUNT = "000000000000"
PROBE_NAME = "lab-kit-probe"
# An action no service has: allowed only by "Action": "*" (or a NotAction that leaves it in).
UNLISTED_SERVICE_ACTION = "lab-kit-probe:UnlistedAction"
# IAM actions that let a role give itself or others more power.
IAM_ESCALATION = ("iam:CreateUser", "iam:CreateAccessKey", "iam:PutRolePolicy", "iam:AttachRolePolicy",
                  "iam:CreatePolicyVersion", "iam:UpdateAssumeRolePolicy", "iam:PassRole")


def document(raw: str | Document) -> dict[str, Any]:
    """A policy document as a dict (botocore decodes IAM's documents; other paths hand over JSON)."""
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def _parsed(policies: Sequence[PolicyLike], kind: str = IDENTITY) -> list[Policy]:
    try:
        return [p if isinstance(p, Policy) else Policy.parse(p, f"#{i + 1}", kind) for i, p in enumerate(policies)]
    except PolicyError as exc:
        raise Fail(f"a policy IAM would refuse: {exc}") from None


def _session(account: str = PROBE_ACCOUNT, role: str = PROBE_NAME) -> Principal:
    return Principal.from_arn(f"arn:aws:sts::{account}:assumed-role/{role}/{PROBE_NAME}")


def decide(policies: Sequence[PolicyLike], action: str, resource: str, context: Mapping[str, Any] | None = None,
           principal: Principal | None = None) -> Decision:
    """The evaluator's decision on ``action`` on ``resource`` for a holder of these identity policies."""
    if principal is None:
        principal = _session(Request(_session(), action, resource).owner or PROBE_ACCOUNT)
    return evaluate(Request(principal, action, resource, context or {}), _parsed(policies))


def allows(policies: Sequence[PolicyLike], action: str, resource: str,
           context: Mapping[str, Any] | None = None) -> bool:
    """True when these identity policies allow ``action`` on ``resource`` (an explicit deny wins)."""
    return decide(policies, action, resource, context).allowed


# --- trust policies ------------------------------------------------------------------------------

def _named_services(doc: Document) -> set[str]:
    trust = _parsed([doc], TRUST)[0]
    return {s for st in trust.statements if st.principal and not st.negate_principal
            for s in st.principal.get("Service", ())}


def trusted_services(doc: Document, context: Mapping[str, Any] | None = None) -> set[str]:
    """The services a trust policy lets assume the role (sts:AssumeRole), evaluated with ``context``
    (e.g. ``{"aws:SourceAccount": account}`` for a trust policy that guards against confused deputies)."""
    trust = _parsed([doc], TRUST)[0]
    return {s for s in _named_services(doc) if can_assume(trust, Principal.service(s), context=context).allowed}


def other_principals(doc: Document) -> list[str]:
    """Principals other than services that an ``Allow`` statement of a trust policy names."""
    found: list[str] = []
    for st in _parsed([doc], TRUST)[0].statements:
        if st.effect != "Allow" or st.principal is None:
            continue
        for kind, values in st.principal.items():
            if kind != "Service":
                found.extend("everyone (*)" if v == "*" else f"{kind}: {v}" for v in values)
    return found


def trust_beyond(doc: Document, service: str, account: str) -> list[str]:
    """Who, besides ``service``, may assume a role with this trust policy: other services, everyone, IAM
    principals of ``account`` (with a policy that lets them) or of another account — by evaluation."""
    trust = _parsed([doc], TRUST)[0]
    context = {"aws:SourceAccount": account}
    extra = sorted(s for s in trusted_services(doc, context) if s.lower() != service.lower())
    if can_assume(trust, Principal.service("lab-kit-probe.amazonaws.com"), context=context).allowed:
        extra.append("any service")
    assume_anything = Policy.parse({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}, "probe", IDENTITY)
    role_arn = f"arn:aws:iam::{account}:role/{PROBE_NAME}"
    foreign = PROBE_ACCOUNT if account != PROBE_ACCOUNT else "111111111111"
    for who, label in ((f"arn:aws:iam::{account}:user/{PROBE_NAME}", f"IAM users and roles of {account}"),
                       (f"arn:aws:iam::{foreign}:user/{PROBE_NAME}", "principals of other accounts")):
        if can_assume(trust, Principal.from_arn(who), role_arn=role_arn, identity=[assume_anything]).allowed:
            extra.append(label)
    return extra


# --- what a role may do --------------------------------------------------------------------------

def role_documents(session: Any, name: str) -> list[dict[str, Any]]:
    """The permission policies of role ``name``: inline and attached (customer or AWS managed)."""
    return [doc for _, doc in _role_documents(session, name)]


def _role_documents(session: Any, name: str) -> list[tuple[str, dict[str, Any]]]:
    iam = session.client("iam")
    named = [(f"inline policy {p}", document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]))
             for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        named.append((f"managed policy {attached['PolicyName']}", document(version["PolicyVersion"]["Document"])))
    return named


def role_policies(session: Any, name: str) -> list[Policy]:
    """The permission policies of role ``name``, parsed and named as IAM lists them."""
    try:
        return [Policy.parse(doc, label, IDENTITY) for label, doc in _role_documents(session, name)]
    except PolicyError as exc:
        raise Fail(f"{name} has a policy IAM would refuse: {exc}") from None


def _trust_services(session: Any, role_arn: str) -> list[str]:
    try:
        role = session.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        return sorted(_named_services(document(role["AssumeRolePolicyDocument"])))
    except (ClientError, Fail):  # a role that is not there, or that no service could assume
        return []


def _contexts(session: Any, need: Need) -> list[Mapping[str, Any]]:
    action, resource = need[0], need[1]
    if len(need) > 2:
        return [need[2]]  # type: ignore[misc]
    if action.lower() == "iam:passrole" and ":role/" in resource:
        # AWS sets iam:PassedToService to the service receiving the role: one the role trusts.
        return [{"iam:PassedToService": s} for s in _trust_services(session, resource)] or [{}]
    return [{}]


def missing_permissions(session: Any, role: str, needed: Sequence[Need]) -> list[str]:
    """The needs (``action``, ``resource``[, context]) that role ``role`` may not do, each as
    "ACTION on RESOURCE", followed by the statement that denies it, or the Allow whose condition failed."""
    policies = role_policies(session, role)
    principal = _session(session.account, role)
    missing = []
    for need in needed:
        decisions = [decide(policies, need[0], need[1], c, principal) for c in _contexts(session, need)]
        if not any(d.allowed for d in decisions):
            denied = next((d for d in decisions if d.deciding), None)
            near = next((d.detail for d in decisions if d.detail), "")
            why = f" (denied by {denied.deciding[0].describe()})" if denied else f" ({near})" if near else ""
            missing.append(f"{need[0]} on {need[1]}{why}")
    return missing


def _account_of(needed: Sequence[Need]) -> str:
    for need in needed:
        parts = need[1].split(":", 5)
        if len(parts) == 6 and parts[4].isdigit():
            return parts[4]
    return PROBE_ACCOUNT


def _sibling(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5]:
        return None
    cut = max(parts[5].rfind("/"), parts[5].rfind(":"))
    return ":".join(parts[:5] + [parts[5][: cut + 1] + PROBE_NAME])


def _at_worst(policies: list[Policy]) -> list[Policy]:
    """``policies`` as they grant at worst: an Allow's conditions on AWS's global keys met (``aws:…``: HTTPS,
    the region asked for, who calls, which a caller meets or chooses), its conditions on a service's own
    keys kept (``iam:PassedToService`` still limits whom a role may be passed to), and no conditional
    Deny standing in the way."""
    def worst(policy: Policy) -> Policy:
        kept = tuple(replace(st, conditions=tuple(c for c in st.conditions if not c.key.lower().startswith("aws:")))
                     if st.effect == "Allow" else st
                     for st in policy.statements if st.effect == "Allow" or not st.conditions)
        return replace(policy, statements=kept)

    return [worst(p) for p in policies]


def grants_beyond(policies: Sequence[PolicyLike], needed: Sequence[Need]) -> list[str]:
    """What these identity policies allow beyond ``needed``, found by evaluating probe requests at worst
    (:func:`_at_worst`): every action (``"Action": "*"``, or a NotAction), IAM actions that escalate
    privileges, every action of a needed service (``ssm:*``), and a needed action on other resources than
    the one needed (``"Resource": "*"`` or a broad wildcard, where the action supports resource-level scoping)."""
    parsed = _at_worst(_parsed(policies))
    account = _account_of(needed)
    principal = _session(account)
    needed_actions = {n[0].lower() for n in needed}

    def may(action: str, resource: str, context: Mapping[str, Any] | None = None) -> bool:
        return decide(parsed, action, resource, context, principal).allowed

    beyond: list[str] = []
    if may(UNLISTED_SERVICE_ACTION, "*"):
        beyond.append('every action of every service ("Action": "*" or a NotAction)')
    escalation = [a for a in IAM_ESCALATION if a.lower() not in needed_actions
                  and may(a, f"arn:aws:iam::{account}:role/{PROBE_NAME}")]
    if escalation:
        beyond.append(f"IAM privilege escalation: {', '.join(escalation)}")
    for service in sorted({n[0].split(":", 1)[0] for n in needed}):
        resources = [n[1] for n in needed if n[0].split(":", 1)[0] == service]
        if any(may(f"{service}:LabKitUnlistedAction", r) for r in resources):
            beyond.append(f"every {service} action ({service}:*)")
    for need in needed:
        other = _sibling(need[1]) if need[1] != "*" else None
        context = need[2] if len(need) > 2 else None  # type: ignore[misc]
        if other and may(need[0], other, context):
            beyond.append(f"{need[0]} on other resources than {need[1]} (e.g. {other})")
    return beyond
