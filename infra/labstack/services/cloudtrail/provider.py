"""``LookupEvents`` over the event log (``labstack.trail``); trails and the rest of CloudTrail stay moto's.

As CloudTrail's event history: at most one lookup attribute, a time range, newest first, up to 50 a
page, and only the events of the caller's account in the region asked (IAM's are us-east-1's, where
its clients sign).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
from labstack.services.cloudtrail.records import Event, summary

PAGE = 50

# What each lookup attribute compares, for one event.
_MATCHERS: dict[str, Callable[[Event, str], bool]] = {
    "EventId": lambda e, v: e.event_id == v,
    "EventName": lambda e, v: e.name == v,
    "ReadOnly": lambda e, v: e.read_only == (v == "true"),
    "Username": lambda e, v: e.username == v,
    "ResourceType": lambda e, v: any(named[0] == v for named in (*e.named, *e.returned)),
    "ResourceName": lambda e, v: any(named[1] == v for named in (*e.named, *e.returned)),
    "EventSource": lambda e, v: e.event_source == v,
    "AccessKeyId": lambda e, v: e.access_key == v,
}
_ATTRIBUTE_KEY = re.compile(r"lookupAttributes\.\d+\.member\.attributeKey|LookupAttributes\.\d+\.AttributeKey", re.I)


class CloudTrail(Provider):
    """LookupEvents from labstack's event log; moto answers every other CloudTrail call."""

    service = "cloudtrail"
    overlay = True

    def invalid_input(self, operation: str, error: AwsError) -> AwsError:
        """A lookup attribute key CloudTrail does not know, or MaxResults out of 1..50, as CloudTrail names them."""
        if operation == "LookupEvents" and _ATTRIBUTE_KEY.search(error.message):
            return AwsError("InvalidLookupAttributesException", f"The lookup attribute is not valid: {error.message}")
        if operation == "LookupEvents" and "maxResults" in error.message.replace("MaxResults", "maxResults"):
            return AwsError("InvalidMaxResultsException", "MaxResults must be between 1 and 50")
        return error

    def lookup_events(self, ctx: RequestContext, request: dict) -> dict:
        attributes = request.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise AwsError("InvalidLookupAttributesException",
                           "LookupEvents accepts at most one lookup attribute; this request has "
                           f"{len(attributes)}")
        match, value = None, ""
        if attributes:
            key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
            if key == "ReadOnly" and value not in ("true", "false"):
                raise AwsError("InvalidLookupAttributesException", "The ReadOnly lookup attribute is true or false")
            match = _MATCHERS[key]
        start, end = _epoch(request.get("StartTime")), _epoch(request.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise AwsError("InvalidTimeRangeException", "StartTime must not be after EndTime")
        if request.get("EventCategory") == "insight":
            return {"Events": []}  # labstack has no Insights events
        size = request.get("MaxResults") or PAGE
        events = self.labstack.trail.events(ctx.account)
        first = _resume(events, request.get("NextToken"))
        found: list[Event] = []
        following = None
        for event in events[first:]:
            if event.region != ctx.region or (end is not None and event.time > end):
                continue
            if start is not None and event.time < start:
                break  # newest first: the rest are older still
            if match is not None and not match(event, value):
                continue
            if len(found) == size:
                following = event
                break
            found.append(event)
        answer: dict[str, Any] = {"Events": [summary(e) for e in found]}
        if following is not None:
            answer["NextToken"] = _token(following)
        return answer


def _epoch(when: Any) -> float | None:
    if when is None:
        return None
    if isinstance(when, dt.datetime):
        return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()
    return float(when)


def _token(event: Event) -> str:
    """A token naming the first event of the next page (by id and time, so newer events don't shift it)."""
    return base64.urlsafe_b64encode(f"{event.time!r}|{event.event_id}".encode()).decode()


def _resume(events: list[Event], token: str | None) -> int:
    """Where the page ``token`` names starts in ``events`` (newest first); a token of no earlier page fails."""
    if not token:
        return 0
    try:
        when, _, event_id = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        at = float(when)
    except (ValueError, UnicodeDecodeError):
        raise AwsError("InvalidNextTokenException", "The NextToken is not valid") from None
    for index, event in enumerate(events):
        if event.event_id == event_id:
            return index
    # the event has gone (the oldest are dropped): go on from the first as old as it
    return next((i for i, e in enumerate(events) if e.time <= at), len(events))


PROVIDER = CloudTrail
