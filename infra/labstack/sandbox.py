"""What learner code sees of this machine: builds, Dockerfile ``RUN`` steps, ECS tasks and Lambda workers.

Its environment is built from an allowlist (:func:`environment`): the search path, the locale,
and the variables ``LABSTACK_BUILD_PASSENV`` names; nothing else of labstack's own environment
gets in. The process runs under bubblewrap (:class:`Jail`) whenever ``bwrap`` works here: the
whole file system read-only, labstack's home, the learners file and the user's home hidden
(only what the code legitimately reads is shown again, read-only), its own folders writable,
a /tmp of its own, a PID namespace of its own (no ``/proc/<labstack>/environ``), no
capabilities, and the network shared so it still reaches labstack on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PASSENV_SETTING = "LABSTACK_BUILD_PASSENV"  # comma-separated names of labstack's variables learner code also gets
BWRAP_SETTING = "LABSTACK_BWRAP"  # the bubblewrap to use (default: bwrap on PATH)
LOCALE = ("LANG", "LANGUAGE", "TZ")  # and every LC_*
INSIDE = "LABSTACK_SANDBOXED"  # set in a sandboxed build: what it starts (a Dockerfile RUN) is confined already
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) "
                "on a host that allows unprivileged user namespaces")
# No capabilities even when labstack runs as root: with CAP_SYS_ADMIN, ``umount`` would uncover what is hidden.
_BASE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--cap-drop", "ALL"]


class Unavailable(Exception):
    """bubblewrap is missing or cannot make a sandbox on this host; the message says why."""


def search_path(first: Iterable[str | Path] = ()) -> str:
    """labstack's PATH with ``first`` in front (each once)."""
    front = [str(p) for p in first]
    rest = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and p not in front]
    return os.pathsep.join([*front, *rest])


def environment(first: Iterable[str | Path] = ()) -> dict[str, str]:
    """The part of labstack's own environment learner code may see: PATH (``first`` in front), the
    locale, and the variables ``LABSTACK_BUILD_PASSENV`` names (e.g. ``PIP_INDEX_URL`` for a mirror)."""
    passed = {name.strip() for name in os.environ.get(PASSENV_SETTING, "").split(",") if name.strip()}
    env = {k: v for k, v in os.environ.items() if k in LOCALE or k.startswith("LC_") or k in passed}
    env["PATH"] = search_path(first)
    return env


_probed: dict[str, str | None] = {}
_probe_lock = threading.Lock()


def bwrap() -> str:
    """The bubblewrap to run learner code under: ``LABSTACK_BWRAP`` or ``bwrap`` on PATH, tried once.
    Raises :class:`Unavailable` when it is missing or cannot make namespaces (e.g. in a container)."""
    wanted = os.environ.get(BWRAP_SETTING) or "bwrap"
    found = shutil.which(wanted)
    if found is None:
        raise Unavailable(f"bubblewrap ({wanted}) is not installed")
    with _probe_lock:
        if found not in _probed:
            try:
                done = subprocess.run([found, *_BASE, "--", "true"], capture_output=True, text=True, timeout=30, check=False)
                _probed[found] = None if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")
            except (OSError, subprocess.TimeoutExpired) as exc:
                _probed[found] = str(exc)
    problem = _probed[found]
    if problem is not None:
        raise Unavailable(f"bubblewrap ({found}) cannot make a sandbox here: {problem}")
    return found


def refusal(what: str, problem: Unavailable) -> str:
    """What class mode answers when ``what`` (builds, functions, tasks) cannot be confined."""
    return f"labstack runs {what} only under bubblewrap in class mode, and {problem}: {INSTALL_HINT}"


def prefix(jail: Jail, required: bool) -> list[str]:
    """The command line that puts learner code under ``jail``: empty where bubblewrap does not work
    here, unless ``required`` (class mode), which raises :class:`Unavailable` instead."""
    try:
        return jail.argv(bwrap())
    except Unavailable:
        if required:
            raise
        return []


def secret_paths(home: Path, learners: Path | None) -> list[Path]:
    """What learner code must never read: labstack's home (other accounts' workspaces, repositories,
    images, the log), the learners file (every learner's secret key), and the user's home (their
    own credentials: ``~/.aws``, ``~/.ssh``)."""
    found = [Path(os.path.expanduser("~")), home, *([learners] if learners else [])]  # "~" when there is none
    return [p.resolve() for p in found if str(p) not in ("", "/", "~")]


def runtime_paths() -> list[Path]:
    """What a process of the kit's Python must still read when the user's home is hidden: the
    interpreter and the kit's environment, the ``labstack`` package, and the search path."""
    import labstack

    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, Path(labstack.__file__).parent,
             *(p for p in sys.path if os.path.isabs(p)), *os.environ.get("PATH", "").split(os.pathsep)]
    return [Path(p).resolve() for p in found if p and os.path.isdir(p)]


@dataclass(frozen=True)
class Jail:
    """One sandbox's view of the file system, on top of a read-only ``/``.

    ``hidden`` folders become empty and read-only, hidden files empty; ``readable`` paths inside
    them (or inside a writable folder) are shown again read-only; ``writable`` folders are bound
    read-write; /tmp is ``tmp`` (or an empty tmpfs). Deeper paths win, so a workspace inside
    labstack's home stays writable while the rest is hidden.
    """

    hidden: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    tmp: Path | None = None
    # Killed with the thread that started it. Not for a process that outlives its request (a warm
    # Lambda worker, a task): Linux ties the parent-death signal to the starting thread, not the process.
    die_with_parent: bool = True

    @classmethod
    def hiding(cls, home: Path, learners: Path | None, readable: Iterable[Path] = (), writable: Iterable[Path] = (),
               tmp: Path | None = None, die_with_parent: bool = True) -> Jail:
        """A jail for learner code: :func:`secret_paths` hidden, the kit's Python (:func:`runtime_paths`)
        and ``readable`` shown again read-only, ``writable`` bound read-write."""
        return cls(hidden=tuple(secret_paths(home, learners)), readable=(*runtime_paths(), *readable),
                   writable=tuple(writable), tmp=tmp, die_with_parent=die_with_parent)

    def argv(self, program: str) -> list[str]:
        """The bubblewrap command line (``program`` is :func:`bwrap`'s answer) to put before a command."""
        hidden = [p for p in self.hidden if p.exists()]
        steps: list[tuple[Path, int, list[str]]] = [
            (Path("/tmp"), 0, ["--bind", str(self.tmp), "/tmp"] if self.tmp else ["--tmpfs", "/tmp"])]
        for path in self.readable:  # shown again where hidden, in /tmp, or read-only inside a writable folder
            if path.exists() and any(path.is_relative_to(h) for h in [*hidden, *self.writable, Path("/tmp")]):
                steps.append((path, 0, ["--ro-bind", str(path), str(path)]))
        for path in self.writable:
            steps.append((path, 1, ["--bind", str(path), str(path)]))
        for path in hidden:
            steps.append((path, 2, ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]))
        steps.sort(key=lambda step: (len(step[0].parts), step[1]))
        sealed = [word for path in hidden if path.is_dir() for word in ("--remount-ro", str(path))]  # binds inside stay
        tie = ["--die-with-parent"] if self.die_with_parent else []
        return [program, *_BASE, *tie, *(word for _, _, words in steps for word in words), *sealed, "--"]
