"""The ``browser`` fixture (``pytest_plugins = ["tests.support.browser_fixtures"]``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browser, find_chromium


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A headless chromium for one test; skipped, saying how to get one, where none is installed."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed: `apt-get install chromium` (as .ci/run does when it is root) runs this test")
    opened = Browser(executable, tmp_path / "profile")
    yield opened
    opened.close()
