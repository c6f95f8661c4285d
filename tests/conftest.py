"""Shared fixtures: one real labstack process for the session, clients for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import MODELS, LabstackProcess, offline_builds, start_labstack

# boto3 clients in the test process need the LabTest model too.
os.environ["AWS_DATA_PATH"] = str(MODELS)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)

# the `inprocess` fixture, and how xdist spreads the modules over workers
pytest_plugins = ["tests.support.inprocess", "tests.support.scheduling"]

CLIENT_TIMEOUT = "2"  # seconds before labstack drops a client that stops sending

# Each fixtures plugin's lab, by the plugin a test module names in its ``pytest_plugins``. The plugins
# name theirs apart: in a whole run, plugins' same-named fixtures override one another.
_LABS = {"tests.support.codebuild_fixtures": "codebuild_lab", "tests.support.codepipeline_fixtures": "pipeline_lab",
         "tests.support.sampleapp_fixtures": "sampleapp_lab"}


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> object:
    """The lab of the fixtures plugin the test's module names (a module may also define its own)."""
    for plugin in getattr(request.module, "pytest_plugins", ()):
        if plugin in _LABS:
            return request.getfixturevalue(_LABS[plugin])
    raise LookupError(f"{request.module.__name__} names no fixtures plugin with a lab ({', '.join(_LABS)})")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``first`` (the longest modules) run first: with ``-n``, xdist hands out modules in
    this order, so the longest start at once and the rest fill the other workers around them."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)  # a stable sort keeps the rest in order


@pytest.fixture(scope="session")
def labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack process with the LabTest provider, shared by the session."""
    home: Path = tmp_path_factory.mktemp("labstack-home")
    server = start_labstack(home, LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT)
    yield server
    server.stop()


def _lenient(tmp_path_factory: pytest.TempPathFactory, mode: str) -> Iterator[LabstackProcess]:
    server = start_labstack(tmp_path_factory.mktemp(f"iam-{mode}-home"), LABSTACK_IAM=mode, LABSTACK_PROVIDERS="",
                            LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def iam_report_labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack with LABSTACK_IAM=report (denials let through and logged), shared by the IAM tests."""
    yield from _lenient(tmp_path_factory, "report")


@pytest.fixture(scope="session")
def iam_off_labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack with LABSTACK_IAM=off (nothing decided), shared by the IAM tests."""
    yield from _lenient(tmp_path_factory, "off")


@pytest.fixture(scope="session")
def sampleapp_labstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack for the sample app's builds. A build's ``python3`` and ``pip`` are the host's ones on
    PATH: the kit's venv goes first, where the lock pins pytest, coverage and bandit, so
    ``pip install -r requirements-dev.txt`` finds them installed (no index is allowed). Here rather than
    in a plugin: a test module that only needs this labstack must not load a plugin's ``lab`` fixture."""
    home = tmp_path_factory.mktemp("sampleapp-home")
    server = start_labstack(home, LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT, **offline_builds())
    yield server
    server.stop()


@pytest.fixture
def labtest(labstack: LabstackProcess):  # type: ignore[no-untyped-def]
    """A LabTest client whose every response is checked against its output shape."""
    from tests.support.responses import check_responses

    return check_responses(labstack.client("labtest"))
