"""With LocalStack as the upstream (``--upstream``) the learner's roles live there: moto's own role lookups
(Lambda's CreateFunction checks the function's role) read them there. The seam's ``upstream`` patch
(``motobridge.PATCHES``) is made here; the Lambda runtime installs it when IAM is the upstream's."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack import motobridge
from labstack.config import DEFAULT_REGION


def role_lookups(backend: type, clients: Any) -> dict[str, Any]:
    """moto IAM's ``get_role`` and ``get_role_by_arn`` reading the upstream's roles."""

    def get_role(self: Any, role_name: str) -> Any:
        try:
            found = clients.get("iam", self.account_id, DEFAULT_REGION).get_role(RoleName=role_name)["Role"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                raise motobridge.role_not_found(role_name) from None
            raise
        return motobridge.standing_role(self.account_id, self.partition, found)

    def get_role_by_arn(self: Any, arn: str) -> Any:
        return get_role(self, arn.rsplit("/", 1)[-1])

    return {"get_role": get_role, "get_role_by_arn": get_role_by_arn}
