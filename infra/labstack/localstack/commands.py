"""``labstack localstack install|up|down|status``: LocalStack installed into its own venv and run on the host.

The heavy modules are imported by the commands themselves, so other labstack commands start as fast as before."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from labstack.localstack import LocalStackError
from labstack.localstack.paths import DEFAULT_PORT, HOST, Paths

if TYPE_CHECKING:
    from labstack.localstack.venv import Install


def _paths() -> Paths:
    from labstack.config import Settings

    return Paths.from_env(Settings.from_env().home)


def _fail(exc: LocalStackError) -> int:
    print(f"labstack localstack: {exc}", file=sys.stderr)
    return 1


@contextlib.contextmanager
def _installed(paths: Paths) -> Iterator[Install]:
    """LocalStack's venv, installed if missing or stale, while holding the install lock (another
    ``install`` or ``up`` finishes first; this one then reuses its work)."""
    from labstack.localstack import venv

    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        install = venv.ensure(paths, say=lambda line: print(line, flush=True))
        print(f"LocalStack's venv {'reused' if install.reused else 'installed'}: {_relative(paths.venv)} "
              f"({install.seconds:.1f} s)", flush=True)
        yield install


def cmd_install(_args: argparse.Namespace) -> int:
    """Install LocalStack into its venv (or find it current) without starting it."""
    try:
        with _installed(_paths()):
            return 0
    except LocalStackError as exc:
        return _fail(exc)


def cmd_up(args: argparse.Namespace) -> int:
    """Install LocalStack if its venv is missing or stale, then start it and wait until it is healthy."""
    from labstack.localstack import process

    paths = _paths()
    try:
        with _installed(paths) as install:
            started = time.monotonic()
            running, new = process.start(paths, install.python, args.port, args.wait)
    except LocalStackError as exc:
        return _fail(exc)
    if new:
        print(f"LocalStack is running at {running.endpoint} (pid {running.pid}, started in "
              f"{time.monotonic() - started:.1f} s, log {_relative(paths.log)})")
    else:
        print(f"LocalStack is already running at {running.endpoint} (pid {running.pid})")
    return 0


def cmd_down(_args: argparse.Namespace) -> int:
    """Stop the LocalStack that ``up`` started."""
    from labstack.localstack import process

    stopped = process.stop(_paths())
    if stopped is None:
        print("LocalStack is not running")
    else:
        print(f"LocalStack stopped (pid {stopped.pid}); port {stopped.port} is free")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Say whether LocalStack is installed and answers; exit 3 when it does not."""
    from labstack.localstack import process, venv

    paths = _paths()
    running = process.find_running(paths)
    endpoint = running.endpoint if running else f"http://{HOST}:{args.port}"
    document = process.health(endpoint)
    if document is None:
        if not venv.current(paths):
            print(f"LocalStack is not installed in {_relative(paths.venv)}: "
                  "`labstack localstack up` installs and starts it", file=sys.stderr)
        else:
            print(f"LocalStack is not running (nothing answers at {endpoint}): "
                  "start it with `labstack localstack up`", file=sys.stderr)
        return 3
    served = [name for name, state in document["services"].items() if state in ("available", "running")]
    owner = f"pid {running.pid}" if running else "not started by labstack"
    print(f"LocalStack {document.get('version', '?')} answers at {endpoint} ({owner}, "
          f"{len(served)} services available)")
    return 0


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``localstack`` command group to labstack's command line."""
    group = sub.add_parser("localstack", help="LocalStack on this host, without Docker (install, up, down, status)",
                           description="LocalStack's free runtime in its own venv (Python 3.13+), for "
                                       "`make lab BACKEND=localstack` and `labstack serve --upstream`.")
    commands = group.add_subparsers(dest="localstack_command", required=True)
    install = commands.add_parser("install", help="install into its venv (or find it current), without starting it")
    install.set_defaults(fn=cmd_install)
    up = commands.add_parser("up", help="install if needed, start in the background, wait until healthy")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 4566)")
    up.add_argument("--wait", type=float, default=90.0, help="seconds to wait for health (default 90)")
    up.set_defaults(fn=cmd_up)
    down = commands.add_parser("down", help="stop the LocalStack `up` started")
    down.set_defaults(fn=cmd_down)
    status = commands.add_parser("status", help="whether LocalStack is installed and answers (exit 3 if not)")
    status.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to ask (default 4566)")
    status.set_defaults(fn=cmd_status)
