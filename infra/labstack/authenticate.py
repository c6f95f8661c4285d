"""Who signed a request: the key's identity (class mode refuses an unknown one) and its signature checked."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

from labstack import motobridge, signatures
from labstack.context import Credential, credential_from
from labstack.keyring import Identity
from labstack.signatures import AuthFailure

if TYPE_CHECKING:
    from labstack.instance import Labstack


def identify(labstack: "Labstack", credential: Credential | None) -> Identity | None:
    """The identity of the request's key, if labstack knows it; in class mode an unsigned request or
    an unknown key raises :class:`AuthFailure`."""
    identity = labstack.keyring.lookup(credential.access_key) if credential else None
    if labstack.settings.class_mode and (identity is None or not identity.active):
        raise AuthFailure("unknown" if credential else "missing", "no active key of this class signed the request")
    if identity is not None and not identity.active:  # an IAM user's key set Inactive: refused, as on AWS
        raise AuthFailure("unknown", "the access key is inactive")
    if identity is None and credential is not None and motobridge.deleted_key(credential.access_key):
        raise AuthFailure("unknown", "the access key was deleted")
    if identity is None and credential is not None and labstack.keyring.retired(credential.access_key):
        raise AuthFailure("expired-token", "the temporary credentials ended (revoked or expired)")
    return identity


# A signed S3 body up to this size is read and hashed before the call; a larger one is hashed as it
# streams to moto, and a mismatch fails the request when its end is read.
_HASH_IN_MEMORY = 8 * 1024 * 1024


class _HashedInput:
    """A ``wsgi.input`` that checks the body against its signed SHA-256 once the body is read whole."""

    def __init__(self, stream: Any, expected: str, length: int) -> None:
        self._stream = stream
        self._expected = expected
        self._left = length
        self._hash = hashlib.sha256()

    def read(self, size: int | None = -1) -> bytes:
        return self._seen(self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._seen(self._stream.readline(size))

    def _seen(self, data: bytes) -> bytes:
        self._hash.update(data)
        self._left -= len(data)
        if self._left <= 0 and self._hash.hexdigest() != self._expected:
            raise AuthFailure("payload", "the body does not match x-amz-content-sha256")
        return data


def verify(environ: dict, service: str | None, region: str, identity: Identity, length: int | None) -> None:
    """Verify the request's signature, keeping its body readable for what comes next.

    ``length`` is the body's Content-Length (None when chunked); ``wsgi.input`` must already be bounded.
    A body whose hash the client signed in ``x-amz-content-sha256`` is checked against it: read here
    when small, hashed as it streams on when a large S3 upload; a literal there (UNSIGNED-PAYLOAD,
    streaming chunks) leaves an S3 body unread. Other services' bodies are always read (and kept).
    """
    hashed = signatures.payload_hash(environ)
    digest = hashed if hashed and signatures.is_digest(hashed) else None
    body = b""
    s3 = service == "s3"
    if s3 and digest is not None and length is not None and length > _HASH_IN_MEMORY:
        environ["wsgi.input"] = _HashedInput(environ["wsgi.input"], digest, length)
    elif not s3 or hashed is None or digest is not None:  # other services' bodies are small: always read them
        body = environ["wsgi.input"].read(length) if length is not None else environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
    signatures.verify(environ, identity, service or "", region, body)
    if digest is not None and isinstance(environ["wsgi.input"], io.BytesIO):
        signatures.check_payload(digest, body)


MAX_OWN_BODY = 1024 * 1024  # a signed request to labstack's own endpoints is small JSON


def own_caller(labstack: "Labstack", environ: dict) -> Identity | None:
    """Who asks labstack's own endpoints (class mode): the signer of a SigV4-signed request, or the
    console session's learner; None when neither. A bad signature raises :class:`AuthFailure`."""
    credential = credential_from(environ)
    if credential is None:
        return labstack.sessions.identity(environ)
    identity = identify(labstack, credential)
    assert identity is not None  # class mode: identify raised for an unknown key
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_OWN_BODY:
        raise AuthFailure("signature", f"a signed request to labstack's own endpoints has a body of 0 to {MAX_OWN_BODY} bytes")
    verify(environ, credential.service, credential.region, identity, length)
    return identity


def visible_accounts(caller: Identity | None) -> set[str] | None:
    """The accounts ``caller`` may look at in class mode: all (None) for the instructor, else their own."""
    if caller is not None and caller.instructor:
        return None
    return {caller.account} if caller is not None else set()
