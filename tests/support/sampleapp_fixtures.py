"""Fixtures of the sample app's tests (loaded through ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab
from tests.support.server import LabstackProcess, offline_builds, start_labstack


@pytest.fixture(scope="session")
def sampleapp_labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack for the sample app's tests. A build's ``python3`` and ``pip`` are the host's
    ones on PATH: the kit's venv goes first, where the lock pins pytest, coverage and bandit,
    so ``pip install -r requirements-dev.txt`` finds them installed (no index is allowed)."""
    home = tmp_path_factory.mktemp("sampleapp-home")
    server = start_labstack(home, LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT, **offline_builds())
    yield server
    server.stop()


@pytest.fixture
def lab(sampleapp_labstack: LabstackProcess) -> Lab:
    """A fresh account on the sample app's labstack."""
    return Lab(sampleapp_labstack)
