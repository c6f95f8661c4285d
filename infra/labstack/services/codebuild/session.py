"""One shell per build: commands run in it one after another, so variables and ``cd`` persist.

This is buildspec 0.2's model: every command of every phase runs in the same shell
instance. Each command is sourced from its own file with stdin from /dev/null, and the
shell prints a marker with the command's exit status on stdout, the same pipe that carries
the command's output, so output and status arrive in order. The shell leads its own process
group: stopping the build, or ending it, kills every process the commands started.

A command that runs ``exit`` ends the shell; its exported variables and working directory
are saved by an EXIT trap and restored in the shell that replaces it.

labstack writes the command files into the control folder, which a sandboxed build sees
read-only (see ``environment.jail``); the shell writes what it reports (its saved state, the
values of exported variables) into ``shell/`` inside it, which labstack reads without following
links, so a build cannot make labstack write or read anywhere else.
"""

from __future__ import annotations

import os
import queue
import secrets
import shlex
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

READ_CHUNK = 65536
MAX_LINE = 16384  # longer lines are cut into pieces of this size
STOP_GRACE_SECONDS = 2.0
MAX_VARIABLE_BYTES = 1 << 20  # an exported variable's value, read back from the shell


class OutputSink(Protocol):
    """Where a session's output goes, line by line."""

    full: bool

    def line(self, data: bytes) -> None: ...


class Interrupted(Exception):
    """The build was stopped or timed out while a command ran."""


class ShellSession:
    """A long-lived ``bash`` (or ``sh``) in its own process group."""

    def __init__(self, shell: str, cwd: Path, env: dict[str, str], control_dir: Path, sink: OutputSink,
                 sandbox: list[str] | None = None,
                 on_start: Callable[[subprocess.Popen], None] = lambda proc: None) -> None:
        self.sandbox = sandbox or []  # argv the shell runs under (bwrap), if any
        self.on_start = on_start  # told of each shell started (labstack records it: labstack.orphans)
        self.shell = shell
        self.cwd = cwd
        self.env = env
        self.control = control_dir
        self.reports = shell_dir(control_dir)  # where the shell writes; control_dir itself is labstack's to write
        self.reports.mkdir(parents=True, exist_ok=True)
        self.sink = sink
        self._token = secrets.token_hex(16).encode()
        self._marker = b"\x1elabstack-status:" + self._token + b":"
        self._status: queue.Queue[int | None] = queue.Queue()
        self._count = 0
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._restore = False
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _start(self) -> None:
        argv = [*self.sandbox, self.shell, "--noprofile", "--norc"] if self.shell.endswith("bash") else [*self.sandbox, self.shell]
        self._proc = subprocess.Popen(
            argv, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, bufsize=0,
        )
        self.on_start(self._proc)
        self._reader = threading.Thread(target=self._read, args=(self._proc,), name=f"build-output-{self._proc.pid}", daemon=True)
        self._reader.start()
        state, cwd = shlex.quote(str(self.reports / "state.sh")), shlex.quote(str(self.reports / "cwd"))
        prelude = f"trap 'export -p > {state}; pwd > {cwd}' EXIT\n"
        if self._restore:
            prelude += f". {state} 2>/dev/null; cd \"$(cat {cwd})\" 2>/dev/null\n"
        self._write(prelude.encode())

    def _write(self, data: bytes) -> bool:
        try:
            assert self._proc and self._proc.stdin
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def run(self, command: str, deadline: float | None, cancel: threading.Event) -> int:
        """Run one command; its exit status. Raises :class:`Interrupted` on ``cancel`` or past ``deadline``."""
        if self._proc is None or self._proc.poll() is not None:
            self._restore = self._proc is not None
            self.kill()
            self._start()
        self._count += 1
        script = self.control / f"command-{self._count}.sh"
        _write_new(script, command + "\n")
        line = f". {shlex.quote(str(script))} </dev/null\nprintf '\\036labstack-status:%s:%d\\n' {self._token.decode()} \"$?\"\n"
        if not self._write(line.encode()):
            return self._exit_status()
        return self._wait(deadline, cancel)

    def _wait(self, deadline: float | None, cancel: threading.Event) -> int:
        while True:
            try:
                status = self._status.get(timeout=0.05)
            except queue.Empty:
                status = None
            else:
                if status is not None:
                    return status
            if cancel.is_set() or (deadline is not None and time.monotonic() >= deadline):
                self.kill()
                raise Interrupted()
            if self._proc is not None and self._proc.poll() is not None and self._status.empty():
                self._drain()
                return self._exit_status()

    def _drain(self) -> None:
        """Give the reader a moment to pass on output written just before the shell exited."""
        if self._reader is not None:
            self._reader.join(timeout=0.5)

    def _exit_status(self) -> int:
        assert self._proc is not None
        code = self._proc.wait()
        return code if code >= 0 else 128 - code

    def _read(self, proc: subprocess.Popen) -> None:
        """Pass output on line by line; turn status markers into statuses."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        pending = b""
        keep = len(self._marker) + 16
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            while True:
                at = pending.find(self._marker)
                if at < 0:
                    break
                end = pending.find(b"\n", at)
                if end < 0:
                    break
                self._emit(pending[:at], final=True)
                self._status.put(int(pending[at + len(self._marker):end] or b"1"))
                pending = pending[end + 1:]
            pending = self._emit(pending, final=False, keep=keep)
        if pending:
            self._emit(pending, final=True)
        proc.stdout.close()

    def _emit(self, data: bytes, final: bool, keep: int = 0) -> bytes:
        """Send the whole lines of ``data`` (all of it if ``final``); return what is left over."""
        if self.sink.full:  # past the log cap: only the markers matter, so drop output fast
            return b"" if final else data[-keep:]
        lines = data.split(b"\n")
        rest = b"" if final else lines.pop()
        if final and lines and not lines[-1]:
            lines.pop()
        for line in lines:
            for start in range(0, max(len(line), 1), MAX_LINE):
                self.sink.line(line[start:start + MAX_LINE])
        while len(rest) > MAX_LINE:
            self.sink.line(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        return rest

    def read_variables(self, names: list[str], deadline: float | None, cancel: threading.Event) -> dict[str, str]:
        """The current values of shell variables ``names`` (unset ones are left out)."""
        values: dict[str, str] = {}
        for name in names:
            if not name.isidentifier():
                continue
            target = self.reports / f"variable-{name}"
            target.unlink(missing_ok=True)
            self.run(f'[ -n "${{{name}+set}}" ] && printf %s "${name}" > {shlex.quote(str(target))}', deadline, cancel)
            value = _read_plain(target)
            if value is not None:
                values[name] = value
        return values

    def kill(self) -> None:
        """Kill the shell's whole process group (commands, their children, background jobs)."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._reap()

    def _reap(self) -> None:
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        if self._proc.stdin:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=STOP_GRACE_SECONDS)

    def close(self) -> None:
        """End the shell and everything it started (once: a later call does nothing)."""
        if self._closed:
            return
        self._closed = True
        if self._proc is not None and self._proc.poll() is None and self._proc.stdin:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def shell_dir(control_dir: Path) -> Path:
    """The folder inside ``control_dir`` that the build's shell writes to."""
    return control_dir / "shell"


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to a new file at ``path``, never through a link or into a file already there."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _read_plain(path: Path) -> str | None:
    """The text of ``path`` if it is a regular file (not a link, not a FIFO that would block), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(MAX_VARIABLE_BYTES).decode(errors="replace")
