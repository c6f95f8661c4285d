"""Fixtures of the CodeBuild tests (loaded through ``pytest_plugins``): a labstack of their
own and a fresh account on it per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab
from tests.support.server import LabstackProcess, start_labstack


@pytest.fixture(scope="session")
def codebuild_labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack for the CodeBuild tests alone: builds read real SSM parameters, so no
    test provider or overlay of the shared server may stand in front of moto."""
    home = tmp_path_factory.mktemp("codebuild-home")
    server = start_labstack(home, LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT)
    yield server
    server.stop()


@pytest.fixture
def codebuild_lab(codebuild_labstack: LabstackProcess) -> Lab:
    """CodeBuild in a fresh account of the CodeBuild tests' labstack."""
    return Lab(codebuild_labstack)
