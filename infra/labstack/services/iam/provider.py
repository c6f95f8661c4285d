"""IAM over moto: the service-specific credential operations moto lacks (Create, List, Reset,
Update, Delete ServiceSpecificCredential), and the operations that take a policy document (CreateRole,
UpdateAssumeRolePolicy, Put{Role,User,Group}Policy, CreatePolicy, CreatePolicyVersion), which check the
document as IAM does (``documents.py``: AWS's MalformedPolicyDocument messages, IAM's size quotas)
before moto stores it. moto answers every other IAM call and holds the users, roles and policies;
this overlay asks it through IAM's own API."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.iampolicy import IDENTITY, TRUST
from labstack.protocol.provider import Provider
from labstack.services.iam import documents
from labstack.services.iam.service_credentials import (
    ACTIVE,
    INACTIVE,
    MAX_PER_SERVICE,
    SERVICES,
    ServiceCredential,
    ServiceCredentials,
)

_GLOBAL_REGION = "us-east-1"  # IAM is global; its calls are signed for us-east-1


class IamServiceCredentials(Provider):
    """Service-specific credentials for IAM users (CodeCommit's HTTPS Git credentials), and policy
    documents checked as IAM checks them."""

    service = "iam"
    overlay = True

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.store = ServiceCredentials()  # git's door reads it too (codecommit/gitauth.py)
        labstack.hooks.on_reset(self.store.clear)
        self._inline_lock = threading.Lock()  # an entity's inline policies are sized and stored as one step

    def _moto_iam(self, ctx: RequestContext) -> Any:
        return self.labstack.clients.moto("iam", ctx.account, _GLOBAL_REGION)

    def _user(self, ctx: RequestContext, name: str | None) -> str:
        """``name`` if that user exists in the caller's account; without a name, the calling IAM user."""
        iam = self._moto_iam(ctx)
        if name is not None:
            return iam.get_user(UserName=name)["User"]["UserName"]  # moto's NoSuchEntity is the answer
        try:
            return iam.get_access_key_last_used(AccessKeyId=ctx.access_key or "")["UserName"]
        except ClientError:  # the account's root or a role session: no user of its own
            raise AwsError("NoSuchEntity", "The caller is not an IAM user: name the user with UserName", 404) from None

    def _credential(self, ctx: RequestContext, request: dict) -> ServiceCredential:
        user = self._user(ctx, request.get("UserName"))
        found = self.store.find(ctx.account, user, request["ServiceSpecificCredentialId"])
        if found is None:
            raise AwsError("NoSuchEntity", f"The service-specific credential with id {request['ServiceSpecificCredentialId']} "
                                           f"of user {user} cannot be found.", 404)
        return found

    def create_service_specific_credential(self, ctx: RequestContext, request: dict) -> dict:
        service = request["ServiceName"]
        if service not in SERVICES:
            raise AwsError("NotSupportedService", f"Service-specific credentials for {service} are not supported "
                                                  f"(labstack issues them for {', '.join(SERVICES)})", 404)
        if request.get("CredentialAgeDays") is not None:
            raise AwsError("InvalidInput", f"CredentialAgeDays is valid for long-term API keys only, not for {service}", 400)
        user = self._user(ctx, request["UserName"])
        made = self.store.create(ctx.account, user, service)
        if made is None:
            raise AwsError("LimitExceeded", f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
                                            f"{MAX_PER_SERVICE}", 409)
        credential, password = made
        return {"ServiceSpecificCredential": credential.with_password(password)}

    def list_service_specific_credentials(self, ctx: RequestContext, request: dict) -> dict:
        service = request.get("ServiceName")
        if service is not None and service not in SERVICES:
            raise AwsError("NotSupportedService", f"Service-specific credentials for {service} are not supported "
                                                  f"(labstack issues them for {', '.join(SERVICES)})", 404)
        if request.get("AllUsers"):
            user = None
        elif request.get("UserName") is not None:
            user = self._user(ctx, request["UserName"])
        else:
            try:
                user = self._user(ctx, None)
            except AwsError:  # the account's root holds no service-specific credentials
                return {"ServiceSpecificCredentials": []}
        items = [c.metadata() for c in self.store.listed(ctx.account, user, service)]
        marker = request.get("Marker") or "0"
        start = int(marker) if marker.isdigit() else 0
        size = request.get("MaxItems") or 100
        result: dict = {"ServiceSpecificCredentials": items[start:start + size], "IsTruncated": start + size < len(items)}
        if result["IsTruncated"]:
            result["Marker"] = str(start + size)
        return result

    def reset_service_specific_credential(self, ctx: RequestContext, request: dict) -> dict:
        credential = self._credential(ctx, request)
        return {"ServiceSpecificCredential": credential.with_password(self.store.reset(credential))}

    def update_service_specific_credential(self, ctx: RequestContext, request: dict) -> dict:
        if request["Status"] not in (ACTIVE, INACTIVE):
            raise AwsError("InvalidInput", f"A service-specific credential can be set {ACTIVE} or {INACTIVE}, "
                                           f"not {request['Status']}", 400)
        self.store.set_status(self._credential(ctx, request), request["Status"])
        return {}

    def delete_service_specific_credential(self, ctx: RequestContext, request: dict) -> dict:
        self.store.delete(self._credential(ctx, request))
        return {}

    def delete_user(self, ctx: RequestContext, request: dict) -> dict:
        """moto's DeleteUser, refused (as IAM refuses it) while the user holds service-specific credentials."""
        if self.store.listed(ctx.account, request["UserName"], None):
            raise AwsError("DeleteConflict", "Cannot delete entity, must remove service-specific credentials first.", 409)
        self._moto_iam(ctx).delete_user(UserName=request["UserName"])
        return {}

    # --- operations that take a policy document ------------------------------------------------------

    def _trust_policy(self, ctx: RequestContext, document: str) -> None:
        """A trust policy IAM would store: well formed, within its quota, naming users and roles that exist.
        Those of the caller's own account are looked up; another account's are taken on trust, as labstack
        keeps no list of accounts (and a lookup there per ARN would let a request make clients without end)."""
        documents.checked(document, TRUST, "trust policy")
        documents.check_trust_size(document)
        iam = self._moto_iam(ctx)
        for arn, account, kind, name in documents.named_entities(document):
            if account != ctx.account:
                continue
            try:
                found = (iam.get_role(RoleName=name)["Role"] if kind == "role" else iam.get_user(UserName=name)["User"])
            except ClientError:
                raise documents.missing_entity(arn) from None
            if found["Arn"] != arn:  # the same name on another path
                raise documents.missing_entity(arn)

    def create_role(self, ctx: RequestContext, request: dict) -> dict:
        """moto's CreateRole, once the trust policy is one IAM accepts."""
        document = request["AssumeRolePolicyDocument"]
        self._trust_policy(ctx, document)
        answer = without_metadata(self._moto_iam(ctx).create_role(**request))
        answer["Role"]["AssumeRolePolicyDocument"] = quote(document)  # IAM's form; boto3 decoded moto's
        return answer

    def update_assume_role_policy(self, ctx: RequestContext, request: dict) -> dict:
        """moto's UpdateAssumeRolePolicy, once the trust policy is one IAM accepts."""
        self._trust_policy(ctx, request["PolicyDocument"])
        self._moto_iam(ctx).update_assume_role_policy(**request)
        return {}

    def _put_inline(self, ctx: RequestContext, entity: str, request: dict) -> None:
        """Check an inline policy of a role, user or group, then store it, as one step per entity: the
        document well formed, and all the entity's inline policies, this one instead of the one of its
        name, within IAM's aggregate quota."""
        name, document = request[f"{entity.capitalize()}Name"], request["PolicyDocument"]
        documents.checked(document, IDENTITY, f"inline policy {request['PolicyName']}")
        iam = self._moto_iam(ctx)
        kind = entity.capitalize()
        with self._inline_lock:
            names = [n for page in iam.get_paginator(f"list_{entity}_policies").paginate(**{f"{kind}Name": name})
                     for n in page["PolicyNames"] if n != request["PolicyName"]]
            others = [getattr(iam, f"get_{entity}_policy")(**{f"{kind}Name": name, "PolicyName": n})["PolicyDocument"]
                      for n in names]
            documents.check_inline_size(entity, name, document, (_text(d) for d in others))
            getattr(iam, f"put_{entity}_policy")(**request)

    def put_role_policy(self, ctx: RequestContext, request: dict) -> dict:
        """moto's PutRolePolicy, for a document IAM accepts within the role's inline quota."""
        self._put_inline(ctx, "role", request)
        return {}

    def put_user_policy(self, ctx: RequestContext, request: dict) -> dict:
        """moto's PutUserPolicy, for a document IAM accepts within the user's inline quota."""
        self._put_inline(ctx, "user", request)
        return {}

    def put_group_policy(self, ctx: RequestContext, request: dict) -> dict:
        """moto's PutGroupPolicy, for a document IAM accepts within the group's inline quota."""
        self._put_inline(ctx, "group", request)
        return {}

    def create_policy(self, ctx: RequestContext, request: dict) -> dict:
        """moto's CreatePolicy, for a document IAM accepts within its managed-policy quota."""
        documents.checked(request["PolicyDocument"], IDENTITY, f"managed policy {request['PolicyName']}")
        documents.check_managed_size(request["PolicyDocument"])
        return without_metadata(self._moto_iam(ctx).create_policy(**request))

    def create_policy_version(self, ctx: RequestContext, request: dict) -> dict:
        """moto's CreatePolicyVersion (which keeps IAM's five versions a policy), for a document IAM
        accepts within its managed-policy quota."""
        document = request["PolicyDocument"]
        documents.checked(document, IDENTITY, f"managed policy {request['PolicyArn']}")
        documents.check_managed_size(document)
        answer = without_metadata(self._moto_iam(ctx).create_policy_version(**request))
        if "Document" in answer["PolicyVersion"]:
            answer["PolicyVersion"]["Document"] = quote(document)
        return answer


def _text(document: Any) -> str:
    """A stored policy document as text: boto3 hands IAM's documents over decoded. Compact, its own
    characters kept, it counts as the text stored did (short of escapes written otherwise)."""
    return document if isinstance(document, str) else json.dumps(document, separators=(",", ":"), ensure_ascii=False)


PROVIDER = IamServiceCredentials
