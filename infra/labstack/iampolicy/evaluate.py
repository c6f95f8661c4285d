"""The decision: AWS's policy evaluation logic for identity-based and resource-based policies.

Following "Policy evaluation logic" and "Determining whether a request is allowed or denied within
an account" (IAM User Guide):
1. an explicit ``Deny`` that applies, in any policy, decides: denied;
2. a principal of the resource's own account is allowed by an ``Allow`` in one of its identity-based
   policies, or by an ``Allow`` of a resource-based policy that names it (a user, a role, a role
   session, or everyone) — a resource-based policy that names only the account delegates to the
   identity-based policies and does not allow on its own;
3. across accounts both sides must allow: the caller's identity-based policy and the resource's
   resource-based policy (naming the caller or its account);
4. the account's root user is allowed in its own account; an AWS service only by a resource-based
   (or trust) policy that names it;
5. role trust policies and KMS key policies are the exceptions to 2 and 4: they must allow
   themselves, by naming the caller, or by naming its account and the caller's identity-based
   policy allowing too ("Key policies in AWS KMS"; trust policies as resource-based policies);
6. otherwise the request is implicitly denied.
Not evaluated here: Organizations SCPs/RCPs, permissions boundaries, session policies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from labstack.iampolicy.conditions import Clause, PolicyError, failing_clause, normalize_context, parse_condition
from labstack.iampolicy.matching import action_matches, arn_matches, lookup_in, substitute
from labstack.iampolicy.principals import Named, Principal, excepted, names, parse_principal

IDENTITY = "identity-based"
RESOURCE = "resource-based"
TRUST = "role trust"
KEY = "KMS key"
# Resource-based policies that must allow themselves: identity policies alone do not reach the resource.
REQUIRED = (TRUST, KEY)

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"  # IAM's EvalDecision values


def _listed(value: Any, element: str, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyError(f"{where}: {element} must be a string or a list of strings")
    return tuple(values)


def _one_of(raw: Mapping[str, Any], names_: tuple[str, str], where: str, required: bool) -> tuple[str | None, Any]:
    present = [n for n in names_ if n in raw]
    if len(present) > 1:
        raise PolicyError(f"{where}: a statement has either {names_[0]} or {names_[1]}, not both")
    if not present:
        if required:
            raise PolicyError(f"{where}: a statement needs {names_[0]} or {names_[1]}")
        return None, None
    return present[0], raw[present[0]]


@dataclass(frozen=True)
class Statement:
    """One parsed statement: which of Action/NotAction, Resource/NotResource, Principal/NotPrincipal it uses."""

    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    negate_actions: bool
    resources: tuple[str, ...] | None  # None: no Resource element (a trust policy's statement)
    negate_resources: bool
    principal: Mapping[str, tuple[str, ...]] | None
    negate_principal: bool
    conditions: tuple[Clause, ...]

    @classmethod
    def parse(cls, raw: Any, index: int, kind: str, where: str) -> Statement:
        """Parse one statement of a ``kind`` policy; :class:`PolicyError` for what IAM would refuse."""
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where}: a statement must be an object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
        action_name, actions = _one_of(raw, ("Action", "NotAction"), where, True)
        resource_name, resources = _one_of(raw, ("Resource", "NotResource"), where, kind == IDENTITY)
        principal_name, principal = _one_of(raw, ("Principal", "NotPrincipal"), where, kind != IDENTITY)
        if kind == IDENTITY and principal_name:
            raise PolicyError(f"{where}: an identity-based policy has no {principal_name} element")
        if principal_name == "NotPrincipal" and effect == "Allow":
            raise PolicyError(f"{where}: NotPrincipal is supported with Deny only")
        sid = raw.get("Sid")
        return cls(index, str(sid) if sid is not None else None, effect,
                   _listed(actions, str(action_name), where), action_name == "NotAction",
                   _listed(resources, str(resource_name), where) if resource_name else None,
                   resource_name == "NotResource",
                   parse_principal(principal, where) if principal_name else None,
                   principal_name == "NotPrincipal", parse_condition(raw.get("Condition"), where))

    @property
    def label(self) -> str:
        """How an explanation names it: its Sid, or its position."""
        return f'statement "{self.sid}"' if self.sid else f"statement #{self.index + 1}"

    def covers_action(self, action: str) -> bool:
        """Action/NotAction: whether the statement is about ``action``."""
        hit = any(action_matches(pattern, action) for pattern in self.actions)
        return hit != self.negate_actions

    def covers_resource(self, resource: str, context: Mapping[str, Sequence[str]], version: str | None) -> bool:
        """Resource/NotResource (with policy variables): whether the statement is about ``resource``."""
        if self.resources is None:
            return True
        lookup = lookup_in(context)
        hit = any(arn_matches(substitute(pattern, version, lookup), resource) for pattern in self.resources)
        return hit != self.negate_resources

    def names(self, who: Principal) -> Named | None:
        """Principal/NotPrincipal: how the statement names ``who`` (identity policies name their owner)."""
        if self.principal is None:
            return Named.SELF
        if self.negate_principal:
            return None if excepted(self.principal, who) else Named.SELF
        return names(self.principal, who)


@dataclass(frozen=True)
class Policy:
    """A parsed policy document with the name an explanation gives it (``inline policy build``…)."""

    name: str
    kind: str
    version: str | None
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, document: str | Mapping[str, Any], name: str = "policy", kind: str = IDENTITY) -> Policy:
        """Parse a JSON document (text or already decoded); :class:`PolicyError` when IAM would refuse it."""
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as exc:
                raise PolicyError(f"{name}: not JSON ({exc})") from None
        if not isinstance(document, Mapping) or "Statement" not in document:
            raise PolicyError(f"{name}: a policy is an object with a Statement")
        raw = document["Statement"]
        raw_list = [raw] if isinstance(raw, Mapping) else raw
        if not isinstance(raw_list, list) or not raw_list:
            raise PolicyError(f"{name}: Statement must be an object or a non-empty list")
        version = document.get("Version")
        return cls(name, kind, str(version) if version is not None else None,
                   tuple(Statement.parse(s, i, kind, f"{name}, statement #{i + 1}") for i, s in enumerate(raw_list)))


@dataclass(frozen=True)
class Request:
    """What is asked: who, which action on which resource, with which request context."""

    principal: Principal
    action: str
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict)
    resource_account: str | None = None  # the account owning the resource, when its ARN does not say (S3)

    @property
    def owner(self) -> str | None:
        """The resource's account: given, or read from the ARN's account segment."""
        if self.resource_account:
            return self.resource_account
        parts = self.resource.split(":", 5)
        return parts[4] if len(parts) == 6 and parts[4].isdigit() else None


@dataclass(frozen=True)
class Match:
    """A statement that applied to the request, and the policy it belongs to."""

    policy: Policy
    statement: Statement
    named: Named

    def describe(self) -> str:
        """E.g. ``statement "DenyIam" of identity-based policy inline policy admin``."""
        return f"{self.statement.label} of {self.policy.kind} policy {self.policy.name}"


@dataclass(frozen=True)
class Decision:
    """The answer and why: ``decision`` is IAM's EvalDecision (allowed, explicitDeny, implicitDeny)."""

    request: Request
    decision: str
    reason: str  # AWS's clause: "because no identity-based policy allows the s3:GetObject action"…
    deciding: tuple[Match, ...] = ()  # the statements that allowed, or the deny that decided
    detail: str = ""

    @property
    def allowed(self) -> bool:
        """True when the request is allowed."""
        return self.decision == ALLOWED

    def message(self) -> str:
        """AWS's AccessDenied sentence for a denial, e.g. ``User: ARN is not authorized to perform: …``."""
        who = self.request.principal
        label = "User" if who.kind != "service" else "Service"
        return (f"{label}: {who.arn} is not authorized to perform: {self.request.action} "
                f"on resource: {self.request.resource} {self.reason}")

    def explain(self) -> str:
        """One line naming what decided: the statement that allowed or denied, or that none allowed."""
        if self.deciding:
            verb = "denies" if self.decision == EXPLICIT_DENY else "allows"
            head = f"{self.deciding[0].describe()} {verb} {self.request.action} on {self.request.resource}"
        else:
            head = f"{self.request.action} on {self.request.resource}: {self.reason}"
        return f"{head} ({self.detail})" if self.detail else head


def _applying(policies: Iterable[Policy], request: Request, context: Mapping[str, Sequence[str]],
              missed: list[tuple[Match, Clause]]) -> list[Match]:
    """The statements that apply to the request; Allows stopped only by a condition go to ``missed``."""
    found: list[Match] = []
    for policy in policies:
        for statement in policy.statements:
            if not statement.covers_action(request.action):
                continue
            named = statement.names(request.principal)
            if named is None or not statement.covers_resource(request.resource, context, policy.version):
                continue
            clause = failing_clause(statement.conditions, context, policy.version)
            if clause is None:
                found.append(Match(policy, statement, named))
            elif statement.effect == "Allow":
                missed.append((Match(policy, statement, named), clause))
    return found


def evaluate(request: Request, identity: Sequence[Policy] = (), resource: Sequence[Policy] = ()) -> Decision:
    """Decide ``request`` against the caller's identity-based policies and the resource's policies."""
    context = normalize_context({**request.principal.context(), **request.context})
    missed: list[tuple[Match, Clause]] = []
    own = _applying(identity, request, context, missed)
    granted = _applying(resource, request, context, missed)
    decision = _decide(request, own, granted, resource)
    if decision.decision == IMPLICIT_DENY and missed:
        match, clause = missed[0]
        near = f"{match.describe()} would allow it, but its condition {clause.operator} {clause.key} does not hold"
        decision = replace(decision, detail=f"{decision.detail}; {near}" if decision.detail else near)
    return decision


def _decide(request: Request, own: list[Match], granted: list[Match], resource: Sequence[Policy]) -> Decision:
    """Steps 1 to 6 of the module's docstring, on the statements that apply."""
    denials = [m for m in own + granted if m.statement.effect == "Deny"]
    if denials:
        return Decision(request, EXPLICIT_DENY, f"with an explicit deny in {_a(denials[0].policy.kind)} policy",
                        (denials[0],))
    own_allows = [m for m in own if m.statement.effect == "Allow"]
    resource_allows = [m for m in granted if m.statement.effect == "Allow"]
    who = request.principal
    owner = request.owner
    cross_account = who.account is not None and owner is not None and who.account != owner
    action = request.action
    if who.kind == "service" or who.kind == "anonymous":
        if resource_allows:
            return Decision(request, ALLOWED, "", (resource_allows[0],))
        return Decision(request, IMPLICIT_DENY, f"because no resource-based policy allows the {action} action")
    if cross_account:
        if not own_allows and who.kind != "root":  # a root user needs no identity policy in its own account
            return Decision(request, IMPLICIT_DENY, f"because no identity-based policy allows the {action} action")
        if not resource_allows:
            return Decision(request, IMPLICIT_DENY, f"because no resource-based policy allows the {action} action",
                            detail=f"{owner} is another account: its resource-based policy must allow too")
        return Decision(request, ALLOWED, "", (*own_allows[:1], resource_allows[0]))
    by_name = [m for m in resource_allows if m.named is Named.SELF]
    if by_name:
        return Decision(request, ALLOWED, "", (by_name[0],))
    if any(p.kind in REQUIRED for p in resource):
        if not resource_allows:
            return Decision(request, IMPLICIT_DENY, f"because no resource-based policy allows the {action} action",
                            detail=f"the {resource[0].kind} policy must allow it, whatever identity policies say")
        if own_allows:
            return Decision(request, ALLOWED, "", (own_allows[0], resource_allows[0]))
        return Decision(request, IMPLICIT_DENY, f"because no identity-based policy allows the {action} action",
                        detail=f"the {resource[0].kind} policy names the account, which leaves it to identity policies")
    if who.kind == "root":
        return Decision(request, ALLOWED, "", detail="the account's root user")
    if own_allows:
        return Decision(request, ALLOWED, "", (own_allows[0],))
    detail = ("a resource-based policy names only the account, which leaves the decision to identity-based policies"
              if resource_allows else "")
    return Decision(request, IMPLICIT_DENY, f"because no identity-based policy allows the {action} action",
                    detail=detail)


def _a(kind: str) -> str:
    return "an identity-based" if kind == IDENTITY else f"a {kind}"


def can_assume(trust: str | Mapping[str, Any] | Policy, principal: Principal, action: str = "sts:AssumeRole",
               context: Mapping[str, Any] | None = None, *, role_arn: str = "*",
               identity: Sequence[Policy] = ()) -> Decision:
    """Whether ``principal`` may ``action`` (sts:AssumeRole…) the role whose trust policy is ``trust``.

    A trust policy is the role's resource-based policy: a service is trusted by it alone; an IAM
    principal named by ARN too, within the role's account; one named through its account (or from
    another account) also needs its own identity-based policies (``identity``) to allow the action.
    """
    policy = trust if isinstance(trust, Policy) else Policy.parse(trust, "trust policy", TRUST)
    return evaluate(Request(principal, action, role_arn, context or {}), identity, (policy,))
