"""Git's smart-HTTP protocol as a WSGI app: ``git upload-pack`` / ``git receive-pack`` in
stateless-RPC mode per request (what ``git http-backend`` runs, without its extra process).

The request body is fed to git as it arrives and git's answer is sent as it writes it, so a clone or push of any size holds at most one buffer in memory. A
``post-receive`` hook reports exactly which references a push changed (old and new id);
a ``pre-receive`` hook refuses to delete the default branch, as CodeCommit does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labstack.services.codecommit.gitauth import Refusal
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
Guard = Callable[[dict], None]  # raises Refusal when the request may not go on


def install_hooks(hooks_dir: Path) -> Path:
    """Write labstack's hooks to ``hooks_dir`` (shared by every repository through core.hooksPath)."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("post-receive", _POST_RECEIVE), ("pre-receive", _PRE_RECEIVE)):
        path = hooks_dir / name
        path.write_text(text)
        path.chmod(0o755)
    return hooks_dir


class GitHttp:
    """A WSGI app serving bare repositories found by ``locate`` over git's smart HTTP; ``guard``
    (if given) checks each request's credentials first, before anything says whether a repository exists."""

    def __init__(self, locate: Locate, on_push: OnPush, hooks_dir: Path, max_request_bytes: int = MAX_REQUEST_BYTES,
                 guard: Guard | None = None) -> None:
        self.locate = locate
        self.on_push = on_push
        self.hooks_dir = install_hooks(hooks_dir)
        self.max_request_bytes = max_request_bytes
        self.guard = guard

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.guard is not None:
            try:
                self.guard(environ)
            except Refusal as refusal:
                return refusal.respond(start_response)
        target = self.locate(environ)
        if target is None or not target.repo.exists():
            return _plain(start_response, "404 Not Found", "Repository not found\n")
        service, advertise = _service(environ, target.suffix)
        if service is None:
            return _plain(start_response, "404 Not Found", "labstack serves git's smart HTTP protocol only\n")
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > self.max_request_bytes:
            return _too_large(start_response, self.max_request_bytes)
        return self._run(environ, start_response, target, service, advertise)

    def _env(self, environ: dict, updates: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
        env.update(
            HOME=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="core.hooksPath",
            GIT_CONFIG_VALUE_0=str(self.hooks_dir),
            LABSTACK_REF_UPDATES=updates,
        )
        if environ.get("HTTP_GIT_PROTOCOL"):
            env["GIT_PROTOCOL"] = environ["HTTP_GIT_PROTOCOL"]
        return env

    def _run(self, environ: dict, start_response: Callable[..., Any], target: Target, service: str, advertise: bool) -> Iterable[bytes]:
        fd, updates = tempfile.mkstemp(prefix="labstack-push-")
        os.close(fd)
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _finish, after the response is streamed
        args = [service.removeprefix("git-"), "--stateless-rpc"] + (["--advertise-refs"] if advertise else []) + [str(target.repo.path)]
        proc = subprocess.Popen(["git", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                env=self._env(environ, updates))
        feeder = _Feeder(environ, proc, self.max_request_bytes)
        feeder.start()
        assert proc.stdout is not None
        try:
            first = proc.stdout.read1(CHUNK)  # wait for git's first words (or its end)
        except BaseException:
            _finish(proc, feeder, stderr, updates)
            raise
        if feeder.too_large:
            _finish(proc, feeder, stderr, updates)
            return _too_large(start_response, self.max_request_bytes)
        if advertise and (service == "git-receive-pack" or "version=2" not in environ.get("HTTP_GIT_PROTOCOL", "")):
            first = _pkt_line(f"# service={service}\n") + b"0000" + first  # the smart-HTTP preamble of protocol v0
        kind = "advertisement" if advertise else "result"
        start_response("200 OK", [("Content-Type", f"application/x-{service}-{kind}"), *_NO_CACHE])
        return self._stream(proc, feeder, stderr, updates, target, first, service == "git-receive-pack" and not advertise)

    def _stream(self, proc: subprocess.Popen, feeder: _Feeder, stderr: Any, updates: str, target: Target,
                first: bytes, pushing: bool) -> Iterator[bytes]:
        assert proc.stdout is not None
        try:
            chunk = first
            while chunk:
                yield chunk
                chunk = proc.stdout.read1(CHUNK)
        finally:
            if pushing:  # even if the client left early: let the push finish, then tell what it changed
                while proc.stdout.read1(CHUNK):
                    pass
                proc.wait()
                feeder.join()
                changed = _read_updates(updates)
                if changed:
                    try:
                        self.on_push(target, changed)
                    except Exception:
                        log.exception("publishing the changes of a push to %s failed", target.repo.path.name)
            _finish(proc, feeder, stderr, updates)


_NO_CACHE = [("Cache-Control", "no-cache, max-age=0, must-revalidate"), ("Pragma", "no-cache"),
             ("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")]


def _service(environ: dict, suffix: str) -> tuple[str | None, bool]:
    """(git-upload-pack | git-receive-pack, whether it is the ref advertisement), or (None, False)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if suffix == "/info/refs" and method == "GET":
        query = environ.get("QUERY_STRING", "")
        for service in ("git-upload-pack", "git-receive-pack"):
            if f"service={service}" in query.split("&"):
                return service, True
    elif method == "POST" and suffix in ("/git-upload-pack", "/git-receive-pack"):
        return suffix[1:], False
    return None, False


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


class _Feeder(threading.Thread):
    """Copies the request body (gunzipped if need be) into git's stdin, stopping at the size limit."""

    def __init__(self, environ: dict, proc: subprocess.Popen, limit: int) -> None:
        super().__init__(name="git-feed", daemon=True)
        self.stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = bool(environ.get("wsgi.input_terminated"))
        self.left = int(length) if length.isdigit() else (None if chunked else 0)  # None: read to the end
        gzipped = environ.get("HTTP_CONTENT_ENCODING", "").lower() in ("gzip", "x-gzip")
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
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
                if self.left is not None:
                    self.left -= len(data)
                if self.inflate is not None:
                    data = self.inflate.decompress(data, self.limit + 1 - total)
                total += len(data)
                if total > self.limit:
                    self.too_large = True
                    self.proc.kill()
                    return
                stdin.write(data)
            if self.inflate is not None:
                stdin.write(self.inflate.flush())
        except (OSError, ValueError, zlib.error):
            self.proc.kill()  # the client went away, sent garbage, or git stopped reading: no half-applied push
        finally:
            try:
                stdin.close()
            except OSError:
                pass


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
        log.info("git exited %s: %s", proc.returncode, stderr.read(2000).decode(errors="replace").strip())
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
