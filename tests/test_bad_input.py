"""Bad input gets an AWS-shaped error, and labstack keeps serving everyone else."""

from __future__ import annotations

import time

import pytest

from tests.support import raw
from tests.support.server import LabstackProcess

TARGET = "LabTest_20261126.ListWidgets"


def assert_json_error(reply: raw.Reply, status: int, code: str) -> dict:
    assert reply.status == status, reply.body
    assert reply.headers["x-amzn-errortype"] == code
    assert reply.headers["content-type"].startswith("application/")
    body = reply.json()
    assert body["__type"] == code and body["message"]
    return body


def still_serving(labstack: LabstackProcess) -> None:
    assert labstack.client("labtest").list_widgets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_malformed_json_is_a_serialization_error(labstack: LabstackProcess) -> None:
    reply = raw.json_call(labstack.endpoint, TARGET, b'{"name": ')
    assert_json_error(reply, 400, "SerializationException")
    reply = raw.json_call(labstack.endpoint, TARGET, b'["not", "an", "object"]')
    assert_json_error(reply, 400, "SerializationException")
    still_serving(labstack)


def test_a_wrong_content_type_is_refused(labstack: LabstackProcess) -> None:
    reply = raw.json_call(labstack.endpoint, TARGET, b"{}", content_type="text/plain")
    body = assert_json_error(reply, 415, "UnsupportedMediaTypeException")
    assert "application/x-amz-json-1.1" in body["message"]


def test_an_unknown_operation_is_named(labstack: LabstackProcess) -> None:
    body = assert_json_error(raw.json_call(labstack.endpoint, "LabTest_20261126.FlyWidget", b"{}"), 400, "UnknownOperationException")
    assert "FlyWidget" in body["message"]


def test_a_missing_authorization_header_is_refused(labstack: LabstackProcess) -> None:
    reply = raw.json_call(labstack.endpoint, TARGET, b"{}", auth=False)
    assert_json_error(reply, 403, "MissingAuthenticationTokenException")


@pytest.mark.parametrize("authorization", ["Bearer abc", "AWS4-HMAC-SHA256 Credential=only-a-key", "AWS4-HMAC-SHA256 garbage, Signature=1"])
def test_a_garbled_authorization_header_is_an_incomplete_signature(labstack: LabstackProcess, authorization: str) -> None:
    headers = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1", "Authorization": authorization}
    assert_json_error(raw.send(labstack.endpoint, "/", headers, b"{}"), 400, "IncompleteSignature")
    # The same for a request that would have gone to moto (an S3 call: XML).
    reply = raw.send(labstack.endpoint, "/some-bucket", {"Authorization": authorization}, method="GET")
    assert reply.status == 400 and b"<Code>IncompleteSignature</Code>" in reply.body
    still_serving(labstack)


def test_a_body_over_20_mb_is_refused_without_reading_it(labstack: LabstackProcess) -> None:
    size = 21 * 1024 * 1024
    headers = raw.sign(labstack.endpoint + "/", "labtest", {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}, b"")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
    with raw.connect(labstack.endpoint) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {size}\r\n\r\n".encode() + b"{" * 1024)
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 413 Request Entity Too Large"), reply[:200]
    assert b"RequestEntityTooLarge" in reply and b"20971520" in reply
    still_serving(labstack)


def test_a_chunked_body_over_the_limit_is_refused(labstack: LabstackProcess) -> None:
    """Without a Content-Length the limit is enforced while reading."""
    headers = raw.sign(labstack.endpoint + "/", "sqs", {"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"}, b"")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
    chunk = b"x" * (1024 * 1024)
    with raw.connect(labstack.endpoint) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode())
        try:
            for _ in range(22):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # labstack may close the connection before everything is sent
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 413 Request Entity Too Large"), reply[:200]
    still_serving(labstack)


def test_a_client_that_stops_sending_is_dropped_and_others_are_served(labstack: LabstackProcess) -> None:
    stalled_headers = raw.connect(labstack.endpoint)
    stalled_headers.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    headers = raw.sign(labstack.endpoint + "/", "labtest", {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}, b"")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
    stalled_body = raw.connect(labstack.endpoint)
    stalled_body.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: 100\r\n\r\n{{\"na".encode())
    started = time.monotonic()
    still_serving(labstack)  # served while the two stalled clients hold their connections
    for sock in (stalled_headers, stalled_body):
        with sock:
            sock.settimeout(10)
            assert _read_all(sock) == b""  # closed without an answer
    # The client timeout in the test server is 2 s.
    assert 1.5 <= time.monotonic() - started < 9
    still_serving(labstack)


def _read_all(sock) -> bytes:  # type: ignore[no-untyped-def]
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not part:
            return data
        data += part
