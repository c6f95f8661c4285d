"""Fixtures of the sample app's tests (loaded through ``pytest_plugins``); their labstack,
``sampleapp_labstack``, is in ``tests/conftest.py``."""

from __future__ import annotations

import pytest

from tests.support.codebuild import Lab
from tests.support.server import LabstackProcess


@pytest.fixture
def sampleapp_lab(sampleapp_labstack: LabstackProcess) -> Lab:
    """A fresh account on the sample app's labstack."""
    return Lab(sampleapp_labstack)
