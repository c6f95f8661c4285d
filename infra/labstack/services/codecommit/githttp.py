"""Git's smart-HTTP protocol as a WSGI app: ``git http-backend`` run per request, streamed.

The request body is fed to the backend as it arrives and the backend's answer is sent as
git writes it, so a clone or push of any size holds at most one buffer in memory. A
``post-receive`` hook reports exactly which references a push changed (old and new id);
a ``pre-receive`` hook refuses to delete the default branch, as CodeCommit does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from labstack.services.codecommit.repos import ZERO, BareRepo

log = logging.getLogger("labstack.git")
CHUNK = 64 * 1024
MAX_REQUEST_BYTES = 2 * 1024**3  # a single push or fetch request body (CodeCommit's blob limit is 2 GB)
SERVICES = ("/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD")

_POST_RECEIVE = """#!/bin/sh
# labstack: report the references this push changed (old new ref, one a line)
if [ -n "$LABSTACK_REF_UPDATES" ]; then cat >> "$LABSTACK_REF_UPDATES"; fi
exit 0
"""
_PRE_RECEIVE = """#!/bin/sh
# labstack: the default branch cannot be deleted (CodeCommit's rule)
head=$(git symbolic-ref -q HEAD)
zero=0000000000000000000000000000000000000000
while read old new ref; do
  if [ "$new" = "$zero" ] && [ "$ref" = "$head" ] && [ "$old" != "$zero" ]; then
    echo "error: ${ref#refs/heads/} is the default branch and cannot be deleted; make another branch the default first" >&2
    exit 1
  fi
done
exit 0
"""


@dataclass(frozen=True)
class RefUpdate:
    """One reference a push (or an API call) moved; ZERO ids mean created or deleted."""

    old: str
    new: str
    ref: str


@dataclass
class Target:
    """Where a request goes: the repository, the git path inside it, and who owns it."""

    repo: BareRepo
    suffix: str
    owner: Any


def created_branches(updates: list[RefUpdate]) -> list[str]:
    """Names of the branches ``updates`` created."""
    return [u.ref[len("refs/heads/"):] for u in updates if u.ref.startswith("refs/heads/") and u.old == ZERO]


Locate = Callable[[dict], "Target | None"]
OnPush = Callable[[Target, list[RefUpdate]], None]


def install_hooks(hooks_dir: Path) -> Path:
    """Write labstack's hooks to ``hooks_dir`` (shared by every repository through core.hooksPath)."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("post-receive", _POST_RECEIVE), ("pre-receive", _PRE_RECEIVE)):
        path = hooks_dir / name
        path.write_text(text)
        path.chmod(0o755)
    return hooks_dir


class GitHttp:
    """A WSGI app serving bare repositories found by ``locate`` over git's smart HTTP."""

    def __init__(self, locate: Locate, on_push: OnPush, hooks_dir: Path, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.locate = locate
        self.on_push = on_push
        self.hooks_dir = install_hooks(hooks_dir)
        self.max_request_bytes = max_request_bytes

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = self.locate(environ)
        if target is None or not target.repo.exists():
            return _plain(start_response, "404 Not Found", "Repository not found\n")
        if not target.suffix.startswith(SERVICES) and not target.suffix.startswith("/objects/"):
            return _plain(start_response, "404 Not Found", "Not a git path\n")
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > self.max_request_bytes:
            return _too_large(start_response, self.max_request_bytes)
        return self._run(environ, start_response, target)

    def _cgi_env(self, environ: dict, target: Target, updates: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
        env.update(
            GATEWAY_INTERFACE="CGI/1.1",
            REQUEST_METHOD=environ.get("REQUEST_METHOD", "GET"),
            QUERY_STRING=environ.get("QUERY_STRING", ""),
            CONTENT_TYPE=environ.get("CONTENT_TYPE", ""),
            PATH_TRANSLATED=str(target.repo.path) + target.suffix,
            PATH_INFO=target.suffix,
            REMOTE_ADDR=environ.get("REMOTE_ADDR", "127.0.0.1"),
            GIT_HTTP_EXPORT_ALL="1",
            HOME=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_COUNT="2",
            GIT_CONFIG_KEY_0="http.receivepack",
            GIT_CONFIG_VALUE_0="true",
            GIT_CONFIG_KEY_1="core.hooksPath",
            GIT_CONFIG_VALUE_1=str(self.hooks_dir),
            LABSTACK_REF_UPDATES=updates,
        )
        if environ.get("CONTENT_LENGTH"):
            env["CONTENT_LENGTH"] = environ["CONTENT_LENGTH"]
        for header in ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL"):  # the backend reads both itself
            if environ.get(header):
                env[header] = environ[header]
        return env

    def _run(self, environ: dict, start_response: Callable[..., Any], target: Target) -> Iterable[bytes]:
        fd, updates = tempfile.mkstemp(prefix="labstack-push-")
        os.close(fd)
        stderr = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            ["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            env=self._cgi_env(environ, target, updates),
        )
        feeder = _Feeder(environ, proc, self.max_request_bytes)
        feeder.start()
        try:
            status, headers = _read_cgi_headers(proc)
        except BaseException:
            _finish(proc, feeder, stderr, updates)
            raise
        if feeder.too_large:
            _finish(proc, feeder, stderr, updates)
            return _too_large(start_response, self.max_request_bytes)
        if status is None:  # the backend died before answering
            _finish(proc, feeder, stderr, updates)
            return _plain(start_response, "500 Internal Server Error", "git http-backend failed\n")
        start_response(status, headers)
        return self._stream(proc, feeder, stderr, updates, target)

    def _stream(self, proc: subprocess.Popen, feeder: "_Feeder", stderr: Any, updates: str, target: Target) -> Iterator[bytes]:
        try:
            assert proc.stdout is not None
            while chunk := proc.stdout.read1(CHUNK):
                yield chunk
            proc.wait()
            feeder.join()
            changed = _read_updates(updates)
            if changed:
                try:
                    self.on_push(target, changed)
                except Exception:
                    log.exception("publishing the changes of a push to %s failed", target.repo.path.name)
        finally:
            _finish(proc, feeder, stderr, updates)


class _Feeder(threading.Thread):
    """Copies the request body into the backend's stdin, stopping at the size limit."""

    def __init__(self, environ: dict, proc: subprocess.Popen, limit: int) -> None:
        super().__init__(name="git-feed", daemon=True)
        self.stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = bool(environ.get("wsgi.input_terminated"))
        self.left = int(length) if length.isdigit() else (None if chunked else 0)  # None: read to the end
        self.proc = proc
        self.limit = limit
        self.too_large = False

    def run(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        total = 0
        try:
            while self.left is None or self.left > 0:
                want = CHUNK if self.left is None else min(CHUNK, self.left)
                data = self.stream.read(want)
                if not data:
                    break
                total += len(data)
                if self.left is not None:
                    self.left -= len(data)
                if total > self.limit:
                    self.too_large = True
                    self.proc.kill()
                    return
                stdin.write(data)
        except (OSError, ValueError):
            self.proc.kill()  # the client went away or git stopped reading: no half-applied push
        finally:
            try:
                stdin.close()
            except OSError:
                pass


def _read_cgi_headers(proc: subprocess.Popen) -> tuple[str | None, list[tuple[str, str]]]:
    """The CGI status and headers git printed; (None, []) if it printed none."""
    assert proc.stdout is not None
    status = "200 OK"
    headers: list[tuple[str, str]] = []
    seen_any = False
    while True:
        line = proc.stdout.readline()
        if not line:
            return (status if seen_any else None), headers
        line = line.rstrip(b"\r\n")
        if not line:
            return status, headers
        seen_any = True
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "status":
            status = value.strip()
        else:
            headers.append((name.strip(), value.strip()))


def _read_updates(path: str) -> list[RefUpdate]:
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    return [RefUpdate(*line.split()) for line in text.splitlines() if len(line.split()) == 3]


def _finish(proc: subprocess.Popen, feeder: _Feeder, stderr: Any, updates: str) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    feeder.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
    if proc.returncode not in (0, -9):
        stderr.seek(0)
        log.info("git http-backend exited %s: %s", proc.returncode, stderr.read(2000).decode(errors="replace").strip())
    stderr.close()
    try:
        os.unlink(updates)
    except OSError:
        pass


def _plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _too_large(start_response: Callable[..., Any], limit: int) -> list[bytes]:
    return _plain(start_response, "413 Request Entity Too Large", f"labstack accepts git requests up to {limit} bytes\n")
