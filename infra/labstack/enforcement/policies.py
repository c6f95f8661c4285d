"""The policies a decision reads: a principal's identity-based policies and a resource's own policy.

Both come from moto's state through ``motobridge`` (the one seam to moto), parsed once per document
text: a decision re-reads which policies apply on every call (an edit takes effect at once, as on AWS)
but never re-parses a document it has seen.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import unquote

from labstack import motobridge
from labstack.iampolicy import IDENTITY, KEY, RESOURCE, TRUST, Policy, PolicyError, Principal

# The services whose resource-based policies the labs meet, by the service prefix of an action.
RESOURCE_POLICY_SERVICES = frozenset({"s3", "kms", "lambda", "ecr"})


def text(document: Any) -> str:
    """A document as JSON text (moto keeps some URL-encoded, some decoded)."""
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    if isinstance(document, str):
        stripped = document.strip()
        return unquote(stripped) if stripped.startswith("%7B") else stripped
    return json.dumps(document, sort_keys=True)


@functools.lru_cache(maxsize=4096)
def parsed(document: str, name: str, kind: str) -> Policy | None:
    """A document parsed once; None when the evaluator cannot read it (then it allows nothing)."""
    try:
        return Policy.parse(document, name, kind)
    except PolicyError:
        return None


def _parse_all(documents: motobridge.Documents, kind: str) -> list[Policy]:
    found = (parsed(text(doc), name, kind) for name, doc in documents)
    return [p for p in found if p is not None]


def identity(principal: Principal) -> list[Policy] | None:
    """The identity-based policies of an IAM user or a role session's role; None when the user or role
    no longer exists (its keys then allow nothing)."""
    if principal.account is None:
        return None
    if principal.kind == "user":
        documents = motobridge.user(principal.account, principal.arn.rpartition("/")[2], principal.partition)
        return None if documents is None else _parse_all(documents, IDENTITY)
    if principal.kind in ("assumed-role", "role"):
        role_arn = principal.role_arn or principal.arn
        found = motobridge.role(principal.account, role_arn.rpartition("/")[2], principal.partition)
        return None if found is None else _parse_all(found[1], IDENTITY)
    return []


def trust(account: str, role_name: str, partition: str = "aws") -> Policy | None:
    """A role's trust policy; None when the role does not exist (or its trust policy is unreadable)."""
    found = motobridge.role(account, role_name, partition)
    return None if found is None else parsed(text(found[0]), "trust policy", TRUST)


def resource(action: str, arn: str, account: str, region: str) -> list[Policy]:
    """The resource-based policy of the resource ``arn`` names, for the services the labs meet."""
    service = action.partition(":")[0]
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return []
    if service == "sts" and parts[2] == "iam" and parts[5].startswith("role/"):  # AssumeRole: the trust policy
        found = trust(parts[4], parts[5].rpartition("/")[2], parts[1])
        return [] if found is None else [found]
    if service not in RESOURCE_POLICY_SERVICES:
        return []
    if service == "s3":
        name, kind = parts[5].split("/", 1)[0], RESOURCE
        document = motobridge.resource_policy("s3", account, region, name)
    else:
        region, account = parts[3] or region, parts[4] or account
        kind = KEY if service == "kms" else RESOURCE
        document = motobridge.resource_policy(service, account, region, _resource_name(service, parts[5], arn))
    if document is None:
        return []
    policy = parsed(text(document), f"{kind} policy of {arn}", kind)
    return [] if policy is None else [policy]


def _resource_name(service: str, resource: str, arn: str) -> str:
    if service == "ecr":
        return resource.partition("/")[2]  # repository/NAME
    if service == "kms":
        return arn
    return resource.partition(":")[2].partition(":")[0] if service == "lambda" else resource  # function:NAME[:qualifier]
