"""AssumeRole across accounts, and the instructor's way into every learner's account.

moto lets any caller assume any role, in any account. An IAM user's or a role session's AssumeRole
is decided by the IAM gate (trust policy and the caller's own policies); in class mode a root key's
AssumeRole into another account needs the role's trust policy to name its account; and every learner
account gets an
``OrganizationAccountAccessRole`` that trusts the instructor's account, as AWS Organizations
creates it in each member account.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from labstack import motobridge
from labstack.enforcement import policies
from labstack.iampolicy import Principal, can_assume
from labstack.clients import without_metadata
from labstack.config import DEFAULT_REGION
from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider

log = logging.getLogger("labstack.sts")
ORGANIZATION_ROLE = "OrganizationAccountAccessRole"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"


class Sts(Provider):
    """AssumeRole with the trust check; every other STS call is moto's."""

    service = "sts"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        if labstack.settings.class_mode:
            labstack.hooks.after_reset(self.organize)
            threading.Thread(target=self._organize_when_warm, name="sts-organize", daemon=True).start()

    def assume_role(self, ctx: RequestContext, request: dict) -> dict:
        role_arn = request["RoleArn"]
        parts = role_arn.split(":")
        target = parts[4] if len(parts) == 6 and parts[2] == "iam" else None
        if self.labstack.settings.class_mode and target != ctx.account:
            self._check_trust(ctx, role_arn, target)
        answer = self.labstack.clients.moto("sts", ctx.account, ctx.region).assume_role(**request)
        return without_metadata(answer)

    def get_caller_identity(self, ctx: RequestContext, request: dict) -> dict:
        """Who signed the call, as STS answers it: the root, an IAM user, a role session moto's STS
        issued, or a service's session of its role (which moto does not know)."""
        holder = self.labstack.keyring.lookup(ctx.access_key) if ctx.access_key else None
        if holder is not None and holder.role_arn is not None:
            role_id = motobridge.role_id(holder.account, holder.role_arn.rpartition("/")[2]) or holder.account
            return {"UserId": f"{role_id}:{holder.session_name}", "Account": holder.account, "Arn": holder.session_arn}
        held = motobridge.key_holder(ctx.access_key) if holder is not None and holder.name == "iam" else None
        if held is not None:
            return {"UserId": held.get("userId") or held["principalId"], "Account": held["account"], "Arn": held["arn"]}
        return {"UserId": ctx.account, "Account": ctx.account, "Arn": f"arn:{ctx.partition}:iam::{ctx.account}:root"}

    def assume_role_with_web_identity(self, ctx: RequestContext, request: dict) -> dict:
        self._own_account_only(ctx, request["RoleArn"], "AssumeRoleWithWebIdentity")
        return without_metadata(self.labstack.clients.moto("sts", ctx.account, ctx.region)
                                .assume_role_with_web_identity(**request))

    def assume_role_with_saml(self, ctx: RequestContext, request: dict) -> dict:
        self._own_account_only(ctx, request["RoleArn"], "AssumeRoleWithSAML")
        return without_metadata(self.labstack.clients.moto("sts", ctx.account, ctx.region).assume_role_with_saml(**request))

    def _own_account_only(self, ctx: RequestContext, role_arn: str, operation: str) -> None:
        """In class mode a federated sign-in reaches only a role of the caller's own account (labstack checks
        no identity provider's token, so the role's account is all it can hold it to)."""
        parts = role_arn.split(":")
        if self.labstack.settings.class_mode and (len(parts) != 6 or parts[4] != ctx.account):
            raise AwsError("AccessDenied", f"Not authorized to perform sts:{operation} on {role_arn} from account "
                                           f"{ctx.account}", 403)

    def organize(self) -> None:
        """Give every learner account the role the instructor assumes (idempotent)."""
        instructor = self.labstack.keyring.instructor
        if instructor is None:
            return
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{instructor.account}:root"},
            "Action": "sts:AssumeRole"}]}
        for account, identity in self.labstack.keyring.learners.items():
            if identity.instructor:
                continue
            iam = self.labstack.clients.moto("iam", account, DEFAULT_REGION)
            try:
                iam.get_role(RoleName=ORGANIZATION_ROLE)
                continue
            except iam.exceptions.NoSuchEntityException:
                pass
            iam.create_role(RoleName=ORGANIZATION_ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                            Description="The instructor's way into this learner account (AWS Organizations' convention)")
            iam.attach_role_policy(RoleName=ORGANIZATION_ROLE, PolicyArn=ADMINISTRATOR)

    def _organize_when_warm(self) -> None:
        try:
            self.labstack.wait_warm(timeout=300)
            self.organize()
        except Exception:  # labstack stays up; the instructor's AssumeRole then fails with its reason
            log.exception("could not create %s in the learner accounts", ORGANIZATION_ROLE)

    def _check_trust(self, ctx: RequestContext, role_arn: str, target: str | None) -> None:
        """The role's trust policy must let the caller's account in, decided by labstack's one evaluator."""
        trust = policies.trust(target, role_arn.rpartition("/")[2]) if target is not None else None
        if trust is None or not can_assume(trust, Principal.root(ctx.account), role_arn=role_arn).allowed:
            raise AwsError("AccessDenied", f"User: arn:aws:iam::{ctx.account}:root is not authorized to perform: "
                                           f"sts:AssumeRole on resource: {role_arn}", 403)


PROVIDER = Sts
