"""A service acting as its service role: it assumes the role, as AWS's services do with STS.

The role must exist and its trust policy must let the service's principal (``codebuild.amazonaws.com``…)
call ``sts:AssumeRole``, with the confused-deputy keys AWS sets (``aws:SourceAccount``, and
``aws:SourceArn`` when the service names the resource it acts for). Then labstack issues temporary
keys that are a session of the role; every call made with them is decided by the role's policies.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from labstack.enforcement import policies
from labstack.enforcement.stream import Entry
from labstack.iampolicy import Principal, can_assume
from labstack.keyring import TEMPORARY_SECONDS, Identity

if TYPE_CHECKING:
    from labstack.instance import Labstack

# How AWS names a service in its "is not authorized to perform: sts:AssumeRole" messages.
SERVICE_NAMES = {"codebuild.amazonaws.com": "CodeBuild", "codepipeline.amazonaws.com": "CodePipeline",
                 "codedeploy.amazonaws.com": "CodeDeploy", "ecs-tasks.amazonaws.com": "ECS",
                 "lambda.amazonaws.com": "Lambda", "cloudformation.amazonaws.com": "CloudFormation",
                 "events.amazonaws.com": "EventBridge"}


class RoleRefused(Exception):
    """The service may not assume the role: the message is AWS's sentence and why."""


def assume(labstack: "Labstack", service: str, role_arn: str, name: str, *, source_arn: str | None = None,
           session_name: str | None = None, seconds: float | None = TEMPORARY_SECONDS) -> Identity:
    """Temporary keys of a session of ``role_arn`` for ``service`` (its principal, e.g.
    ``codebuild.amazonaws.com``); ``name`` is what the keyring records (``codebuild:<build id>``).
    Raises :class:`RoleRefused` when the role does not exist or does not trust the service (in
    ``LABSTACK_IAM=report`` the refusal is only recorded; with ``off`` nothing is checked)."""
    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise RoleRefused(f"{_named(service)} cannot assume {role_arn}: it is not the ARN of an IAM role")
    partition, account, role_name = parts[1], parts[4], parts[5].rpartition("/")[2]
    mode = labstack.gate.mode
    if mode != "off":
        _check_trust(labstack, service, role_arn, account, role_name, partition, source_arn, mode == "enforce")
    return labstack.keyring.issue(account, name, seconds, role_arn=role_arn, session_name=session_name)


def _check_trust(labstack: "Labstack", service: str, role_arn: str, account: str, role_name: str, partition: str,
                 source_arn: str | None, enforce: bool) -> None:
    sentence = f"{_named(service)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    trust = policies.trust(account, role_name, partition)
    if trust is None:
        reason, decision, explanation = "the role does not exist", "implicitDeny", f"no role {role_name} in {account}"
    else:
        context = {"aws:SourceAccount": account, **({"aws:SourceArn": source_arn} if source_arn else {})}
        found = can_assume(trust, Principal.service(service), context=context, role_arn=role_arn)
        decision, explanation = found.decision, found.explain()
        reason = "" if found.allowed else "its trust policy does not allow the service principal " + service
    labstack.policy_stream.add(account, Entry(time=time.time(), principal=service, role=None, action="sts:AssumeRole",
                                              resource=role_arn, decision=decision, enforced=enforce,
                                              explanation=explanation, source=f"{service} assumes its role"))
    if reason and enforce:
        raise RoleRefused(f"{sentence} ({reason})")


def _named(service: str) -> str:
    return SERVICE_NAMES.get(service, service)
