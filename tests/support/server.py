"""Start and stop real labstack processes for tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from labstack import daemon
from labstack.config import Settings
from labstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "support" / "models"
TEST_PROVIDER = "tests.support.labtest:LabTestProvider"
TEST_OVERLAYS = "tests.support.overlays:SsmOverlay,tests.support.overlays:IamOverlay"
# Every test labstack checks its providers' answers against their output shapes (labstack.protocol.shapecheck);
# LABSTACK_CHECK_SHAPES=0 in the test run's environment turns it off, to measure what it costs.
CHECK_SHAPES = os.environ.get("LABSTACK_CHECK_SHAPES", "1")


def offline_builds() -> dict[str, str]:
    """The variables that let a test labstack's builds run the sample app offline: the kit's venv
    first on PATH (the lock pins pytest, coverage and bandit) and pip never reaching an index
    (passed on to builds by LABSTACK_BUILD_PASSENV: nothing else of labstack's environment is)."""
    return {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
            "PIP_NO_INDEX": "1", "LABSTACK_BUILD_PASSENV": "PIP_NO_INDEX"}


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a test labstack: the LabTest provider loaded, answers checked against
    their output shapes, nothing else special.

    The caller's ``LABSTACK_*``, ``AWS_*`` and ``MOTO_*`` variables are dropped, so each
    server runs with its defaults unless ``extra`` says otherwise.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABSTACK_", "AWS_", "MOTO_"))
           or k == "LABSTACK_MOTO_UNTESTED"}  # the newest-moto lane's servers start too (.ci/moto-newest)
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        AWS_DATA_PATH=str(MODELS),
        LABSTACK_PROVIDERS=f"{TEST_PROVIDER},{TEST_OVERLAYS}",
        LABSTACK_CHECK_SHAPES=CHECK_SHAPES,
    )
    env.update(extra)
    return env


@dataclass
class LabstackProcess:
    """A labstack started for a test, on its own port and state dir."""

    settings: Settings
    pid: int

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    def client(self, service: str, account: str = "test", region: str = "us-east-1", validate: bool = True,  # type: ignore[no-untyped-def]
               secret: str = "test", token: str | None = None):
        """A boto3 client for this labstack that never retries.

        ``account`` is the access key id (12 digits pick the account; an IAM user's or a role session's
        key id with its ``secret`` and ``token``); ``validate=False`` turns botocore's own parameter
        checks off so bad input reaches labstack.
        """
        session = boto3.session.Session(aws_access_key_id=account, aws_secret_access_key=secret,
                                        aws_session_token=token, region_name=region)
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30, connect_timeout=5,
                        parameter_validation=validate)
        return session.client(service, endpoint_url=self.endpoint, config=config)

    def stop(self) -> None:
        daemon.stop(self.settings)


def start_labstack(home: Path, **extra_env: str) -> LabstackProcess:
    """Start labstack on a free port with state in ``home``; wait until healthy."""
    settings = Settings(port=free_port(), home=home)
    running, _ = daemon.start(settings, wait=60, env=server_env(LABSTACK_HOME=str(home), **extra_env))
    return LabstackProcess(settings, running.pid)
