"""One recorded call as CloudTrail writes it: the record (``CloudTrailEvent``) and LookupEvents' summary of it."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from labstack.services.cloudtrail.resources import MAX_RESOURCES, Named

EVENT_VERSION = "1.09"
# Operations that only read, as CloudTrail's ``readOnly`` says.
_READS = re.compile(r"^(?:Get|List|Describe|BatchGet|BatchDescribe|Head|Lookup|Search|Query|Scan|Select|GitPull)"
                    r"(?=[A-Z]|$)")
# Data events (object-level S3 calls, Lambda Invoke): CloudTrail logs them only where a trail asks for them.
_DATA_EVENTS = {
    "s3": frozenset({"GetObject", "PutObject", "DeleteObject", "DeleteObjects", "HeadObject", "CopyObject",
                     "GetObjectAcl", "PutObjectAcl", "GetObjectTagging", "PutObjectTagging", "GetObjectAttributes",
                     "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
                     "ListParts", "RestoreObject", "SelectObjectContent"}),
    "lambda": frozenset({"Invoke", "InvokeWithResponseStream"}),
}


# Reads by another name: STS hands out credentials, KMS's cryptographic calls change no key.
_ALSO_READS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "Decrypt", "Encrypt",
                         "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom",
                         "Sign", "Verify"})


def read_only(operation: str) -> bool:
    """Whether CloudTrail counts ``operation`` as a read (Get…, List…, Describe…, AssumeRole, KMS's Decrypt…)."""
    return operation in _ALSO_READS or _READS.match(operation) is not None


def category(service: str, operation: str) -> str:
    """``Data`` for object-level S3 calls and Lambda invocations, ``Management`` for the rest."""
    return "Data" if operation in _DATA_EVENTS.get(service, ()) else "Management"


@dataclass(slots=True)
class Event:
    """One call as labstack recorded it; small, since an account keeps thousands."""

    time: float  # epoch seconds, wall clock
    event_id: str
    request_id: str
    source: str  # the signing name (``codebuild``): eventSource is ``codebuild.amazonaws.com``
    name: str
    region: str
    account: str
    ip: str
    agent: str
    identity: dict[str, Any]  # the userIdentity element, shared by every call of one key
    read_only: bool
    named: tuple[Named, ...]  # the resources the request named
    returned: tuple[Named, ...] = ()  # and those a create call's answer returned
    error_code: str | None = None
    error_message: str | None = None
    extra: dict[str, Any] | None = None  # additionalEventData (a git push's repository…)

    @property
    def username(self) -> str | None:
        """The user name LookupEvents shows: an IAM user's name, a role session's name, ``root``."""
        return username(self.identity)

    @property
    def access_key(self) -> str | None:
        return self.identity.get("accessKeyId") or None

    @property
    def event_source(self) -> str:
        return f"{self.source}.amazonaws.com"

    @property
    def resources(self) -> list[tuple[str, str]]:
        """(type, name) of each resource named or returned, once each."""
        seen = dict.fromkeys((kind, name) for kind, name, _member in (*self.named, *self.returned))
        return list(seen)[:MAX_RESOURCES]


def username(identity: dict[str, Any]) -> str | None:
    """The name CloudTrail's event history shows for a ``userIdentity``."""
    kind = identity.get("type")
    if kind == "Root":
        return "root"
    if kind == "IAMUser":
        return identity.get("userName")
    if kind == "AssumedRole":
        return str(identity.get("arn", "")).rpartition("/")[2] or None
    return None


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(event: Event) -> dict[str, Any]:
    """The event as a CloudTrail log record."""
    kind = category(event.source, event.name)
    data: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": event.identity,
        "eventTime": _timestamp(event.time),
        "eventSource": event.event_source,
        "eventName": event.name,
        "awsRegion": event.region,
        "sourceIPAddress": event.ip,
        "userAgent": event.agent,
    }
    if event.error_code:
        data["errorCode"] = event.error_code
        data["errorMessage"] = event.error_message or ""
    data["requestParameters"] = _members(event.named)
    data["responseElements"] = _members(event.returned)
    if event.extra:
        data["additionalEventData"] = event.extra
    data.update({
        "requestID": event.request_id,
        "eventID": event.event_id,
        "readOnly": event.read_only,
    })
    arns = [{"accountId": event.account, "type": t, "ARN": n} for t, n in event.resources if n.startswith("arn:")]
    if arns:
        data["resources"] = arns
    data.update({
        "eventType": "AwsApiCall",
        "managementEvent": kind == "Management",
        "recipientAccountId": event.account,
        "eventCategory": kind,
    })
    return data


def _members(named: tuple[Named, ...]) -> dict[str, Any] | None:
    """The members that named resources, as the request or answer sent them (a list stays a list)."""
    if not named:
        return None
    members: dict[str, Any] = {}
    for _kind, name, member in named:
        if member in members:
            members[member] = [*members[member], name] if isinstance(members[member], list) else [members[member], name]
        else:
            members[member] = name
    return members


def summary(event: Event) -> dict[str, Any]:
    """The event as LookupEvents returns it (``Events[]``)."""
    entry: dict[str, Any] = {
        "EventId": event.event_id,
        "EventName": event.name,
        "ReadOnly": "true" if event.read_only else "false",
        "EventTime": dt.datetime.fromtimestamp(event.time, dt.timezone.utc),
        "EventSource": event.event_source,
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in event.resources],
        "CloudTrailEvent": json.dumps(record(event), separators=(",", ":")),
    }
    if event.access_key:
        entry["AccessKeyId"] = event.access_key
    if event.username:
        entry["Username"] = event.username
    return entry
