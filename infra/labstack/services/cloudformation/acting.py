"""The principal a stack acts as while CloudFormation makes, changes and deletes its resources.

With a service role (``RoleARN``) CloudFormation assumes it and every call it makes is that role's;
without one it uses the caller's credentials (AWS's forward access sessions):
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html
A caller that is itself a role session gets a session of the same role for the operation (so an
operation outlives the caller's keys, as a build's or a pipeline action's do); a caller labstack does
not evaluate (the account's root, ``test``) is served by labstack's own keys, which IAM does not decide.
"""

from __future__ import annotations

import threading
from typing import Any

from labstack.enforcement import roles
from labstack.errors import AwsError
from labstack.keyring import Identity

SERVICE = "cloudformation.amazonaws.com"
_last = threading.local()  # the service of the last call that failed on this thread (for the status reason)


def failed_service() -> str | None:
    """The service whose call last failed on this thread, as AWS names it in a status reason ("Sns", "CodeBuild")."""
    return getattr(_last, "service", None)


def _remember(model: Any, http_response: Any, **_: Any) -> None:
    if http_response is not None and http_response.status_code >= 300:
        service_id = model.service_model.service_id.replace(" ", "")
        _last.service = service_id.capitalize() if service_id.isupper() else service_id


def _same_account(role_arn: str, account: str) -> None:
    """A stack acts only as a role of its own account (AWS: the service role must be in the stack's account)."""
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[4] != account:
        raise AwsError("ValidationError", f"Role {role_arn} is invalid or cannot be assumed")


def check_role(labstack: Any, role_arn: str | None, stack_name: str, account: str) -> None:
    """CreateStack/UpdateStack/DeleteStack/ContinueUpdateRollback: AWS's ValidationError when CloudFormation
    cannot assume the stack's service role (or it is another account's)."""
    if not role_arn:
        return
    _same_account(role_arn, account)
    try:
        session = roles.assume(labstack, SERVICE, role_arn, f"cloudformation:{stack_name}", seconds=60)
    except roles.RoleRefused:
        raise AwsError("ValidationError", f"Role {role_arn} is invalid or cannot be assumed") from None
    labstack.keyring.revoke(session.access_key)


class Acting:
    """boto3 clients signed as the stack's principal for one operation; ``close()`` ends its session."""

    def __init__(self, labstack: Any, account: str, region: str, stack_name: str, role_arn: str | None,
                 caller_key: str | None) -> None:
        self.labstack = labstack
        self.account = account
        self.region = region
        self._own: Identity | None = None
        self.identity: Identity | None = None
        name = f"cloudformation:{stack_name}"
        if role_arn:
            _same_account(role_arn, account)
            try:
                self._own = roles.assume(labstack, SERVICE, role_arn, name)
            except roles.RoleRefused as refused:
                raise AwsError("ValidationError", f"Role {role_arn} is invalid or cannot be assumed ({refused})") from None
            self.identity = self._own
            return
        caller = labstack.keyring.lookup(caller_key) if caller_key else None
        if caller is None or caller.internal:
            return  # the account's root: labstack's own keys
        if caller.role_arn is not None:  # a service's role session: a session of the same role, for this operation
            self._own = labstack.keyring.issue(caller.account, name, role_arn=caller.role_arn,
                                               session_name=caller.session_name)
            self.identity = self._own
        else:
            self.identity = caller

    def client(self, service: str) -> Any:
        """A client to this labstack in the stack's region, signed as the stack's principal."""
        client = self.labstack.clients.fronted(service, self.account, self.region, self.identity)
        client.meta.events.register("after-call.*.*", _remember, unique_id="labstack-cloudformation-failed-service")
        return client

    def close(self) -> None:
        """End the session this operation was given (if it was given one)."""
        if self._own is not None:
            self.labstack.keyring.revoke(self._own.access_key)
            self.labstack.clients.forget(self._own.access_key)
            self._own = None
