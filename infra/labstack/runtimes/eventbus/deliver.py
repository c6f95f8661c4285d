"""Events matched against the upstream's rules, for the targets labstack keeps (a pipeline).

The upstream delivers to its own targets; a rule's labstack targets get the event here: the
bus's enabled rules are read from the upstream, each pattern matched with moto's matcher.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from labstack.motobridge import EventTargets, event_pattern_matches

log = logging.getLogger("labstack.events")
# (account, region, bus, rule name) -> the rule's labstack targets
Targets = Callable[[str, str, str, str], list[dict[str, Any]]]


def deliver(events: Any, targets: Targets, served: EventTargets, account: str, region: str,
            entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    """Hand the accepted ``entries`` of a PutEvents (``results`` is its answer's Entries) to the
    labstack targets (``served`` by this labstack) of the matching rules; ``events`` is an upstream
    client of the account."""
    rules: dict[str, list[dict[str, Any]]] = {}
    for entry, result in zip(entries, results):
        if "EventId" not in result:
            continue  # the upstream refused this entry
        bus = bus_name(entry.get("EventBusName"))
        if bus not in rules:
            rules[bus] = [rule for page in events.get_paginator("list_rules").paginate(EventBusName=bus)
                          for rule in page["Rules"] if rule.get("State") == "ENABLED" and rule.get("EventPattern")
                          and targets(account, region, bus, rule["Name"])]
        event = _envelope(account, region, entry, result["EventId"])
        for rule in rules[bus]:
            if event_pattern_matches(rule["EventPattern"], event):
                for target in targets(account, region, bus, rule["Name"]):
                    served.deliver(rule["Name"], rule["Arn"], account, region, target, event)


def bus_name(name_or_arn: str | None) -> str:
    """A bus's name from its name or ARN (``default`` when none is given)."""
    return (name_or_arn or "default").rsplit("/", 1)[-1]


def _envelope(account: str, region: str, entry: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The event EventBridge makes of a PutEvents entry."""
    when = entry.get("Time") or dt.datetime.now(dt.timezone.utc)
    if isinstance(when, (int, float)):
        when = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(when, dt.datetime) else str(when)
    return {"version": "0", "id": event_id, "detail-type": entry.get("DetailType", ""), "source": entry.get("Source", ""),
            "account": account, "time": stamp, "region": region, "resources": entry.get("Resources", []),
            "detail": json.loads(entry.get("Detail") or "{}")}


def fan_out(targets: Targets, served: EventTargets) -> Callable[[Any, str, str], None]:
    """A hook for upstream events clients: every PutEvents through one is also :func:`deliver`'d."""

    def instrument(client: Any, account: str, region: str) -> None:
        def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["labstack_entries"] = params.get("Entries", [])

        def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            if parsed.get("ResponseMetadata", {}).get("HTTPStatusCode") != 200:
                return
            try:
                deliver(client, targets, served, account, region, context.get("labstack_entries", []),
                        parsed.get("Entries", []))
            except Exception:
                log.exception("events put to the upstream could not reach labstack's targets")

        client.meta.events.register("before-parameter-build.events.PutEvents", remember)
        client.meta.events.register("after-call.events.PutEvents", after)

    return instrument
