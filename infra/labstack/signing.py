"""Signing a request to labstack's own endpoints (SigV4, with botocore's signer), as its CLI and tools send them.

In class mode labstack's own endpoints (status, inbox, endpoints, reset, the image engine) answer by
who signed the request; on a laptop the signature is simply not needed.
"""

from __future__ import annotations

import os

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

OWN_SERVICE = "labstack"  # the credential scope's service name on labstack's own endpoints


def environment_credentials() -> Credentials | None:
    """The AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of this process, if set."""
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    if not key:
        return None
    return Credentials(key, os.environ.get("AWS_SECRET_ACCESS_KEY", ""), os.environ.get("AWS_SESSION_TOKEN"))


def signed_headers(method: str, url: str, body: bytes, headers: dict[str, str], credentials: Credentials | None,
                   service: str = OWN_SERVICE) -> dict[str, str]:
    """``headers`` plus a SigV4 signature of the request by ``credentials`` (unchanged without them)."""
    if credentials is None:
        return headers
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    SigV4Auth(credentials, service, region).add_auth(request)
    return dict(request.headers.items())
