"""Who makes a request, and whether a policy's ``Principal``/``NotPrincipal`` names them.

A principal is the account's root user, an IAM user, an IAM role or a session of one, a federated
user, an AWS service, or anonymous (``*``). In a resource-based or trust policy:
- ``"*"`` and ``{"AWS": "*"}`` name everyone;
- an account id or its ``arn:aws:iam::ID:root`` names the account: the account then decides through
  its own identity-based policies (a *delegation*), so it does not allow on its own;
- a user ARN, a role ARN (which covers every session of that role) or a session ARN names that
  principal itself (wildcards inside an ARN are not principals: only ``*`` alone is);
- ``{"Service": "codebuild.amazonaws.com"}`` names a service, ``Federated`` an identity provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from labstack.iampolicy.conditions import PolicyError

_ACCOUNT = re.compile(r"^\d{12}$")
_ARN = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$")


class Named(Enum):
    """How a Principal element names the caller: itself (or everyone), or its account."""

    SELF = "self"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Principal:
    """The caller: ``arn`` is its ARN (a service's name for services, ``*`` for anonymous)."""

    arn: str
    kind: str  # "root" | "user" | "role" | "assumed-role" | "federated" | "service" | "anonymous"
    account: str | None = None
    role_arn: str | None = None  # for a role session: the role's ARN (with its path, where known)
    partition: str = "aws"

    @classmethod
    def from_arn(cls, arn: str, role_arn: str | None = None) -> Principal:
        """The principal an IAM/STS ARN names; ``role_arn`` gives a session's role with its path."""
        found = _ARN.match(arn)
        if not found:
            raise ValueError(f"not the ARN of an IAM or STS principal: {arn!r}")
        partition, service, account, resource = found.group("partition", "service", "account", "resource")
        if service == "iam" and resource == "root":
            return cls(arn, "root", account, partition=partition)
        kind, _, rest = resource.partition("/")
        if service == "iam" and kind in ("user", "role") and rest:
            return cls(arn, kind, account, partition=partition)
        if service == "sts" and kind == "assumed-role" and "/" in rest:
            role_name = rest.split("/", 1)[0]
            return cls(arn, "assumed-role", account, role_arn or f"arn:{partition}:iam::{account}:role/{role_name}",
                       partition)
        if service == "sts" and kind == "federated-user" and rest:
            return cls(arn, "federated", account, partition=partition)
        raise ValueError(f"not the ARN of an IAM or STS principal: {arn!r}")

    @classmethod
    def service(cls, name: str) -> Principal:
        """An AWS service acting itself, e.g. ``codebuild.amazonaws.com`` assuming its role."""
        return cls(name, "service")

    @classmethod
    def root(cls, account: str, partition: str = "aws") -> Principal:
        """The root user of ``account``."""
        return cls(f"arn:{partition}:iam::{account}:root", "root", account, partition=partition)

    @property
    def root_arn(self) -> str | None:
        """The ARN of this principal's account (``arn:aws:iam::ID:root``), if it has one."""
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else None

    def context(self) -> dict[str, str]:
        """The request-context keys AWS sets from the principal (aws:PrincipalArn, aws:username…)."""
        if self.kind == "service":
            return {"aws:PrincipalServiceName": self.arn}
        if self.kind == "anonymous":
            return {}
        keys = {"aws:PrincipalArn": self.role_arn if self.kind == "assumed-role" else self.arn,
                "aws:PrincipalAccount": self.account or "",
                "aws:PrincipalType": {"root": "Account", "user": "User", "role": "AssumedRole",
                                      "assumed-role": "AssumedRole", "federated": "FederatedUser"}[self.kind]}
        if self.kind == "user":
            keys["aws:username"] = self.arn.rsplit("/", 1)[-1]
        return keys


ANONYMOUS = Principal("*", "anonymous")
PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")


def parse_principal(element: Any, where: str) -> dict[str, tuple[str, ...]]:
    """A Principal/NotPrincipal element as {kind: values}; ``"*"`` becomes {"AWS": ("*",)}."""
    if element == "*":
        return {"AWS": ("*",)}
    if not isinstance(element, Mapping) or not element:
        raise PolicyError(f"{where}: Principal must be \"*\" or an object such as {{\"Service\": \"…\"}}")
    parsed: dict[str, tuple[str, ...]] = {}
    for kind, values in element.items():
        if kind not in PRINCIPAL_KINDS:
            raise PolicyError(f"{where}: unknown principal type {kind!r}")
        values = values if isinstance(values, list) else [values]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise PolicyError(f"{where}: {kind} principals must be non-empty strings")
        parsed[kind] = tuple(values)
    return parsed


def _names_aws(value: str, who: Principal) -> Named | None:
    if value == "*":
        return Named.SELF
    if who.account and value in (who.account, who.root_arn):
        return Named.SELF if who.kind == "root" else Named.ACCOUNT
    if _ACCOUNT.match(value):
        return None
    if value == who.arn or (who.kind == "assumed-role" and value == who.role_arn):
        return Named.SELF
    return None


def names(element: Mapping[str, tuple[str, ...]], who: Principal) -> Named | None:
    """How a parsed Principal element names ``who``: SELF, ACCOUNT (a delegation), or None."""
    best: Named | None = None
    for kind, values in element.items():
        for value in values:
            if kind == "AWS":
                named = _names_aws(value, who)
            elif kind == "Service":
                named = Named.SELF if who.kind == "service" and value.lower() == who.arn.lower() else None
            elif kind == "Federated":
                named = Named.SELF if who.kind == "federated" and value == who.arn else None
            else:
                named = None
            if named is Named.SELF:
                return named
            best = best or named
    return best


def excepted(element: Mapping[str, tuple[str, ...]], who: Principal) -> bool:
    """Whether a NotPrincipal element excepts ``who``: its own ARN (a session's, not the role's) and, for
    IAM principals, its account must both be listed, as AWS checks each of them against the list."""
    listed_aws = set(element.get("AWS", ()))
    if who.kind == "service":
        return who.arn.lower() in {s.lower() for s in element.get("Service", ())}
    if who.kind == "anonymous":
        return "*" in listed_aws
    identities = {who.arn} if who.kind == "root" else {who.arn, who.root_arn or ""}
    return all(i in listed_aws or (i == who.root_arn and who.account in listed_aws) for i in identities)
