"""The kit around labstack: the start notebook runs, the compose file serves labstack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.server import ROOT, LabstackProcess


@pytest.mark.slow
def test_the_start_notebook_runs_against_labstack(labstack: LabstackProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    for name, value in {"AWS_ENDPOINT_URL": labstack.endpoint, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(ROOT / "labs" / "00_start_here.ipynb"), str(out), kernel_name="python3", progress_bar=False)
    import nbformat

    notebook = nbformat.read(str(out), as_version=4)
    outputs = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    assert f"Connected: account 123456789012, region us-east-1, endpoint {labstack.endpoint}" in outputs


def test_compose_runs_labstack_serve_on_all_interfaces() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["labstack"]
    assert "labstack serve --host 0.0.0.0 --port 4566" in service["command"]
    assert "127.0.0.1:4566:4566" in service["ports"]
    assert "/_labstack/health" in " ".join(service["healthcheck"]["test"])


def test_grader_doctor_reports_the_account(labstack: LabstackProcess) -> None:
    env = {"AWS_ENDPOINT_URL": labstack.endpoint, "AWS_ACCESS_KEY_ID": "135791357913", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "eu-west-1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "grader.cli", "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"✓ {labstack.endpoint} answers: account 135791357913, region eu-west-1" in result.stdout


def test_grader_doctor_says_when_nothing_answers() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "grader.cli", "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "nothing usable answers at http://127.0.0.1:9" in result.stdout
