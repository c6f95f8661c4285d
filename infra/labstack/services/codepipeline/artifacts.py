"""The artifact store: where a pipeline keeps the zips its actions hand to each other.

Keys follow AWS's layout, ``<first 20 characters of the pipeline name>/<first 10 characters
of the artifact name>/<7 random characters>``; with an encryption key declared, objects are
written with SSE-KMS under that key.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def store_for(declaration: dict, region: str) -> dict:
    """The ``ArtifactStore`` a pipeline uses in ``region``."""
    if "artifactStore" in declaration:
        return declaration["artifactStore"]
    stores = declaration.get("artifactStores", {})
    return stores.get(region) or next(iter(stores.values()))


def object_key(pipeline_name: str, artifact_name: str) -> str:
    """A fresh key for one artifact of one execution."""
    return f"{pipeline_name[:20]}/{artifact_name[:10]}/{''.join(secrets.choice(_ALPHABET) for _ in range(7))}"


def put(s3: Any, store: dict, key: str, data: bytes) -> None:
    """Write ``data`` at ``key`` in the store's bucket, encrypted with its KMS key if it has one."""
    extra: dict[str, str] = {}
    key_id = (store.get("encryptionKey") or {}).get("id")
    if key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    s3.put_object(Bucket=store["location"], Key=key, Body=data, **extra)


def get(s3: Any, bucket: str, key: str) -> bytes:
    """The bytes of one stored artifact."""
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
