"""Where the labs' AWS calls go: labstack alone, LocalStack beside labstack, or a real account.

The backend is chosen by ``LAB_BACKEND`` (``embedded``, the default; ``localstack``; ``aws``).
Each backend is a map from service to endpoint; ``export`` writes it into the environment as
``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_<SERVICE>`` so a learner's plain ``boto3.client(...)``
goes exactly where the checks look.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
import botocore.utils
from botocore.config import Config

DEFAULT_LABSTACK = "http://127.0.0.1:4566"
DEFAULT_LOCALSTACK = "http://127.0.0.1:4566"  # `labstack localstack up` listens on loopback only
DEFAULT_BESIDE_LOCALSTACK = "http://127.0.0.1:4577"  # labstack's port when LocalStack holds 4566

# What LocalStack's free runtime serves and the labs take from it (issue #10); labstack serves the
# rest. CloudFormation stays on labstack although LocalStack serves it: the base stack creates ECS
# and ELBv2 resources, which LocalStack's free runtime answers 501 for, so the stack would fail there.
# CloudWatch stays on labstack too: LocalStack's free CloudWatch evaluates only single-metric alarms,
# never lab 06's metric math alarm, so that alarm would never fire and v3 would never be stopped.
LOCALSTACK_SERVICES = ("s3", "iam", "sts", "sns", "sqs", "logs", "events", "ssm", "secretsmanager")
# Of those, the ones a client still calls through labstack, which serves part of the API in front
# of LocalStack and forwards the rest: EventBridge, whose free runtime refuses a CodePipeline target
# (labstack keeps such targets; labstack.runtimes.eventbus). The rules themselves live in LocalStack.
THROUGH_LABSTACK = ("events",)

BACKENDS = ("embedded", "localstack", "aws")

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def endpoint_variable(service: str) -> str:
    """The variable botocore reads ``service``'s endpoint from: ``AWS_ENDPOINT_URL_`` and the service id
    in snake case (``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``_CLOUDWATCH_LOGS``, ``_EVENTBRIDGE``), not the client name."""
    name = botocore.utils.SERVICE_NAME_ALIASES.get(service, service)
    service_id = botocore.utils.CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES.get(name, name)
    return "AWS_ENDPOINT_URL_" + service_id.replace("-", "_").upper()


@dataclass(frozen=True)
class Backend:
    """A named place for AWS calls: a default endpoint (None: AWS itself) and per-service ones."""

    name: str
    endpoint: str | None
    service_endpoints: dict[str, str] = field(default_factory=dict)

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint ``service`` is called at; None means AWS's own."""
        return self.service_endpoints.get(service, self.endpoint)

    def export(self, environ: MutableMapping[str, str] = os.environ) -> None:
        """Point boto3 in this process (and the kernels it starts) at this backend; ``LAB_BACKEND`` and the
        endpoints it was built from go along, so a ``grader.Lab`` in a child process finds the same backend."""
        for key in [k for k in environ if k.startswith("AWS_ENDPOINT_URL")]:
            del environ[key]
        environ["LAB_BACKEND"] = self.name
        if self.name == "localstack":
            environ["LABSTACK_ENDPOINT"] = str(self.endpoint)
            environ["LOCALSTACK_ENDPOINT"] = self.service_endpoints[LOCALSTACK_SERVICES[0]]
        if self.endpoint:
            environ["AWS_ENDPOINT_URL"] = self.endpoint
            environ.setdefault("AWS_ACCESS_KEY_ID", "test")
            environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        for service, url in self.service_endpoints.items():
            environ[endpoint_variable(service)] = url
        environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    def variables(self) -> dict[str, str]:
        """The environment that selects this backend in another process (a shell, JupyterLab):
        ``LAB_BACKEND``, the endpoints it was built from, and what :meth:`export` sets."""
        env: dict[str, str] = {}
        self.export(env)
        return env

    def silent(self, timeout: float = 3.0) -> list[str]:
        """What of this backend does not answer, one line each saying how to start it (empty: all answer;
        AWS itself is not probed). LocalStack and labstack both serve ``/_localstack/health``."""
        make = "make lab BACKEND=localstack" if self.name == "localstack" else "make lab"
        places: dict[str, tuple[str, str]] = {}
        for url in set(self.service_endpoints.values()):
            places[url] = ("LocalStack", f"labstack localstack up --port {_port(url)}")
        if self.endpoint:
            upstream = self.service_endpoints.get(LOCALSTACK_SERVICES[0])
            places[self.endpoint] = ("labstack", f"labstack up --port {_port(self.endpoint)}"
                                     + (f" --upstream {upstream}" if upstream else ""))
        return [f"✗ {what} does not answer at {url}: start it with `{command}` (or `{make}`), then run this again"
                for url, (what, command) in sorted(places.items()) if not _answers(url, timeout)]

    @classmethod
    def named(cls, name: str, environ: MutableMapping[str, str] = os.environ) -> Backend:
        """The backend called ``name``, its endpoints read from ``environ``."""
        if name == "embedded":
            return cls(name, environ.get("AWS_ENDPOINT_URL") or DEFAULT_LABSTACK)
        if name == "localstack":
            localstack = environ.get("LOCALSTACK_ENDPOINT", DEFAULT_LOCALSTACK)
            return cls(name, environ.get("LABSTACK_ENDPOINT", DEFAULT_BESIDE_LOCALSTACK),
                       {service: localstack for service in LOCALSTACK_SERVICES if service not in THROUGH_LABSTACK})
        if name == "aws":
            return cls(name, None)
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] = os.environ) -> Backend:
        """The backend ``LAB_BACKEND`` names (embedded when unset)."""
        return cls.named(environ.get("LAB_BACKEND", "embedded"), environ)


def _port(url: str) -> int:
    """The port of an endpoint URL (80 when it names none)."""
    return urllib.parse.urlsplit(url).port or 80


def _answers(url: str, timeout: float) -> bool:
    """True when labstack or LocalStack answers its health document at ``url``."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_localstack/health", timeout=timeout) as response:
            return isinstance(json.loads(response.read()), dict)
    except (OSError, ValueError, urllib.error.URLError):
        return False


def fresh_account() -> str:
    """A random 12-digit access key id: on labstack (and LocalStack) a new, empty account."""
    return str(10**11 + secrets.randbelow(9 * 10**11))


def _share_models(session: boto3.session.Session) -> None:
    """Let ``session`` read botocore's models through the loader of boto3's default session, so
    the models a lab's checks and its cells' ``boto3.client(...)`` both use are parsed once."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    default = boto3.DEFAULT_SESSION
    if default is not None and default is not session:
        session._session.register_component("data_loader", default._session.get_component("data_loader"))


class LabSession:
    """boto3 clients for one backend and one set of credentials (the account the lab runs in)."""

    def __init__(self, backend: Backend, boto: boto3.session.Session | None = None) -> None:
        self.backend = backend
        self.boto = boto or boto3.session.Session()
        if self.boto.region_name is None:
            self.boto = boto3.session.Session(region_name="us-east-1")
        _share_models(self.boto)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # a boto3 session is not thread-safe; the clients it makes are

    @classmethod
    def for_key(cls, backend: Backend, access_key: str, secret_key: str = "test",
                region: str = "us-east-1") -> LabSession:
        """A session with explicit credentials (on labstack a 12-digit key is the account)."""
        return cls(backend, boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                                  region_name=region))

    @property
    def region(self) -> str:
        """The region calls go to."""
        return str(self.boto.region_name)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` at this backend (made once, then reused; any thread may ask)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.boto.client(service, endpoint_url=self.backend.endpoint_for(service),
                                                          config=_CONFIG)
            return self._clients[service]

    @cached_property
    def account(self) -> str:
        """The account id these credentials act in."""
        return str(self.client("sts").get_caller_identity()["Account"])

    def credentials_env(self) -> dict[str, str]:
        """The environment variables that give a child process these credentials and region."""
        creds = self.boto.get_credentials()
        env = {"AWS_DEFAULT_REGION": self.region, "LAB_BACKEND": self.backend.name}
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            env.update(AWS_ACCESS_KEY_ID=frozen.access_key, AWS_SECRET_ACCESS_KEY=frozen.secret_key)
            if frozen.token:
                env["AWS_SESSION_TOKEN"] = frozen.token
        return env
