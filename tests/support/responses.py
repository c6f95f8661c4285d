"""Check every response a boto3 client receives against the operation's output shape."""

from __future__ import annotations

import json
from typing import Any

from botocore.response import StreamingBody
from labstack.protocol import shapes


def check_responses(client: Any) -> Any:
    """Make ``client`` fail any call whose response breaks the output shape.

    JSON-protocol responses are checked on the bytes on the wire, strictly (botocore's
    parser would silently drop unknown members): unknown and missing required members,
    types, epoch-number timestamps and base64 blobs. Other protocols (query XML,
    rest-json headers and payloads) are checked as botocore parsed them.
    """

    def after_call(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        shape = model.output_shape
        if model.service_model.resolved_protocol == "json":
            body = http_response.content
            found = shapes.problems(shape, json.loads(body) if body else {}, wire=True, strict=True)
        else:
            values = {k: v for k, v in parsed.items() if k != "ResponseMetadata" and not isinstance(v, StreamingBody)}
            found = shapes.problems(shape, values, wire=False, strict=True)
        assert not found, f"{model.name} response breaks its output shape: {found}"

    client.meta.events.register("after-call.*.*", after_call)
    return client
