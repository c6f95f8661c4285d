"""moto, in process: the store for every service labstack does not own.

moto is imported in a background thread after the socket is bound, so labstack
answers its health check at once; requests for moto's services wait until it is in.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Iterable

# Services the kit relies on moto for (DESIGN.md), as botocore names them.
MOTO_SERVICES = (
    "s3", "iam", "sts", "sns", "sqs", "cloudwatch", "logs", "events", "ssm",
    "secretsmanager", "kms", "ecr", "ecs", "elbv2", "lambda", "cloudformation",
)

# moto's backend names where they differ from botocore's.
_BACKEND_NAMES = {"elbv2": "elbv2", "lambda": "awslambda", "cloudwatch": "cloudwatch"}

# What counts as a learner's resource, per moto backend: attribute holding a collection.
_RESOURCE_ATTRS: dict[str, tuple[str, ...]] = {
    "s3": ("buckets",),
    "iam": ("roles", "users", "groups", "instance_profiles"),
    "sns": ("topics",),
    "sqs": ("queues",),
    "cloudwatch": ("alarms", "dashboards"),
    "logs": ("groups",),
    "events": ("rules",),
    "ssm": ("_parameters",),
    "secretsmanager": ("secrets",),
    "kms": ("keys",),
    "ecr": ("repositories",),
    "ecs": ("clusters", "task_definitions", "services"),
    "elbv2": ("load_balancers", "target_groups"),
    "awslambda": ("_lambdas",),
    "cloudformation": ("stacks",),
}


class MotoBridge:
    """Loads moto's WSGI dispatcher and forwards requests to it."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None
        self.handler_class: type | None = None
        self.loaded_in: float | None = None

    def load(self) -> None:
        """Import moto and build its dispatcher (idempotent)."""
        if self.app is not None:
            return
        started = time.perf_counter()
        # AWS-managed IAM policies (AdministratorAccess…) must exist to be attached.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        self.handler_class = MotoRequestHandler
        self.app = DomainDispatcherApplication(create_backend_app)
        self.loaded_in = time.perf_counter() - started

    @property
    def ready(self) -> bool:
        return self.app is not None

    def service_states(self) -> dict[str, str]:
        """LocalStack-style state per service: ``running`` once its backend holds data."""
        running = set(self._loaded_backends()) if self.ready else set()
        return {
            svc: "running" if _BACKEND_NAMES.get(svc, svc) in running else "available"
            for svc in MOTO_SERVICES
        }

    def reset(self) -> None:
        """Empty every moto backend (moto's own reset)."""
        if not self.ready:
            return
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def census(self) -> dict[str, dict[str, int]]:
        """Per account, per service: how many resources moto holds."""
        counts: dict[str, dict[str, int]] = {}
        if not self.ready:
            return counts
        for name, backends in self._loaded_backends().items():
            attrs = _RESOURCE_ATTRS.get(name)
            if not attrs:
                continue
            for account, _region, backend in list(backends.iter_backends()):
                total = sum(len(getattr(backend, a, ()) or ()) for a in attrs)
                if name == "iam":
                    total += sum(
                        1 for arn in list(getattr(backend, "managed_policies", {})) if ":aws:policy/" not in arn
                    )
                if total:
                    per = counts.setdefault(account, {})
                    per[name] = per.get(name, 0) + total
        return counts

    @staticmethod
    def _loaded_backends() -> dict[str, Any]:
        base = sys.modules.get("moto.core.base_backend")
        if base is None:
            return {}
        return {b.service_name: b for b in list(base.BackendDict._instances) if len(b)}
