"""What a reference change tells the world: EventBridge events and repository triggers (SNS).

Event and message shapes follow AWS's documentation: the ``CodeCommit Repository State
Change`` event on the account's default bus, and the ``Records`` message a trigger
publishes to its SNS topic.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from labstack.services.codecommit.githttp import RefUpdate
from labstack.services.codecommit.repos import ZERO

log = logging.getLogger("labstack.codecommit")
DETAIL_TYPE = "CodeCommit Repository State Change"
TRIGGER_EVENTS = {"createReference": "created", "updateReference": "updated", "deleteReference": "deleted"}


def kind(update: RefUpdate) -> str:
    """``created``, ``updated`` or ``deleted``."""
    if update.old == ZERO:
        return "created"
    return "deleted" if update.new == ZERO else "updated"


def _reference(ref: str) -> tuple[str, str]:
    """(referenceType, referenceName) of a full ref name."""
    for prefix, kind_ in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix):
            return kind_, ref[len(prefix):]
    return "reference", ref


def state_change_detail(repo: dict, update: RefUpdate, caller_arn: str) -> dict:
    """The ``detail`` of one ``CodeCommit Repository State Change`` event."""
    ref_type, ref_name = _reference(update.ref)
    change = kind(update)
    detail = {
        "callerUserArn": caller_arn,
        "event": f"reference{change.capitalize()}",
        "referenceFullName": update.ref,
        "referenceName": ref_name,
        "referenceType": ref_type,
        "repositoryId": repo["repositoryId"],
        "repositoryName": repo["repositoryName"],
    }
    if change != "deleted":
        detail["commitId"] = update.new
    if change != "created":
        detail["oldCommitId"] = update.old
    return detail


def publish_state_changes(events_client: Any, repo: dict, updates: Iterable[RefUpdate], caller_arn: str) -> None:
    """Put one event per changed reference on the default bus of the client's account."""
    entries = [
        {
            "Source": "aws.codecommit",
            "DetailType": DETAIL_TYPE,
            "Resources": [repo["Arn"]],
            "Detail": json.dumps(state_change_detail(repo, update, caller_arn)),
        }
        for update in updates
    ]
    for start in range(0, len(entries), 10):  # PutEvents takes ten at a time
        result = events_client.put_events(Entries=entries[start:start + 10])
        if result.get("FailedEntryCount"):
            log.warning("EventBridge refused CodeCommit events: %s", result["Entries"])


def trigger_matches(trigger: dict, update: RefUpdate) -> bool:
    """Whether ``trigger`` fires for ``update`` (its events and branch filter)."""
    events = set(trigger["events"])
    if "all" not in events and not any(TRIGGER_EVENTS[e] == kind(update) for e in events if e in TRIGGER_EVENTS):
        return False
    branches = trigger.get("branches") or []
    _, name = _reference(update.ref)
    return not branches or name in branches


def trigger_message(repo: dict, region: str, account: str, trigger: dict, updates: list[RefUpdate],
                    config_id: str, event_name: str = "ReferenceChanges") -> str:
    """The JSON message a trigger publishes (AWS's ``Records`` shape)."""
    references = []
    for update in updates:
        reference: dict[str, Any] = {"commit": update.new if update.new != ZERO else update.old, "ref": update.ref}
        if kind(update) != "updated":
            reference[kind(update)] = True
        references.append(reference)
    record = {
        "awsRegion": region,
        "codecommit": {"references": references},
        "customData": trigger.get("customData"),
        "eventId": str(uuid.uuid4()),
        "eventName": event_name,
        "eventPartNumber": 1,
        "eventSource": "aws:codecommit",
        "eventSourceARN": repo["Arn"],
        "eventTime": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
        "eventTotalParts": 1,
        "eventTriggerConfigId": config_id,
        "eventTriggerName": trigger["name"],
        "eventVersion": "1.0",
        "userIdentityARN": f"arn:aws:iam::{account}:root",
    }
    return json.dumps({"Records": [record]})


def deliver(clients: Any, account: str, region: str, trigger: dict, message: str) -> str | None:
    """Send ``message`` to the trigger's SNS topic or Lambda function (invoked asynchronously,
    as CodeCommit does); the failure message, or None on success."""
    arn = trigger["destinationArn"]
    try:
        if arn.split(":")[2] == "lambda":
            clients.get("lambda", account, region).invoke(FunctionName=arn, InvocationType="Event", Payload=message.encode())
        else:
            clients.get("sns", account, region).publish(TopicArn=arn, Message=message)
    except ClientError as exc:  # the destination is missing
        return str(exc)
    return None


def notify(clients: Any, repo: dict, triggers: list[dict], config_id: str, updates: list[RefUpdate]) -> None:
    """Tell EventBridge and every matching trigger about ``updates`` to repository ``repo``."""
    account, region = repo["accountId"], repo["Arn"].split(":")[3]
    try:
        publish_state_changes(clients.get("events", account, region), repo, updates, f"arn:aws:iam::{account}:root")
    except Exception:
        log.exception("EventBridge did not take the events of %s", repo["repositoryName"])
    for trigger in triggers:
        matching = [u for u in updates if trigger_matches(trigger, u)]
        if matching:
            message = trigger_message(repo, region, account, trigger, matching, config_id)
            failure = deliver(clients, account, region, trigger, message)
            if failure:
                log.warning("trigger %s of %s failed: %s", trigger["name"], repo["repositoryName"], failure)


class Outbox:
    """Runs notifications one after another on a background thread, in the order sent, so a
    push or an API write does not wait for EventBridge and SNS."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="codecommit-outbox", daemon=True)
        self._thread.start()

    def send(self, job: Callable[[], None]) -> None:
        self._queue.put(job)

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("a CodeCommit notification failed")
