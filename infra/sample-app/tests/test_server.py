"""The HTTP service, through ``respond`` and through a real server."""

import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from app.server import Handler, ThreadingHTTPServer, respond
from app.version import VERSION


def test_index_names_the_version() -> None:
    status, body = respond("/")
    assert status == 200 and body["version"] == VERSION and VERSION in body["message"]


def test_health() -> None:
    assert respond("/health") == (200, {"status": "ok", "version": VERSION})


def test_quote_answers_the_priced_order() -> None:
    status, body = respond("/quote?price=10&quantity=10")
    assert status == 200 and body["total"] == "102.60"


def test_quote_rejects_bad_input_with_400() -> None:
    assert respond("/quote?price=10") == (400, {"error": "missing quantity"})
    assert respond("/quote?price=x&quantity=1")[0] == 400


def test_unknown_paths_are_404() -> None:
    assert respond("/nowhere")[0] == 404


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for serve_forever's next look: every 0.05 s rather than the default 0.5 s
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_a_real_request_gets_json_and_the_version_header(server: str) -> None:
    with urllib.request.urlopen(server + "/", timeout=5) as answer:
        assert answer.headers["X-App-Version"] == VERSION
        assert answer.headers["Content-Type"] == "application/json"
        assert json.loads(answer.read())["version"] == VERSION
