"""The resource type registry: every module in this package lists its handlers in ``TYPES``.

``handler(type_name)`` answers the handler of a type, or None (the engine refuses the template with
AWS's "Unrecognized resource types: [X]").
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading

from labstack.services.cloudformation.resource import ResourceType

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_registry: dict[str, ResourceType] = {}


def registry() -> dict[str, ResourceType]:
    """Type name -> handler, collected once from every module of this package."""
    with _lock:
        if not _registry:
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
                try:
                    module = importlib.import_module(f"{__name__}.{info.name}")
                except Exception:  # one broken handler module must not take CloudFormation down
                    _log.exception("CloudFormation resource types: %s failed to load", info.name)
                    continue
                for handler in getattr(module, "TYPES", []):
                    _registry[handler.type_name] = handler
        return _registry


def handler(type_name: str) -> ResourceType | None:
    """The handler of ``type_name``, or None when labstack has none."""
    return registry().get(type_name)
