"""A real LocalStack for the upstream tests.

LocalStack runs from a venv with localstack-core: ``LOCALSTACK_PYTHON``, else the venv that
``labstack localstack up`` builds under the repository's ``.labstack/``, else /tmp/lsvenv13.
It is started through labstack's own launcher (``labstack.localstack.process``) when that
exists, else directly with the same settings. Without any such Python the tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from labstack.daemon import get_json
from labstack.ports import free_port

from tests.support.server import ROOT

CANDIDATES = (ROOT / ".labstack" / "localstack-venv" / "bin" / "python", Path("/tmp/lsvenv13/bin/python"))


def localstack_python() -> Path | None:
    """The first Python that can run LocalStack, or None."""
    named = os.environ.get("LOCALSTACK_PYTHON")
    for path in ([Path(named)] if named else []) + list(CANDIDATES):
        if path.exists():
            return path
    return None


@dataclass
class LocalStack:
    """A LocalStack started for the tests."""

    endpoint: str
    stop: Callable[[], None]

    def client(self, service: str, account: str, region: str = "us-east-1"):  # type: ignore[no-untyped-def]
        """A boto3 client straight to LocalStack (the access key id picks the account)."""
        session = boto3.session.Session(aws_access_key_id=account, aws_secret_access_key="test", region_name=region)
        return session.client(service, endpoint_url=self.endpoint,
                              config=Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5))


def start_localstack(home: Path) -> LocalStack:
    """LocalStack on a free port with its files in ``home``; skips the test when none is installed."""
    python = localstack_python()
    if python is None:
        pytest.skip("no LocalStack to run: set LOCALSTACK_PYTHON to a Python with localstack-core "
                    "(or run `labstack localstack up` once)")
    port = free_port()
    try:
        from labstack.localstack import process
        from labstack.localstack.paths import Paths
    except ImportError:
        return _start_directly(python, home, port)
    paths = Paths(home)
    running, _ = process.start(paths, python, port=port, wait=120)
    return LocalStack(running.endpoint, lambda: process.stop(paths))


def _start_directly(python: Path, home: Path, port: int) -> LocalStack:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABSTACK_"))}
    env.update(GATEWAY_SERVER="hypercorn", GATEWAY_LISTEN=f"127.0.0.1:{port}", LOCALSTACK_HOST=f"127.0.0.1:{port}",
               DNS_ADDRESS="0", DISABLE_EVENTS="1", SKIP_SSL_CERT_DOWNLOAD="1", FILESYSTEM_ROOT=str(home / "fs"))
    with open(home / "localstack.log", "ab") as log:
        proc = subprocess.Popen([str(python), "-m", "localstack.runtime.main"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=home, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"LocalStack exited with {proc.returncode}; see {home / 'localstack.log'}")
        try:
            get_json(f"{endpoint}/_localstack/health", timeout=1)
            return LocalStack(endpoint, stop)
        except (OSError, ValueError, urllib.error.URLError):
            time.sleep(0.2)
    stop()
    raise RuntimeError(f"LocalStack did not answer at {endpoint} within 120 s")
