"""A function's log in CloudWatch Logs, as Lambda writes it: START, the output, END, REPORT."""

from __future__ import annotations

import logging
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


def ship(logs_client: Any, group: str, stream: str, lines: list[str]) -> None:
    """Append ``lines`` to the stream, creating group and stream on first use."""
    for create in (lambda: logs_client.create_log_group(logGroupName=group),
                   lambda: logs_client.create_log_stream(logGroupName=group, logStreamName=stream)):
        try:
            create()
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line or " "} for line in lines]
    for start in range(0, len(events), MAX_EVENTS):
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[start:start + MAX_EVENTS])
