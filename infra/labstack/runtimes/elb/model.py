"""ELBv2 state read from moto, as plain values the runtime can use without locks.

This is the one place that reads moto's ELBv2 objects directly: the public API cannot list
accounts. Registered targets are labstack's own (``targets.TargetRegistry``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

from labstack import motobridge


@dataclass(frozen=True)
class TargetGroup:
    arn: str
    name: str
    port: int | None
    health_path: str
    health_port: str
    interval: float
    timeout: float
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str
    health_enabled: bool
    deregistration_delay: float
    targets: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Rule:
    priority: float
    conditions: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]

    def matches(self, host: str, path: str) -> bool:
        """AWS's matching: every condition must hold; values are wildcard patterns (* and ?)."""
        for condition in self.conditions:
            field_name = condition.get("Field")
            values = condition.get("Values") or []
            if field_name == "path-pattern":
                values = values or condition.get("PathPatternConfig", {}).get("Values", [])
                if not any(fnmatch.fnmatchcase(path, v) for v in values):
                    return False
            elif field_name == "host-header":
                values = values or condition.get("HostHeaderConfig", {}).get("Values", [])
                if not any(fnmatch.fnmatchcase(host.lower(), v.lower()) for v in values):
                    return False
            else:
                return False  # a condition labstack does not evaluate never matches
        return True


@dataclass(frozen=True)
class Listener:
    arn: str
    account: str
    region: str
    load_balancer: str
    port: int
    protocol: str
    rules: tuple[Rule, ...] = field(default=())
    # the load balancer's attributes the listener applies to each connection and request
    idle_timeout: float = 60.0
    xff_mode: str = "append"
    xff_client_port: bool = False


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _target_group(tg: Any, targets: Callable[[str], tuple[tuple[str, int], ...]]) -> TargetGroup:
    matcher = (getattr(tg, "matcher", None) or {}).get("HttpCode", "200")
    return TargetGroup(
        arn=tg.arn,
        name=tg.name,
        port=_int(tg.port, 0) or None,
        health_path=tg.health_check_path or "/",
        health_port=str(tg.health_check_port or "traffic-port"),
        interval=float(_int(tg.health_check_interval_seconds, 30)),
        timeout=float(_int(tg.health_check_timeout_seconds, 5)),
        healthy_threshold=_int(tg.healthy_threshold_count, 5),
        unhealthy_threshold=_int(tg.unhealthy_threshold_count, 2),
        matcher=str(matcher),
        health_enabled=str(getattr(tg, "health_check_enabled", True)).lower() != "false",
        deregistration_delay=float(_int(getattr(tg, "attributes", {}).get("deregistration_delay.timeout_seconds"), 300)),
        targets=targets(tg.arn),
    )


def _rules(listener: Any) -> tuple[Rule, ...]:
    rules = []
    for rule in list(listener.rules.values()):
        priority = float("inf") if rule.priority == "default" or getattr(rule, "is_default", False) else float(rule.priority)
        rules.append(Rule(priority, tuple(rule.conditions or ()), tuple(a.data for a in rule.actions)))
    return tuple(sorted(rules, key=lambda r: r.priority))


def snapshot(targets: Callable[[str], tuple[tuple[str, int], ...]]) -> tuple[dict[str, Listener], dict[str, TargetGroup]]:
    """Every listener and target group of every account and region, by ARN (``targets`` gives a group's)."""
    listeners: dict[str, Listener] = {}
    groups: dict[str, TargetGroup] = {}
    for _account, _region, tg in motobridge.elbv2_target_groups():
        groups[tg.arn] = _target_group(tg, targets)
    for account, region, balancer in motobridge.elbv2_load_balancers():
        attrs = dict(getattr(balancer, "attrs", {}))
        for listener in list(balancer.listeners.values()):
            listeners[listener.arn] = Listener(
                listener.arn, account, region, balancer.arn, _int(listener.port, 80),
                listener.protocol, _rules(listener),
                idle_timeout=float(min(max(_int(attrs.get("idle_timeout.timeout_seconds"), 60), 1), 4000)),
                xff_mode=str(attrs.get("routing.http.xff_header_processing.mode") or "append"),
                xff_client_port=str(attrs.get("routing.http.xff_client_port.enabled")).lower() == "true",
            )
    return listeners, groups


def find(target_group_arn: str, targets: Callable[[str], tuple[tuple[str, int], ...]]) -> TargetGroup | None:
    """One target group as it is now, or None if it does not exist."""
    tg = motobridge.elbv2_target_group(target_group_arn)
    return None if tg is None else _target_group(tg, targets)
