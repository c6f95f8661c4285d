"""``make lab`` on a machine whose venv exists, until JupyterLab answers, beside starting the
same JupyterLab directly (the time make, the install check and ``labstack up`` add)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable

from labstack.ports import free_port

from bench.core import Figure, Options
from bench.measure import summary
from bench.servers import REPO

BIN = REPO / ".venv" / "bin"


def _answering(port: int, proc: subprocess.Popen, started: float, seconds: float = 120) -> float:
    """Seconds from ``started`` until JupyterLab's /api answers 200."""
    while time.perf_counter() - started < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before JupyterLab answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("JupyterLab did not answer")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _once(command: list[str], env: dict[str, str], port: int) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        return _answering(port, proc, started)
    finally:
        _stop(proc)


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """A few starts of each, with labstack stopped before every ``make lab``."""
    lab, direct = [], []
    subprocess.run(["make", "--no-print-directory", "install"], cwd=REPO, check=True, capture_output=True)  # untimed
    root = ["--allow-root"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "LABSTACK_HOME": home, "LABSTACK_PORT": str(free_port())}
        for _ in range(max(2, min(options.repeat, 3))):
            port = free_port()
            args = f"--no-browser --ServerApp.port={port} --ServerApp.token= --ServerApp.open_browser=False"
            lab.append(_once(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], env, port))
            subprocess.run([str(BIN / "labstack"), "down"], env=env, check=False, capture_output=True)
            port = free_port()
            direct.append(_once([str(BIN / "jupyter"), "lab", "--ServerApp.root_dir=labs", "--no-browser",
                                 f"--ServerApp.port={port}", "--ServerApp.token=", *root], env, port))
        progress("make lab")
    figure = Figure("make_lab_start_s", "make lab (venv present, labstack down) until JupyterLab answers "
                    "(reference: jupyter lab started directly)", "s", summary(lab)["p50"], summary(direct)["p50"],
                    target="labstack <= 10 s", detail={"reference": "the venv's jupyter lab, nothing else",
                                                        "runs_s": lab, "reference_runs_s": direct})
    figure.met = figure.labstack <= 10
    return [figure]
