"""EventBridge where LocalStack serves it (``--upstream``): rules may still target a pipeline.

LocalStack's free EventBridge refuses a CodePipeline target ("Unsupported target") and could not
start labstack's pipelines anyway. So in front of it this overlay keeps the targets labstack
serves itself (``labstack.moto.event_targets``) and passes every other target to the upstream;
ListTargetsByRule shows both. Every event put to the upstream, by a client or by labstack's
engines, is then matched against the upstream's rules for those targets (``deliver``).
"""

from __future__ import annotations

from typing import Any

from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
from labstack.runtimes.eventbus.deliver import bus_name, fan_out
from labstack.state import AccountRegionStore


class EventBusOverlay(Provider):
    """PutTargets, ListTargetsByRule, RemoveTargets, DeleteRule and PutEvents in front of the upstream."""

    service = "events"
    overlay = True
    upstream_only = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        # (bus, rule) -> target id -> target
        self.targets: AccountRegionStore[dict[tuple[str, str], dict[str, dict[str, Any]]]] = AccountRegionStore(dict)
        labstack.hooks.on_reset(self.targets.reset)
        labstack.clients.instrument("events", fan_out(self.rule_targets, labstack.moto.event_targets))

    def rule_targets(self, account: str, region: str, bus: str, rule: str) -> list[dict[str, Any]]:
        """The labstack targets of one rule."""
        with self.targets.lock:
            return list(self.targets.get(account, region).get((bus, rule), {}).values())

    def _upstream(self, ctx: RequestContext) -> Any:
        return self.labstack.clients.get("events", ctx.account, ctx.region)

    def put_targets(self, ctx: RequestContext, request: dict) -> dict:
        key = (bus_name(request.get("EventBusName")), request["Rule"])
        events = self._upstream(ctx)
        events.describe_rule(Name=request["Rule"], EventBusName=key[0])  # ResourceNotFoundException as the upstream says it
        served = self.labstack.moto.event_targets
        ours = [t for t in request["Targets"] if served.serves(t["Arn"])]
        theirs = [t for t in request["Targets"] if not served.serves(t["Arn"])]
        failed = events.put_targets(**{**request, "Targets": theirs})["FailedEntries"] if theirs else []
        with self.targets.lock:
            kept = self.targets.get(ctx.account, ctx.region).setdefault(key, {})
            kept.update({t["Id"]: t for t in ours})
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, ctx: RequestContext, request: dict) -> dict:
        answer = self._upstream(ctx).list_targets_by_rule(**request)
        found = without_metadata(answer)
        if not request.get("NextToken"):  # labstack's targets come with the first page
            found["Targets"] = found.get("Targets", []) + self.rule_targets(
                ctx.account, ctx.region, bus_name(request.get("EventBusName")), request["Rule"])
        return found

    def remove_targets(self, ctx: RequestContext, request: dict) -> dict:
        key = (bus_name(request.get("EventBusName")), request["Rule"])
        events = self._upstream(ctx)
        events.describe_rule(Name=request["Rule"], EventBusName=key[0])
        with self.targets.lock:
            kept = self.targets.get(ctx.account, ctx.region).get(key, {})
            theirs = [i for i in request["Ids"] if kept.pop(i, None) is None]
        failed = events.remove_targets(**{**request, "Ids": theirs})["FailedEntries"] if theirs else []
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def delete_rule(self, ctx: RequestContext, request: dict) -> dict:
        key = (bus_name(request.get("EventBusName")), request["Name"])
        if self.rule_targets(ctx.account, ctx.region, *key) and not request.get("Force"):
            raise AwsError("ValidationException", "Rule can't be deleted since it has targets.", 400)
        self._upstream(ctx).delete_rule(**request)
        with self.targets.lock:
            self.targets.get(ctx.account, ctx.region).pop(key, None)
        return {}

    def put_events(self, ctx: RequestContext, request: dict) -> dict:
        answer = self._upstream(ctx).put_events(**request)  # the client's hook delivers to labstack's targets
        return without_metadata(answer)


PROVIDER = EventBusOverlay
