"""boto3 clients through which labstack's engines call labstack itself, as a given account.

A provider that needs another service (a build reading an SSM parameter, a deployment
updating an ECS service) goes through the same public API a learner uses, so moto's state
and labstack's own stay consistent and every call follows AWS's rules. Against labstack the
clients sign with temporary credentials labstack issued in the account (``KeyRing.internal``),
which class mode verifies like any other key. Against an upstream (``labstack serve --upstream``)
the 12-digit account id is the access key id, which LocalStack reads as the account.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from labstack.trail import mark_caller
from labstack.upstream import FRONTED, SERVICES

_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)


class InternalClients:
    """A cache of boto3 clients per (service, account, region), safe to use from any thread."""

    def __init__(self, endpoint: str, upstream: str | None = None,
                 credentials: Callable[[str], Any] | None = None) -> None:
        self.endpoint = endpoint
        self.upstream = upstream
        self._credentials = credentials  # account -> an Identity labstack issued (class mode verifies it)
        self._lock = threading.Lock()
        self._clients: dict[tuple, Any] = {}
        self._session: boto3.session.Session | None = None  # one, so botocore's data files load once
        self._hooks: dict[str, list[Callable[[Any, str, str], None]]] = {}

    def get(self, service: str, account: str, region: str) -> Any:
        """A client that acts in ``account`` and ``region`` against this labstack, or against the
        upstream for a service consumed from there."""
        return self._client(service, account, region, direct=False)

    def moto(self, service: str, account: str, region: str) -> Any:
        """A client whose calls skip labstack's overlays and reach moto (an overlay that adds
        to what moto does calls moto through this); the upstream's for a service consumed from there."""
        return self._client(service, account, region, direct=True)

    def as_identity(self, service: str, identity: Any, region: str) -> Any:
        """A client signed with ``identity``'s temporary keys (a service's session of its role): what it
        does is decided by the role's policies. Clients are kept while the keys live (``forget``)."""
        return self._client(service, identity.account, region, direct=False, identity=identity)

    def fronted(self, service: str, account: str, region: str, identity: Any = None) -> Any:
        """Like :meth:`get` (or :meth:`as_identity`), but a service labstack fronts for the upstream
        (``labstack.upstream.FRONTED``) is called through labstack, as a learner's client calls it."""
        if not (self.upstream_serves(service) and service in FRONTED):
            return self.get(service, account, region) if identity is None else self.as_identity(service, identity, region)
        return self._client(service, account, region, direct=False, identity=identity, fronted=True)

    def forget(self, access_key: str) -> None:
        """Drop the clients of keys that were revoked (a build that ended)."""
        with self._lock:
            for key in [k for k in self._clients if len(k) == 6 and k[5] == access_key]:
                del self._clients[key]

    def instrument(self, service: str, hook: Callable[[Any, str, str], None]) -> None:
        """Call ``hook(client, account, region)`` on every client of ``service``, made or to come."""
        with self._lock:
            self._hooks.setdefault(service, []).append(hook)
            made = [(client, key[1], key[2]) for key, client in self._clients.items() if key[0] == service]
        for client, account, region in made:
            hook(client, account, region)

    def upstream_serves(self, service: str) -> bool:
        """True when ``service`` (botocore's name) is consumed from the upstream."""
        return self.upstream is not None and service in SERVICES

    def _client(self, service: str, account: str, region: str, direct: bool, identity: Any = None,
                fronted: bool = False) -> Any:
        upstream = self.upstream_serves(service) and not fronted
        direct = direct and not upstream
        key: tuple = (service, account, region, direct, fronted) if identity is None else (
            service, account, region, direct, fronted, identity.access_key)
        with self._lock:  # creating clients is not thread-safe; using them is
            client = self._clients.get(key)
            if client is None:
                if self._session is None:
                    self._session = boto3.session.Session()
                endpoint = self.upstream if upstream else self.endpoint
                keys: dict[str, Any] = {"aws_access_key_id": account, "aws_secret_access_key": "labstack"}
                if not upstream and (identity is not None or self._credentials is not None):
                    issued = identity if identity is not None else self._credentials(account)
                    keys = {"aws_access_key_id": issued.access_key, "aws_secret_access_key": issued.secret_key,
                            "aws_session_token": issued.session_token}
                client = self._session.client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG, **keys)
                client.meta.events.register("before-sign.*.*", mark_caller)  # the event log names the service
                if direct:
                    client.meta.events.register("before-sign.*.*", _mark_direct)
                for hook in self._hooks.get(service, ()):
                    hook(client, account, region)
                self._clients[key] = client
            return client


def _mark_direct(request: Any, **_: Any) -> None:
    request.headers["X-Labstack-Direct"] = "moto"


def without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    """A boto3 answer without its ResponseMetadata, ready to be answered again."""
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}
