"""Every operation name, parameter, bucket and key moto could read off a request: the gate decides a call
only when they agree with what it read (``services.cloudtrail.wire``).

moto reads a query-style ``Action`` from the form body, else from the query string (its first value),
else from any body that parses as ``a=b&…`` whatever its content type, else from a header named
``Action``, and prefers any of those to ``X-Amz-Target``; it reads a parameter's first value, and reads
a body the gate did not read as a form. A second name anywhere, a parameter given twice with different
values, or one the gate did not read would let moto serve what nobody decided: the gate refuses such a
request. (The gateway ungzips a body before anyone reads it, as moto would.)
S3 names no operation that way, but moto takes the bucket from the Host of any dotted name that is not
an IP (``victim.localhost``) where the gate, as AWS's SDKs, reads a path-style request, and serves a
subresource the decided operation does not take (``?tagging&policy``): the bucket, key and query keys
moto reads must be the ones the gate decided on.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qsl

from labstack import motobridge
from labstack.protocol import models
from labstack.protocol.incoming import Incoming

# The name a multipart body stands for: the gate cannot read a form moto would parse from it.
MULTIPART = "(a multipart/form-data body)"
_PRESIGNED_V2 = ("awsaccesskeyid", "expires", "signature")
_PARAMETER = re.compile(r"[A-Za-z]\w*(?:\.member\.\d+)?")  # the members the gate reads (``wire._flat_query``)


def disagreement(incoming: Incoming, operation: str | None, params: dict[str, Any], query_style: bool) -> str | None:
    """Why moto might serve another operation, or (a ``query_style`` call's) other parameters, than the
    gate read as ``operation`` with ``params`` (``None``: every reading agrees)."""
    others = sorted(names(incoming) - {operation})
    if others:
        return f"the request also names {', '.join(others)} as its operation"
    if not query_style:
        return None
    clashing = clashes(incoming)
    if clashing:
        return f"it gives {', '.join(clashing)} more than one value"
    unread = sorted({key for key, value in _body_pairs(incoming) if key != "Action" and _PARAMETER.fullmatch(key)
                     and not _read(params, key, value)})
    if unread:
        return f"its body gives {', '.join(unread)}, which the gate did not read (Content-Type {incoming.content_type or 'none'})"
    return None


def _read(params: dict[str, Any], key: str, value: str) -> bool:
    """Whether the gate's parameters hold ``key`` (``Names.member.2``: an item of ``Names``) as ``value``."""
    name, _, rest = key.partition(".member.")
    held = params.get(name)
    return value in held if rest and isinstance(held, list) else held == value


def s3_disagreement(incoming: Incoming, operation: str | None, params: dict[str, Any]) -> str | None:
    """Why moto would serve another operation (a second subresource: ``?tagging&policy``) or act on another
    bucket or key than the gate read as ``operation`` with ``params``, or None."""
    if operation is not None:
        taken = _s3_query_keys(operation)
        extra = sorted(k for k in incoming.query if k.lower() not in taken and not k.lower().startswith("x-amz-"))
        if extra:
            return f"its query string names {', '.join(extra)}, which S3's {operation} does not take"
    bucket, key = s3_target(incoming)
    read = (params.get("Bucket") or None, params.get("Key") or "")
    if (bucket, key) == read:
        return None
    return (f"its Host and path name bucket {bucket or '(none)'} and key {key or '(none)'} to the emulator, "
            f"not bucket {read[0] or '(none)'} and key {read[1] or '(none)'}")


@functools.lru_cache(maxsize=None)
def _s3_query_keys(operation: str) -> frozenset[str]:
    """The query keys an S3 operation takes, in lower case: its URI's own (``tagging`` of GetBucketTagging,
    ``list-type`` of ListObjectsV2), its query-string members' (``versionId``), the SDKs' ``x-id`` and a
    SigV2 presigned URL's signature (SigV4's are ``X-Amz-*``)."""
    model = models.operations("s3").get(operation)
    if model is None:
        return frozenset()
    literal = model.http.get("requestUri", "").partition("?")[2]
    keys = {part.partition("=")[0].lower() for part in literal.split("&") if part}
    shape = model.input_shape
    members = shape.members.values() if shape is not None else ()
    keys.update(m.serialization.get("name", m.name).lower() for m in members
                if m.serialization.get("location") == "querystring")
    return frozenset({*keys, "x-id", *_PRESIGNED_V2})


def s3_target(incoming: Incoming) -> tuple[str | None, str]:
    """The bucket and key moto's S3 reads off a request's Host and path."""
    return motobridge.s3_request_target(incoming.header("Host") or "", incoming.path)


def names(incoming: Incoming) -> set[str]:
    """The operation names a request to moto carries (not S3's: it names none), wherever moto may look."""
    found = set(incoming.query.get("Action", []))
    target = incoming.header("X-Amz-Target")
    if target:
        found.add(target.rpartition(".")[2])
    header = incoming.header("Action")
    if header is not None:
        found.add(header)
    if incoming.content_type.lower().startswith("multipart/"):
        found.add(MULTIPART)
    found.update(value for key, value in _body_pairs(incoming) if key == "Action")
    return found


def clashes(incoming: Incoming) -> list[str]:
    """Parameters a query call gives more than once with different values, in its query string, its body
    or both (moto reads the first, the gate the last)."""
    given: dict[str, set[str]] = {}
    for key, values in incoming.query.items():
        if not key.startswith("X-Amz-"):
            given.setdefault(key, set()).update(values)
    for key, value in _body_pairs(incoming):
        given.setdefault(key, set()).add(value)
    return sorted(key for key, values in given.items() if len(values) > 1 and key != "Action")


def _body_pairs(incoming: Incoming) -> list[tuple[str, str]]:
    body = incoming.body
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if body else []
