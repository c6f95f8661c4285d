"""Print the figures as a table and write them as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.core import Figure, Options

_DECIMALS = {"s": 3, "ms": 2, "MiB": 1}


def _value(value: float, unit: str) -> str:
    return f"{value:.{_DECIMALS.get(unit, 2)}f} {unit}"


def _verdict(figure: Figure) -> str:
    if figure.met is None:
        return figure.target
    return f"{figure.target}: {'met' if figure.met else 'MISSED'}"


def table(figures: list[Figure]) -> str:
    """A fixed-width table: labstack, the reference, ratio (labstack / reference), target.

    The reference is moto_server unless the figure's label names another.
    """
    header = ("figure", "labstack", "reference", "ratio", "target")
    rows = [
        (f.label, _value(f.labstack, f.unit), _value(f.moto, f.unit), f"{f.ratio:.2f}x", _verdict(f))
        for f in figures
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    align = ("<", ">", ">", ">", "<")

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    packages = {}
    for name in ("moto", "botocore", "boto3", "werkzeug"):
        try:
            packages[name] = version(name)
        except Exception:  # a missing distribution only leaves a gap in the record
            packages[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": packages,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(path: Path, figures: list[Figure], options: Options, seconds: float) -> None:
    """Write every figure (with its detail) to ``path``."""
    document = {
        "environment": environment(),
        "options": asdict(options),
        "run_seconds": round(seconds, 1),
        "figures": {
            f.key: {
                "label": f.label,
                "unit": f.unit,
                "labstack": round(f.labstack, 4),
                "moto_server": round(f.moto, 4),
                "ratio": round(f.ratio, 3),
                "target": f.target or None,
                "met": f.met,
                "detail": f.detail,
            }
            for f in figures
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
