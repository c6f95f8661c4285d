"""The daemon side of ``docker push`` (see ``labstack.images.engine``): push an image from a
local store on this machine to ECR as the key that signed the request. A build's push is its role
session's (the build's ``AWS_ACCESS_KEY_ID``), so the role's ECR permissions decide it as they decide
``docker push`` on AWS; the account's root key, or an unknown key on a laptop, pushes as the account."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from labstack import authenticate
from labstack.context import account_for, credential_from
from labstack.images.engine import MARK, PUSH_PATH
from labstack.images.layout import LocalImages
from labstack.images.registry import RegistryError, parse_reference, push
from labstack.internal import json_response
from labstack.jsonbody import BadBody, read_object
from labstack.keyring import Identity
from labstack.signatures import AuthFailure

log = logging.getLogger("labstack.images")
ROUTE = PUSH_PATH.rsplit("/", 1)[0] + "/"
MAX_REQUEST = 64 * 1024


class BadPush(Exception):
    """A push request that cannot be read; the message says why."""


def serve(labstack: Any, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """POST /image-engine/push {store, reference}, signed by the caller: the push's log lines and digest."""
    lines: list[str] = []

    def answer(status: str, **payload: Any) -> Iterable[bytes]:
        return json_response(start_response, status, {"engine": MARK, "log": lines, **payload})

    if environ.get("PATH_INFO") != PUSH_PATH:
        return answer("404 Not Found", message=f"no image engine endpoint {environ.get('PATH_INFO')}")
    if environ.get("REQUEST_METHOD") != "POST":
        return answer("405 Method Not Allowed", message=f"{PUSH_PATH} takes POST")
    try:
        account, identity = _caller(labstack, environ)
        store, reference = _read(environ)
        if labstack.settings.class_mode:
            _own_store(labstack, store, account)
        region = parse_reference(reference)[1]
        try:
            digest = push(LocalImages(store), reference, log=lines.append, client=_client(labstack, identity, account, region))
        finally:
            if identity is not None and identity.role_arn is None:  # a build's session is forgotten when the build ends
                labstack.clients.forget(identity.access_key)
    except AuthFailure as failure:
        return answer("403 Forbidden", message=f"the push is not signed by a key of this labstack: {failure.message}")
    except (BadPush, RegistryError) as exc:
        return answer("400 Bad Request", message=str(exc))
    except Exception as exc:  # labstack stays up and the build reads why
        log.exception("image push failed")
        return answer("500 Internal Server Error", message=f"labstack failed to push: {exc}")
    return answer("200 OK", digest=digest)


def _client(labstack: Any, identity: Identity | None, account: str, region: str) -> Any:
    """The ECR client the push is made with: signed with the caller's own keys (its calls are decided by
    its policies), or labstack's for a key it does not know (a laptop's ``test`` key)."""
    if identity is None:
        return labstack.clients.get("ecr", account, region)
    return labstack.clients.as_identity("ecr", identity, region)


def _caller(labstack: Any, environ: dict) -> tuple[str, Identity | None]:
    """The account whose push this is and the key's holder (None for a key labstack does not know, on a
    laptop): the request is signed like an ECR call (class mode verifies it)."""
    credential = credential_from(environ)
    if credential is None:
        raise AuthFailure("missing", "sign the push request (SigV4) with the build's credentials")
    identity = authenticate.identify(labstack, credential)
    if identity is None:
        return account_for(credential.access_key, labstack.default_account), None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not 0 < length <= MAX_REQUEST:
        raise BadPush(f"the body must be 1 to {MAX_REQUEST} bytes")
    authenticate.verify(environ, credential.service, credential.region, identity, length)
    return identity.account, identity


def _own_store(labstack: Any, store: Path, account: str) -> None:
    """In class mode a push reads only a store inside a build workspace of the caller's own account."""
    builds = (labstack.settings.home / "builds" / account).resolve()
    if not store.resolve().is_relative_to(builds):
        raise BadPush(f"{store}: a push in class mode reads only an image store of your own builds")


def _read(environ: dict) -> tuple[Path, str]:
    """The request's store folder and image reference."""
    try:
        request = read_object(environ, MAX_REQUEST)
    except BadBody as exc:
        raise BadPush(f"a push request is a JSON object {{store, reference}}: {exc}") from None
    store, reference = (request.get(k) for k in ("store", "reference"))
    if not all(isinstance(v, str) and v for v in (store, reference)):
        raise BadPush("store and reference must be non-empty strings")
    folder = Path(store)
    if not folder.is_absolute() or not folder.is_dir():
        raise BadPush(f"{store}: no local image store (an absolute path to an existing folder)")
    return folder, reference
