"""A build's session of its service role.

At PROVISIONING CodeBuild assumes the project's service role (or the build's ``serviceRoleOverride``) as
``codebuild.amazonaws.com``, with the project's ARN as ``aws:SourceArn``; the session is named as AWS names
it, ``AWSCodeBuild-<build uuid>``. Everything AWS does with the role for the build (its CloudWatch Logs
stream, the S3 source, artifacts and cache, Parameter Store and Secrets Manager variables, reports, the
CodeCommit pull, the image pull) is decided against the role's policies, and the build's commands get the
same keys. The keys are revoked when the build ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from labstack.enforcement import roles
from labstack.enforcement.asks import Ask
from labstack.keyring import TEMPORARY_SECONDS, Identity

if TYPE_CHECKING:
    from labstack.instance import Labstack

SERVICE = "codebuild.amazonaws.com"
DENIED = ("AccessDenied", "AccessDeniedException")


class RoleSession:
    """The keys of one build's session of its service role, and the clients and checks made with them."""

    def __init__(self, labstack: "Labstack", account: str, region: str) -> None:
        self.labstack = labstack
        self.account = account
        self.region = region
        self.identity: Identity | None = None

    def assume(self, role: str, build_id: str, project_arn: str, seconds: float) -> Identity:
        """Assume ``role`` for build ``build_id``; raises :class:`roles.RoleRefused` with AWS's sentence
        (``CodeBuild is not authorized to perform: sts:AssumeRole on ROLE``) when CodeBuild may not."""
        try:
            self.identity = roles.assume(self.labstack, SERVICE, role, f"codebuild:{build_id}", source_arn=project_arn,
                                         session_name=f"AWSCodeBuild-{build_id.split(':', 1)[1]}",
                                         seconds=max(TEMPORARY_SECONDS, seconds))
        except roles.RoleRefused:
            raise roles.RoleRefused(refusal(role)) from None
        return self.identity

    def client(self, service: str) -> Any:
        """A client signed with the session's keys (labstack's own before the role is assumed)."""
        if self.identity is None:
            return self.labstack.clients.get(service, self.account, self.region)
        return self.labstack.clients.as_identity(service, self.identity, self.region)

    def denial(self, action: str, resource: str, source: str) -> str | None:
        """For a step AWS takes without an API call of ours (a git pull, a report, an image pull): AWS's
        AccessDenied sentence when the role may not do ``action`` on ``resource``, else None."""
        if self.identity is None:
            return None
        decision = self.labstack.gate.authorize(self.identity, Ask(action, resource), self.region, source)
        return None if decision is None or decision.allowed else decision.message()

    def end(self) -> None:
        """Revoke the session's keys and drop their clients (the build is over)."""
        if self.identity is not None:
            self.labstack.keyring.revoke(self.identity.access_key)
            self.labstack.clients.forget(self.identity.access_key)


def refusal(role: str) -> str:
    """AWS's answer when CodeBuild may not assume ``role`` (it does not exist or does not trust CodeBuild)."""
    return f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"


def check_assumable(labstack: "Labstack", role: str, project_arn: str) -> str | None:
    """None when CodeBuild may assume ``role`` for the project (as CreateProject and UpdateProject check),
    else AWS's refusal; in ``LABSTACK_IAM=report`` a refusal is recorded and let through."""
    try:
        identity = roles.assume(labstack, SERVICE, role, "codebuild:check", source_arn=project_arn, seconds=60)
    except roles.RoleRefused:
        return refusal(role)
    labstack.keyring.revoke(identity.access_key)
    return None


def access_denied(exc: ClientError) -> str | None:
    """``AccessDeniedException: User: … is not authorized …`` when ``exc`` is a denial, else None."""
    error = exc.response.get("Error", {})
    if error.get("Code") not in DENIED:
        return None
    return f"{error.get('Code')}: {error.get('Message', '')}"
