"""Drift detection: a stack's resources as they are now, against what the stack made them.

A resource's expected properties are the resolved properties it was last made with (only what the
template set: service defaults are not drift); its actual ones come from its handler's ``read()``, in
template form, read as the caller of the detection. Differences are AWS's ``PropertyDifferences``:
``NOT_EQUAL`` (a value changed), ``REMOVE`` (a property or list item gone), ``ADD`` (a list item added).
Write-only properties (never read back) and ``KmsKeyId`` are not compared; types labstack cannot read,
nested stacks and CloudFormation's own bookkeeping types are ``NOT_CHECKED``. AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import TYPE_CHECKING, Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.paging import page
from labstack.services.cloudformation import types
from labstack.services.cloudformation.acting import Acting
from labstack.services.cloudformation.engine import SETTLE_SECONDS, reason_of
from labstack.services.cloudformation.resource import HandlerError, ResourceType
from labstack.services.cloudformation.schemas import type_schema
from labstack.services.cloudformation.stacks import Stack, StackResource, now

if TYPE_CHECKING:
    from labstack.services.cloudformation.provider import CloudFormationProvider

CHECKABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED")
"""The stack statuses drift detection runs in (AWS's list)."""
NOT_COMPARED = ("KmsKeyId", "KMSKeyId")  # AWS does not compare KMS key ids (a key has many aliases)
UNREADABLE = ("AWS::CloudFormation::Stack",  # AWS checks a nested stack's drift on the nested stack itself
              "AWS::CloudFormation::WaitConditionHandle", "AWS::CDK::Metadata")  # nothing live to compare
KEPT_DETECTIONS = 20  # detections remembered per stack for DescribeStackDriftDetectionStatus
MAX_DETECTIONS = 5
"""Stack drift detections one account may have in progress at once (labstack's bound: each reads every resource)."""
PAGE = 100


def readable(handler: ResourceType | None, resource_type: str) -> bool:
    """Whether labstack can read this type's live properties (its handler implements ``read()``)."""
    return (handler is not None and resource_type not in UNREADABLE
            and type(handler).read is not ResourceType.read)


# -- comparing ---------------------------------------------------------------------------------
def _text(value: Any) -> str:
    """A value as AWS's ExpectedValue/ActualValue: scalars as text, the rest as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _document(value: Any) -> Any:
    """JSON text as its object (a policy written as an object in the template, read back as text)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def differences(expected: Any, actual: Any, path: str = "", ordered: bool = True) -> Iterator[dict]:
    """AWS's PropertyDifferences between an expected and an actual value under ``path`` (``/A/B/0``).

    Only what ``expected`` sets is compared; scalars compare by their text ("5" equals 5, "true" equals
    True); lists compare item by item, or as multisets when ``ordered`` is false (AWS's
    ``insertionOrder: false``), extra actual items being ``ADD`` and missing ones ``REMOVE``."""
    expected, actual = _document(expected), _document(actual)
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, want in expected.items():
            if key in NOT_COMPARED:
                continue
            here = f"{path}/{key}"
            if key not in actual or actual[key] is None:
                if want is not None:
                    yield _difference(here, want, None, "REMOVE")
                continue
            yield from differences(want, actual[key], here)
    elif isinstance(expected, list) and isinstance(actual, list):
        yield from _list_differences(expected, actual, path, ordered)
    elif _text(expected) != _text(actual):
        yield _difference(path, expected, actual, "NOT_EQUAL")


def _list_differences(expected: list, actual: list, path: str, ordered: bool) -> Iterator[dict]:
    if not ordered:
        left = list(enumerate(actual))
        unmatched = []
        for index, item in enumerate(expected):
            match = next((n for n, (_, got) in enumerate(left) if not list(differences(item, got))), None)
            if match is None:
                unmatched.append((index, item))
            else:
                left.pop(match)
        for (index, item), (_, got) in zip(unmatched, left):
            yield from differences(item, got, f"{path}/{index}")
        for index, item in unmatched[len(left):]:
            yield _difference(f"{path}/{index}", item, None, "REMOVE")
        for index, got in left[len(unmatched):]:
            yield _difference(f"{path}/{index}", None, got, "ADD")
        return
    for index, item in enumerate(expected):
        if index < len(actual):
            yield from differences(item, actual[index], f"{path}/{index}")
        else:
            yield _difference(f"{path}/{index}", item, None, "REMOVE")
    for index in range(len(expected), len(actual)):
        yield _difference(f"{path}/{index}", None, actual[index], "ADD")


def _difference(path: str, expected: Any, actual: Any, kind: str) -> dict:
    return {"PropertyPath": path, "ExpectedValue": "null" if expected is None else _text(expected),
            "ActualValue": "null" if actual is None else _text(actual), "DifferenceType": kind}


def expected_properties(resource_type: str, props: dict) -> dict:
    """The properties drift compares: what the stack set, less the write-only ones (never read back), at
    any depth (a function's Code/ZipFile); an object left empty by that is not compared either."""
    schema = type_schema(resource_type)

    def kept(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            inner = {k: kept(v, path + (k,)) for k, v in value.items() if not schema.write_only_path(path + (k,))}
            return {k: v for k, v in inner.items() if v != {} or value[k] == {}}
        if isinstance(value, list):
            return [kept(item, path + ("*",)) for item in value]
        return value

    return {k: v for k, v in kept(props, ()).items() if v != {} or props[k] == {}}


def compare(resource_type: str, expected: dict, actual: dict) -> list[dict]:
    """Every PropertyDifference of one resource (top-level lists ordered as the type's schema says)."""
    schema = type_schema(resource_type)
    found: list[dict] = []
    for key, want in expected.items():
        if key in NOT_COMPARED:
            continue
        got = actual.get(key)
        if got is None:
            found.append(_difference(f"/{key}", want, None, "REMOVE"))
            continue
        ordered = (key,) not in schema.unordered and key != schema.tag_property
        found += differences(want, got, f"/{key}", ordered=ordered)
    return found


# -- detecting ---------------------------------------------------------------------------------
class Drift:
    """Drift detection for one provider's stacks (the provider's methods delegate here)."""

    def __init__(self, provider: "CloudFormationProvider") -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # account -> detections in progress

    def _checkable(self, ctx: RequestContext, name: str) -> Stack:
        stack = self.provider.stacks.find(ctx.account, ctx.region, name)
        if stack.status not in CHECKABLE:
            raise AwsError("ValidationError", f"Stack [{stack.name}] is in {stack.status} state; drift detection runs "
                                              f"on stacks in {', '.join(CHECKABLE)}")
        return stack

    def _acting(self, ctx: RequestContext, stack: Stack) -> Acting:
        """The caller of the detection: AWS reads each resource with the caller's permissions."""
        return Acting(self.provider.labstack, stack.account, stack.region, stack.name, None, ctx.access_key)

    def check(self, stack: Stack, resource: StackResource, acting: Acting) -> dict:
        """Detect one resource's drift; its StackResourceDrift (also kept on the resource)."""
        handler = types.handler(resource.type)
        expected = expected_properties(resource.type, resource.props)
        row: dict[str, Any] = {"StackId": stack.stack_id, "LogicalResourceId": resource.logical_id,
                               "ResourceType": resource.type, "Timestamp": now(),
                               "ExpectedProperties": json.dumps(expected, sort_keys=True, default=str)}
        if resource.physical_id is not None:
            row["PhysicalResourceId"] = resource.physical_id
        if not readable(handler, resource.type) or resource.physical_id is None:
            row["StackResourceDriftStatus"] = "NOT_CHECKED"
        else:
            ctx = self.provider.engine.context(stack, acting, resource.logical_id, resource.type)
            actual = handler.read(ctx, resource.physical_id, dict(resource.props))
            if actual is None:
                row["StackResourceDriftStatus"] = "DELETED"
            else:
                found = compare(resource.type, expected, actual)
                row["ActualProperties"] = json.dumps(actual, sort_keys=True, default=str)
                row["PropertyDifferences"] = found
                row["StackResourceDriftStatus"] = "MODIFIED" if found else "IN_SYNC"
        with stack.lock:
            resource.drift = {**row, "LastCheckTimestamp": row["Timestamp"]}
        return row

    def detect_resource(self, ctx: RequestContext, request: dict) -> dict:
        """DetectStackResourceDrift."""
        stack = self._checkable(ctx, request["StackName"])
        logical = request["LogicalResourceId"]
        resource = stack.resources.get(logical)
        if resource is None:
            raise AwsError("ValidationError", f"Resource {logical} does not exist for stack {stack.name}")
        acting = self._acting(ctx, stack)
        try:
            row = self.check(stack, resource, acting)
        except (ClientError, BotoCoreError, HandlerError) as error:
            raise AwsError("ValidationError", f"Failed to detect drift on resource [{logical}]: {reason_of(error)}") from None
        finally:
            acting.close()
        return {"StackResourceDrift": _shown(row)}

    def detect_stack(self, ctx: RequestContext, request: dict) -> dict:
        """DetectStackDrift: every resource (or those named) checked in a thread; answers its detection id
        once it finishes or LABSTACK_CFN_SETTLE_SECONDS pass."""
        stack = self._checkable(ctx, request["StackName"])
        names = request.get("LogicalResourceIds")
        unknown = [n for n in names or [] if n not in stack.resources]
        if unknown:
            raise AwsError("ValidationError", f"Resource {unknown[0]} does not exist for stack {stack.name}")
        with stack.lock:
            detections = stack.drift.setdefault("detections", {})
            running = next((r for r in detections.values() if r["DetectionStatus"] == "DETECTION_IN_PROGRESS"), None)
            if running is not None:  # one detection at a time per stack: the caller follows the running one
                return {"StackDriftDetectionId": running["StackDriftDetectionId"]}
            with self._lock:
                if self._running.get(stack.account, 0) >= MAX_DETECTIONS:
                    raise AwsError("LimitExceededException", f"labstack runs at most {MAX_DETECTIONS} stack drift "
                                                             "detections of an account at once; wait for one to finish")
                self._running[stack.account] = self._running.get(stack.account, 0) + 1
            detection_id = str(uuid.uuid4())
            record: dict[str, Any] = {"StackId": stack.stack_id, "StackDriftDetectionId": detection_id,
                                      "DetectionStatus": "DETECTION_IN_PROGRESS", "Timestamp": now()}
            detections[detection_id] = record
            for old in list(detections)[:-KEPT_DETECTIONS]:
                del detections[old]
            wanted = [r for r in stack.resources.values() if names is None or r.logical_id in names]
        acting = self._acting(ctx, stack)
        worker = self.provider.engine.background(f"cfn-drift-{stack.name}",
                                                 lambda: self._run(stack, wanted, acting, record))
        worker.join(SETTLE_SECONDS)
        return {"StackDriftDetectionId": detection_id}

    def _run(self, stack: Stack, wanted: list[StackResource], acting: Acting, record: dict) -> None:
        failed: list[str] = []
        reasons: list[str] = []
        drifted = 0
        stop = self.provider.engine.stop
        try:
            for resource in wanted:
                if stop.is_set():  # labstack resets or shuts down: the detection ends between resources
                    failed, reasons = [r.logical_id for r in wanted[wanted.index(resource):]], ["detection stopped"]
                    break
                try:
                    row = self.check(stack, resource, acting)
                except Exception as error:  # noqa: BLE001 - one resource's failure (reason_of logs a bug) fails the detection, not the thread
                    failed.append(resource.logical_id)
                    reasons.append(reason_of(error))
                    continue
                drifted += row["StackResourceDriftStatus"] in ("MODIFIED", "DELETED")
        finally:
            acting.close()
            with self._lock:
                self._running[stack.account] -= 1
        result = {"DriftedStackResourceCount": drifted, "Timestamp": now(),
                  "StackDriftStatus": "DRIFTED" if drifted else "IN_SYNC"}
        if failed:
            result.update(DetectionStatus="DETECTION_FAILED",
                          DetectionStatusReason=f"Failed to detect drift on resources [{', '.join(failed)}]: "
                                                f"{'; '.join(reasons)}")
        else:
            result["DetectionStatus"] = "DETECTION_COMPLETE"
        with stack.lock:
            record.update(result)
            stack.drift.update(StackDriftStatus=result["StackDriftStatus"], LastCheckTimestamp=result["Timestamp"])

    def status(self, ctx: RequestContext, request: dict) -> dict:
        """DescribeStackDriftDetectionStatus."""
        detection_id = request["StackDriftDetectionId"]
        for stack in self.provider.stacks.all(ctx.account, ctx.region):
            with stack.lock:
                record = stack.drift.get("detections", {}).get(detection_id)
                if record is not None:
                    return dict(record)
        raise AwsError("ValidationError", f"Drift detection with id {detection_id} does not exist")

    def resource_drifts(self, ctx: RequestContext, request: dict) -> dict:
        """DescribeStackResourceDrifts: the last detection's verdict on each checked resource."""
        stack = self.provider.stacks.find(ctx.account, ctx.region, request["StackName"])
        wanted = set(request.get("StackResourceDriftStatusFilters") or [])
        with stack.lock:
            rows = [_shown(r.drift) for r in stack.resources.values() if r.drift
                    and (not wanted or r.drift["StackResourceDriftStatus"] in wanted)]
        shown, token = page(rows, request.get("NextToken"), int(request.get("MaxResults") or PAGE),
                            "ValidationError", "Invalid NextToken")
        answer: dict[str, Any] = {"StackResourceDrifts": shown}
        if token:
            answer["NextToken"] = token
        return answer


def _shown(row: dict) -> dict:
    """A kept verdict as StackResourceDrift."""
    return {k: v for k, v in row.items() if k != "LastCheckTimestamp"}


def drift_information(held: Stack | StackResource) -> dict:
    """The DriftInformation of a stack (DescribeStacks, ListStacks) or of a resource (DescribeStackResource(s),
    ListStackResources): its last verdict, NOT_CHECKED before any, and when it was checked."""
    key = "StackDriftStatus" if isinstance(held, Stack) else "StackResourceDriftStatus"
    shown: dict[str, Any] = {key: held.drift.get(key, "NOT_CHECKED")}
    if "LastCheckTimestamp" in held.drift:
        shown["LastCheckTimestamp"] = held.drift["LastCheckTimestamp"]
    return shown
