"""AWS-shaped errors, rendered in the wire format of the protocol the client speaks."""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

# Protocol families as botocore names them (``metadata.protocol``).
JSON = "json"
REST_JSON = "rest-json"
QUERY = "query"
REST_XML = "rest-xml"


class AwsError(Exception):
    """An error an AWS service would answer: a code, a message and an HTTP status.

    ``status`` None means "whatever the service model says for this code, else 400".
    ``fields`` are extra members of the error shape (e.g. ``resourceName``).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        fields: dict | None = None,
        sender_fault: bool = True,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields or {}
        self.sender_fault = sender_fault


def validation_error(problems: list[str]) -> AwsError:
    """AWS's ``ValidationException`` listing each constraint a request broke."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return AwsError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(problems), 400)


def not_emulated(service: str, operation: str | None) -> AwsError:
    """The error for an operation no part of labstack implements."""
    what = f"{service}.{operation}" if operation else f"this {service} request"
    return AwsError(
        "NotImplemented",
        f"labstack does not emulate {what}; see the README for what each service supports",
        501,
        sender_fault=False,
    )


def new_request_id() -> str:
    return str(uuid.uuid4())


def render(error: AwsError, protocol: str, request_id: str, json_version: str = "1.1") -> tuple[int, list[tuple[str, str]], bytes]:
    """Serialise ``error`` for ``protocol``; returns status, headers and body."""
    status = error.status or 400
    if protocol in (QUERY, "ec2"):
        kind = "Sender" if error.sender_fault else "Receiver"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
            f"<Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    elif protocol == REST_XML:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        payload = {"__type": error.code, "message": error.message, **error.fields}
        body = json.dumps(payload).encode()
        content_type = f"application/x-amz-json-{json_version}" if protocol == JSON else "application/json"
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.code),
        ]
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body
