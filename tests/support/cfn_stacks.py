"""Reading stacks in CloudFormation tests: a stack once it settles, its events, its outputs."""

from __future__ import annotations

import json
from typing import Any

from tests.support.waiting import wait_for


def settled(cfn: Any, name: str, seconds: float = 60) -> dict:
    """The stack once no operation is in progress on it."""
    return wait_for(lambda: "_IN_PROGRESS" not in (s := cfn.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"]
                    and s, seconds=seconds)


def events(cfn: Any, name: str) -> list[tuple[str, str, str | None]]:
    """(logical id, status, reason) of every event of the stack, oldest first."""
    found = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(found)]


def outputs(stack: dict) -> dict[str, str]:
    """A described stack's outputs, key -> value."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def service_role(iam: Any, name: str, actions: list[str]) -> str:
    """A role CloudFormation may assume (a stack's RoleARN) allowed ``actions`` on everything; its ARN."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="allowed", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    return arn
