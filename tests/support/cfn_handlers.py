"""Calling CloudFormation resource handlers directly against a real labstack: a Context whose clients
are the account's own (as the engine's are, signed as the stack's principal)."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.resource import Context, HandlerError
from labstack.services.cloudformation.types import handler

from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

_CLIENTS: dict[tuple[str, str, str, str], Any] = {}


def context(server: LabstackProcess, account: str, logical_id: str = "Resource", stack: str = "Shop",
            region: str = "us-east-1") -> Context:
    """A handler Context of a stack ``stack`` in ``account`` whose calls go to ``server``."""
    def client(service: str) -> Any:
        key = (server.endpoint, account, region, service)
        if key not in _CLIENTS:  # a boto3 client takes a tenth of a second to make: one per account and service
            _CLIENTS[key] = server.client(service, account=account, region=region)
        return _CLIENTS[key]

    def waiter(done: Any, lab_seconds: float, what: str) -> None:
        try:
            wait_for(done, seconds=max(10.0, lab_seconds / 60))
        except AssertionError:
            raise HandlerError(f"{what} did not stabilize", "NotStabilized") from None

    stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/00000000-0000-0000-0000-000000000000"
    return Context(labstack=None, account=account, region=region, partition="aws", stack_name=stack,
                   stack_id=stack_id, logical_id=logical_id, clients=client, waiter=waiter)


def of(type_name: str) -> Any:
    """The registered handler of ``type_name``."""
    found = handler(type_name)
    assert found is not None, f"no handler for {type_name}"
    return found
