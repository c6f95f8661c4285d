"""CloudWatch metrics of the load balancers, namespace AWS/ApplicationELB, once a lab minute.

As on AWS, request metrics are published only for minutes that had requests, and
HealthyHostCount / UnHealthyHostCount every minute for each target group behind a listener.
Timestamps are real time; each datapoint covers one lab minute (one real second at 60x).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "AWS/ApplicationELB"


def dimension_value(arn: str) -> str:
    """The metric dimension of an ELBv2 ARN: ``app/name/id`` or ``targetgroup/name/id``."""
    resource = arn.split(":", 5)[5]
    return resource.split("/", 1)[1] if resource.startswith("loadbalancer/") else resource


@dataclass
class _Window:
    """What one (load balancer, target group) saw during the current lab minute."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    times: list[float] = field(default_factory=list)


class Metrics:
    """Counts requests as the listeners serve them; :meth:`drain` turns them into datapoints."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str, str, str | None], _Window] = defaultdict(_Window)

    def record(self, account: str, region: str, load_balancer: str, target_group: str | None,
               status: int, elb_generated: bool, seconds: float | None) -> None:
        """Count one request: answered by a target of ``target_group``, or by the ELB itself."""
        with self._lock:
            window = self._windows[(account, region, load_balancer, target_group)]
            window.counts["RequestCount"] += 1
            family = f"{status // 100}XX"
            if elb_generated:
                window.counts[f"HTTPCode_ELB_{family}_Count"] += 1
            else:
                window.counts[f"HTTPCode_Target_{family}_Count"] += 1
                if seconds is not None:
                    window.times.append(seconds)

    def drain(self, hosts: dict[tuple[str, str, str, str], tuple[int, int]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Datapoints per (account, region) for the minute that just ended (none for a load balancer no request
        went through, as AWS reports them); counters restart.

        ``hosts`` gives (healthy, unhealthy) per (account, region, load balancer, target group).
        """
        with self._lock:
            windows, self._windows = self._windows, defaultdict(_Window)
        now = dt.datetime.now(dt.timezone.utc)
        out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for (account, region, balancer, group), window in windows.items():
            lb_dims = [{"Name": "LoadBalancer", "Value": dimension_value(balancer)}]
            both = lb_dims + [{"Name": "TargetGroup", "Value": dimension_value(group)}] if group else None
            for name, count in window.counts.items():
                for dims in filter(None, (lb_dims, both if not name.startswith("HTTPCode_ELB") else None)):
                    out[(account, region)].append(
                        {"MetricName": name, "Dimensions": dims, "Timestamp": now, "Value": count, "Unit": "Count"})
            if window.times:
                stats = {"SampleCount": len(window.times), "Sum": sum(window.times),
                         "Minimum": min(window.times), "Maximum": max(window.times)}
                for dims in filter(None, (lb_dims, both)):
                    out[(account, region)].append({"MetricName": "TargetResponseTime", "Dimensions": dims,
                                                   "Timestamp": now, "StatisticValues": stats, "Unit": "Seconds"})
        # AWS reports a load balancer's metrics only for minutes with requests flowing through it
        busy = {(account, region, balancer) for (account, region, balancer, _), window in windows.items() if window.counts}
        for (account, region, balancer, group), (healthy, unhealthy) in hosts.items():
            if (account, region, balancer) not in busy:
                continue
            dims = [{"Name": "LoadBalancer", "Value": dimension_value(balancer)},
                    {"Name": "TargetGroup", "Value": dimension_value(group)}]
            for name, value in (("HealthyHostCount", healthy), ("UnHealthyHostCount", unhealthy)):
                out[(account, region)].append({"MetricName": name, "Dimensions": dims, "Timestamp": now,
                                               "Value": value, "Unit": "Count"})
        return out
