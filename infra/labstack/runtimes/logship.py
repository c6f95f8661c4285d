"""Logs of what labstack runs (functions, tasks) shipped to CloudWatch Logs in the background."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

log = logging.getLogger("labstack.logs")
MAX_EVENTS = 5_000  # one put_log_events call
# Lines written within this many real seconds of the first go out together, one call per stream, as
# ECS's awslogs driver (every 5 seconds by default) and Lambda batch them: a task whose app logs every
# health check costs one call every few seconds, not one a probe.
FLUSH_SECONDS = 5.0


class LogShipper:
    """Writes log lines to CloudWatch Logs in the background, as Lambda and ECS do.

    Callers never wait for their log; group and stream are created once. A line reaches CloudWatch
    Logs within about ``FLUSH_SECONDS``.
    """

    def __init__(self, clients: Any) -> None:
        self.clients = clients
        self._queue: "queue.Queue[tuple[str, str, str, str, list[str], Any]]" = queue.Queue()
        self._created: set[tuple[str, str, str, str]] = set()
        self._closed = threading.Event()
        threading.Thread(target=self._run, name="lambda-logs", daemon=True).start()

    def ship(self, account: str, region: str, group: str, stream: str, lines: list[str], identity: Any = None) -> None:
        """Queue ``lines``; with ``identity`` (a role session, e.g. an ECS task's execution role) they are
        written as that role, to a stream it created, else with labstack's own keys (group and stream made)."""
        self._queue.put((account, region, group, stream, lines, identity))

    def close(self) -> None:
        """labstack is stopping: what is still queued is dropped, not sent to a closed server."""
        self._closed.set()

    def _run(self) -> None:
        while True:
            batches = [self._queue.get()]
            self._closed.wait(FLUSH_SECONDS)  # what comes meanwhile goes out with it
            while len(batches) < 10_000:  # what piled up meanwhile goes out together, per stream
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            merged: dict[tuple[str, str, str, str, Any], list[str]] = {}
            for account, region, group, stream, lines, identity in batches:
                merged.setdefault((account, region, group, stream, identity), []).extend(lines)
            for (account, region, group, stream, identity), lines in merged.items():
                if self._closed.is_set():
                    break
                try:
                    self._write(account, region, group, stream, lines, identity)
                except Exception:
                    log.exception("could not write the log of %s", group)

    def _write(self, account: str, region: str, group: str, stream: str, lines: list[str], identity: Any = None) -> None:
        if identity is not None:
            client = self.clients.as_identity("logs", identity, region)
        else:
            client = self.clients.get("logs", account, region)
        if identity is None and (account, region, group, stream) not in self._created:
            for create in (lambda: client.create_log_group(logGroupName=group),
                           lambda: client.create_log_stream(logGroupName=group, logStreamName=stream)):
                try:
                    create()
                except client.exceptions.ResourceAlreadyExistsException:
                    pass
            self._created.add((account, region, group, stream))
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line or " "} for line in lines]
        for start in range(0, len(events), MAX_EVENTS):
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[start:start + MAX_EVENTS])
