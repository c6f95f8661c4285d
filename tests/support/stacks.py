"""CloudFormation stacks in tests: labstack answers CreateStack/UpdateStack while the operation is still
in progress (as AWS does), so a test waits for the stack to settle and reads why a resource failed."""

from __future__ import annotations

from typing import Any

from tests.support.waiting import wait_for


def settled(cfn: Any, name: str, seconds: float = 120) -> dict:
    """The stack ``name`` (or id) once no operation is in progress on it."""
    return wait_for(lambda: next((s for s in cfn.describe_stacks(StackName=name)["Stacks"]
                                  if not s["StackStatus"].endswith("_IN_PROGRESS")), None), seconds=seconds)


def failures(cfn: Any, name: str) -> list[tuple[str, str]]:
    """(logical id, status reason) of each event of the stack that says something failed, newest first."""
    return [(e["LogicalResourceId"], e.get("ResourceStatusReason", "")) for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
            if e["ResourceStatus"].endswith("FAILED")]
