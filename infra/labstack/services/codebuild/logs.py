"""A build's log: lines stream to CloudWatch Logs in small batches while the build runs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from labstack.services.codebuild.role import access_denied

log = logging.getLogger("labstack.codebuild")

FLUSH_SECONDS = 0.2
BATCH_EVENTS = 1000
BATCH_BYTES = 512 * 1024
# Per build, what CloudWatch Logs receives at most; output beyond it is read and dropped, so a
# build printing hundreds of megabytes costs neither labstack's memory nor moto's.
MAX_SHIPPED_BYTES = 4 * 1024 * 1024
MAX_SHIPPED_EVENTS = 20_000
MASK = "***"


class LogRefused(Exception):
    """The service role may not write the build's log: ``step`` says what CodeBuild could not do
    (``create Amazon CloudWatch Logs log streams``), ``message`` is the denial."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def location(account: str, region: str, group: str, stream: str) -> dict[str, Any]:
    """The ``logs`` member of a build (AWS's LogsLocation)."""
    link = (f"https://console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logsV2:log-groups/log-group/{quote(group, safe='')}/log-events/{quote(stream, safe='')}")
    return {
        "groupName": group,
        "streamName": stream,
        "deepLink": link,
        "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
        "cloudWatchLogs": {"status": "ENABLED", "groupName": group, "streamName": stream},
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }


def container_line(message: str) -> str:
    """A line in CodeBuild's own voice: ``[Container] 2026/11/26 20:15:00.123456 message``."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")
    return f"[Container] {now} {message}"


class BuildLog:
    """Collects lines, masks secrets, and ships them to one log stream in batches.

    ``full`` becomes true once :data:`MAX_SHIPPED_BYTES` or :data:`MAX_SHIPPED_EVENTS`
    have been shipped. ``lost`` holds the first denial that lost lines later in the build (the role
    changed while it ran).
    """

    def __init__(self, logs_client: Any | None, group: str, stream: str) -> None:
        self.client = logs_client
        self.group = group
        self.stream = stream
        self.secrets: list[str] = []
        self.full = False
        self.lost: str | None = None
        self._shipped = 0
        self._events = 0
        self._batch: list[dict[str, Any]] = []
        self._batch_bytes = 0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Create the group (if missing) and the stream, ship the lines written so far, and start the
        flusher. Raises :class:`LogRefused` when the client's role may not, or botocore's error (and
        ships nothing more)."""
        if self.client is not None:
            try:
                self._create()
                self._put(self._take())
            except Exception:
                self.client = None
                raise
        self._thread = threading.Thread(target=self._flusher, name=f"build-log-{self.stream}", daemon=True)
        self._thread.start()

    def _create(self) -> None:
        assert self.client is not None
        group_refused = None
        try:
            self.client.create_log_group(logGroupName=self.group)
        except self.client.exceptions.ResourceAlreadyExistsException:
            pass
        except ClientError as exc:  # a role may write to a group made beforehand without creating groups
            group_refused = access_denied(exc)
            if group_refused is None:
                raise
        try:
            self.client.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except self.client.exceptions.ResourceAlreadyExistsException:
            pass
        except self.client.exceptions.ResourceNotFoundException:
            if group_refused:
                raise LogRefused("create Amazon CloudWatch Logs log groups", group_refused) from None
            raise
        except ClientError as exc:
            refused = access_denied(exc)
            if refused:
                raise LogRefused("create Amazon CloudWatch Logs log streams", refused) from None
            raise

    def _put(self, batch: list[dict[str, Any]]) -> None:
        assert self.client is not None
        if not batch:
            return
        try:
            self.client.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
        except ClientError as exc:
            refused = access_denied(exc)
            if refused:
                raise LogRefused("put log events to Amazon CloudWatch Logs", refused) from None
            raise

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, MASK)
        return text

    def line(self, data: bytes) -> None:
        """One line of command output."""
        self.write(data.decode("utf-8", errors="replace"))

    def container(self, message: str) -> None:
        """One line in CodeBuild's own voice."""
        self.write(container_line(message))

    def write(self, text: str) -> None:
        text = self.mask(text.rstrip("\r")) or " "
        size = len(text.encode()) + 26  # CloudWatch counts 26 bytes of overhead per event
        with self._lock:
            if self.full:
                return
            if self._shipped + size > MAX_SHIPPED_BYTES or self._events + 1 >= MAX_SHIPPED_EVENTS:
                self.full = True
                text = container_line(f"labstack: the build printed more than {MAX_SHIPPED_EVENTS} lines or "
                                      f"{MAX_SHIPPED_BYTES // (1024 * 1024)} MiB; further output is discarded "
                                      "(the commands keep running)")
                size = len(text) + 26
            self._shipped += size
            self._events += 1
            self._batch.append({"timestamp": int(time.time() * 1000), "message": text})
            self._batch_bytes += size
            if len(self._batch) >= BATCH_EVENTS or self._batch_bytes >= BATCH_BYTES:
                self._wake.set()

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            return batch

    def _flusher(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Ship what is waiting (one batch at a time, in order)."""
        with self._send_lock:
            batch = self._take()
            if not batch or self.client is None:
                return
            try:
                self._put(batch)
            except LogRefused as refused:  # the role lost the permission meanwhile: these lines are lost
                self.lost = self.lost or refused.message
                log.warning("%d lines of the build log %s/%s were lost: %s", len(batch), self.group, self.stream,
                            refused.message)
            except Exception:  # a log that cannot be shipped must not fail the build
                log.warning("could not ship %d log events to %s/%s", len(batch), self.group, self.stream, exc_info=True)

    def close(self) -> None:
        """Ship the rest and stop the flusher."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
