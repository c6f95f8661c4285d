"""Just enough IAM policy reading for checks: trust principals and whether a document allows an action."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any


def document(raw: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as a dict (botocore decodes IAM's documents; other paths hand over JSON)."""
    return json.loads(raw) if isinstance(raw, str) else raw


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of ``doc``, always as a list."""
    found = doc.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def trusted_services(doc: dict[str, Any]) -> set[str]:
    """The service principals an ``Allow`` of ``sts:AssumeRole`` names in a trust policy."""
    services: set[str] = set()
    for st in statements(doc):
        actions = [a.lower() for a in as_list(st.get("Action"))]
        if st.get("Effect") == "Allow" and ("sts:assumerole" in actions or "sts:*" in actions or "*" in actions):
            principal = st.get("Principal", {})
            if isinstance(principal, dict):
                services.update(as_list(principal.get("Service")))
    return services


def other_principals(doc: dict[str, Any]) -> list[str]:
    """Principals other than services that an ``Allow`` statement of a trust policy names."""
    found: list[str] = []
    for st in statements(doc):
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal", {})
        if not isinstance(principal, dict):
            found.append(str(principal))
            continue
        for kind, values in principal.items():
            if kind != "Service":
                found.extend(f"{kind}: {v}" for v in as_list(values))
    return found


def _matches(st: dict[str, Any], action: str, resource: str) -> bool:
    actions = as_list(st.get("Action"))
    resources = as_list(st.get("Resource"))
    return (any(fnmatchcase(action.lower(), a.lower()) for a in actions)
            and any(fnmatchcase(resource, r) for r in resources))


def allows(docs: list[dict[str, Any]], action: str, resource: str) -> bool:
    """True when some ``Allow`` in ``docs`` covers ``action`` on ``resource`` and no ``Deny`` does."""
    sts = [st for doc in docs for st in statements(doc)]
    if any(st.get("Effect") == "Deny" and _matches(st, action, resource) for st in sts):
        return False
    return any(st.get("Effect") == "Allow" and _matches(st, action, resource) for st in sts)


def role_documents(session: Any, name: str) -> list[dict[str, Any]]:
    """The permission policies of role ``name``: inline and attached (customer or AWS managed)."""
    iam = session.client("iam")
    docs = [document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        docs.append(document(version["PolicyVersion"]["Document"]))
    return docs


def missing_permissions(session: Any, role: str, needed: list[tuple[str, str]]) -> list[str]:
    """The (action, resource) pairs of ``needed`` that the permission policies of ``role`` do not allow."""
    docs = role_documents(session, role)
    return [f"{action} on {resource}" for action, resource in needed if not allows(docs, action, resource)]
