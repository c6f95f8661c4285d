"""Stacks per account and region: their resources, events, outputs, and the region's exports.

A deleted stack stays listed (ListStacks shows it DELETE_COMPLETE, DescribeStacks answers it by its
stack id) but its name is free again, as on AWS:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from labstack.errors import AwsError
from labstack.state import AccountRegionStore

MAX_DELETED = 1000  # deleted stacks remembered per account and region (AWS keeps them 90 days)
MAX_EVENTS = 5000  # events kept per stack, the oldest dropped first
MAX_STACKS = int(os.environ.get("LABSTACK_CFN_MAX_STACKS") or 2000)
"""Live stacks per account and region (AWS's quota "Stacks", 2,000 per Region:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html)."""


def now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class StackResource:
    """One resource of a stack as DescribeStackResources shows it, with what the engine needs."""

    logical_id: str
    type: str
    status: str = ""
    reason: str | None = None
    physical_id: str | None = None
    ref: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    props: dict[str, Any] = field(default_factory=dict)  # the resolved properties it was last made with
    updated: dt.datetime = field(default_factory=now)
    metadata: Any = None
    drift: dict[str, Any] = field(default_factory=dict)  # drift.py's last verdict (StackResourceDriftStatus...)

    def ref_value(self) -> str | None:
        """What Ref of this resource returns."""
        return self.ref if self.ref is not None else self.physical_id


@dataclass
class Stack:
    """One stack, live or deleted."""

    stack_id: str
    name: str
    account: str
    region: str
    template_body: str = ""
    template: dict = field(default_factory=dict)
    parameters: list[dict] = field(default_factory=list)  # as DescribeStacks shows them (NoEcho masked)
    resolved: dict[str, Any] = field(default_factory=dict)  # parameter name -> parameters.Resolved
    imports: list[str] = field(default_factory=list)  # the export names its template imports
    tags: list[dict] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None
    caller_key: str | None = None  # the access key of the principal the stack acts as (no RoleARN)
    status: str = "REVIEW_IN_PROGRESS"
    reason: str | None = None
    created: dt.datetime = field(default_factory=now)
    updated: dt.datetime | None = None
    deleted: dt.datetime | None = None
    description: str | None = None
    outputs: list[dict] = field(default_factory=list)
    resources: dict[str, StackResource] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)  # oldest first
    disable_rollback: bool = False
    retain_except_on_create: bool = False  # a rollback deletes what the operation made, Retain or not
    deleting: bool = False  # a DeleteStack was accepted and has not finished
    admitted: bool = False  # holds one of its account's operation slots (Engine.admit)
    nested: int = 0  # a root stack's nested stacks at every level, made and not yet deleted
    termination_protection: bool = False
    timeout_minutes: int | None = None
    parent_id: str | None = None
    root_id: str | None = None
    change_set_id: str | None = None  # the change set that last made or updated it (DescribeStacks' ChangeSetId)
    policy: str | None = None
    rollback: dict[str, Any] | None = None  # an update rollback's work left (UPDATE_ROLLBACK_FAILED)
    cancel: threading.Event = field(default_factory=threading.Event)
    settled: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    drift: dict[str, Any] = field(default_factory=dict)  # drift.py's stack-level verdict

    @property
    def busy(self) -> bool:
        """True while an operation is in progress on the stack."""
        return self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS"

    @property
    def is_deleted(self) -> bool:
        return self.status == "DELETE_COMPLETE"

    def event(self, logical_id: str, resource_type: str, status: str, reason: str | None = None,
              physical_id: str | None = None, properties: str | None = None) -> None:
        """Record one stack event (DescribeStackEvents answers them newest first)."""
        row: dict[str, Any] = {"StackId": self.stack_id, "EventId": str(uuid.uuid4()), "StackName": self.name,
                               "LogicalResourceId": logical_id, "ResourceType": resource_type,
                               "Timestamp": now(), "ResourceStatus": status}
        if physical_id is not None:
            row["PhysicalResourceId"] = physical_id
        if reason:
            row["ResourceStatusReason"] = reason
        if properties:
            row["ResourceProperties"] = properties
        with self.lock:
            self.events.append(row)
            del self.events[:-MAX_EVENTS]

    def stack_event(self, status: str, reason: str | None = None) -> None:
        """The stack's own status changes, recorded as events of the stack itself."""
        with self.lock:
            self.status, self.reason = status, reason
            self.event(self.name, "AWS::CloudFormation::Stack", status, reason, self.stack_id)


@dataclass
class Export:
    """One exported output value, owned by the stack that exports it."""

    name: str
    value: str
    stack_id: str


@dataclass
class RegionState:
    """The stacks and exports of one account and region."""

    stacks: dict[str, Stack] = field(default_factory=dict)  # by stack id, in creation order
    names: dict[str, Stack] = field(default_factory=dict)  # by name: the live ones (and some deleted, pruned lazily)
    exports: dict[str, Export] = field(default_factory=dict)


class Stacks:
    """Every account's stacks, safe to use from any thread."""

    def __init__(self) -> None:
        self.state: AccountRegionStore[RegionState] = AccountRegionStore(RegionState)

    def region(self, account: str, region: str) -> RegionState:
        return self.state.get(account, region)

    def live(self, account: str, region: str, name: str) -> Stack | None:
        """The stack (not deleted) named ``name`` or with stack id ``name``."""
        st = self.region(account, region)
        with self.state.lock:
            found = st.stacks.get(name) or st.names.get(name)
            return None if found is None or found.is_deleted else found

    def find(self, account: str, region: str, name: str) -> Stack:
        """The live stack by name, or any stack (deleted too) by stack id; AWS's ValidationError otherwise."""
        st = self.region(account, region)
        with self.state.lock:
            found = st.stacks.get(name)
            if found is None and (named := st.names.get(name)) is not None and not named.is_deleted:
                found = named
        if found is None:
            raise AwsError("ValidationError", f"Stack with id {name} does not exist")
        return found

    def add(self, stack: Stack) -> None:
        """Keep a new stack (AlreadyExistsException while another live stack has its name; LimitExceededException
        beyond MAX_STACKS live stacks in the region, those under review included); the oldest deleted ones go
        beyond MAX_DELETED."""
        st = self.region(stack.account, stack.region)
        with self.state.lock:
            held = st.names.get(stack.name)
            if held is not None and held is not stack and not held.is_deleted:
                raise AwsError("AlreadyExistsException", f"Stack [{stack.name}] already exists")
            if held is not stack and len(st.names) >= MAX_STACKS:
                for gone in [n for n, s in st.names.items() if s.is_deleted]:
                    del st.names[gone]
                if len(st.names) >= MAX_STACKS:
                    raise AwsError("LimitExceededException", "Limit for stack has been exceeded")  # AWS's words
            st.names[stack.name] = stack
            st.stacks[stack.stack_id] = stack
            deleted = [k for k, s in st.stacks.items() if s.is_deleted]
            for key in deleted[:max(len(deleted) - MAX_DELETED, 0)]:
                del st.stacks[key]

    def all(self, account: str, region: str) -> list[Stack]:
        """Every stack of the region, deleted ones too, in creation order."""
        with self.state.lock:
            return list(self.region(account, region).stacks.values())

    def everywhere(self) -> list[Stack]:
        """Every stack of every account and region."""
        return [s for _, st in self.state.items() for s in list(st.stacks.values())]

    def reset(self) -> None:
        self.state.reset()


def new_stack_id(partition: str, region: str, account: str, name: str) -> str:
    """``arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID``, as AWS forms it."""
    return f"arn:{partition}:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"
