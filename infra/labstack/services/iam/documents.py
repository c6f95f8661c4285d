"""Policy documents as IAM accepts them: AWS's ``MalformedPolicyDocument`` messages and IAM's size quotas.

What IAM accepts, labstack's one evaluator (``labstack.iampolicy``) can evaluate: a document passes
only if ``Policy.parse`` parses it, and what that parser refuses, IAM's API refuses here. Before it,
the checks follow the order and the wording IAM answers with (as recorded from AWS in moto's
``tests/test_iam/test_iam_policies.py``, and as learners meet them): syntax, version, legacy
parsing, statement ids, actions, vendors; then what is particular to the kind of policy:
- a permission policy names no principal ("Policy document should not specify a principal.") and
  every statement has a Resource;
- a role trust policy names a principal in each statement, each one valid ("Invalid principal in
  policy: "AWS":"…"": an ARN that is not a principal, a wildcard inside an ARN, a service name
  that is not one; the users and roles it names must exist, which the provider looks up), has no
  Resource, and allows STS actions only.
moto checks permission policies again after labstack (and resource ARN formats, which are its alone);
it checks no trust policy on CreateRole, which is why trust policies are checked in full here.

Sizes ("IAM and AWS STS quotas", IAM User Guide): a managed policy up to 6,144 characters, a role
trust policy up to 2,048, the inline policies of one role together up to 10,240, of a user 2,048,
of a group 5,120; "IAM does not count white space when calculating the size of a policy". The quota of
five versions of a managed policy moto keeps itself, in IAM's words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from labstack.errors import AwsError
from labstack.iampolicy import TRUST, Policy, PolicyError
from labstack.iampolicy.conditions import OPERATORS, SET_OPERATORS

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_POLICIES_SIZE = {"role": 10240, "user": 2048, "group": 5120}  # all inline policies of one entity together

SYNTAX = "Syntax errors in policy."
VERSION = "Policy document must be version 2012-10-17 or greater."
LEGACY = "The policy failed legacy parsing"
SIDS = "Statement IDs (SID) in a single policy must be unique."
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
PRINCIPAL_IN_IDENTITY = "Policy document should not specify a principal."
NO_PRINCIPAL = ("Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
                "The passed in policy has a statement with no principals!")
RESOURCE_IN_TRUST = "Has prohibited field Resource."
TRUST_ACTIONS = ("Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  "
                 "and sts:AssumeRoleWithWebIdentity")  # IAM's sentence, two spaces and all (as moto has it)

_TOP = ("Version", "Id", "Statement", "Conditions")  # moto's set: "Conditions" passes, as it does there
_ELEMENTS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition")
_VERSIONS = ("2008-10-17", "2012-10-17")
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
# The actions a trust policy may allow (the list moto's UpdateAssumeRolePolicy holds them to, so that
# CreateRole and UpdateAssumeRolePolicy accept the same documents).
_TRUST_ACTIONS = frozenset({"sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity",
                            "sts:DecodeAuthorizationMessage", "sts:GetAccessKeyInfo", "sts:GetCallerIdentity",
                            "sts:GetFederationToken", "sts:GetServiceBearerToken", "sts:GetSessionToken",
                            "sts:SetSourceIdentity", "sts:TagSession"})
_VENDOR = re.compile(r"[^a-zA-Z0-9\-.]")
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$")
_ACCOUNT = re.compile(r"^\d{12}$")
# An IAM principal by ARN: the account, a user, a role (by path and name), a role session, a federated user.
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam::(?P<account>\d{12}):(?:root|(?P<kind>user|role)(?P<path>/(?:[^/*?]+/)*)"
                            r"(?P<name>[\w+=,.@-]+))|sts::\d{12}:(?:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+|"
                            r"federated-user/[\w+=,.@-]+))$")
_WHITE_SPACE = str.maketrans("", "", " \t\n\r")  # the white space a policy document may hold (its API pattern)


def malformed(message: str) -> AwsError:
    """IAM's refusal of a document: ``MalformedPolicyDocument``, status 400, AWS's ``message``."""
    return AwsError("MalformedPolicyDocument", message, 400)


def size(document: str) -> int:
    """A document's size as IAM counts it against its quotas: characters, white space not counted."""
    return len(document.translate(_WHITE_SPACE))


def limit_exceeded(message: str) -> AwsError:
    """IAM's refusal of a request over a quota: ``LimitExceeded``, status 409."""
    return AwsError("LimitExceeded", message, 409)


def check_managed_size(document: str) -> None:
    """A managed policy (CreatePolicy, CreatePolicyVersion) within IAM's PolicySize quota."""
    # AWS's sentence as most reports quote it; some recent ones read "Cannot exceed the quota for PolicySize: 6144."
    if size(document) > MANAGED_POLICY_SIZE:
        raise limit_exceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")


def check_trust_size(document: str) -> None:
    """A role trust policy (CreateRole, UpdateAssumeRolePolicy) within IAM's ACLSizePerRole quota."""
    if size(document) > TRUST_POLICY_SIZE:
        raise limit_exceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")


def check_inline_size(entity: str, name: str, document: str, others: Iterable[str]) -> None:
    """The inline policies of a role, user or group (``entity``) within IAM's aggregate quota, ``document``
    counted with the ``others`` it keeps (not the one it replaces)."""
    quota = INLINE_POLICIES_SIZE[entity]
    if size(document) + sum(size(other) for other in others) > quota:
        raise limit_exceeded(f"Maximum policy size of {quota} bytes exceeded for {entity} {name}")


def _strings(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _string_or_strings(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, list) and all(isinstance(v, str) for v in value)


def _condition_syntax(block: Any) -> bool:
    """A Condition block as IAM's grammar has it: operators (known ones) mapping keys to plain values."""
    if not isinstance(block, Mapping):
        return False
    for written, keys in block.items():
        set_operator, _, name = written.rpartition(":")
        base = name[: -len("IfExists")] if name.endswith("IfExists") and name != "NullIfExists" else name
        if set_operator and set_operator not in SET_OPERATORS or base not in OPERATORS and base != "Null":
            return False
        if not isinstance(keys, Mapping) or not keys:
            return False
        for value in keys.values():
            values = _strings(value)
            if not values or not all(isinstance(v, (str, bool)) for v in values):
                return False
    return True


def _principal_syntax(element: Any) -> bool:
    if element == "*":
        return True
    return (isinstance(element, Mapping) and bool(element) and all(
        kind in _PRINCIPAL_TYPES and bool(_strings(values)) and all(isinstance(v, str) and v for v in _strings(values))
        for kind, values in element.items()))


def _statement_syntax(statement: Any) -> bool:
    if not isinstance(statement, Mapping) or any(key not in _ELEMENTS for key in statement):
        return False
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if one in statement and other in statement:
            return False
    effect = statement.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        return False
    if not all(_string_or_strings(statement[key]) for key in ("Action", "NotAction", "Resource", "NotResource")
               if key in statement):
        return False
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        return False
    principal = statement.get("Principal", statement.get("NotPrincipal", "*"))
    return _principal_syntax(principal) and ("Condition" not in statement or _condition_syntax(statement["Condition"]))


def _decoded(document: str) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
    """The document and its statements, or "Syntax errors in policy." for anything outside IAM's grammar."""
    try:
        decoded = json.loads(document)
    except (ValueError, RecursionError):  # RecursionError: arrays nested deeper than Python's parser goes
        raise malformed(SYNTAX) from None
    if not isinstance(decoded, dict) or any(key not in _TOP for key in decoded) or "Statement" not in decoded:
        raise malformed(SYNTAX)
    if "Version" in decoded and decoded["Version"] not in _VERSIONS or not isinstance(decoded.get("Id", ""), str):
        raise malformed(SYNTAX)
    raw = decoded["Statement"]
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements or not all(_statement_syntax(s) for s in statements):
        raise malformed(SYNTAX)
    return decoded, statements


def _action_prefix(action: str) -> None:
    vendor, *rest = action.split(":")
    if not rest and vendor != "*":
        raise malformed(NO_VENDOR)
    if len(rest) > 1:
        raise malformed(ONE_COLON)
    if vendor != "*" and _VENDOR.search(vendor):
        raise malformed(f"Vendor {vendor} is not valid")


def _common(decoded: Mapping[str, Any], statements: list[Mapping[str, Any]], kind: str) -> None:
    """What IAM checks of every policy after its syntax, in IAM's order. A trust policy may still be of
    version 2008-10-17 (or name none, which means that version): IAM takes it on CreateRole, as roles made
    from older templates show; moto's UpdateAssumeRolePolicy refuses it, and labstack leaves moto that answer."""
    if kind != TRUST and decoded.get("Version") != "2012-10-17":
        raise malformed(VERSION)
    if any(s["Effect"] not in ("Allow", "Deny") for s in statements):  # the grammar takes any case, legacy parsing not
        raise malformed(LEGACY)
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise malformed(SIDS)
    for statement in statements:
        actions = statement.get("Action", statement.get("NotAction"))
        if actions is None or actions == []:
            raise malformed(NO_ACTIONS)
    for statement in statements:
        for action in _strings(statement.get("Action", statement.get("NotAction"))):
            _action_prefix(action)
    for statement in statements:
        for keys in statement.get("Condition", {}).values():
            if any(":" not in key for key in keys):  # a condition key is "vendor:key" too
                raise malformed(NO_VENDOR)


def _identity(statements: list[Mapping[str, Any]]) -> None:
    if any("Principal" in s or "NotPrincipal" in s for s in statements):
        raise malformed(PRINCIPAL_IN_IDENTITY)
    for statement in statements:
        resources = statement.get("Resource", statement.get("NotResource"))
        if resources in (None, []):
            raise malformed(NO_RESOURCES)
        if "" in _strings(resources):  # moto checks resource formats; this one the evaluator would refuse first
            raise malformed('Resource  must be in ARN format or "*".')


def _invalid_principal(kind: str, value: str) -> AwsError:
    return malformed(f'Invalid principal in policy: "{kind.upper() if kind != "AWS" else kind}":"{value}"')


def _trust(statements: list[Mapping[str, Any]]) -> None:
    for statement in statements:
        if any(action not in _TRUST_ACTIONS for action in _strings(statement.get("Action", ""))):
            raise malformed(TRUST_ACTIONS)  # NotAction too: a trust policy lists what it allows
    if any("Resource" in s or "NotResource" in s for s in statements):
        raise malformed(RESOURCE_IN_TRUST)
    if any("Principal" not in s for s in statements):  # NotPrincipal is not for trust policies either
        raise malformed(NO_PRINCIPAL)
    for statement in statements:
        principal = statement["Principal"]
        if principal == "*":
            continue
        for kind, values in principal.items():
            for value in _strings(values):
                if kind == "AWS" and not (value == "*" or _ACCOUNT.match(value) or _PRINCIPAL_ARN.match(value)):
                    raise _invalid_principal(kind, value)
                if kind == "Service" and not _SERVICE_PRINCIPAL.match(value):
                    raise _invalid_principal(kind, value)


def named_entities(document: str) -> list[tuple[str, str, str, str]]:
    """The IAM users and roles a (valid) trust policy names by ARN, as (ARN, account, "user"/"role", name):
    IAM refuses a trust policy naming one that does not exist."""
    _, statements = _decoded(document)
    found = []
    for statement in statements:
        principal = statement.get("Principal")
        if not isinstance(principal, Mapping):
            continue
        for value in _strings(principal.get("AWS", [])):
            matched = _PRINCIPAL_ARN.match(value)
            if matched and matched.group("kind"):
                found.append((value, matched.group("account"), matched.group("kind"), matched.group("name")))
    return found


def missing_entity(arn: str) -> AwsError:
    """IAM's refusal of a trust policy naming a user or role that does not exist."""
    return _invalid_principal("AWS", arn)


def checked(document: str, kind: str, name: str = "policy") -> Policy:
    """``document`` parsed by labstack's evaluator as a ``kind`` policy (IDENTITY or TRUST), or IAM's
    ``MalformedPolicyDocument`` with AWS's message for the first thing IAM would refuse in it."""
    decoded, statements = _decoded(document)
    _common(decoded, statements, kind)
    (_trust if kind == TRUST else _identity)(statements)
    try:
        return Policy.parse(decoded, name, kind)
    except PolicyError:  # nothing above let it through knowingly: the evaluator has the last word
        raise malformed(SYNTAX) from None

