"""Offset-based pagination for providers: a page of items and the token for the next one."""

from __future__ import annotations

from typing import TypeVar

from labstack.errors import AwsError

T = TypeVar("T")


def page(items: list[T], token: str | None, size: int, error: str = "InvalidNextTokenException",
         message: str = "The next token is not valid") -> tuple[list[T], str | None]:
    """The items from the offset ``token`` names, at most ``size``; the next token if more remain.
    A token that no earlier page handed out is answered with ``error``."""
    start = 0
    if token:
        if not token.isdigit() or int(token) > len(items):
            raise AwsError(error, message)
        start = int(token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
