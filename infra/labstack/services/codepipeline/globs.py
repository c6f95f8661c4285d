"""The glob patterns of CodePipeline V2 trigger filters (branches, tags, file paths).

AWS documents the syntax ("Working with glob patterns in syntax", CodePipeline user guide):
``*`` matches within one path component, ``**`` across components, ``?`` one character, ``[ ]`` one
character of a set (``!`` negates; inside brackets ``*``, ``?`` and ``\\`` are themselves, ``-`` first
is itself), ``{a,b}`` any of the sub-patterns, ``\\`` escapes a special character. wcmatch's
``globmatch`` does the matching; readings of AWS's that it does not share are rewritten first: a
``**`` inside a component (``src**``, ``**.py``) still crosses directories, a backslash inside brackets
is a literal backslash, and ``{x}`` is a group of one sub-pattern (never a ``{1..3}`` sequence).
"""

from __future__ import annotations

import functools

from wcmatch import glob

_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTMATCH
# brace expansion of a 255-character pattern can reach billions of patterns: past this many, the
# pattern is refused (PatternLimitException) instead of expanded
_LIMIT = 1000


def _rewrite(pattern: str) -> str:
    """``pattern`` in wcmatch's dialect: a ``**`` that is not a whole component becomes
    ``*{,/**/}*`` (same component, or across any number of directories), ``\\`` inside
    brackets is doubled so it stands for itself, and a group of one sub-pattern ``{x}`` becomes
    ``{x,x}`` so that it is a group (AWS's reading) rather than a literal or a ``{1..3}`` sequence."""
    out: list[str] = []
    groups: list[list] = []  # per open brace: where it is in ``out``, whether it has a comma yet
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(pattern[i:i + 2])
            i += 2
        elif c == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            out.append(pattern[i:end + 1].replace("\\", "\\\\"))
            i = end + 1
        elif pattern.startswith("**", i):
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            whole = (i == 0 or pattern[i - 1] == "/") and (j == n or pattern[j] == "/")
            out.append("**" if whole else "*{,/**/}*")
            i = j
        elif c == "{":
            groups.append([len(out), False])
            out.append(c)
            i += 1
        elif c == "," and groups:
            groups[-1][1] = True
            out.append(c)
            i += 1
        elif c == "}" and groups:
            start, comma = groups.pop()
            out.append("}" if comma else "," + "".join(out[start + 1:]) + "}")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> glob.WcRegexp | None:
    """``pattern`` compiled, or None when its braces expand past ``_LIMIT`` patterns."""
    try:
        return glob.compile(_rewrite(pattern), flags=_FLAGS, limit=_LIMIT)
    except Exception as error:  # wcmatch's PatternLimitException, not exported by a public module
        if "limit" not in str(error).lower():
            raise
        return None


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` (a branch, a tag or a file path) matches the trigger-filter glob ``pattern``
    as CodePipeline reads it; a pattern whose braces expand past 1000 patterns matches nothing."""
    compiled = _compiled(pattern)
    return compiled is not None and bool(compiled.match(text))
