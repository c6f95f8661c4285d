"""The handler contract: what a resource type's handler implements and what the engine gives it.

A handler (``types/<service>.py``) makes its resource through the resource's own AWS API, called on
labstack itself with ``Context.client`` (signed as the stack's acting principal), so IAM enforcement,
routing and shape checks apply as they do on AWS. A ``botocore`` ``ClientError`` raised inside a handler
fails the resource with AWS's status reason wording (the engine words it); handlers need not catch.

AWS's resource handler contract, which this mirrors:
https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract.html
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

HANDLER_ERROR_CODES = ("InvalidRequest", "NotFound", "AlreadyExists", "AccessDenied", "GeneralServiceException",
                       "NotStabilized", "ServiceLimitExceeded", "InternalFailure", "NotUpdatable", "Throttling")
"""AWS's HandlerErrorCode values (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract-errors.html)."""


class HandlerError(Exception):
    """The resource operation failed; ``message`` becomes the event's ResourceStatusReason."""

    def __init__(self, message: str, code: str = "InvalidRequest") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NeedsReplacement(Exception):
    """``update()`` raises it when a change (a Conditional one, or any the handler cannot apply in
    place) needs the resource replaced."""


@dataclass
class Result:
    """What create/update made: the physical id, the Fn::GetAtt attributes, and Ref when it differs."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None

    @property
    def ref_value(self) -> str:
        """What ``Ref`` returns: ``ref`` if the type sets one, else the physical id."""
        return self.ref if self.ref is not None else self.physical_id


_ALPHABET = string.ascii_uppercase + string.digits


class Context:
    """What the engine gives a handler for one resource operation.

    ``clients`` is a callable ``service -> boto3 client`` (to this labstack, signed as the stack's
    principal), ``waiter`` a callable ``(done, lab_seconds, what) -> None`` on the lab clock; the engine
    builds both. ``tags`` are the stack's own tags.
    """

    def __init__(self, *, labstack: Any, account: str, region: str, partition: str, stack_name: str,
                 stack_id: str, logical_id: str, clients: Callable[[str], Any],
                 waiter: Callable[[Callable[[], bool], float, str], None] | None = None,
                 tags: list[dict] | None = None, resource_type: str = "") -> None:
        self.labstack = labstack
        self.account = account
        self.region = region
        self.partition = partition
        self.stack_name = stack_name
        self.stack_id = stack_id
        self.logical_id = logical_id
        self.resource_type = resource_type
        self._clients = clients
        self._waiter = waiter
        self._tags = list(tags or [])

    def client(self, service: str) -> Any:
        """A boto3 client to this labstack, signed as the stack's acting principal."""
        return self._clients(service)

    def name(self, max_length: int = 64, lowercase: bool = False) -> str:
        """An AWS-style generated physical name, ``{stack}-{logical}-{RANDOM12}``, trimmed to ``max_length``
        (AWS trims the stack and logical parts, never the random suffix)."""
        suffix = "".join(random.choices(_ALPHABET, k=12))
        keep = max(max_length - len(suffix) - 2, 2)
        stack = self.stack_name[: max(keep // 2, keep - len(self.logical_id))]
        logical = self.logical_id[: keep - len(stack)]
        generated = f"{stack}-{logical}-{suffix}"[:max_length]
        return generated.lower() if lowercase else generated

    def wait(self, done: Callable[[], bool], lab_seconds: float, what: str) -> None:
        """Poll ``done`` on the lab clock for up to ``lab_seconds``; HandlerError(NotStabilized) on timeout."""
        if self._waiter is not None:
            self._waiter(done, lab_seconds, what)
            return
        if not done():
            raise HandlerError(f"{what} did not stabilize", "NotStabilized")

    def stack_tags(self) -> list[dict]:
        """The stack's tags plus ``aws:cloudformation:stack-name``, ``stack-id`` and ``logical-id``."""
        return self._tags + [
            {"Key": "aws:cloudformation:stack-name", "Value": self.stack_name},
            {"Key": "aws:cloudformation:stack-id", "Value": self.stack_id},
            {"Key": "aws:cloudformation:logical-id", "Value": self.logical_id},
        ]


class ResourceType:
    """One CloudFormation resource type's handler. Subclasses set ``type_name`` and implement create,
    delete and read; update by default asks for replacement."""

    type_name: ClassVar[str] = ""

    def create(self, ctx: Context, props: dict) -> Result:
        """Make the resource from its resolved properties."""
        raise NotImplementedError

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        """Apply an in-place update (the engine calls it only when no replacement is needed)."""
        raise NeedsReplacement(self.type_name)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        """Remove the resource; one already gone is success."""
        raise NotImplementedError

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        """The live properties in template form (for drift); None when the resource no longer exists."""
        return None
