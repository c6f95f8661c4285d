"""The ``classroom`` fixture (``pytest_plugins = ["tests.support.classmode_fixtures"]``): a class-mode labstack
shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labstack import daemon
from tests.support.classmode import ClassLabstack, start_class


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassLabstack]:
    """A class-mode labstack shared by a test module."""
    server = start_class(tmp_path_factory.mktemp("class"))
    yield server
    daemon.stop(server.settings)
