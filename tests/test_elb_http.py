"""HTTP/1.1 through an ELB listener, sent as raw bytes: chunked bodies both ways, streaming,
keep-alive and pipelining, request smuggling refused, slow and hostile clients dropped."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from labstack.runtimes.elb.proxy import MAX_CONNECTIONS
from werkzeug.serving import make_server
from werkzeug.wsgi import get_input_stream

from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

ACCOUNT = "864208642086"
PIECE = 64 * 1024


class EchoTarget:
    """A WSGI app on werkzeug's server (chunked request bodies and chunked answers of its own),
    standing in for a deployed service; it notes every path it is asked for."""

    def __init__(self, host: str) -> None:
        self.seen: list[str] = []
        self.received = 0  # bytes of the current /sink body read so far
        self.gate = threading.Event()
        self.server = make_server(host, 0, self, threaded=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[0], self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path, query = environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", ""))
        if path != "/health":
            self.seen.append(path)
        if path == "/echo":
            body = get_input_stream(environ).read()
            headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            if environ.get("CONTENT_LENGTH"):
                headers["content-length"] = environ["CONTENT_LENGTH"]
            return self._json(start_response, {"method": environ["REQUEST_METHOD"], "query": environ.get("QUERY_STRING", ""),
                                               "body": base64.b64encode(body).decode(), "headers": headers})
        if path == "/sink":
            stream, digest, self.received = get_input_stream(environ), hashlib.sha256(), 0
            while piece := stream.read(PIECE):
                digest.update(piece)
                self.received += len(piece)
            return self._json(start_response, {"length": self.received, "sha256": digest.hexdigest()})
        if path == "/stream":  # no Content-Length: werkzeug answers chunked
            start_response("200 OK", [("Content-Type", "text/plain")])
            return self._parts(int(query.get("parts", ["3"])[0]), "gate" in query)
        if path.startswith("/status/"):
            start_response(f"{path[8:]} Whatever", [("Content-Length", "0")] if path[8:] not in ("204", "304") else [])
            return [b""]
        if path == "/slow":
            time.sleep(float(query["seconds"][0]))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    def _parts(self, count: int, gated: bool) -> Iterator[bytes]:
        for index in range(count):
            if index == 1 and gated:
                self.gate.wait(20)
            yield f"part-{index}\n".encode()

    @staticmethod
    def _json(start_response: Any, value: dict[str, Any]) -> list[bytes]:
        body = json.dumps(value).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class _Borrowed:
    """The connection's one reader, lent to each http.client response (which closes what it reads)."""

    def __init__(self, reader: io.BufferedReader) -> None:
        self.reader = reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)

    def close(self) -> None:
        pass


def address(url: str) -> tuple[str, int]:
    host, port = url[7:].split(":")
    return host, int(port)


class RawClient:
    """One TCP connection to a listener: bytes out as given, responses parsed by http.client in order."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        self.sock = socket.create_connection(address(url), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def makefile(self, *args: object, **kwargs: object) -> _Borrowed:  # what http.client asks a socket for
        return _Borrowed(self.reader)

    def interim(self) -> int:
        """The status of an interim (1xx) response, which http.client would skip."""
        status = int(self.reader.readline().split()[1])
        while self.reader.readline() not in (b"\r\n", b"\n", b""):
            pass
        return status

    def response(self, method: str = "GET") -> http.client.HTTPResponse:
        """The next response on the connection, its body read (``.body``)."""
        answer = http.client.HTTPResponse(self, method=method)  # type: ignore[arg-type]
        answer.begin()
        answer.body = answer.read()  # type: ignore[attr-defined]
        return answer

    def closed_by_server(self) -> bool:
        """True when the listener closed the connection (reading waits at most the socket timeout)."""
        try:
            return self.reader.read(1) == b""
        except ConnectionResetError:
            return True


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def echoed(answer: http.client.HTTPResponse) -> dict[str, Any]:
    value = json.loads(answer.body)  # type: ignore[attr-defined]
    value["body"] = base64.b64decode(value["body"])
    return value


@pytest.fixture(scope="module")
def target() -> Iterator[EchoTarget]:
    app = EchoTarget("127.0.0.6")
    yield app
    app.stop()


class Balancers:
    """Load balancers of one account whose listeners forward to the echo target."""

    def __init__(self, labstack: LabstackProcess, target: EchoTarget) -> None:
        self.labstack = labstack
        self.elb = labstack.client("elbv2", account=ACCOUNT)
        ec2 = labstack.client("ec2", account=ACCOUNT)
        vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
                        for i, z in ((1, "a"), (2, "b"))]
        self.vpc = vpc
        self.group = self.target_group("echo", *target.address)
        self.health(self.group, "healthy")  # a target gets traffic once it passed a health check

    def target_group(self, name: str, host: str, port: int, **health: Any) -> str:
        arn = self.elb.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=self.vpc, TargetType="ip",
                                           HealthCheckPath="/health", **health)["TargetGroups"][0]["TargetGroupArn"]
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": host, "Port": port}])
        return arn

    def health(self, group: str, state: str) -> None:
        """Wait until the group's one target is in ``state``."""
        wait_for(lambda: self.elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"][0]
                 ["TargetHealth"]["State"] == state)

    def listener(self, name: str, group: str, **attributes: str) -> str:
        """A new load balancer with ``attributes`` and a listener on port 80 forwarding to ``group``: its URL."""
        balancer = self.elb.create_load_balancer(Name=name, Subnets=self.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        if attributes:
            self.elb.modify_load_balancer_attributes(LoadBalancerArn=balancer, Attributes=[
                {"Key": key, "Value": value} for key, value in attributes.items()])
        arn = self.elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"]
        self.elb.create_rule(ListenerArn=arn, Priority=1, Conditions=[{"Field": "path-pattern", "Values": ["/fixed"]}],
                             Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
                                 "StatusCode": "418", "ContentType": "text/plain", "MessageBody": "short and stout"}}])
        self.elb.create_rule(ListenerArn=arn, Priority=2, Conditions=[{"Field": "path-pattern", "Values": ["/old/*"]}],
                             Actions=[{"Type": "redirect", "RedirectConfig": {"Path": "/new/#{path}", "StatusCode": "HTTP_301"}}])

        def url() -> str | None:
            return next((e["url"] for e in self.labstack_endpoints() if e["listenerArn"] == arn), None)

        return wait_for(url)

    def labstack_endpoints(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.labstack.endpoint + "/_labstack/endpoints", timeout=10) as response:
            return json.loads(response.read())["endpoints"]


@pytest.fixture(scope="module")
def balancers(labstack: LabstackProcess, target: EchoTarget) -> Balancers:
    return Balancers(labstack, target)


@pytest.fixture(scope="module")
def url(balancers: Balancers) -> str:
    return balancers.listener("http", balancers.group)


def get(path: str, host: str = "shop.example") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def test_a_chunked_request_body_reaches_the_target_intact(url: str) -> None:
    pieces = [b"first line\r\n", bytes(range(256)) * 40, b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n", b"x"]
    with RawClient(url) as client:
        client.send(b"POST /echo?n=1 HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send(b"c;name=value\r\n" + pieces[0] + b"\r\n" + chunked(*pieces[1:]))
        answer = client.response()
    seen = echoed(answer)
    assert answer.status == 200 and seen["method"] == "POST" and seen["query"] == "n=1"
    assert seen["body"] == b"".join(pieces)
    assert seen["headers"]["transfer-encoding"] == "chunked" and "content-length" not in seen["headers"]


def test_a_chunked_response_from_the_target_reaches_the_client_chunked(url: str, target: EchoTarget) -> None:
    with RawClient(url) as client:
        client.send(get("/stream?parts=5"))
        answer = client.response()
        assert answer.status == 200 and answer.getheader("Transfer-Encoding") == "chunked"
        assert answer.body == b"".join(f"part-{i}\n".encode() for i in range(5))  # type: ignore[attr-defined]
        client.send(get("/stream?parts=2").replace(b"HTTP/1.1", b"HTTP/1.0"))
        old = client.response()  # an HTTP/1.0 client gets no chunks: the body ends when the connection does
        assert old.getheader("Transfer-Encoding") is None and old.body == b"part-0\npart-1\n"  # type: ignore[attr-defined]
        assert client.closed_by_server()


def test_an_answer_streams_before_the_target_has_finished_it(url: str, target: EchoTarget) -> None:
    target.gate.clear()
    with RawClient(url) as client:
        client.send(get("/stream?parts=3&gate=1"))
        answer = http.client.HTTPResponse(client, method="GET")  # type: ignore[arg-type]
        answer.begin()
        assert answer.read(7) == b"part-0\n"  # the target holds part-1 back until the gate opens
        target.gate.set()
        assert answer.read() == b"part-1\npart-2\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_large_body_passes_through_in_pieces(url: str, target: EchoTarget, framing: str) -> None:
    """The target has read part of the body before the client has sent the rest: nothing waits for the whole."""
    piece = bytes(range(256)) * (PIECE // 256)
    half = 64  # pieces: 4 MiB each half
    digest = hashlib.sha256(piece * half * 2).hexdigest()
    encode = (lambda data: b"%x\r\n%s\r\n" % (len(data), data)) if framing == "chunked" else (lambda data: data)
    length = b"Transfer-Encoding: chunked" if framing == "chunked" else b"Content-Length: %d" % (len(piece) * half * 2)
    with RawClient(url, timeout=30) as client:
        client.send(b"PUT /sink HTTP/1.1\r\nHost: shop.example\r\n" + length + b"\r\n\r\n")
        for _ in range(half):
            client.send(encode(piece))
        wait_for(lambda: target.received >= len(piece) * half // 2)
        for _ in range(half):
            client.send(encode(piece))
        client.send(b"0\r\n\r\n" if framing == "chunked" else b"")
        answer = client.response()
    assert json.loads(answer.body) == {"length": len(piece) * half * 2, "sha256": digest}  # type: ignore[attr-defined]


def test_requests_one_after_another_on_one_connection(url: str) -> None:
    with RawClient(url) as client:
        client.send(get("/echo?n=1"))
        assert echoed(client.response())["query"] == "n=1"
        client.send(b"POST /echo?n=2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        assert echoed(client.response())["body"] == b"hello"
        client.send(b"HEAD /echo?n=3 HTTP/1.1\r\nHost: a\r\n\r\n")
        head = client.response("HEAD")
        assert head.status == 200 and int(head.getheader("Content-Length")) > 0 and head.body == b""  # type: ignore[attr-defined]
        for code in (204, 304):
            client.send(get(f"/status/{code}"))
            assert client.response().status == code
        client.send(b"POST /fixed HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")  # the ELB answers; the body is dropped
        fixed = client.response()
        assert (fixed.status, fixed.body, fixed.getheader("Server")) == (418, b"short and stout", "awselb/2.0")  # type: ignore[attr-defined]
        client.send(get("/old/page?x=1"))
        moved = client.response()
        assert moved.status == 301 and moved.getheader("Location") == "http://shop.example:80/new/old/page?x=1"
        client.send(b"POST /echo?n=4 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert client.interim() == 100  # the listener asks for the body, then forwards it
        client.send(b"hi")
        assert echoed(client.response())["body"] == b"hi"
        client.send(get("/echo?n=5").replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert echoed(client.response())["query"] == "n=5"
        assert client.closed_by_server()


def test_pipelined_requests_are_answered_in_order(url: str) -> None:
    requests = [
        b"POST /echo?n=0 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"GET /echo?n=99 HTTP/1.1\r\n\r\n"),
        get("/echo?n=1"),
        b"POST /echo?n=2 HTTP/1.1\r\nHost: a\r\nContent-Length: 21\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n",
        get("/fixed"),
        b"HEAD /echo?n=4 HTTP/1.1\r\nHost: a\r\n\r\n",
        get("/stream?parts=2"),
        get("/echo?n=6"),
    ]
    with RawClient(url) as client:
        client.send(b"".join(requests))
        answers = [client.response("HEAD" if r.startswith(b"HEAD") else "GET") for r in requests]
    assert [a.status for a in answers] == [200, 200, 200, 418, 200, 200, 200]
    assert echoed(answers[0])["body"] == b"GET /echo?n=99 HTTP/1.1\r\n\r\n"
    assert echoed(answers[2])["body"] == b"GET /x HTTP/1.1\r\n\r\n\r\n"
    assert [echoed(answers[i])["query"] for i in (0, 1, 2, 6)] == ["n=0", "n=1", "n=2", "n=6"]
    assert answers[5].body == b"part-0\npart-1\n"  # type: ignore[attr-defined]


SMUGGLING = {
    "content-length and transfer-encoding": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "transfer-encoding and content-length": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "two equal content-lengths": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "two different content-lengths": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a content-length list": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a signed content-length": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a space before the colon": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a folded transfer-encoding": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a chunk size that is not hex": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a chunk longer than its size": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "a negative chunk size": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "no host": (b"GET /smuggled HTTP/1.1\r\n\r\n", 400),
    # ALB: a Transfer-Encoding other than chunked is not implemented
    "an unknown transfer coding": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 501),
}


@pytest.mark.parametrize("shape", list(SMUGGLING))
def test_request_smuggling_shapes_are_refused_and_the_connection_closed(url: str, target: EchoTarget, shape: str) -> None:
    attack, status = SMUGGLING[shape]
    with RawClient(url) as client:
        client.send(attack)
        answer = client.response()
        assert (answer.status, answer.getheader("Connection"), answer.getheader("Server")) == (status, "close", "awselb/2.0")
        assert client.closed_by_server()
    with RawClient(url) as client:  # the listener serves on
        client.send(get("/echo?after=1"))
        assert echoed(client.response())["query"] == "after=1"
    assert "/smuggled" not in target.seen


def test_hop_by_hop_headers_stay_behind_and_x_forwarded_headers_are_alb_s(url: str) -> None:
    with RawClient(url) as client:
        client.send(b"GET /echo HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\n"
                    b"Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\nUpgrade: websocket\r\n"
                    b"X-Forwarded-For: 203.0.113.9\r\nx-forwarded-proto: https\r\nX-Forwarded-Port: 443\r\nX-End: to-end\r\n\r\n")
        headers = echoed(client.response())["headers"]
    for gone in ("connection", "x-hop", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert gone not in headers, gone
    assert headers["x-end"] == "to-end" and headers["host"] == "shop.example"
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert (headers["x-forwarded-proto"], headers["x-forwarded-port"]) == ("http", "80")


def test_labstacks_console_session_never_reaches_a_target(url: str) -> None:
    """A browser sends labstack's session cookie to every port of its host; a learner's app behind a
    listener must not receive it (it could act as that learner on the console)."""
    with RawClient(url) as client:
        client.send(b"GET /echo HTTP/1.1\r\nHost: a\r\nCookie: theme=dark; labstack_session=STOLEN; cart=3\r\n\r\n")
        headers = echoed(client.response())["headers"]
        client.send(b"GET /echo HTTP/1.1\r\nHost: a\r\nCookie: labstack_session=STOLEN\r\n\r\n")
        alone = echoed(client.response())["headers"]
    assert "STOLEN" not in headers["cookie"] and "theme=dark" in headers["cookie"] and "cart=3" in headers["cookie"]
    assert "cookie" not in alone


@pytest.mark.parametrize(("mode", "port", "expected"), [
    ("preserve", "false", "203.0.113.9"), ("remove", "false", None), ("append", "true", "203.0.113.9, 127.0.0.1:{port}")])
def test_x_forwarded_for_follows_the_load_balancer_attributes(balancers: Balancers, mode: str, port: str, expected: str | None) -> None:
    listener = balancers.listener(f"xff-{mode}", balancers.group, **{
        "routing.http.xff_header_processing.mode": mode, "routing.http.xff_client_port.enabled": port})
    with RawClient(listener) as client:
        client.send(b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
        headers = echoed(client.response())["headers"]
        own_port = client.sock.getsockname()[1]
    assert headers.get("x-forwarded-for") == (expected.format(port=own_port) if expected else None)


def _closed_port(host: str) -> int:
    with socket.socket() as unused:
        unused.bind((host, 0))
        return unused.getsockname()[1]  # nothing listens on it once this socket closes


def test_a_target_in_its_initial_health_checks_gets_no_traffic(balancers: Balancers) -> None:
    """A registered target must pass a health check before it gets requests; the load balancer fails open
    only to unhealthy targets, so a group of initial ones alone answers 503
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html)."""
    group = balancers.target_group("starting", "127.0.0.7", _closed_port("127.0.0.7"), HealthCheckIntervalSeconds=300)
    starting = balancers.listener("starting", group)
    with RawClient(starting) as client:
        client.send(get("/echo"))
        answer = client.response()
    health = balancers.elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"][0]["TargetHealth"]
    assert health["State"] == "initial", health  # one failed check of the two that make it unhealthy, 5 s apart
    assert answer.status == 503 and b"503 Service Temporarily Unavailable" in answer.body  # type: ignore[attr-defined]


def test_a_target_that_fails_gets_the_client_a_502_and_a_slow_one_a_504(balancers: Balancers, target: EchoTarget) -> None:
    group = balancers.target_group("refused", "127.0.0.6", _closed_port("127.0.0.6"), HealthCheckIntervalSeconds=5)
    refused = balancers.listener("refused", group)
    balancers.health(group, "unhealthy")  # no healthy target: the load balancer fails open to the unhealthy one
    with RawClient(refused) as client:
        client.send(get("/echo"))
        answer = client.response()
        assert answer.status == 502 and b"502 Bad Gateway" in answer.body  # type: ignore[attr-defined]
        client.send(get("/echo"))  # the request had no body: the connection goes on
        assert client.response().status == 502
    quick = balancers.listener("quick", balancers.group, **{"idle_timeout.timeout_seconds": "1"})
    with RawClient(quick) as client:
        client.send(get("/slow?seconds=3"))
        answer = client.response()
        assert answer.status == 504 and b"504 Gateway Time-out" in answer.body  # type: ignore[attr-defined]


def test_slow_and_idle_clients_are_dropped_after_the_idle_timeout(balancers: Balancers) -> None:
    quick = balancers.listener("slow-clients", balancers.group, **{"idle_timeout.timeout_seconds": "1"})
    with RawClient(quick) as idle:
        idle.send(get("/echo?n=1"))
        assert echoed(idle.response())["query"] == "n=1"
        assert idle.closed_by_server()  # kept alive, then silent: closed
    with socket.create_connection(address(quick), timeout=0.3) as trickle:
        dropped = False
        for byte in b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Long: " + b"a" * 200:  # a byte every 0.3 s: the head never ends
            try:
                trickle.sendall(bytes([byte]))
                dropped = trickle.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                dropped = True
            if dropped:
                break
        assert dropped


def test_hostile_bytes_do_not_take_the_listener_down(url: str) -> None:
    attacks = [
        bytes.fromhex("16030100a5010000a10303") + b"\x00" * 80,  # a TLS ClientHello
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",  # a head past ALB's 64 KiB
        b"\x00\xff\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad\x7f: 1\r\n\r\n",
    ]
    for attack in attacks:
        with RawClient(url) as client:
            client.send(attack)
            assert client.response().status == 400
            assert client.closed_by_server()
    with RawClient(url) as client:
        client.send(get("/echo?n=1"))
        assert echoed(client.response())["query"] == "n=1"


@pytest.mark.slow
def test_more_connections_than_the_listener_serves_are_closed_and_it_serves_after(url: str) -> None:
    held = [RawClient(url) for _ in range(MAX_CONNECTIONS)]
    try:
        with RawClient(url) as extra:
            assert extra.closed_by_server()
    finally:
        for client in held:
            client.__exit__()

    def serves() -> bool:
        with RawClient(url) as client:
            try:
                client.send(get("/echo?n=1"))
                return echoed(client.response())["query"] == "n=1"
            except (ConnectionError, http.client.RemoteDisconnected):
                return False

    assert wait_for(serves)


def test_an_absolute_request_target_routes_by_its_own_host(balancers: Balancers, url: str) -> None:
    """A host-header rule cannot be walked around with ``GET http://other-host/``: the URI's host is the host."""
    listener = next(e["listenerArn"] for e in balancers.labstack_endpoints() if e["url"] == url)
    rule = balancers.elb.create_rule(ListenerArn=listener, Priority=3, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*"]}}], Actions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403", "MessageBody": "no admins"}}])["Rules"][0]["RuleArn"]
    try:
        with RawClient(url) as client:
            client.send(b"GET http://admin.example/echo HTTP/1.1\r\nHost: shop.example\r\n\r\n")
            refused = client.response()
            assert (refused.status, refused.body) == (403, b"no admins")  # type: ignore[attr-defined]
            client.send(b"GET http://shop.example:80/echo?n=1 HTTP/1.1\r\nHost: admin.example\r\n\r\n")
            seen = echoed(client.response())
            assert (seen["query"], seen["headers"]["host"]) == ("n=1", "shop.example:80")
    finally:
        balancers.elb.delete_rule(RuleArn=rule)
