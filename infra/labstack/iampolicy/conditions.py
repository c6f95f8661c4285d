"""Condition operators, as IAM documents them ("IAM JSON policy elements: Condition operators").

A condition block holds operators, each operator context keys, each key one or more values:
every operator and every key must hold (AND), any one value of a key will do (OR), and a negated
operator (``StringNotEquals``, ``ArnNotLike``…) holds when the request's value matches none of them.
A key the request lacks makes an operator false, a negated one true; ``…IfExists`` makes it true;
``Null`` tests presence. ``ForAnyValue:``/``ForAllValues:`` compare each of a multivalued key's values:
``ForAnyValue`` needs one (false when the key is missing or empty), ``ForAllValues`` needs all (true
when the key is missing or empty). Context key names ignore case; values follow the operator.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from labstack.iampolicy.matching import arn_matches, lookup_in, string_matches, substitute


class PolicyError(ValueError):
    """A policy document IAM would refuse: the message says which element and why."""


Context = Mapping[str, Sequence[str]]


def normalize_context(context: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """Request context keys lower-cased, each value a tuple of strings (booleans as ``true``/``false``)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, value in (context or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        out[key.lower()] = tuple(_text(v) for v in values)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --- one value against one policy value -----------------------------------------------------

def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def _date(text: str) -> datetime | None:
    try:
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def match(policy: str, actual: str, **_: Any) -> bool:
        expected, got = parse(policy), parse(actual)
        return expected is not None and got is not None and test(got, expected)
    return match


def _ip(policy: str, actual: str, **_: Any) -> bool:
    try:
        network = ipaddress.ip_network(policy.strip(), strict=False)
        address = ipaddress.ip_address(actual.strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _binary(policy: str, actual: str, **_: Any) -> bool:
    try:
        return base64.b64decode(policy, validate=True) == base64.b64decode(actual, validate=True)
    except (binascii.Error, ValueError):
        return False


def _bool(policy: str, actual: str, **_: Any) -> bool:
    return policy.strip().lower() == actual.strip().lower()


@dataclass(frozen=True)
class Operator:
    """One base operator: how a request value matches a policy value, and whether it is negated."""

    match: Callable[..., bool]
    negated: bool = False
    variables: bool = False  # policy variables are substituted in its values (string and ARN operators)


def _string(wildcards: bool, ignore_case: bool) -> Callable[..., bool]:
    def match(policy: Any, actual: str, **_: Any) -> bool:
        return string_matches(policy, actual, wildcards=wildcards, ignore_case=ignore_case)
    return match


def _arn(policy: Any, actual: str, **_: Any) -> bool:
    return arn_matches(policy, actual)


_EQ, _LT, _LE = (lambda a, b: a == b), (lambda a, b: a < b), (lambda a, b: a <= b)
_GT, _GE = (lambda a, b: a > b), (lambda a, b: a >= b)

OPERATORS: dict[str, Operator] = {
    "StringEquals": Operator(_string(False, False), variables=True),
    "StringNotEquals": Operator(_string(False, False), negated=True, variables=True),
    "StringEqualsIgnoreCase": Operator(_string(False, True), variables=True),
    "StringNotEqualsIgnoreCase": Operator(_string(False, True), negated=True, variables=True),
    "StringLike": Operator(_string(True, False), variables=True),
    "StringNotLike": Operator(_string(True, False), negated=True, variables=True),
    "NumericEquals": Operator(_compare(_number, _EQ)),
    "NumericNotEquals": Operator(_compare(_number, _EQ), negated=True),
    "NumericLessThan": Operator(_compare(_number, _LT)),
    "NumericLessThanEquals": Operator(_compare(_number, _LE)),
    "NumericGreaterThan": Operator(_compare(_number, _GT)),
    "NumericGreaterThanEquals": Operator(_compare(_number, _GE)),
    "DateEquals": Operator(_compare(_date, _EQ)),
    "DateNotEquals": Operator(_compare(_date, _EQ), negated=True),
    "DateLessThan": Operator(_compare(_date, _LT)),
    "DateLessThanEquals": Operator(_compare(_date, _LE)),
    "DateGreaterThan": Operator(_compare(_date, _GT)),
    "DateGreaterThanEquals": Operator(_compare(_date, _GE)),
    "Bool": Operator(_bool),
    "BinaryEquals": Operator(_binary),
    "IpAddress": Operator(_ip),
    "NotIpAddress": Operator(_ip, negated=True),
    "ArnEquals": Operator(_arn, variables=True),
    "ArnLike": Operator(_arn, variables=True),
    "ArnNotEquals": Operator(_arn, negated=True, variables=True),
    "ArnNotLike": Operator(_arn, negated=True, variables=True),
}
SET_OPERATORS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class Clause:
    """One key of one operator of a Condition block, parsed: ``ForAllValues:StringLikeIfExists`` → parts."""

    operator: str  # as written in the policy
    key: str
    values: tuple[str, ...]
    base: str  # the base operator's name, or "Null"
    set_operator: str | None
    if_exists: bool

    def holds(self, context: Context, version: str | None) -> bool:
        """Whether this clause holds for the request context (keys lower-cased)."""
        actual = context.get(self.key.lower())
        present = actual is not None and len(actual) > 0
        if self.base == "Null":
            return any((v.strip().lower() == "true") != present for v in self.values)
        if not present:
            if self.if_exists or self.set_operator == "ForAllValues":
                return True
            if self.set_operator == "ForAnyValue":
                return False
            return OPERATORS[self.base].negated
        operator = OPERATORS[self.base]
        lookup = lookup_in(context)
        if operator.variables:
            policy_values: list[Any] = [substitute(v, version, lookup) for v in self.values]
        else:
            policy_values = list(self.values)

        def value_ok(value: str) -> bool:
            matched = any(operator.match(p, value) for p in policy_values)
            return not matched if operator.negated else matched

        if self.set_operator == "ForAllValues" or (operator.negated and not self.set_operator):
            return all(value_ok(v) for v in actual)
        return any(value_ok(v) for v in actual)


def parse_condition(block: Any, where: str) -> tuple[Clause, ...]:
    """The clauses of a statement's Condition block; :class:`PolicyError` for anything IAM would refuse."""
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise PolicyError(f"{where}: Condition must be an object of operators")
    clauses: list[Clause] = []
    for written, keys in block.items():
        if not isinstance(keys, Mapping) or not keys:
            raise PolicyError(f"{where}: condition operator {written} must map context keys to values")
        set_operator, _, name = written.rpartition(":")
        if set_operator and set_operator not in SET_OPERATORS:
            raise PolicyError(f"{where}: unknown set operator {set_operator} in {written}")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        base_name = name[: -len("IfExists")] if if_exists else name
        base = base_name if base_name in OPERATORS or (base_name == "Null" and not if_exists) else None
        if base is None:
            raise PolicyError(f"{where}: unknown condition operator {written}")
        for key, value in keys.items():
            values = value if isinstance(value, list) else [value]
            if not values or any(isinstance(v, (dict, list)) or v is None for v in values):
                raise PolicyError(f"{where}: {written} {key} needs one or more plain values")
            clauses.append(Clause(written, str(key), tuple(_text(v) for v in values), base,
                              set_operator or None, if_exists))
    return tuple(clauses)


def failing_clause(clauses: Sequence[Clause], context: Context, version: str | None) -> Clause | None:
    """The first clause that does not hold, or None when the whole Condition block holds."""
    return next((c for c in clauses if not c.holds(context, version)), None)


