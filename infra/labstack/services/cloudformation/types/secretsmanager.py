"""AWS::SecretsManager::Secret, made through Secrets Manager's API; GenerateSecretString draws the
value with GetRandomPassword (into SecretStringTemplate's GenerateStringKey when both are given)."""

from __future__ import annotations

import json
from typing import Any

from labstack.services.cloudformation.convert import to_api
from labstack.services.cloudformation.properties import (
    changed, gone_ok, only, pick, retag, tag_list, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result

GONE = ("ResourceNotFoundException",)
GENERATE = ("ExcludeCharacters", "ExcludeLowercase", "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase",
            "IncludeSpace", "PasswordLength", "RequireEachIncludedType", "GenerateStringKey", "SecretStringTemplate")


def secret_value(ctx: Context, props: dict) -> str | None:
    """The secret's value: SecretString, or one GenerateSecretString draws (None when neither is given)."""
    if "SecretString" in props and "GenerateSecretString" in props:
        raise HandlerError("You can't specify both SecretString and GenerateSecretString")
    if "SecretString" in props:
        return str(props["SecretString"])
    spec = props.get("GenerateSecretString")
    if spec is None:
        return None
    only("AWS::SecretsManager::Secret GenerateSecretString", spec, GENERATE)
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if bool(template) != bool(key):
        raise HandlerError("GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither")
    password = ctx.client("secretsmanager").get_random_password(**to_api(
        "secretsmanager", "GetRandomPassword", {k: v for k, v in spec.items()
                                                if k not in ("GenerateStringKey", "SecretStringTemplate")}))["RandomPassword"]
    if not template:
        return password
    try:
        document = json.loads(template)
    except ValueError:
        raise HandlerError("SecretStringTemplate must be a JSON object") from None
    if not isinstance(document, dict):
        raise HandlerError("SecretStringTemplate must be a JSON object")
    return json.dumps({**document, key: password})


class Secret(ResourceType):
    """AWS::SecretsManager::Secret: Ref is the secret's ARN; GetAtt Id (the ARN too). Deleted without a
    recovery window, so the name is free again at once."""

    type_name = "AWS::SecretsManager::Secret"
    SUPPORTED = ("Name", "Description", "KmsKeyId", "SecretString", "GenerateSecretString", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        name = props.get("Name") or f"{ctx.logical_id}-{ctx.name().rpartition('-')[2]}"
        value = secret_value(ctx, props)
        made = ctx.client("secretsmanager").create_secret(
            Name=name, **pick(props, "Description", "KmsKeyId"),
            **({"SecretString": value} if value is not None else {}),
            **({"Tags": tag_list(props["Tags"])} if props.get("Tags") else {}))
        return Result(made["ARN"], {"Id": made["ARN"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        secrets = ctx.client("secretsmanager")
        params: dict[str, Any] = {}
        if changed(old, new, "Description"):
            params["Description"] = new.get("Description", "")
        if changed(old, new, "KmsKeyId") and new.get("KmsKeyId"):
            params["KmsKeyId"] = new["KmsKeyId"]
        if changed(old, new, "SecretString", "GenerateSecretString"):
            value = secret_value(ctx, new)
            if value is not None:
                params["SecretString"] = value
        if params:
            secrets.update_secret(SecretId=physical_id, **params)
        retag(old, new, lambda remove: secrets.untag_resource(SecretId=physical_id, TagKeys=remove),
              lambda put: secrets.tag_resource(SecretId=physical_id, Tags=tag_list(put)))
        return Result(physical_id, {"Id": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("secretsmanager").delete_secret(SecretId=physical_id, ForceDeleteWithoutRecovery=True)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        secrets = ctx.client("secretsmanager")
        with gone_ok(*GONE):
            found = secrets.describe_secret(SecretId=physical_id)
            if found.get("DeletedDate"):
                return None
            live: dict[str, Any] = {"Name": found["Name"], "Description": found.get("Description"),
                                    "KmsKeyId": found.get("KmsKeyId"), "Tags": found.get("Tags")}
            return without_empty(live)  # SecretString and GenerateSecretString are write-only: never read back
        return None


TYPES: list[ResourceType] = [Secret()]
