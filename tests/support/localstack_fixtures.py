"""Fixtures of the upstream tests (loaded through ``pytest_plugins``): a real LocalStack and a
labstack that consumes it (``--upstream``), one each per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.localstack import LocalStack, start_localstack
from tests.support.server import LabstackProcess, start_labstack


@pytest.fixture(scope="module")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A real LocalStack for this module's tests."""
    started = start_localstack(tmp_path_factory.mktemp("localstack-home"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def upstream_labstack(localstack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack that consumes LocalStack's services (``LABSTACK_UPSTREAM``), nothing else special."""
    server = start_labstack(tmp_path_factory.mktemp("upstream-home"), LABSTACK_PROVIDERS="",
                            LABSTACK_UPSTREAM=localstack.endpoint)
    yield server
    server.stop()
