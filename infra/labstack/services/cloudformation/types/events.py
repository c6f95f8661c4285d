"""AWS::Events::Rule, made through EventBridge's API: the rule and its targets (a pipeline with the
role EventBridge assumes to start it, a function, a topic...)."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.properties import gone_ok, only, parsed, retag, tag_list, without_empty
from labstack.services.cloudformation.resource import Context, HandlerError, NeedsReplacement, ResourceType, Result

GONE = ("ResourceNotFoundException",)


def _split(physical_id: str) -> tuple[str | None, str]:
    """(event bus or None for the default, rule name) of a rule's physical id."""
    bus, _, name = physical_id.rpartition("|")
    return bus or None, name


def _bus(bus: str | None) -> dict[str, str]:
    return {"EventBusName": bus} if bus else {}


class Rule(ResourceType):
    """AWS::Events::Rule: Ref is the rule's name, or ``EventBusName|RuleName`` on a custom bus; GetAtt Arn."""

    type_name = "AWS::Events::Rule"
    SUPPORTED = ("Name", "Description", "EventBusName", "EventPattern", "ScheduleExpression", "State", "RoleArn",
                 "Targets", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        if not props.get("EventPattern") and not props.get("ScheduleExpression"):
            raise HandlerError("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        name = props.get("Name") or ctx.name(64)
        bus = props.get("EventBusName")
        if bus == "default" or (isinstance(bus, str) and bus.endswith(":event-bus/default")):
            bus = None
        events = ctx.client("events")
        arn = events.put_rule(**self._rule(props, name))["RuleArn"]
        self._targets(events, name, bus, [], props.get("Targets") or [])
        physical = f"{bus}|{name}" if bus else name
        return Result(physical, {"Arn": arn})

    @staticmethod
    def _rule(props: dict, name: str) -> dict[str, Any]:
        return to_api("events", "PutRule", {"State": "ENABLED", **props, "Name": name}, drop=("Targets",))

    @staticmethod
    def _targets(events: Any, name: str, bus: str | None, old: list[dict], new: list[dict]) -> None:
        """Turn the rule's targets from ``old`` into ``new`` (by Id, as EventBridge keys them)."""
        for index, target in enumerate(new):
            if not isinstance(target, dict):
                raise HandlerError(f"Value of property {{/Targets/{index}}} must be of type Object")
        ids = [str(t.get("Id")) for t in new]
        if len(set(ids)) != len(ids):
            raise HandlerError("Targets: each target needs an Id of its own")
        gone = [str(t["Id"]) for t in old if str(t.get("Id")) not in ids]
        if gone:
            events.remove_targets(Rule=name, Ids=gone, **_bus(bus))
        changed = [t for t in new if t not in old]
        if changed:
            answer = events.put_targets(**to_api("events", "PutTargets", {"Rule": name, **_bus(bus), "Targets": changed}))
            if answer.get("FailedEntryCount"):
                failed = answer["FailedEntries"][0]
                raise HandlerError(f"Target {failed.get('TargetId')}: {failed.get('ErrorMessage')}")

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        bus, name = _split(physical_id)
        if (new.get("EventBusName") or None) != (old.get("EventBusName") or None):
            raise NeedsReplacement(self.type_name)
        events = ctx.client("events")
        arn = events.put_rule(**self._rule(new, name))["RuleArn"]
        self._targets(events, name, bus, old.get("Targets") or [], new.get("Targets") or [])
        retag(old, new, lambda remove: events.untag_resource(ResourceARN=arn, TagKeys=remove),
              lambda put: events.tag_resource(ResourceARN=arn, Tags=tag_list(put)))
        return Result(physical_id, {"Arn": arn})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        bus, name = _split(physical_id)
        events = ctx.client("events")
        with gone_ok(*GONE):
            ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name, **_bus(bus))["Targets"]]
            if ids:
                events.remove_targets(Rule=name, Ids=ids, **_bus(bus))
            events.delete_rule(Name=name, **_bus(bus))

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        bus, name = _split(physical_id)
        events = ctx.client("events")
        with gone_ok(*GONE):
            rule = events.describe_rule(Name=name, **_bus(bus))
            targets = events.list_targets_by_rule(Rule=name, **_bus(bus))["Targets"]
            like = props.get("Targets") or []
            return without_empty({
                "Name": rule["Name"], "Description": rule.get("Description"), "EventBusName": bus,
                "EventPattern": parsed(rule.get("EventPattern")), "ScheduleExpression": rule.get("ScheduleExpression"),
                "State": rule.get("State"), "RoleArn": rule.get("RoleArn"),
                "Targets": [from_api("events", "Target", t, next((x for x in like if x.get("Id") == t["Id"]), t))
                            for t in targets]})
        return None


TYPES: list[ResourceType] = [Rule()]
