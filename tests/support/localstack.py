"""A real LocalStack for the upstream tests, through labstack's own launcher (``labstack.localstack``).

Its venv is the kit's, in the checkout's ``.labstack/`` (what ``labstack localstack up`` builds
and ``make lab BACKEND=localstack`` uses): reused when current, built once otherwise from a
Python 3.13+ (``LOCALSTACK_PYTHON``, else the newest found). Without one the tests are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from labstack.localstack import LocalStackError, process, venv
from labstack.localstack.paths import Paths
from labstack.ports import free_port

from tests.support.server import ROOT

KIT_HOME = ROOT / ".labstack"


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


def start_localstack(home: Path, port: int | None = None) -> LocalStack:
    """LocalStack on ``port`` (a free one by default) with its files in ``home``; skips the test when it
    cannot be installed."""
    try:
        python = venv.ensure(Paths.from_env(KIT_HOME), say=lambda _line: None).python
    except LocalStackError as exc:
        pytest.skip(f"no LocalStack to run: {exc}")
    paths = Paths(home)
    running, _ = process.start(paths, python, port=port or free_port(), wait=120)
    return LocalStack(running.endpoint, lambda: process.stop(paths))
