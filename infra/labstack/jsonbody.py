"""The JSON body of a request to one of labstack's own endpoints (the console's API, the image engine)."""

from __future__ import annotations

import json
from typing import Any


class BadBody(ValueError):
    """A body that is not one JSON object of a size the endpoint takes; the message says why."""


def read_object(environ: dict, limit: int) -> dict[str, Any]:
    """The request's body as a JSON object of at most ``limit`` bytes, sent as application/json.

    (A JSON content type also keeps a cross-site form from posting here without a CORS preflight.)"""
    if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
        raise BadBody("send the body as application/json")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 < length <= limit:
        raise BadBody(f"the body must be 1 to {limit} bytes")
    try:
        body = json.loads(environ["wsgi.input"].read(length))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested deeper than the parser goes
        raise BadBody("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    return body
