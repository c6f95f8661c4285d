"""labstack's own services, one folder each (``services/<name>/provider.py``).

A service (or runtime, ``runtimes/<name>/provider.py``) folder whose ``provider.py``
defines ``PROVIDER`` (its Provider class) is served automatically; nothing else needs
editing to add one.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path


def builtin_providers() -> tuple[str, ...]:
    """``module:PROVIDER`` specs of every service and runtime folder with a provider, in name order."""
    found = []
    for package in (__name__, "labstack.runtimes"):
        here = Path(__file__).parent.parent / package.rsplit(".", 1)[-1]
        found += [
            f"{package}.{info.name}.provider:PROVIDER"
            for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name)
            if info.ispkg and (here / info.name / "provider.py").exists()
        ]
    return tuple(found)
