"""What a served call was, read off the wire: its operation and parameters, its error, its new identifiers.

The gateway hands every AWS request through here once, whichever protocol it speaks and whoever
answers it (a provider or moto); nothing is parsed that the call's record does not keep.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import unescape

from labstack.protocol import models
from labstack.protocol.incoming import Incoming
from labstack.protocol.rest_codec import RestJsonCodec

# A body past this size is not read for names (a Lambda zip in CreateFunction): the URI still names it.
MAX_PARSED_BODY = 1024 * 1024
# An answer past this size is not read for the identifiers a create call returns, nor for its error.
MAX_PARSED_ANSWER = 64 * 1024
# botocore's service names by the name requests are signed with, where they differ.
_MODEL_NAMES = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2"}


def operation(incoming: Incoming, service: str | None, bucket: str | None) -> tuple[str | None, dict[str, Any]]:
    """The operation a request calls and its parameters as sent (names only where the wire nests them):
    a REST call's URI labels, query-string and header members by their model names, and its JSON body.

    ``bucket`` is an S3 bucket named by the Host header (virtual-hosted style): its path names the key.
    """
    target = incoming.header("X-Amz-Target")
    if target:
        return target.rpartition(".")[2], _json_body(incoming)
    form = incoming.content_type.startswith("application/x-www-form-urlencoded")
    if service != "s3" and (form or "Action" in incoming.query):
        params = _flat_query(incoming.query)
        if form and incoming.method == "POST" and len(incoming.body) <= MAX_PARSED_BODY:
            params.update(_flat_query(parse_qs(incoming.body.decode("utf-8", "replace"), keep_blank_values=True)))
        name = params.pop("Action", None)
        return (name if isinstance(name, str) else None), params
    codec = _rest_codec(service or "")
    if codec is None:
        return None, {}
    path = f"/{bucket}{incoming.path}" if bucket else incoming.path
    found = codec.match(incoming, path)
    if found is None:
        return None, {}
    name, labels = found
    params: dict[str, Any] = {k: unquote(v) for k, v in labels.items()}
    for member, where, key, listed in _outside_body(service or "", name):
        if where == "header":
            value = incoming.header(key)
            if value is not None:
                params.setdefault(member, value)
        elif key in incoming.query:
            values = incoming.query[key]
            params.setdefault(member, values if listed else values[-1])
    if service != "s3" and incoming.content_type.startswith("application/json"):
        params.update({k: v for k, v in _json_body(incoming).items() if k not in params})
    return name, params


@functools.lru_cache(maxsize=None)
def _rest_codec(service: str) -> RestJsonCodec | None:
    """A matcher of a REST service's URIs (Lambda, S3), from botocore's model; None for another service."""
    name = _MODEL_NAMES.get(service, service)
    try:
        meta = models.metadata(name)
    except Exception:
        return None
    if models.resolved_protocol(meta) not in ("rest-json", "rest-xml"):
        return None
    return RestJsonCodec(models.service_model(name))


@functools.lru_cache(maxsize=None)
def _outside_body(service: str, name: str) -> tuple[tuple[str, str, str, bool], ...]:
    """(member, location, wire name, is a list) of a REST operation's members sent in the query string or a
    header (S3's ``versionId``, ``prefix`` and ``x-amz-copy-source``, Lambda's ``Qualifier``)."""
    shape = models.operations(_MODEL_NAMES.get(service, service))[name].input_shape
    if shape is None:
        return ()
    return tuple((member, where, found.serialization.get("name", member), found.type_name == "list")
                 for member, found in shape.members.items()
                 if (where := found.serialization.get("location")) in ("querystring", "header"))


def _json_body(incoming: Incoming) -> dict[str, Any]:
    body = incoming.body
    if not body or len(body) > MAX_PARSED_BODY:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


_MEMBER = re.compile(r"^(\w+)(?:\.member\.\d+)?$")


def _flat_query(query: dict[str, list[str]]) -> dict[str, Any]:
    """Query-protocol parameters: ``AlarmNames.member.2`` joins ``AlarmNames``; deeper members are left out."""
    params: dict[str, Any] = {}
    for key, values in query.items():
        match = _MEMBER.match(key)
        if match is None or not values:
            continue
        if match.group(0) == match.group(1):
            params[key] = values[-1]
        else:
            listed = params.setdefault(match.group(1), [])
            if isinstance(listed, list):
                listed.append(values[-1])
    return params


def error(headers: list[tuple[str, str]], body: bytes) -> tuple[str, str]:
    """The error code and message of a failed call's answer, in whichever protocol it came."""
    code = next((v for k, v in headers if k.lower() == "x-amzn-errortype"), "")
    message = ""
    text = body[:MAX_PARSED_ANSWER].decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if isinstance(data, dict):
            code = code or str(data.get("__type") or data.get("code") or data.get("Code") or "")
            message = str(data.get("message") or data.get("Message") or "")
    elif text.startswith("<"):
        found = re.search(r"<Code>([^<]*)</Code>", text)
        code = code or (unescape(found.group(1)) if found else "")
        said = re.search(r"<Message>([^<]*)</Message>", text)
        message = unescape(said.group(1)) if said else ""
    return code.split(":")[0].rpartition("#")[2], message


_REQUEST_ID_HEADERS = ("x-amzn-requestid", "x-amz-request-id")
_XML_REQUEST_ID = re.compile(rb"<RequestId>([^<]{1,128})</RequestId>")


def request_id(headers: list[tuple[str, str]], body: bytes) -> str | None:
    """The request id an answer gives (a header, or the XML's ``RequestId`` near its end)."""
    found = next((v for k, v in headers if k.lower() in _REQUEST_ID_HEADERS), None)
    if found:
        return found
    match = _XML_REQUEST_ID.search(body[-1024:])
    return match.group(1).decode("ascii", "replace") if match else None


_XML_VALUE = re.compile(r"<(\w+)>([^<]{1,2048})</\1>")


def answered(body: bytes, wanted: frozenset[str]) -> list[tuple[str, str]]:
    """(member, value) of the ``wanted`` members an answer carries, JSON or XML, at any depth up to three."""
    text = body[:MAX_PARSED_ANSWER].decode("utf-8", "replace").lstrip()
    if text.startswith("<"):
        return [(m.group(1), unescape(m.group(2))) for m in _XML_VALUE.finditer(text) if m.group(1) in wanted]
    try:
        data = json.loads(text) if text.startswith("{") else None
    except ValueError:
        return []
    found: list[tuple[str, str]] = []
    _walk(data, wanted, found, 3)
    return found


def _walk(data: Any, wanted: frozenset[str], found: list[tuple[str, str]], depth: int) -> None:
    if depth <= 0 or not isinstance(data, dict):
        return
    for key, value in data.items():
        if key in wanted and isinstance(value, str):
            found.append((key, value))
        elif isinstance(value, dict):
            _walk(value, wanted, found, depth - 1)
