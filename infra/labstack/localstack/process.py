"""LocalStack as a background process: started from its venv, awaited until its init stage READY
completes, recorded in a pid file, stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from labstack.daemon import get_json, tail
from labstack.localstack import LocalStackError
from labstack.localstack.paths import DEFAULT_PORT, HOST, Paths
from labstack.ports import describe_holder, port_is_free

HEALTH = "/_localstack/health"
READY = "/_localstack/init/ready"
MODULE = "localstack.runtime.main"


@dataclass(frozen=True)
class Running:
    """A LocalStack that ``start`` launched."""

    pid: int
    port: int

    @property
    def endpoint(self) -> str:
        """The URL clients use."""
        return f"http://{HOST}:{self.port}"


def environment(port: int, paths: Paths, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment LocalStack runs with: the hypercorn gateway on 127.0.0.1:``port``, no DNS
    server, no telemetry or certificate download (the labs run offline), files under ``paths``."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        GATEWAY_SERVER="hypercorn",
        GATEWAY_LISTEN=f"{HOST}:{port}",
        LOCALSTACK_HOST=f"{HOST}:{port}",  # the host in the URLs it returns: reachable offline
        SQS_ENDPOINT_STRATEGY="path",  # queue URLs http://127.0.0.1:<port>/queue/<region>/<account>/<name>
        DNS_ADDRESS="0",
        DISABLE_EVENTS="1",
        SKIP_SSL_CERT_DOWNLOAD="1",
        OVERRIDE_IN_DOCKER="0",  # host mode, even inside a container: files go under FILESYSTEM_ROOT
        FILESYSTEM_ROOT=str(paths.filesystem),
    )
    return env


def health(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's health document at ``endpoint``; None when nothing (or not LocalStack) answers."""
    try:
        document = get_json(f"{endpoint}{HEALTH}", timeout=timeout)
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return document if isinstance(document, dict) and "services" in document else None


def ready(endpoint: str) -> bool:
    """True once LocalStack's READY stage has completed (its health answers earlier, while it still
    starts services, and a stop signal then can hang its shutdown)."""
    try:
        return get_json(f"{endpoint}{READY}", timeout=1.0).get("completed") is True
    except (OSError, ValueError, AttributeError, urllib.error.URLError):
        return False


def is_localstack(pid: int) -> bool:
    """True if ``pid`` is alive (not a zombie) and runs LocalStack's runtime."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and MODULE in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def find_running(paths: Paths) -> Running | None:
    """The LocalStack the pid file records, if it still runs; a stale pid file is removed."""
    try:
        pid, port = (int(part) for part in paths.pid_file.read_text().split())
    except (OSError, ValueError):
        paths.pid_file.unlink(missing_ok=True)
        return None
    if is_localstack(pid):
        return Running(pid, port)
    paths.pid_file.unlink(missing_ok=True)
    return None


def start(paths: Paths, python: Path, port: int = DEFAULT_PORT, wait: float = 90.0) -> tuple[Running, bool]:
    """Start LocalStack on ``port`` unless it runs; return it and whether it is new. Raises
    :class:`LocalStackError` when the port is taken or LocalStack does not come up."""
    running = find_running(paths)
    if running is not None:
        if running.port != port:
            raise LocalStackError(f"LocalStack already runs on port {running.port} (pid {running.pid}): "
                                  "stop it with `labstack localstack down` first")
        return running, False
    if not port_is_free(HOST, port):
        what = "another LocalStack" if health(f"http://{HOST}:{port}") else "another program"
        raise LocalStackError(f"port {port} is taken by {what}{describe_holder(port)}: stop it "
                              "(`make down` stops labstack) or choose another port with --port")
    paths.home.mkdir(parents=True, exist_ok=True)
    with open(paths.log, "ab") as log:
        proc = subprocess.Popen([str(python), "-m", MODULE], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=environment(port, paths), cwd=paths.home,
                                start_new_session=True)
    running = Running(proc.pid, port)
    paths.pid_file.write_text(f"{proc.pid} {port}\n")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            paths.pid_file.unlink(missing_ok=True)
            last = tail(paths.log, 1).strip() or "no output"
            raise LocalStackError(f"LocalStack exited with status {proc.returncode} while starting ({last}); "
                                  f"its log: {paths.log} (removing {paths.venv} makes `up` reinstall it)")
        if ready(running.endpoint):
            return running, True
        time.sleep(0.1)
    stop(paths)
    raise LocalStackError(f"LocalStack did not answer at {running.endpoint} within {wait:.0f} s "
                          f"(its log: {paths.log}); try again with a longer --wait")


def stop(paths: Paths, wait: float = 5.0) -> Running | None:
    """Stop the LocalStack ``start`` launched (its whole process group) and wait until its port
    is free; None when none ran.

    SIGTERM first; what is still alive after ``wait`` seconds gets SIGKILL. LocalStack 2026.3 stops
    its services at once but, now and then, its hypercorn server then stops its event loop from
    another thread without waking it, and the process sleeps on; its state is in memory only, so
    nothing is lost by the kill."""
    running = find_running(paths)
    if running is None:
        return None
    _signal_group(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and is_localstack(running.pid):
        time.sleep(0.1)
    if is_localstack(running.pid):
        _signal_group(running.pid, signal.SIGKILL)
    while time.monotonic() < deadline + 5 and not port_is_free(HOST, running.port):
        time.sleep(0.1)
    paths.pid_file.unlink(missing_ok=True)
    return running


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)  # start_new_session made the pid its group's id
    except ProcessLookupError:
        pass  # it ended meanwhile
