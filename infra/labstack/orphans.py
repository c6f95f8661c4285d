"""The children labstack starts in sessions of their own (tasks' containers, Lambda workers, build shells),
recorded under ``LABSTACK_HOME`` so that those of a labstack that died without its shutdown (SIGKILL, a crash,
the OOM killer) are ended at the next start.

A child is one small file, ``children/<pid>.json``, written when it starts and removed once labstack has
reaped it: its pid (which is also its process group's and session's id), its start time, and the pid and
start time of the labstack that started it. At start (and when ``labstack stop`` had to kill a labstack),
:meth:`Children.reap` ends the children whose labstack is no longer alive, and only those that are still the processes recorded: the pid has the recorded start
time and still leads its own group and session, or, when that leader is gone, a member still in its group
and session that started after it (Linux gives no new process the id of a group still in use). A pid that
now belongs to someone else, a record that cannot be read, is too large, is not a regular file of this user
or says anything else is dropped, and nothing is killed for it. (Learner code under bubblewrap never sees
``LABSTACK_HOME``; code that runs unconfined can signal this user's processes anyway.)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger("labstack.orphans")
MAX_RECORD_BYTES = 512


def started_at(pid: int) -> float | None:
    """When process ``pid`` started (psutil's reading, the same in every process), or None if it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return None


def _running(pid: int, started: float) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` and has not ended (a zombie has)."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


def _leads(pid: int) -> bool:
    """Whether ``pid`` leads its own process group and session (as ``start_new_session`` made our children)."""
    try:
        return os.getpgid(pid) == pid and os.getsid(pid) == pid
    except OSError:
        return False


class Children:
    """The children of one labstack, recorded in ``home/children``."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "children"
        self.owner = os.getpid()
        self.owner_started = started_at(self.owner)

    def track(self, proc: subprocess.Popen) -> None:
        """Record ``proc`` (started with ``start_new_session=True``) until it has ended and been waited for."""
        self.register(proc.pid)
        threading.Thread(target=self._forget_when_reaped, args=(proc,), name=f"child-{proc.pid}", daemon=True).start()

    def _forget_when_reaped(self, proc: subprocess.Popen) -> None:
        proc.wait()
        self.unregister(proc.pid)

    def register(self, pid: int) -> None:
        """Record child ``pid`` (a failure to write is logged: the child runs anyway)."""
        record = {"pid": pid, "started": started_at(pid), "owner": self.owner, "owner_started": self.owner_started}
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".new-")
            with os.fdopen(fd, "w") as out:
                json.dump(record, out)
            os.replace(temporary, self.folder / f"{pid}.json")
        except OSError as exc:
            log.warning("child %d could not be recorded in %s: %s", pid, self.folder, exc)

    def unregister(self, pid: int) -> None:
        """Forget child ``pid``: it has been reaped."""
        (self.folder / f"{pid}.json").unlink(missing_ok=True)

    def reap(self) -> list[int]:
        """End the recorded children of labstacks no longer alive; returns the pids killed."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        killed: list[int] = []
        for name in names:
            path = self.folder / name
            record = _read(path)
            if record is not None and _running(record["owner"], record["owner_started"]):
                continue  # its labstack still runs (another one on this home, or this process): its to end
            if record is not None:
                killed += _end(record["pid"], record["started"])
            path.unlink(missing_ok=True)
        if killed:
            log.info("ended %d process(es) a labstack that did not shut down left behind: %s", len(killed), killed)
        return killed


def _read(path: Path) -> dict[str, Any] | None:
    """A record, or None when it is not one this labstack wrote (unreadable, a link, too large, malformed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > MAX_RECORD_BYTES:
            return None
        record = json.loads(os.read(fd, MAX_RECORD_BYTES + 1))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(record, dict):
        return None
    pid, owner = record.get("pid"), record.get("owner")
    started, owner_started = record.get("started"), record.get("owner_started")
    if not all(type(n) is int and n > 1 for n in (pid, owner)):  # never pid 0, -1 (everyone) or 1
        return None
    if not all(type(t) is float for t in (started, owner_started)):
        return None
    return {"pid": pid, "owner": owner, "started": started, "owner_started": owner_started}


def _end(pid: int, started: float) -> list[int]:
    """Kill the process group ``pid`` led, if its processes are still the ones recorded."""
    now = started_at(pid)
    if now is not None:
        if now != started or not _leads(pid):
            return []  # the pid is another process now
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            return []
        return [pid]
    killed = []
    for member in psutil.process_iter(["create_time"]):
        try:
            ours = os.getpgid(member.pid) == pid and os.getsid(member.pid) == pid
        except OSError:
            continue
        if ours and (member.info["create_time"] or 0) >= started:
            try:
                os.kill(member.pid, signal.SIGKILL)
                killed.append(member.pid)
            except OSError:
                pass
    return killed
