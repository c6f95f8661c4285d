"""How a container of a task becomes a local process: command, working folder, environment.

Docker's rules pick the command (a task definition's entryPoint and command override the
image's). The image's own paths (``/app/app.py``, ``WORKDIR /app``) are found in its
unpacked folder, ``python`` is this machine's Python (what ``FROM python`` stands for),
and each container port is a free port on 127.0.0.1 the process reads from ``PORT``. The
environment is the image's and the task definition's (plus ECS's and labstack's PATH), and the
task runner confines the process under bubblewrap where it can (:func:`confined`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstack import sandbox
from labstack.ports import free_port


# Run between bubblewrap and a container's command: SIGTERM's default action back (see :func:`confined`).
_DEFAULT_TERM = "import os, signal, sys; signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"


@dataclass
class Launch:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    bindings: list[dict[str, Any]] = field(default_factory=list)
    jail: sandbox.Jail | None = None  # what the container's processes see of this machine (the task runner's choice)


def confined(argv: list[str], jail: list[str]) -> list[str]:
    """``argv`` under ``jail`` (bubblewrap's command line, or nothing).

    bubblewrap passes no SIGTERM on to what it runs, and dies of one; so it starts ignoring SIGTERM
    and gives the command the default back. A stop's SIGTERM, sent to the whole process group, then
    reaches the app, which may shut down gracefully, and bubblewrap exits with the app's status."""
    if not jail:
        return argv
    return ["/bin/sh", "-c", 'trap "" TERM; exec "$@"', "sh", *jail, sys.executable, "-c", _DEFAULT_TERM, *argv]


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
    env["PATH"] = sandbox.search_path([shim_dir])  # the only variable of labstack's own a container gets
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
