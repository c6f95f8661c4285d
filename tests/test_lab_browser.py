"""Lab 01 in JupyterLab, in a real browser (Debian's headless chromium): JupyterLab opens the lab
with its kernel pointed at labstack, Run All runs every cell, and every check shows ✓. A
screenshot of the finished notebook is saved in the test's tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from labstack.ports import free_port

from tests.support.browser import Browser
from tests.support.server import ROOT, LabstackProcess

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.browser_fixtures"]  # the `browser` fixture
ACCOUNT = "303030303030"
NOTEBOOK = "01_repo_setup.ipynb"
# The notebook model as JupyterLab holds it: outputs of every code cell, and whether each ran.
CELLS = """(() => { try {
  const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.content && w.content.model);
  if (!panel || !panel.content || !panel.content.model) return null;
  const cells = panel.content.model.cells, found = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    found.push({count: cell.executionCount, outputs: JSON.stringify(cell.outputs.toJSON())});
  }
  return {status: panel.sessionContext.session?.kernel?.status, cells: found};
} catch (e) { return {error: String(e), status: 'error', cells: []}; } })()"""


@pytest.fixture
def jupyterlab(labstack: LabstackProcess, tmp_path: Path) -> Iterator[str]:
    """JupyterLab serving a folder with lab 01 answered, its kernels pointed at labstack as `make lab` does."""
    folder = tmp_path / "labs"
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / NOTEBOOK, folder / NOTEBOOK)
    port = free_port()
    env = {**os.environ, "AWS_ENDPOINT_URL": labstack.endpoint, "AWS_ACCESS_KEY_ID": ACCOUNT,
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "JUPYTER_CONFIG_DIR": str(tmp_path / "jc")}
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--ServerApp.port={port}",
               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True",
               *(["--allow-root"] if os.geteuid() == 0 else [])]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "jupyter.log").open("wb"),
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/api", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("JupyterLab did not start:\n" + (tmp_path / "jupyter.log").read_text()[-2000:])
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_run_all_on_lab_01_shows_every_check_passed(labstack: LabstackProcess, jupyterlab: str, browser: Browser,
                                                     tmp_path: Path) -> None:
    browser.open(f"{jupyterlab}/lab/tree/{NOTEBOOK}")
    browser.wait_for("window.jupyterapp && (" + CELLS + ")?.status === 'idle'", "the notebook and its kernel", seconds=90)
    browser.click(".jp-Notebook")  # the notebook has the focus, as after a click into it
    browser.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    done = browser.wait_for(f"(() => {{ const s = {CELLS}; return s && s.status === 'idle' && s.cells.every(c => c.count)"
                            " ? s : null; })()", "every cell to run", seconds=240)
    browser.screenshot(tmp_path / "lab01-run-all.png")
    assert "error" not in done, done
    outputs = [output for cell in done["cells"] for output in json.loads(cell["outputs"])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, json.dumps(errors, indent=1)[:3000]
    shown = json.dumps(outputs, ensure_ascii=False)
    assert shown.count("✓") >= 10 and "✗" not in shown
    # What the browser ran really happened in labstack, in the kernel's account.
    assert labstack.client("codecommit", account=ACCOUNT).get_branch(repositoryName="cicd-lab-app", branchName="main")
