"""Wildcards and policy variables: how an Action, a Resource ARN and a string condition value match.

- Actions (``service:Name``) match case-insensitively; ``*`` is any run of characters, ``?`` one.
- Resource ARNs match case-sensitively and segment by segment: within one of the first five
  colon-separated segments a wildcard stays inside it, except that a ``*`` ending a segment may run
  on across the colons that follow (IAM's documented ARN wildcard rule); ``"*"`` alone matches all.
- Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'none'}``, ``${*}``, ``${?}``,
  ``${$}``) are substituted only in documents of version ``2012-10-17``; a variable whose key the
  request does not carry, and that has no default, makes the value match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

VARIABLES_VERSION = "2012-10-17"

# A token of a pattern: a literal run of text, or one of the wildcards "*" / "?".
Token = tuple[str, str]
STAR: Token = ("*", "")
ONE: Token = ("?", "")

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'((?:[^']|'')*)'\s*$")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


def tokens(text: str) -> tuple[Token, ...]:
    """``text`` as literal runs and wildcards, with no variables."""
    out: list[Token] = []
    literal = ""
    for char in text:
        if char in "*?":
            if literal:
                out.append(("lit", literal))
                literal = ""
            out.append(STAR if char == "*" else ONE)
        else:
            literal += char
    if literal:
        out.append(("lit", literal))
    return tuple(out)


Lookup = Callable[[str], Sequence[str] | None]


def substitute(text: str, version: str | None, lookup: Lookup) -> tuple[Token, ...] | None:
    """``text`` with its policy variables replaced from the request (``lookup(key)`` gives the values);
    None when a variable has no single value and no default, so that the value matches nothing."""
    if version != VARIABLES_VERSION or "${" not in text:
        return tokens(text)
    out: list[Token] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        out.extend(tokens(text[position:found.start()]))
        position = found.end()
        inner = found.group(1)
        if inner in _LITERALS:
            out.append(("lit", _LITERALS[inner]))
            continue
        default = _DEFAULT.match(inner)
        key = default.group(1) if default else inner.strip()
        values = lookup(key)
        if values is not None and len(values) == 1:
            out.append(("lit", values[0]))
        elif default:
            out.append(("lit", default.group(2).replace("''", "'")))
        else:
            return None
    out.extend(tokens(text[position:]))
    return tuple(out)


@lru_cache(maxsize=4096)
def _plain_regex(pattern: tuple[Token, ...], ignore_case: bool) -> re.Pattern[str]:
    parts = [".*" if kind == "*" else "." if kind == "?" else re.escape(text) for kind, text in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=4096)
def _arn_regex(pattern: tuple[Token, ...]) -> re.Pattern[str]:
    # Walk the tokens, counting colons: in the first five segments "?" and an inner "*" stay in their
    # segment; a "*" that ends a segment (next is ":" or the end) may run across colons.
    parts: list[str] = []
    colons = 0
    for i, (kind, text) in enumerate(pattern):
        if kind == "lit":
            parts.append(re.escape(text))
            colons += text.count(":")
            continue
        in_resource = colons >= 5
        if kind == "?":
            parts.append("." if in_resource else "[^:]")
            continue
        following = pattern[i + 1] if i + 1 < len(pattern) else None
        ends_segment = following is None or (following[0] == "lit" and following[1].startswith(":"))
        parts.append(".*" if in_resource or ends_segment else "[^:]*")
    return re.compile("".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """True when the policy's action pattern (``s3:Get*``, ``*``) covers ``action``, ignoring case."""
    return _plain_regex(tokens(pattern), True).fullmatch(action) is not None


def arn_matches(pattern: tuple[Token, ...] | None, arn: str) -> bool:
    """True when an ARN pattern (already substituted) matches ``arn``, segment by segment, with case."""
    return pattern is not None and _arn_regex(pattern).fullmatch(arn) is not None


def string_matches(pattern: tuple[Token, ...] | None, value: str, *, wildcards: bool, ignore_case: bool) -> bool:
    """True when a string condition value matches ``value``: exactly, or with ``*``/``?`` (StringLike)."""
    if pattern is None:
        return False
    if not wildcards:
        expected = "".join(kind if kind != "lit" else text for kind, text in pattern)
        return expected.casefold() == value.casefold() if ignore_case else expected == value
    return _plain_regex(pattern, ignore_case).fullmatch(value) is not None


def lookup_in(context: Mapping[str, Sequence[str]]) -> Lookup:
    """A variable lookup over a normalized request context (keys lower-cased)."""
    return lambda key: context.get(key.lower())
