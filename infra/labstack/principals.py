"""Who made a call, as CloudTrail's ``userIdentity`` element says it: the account root, an IAM user,
a role session, or an AWS service acting for the account.

- a learner's key (class mode), the instructor's, or any key labstack reads as an account (``test``,
  a 12-digit id) is the account's root;
- a key moto's IAM issued is its IAM user's; one moto's STS issued (AssumeRole) is the role session's;
- keys labstack issued to a service (a build, a pipeline's job worker, an ECS task, a Lambda function)
  and its engines' own keys are that service's (``codebuild.amazonaws.com``…).
"""

from __future__ import annotations

import threading
from typing import Any

from labstack import motobridge
from labstack.keyring import INTERNAL, Identity

# The service behind the keys labstack issues (``KeyRing.issue(account, "codebuild:<build id>")``).
ISSUED_TO = {"codebuild": "codebuild.amazonaws.com", "codepipeline": "codepipeline.amazonaws.com",
             "codedeploy": "codedeploy.amazonaws.com",
             "ecs": "ecs-tasks.amazonaws.com", "lambda": "lambda.amazonaws.com"}
# The service labstack's engines act for, by the signing name of a call they make it for, or of the
# threads they run in (``codedeploy-<id>``, ``pipeline-<id>``…).
ACTING = {"codebuild": "codebuild", "build": "codebuild", "codedeploy": "codedeploy", "codepipeline": "codepipeline",
          "pipeline": "codepipeline", "action": "codepipeline", "codecommit": "codecommit", "ecs": "ecs",
          "task": "ecs", "elb": "elasticloadbalancing", "elasticloadbalancing": "elasticloadbalancing",
          "alarm": "monitoring", "monitoring": "monitoring", "lambda": "lambda", "cloudformation": "cloudformation",
          "events": "events", "sts": "sts", "iam": "iam", "s3": "s3"}
INTERNAL_IP = "AWS Internal"  # what CloudTrail shows for a call an AWS service made inside AWS
_MAX_CACHED = 10_000


def service_host(name: str | None) -> str | None:
    """``codedeploy.amazonaws.com`` for an engine acting for ``codedeploy`` (or ``codedeploy-<id>``); None
    when the name says no service."""
    if not name:
        return None
    word = name.lower().replace("_", "-").split("-")[0].split(" ")[0]
    acting = ACTING.get(word)
    return f"{acting}.amazonaws.com" if acting else None


class Principals:
    """Turns a call's key into its ``userIdentity``; a key's answer is kept until reset (keys never change
    hands), so the call pays for moto's lookup once per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str, str | None], tuple[dict[str, Any], str | None]] = {}

    def identity(self, access_key: str | None, holder: Identity | None, account: str,
                 acting: str | None = None) -> tuple[dict[str, Any], str | None]:
        """The ``userIdentity`` of a call signed by ``access_key`` in ``account``, and the service host it
        was made by (None for a learner's own call). ``acting`` is the service an engine's call says it
        acts for. The answer is one shared dict per key (and service), never to be changed."""
        if not access_key:
            return {"type": "Unknown", "accountId": account}, None
        service = holder is not None and holder.session_token is not None and holder.name != "iam"
        cache = (access_key, account, service_host(acting) if service and holder.name == INTERNAL else None)
        with self._lock:
            found = self._known.get(cache)
        if found is None:
            found = self._service(access_key, holder, account, acting) if service else (
                self._resolve(access_key, holder, account), None)
            with self._lock:
                if len(self._known) >= _MAX_CACHED:
                    self._known.clear()
                self._known[cache] = found
        return found

    @staticmethod
    def iam_user(account: str, name: str) -> dict[str, Any]:
        """The ``userIdentity`` of IAM user ``name`` signing in without an access key (HTTPS Git credentials)."""
        return {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account, "userName": name}

    def forget(self) -> None:
        """Drop every cached answer (labstack's reset: moto's users and sessions are gone)."""
        with self._lock:
            self._known.clear()

    @staticmethod
    def _service(access_key: str, holder: Any, account: str, acting: str | None) -> tuple[dict[str, Any], str]:
        """An AWS service acting in the account: a key labstack issued to it, or its engines' own key."""
        if holder.name == INTERNAL:
            host = service_host(acting) or INTERNAL_IP
            return {"type": "AWSService", "invokedBy": host, "accountId": account}, host
        host = ISSUED_TO.get(holder.name.partition(":")[0], INTERNAL_IP)
        if holder.role_arn is not None:  # the service acting as its service role (labstack.enforcement.roles)
            return _session(access_key, holder.session_arn, holder.role_arn, holder.session_name, invoked_by=host), host
        return {"type": "AWSService", "invokedBy": host, "accountId": account, "accessKeyId": access_key}, host

    @staticmethod
    def _resolve(access_key: str, holder: Identity | None, account: str) -> dict[str, Any]:
        held = motobridge.key_holder(access_key) if holder is not None and holder.name == "iam" else None
        if held is None:
            return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
                    "accountId": account, "accessKeyId": access_key}
        if held["type"] == "IAMUser":
            return {"type": "IAMUser", "principalId": held["userId"], "arn": held["arn"], "accountId": held["account"],
                    "accessKeyId": access_key, "userName": held["userName"]}
        role_id = held["principalId"].partition(":")[0]
        return _session(access_key, held["arn"], held["roleArn"], held["principalId"].partition(":")[2], role_id)


def _session(access_key: str, arn: str, role_arn: str, session: str, role_id: str | None = None,
             invoked_by: str | None = None) -> dict[str, Any]:
    """The ``userIdentity`` of a role session (moto's STS issued it, or a service assumed its role)."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    role_id = role_id or motobridge.role_id(account, role_arn.rpartition("/")[2]) or "AROA" + account
    found: dict[str, Any] = {"type": "AssumedRole", "principalId": f"{role_id}:{session}", "arn": arn, "accountId": account,
                             "accessKeyId": access_key,
                             "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn,
                                                                  "accountId": account,
                                                                  "userName": role_arn.rpartition("/")[2]},
                                                "attributes": {"mfaAuthenticated": "false"}}}
    if invoked_by:
        found["invokedBy"] = invoked_by
    return found
