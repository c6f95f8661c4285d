"""Target health as an ALB keeps it: probes on the target group's settings, thresholds, states."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from labstack.clock import LabClock
from labstack.runtimes.elb.model import TargetGroup

Key = tuple[str, str, int]  # target group ARN, target id, port


@dataclass
class TargetHealth:
    """What DescribeTargetHealth reports for one target, and the counters behind it."""

    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    successes: int = 0
    failures: int = 0
    next_probe: float = 0.0

    def as_aws(self) -> dict[str, str]:
        health = {"State": self.state}
        if self.reason:
            health["Reason"] = self.reason
        if self.description:
            health["Description"] = self.description
        return health


def matches(code: int, matcher: str) -> bool:
    """ELBv2's success-code matcher: ``200``, ``200,202`` or ``200-299``."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and int(low) <= code <= int(high or low):
            return True
    return False


PROBE_FLOOR = 1.0  # seconds of real time a probe may always take
# A target that has passed this many checks in a row since it turned healthy is steady: it is checked
# at most every STEADY_SECONDS of real time, whatever the lab clock's pace, so a class at rest does
# not spend its CPU on health checks (a new, recovering or failing target keeps the lab-scaled pace).
STEADY_CHECKS = 5
STEADY_SECONDS = 2.0


def probe(host: str, port: int, path: str, timeout: float, matcher: str) -> tuple[bool, str | None, str | None]:
    """One HTTP health check; returns (passed, reason, description) as ELBv2 words them."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
        status = conn.getresponse().status
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except OSError:
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        conn.close()
    if matches(status, matcher):
        return True, None, None
    return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"


class HealthTracker:
    """Health of every registered target, probed on each target group's (lab-scaled) interval."""

    def __init__(self, clock: LabClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._health: dict[Key, TargetHealth] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="elb-health")
        self._running: set[Key] = set()

    def sync(self, groups: dict[str, TargetGroup]) -> None:
        """Track newly registered targets (state initial); forget deregistered ones."""
        wanted = {(tg.arn, tid, port) for tg in groups.values() for tid, port in tg.targets}
        with self._lock:
            for key in wanted - self._health.keys():
                self._health[key] = TargetHealth()
            for key in self._health.keys() - wanted:
                del self._health[key]

    def probe_due(self, groups: dict[str, TargetGroup]) -> None:
        """Start the probes whose interval has passed (each runs in the pool)."""
        now = time.monotonic()
        with self._lock:
            due = [k for k, h in self._health.items() if h.next_probe <= now and k not in self._running]
            self._running.update(due)
        for key in due:
            group = groups.get(key[0])
            if group is None:
                with self._lock:
                    self._running.discard(key)
                continue
            self._pool.submit(self._probe, key, group)

    def _probe(self, key: Key, group: TargetGroup) -> None:
        _, target, port = key
        interval = self.clock.real_seconds(group.interval)
        try:
            if not group.health_enabled:
                passed, reason, description = True, None, None
            else:
                check_port = port if group.health_port == "traffic-port" else int(group.health_port)
                # the group's timeout, no longer than an interval on the lab clock, but never below
                # PROBE_FLOOR real seconds: a loaded machine's answer does not come faster at 60x
                timeout = min(group.timeout, max(interval, PROBE_FLOOR))
                passed, reason, description = probe(target, check_port, group.health_path, timeout, group.matcher)
            with self._lock:
                health = self._health.get(key)
                if health is not None:
                    self._record(health, group, passed, reason, description)
                    steady = health.state == "healthy" and health.successes >= STEADY_CHECKS
                    health.next_probe = time.monotonic() + (max(interval, STEADY_SECONDS) if steady else interval)
        finally:
            with self._lock:
                self._running.discard(key)

    @staticmethod
    def _record(health: TargetHealth, group: TargetGroup, passed: bool, reason: str | None, description: str | None) -> None:
        if passed:
            health.successes, health.failures = health.successes + 1, 0
            # AWS: a newly registered target is healthy after one passed check; an unhealthy one
            # needs the group's healthy threshold of them in a row
            if health.state == "initial" or (health.state != "healthy" and health.successes >= group.healthy_threshold):
                health.state, health.reason, health.description = "healthy", None, None
        else:
            health.failures, health.successes = health.failures + 1, 0
            if health.state != "unhealthy" and health.failures >= group.unhealthy_threshold:
                health.state, health.reason, health.description = "unhealthy", reason, description

    def get(self, group_arn: str, target: str, port: int) -> TargetHealth | None:
        with self._lock:
            found = self._health.get((group_arn, target, port))
            return None if found is None else TargetHealth(**vars(found))

    def routable(self, group: TargetGroup) -> list[tuple[str, int]]:
        """Healthy targets; when none is healthy, the unhealthy ones (ALB fails open). A target still in its
        initial checks gets no traffic: on AWS it must pass one check first, so a group of such targets alone
        answers 503 rather than sending requests to an app that may not listen yet."""
        with self._lock:
            states = [((t, p), self._health.get((group.arn, t, p), TargetHealth()).state) for t, p in group.targets]
        return [tp for tp, state in states if state == "healthy"] or [tp for tp, state in states if state == "unhealthy"]

    def reset(self) -> None:
        with self._lock:
            self._health.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
