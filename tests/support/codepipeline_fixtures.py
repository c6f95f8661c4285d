"""Fixtures of the CodePipeline tests (loaded through ``pytest_plugins``): a labstack of their
own and a fresh account on it per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codepipeline import PipelineLab
from tests.support.server import LabstackProcess, offline_builds, start_labstack


@pytest.fixture(scope="session")
def pipeline_labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack for the CodePipeline tests alone: no test provider or overlay stands in front
    of the services pipelines call (CodeBuild, SNS, S3). As for the sample app's tests, builds
    find the kit's venv first on PATH and pip never reaches an index."""
    home = tmp_path_factory.mktemp("codepipeline-home")
    server = start_labstack(home, LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT, **offline_builds())
    yield server
    server.stop()


@pytest.fixture
def pipeline_lab(pipeline_labstack: LabstackProcess) -> PipelineLab:
    """CodePipeline in a fresh account of the CodePipeline tests' labstack."""
    return PipelineLab(pipeline_labstack)
