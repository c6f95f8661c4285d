"""labstack's own services, one folder each (``services/<name>/provider.py``).

A service folder whose ``provider.py`` defines ``PROVIDER`` (its Provider class) is served
automatically; nothing else needs editing to add one.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path


def builtin_providers() -> tuple[str, ...]:
    """``module:PROVIDER`` specs of every service folder with a provider, in name order."""
    here = Path(__file__).parent
    return tuple(
        f"{__name__}.{info.name}.provider:PROVIDER"
        for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name)
        if info.ispkg and (here / info.name / "provider.py").exists()
    )
