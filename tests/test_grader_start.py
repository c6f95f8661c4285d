"""A lab whose labstack is down says so and offers to start it; lab.start_labstack() does."""

from __future__ import annotations

from pathlib import Path

import pytest
from labstack import daemon
from labstack.config import Settings
from labstack.ports import free_port

import grader

pytestmark = pytest.mark.slow


def test_a_lab_offers_to_start_its_labstack_and_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    monkeypatch.delenv("LAB_BACKEND", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "313131313131")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("LABSTACK_HOME", str(tmp_path / "home"))
    lab = grader.Lab(1)
    assert "lab.start_labstack()" in capsys.readouterr().out
    try:
        lab.start_labstack()
        assert f"labstack answers at http://127.0.0.1:{port}" in capsys.readouterr().out
        assert lab.session.account == "313131313131"
    finally:
        daemon.stop(Settings.from_env(port=port))  # LABSTACK_HOME is still set
