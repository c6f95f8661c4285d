"""Where LocalStack's venv, process files and data live: all inside labstack's home (``.labstack/``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"  # LocalStack listens on loopback only
DEFAULT_PORT = 4566


@dataclass(frozen=True)
class Paths:
    """LocalStack's files under one home directory; the venv there too unless placed elsewhere."""

    home: Path
    venv_dir: Path | None = None

    @classmethod
    def from_env(cls, home: Path, environ: Mapping[str, str] = os.environ) -> Paths:
        """The paths for labstack's ``home``, with the venv at ``LOCALSTACK_VENV`` when that is set
        (one venv shared by several checkouts, or kept by CI between runs)."""
        venv = environ.get("LOCALSTACK_VENV")
        return cls(home, Path(venv).expanduser().resolve() if venv else None)

    @property
    def venv(self) -> Path:
        """The venv localstack-core is installed into."""
        return self.venv_dir or self.home / "localstack-venv"

    @property
    def python(self) -> Path:
        """The venv's interpreter, which runs LocalStack."""
        return self.venv / "bin" / "python"

    @property
    def stamp(self) -> Path:
        """What the venv was built from (pins and Python version); a mismatch rebuilds it."""
        return self.venv / "labstack-stamp"

    @property
    def install_log(self) -> Path:
        """pip's output of the last install."""
        return self.home / "localstack-install.log"

    @property
    def log(self) -> Path:
        """LocalStack's own output."""
        return self.home / "localstack.log"

    @property
    def pid_file(self) -> Path:
        """``<pid> <port>`` of the LocalStack that ``up`` started."""
        return self.home / "localstack.pid"

    @property
    def lock(self) -> Path:
        """Beside the venv, held while one ``up`` installs and starts, so two at once (from one home,
        or two homes sharing ``LOCALSTACK_VENV``) do not build one venv twice."""
        return self.venv.with_name(self.venv.name + ".lock")

    @property
    def filesystem(self) -> Path:
        """LocalStack's FILESYSTEM_ROOT: its cache, state and temporary files."""
        return self.home / "localstack-fs"
