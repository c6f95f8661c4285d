"""Find a Python that can run LocalStack: 3.13 or newer.

localstack-core 2026.3.0 declares Python >= 3.10, but its runtime imports ``warnings.deprecated``
(new in 3.13): on 3.12 it installs, then fails at start with "No component plugins found"."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from labstack.localstack import LocalStackError

MINIMUM = (3, 13)
NAMES = ("python3.14", "python3.13")  # looked up on PATH, newest first
_PROBE = "import sys; print(*sys.version_info[:3])"


@dataclass(frozen=True)
class Interpreter:
    """A Python executable and its version."""

    path: str
    version: tuple[int, int, int]

    @property
    def label(self) -> str:
        """The version as Python prints it, e.g. ``3.13.0``."""
        return ".".join(map(str, self.version))


def probe(path: str) -> tuple[int, int, int] | None:
    """The version of the Python at ``path``; None when it does not run (a pyenv shim of an
    inactive version exits non-zero, for one)."""
    try:
        done = subprocess.run([path, "-c", _PROBE], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def candidates(environ: Mapping[str, str]) -> list[str]:
    """Pythons worth probing, best first: ``python3.1x`` on PATH, then pyenv's installed versions."""
    found = [path for name in NAMES if (path := shutil.which(name, path=environ.get("PATH", "")))]
    root = Path(environ.get("PYENV_ROOT") or Path(environ.get("HOME", "~")).expanduser() / ".pyenv")
    versions = sorted((root / "versions").glob("3.*/bin/python3"), key=lambda p: _numeric(p.parts[-3]), reverse=True)
    return list(dict.fromkeys(found + [str(path) for path in versions]))


def _numeric(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find(environ: Mapping[str, str] = os.environ) -> Interpreter:
    """The Python to build LocalStack's venv with: ``LOCALSTACK_PYTHON`` when set, else the newest
    3.13+ found; raises :class:`LocalStackError` saying what to install or set."""
    chosen = environ.get("LOCALSTACK_PYTHON")
    if chosen:
        version = probe(chosen)
        if version is None:
            raise LocalStackError(f"LOCALSTACK_PYTHON={chosen} does not run: point it at a Python 3.13 or newer")
        if version < MINIMUM:
            raise LocalStackError(f"LOCALSTACK_PYTHON={chosen} is Python {'.'.join(map(str, version))}; "
                                  "LocalStack needs 3.13 or newer: point it at one")
        return Interpreter(chosen, version)
    for path in candidates(environ):
        version = probe(path)
        if version is not None and version >= MINIMUM:
            return Interpreter(path, version)
    raise LocalStackError("no Python 3.13 or newer found (LocalStack 2026.3 cannot start on 3.12 or older): "
                          "install one (e.g. `pyenv install 3.13`) or set LOCALSTACK_PYTHON=/path/to/python3.13")
