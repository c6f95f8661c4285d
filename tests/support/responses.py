"""Check every response a boto3 client receives against the operation's output shape."""

from __future__ import annotations

import json
from typing import Any

from labstack.protocol import shapes


def check_responses(client: Any) -> Any:
    """Make ``client`` fail any call whose raw JSON response breaks the output shape.

    The check reads the bytes on the wire (botocore's parser would silently drop
    unknown members), strictly: unknown members, missing required members, wrong
    types, epoch-number timestamps and base64 blobs are all verified.
    """

    def after_call(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        body = http_response.content
        data = json.loads(body) if body else {}
        found = shapes.problems(model.output_shape, data, wire=True, strict=True)
        assert not found, f"{model.name} response breaks its output shape: {found}"

    client.meta.events.register("after-call.*.*", after_call)
    return client
