"""What the gateway does when moto itself misbehaves (in process, with moto's app replaced)."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from labstack.config import Settings
from labstack.gateway import Gateway
from labstack.instance import Labstack
from werkzeug.test import Client

from tests.support import raw


class FakeMoto:
    """Stands in for moto's dispatcher; every request goes to ``app``."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def get_application(self, environ: dict) -> Callable[..., Any]:
        return self.app


@pytest.fixture(scope="module")
def labstack(tmp_path_factory: pytest.TempPathFactory) -> Labstack:
    lab = Labstack(Settings(home=tmp_path_factory.mktemp("gw")))
    lab.warm_up()
    lab.wait_warm()
    return lab


def call_sqs(labstack: Labstack, app: Callable[..., Any]) -> Any:
    labstack.moto.app = FakeMoto(app)
    headers = raw.sign("http://localhost/", "sqs", {"X-Amz-Target": "AmazonSQS.ListQueues",
                                                     "Content-Type": "application/x-amz-json-1.0"}, b"{}")
    return Client(Gateway(labstack)).post("/", headers=headers, data=b"{}")


def crash(environ: dict, start_response: Callable[..., Any]) -> Any:
    raise KeyError("a bug inside moto")


def missing(environ: dict, start_response: Callable[..., Any]) -> Any:
    raise NotImplementedError("The ListQueues action has not been implemented")


def html_404(environ: dict, start_response: Callable[..., Any]) -> Any:
    start_response("404 NOT FOUND", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<!doctype html><title>404 Not Found</title>"]


def test_a_moto_crash_is_an_aws_shaped_internal_failure(labstack: Labstack) -> None:
    response = call_sqs(labstack, crash)
    assert response.status_code == 500
    assert response.headers["x-amzn-ErrorType"] == "InternalFailure"
    assert "a bug inside moto" in json.loads(response.data)["message"]


def test_a_moto_gap_is_not_implemented(labstack: Labstack) -> None:
    response = call_sqs(labstack, missing)
    assert response.status_code == 501
    body = json.loads(response.data)
    assert body["__type"] == "NotImplemented"
    assert "sqs.ListQueues" in body["message"]


def test_an_html_page_from_moto_never_reaches_the_client(labstack: Labstack) -> None:
    response = call_sqs(labstack, html_404)
    assert response.status_code == 501
    assert "html" not in response.headers["Content-Type"]


def test_a_failure_inside_labstack_itself_is_aws_shaped(labstack: Labstack, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_status() -> dict:
        raise RuntimeError("status failed")

    monkeypatch.setattr(labstack, "status", broken_status)
    response = Client(Gateway(labstack)).get("/_labstack/status")
    assert response.status_code == 500
    assert b"InternalFailure" in response.data and b"<html" not in response.data


def test_unknown_internal_paths_list_the_endpoints(labstack: Labstack) -> None:
    response = Client(Gateway(labstack)).get("/_labstack/nothing")
    assert response.status_code == 404
    assert "/_labstack/health" in response.json["endpoints"]
