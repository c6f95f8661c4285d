"""The kit around labstack: the start notebook runs, the compose file serves labstack."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from labstack.ports import free_port

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
    assert f"✓ the embedded backend answers at {labstack.endpoint}: account 135791357913, region eu-west-1" in result.stdout


def test_grader_doctor_says_when_nothing_answers() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "grader.cli", "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("✗ labstack does not answer at http://127.0.0.1:9: start it with `labstack up --port 9` "
                             "(or `make lab`), then run this again\n")


@pytest.mark.slow
def test_make_lab_starts_labstack_and_jupyterlab_on_the_labs(tmp_path: Path) -> None:
    """The learner's one command, with its own ports and state dir."""
    port = free_port()
    env = dict(os.environ, LABSTACK_PORT=str(port), LABSTACK_HOME=str(tmp_path / "home"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    log = tmp_path / "make-lab.log"
    with open(log, "wb") as out:
        make = subprocess.Popen(["make", "lab"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline and make.poll() is None:
            found = re.search(r"(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)", log.read_text(errors="replace"))
            url = found and found.groups()
            time.sleep(0.2)
        assert url, log.read_text(errors="replace")[-2000:]
        base, token = url
        with urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=10) as response:
            names = [item["name"] for item in json.loads(response.read())["content"]]
        assert "00_start_here.ipynb" in names  # JupyterLab serves labs/
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_labstack/health", timeout=10) as response:
            assert "services" in json.loads(response.read())
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "labstack", "down"], env=env, capture_output=True, timeout=60)
