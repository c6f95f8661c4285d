"""A function's execution role: Lambda assumes it for each execution environment (a warm worker), whose
code gets the session's keys in ``AWS_ACCESS_KEY_ID``…, and writes the function's log with them.

The session is named for the function (``assumed-role/ROLE/FUNCTION``) and carries the function's ARN as
``aws:SourceArn``. Its keys are revoked a little after the worker ends, once its last log lines are shipped.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from labstack.enforcement import roles
from labstack.errors import AwsError
from labstack.keyring import Identity

if TYPE_CHECKING:
    from labstack.instance import Labstack
    from labstack.runtimes.lambdas.functions import FunctionSpec

SERVICE = "lambda.amazonaws.com"
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


def cannot_assume() -> AwsError:
    """Lambda's answer for a role it may not assume (missing, or not trusting ``lambda.amazonaws.com``)."""
    return AwsError("InvalidParameterValueException", CANNOT_ASSUME)


class ExecutionRoles:
    """Sessions of functions' execution roles, one per worker."""

    def __init__(self, labstack: "Labstack", grace_seconds: float) -> None:
        self.labstack = labstack
        self.grace = grace_seconds
        self._lock = threading.Lock()
        self._ending: list[tuple[float, Identity]] = []

    def assume(self, spec: "FunctionSpec") -> Identity:
        """A session of ``spec``'s execution role; Lambda's InvalidParameterValueException when it may not."""
        try:
            return roles.assume(self.labstack, SERVICE, spec.role, f"lambda:{spec.name}", source_arn=spec.arn,
                                session_name=spec.name)
        except roles.RoleRefused:
            raise cannot_assume() from None

    def check(self, role: str, function_arn: str) -> None:
        """Refuse (as CreateFunction and UpdateFunctionConfiguration do) a role Lambda may not assume."""
        try:
            session = roles.assume(self.labstack, SERVICE, role, "lambda:check", source_arn=function_arn, seconds=60)
        except roles.RoleRefused:
            raise cannot_assume() from None
        self.labstack.keyring.revoke(session.access_key)

    def end(self, identity: Identity) -> None:
        """The worker holding ``identity`` is gone: revoke its keys after the grace period."""
        with self._lock:
            self._ending.append((time.monotonic() + self.grace, identity))

    def sweep(self, everything: bool = False) -> None:
        """Revoke the keys whose grace period is over (all of them with ``everything``)."""
        now = time.monotonic()
        with self._lock:
            due = [identity for when, identity in self._ending if everything or when <= now]
            self._ending = [(when, identity) for when, identity in self._ending if not (everything or when <= now)]
        for identity in due:
            self.labstack.keyring.revoke(identity.access_key)
            self.labstack.clients.forget(identity.access_key)
