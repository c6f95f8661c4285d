"""One running labstack: settings, clock, providers, moto and the hooks between them."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from labstack import __version__
from labstack.clients import InternalClients
from labstack.clock import LabClock
from labstack.config import Settings
from labstack.context import DEFAULT_ACCOUNT
from labstack.enforcement.gate import Gate
from labstack.enforcement.stream import PolicyStream
from labstack.keyring import KeyRing
from labstack.learners import read as read_learners
from labstack.sessions import Sessions
from labstack.motobridge import MotoBridge
from labstack.motowrites import MotoWrites
from labstack.orphans import Children
from labstack.protocol.dispatch import Dispatcher, Router
from labstack.protocol.provider import Provider, load_provider
from labstack.protocol.shapecheck import install as install_shape_check
from labstack.routes import Routes
from labstack.services import builtin_providers
from labstack.state import Hooks
from labstack.trail import Trail
from labstack.upstream import LOCALSTACK_DEFAULT_ACCOUNT, SERVICES, Proxy

log = logging.getLogger("labstack")


class Labstack:
    """The emulator's state and engines, independent of the HTTP server around it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = LabClock(settings.time_scale)
        self.hooks = Hooks()
        self.trail = Trail(settings.trail_events)  # every call's event, for CloudTrail's LookupEvents
        self.hooks.on_reset(self.trail.clear)
        self.moto = MotoBridge()
        self.moto_writes = MotoWrites()  # what a runtime holds while it writes moto's models (labstack.motowrites)
        self.children = Children(settings.home)  # processes started in sessions of their own (labstack.orphans)
        self.routes = Routes()
        # Extra JSON views under /_labstack/ that providers add (the inbox…): path -> fn(environ).
        self.views: dict[str, Any] = {}
        # Class mode: the learners' keys (read now, so a bad file stops the start with its reason).
        self.keyring = KeyRing(read_learners(settings.learners) if settings.learners else None)
        self.sessions = Sessions(self.keyring)  # console sign-in (class mode)
        self.policy_stream = PolicyStream()  # every IAM decision, for the console and `labstack iam suggest`
        self.hooks.on_reset(self.policy_stream.clear)
        self.gate = Gate(self)  # IAM enforcement (LABSTACK_IAM)
        self.clients = InternalClients(settings.endpoint, settings.upstream, self.keyring.internal)
        self.proxy = Proxy(settings.upstream, settings.client_timeout) if settings.upstream else None
        # The account of a key that names none: LocalStack's when it holds the learner's S3, IAM…
        self.default_account = LOCALSTACK_DEFAULT_ACCOUNT if settings.upstream else DEFAULT_ACCOUNT
        self.started = time.time()
        self.router = Router()
        self.shape_check = install_shape_check(self)  # None unless LABSTACK_CHECK_SHAPES=1 (the test suite)
        self.providers: list[Provider] = []
        self._warm = threading.Event()
        self._shutdown_lock = threading.Lock()
        self._shut_down = False
        self._warm_error: BaseException | None = None

    def warm_up(self) -> None:
        """Load providers (and their botocore models), then moto; health answers meanwhile."""

        def run() -> None:
            try:
                for spec in builtin_providers() + self.settings.extra_providers:
                    cls = load_provider(spec)
                    if not cls.upstream_only or self.proxy is not None:
                        self.register(cls)
                self.moto.load()
            except BaseException as exc:
                log.exception("labstack failed to start its services")
                self._warm_error = exc
            finally:
                self._warm.set()

        threading.Thread(target=run, name="warm-up", daemon=True).start()

    def wait_warm(self, timeout: float = 60.0) -> None:
        """Block until :meth:`warm_up` finished; raise if it failed."""
        if not self._warm.wait(timeout):
            raise TimeoutError("labstack is still starting")
        if self._warm_error is not None:
            raise RuntimeError(f"labstack failed to start: {self._warm_error!r}")

    @property
    def warm(self) -> bool:
        return self._warm.is_set() and self._warm_error is None

    def register(self, cls: type[Provider]) -> Provider:
        """Serve ``cls`` for its service (an overlay: for the operations it implements)."""
        provider = cls(self)
        self.router.add(Dispatcher(provider))
        self.providers.append(provider)
        log.info("provider %s serves %s%s", cls.__name__, provider.service, " (over moto)" if provider.overlay else "")
        return provider

    def reset(self) -> None:
        """Drop all state: running work stops, stores empty, moto resets."""
        self.clock.interrupt()
        self.hooks.run_reset()
        self.moto.reset()
        self.hooks.run_after_reset()
        log.info("state reset")

    def shutdown(self) -> None:
        """Stop every runtime's work, once (later calls return at once)."""
        with self._shutdown_lock:
            if self._shut_down:
                return
            self._shut_down = True
        self.clock.interrupt()
        self.hooks.run_shutdown()

    def health(self) -> dict[str, Any]:
        """LocalStack-compatible health: every service and its state (and the upstream, if any)."""
        services = self.moto.service_states()
        for provider in self.providers:
            services[provider.service] = "running"
        health = {
            "services": dict(sorted(services.items())),
            "edition": "labstack",
            "version": __version__,
            "ready": self.warm,
        }
        if self.settings.upstream:  # where S3, IAM… are served from
            health["upstream"] = {"url": self.settings.upstream, "services": sorted(SERVICES)}
        return health

    def endpoints(self, only: set[str] | None = None) -> list[dict[str, Any]]:
        """Local URLs labstack serves besides its API (load-balancer listeners), of ``only`` those accounts."""
        return [entry for provider in self.providers for entry in provider.endpoints()
                if only is None or entry.get("account") in only]

    def status(self, only: set[str] | None = None) -> dict[str, Any]:
        """Endpoint, uptime, version and per-account counts for ``labstack status``; with ``only``, just
        those accounts and their listeners (a learner in class mode sees their own)."""
        accounts: dict[str, dict[str, Any]] = {}

        def entry(account: str) -> dict[str, Any]:
            return accounts.setdefault(
                account, {"resources": {}, "builds": 0, "deployments": 0, "tasks": 0}
            )

        for account, per_service in self.moto.census().items():
            entry(account)["resources"].update(per_service)
        for provider in self.providers:
            for account, count in provider.resource_counts().items():
                if count:
                    entry(account)["resources"][provider.service] = count
            for account, kinds in provider.activity_counts().items():
                for kind, count in kinds.items():
                    entry(account)[kind] = entry(account).get(kind, 0) + count
        for data in accounts.values():
            data["resource_count"] = sum(data["resources"].values())
        return {
            "endpoint": self.settings.endpoint,
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started, 1),
            "time_scale": self.clock.scale,
            "clock_waits": self.clock.sleepers,
            "ready": self.warm,
            "accounts": dict(sorted((a, data) for a, data in accounts.items() if only is None or a in only)),
            "endpoints": self.endpoints(only),
        }
