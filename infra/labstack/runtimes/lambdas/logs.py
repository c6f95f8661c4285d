"""A function's log as Lambda frames it: START, the output, END, REPORT."""

from __future__ import annotations


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
