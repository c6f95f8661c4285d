"""Run labstack in the background: start, find, stop, and the pid file between them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from labstack.config import Settings
from labstack.orphans import Children
from labstack.ports import describe_holder, port_is_free
from labstack.signing import environment_credentials, signed_headers


class DaemonError(Exception):
    """A one-line problem to show the user."""


@dataclass(frozen=True)
class Running:
    pid: int
    port: int


def read_pid_file(settings: Settings) -> Running | None:
    """The pid and port recorded by a running ``labstack serve``, if any."""
    try:
        parts = settings.pid_file.read_text().split()
        return Running(int(parts[0]), int(parts[1]))
    except (OSError, ValueError, IndexError):
        return None


def is_labstack(pid: int) -> bool:
    """True if ``pid`` is alive and is a labstack server."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "labstack" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def find_running(settings: Settings) -> tuple[Running | None, bool]:
    """The running server, and whether a stale pid file was found (and removed)."""
    running = read_pid_file(settings)
    if running is None:
        if settings.pid_file.exists():
            settings.pid_file.unlink(missing_ok=True)
            return None, True
        return None, False
    if is_labstack(running.pid):
        return running, False
    settings.pid_file.unlink(missing_ok=True)
    return None, True


def get_json(url: str, timeout: float = 2.0, method: str = "GET") -> dict:
    """GET (or POST) a labstack endpoint and decode its JSON. A POST is sent as JSON: labstack
    refuses any other state-changing request to its own endpoints (a web page could forge it).
    The request is signed with the environment's AWS credentials when it has some: a class-mode
    labstack answers by who asks (the instructor sees every account, a learner their own)."""
    post = method == "POST"
    body = b"{}" if post else b""
    headers = signed_headers(method, url, body, {"Content-Type": "application/json"} if post else {},
                             environment_credentials())
    request = urllib.request.Request(url, method=method, data=body if post else None, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local endpoint
        return json.loads(response.read())


def healthy(endpoint: str) -> bool:
    try:
        return "services" in get_json(f"{endpoint}/_labstack/health", timeout=1.0)
    except (OSError, ValueError, urllib.error.URLError):
        return False


def start(settings: Settings, wait: float = 60.0, env: dict[str, str] | None = None) -> tuple[Running, bool]:
    """Start labstack in the background unless it runs; returns it and whether it was new.

    ``env`` replaces the environment the server process gets (default: this one's).
    """
    running, _stale = find_running(settings)
    if running is not None:
        return running, False
    if not port_is_free(settings.host, settings.port):
        raise DaemonError(f"port {settings.port} is already in use{describe_holder(settings.port)}; "
                          f"stop that process or choose another port with --port or LABSTACK_PORT")
    settings.home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if env is None else env, LABSTACK_HOME=str(settings.home))
    with open(settings.log_file, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labstack", "serve", "--host", settings.host, "--port", str(settings.port),
             *(["--upstream", settings.upstream] if settings.upstream else []),
             *(["--learners", str(settings.learners)] if settings.learners else []),
             *[arg for host in settings.allowed_hosts for arg in ("--allowed-host", host)],
             *(["--insecure-shared"] if settings.insecure_shared else [])],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DaemonError(f"labstack exited with status {proc.returncode}: {tail(settings.log_file, 3).strip()}")
        if healthy(settings.endpoint):
            return Running(proc.pid, settings.port), True
        time.sleep(0.05)
    proc.terminate()
    raise DaemonError(f"labstack did not answer on {settings.endpoint} within {wait:.0f}s; see {settings.log_file}")


def stop(settings: Settings, wait: float = 15.0) -> Running | None:
    """Stop the running labstack and wait until its port is free; None if none ran."""
    running, _stale = find_running(settings)
    if running is None:
        return None
    try:
        os.kill(running.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and is_labstack(running.pid):
        time.sleep(0.05)
    if is_labstack(running.pid):
        try:
            os.killpg(os.getpgid(running.pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
        while time.monotonic() < deadline + 5 and is_labstack(running.pid):
            time.sleep(0.05)
        Children(settings.home).reap()  # what it started in sessions of their own, out of its group's reach
    while time.monotonic() < deadline + 5 and not port_is_free(settings.host, running.port):
        time.sleep(0.05)
    settings.pid_file.unlink(missing_ok=True)
    return running


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024 * max(1, lines // 200 + 1)))
            data = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:]) + ("\n" if data else "")
