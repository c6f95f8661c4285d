"""The daemon side of ``docker push`` (see ``labstack.images.engine``): push an image from a
local store on this machine to ECR, with labstack's own ECR client, as the caller's account."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from labstack.context import account_for
from labstack.images.engine import MARK, PUSH_PATH
from labstack.images.layout import LocalImages
from labstack.images.registry import RegistryError, parse_reference, push
from labstack.internal import json_response
from labstack.jsonbody import BadBody, read_object

log = logging.getLogger("labstack.images")
ROUTE = PUSH_PATH.rsplit("/", 1)[0] + "/"
MAX_REQUEST = 64 * 1024


class BadPush(Exception):
    """A push request that cannot be read; the message says why."""


def serve(labstack: Any, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """POST /image-engine/push {store, reference, accessKeyId}: the push's log lines and digest."""
    lines: list[str] = []

    def answer(status: str, **payload: Any) -> Iterable[bytes]:
        return json_response(start_response, status, {"engine": MARK, "log": lines, **payload})

    if environ.get("PATH_INFO") != PUSH_PATH:
        return answer("404 Not Found", message=f"no image engine endpoint {environ.get('PATH_INFO')}")
    if environ.get("REQUEST_METHOD") != "POST":
        return answer("405 Method Not Allowed", message=f"{PUSH_PATH} takes POST")
    try:
        store, reference, key = _read(environ)
        region = parse_reference(reference)[1]
        client = labstack.clients.get("ecr", account_for(key, labstack.default_account), region)
        digest = push(LocalImages(store), reference, log=lines.append, client=client)
    except (BadPush, RegistryError) as exc:
        return answer("400 Bad Request", message=str(exc))
    except Exception as exc:  # labstack stays up and the build reads why
        log.exception("image push failed")
        return answer("500 Internal Server Error", message=f"labstack failed to push: {exc}")
    return answer("200 OK", digest=digest)


def _read(environ: dict) -> tuple[Path, str, str]:
    """The request's store folder, image reference and access key id."""
    try:
        request = read_object(environ, MAX_REQUEST)
    except BadBody as exc:
        raise BadPush(f"a push request is a JSON object {{store, reference, accessKeyId}}: {exc}") from None
    store, reference, key = (request.get(k) for k in ("store", "reference", "accessKeyId"))
    if not all(isinstance(v, str) and v for v in (store, reference, key)):
        raise BadPush("store, reference and accessKeyId must be non-empty strings")
    folder = Path(store)
    if not folder.is_absolute() or not folder.is_dir():
        raise BadPush(f"{store}: no local image store (an absolute path to an existing folder)")
    return folder, reference, key
