"""Warm workers: one process per concurrent invocation of a function version, reused while
its code and configuration stay the same, recycled when they change."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labstack.archives import ArchiveError, extract_zip
from labstack import sandbox
from labstack.errors import AwsError
from labstack.keyring import Identity
from labstack.runtimes.lambdas.functions import FunctionSpec
from labstack.runtimes.lambdas.sessions import ExecutionRoles
from labstack.runtimes.lambdas.worker import ANSWER_FD, END_MARKER

MAX_LOG_LINES = 10_000  # per invocation; the rest is counted, not kept
MAX_LINE = 16_384
# A warm worker left idle this many real seconds is retired (its next invoke is a cold start), as Lambda
# reclaims idle execution environments: a class at rest keeps no function processes.
IDLE_SECONDS = float(os.environ.get("LABSTACK_LAMBDA_IDLE_SECONDS") or 60.0)
# A worker is replaced before its role session has less than this many seconds left beyond its timeout.
RENEW_SECONDS = 60.0


@dataclass
class Outcome:
    """How one invocation ended, and what it printed."""

    answer: dict | None  # None: the worker timed out or died
    logs: list[str]
    timed_out: bool = False
    exit_code: int | None = None
    dropped_lines: int = 0
    seconds: float = 0.0


@dataclass
class Worker:
    """One warm execution environment."""

    spec: FunctionSpec
    proc: subprocess.Popen
    stream: str
    identity: Identity  # the session of the function's execution role its code runs with
    logging: bool = False  # the role made the worker's log stream, so its lines are shipped
    answers: "queue.Queue[dict]" = field(default_factory=queue.Queue)
    output: "queue.Queue[str | None]" = field(default_factory=queue.Queue)
    busy: bool = False
    last_used: float = field(default_factory=time.monotonic)

    def invoke(self, request_id: str, invoked_arn: str, event: bytes) -> Outcome:
        started = time.monotonic()
        deadline = started + self.spec.timeout
        request = {"request_id": request_id, "invoked_arn": invoked_arn,
                   "event": event.decode("utf-8") or "{}", "deadline": time.time() + self.spec.timeout}
        outcome = Outcome(answer=None, logs=[])
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            outcome.exit_code = self.proc.poll()
            return outcome
        marker = END_MARKER + request_id
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.output.get(timeout=max(0.0, left))
            except queue.Empty:
                outcome.timed_out = True
                break
            if line is None:  # the process ended
                outcome.exit_code = self.proc.wait()
                break
            if line == marker:
                try:
                    outcome.answer = self.answers.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty:
                    outcome.timed_out = True
                break
            if len(outcome.logs) < MAX_LOG_LINES:
                outcome.logs.append(line[:MAX_LINE])
            else:
                outcome.dropped_lines += 1
        outcome.seconds = time.monotonic() - started
        return outcome

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()


class WorkerPool:
    """Warm workers per function version; at most ``limit`` per version at once."""

    def __init__(self, home: Path, endpoint: str, sessions: ExecutionRoles, limit: int = 8,
                 learners: Path | None = None, on_start: Callable[[subprocess.Popen], None] = lambda proc: None) -> None:
        self.home = home
        self.on_start = on_start  # told of each worker process (labstack records it: labstack.orphans)
        self.learners = learners  # the class-mode learners file: workers run only under bubblewrap then, never seeing it
        self.endpoint = endpoint
        self.sessions = sessions  # a worker's credentials: a session of the function's execution role
        self.limit = limit
        self._lock = threading.Condition()
        self._workers: list[Worker] = []

    def acquire(self, spec: FunctionSpec) -> tuple[Worker, bool]:
        """A worker for ``spec`` (and whether it had to be started: a cold start)."""
        with self._lock:
            self._retire(lambda w: w.spec.arn == spec.arn and w.spec.version == spec.version and w.spec.key != spec.key)
            while True:
                self._retire(lambda w: not w.alive() or w.identity.expired(time.time() + w.spec.timeout + RENEW_SECONDS))
                mine = [w for w in self._workers if w.spec.key == spec.key]
                idle = next((w for w in mine if not w.busy), None)
                if idle is not None:
                    idle.busy = True
                    return idle, False
                if len(mine) < self.limit:
                    break
                self._lock.wait(0.1)
        worker = self._start(spec)
        with self._lock:
            worker.busy = True
            self._workers.append(worker)
        return worker, True

    def release(self, worker: Worker) -> None:
        with self._lock:
            worker.busy = False
            worker.last_used = time.monotonic()
            self._lock.notify_all()
        self.retire_idle()

    def retire_idle(self) -> None:
        """End the workers idle for more than ``IDLE_SECONDS`` (the runtime calls this now and then)."""
        with self._lock:
            self._retire(lambda w: not w.busy and time.monotonic() - w.last_used > IDLE_SECONDS)

    def discard(self, worker: Worker) -> None:
        """Kill a worker that timed out or broke; it is never reused."""
        self._end(worker)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            self._end(worker)

    def size(self) -> int:
        with self._lock:
            return len(self._workers)

    def _retire(self, which) -> None:  # type: ignore[no-untyped-def]
        for worker in [w for w in self._workers if which(w) and not w.busy]:
            self._workers.remove(worker)
            self._end(worker)

    def _end(self, worker: Worker) -> None:
        worker.kill()
        self.sessions.end(worker.identity)

    def _code_dir(self, spec: FunctionSpec) -> Path:
        target = self.home / "lambda" / spec.account / spec.region / spec.name / f"{spec.version.strip('$')}-{spec.code_sha[:16]}"
        if not target.exists():
            staging = target.with_name(target.name + f".{uuid.uuid4().hex}")
            try:
                extract_zip(spec.code, staging, "the deployment package")
            except ArchiveError:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            try:
                staging.rename(target)
            except OSError:  # another invocation unpacked it first
                pass
        return target

    def _start(self, spec: FunctionSpec) -> Worker:
        identity = self.sessions.assume(spec)  # Lambda's InvalidParameterValueException when it may not
        try:
            return self._spawn(spec, identity)
        except BaseException:
            self.sessions.end(identity)
            raise

    def _spawn(self, spec: FunctionSpec, identity: Identity) -> Worker:
        code_dir = self._code_dir(spec)
        stream = time.strftime("%Y/%m/%d") + f"/[{spec.version}]{uuid.uuid4().hex}"
        env = {
            "PATH": sandbox.search_path(), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
            "LAMBDA_TASK_ROOT": str(code_dir), "_HANDLER": spec.handler, "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory), "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream, "AWS_REGION": spec.region, "AWS_DEFAULT_REGION": spec.region,
            **identity.environment(), "AWS_ENDPOINT_URL": self.endpoint,
            **dict(spec.env),
        }
        read_answers, write_answers = os.pipe()
        env[ANSWER_FD] = str(write_answers)
        proc = subprocess.Popen(
            [*self._jail(code_dir), sys.executable, "-m", "labstack.runtimes.lambdas.worker"], cwd=code_dir, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(write_answers,), start_new_session=True,
        )
        os.close(write_answers)
        self.on_start(proc)
        worker = Worker(spec, proc, stream, identity)
        threading.Thread(target=_pump_answers, args=(read_answers, worker.answers), daemon=True).start()
        threading.Thread(target=_pump_output, args=(proc, worker.output), daemon=True).start()
        return worker


    def _jail(self, code_dir: Path) -> list[str]:
        """The bubblewrap a worker runs under: its code read-only (as Lambda's /var/task), a /tmp of its
        own, labstack's state, the learners file and the user's home hidden (see :mod:`labstack.sandbox`)."""
        jail = sandbox.Jail.hiding(self.home, self.learners, readable=(code_dir.resolve(),), die_with_parent=False)
        try:
            return sandbox.prefix(jail, required=self.learners is not None)
        except sandbox.Unavailable as exc:
            raise AwsError("ServiceException", sandbox.refusal("functions", exc), 500) from None


def _pump_answers(fd: int, answers: "queue.Queue[dict]") -> None:
    with os.fdopen(fd, "r", encoding="utf-8") as stream:
        for line in stream:
            answers.put(json.loads(line))


def _pump_output(proc: subprocess.Popen, output: "queue.Queue[str | None]") -> None:
    assert proc.stdout is not None
    for raw in iter(lambda: proc.stdout.readline(MAX_LINE), b""):  # type: ignore[union-attr]
        output.put(raw.decode("utf-8", "replace").rstrip("\n"))
    output.put(None)
