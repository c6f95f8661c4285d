"""IAM over moto: the service-specific credential operations moto lacks (Create, List, Reset,
Update, Delete ServiceSpecificCredential). moto answers every other IAM call and holds the users;
this overlay asks it, through IAM's own API, whether a user exists."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
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
    """Service-specific credentials for IAM users (CodeCommit's HTTPS Git credentials)."""

    service = "iam"
    overlay = True

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.store = ServiceCredentials()  # git's door reads it too (codecommit/gitauth.py)
        labstack.hooks.on_reset(self.store.clear)

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


PROVIDER = IamServiceCredentials
