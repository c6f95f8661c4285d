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


@lru_cache(maxsize=8192)
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


# A compiled pattern: element kinds "c" (one literal character), "?" (any one character) and "*" (any run),
# each with whether it may match a colon (ARN rules keep wildcards of the first five segments inside them).
Element = tuple[str, str, bool]


@lru_cache(maxsize=4096)
def _elements(pattern: tuple[Token, ...], arn: bool) -> tuple[Element, ...]:
    out: list[Element] = []
    colons = 0
    for i, (kind, text) in enumerate(pattern):
        if kind == "lit":
            out.extend(("c", char, True) for char in text)
            colons += text.count(":")
            continue
        if not arn or colons >= 5:
            out.append((kind, "", True))
            continue
        following = pattern[i + 1] if i + 1 < len(pattern) else None
        ends_segment = following is None or (following[0] == "lit" and following[1].startswith(":"))
        out.append((kind, "", kind == "*" and ends_segment))
    return tuple(out)


@lru_cache(maxsize=4096)
def _regex(elements: tuple[Element, ...], ignore_case: bool) -> re.Pattern[str]:
    parts = [re.escape(c) if kind == "c" else ("." if colon else "[^:]") + ("*" if kind == "*" else "")
             for kind, c, colon in elements]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _simulate(elements: tuple[Element, ...], text: str, ignore_case: bool) -> bool:
    """Match by walking every position of the pattern at once: time grows with pattern × text, never
    exponentially, whatever number of wildcards a hostile policy holds."""
    if ignore_case:
        text = text.casefold()
        elements = tuple((k, c.casefold(), colon) for k, c, colon in elements)

    def closure(states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            i = todo.pop()
            if i < len(elements) and elements[i][0] == "*" and i + 1 not in states:
                states.add(i + 1)
                todo.append(i + 1)
        return states

    current = closure({0})
    for char in text:
        following: set[int] = set()
        for i in current:
            if i == len(elements):
                continue
            kind, literal, colon = elements[i]
            fits = colon or char != ":"
            if kind == "c" and literal == char or kind == "?" and fits:
                following.add(i + 1)
            elif kind == "*" and fits:
                following.add(i)
        if not following:
            return False
        current = closure(following)
    return len(elements) in current


@lru_cache(maxsize=8192)
def _matcher(pattern: tuple[Token, ...], arn: bool, ignore_case: bool) -> Callable[[str], bool]:
    """How ``pattern`` is matched, decided once: a regex (one star cannot make it backtrack badly), or
    the simulation for more."""
    elements = _elements(pattern, arn)
    if sum(1 for kind, _, _ in elements if kind == "*") <= 1:
        regex = _regex(elements, ignore_case)
        return lambda text: regex.fullmatch(text) is not None
    return lambda text: _simulate(elements, text, ignore_case)


def _matches(pattern: tuple[Token, ...], text: str, *, arn: bool, ignore_case: bool) -> bool:
    return _matcher(pattern, arn, ignore_case)(text)


@lru_cache(maxsize=16384)
def action_matches(pattern: str, action: str) -> bool:
    """True when the policy's action pattern (``s3:Get*``, ``*``) covers ``action``, ignoring case."""
    return _matches(tokens(pattern), action, arn=False, ignore_case=True)


def arn_matches(pattern: tuple[Token, ...] | None, arn: str) -> bool:
    """True when an ARN pattern (already substituted) matches ``arn``, segment by segment, with case."""
    return pattern is not None and _matches(pattern, arn, arn=True, ignore_case=False)


def string_matches(pattern: tuple[Token, ...] | None, value: str, *, wildcards: bool, ignore_case: bool) -> bool:
    """True when a string condition value matches ``value``: exactly, or with ``*``/``?`` (StringLike)."""
    if pattern is None:
        return False
    if not wildcards:
        expected = "".join(kind if kind != "lit" else text for kind, text in pattern)
        return expected.casefold() == value.casefold() if ignore_case else expected == value
    return _matches(pattern, value, arn=False, ignore_case=ignore_case)


def lookup_in(context: Mapping[str, Sequence[str]]) -> Lookup:
    """A variable lookup over a normalized request context (keys lower-cased)."""
    return lambda key: context.get(key.lower())
