"""Start and stop the two servers under test: labstack and moto's own moto_server.

Each server runs in its own process group on a free 127.0.0.1 port, with its output in a
log file of a temporary directory; :meth:`Server.stop` ends the whole group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labstack.ports import free_port

from bench.measure import wait_for_200
from tests.support.server import ROOT as REPO
from tests.support.server import server_env

HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class ServerKind:
    """How to launch one kind of server and which path answers 200 once it is up."""

    name: str
    health_path: str

    def argv(self, port: int) -> list[str]:
        """The command line that serves on ``HOST:port``."""
        if self.name == "labstack":
            return [sys.executable, "-m", "labstack", "serve", "--host", HOST, "--port", str(port)]
        return [str(Path(sys.executable).with_name("moto_server")), "-H", HOST, "-p", str(port)]


LABSTACK = ServerKind("labstack", "/_labstack/health")
# moto_server binds only after moto is imported; its dashboard answers 200 from then on.
MOTO = ServerKind("moto_server", "/moto-api/")
KINDS = (LABSTACK, MOTO)


@dataclass
class Server:
    """One spawned server process; always call :meth:`stop` (or use it as a context manager)."""

    kind: ServerKind
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    started_at: float = 0.0
    env: dict[str, str] = field(default_factory=dict)  # more of the server's environment (LABSTACK_LEARNERS…)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    def start(self) -> float:
        """Spawn the process; return the ``perf_counter`` taken just before the spawn."""
        log = open(self.log_file, "ab")
        try:
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                self.kind.argv(self.port),
                env=server_env(LABSTACK_HOME=str(self.home), PYTHONDONTWRITEBYTECODE="1", **self.env),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        return self.started_at

    def check_alive(self) -> None:
        """Raise with the log's tail if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.kind.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after a grace period, remove the temp dir."""
        proc, self.proc = self.proc, None
        if proc is not None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_GRACE_SECONDS)
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextlib.contextmanager
def healthy_labstack(**env: str) -> Iterator[Server]:
    """A labstack of its own (``env`` added to its environment), started and answering its health check;
    stopped on leaving."""
    with Server(LABSTACK, env=env) as server:
        server.start()
        wait_for_200(HOST, server.port, LABSTACK.health_path, time.perf_counter() + 60, server.check_alive)
        yield server
