"""Service roles for tests whose subject is not IAM: labstack enforces IAM (LABSTACK_IAM=enforce), so a
build, pipeline, deployment, task or function needs a role that exists, trusts its service and allows
what it does."""

from __future__ import annotations

import json
from typing import Any

# Everything: for tests of an engine, not of a policy.
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def trust(*services: str) -> dict[str, Any]:
    """A trust policy letting ``services`` (``codebuild.amazonaws.com``…) assume the role."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": list(services)},
                                                    "Action": "sts:AssumeRole"}]}


def service_role(iam: Any, name: str, *services: str, policy: dict[str, Any] | None = EVERYTHING) -> str:
    """The ARN of role ``name`` trusting ``services`` with ``policy`` inline (None: no policy); made
    once, its trust and policy set again when it exists."""
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(*services)))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust(*services)))
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="test", PolicyDocument=json.dumps(policy))
    return arn
