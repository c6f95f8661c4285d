"""Send steady traffic to a URL and count answers by version and status: a canary, seen.

The version of an answer is its ``X-App-Version`` (or ``X-Version``) header, else the first
word of its body, so an app that answers ``v2 …`` is counted as v2.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class TrafficReport:
    """What came back: counts per version and per status, and what failed to connect."""

    sent: int = 0
    versions: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def shares(self) -> dict[str, float]:
        """Each version's share of the answers, in percent."""
        total = sum(self.versions.values())
        return {v: 100.0 * n / total for v, n in self.versions.most_common()} if total else {}

    def summary(self) -> str:
        lines = [f"{self.sent} requests in {self.seconds:.1f}s"]
        lines += [f"  {version:20} {count:6}  {self.shares()[version]:5.1f}%" for version, count in self.versions.most_common()]
        lines.append("  status " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())))
        if self.errors:
            lines.append("  errors " + ", ".join(f"{e}: {n}" for e, n in self.errors.most_common()))
        return "\n".join(lines)


def version_of(headers: dict[str, str], body: bytes) -> str:
    """The version an answer says it came from."""
    for name in ("x-app-version", "x-version"):
        if headers.get(name):
            return headers[name]
    words = body[:200].decode("utf-8", "replace").split()
    return words[0][:40] if words else "(empty)"


def one(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """One GET: (status, version); raises OSError when nothing answers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        body = response.read()
        return response.status, version_of({k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def send(url: str, rps: float = 20.0, duration: float = 5.0, workers: int = 4) -> TrafficReport:
    """GET ``url`` about ``rps`` times a second for ``duration`` seconds (bounded; stops by itself)."""
    report = TrafficReport()
    lock = threading.Lock()
    started = time.monotonic()
    total = max(1, int(rps * duration))
    next_index = iter(range(total))

    def worker() -> None:
        for index in next_index:
            due = started + index / rps
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                status, version = one(url)
                with lock:
                    report.statuses[status] += 1
                    report.versions[version] += 1
            except OSError as exc:
                with lock:
                    report.errors[type(exc).__name__] += 1
            with lock:
                report.sent += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 30)
    report.seconds = time.monotonic() - started
    return report
