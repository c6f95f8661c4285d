"""Raw HTTP to labstack: requests a well-behaved SDK would never send."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def sign(url: str, service: str, headers: dict[str, str], body: bytes, region: str = "us-east-1", method: str = "POST") -> dict[str, str]:
    """Headers with a SigV4 Authorization for this request (key id ``test``)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, region).add_auth(request)
    return dict(request.headers.items())


def send(endpoint: str, path: str, headers: dict[str, str], body: bytes = b"", method: str = "POST", timeout: float = 10) -> Reply:
    """One request on a fresh connection."""
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def json_call(endpoint: str, target: str, body: bytes, content_type: str = "application/x-amz-json-1.1",
              service: str = "labtest", auth: bool = True) -> Reply:
    """A JSON-protocol call with full control over body, content type and signature."""
    headers = {"X-Amz-Target": target, "Content-Type": content_type}
    if auth:
        headers = sign(endpoint + "/", service, headers, body)
    return send(endpoint, "/", headers, body)


def connect(endpoint: str, timeout: float = 10) -> socket.socket:
    """A plain TCP connection to labstack."""
    parts = urlsplit(endpoint)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)
