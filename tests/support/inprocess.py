"""A labstack served from a thread of the test process, so its engines' interfaces are reachable.

Loaded as a pytest plugin (``pytest_plugins = ["tests.support.inprocess"]``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from labstack.config import Settings
from labstack.ports import free_port
from labstack.server import build_server

from tests.support.server import CHECK_SHAPES, LabstackProcess


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[Any]:
    """A Labstack (the object) serving HTTP per ``settings`` from a thread, until the block ends."""
    server, labstack = build_server(settings)
    labstack.warm_up()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    labstack.wait_warm()
    try:
        yield labstack
    finally:
        labstack.shutdown()  # while it still answers, as `labstack serve` does: the engines' last calls land
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Labstack (the object, not a process) serving HTTP on a free port."""
    home = tmp_path_factory.mktemp("inprocess-home")
    with serving(Settings(port=free_port(), home=home, check_shapes=CHECK_SHAPES == "1")) as labstack:
        yield labstack


def client(labstack: Any, service: str) -> Any:
    """A boto3 client for an in-process labstack."""
    return LabstackProcess(labstack.settings, 0).client(service)
