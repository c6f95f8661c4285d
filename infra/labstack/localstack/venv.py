"""LocalStack's own venv: built once from the pinned requirements, then reused while its stamp matches."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from labstack.localstack import LocalStackError
from labstack.localstack.paths import Paths
from labstack.localstack.python import MINIMUM, Interpreter, find, probe

HERE = Path(__file__).resolve().parent
PIN_FILES = (HERE / "requirements.txt", HERE / "constraints.txt")


@dataclass(frozen=True)
class Install:
    """The venv's interpreter, how long making it ready took, and whether an existing one was reused."""

    python: Path
    seconds: float
    reused: bool


def stamp(version: tuple[int, int, int], pin_files: tuple[Path, ...] = PIN_FILES) -> str:
    """What a venv built from ``pin_files`` on Python ``version`` records: the version and a hash of
    the pins (their comments aside, so rewording one rebuilds nothing)."""
    lines = [line.split("#", 1)[0].strip() for path in pin_files for line in path.read_text().splitlines()]
    digest = hashlib.sha256("\n".join(line for line in lines if line).encode()).hexdigest()[:16]
    return f"python {'.'.join(map(str, version))} pins {digest}"


def current(paths: Paths, pin_files: tuple[Path, ...] = PIN_FILES) -> bool:
    """True when the venv exists, its Python runs (3.13+) and its stamp matches these pins."""
    version = probe(str(paths.python)) if paths.python.exists() else None
    if version is None or version < MINIMUM:
        return False
    try:
        return paths.stamp.read_text().strip() == stamp(version, pin_files)
    except OSError:
        return False


def ensure(paths: Paths, find_python: Callable[[], Interpreter] = find,
           pin_files: tuple[Path, ...] = PIN_FILES, say: Callable[[str], None] = print) -> Install:
    """LocalStack's venv, ready to run: reused when current, otherwise (re)built with pip, whose
    cache makes a rebuild cheaper; ``say`` hears when a build begins. Raises
    :class:`LocalStackError` on a missing Python or a failed install."""
    started = time.monotonic()
    if current(paths, pin_files):
        return Install(paths.python, time.monotonic() - started, reused=True)
    interpreter = find_python()
    say(f"installing LocalStack into {paths.venv} with Python {interpreter.label} ({interpreter.path}); "
        f"about a minute, pip's output in {paths.install_log}")
    if paths.venv.exists():
        shutil.rmtree(paths.venv)
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.venv.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.install_log, "w") as log:
        _run([interpreter.path, "-m", "venv", str(paths.venv)], log, paths,
             f"{interpreter.path} could not make a venv (on Debian: apt-get install python3-venv)")
        _run([str(paths.python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(pin_files[0])],
             log, paths, "pip could not install localstack-core: check the network (PyPI) and run `up` again")
    paths.stamp.write_text(stamp(interpreter.version, pin_files) + "\n")
    return Install(paths.python, time.monotonic() - started, reused=False)


def _run(command: list[str], log: IO[str], paths: Paths, advice: str) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    try:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                check=False).returncode
    except OSError as exc:
        log.write(f"{exc}\n")
        status = -1
    if status != 0:
        raise LocalStackError(f"{advice} (log: {paths.install_log})")
