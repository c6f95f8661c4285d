"""How a container of a task becomes a local process: command, working folder, environment.

Docker's rules pick the command (a task definition's entryPoint and command override the
image's). The image's own paths (``/app/app.py``, ``WORKDIR /app``) are found in its
unpacked folder, ``python`` is this machine's Python (what ``FROM python`` stands for),
and each container port is a free port on 127.0.0.1 the process reads from ``PORT``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstack.ports import free_port


@dataclass
class Launch:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    bindings: list[dict[str, Any]] = field(default_factory=list)


def shims(folder: Path) -> Path:
    """A folder whose ``python`` and ``python3`` run this machine's interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        link = folder / name
        if not link.exists():
            link.symlink_to(sys.executable)
    return folder


def command(container: dict[str, Any], image: dict[str, Any]) -> list[str]:
    """Docker's rule: an overridden entrypoint drops the image's CMD."""
    entrypoint = container.get("entryPoint")
    if entrypoint:
        return list(entrypoint) + list(container.get("command") or [])
    return list(image.get("Entrypoint") or []) + list(container.get("command") or image.get("Cmd") or [])


def host_path(value: str, rootfs: Path) -> str:
    """An absolute path of the image, as it is on this machine (other values unchanged)."""
    if not value.startswith("/") or value == "/":
        return value
    candidate = rootfs / value.lstrip("/")
    return str(candidate) if candidate.exists() else value


def plan(container: dict[str, Any], image: dict[str, Any], rootfs: Path, shim_dir: Path,
         extra_env: dict[str, str]) -> Launch:
    """The process for one container definition of a task."""
    env: dict[str, str] = {}
    for item in image.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    env.update({e["name"]: e["value"] for e in container.get("environment") or []})
    env = {k: ":".join(host_path(p, rootfs) for p in v.split(":")) for k, v in env.items()}
    env["PATH"] = f"{shim_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    env.update(extra_env)
    bindings = []
    for mapping in container.get("portMappings") or []:
        port = free_port()
        bindings.append({"bindIP": "127.0.0.1", "containerPort": mapping["containerPort"], "hostPort": port,
                         "protocol": mapping.get("protocol", "tcp")})
    if bindings:
        env["PORT"] = str(bindings[0]["hostPort"])
        env["HOST"] = "127.0.0.1"
    workdir = container.get("workingDirectory") or image.get("WorkingDir") or "/"
    cwd = Path(host_path(workdir, rootfs)) if workdir != "/" else rootfs
    argv = [host_path(arg, rootfs) for arg in command(container, image)]
    return Launch(argv, cwd, env, bindings)
