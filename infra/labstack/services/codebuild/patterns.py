"""Regular expressions a learner writes (webhook filter patterns, ``on-failure: RETRY-<regex>``), matched
without letting a hostile pattern hang labstack.

AWS reads these patterns as regular expressions. labstack matches them with the ``regex`` package,
whose matcher takes a time limit: a pattern that backtracks catastrophically (``^(a|a)*$`` against a
long text) is stopped after :data:`MATCH_SECONDS` and its answer is "undecided", which starts no
webhook build and retries no phase; the log says so.
"""

from __future__ import annotations

import logging
from typing import Any

import regex

log = logging.getLogger("labstack.codebuild")
MATCH_SECONDS = 0.2  # one match; a webhook runs a handful per push, so a push costs at most a few seconds
MAX_PATTERN = 1024  # longer patterns are refused before they are compiled
MAX_TEXT = 64 * 1024  # a commit message or path longer than this is matched on its first 64 KiB


class PatternError(ValueError):
    """A pattern that does not compile (or is too long); the message says why."""


def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled, or :class:`PatternError`."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"the pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN}")
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise PatternError(f"{pattern!r} is not a valid regular expression: {exc}") from None


def found(compiled: Any, text: str, seconds: float = MATCH_SECONDS) -> bool | None:
    """Whether ``compiled`` matches anywhere in ``text``; None when the match ran past ``seconds`` (undecided)."""
    try:
        return compiled.search(text[:MAX_TEXT], timeout=seconds) is not None
    except TimeoutError:
        log.warning("the pattern %r took more than %.2f s on a text of %d characters: given up",
                    compiled.pattern, seconds, len(text))
        return None
