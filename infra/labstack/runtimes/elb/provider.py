"""The ELBv2 runtime: a reconciler that gives every listener a local port, and the answer
to DescribeTargetHealth from the health checks it really runs (moto answers the rest)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.ports import free_port
from labstack.protocol.provider import Provider
from labstack.runtimes.elb import model
from labstack.runtimes.elb.health import HealthTracker, TargetHealth
from labstack.runtimes.elb.metrics import NAMESPACE, Metrics
from labstack.runtimes.elb.model import Listener, TargetGroup
from labstack.runtimes.elb.proxy import ListenerServer, Rotations
from labstack.runtimes.elb.targets import TargetRegistry
from labstack.runtimes.loop import every

log = logging.getLogger("labstack.elb")
TICK_SECONDS = 0.2  # how often desired state is read: weights and targets apply within this


class ElbRuntime(Provider):
    """Listeners on local ports, weighted forwarding, real health checks."""

    service = "elbv2"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.health = HealthTracker(labstack.clock)
        self.targets = TargetRegistry(labstack.clock)
        self.metrics = Metrics()
        self.rotations = Rotations()
        self._lock = threading.Lock()
        self._listeners: dict[str, Listener] = {}
        self._groups: dict[str, TargetGroup] = {}
        self._servers: dict[str, ListenerServer] = {}
        self._ports: dict[str, int] = {}  # stable while labstack runs
        self._stop = threading.Event()
        self._reconciling = threading.Lock()
        labstack.hooks.on_reset(self.health.reset)
        labstack.hooks.on_reset(self.targets.reset)
        labstack.hooks.on_reset(self.rotations.reset)
        labstack.hooks.on_shutdown(self.close)
        self.wake = every(labstack, TICK_SECONDS, self.reconcile, "ELB reconcile", self._stop)
        threading.Thread(target=self._publish_every_lab_minute, name="elb-metrics", daemon=True).start()

    # -- the reconciler ---------------------------------------------------------------
    def reconcile(self) -> None:
        """Read moto's listeners and target groups; start, keep or stop local servers."""
        with self._reconciling:
            self._reconcile()

    def _reconcile(self) -> None:
        listeners, groups = model.snapshot(self.targets.active)
        self.targets.forget_groups_except(set(groups))
        with self._lock:
            self._listeners, self._groups = listeners, groups
            gone = [arn for arn in self._servers if arn not in listeners]
            new = [arn for arn in listeners if arn not in self._servers]
        for arn in gone:
            with self._lock:
                server = self._servers.pop(arn)
            server.stop()
        for arn in new:
            self._start(arn)
        self.health.sync(groups)
        self.health.probe_due(groups)

    def _start(self, arn: str) -> None:
        port = self._ports.get(arn) or free_port(self.labstack.settings.host if self.labstack.settings.host != "0.0.0.0" else "127.0.0.1")
        try:
            server = ListenerServer(port, lambda: self._lookup(arn), self.health.routable, self._record, self.rotations,
                                    self._bind_host())
        except OSError as exc:
            log.warning("listener %s cannot listen on port %s: %s", arn, port, exc)
            return
        with self._lock:
            self._ports[arn] = port
            self._servers[arn] = server.start()
        log.info("listener %s listens on %s", arn, port)

    def _bind_host(self) -> str:
        host = self.labstack.settings.host
        return host if host not in ("", "localhost") else "127.0.0.1"

    def _record(self, listener: Listener, group: str | None, status: int, elb: bool, seconds: float | None) -> None:
        self.metrics.record(listener.account, listener.region, listener.load_balancer, group, status, elb, seconds)

    def _publish_every_lab_minute(self) -> None:
        try:
            self.labstack.wait_warm(timeout=300)
        except (TimeoutError, RuntimeError):
            return
        while not self._stop.is_set():
            if not self.labstack.clock.sleep(60, self._stop):
                continue  # reset or shutdown: start a fresh minute
            try:
                self.publish()
            except Exception:
                log.exception("ELB metrics could not be published")

    def publish(self) -> None:
        """Send the minute's datapoints to each account's CloudWatch."""
        for (account, region), data in self.metrics.drain(self._host_counts()).items():
            cloudwatch = self.labstack.clients.get("cloudwatch", account, region)
            for start in range(0, len(data), 500):
                cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start:start + 500])

    def _host_counts(self) -> dict[tuple[str, str, str, str], tuple[int, int]]:
        """(healthy, unhealthy) targets of each target group a listener forwards to."""
        with self._lock:
            listeners, groups = list(self._listeners.values()), dict(self._groups)
        counts = {}
        for listener in listeners:
            for rule in listener.rules:
                for action in rule.actions:
                    arns = [action.get("TargetGroupArn")] + [g["TargetGroupArn"] for g in action.get("ForwardConfig", {}).get("TargetGroups", [])]
                    for arn in filter(None, arns):
                        group = groups.get(arn)
                        if group is None:
                            continue
                        states = [(self.health.get(arn, t, p) or TargetHealth()).state for t, p in group.targets]
                        counts[(listener.account, listener.region, listener.load_balancer, arn)] = (
                            states.count("healthy"), states.count("unhealthy"))
        return counts

    def _lookup(self, arn: str) -> tuple[Listener | None, dict[str, TargetGroup]]:
        with self._lock:
            return self._listeners.get(arn), self._groups

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()
        self.health.close()

    # -- what labstack shows ----------------------------------------------------------
    def endpoints(self) -> list[dict[str, Any]]:
        """Each listener and the local URL it answers on (listeners created a moment ago included)."""
        if self.labstack.warm:
            self.reconcile()
        with self._lock:
            return [
                {"listenerArn": arn, "loadBalancerArn": self._listeners[arn].load_balancer,
                 "account": self._listeners[arn].account, "region": self._listeners[arn].region,
                 "port": self._listeners[arn].port, "url": f"http://127.0.0.1:{self._ports[arn]}"}
                for arn in self._servers if arn in self._listeners
            ]

    # -- the overlay ------------------------------------------------------------------
    def _group(self, ctx: RequestContext, arn: str) -> TargetGroup:
        group = model.find(arn, self.targets.active)
        if group is None or f":{ctx.account}:" not in group.arn or f":{ctx.region}:" not in group.arn:
            raise AwsError("TargetGroupNotFound", "One or more target groups not found")
        return group

    @staticmethod
    def _wanted(group: TargetGroup, targets: list[dict]) -> list[tuple[str, int]]:
        wanted = []
        for target in targets:
            port = target.get("Port") or group.port
            if port is None:
                raise AwsError("ValidationError", f"A port must be specified for target '{target['Id']}'")
            wanted.append((target["Id"], int(port)))
        return wanted

    def _applied(self, ctx: RequestContext, operation: str, request: dict) -> dict:
        """moto makes the change; the local servers act on it before the call returns."""
        answer = getattr(self.labstack.clients.moto("elbv2", ctx.account, ctx.region), operation)(**request)
        self.reconcile()
        return without_metadata(answer)

    def modify_listener(self, ctx: RequestContext, request: dict) -> dict:
        """The listener forwards by its new actions once this returns (CodeDeploy shifts traffic
        with this call and counts on it)."""
        return self._applied(ctx, "modify_listener", request)

    def create_rule(self, ctx: RequestContext, request: dict) -> dict:
        """A rule applies to the next request once this returns, as do the three below."""
        return self._applied(ctx, "create_rule", request)

    def modify_rule(self, ctx: RequestContext, request: dict) -> dict:
        return self._applied(ctx, "modify_rule", request)

    def delete_rule(self, ctx: RequestContext, request: dict) -> dict:
        return self._applied(ctx, "delete_rule", request)

    def set_rule_priorities(self, ctx: RequestContext, request: dict) -> dict:
        return self._applied(ctx, "set_rule_priorities", request)

    def register_targets(self, ctx: RequestContext, request: dict) -> dict:
        group = self._group(ctx, request["TargetGroupArn"])
        self.targets.register(group.arn, self._wanted(group, request["Targets"]))
        self.wake()  # the first health check starts now, not at the next tick
        return {}

    def deregister_targets(self, ctx: RequestContext, request: dict) -> dict:
        group = self._group(ctx, request["TargetGroupArn"])
        unknown = self.targets.deregister(group.arn, self._wanted(group, request["Targets"]), group.deregistration_delay)
        if unknown:
            raise AwsError("InvalidTarget", f"The following targets are not registered: {', '.join(f'{t}:{p}' for t, p in unknown)}")
        return {}

    def describe_target_health(self, ctx: RequestContext, request: dict) -> dict:
        group = self._group(ctx, request["TargetGroupArn"])
        draining = self.targets.draining(group.arn)
        asked = self._wanted(group, request["Targets"]) if request.get("Targets") else [*group.targets, *draining]
        descriptions = []
        for target, port in asked:
            if (target, port) in group.targets:
                # Registered since the last reconcile tick: its first check has not run yet.
                health = self.health.get(group.arn, target, port) or TargetHealth()
            elif (target, port) in draining:
                health = TargetHealth("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
            else:
                health = TargetHealth("unused", "Target.NotRegistered", "Target is not registered to the target group")
            check_port = str(port) if group.health_port == "traffic-port" else group.health_port
            descriptions.append({"Target": {"Id": target, "Port": port}, "HealthCheckPort": check_port,
                                 "TargetHealth": health.as_aws()})
        return {"TargetHealthDescriptions": descriptions}


PROVIDER = ElbRuntime
