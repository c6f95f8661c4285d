"""CloudFormation's own types: nested stacks, wait condition handles, and the CDK's metadata resource.

``AWS::CloudFormation::Stack`` makes a child stack from the template at ``TemplateURL`` (read from S3 as the
parent's principal), with ``Parameters``; Ref is the child's stack id, ``Outputs.<Name>`` its outputs; the
child is updated and deleted with its parent, and its events are its own:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
``AWS::CloudFormation::WaitConditionHandle`` (Ref: a URL to signal) and ``AWS::CDK::Metadata`` make nothing
anywhere: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitconditionhandle.html
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import quote

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result
from labstack.services.cloudformation.stacks import Stack

NESTED_LAB_SECONDS = 6 * 3600  # how long a parent waits for its child's operation, on the lab clock
MAX_NESTING = 5
"""How deep stacks may nest below a root (labstack's bound: a template that nests itself fails there)."""
MAX_NESTED = int(os.environ.get("LABSTACK_CFN_MAX_NESTED_STACKS") or 50)
"""Nested stacks one root stack may hold at once, at every level (labstack's bound: a template that nests itself
several times over would otherwise make thousands of stacks before the nesting bound stops it)."""
SUPPORTED = ("TemplateURL", "Parameters", "TimeoutInMinutes", "NotificationARNs", "Tags")


def _provider(ctx: Context) -> Any:
    from labstack.services.cloudformation.provider import CloudFormationProvider  # the provider imports the registry

    return CloudFormationProvider.of(ctx.labstack)


def nested_parameters(props: dict) -> list[dict]:
    """The nested stack's Parameters property as a CreateStack/UpdateStack request's Parameters (lists joined
    with commas); change sets plan nested stacks with it too."""
    given = props.get("Parameters") or {}
    if not isinstance(given, dict):
        raise HandlerError("Parameters of AWS::CloudFormation::Stack must be a map of names to values")
    return [{"ParameterKey": key, "ParameterValue": ",".join(map(str, value)) if isinstance(value, list) else str(value)}
            for key, value in given.items()]


def _settled(ctx: Context, child: Stack, verb: str) -> None:
    """Wait for the child's operation; HandlerError in AWS's words when it did not succeed."""
    ctx.wait(lambda: not child.busy, NESTED_LAB_SECONDS, f"Embedded stack {child.stack_id}")
    wanted = {"created": "CREATE_COMPLETE", "updated": "UPDATE_COMPLETE", "deleted": "DELETE_COMPLETE"}[verb]
    if child.status != wanted:
        raise HandlerError(f"Embedded stack {child.stack_id} was not successfully {verb}: {_why(child)}",
                           "NotStabilized")


def _why(child: Stack) -> str:
    """The child's own reason for failing: the latest reason its stack events give."""
    with child.lock:
        own = [e for e in child.events if e["LogicalResourceId"] == child.name and e.get("ResourceStatusReason")
               and e["ResourceStatusReason"] != "User Initiated"]
    return own[-1]["ResourceStatusReason"] if own else child.status


def _result(child: Stack) -> Result:
    return Result(child.stack_id, {f"Outputs.{o['OutputKey']}": o["OutputValue"] for o in child.outputs})


class NestedStack(ResourceType):
    """AWS::CloudFormation::Stack."""

    type_name = "AWS::CloudFormation::Stack"

    def _request(self, ctx: Context, parent: Stack, props: dict) -> dict:
        unknown = sorted(k for k in props if k not in SUPPORTED)
        if unknown:
            raise HandlerError(f"labstack does not support {', '.join(unknown)} of {self.type_name}")
        if "TemplateURL" not in props:
            raise HandlerError("Property TemplateURL cannot be empty.")
        request: dict[str, Any] = {"TemplateURL": props["TemplateURL"], "Parameters": nested_parameters(props),
                                   "Capabilities": list(parent.capabilities),
                                   "Tags": list(parent.tags) + list(props.get("Tags") or [])}
        if props.get("TimeoutInMinutes") is not None:
            request["TimeoutInMinutes"] = int(props["TimeoutInMinutes"])
        if props.get("NotificationARNs"):
            request["NotificationARNs"] = list(props["NotificationARNs"])
        if parent.role_arn:
            request["RoleARN"] = parent.role_arn
        return request

    def create(self, ctx: Context, props: dict) -> Result:
        provider = _provider(ctx)
        parent = provider.stacks.find(ctx.account, ctx.region, ctx.stack_id)
        depth, above = 0, parent
        while above.parent_id is not None:
            depth += 1
            above = provider.stacks.find(ctx.account, ctx.region, above.parent_id)
        if depth + 1 > MAX_NESTING:
            raise HandlerError(f"Nested stacks may nest at most {MAX_NESTING} levels deep in labstack "
                               f"({parent.name} is {depth} levels below its root)", "ServiceLimitExceeded")
        root = provider.stacks.find(ctx.account, ctx.region, parent.root_id) if parent.root_id else parent
        with root.lock:
            if root.nested >= MAX_NESTED:
                raise HandlerError(f"A root stack may hold at most {MAX_NESTED} nested stacks in labstack "
                                   f"({root.name} holds {root.nested})", "ServiceLimitExceeded")
            root.nested += 1
        try:
            child = self._start(ctx, provider, parent, props)
        except Exception:
            with root.lock:
                root.nested -= 1
            raise
        _settled(ctx, child, "created")
        return _result(child)

    def _start(self, ctx: Context, provider: Any, parent: Stack, props: dict) -> Stack:
        """Make the child stack and start its creation; the parent's resource holds its id from now on."""
        request = self._request(ctx, parent, props)
        asked = RequestContext(ctx.account, ctx.region, "cloudformation", parent.caller_key)
        child = provider.new_stack(asked, ctx.name(128), request, parent=parent, reader=ctx)
        provider.start_create(child, "ROLLBACK", wait=False)
        with parent.lock:  # the parent holds the child's id before waiting: a failed child is deleted on rollback
            held = parent.resources.get(ctx.logical_id)
            if held is not None:
                held.physical_id = child.stack_id
        return child

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        provider = _provider(ctx)
        child = provider.stacks.find(ctx.account, ctx.region, physical_id)
        parent = provider.stacks.find(ctx.account, ctx.region, ctx.stack_id)
        asked = RequestContext(ctx.account, ctx.region, "cloudformation", parent.caller_key)
        try:
            provider.update(asked, child, self._request(ctx, parent, new), reader=ctx, wait=False)
        except AwsError as error:
            if error.message != "No updates are to be performed.":
                raise
            return _result(child)
        _settled(ctx, child, "updated")
        return _result(child)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        provider = _provider(ctx)
        try:
            child = provider.stacks.find(ctx.account, ctx.region, physical_id)
        except AwsError:
            return
        if child.is_deleted:
            return
        provider.start_delete(child, [], wait=False)
        _settled(ctx, child, "deleted")
        if child.root_id is not None:
            root = provider.stacks.find(ctx.account, ctx.region, child.root_id)
            with root.lock:
                root.nested = max(root.nested - 1, 0)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        provider = _provider(ctx)
        try:
            child = provider.stacks.find(ctx.account, ctx.region, physical_id)
        except AwsError:
            return None
        return None if child.is_deleted else dict(props)


class _MakesNothing(ResourceType):
    """A type CloudFormation keeps for itself: nothing is made, changed or deleted anywhere."""

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        return None

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        return dict(props)


class WaitConditionHandle(_MakesNothing):
    """AWS::CloudFormation::WaitConditionHandle: Ref is the URL a WaitCondition would be signalled at."""

    type_name = "AWS::CloudFormation::WaitConditionHandle"

    def create(self, ctx: Context, props: dict) -> Result:
        return Result(f"https://cloudformation-waitcondition-{ctx.region}.s3.amazonaws.com/{quote(ctx.stack_id, safe='')}"
                      f"/{ctx.logical_id}")


class CdkMetadata(_MakesNothing):
    """AWS::CDK::Metadata: the CDK's record of the constructs a stack uses; nothing is made."""

    type_name = "AWS::CDK::Metadata"

    def create(self, ctx: Context, props: dict) -> Result:
        return Result(str(uuid.uuid4()))


TYPES: list[ResourceType] = [NestedStack(), WaitConditionHandle(), CdkMetadata()]
