"""EventBridge where LocalStack serves it: events still reach the targets labstack serves.

LocalStack's free EventBridge keeps rules and delivers to its own targets, but cannot start
a CodePipeline. So each event put there (by labstack's engines through their internal client,
or by a client through the gateway) is also matched here: labstack reads the bus's enabled
rules from the upstream, matches each pattern with moto's matcher, and hands the event to the
targets in ``motobridge.EVENT_TARGETS`` (a pipeline), as the embedded EventBridge does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from labstack.motobridge import EVENT_TARGETS

log = logging.getLogger("labstack.events")


def deliver(events: Any, account: str, region: str, entries: list[dict[str, Any]],
            results: list[dict[str, Any]]) -> None:
    """Hand the accepted ``entries`` of a PutEvents (``results`` is its answer's Entries) to the
    labstack targets of the upstream's matching rules; ``events`` is an upstream client."""
    if not EVENT_TARGETS:
        return
    from moto.events.models import EventPattern

    rules: dict[str, list[dict[str, Any]]] = {}
    for entry, result in zip(entries, results):
        if "EventId" not in result:
            continue  # the upstream refused this entry
        bus = (entry.get("EventBusName") or "default").rsplit("/", 1)[-1]
        if bus not in rules:
            rules[bus] = [rule for page in events.get_paginator("list_rules").paginate(EventBusName=bus)
                          for rule in page["Rules"] if rule.get("State") == "ENABLED" and rule.get("EventPattern")]
        event = _envelope(account, region, entry, result["EventId"])
        for rule in rules[bus]:
            if EventPattern.load(rule["EventPattern"]).matches_event(event):
                _to_targets(events, account, region, bus, rule, event)


def _to_targets(events: Any, account: str, region: str, bus: str, rule: dict[str, Any], event: dict[str, Any]) -> None:
    for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]:
        service = target["Arn"].split(":")[2]
        if service not in EVENT_TARGETS:
            continue  # the upstream delivers to its own targets
        try:
            EVENT_TARGETS[service](account, region, target, event, rule["Arn"])
        except Exception:
            log.exception("EventBridge rule %s could not deliver to %s", rule["Name"], target["Arn"])


def _envelope(account: str, region: str, entry: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The event EventBridge makes of a PutEvents entry."""
    when = entry.get("Time") or dt.datetime.now(dt.timezone.utc)
    if isinstance(when, (int, float)):
        when = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(when, dt.datetime) else str(when)
    return {"version": "0", "id": event_id, "detail-type": entry.get("DetailType", ""), "source": entry.get("Source", ""),
            "account": account, "time": stamp, "region": region, "resources": entry.get("Resources", []),
            "detail": json.loads(entry.get("Detail") or "{}")}


def fan_out(client: Any, account: str, region: str) -> None:
    """Make every PutEvents through ``client`` (an upstream events client) also :func:`deliver`."""

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["labstack_entries"] = params.get("Entries", [])

    def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if parsed.get("ResponseMetadata", {}).get("HTTPStatusCode") != 200:
            return
        try:
            deliver(client, account, region, context.get("labstack_entries", []), parsed.get("Entries", []))
        except Exception:
            log.exception("events put to the upstream could not reach labstack's targets")

    client.meta.events.register("before-parameter-build.events.PutEvents", remember)
    client.meta.events.register("after-call.events.PutEvents", after)
