"""A labstack in class mode for tests: a learners file of its own and clients signed by its keys."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from labstack import daemon, learners
from labstack.config import Settings
from labstack.learners import Learner
from labstack.ports import free_port
from tests.support.server import server_env

# Class mode runs builds and functions only under bubblewrap (.ci/run installs Debian's).
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)")
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60, connect_timeout=5)


@dataclass
class ClassLabstack:
    """A running class-mode labstack and the class it serves (learner01, learner02, learner03, instructor)."""

    settings: Settings
    rows: dict[str, Learner]
    learners_file: Path

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    def session(self, who: str, secret: str | None = None, token: str | None = None) -> boto3.session.Session:
        """A boto3 session with ``who``'s key (``secret`` replaces the real secret)."""
        row = self.rows[who]
        return boto3.session.Session(aws_access_key_id=row.access_key_id,
                                     aws_secret_access_key=secret or row.secret_access_key,
                                     aws_session_token=token, region_name="us-east-1")

    def client(self, service: str, who: str, secret: str | None = None, **config: Any) -> Any:
        """A client of ``service`` signed as ``who`` (a learner's name or "instructor")."""
        return self.session(who, secret).client(service, endpoint_url=self.endpoint,
                                                config=_CONFIG.merge(Config(**config)) if config else _CONFIG)

    def keyed(self, service: str, key: str, secret: str, token: str | None = None) -> Any:
        """A client signed with any key, known to the class or not."""
        return boto3.client(service, endpoint_url=self.endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                            aws_session_token=token, region_name="us-east-1", config=_CONFIG)

    def account(self, who: str) -> str:
        return self.rows[who].account_id


def engine_request(endpoint: str, body: bytes, method: str, key: str | None, secret: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON answer of a request to labstack's image engine (``docker push``), signed as an ECR
    call by ``key`` and ``secret`` (unsigned when ``key`` is None)."""
    import json
    import urllib.error
    import urllib.request

    from botocore.credentials import Credentials

    from labstack.images.engine import PUSH_PATH
    from labstack.signing import signed_headers

    url = endpoint + PUSH_PATH
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers = signed_headers(method, url, body if method == "POST" else b"", headers, Credentials(key, secret),
                                 service="ecr")
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start_class(home: Path, count: int = 3, **extra_env: str) -> ClassLabstack:
    """Write a learners file for ``count`` learners and start labstack in class mode on a free port."""
    rows = learners.generate(count)
    path = home / "learners.csv"
    learners.write(path, rows)
    settings = Settings(port=free_port(), home=home / "state")
    daemon.start(settings, wait=60, env=server_env(LABSTACK_HOME=str(settings.home), LABSTACK_LEARNERS=str(path),
                                                   **extra_env))
    return ClassLabstack(settings, {row.learner: row for row in rows}, path)
