"""A function's log in CloudWatch Logs, as Lambda writes it: START, the output, END, REPORT."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

log = logging.getLogger("labstack.lambda")
MAX_EVENTS = 5_000  # one put_log_events call


def invocation_lines(request_id: str, version: str, output: list[str], dropped: int,
                     seconds: float, memory: int) -> list[str]:
    """The log lines of one invocation, framed as Lambda frames them."""
    duration = seconds * 1000
    lines = [f"START RequestId: {request_id} Version: {version}", *output]
    if dropped:
        lines.append(f"[labstack] {dropped} more lines of output were not kept")
    lines += [f"END RequestId: {request_id}",
              f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, round(duration))} ms"
              f"\tMemory Size: {memory} MB"]
    return lines


class LogShipper:
    """Writes invocation logs to CloudWatch Logs in the background, as Lambda does.

    The invoke answers without waiting for its log; group and stream are created once.
    """

    def __init__(self, clients: Any) -> None:
        self.clients = clients
        self._queue: "queue.Queue[tuple[str, str, str, str, list[str]]]" = queue.Queue()
        self._created: set[tuple[str, str, str, str]] = set()
        threading.Thread(target=self._run, name="lambda-logs", daemon=True).start()

    def ship(self, account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
        self._queue.put((account, region, group, stream, lines))

    def _run(self) -> None:
        while True:
            account, region, group, stream, lines = self._queue.get()
            try:
                self._write(account, region, group, stream, lines)
            except Exception:
                log.exception("could not write the log of %s", group)

    def _write(self, account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
        client = self.clients.get("logs", account, region)
        if (account, region, group, stream) not in self._created:
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
