"""AWS::KMS::Key and AWS::KMS::Alias, made through KMS's API. A key's deletion is scheduled after
PendingWindowInDays (7 to 30, default 30), never immediate, as CloudFormation does."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.properties import (
    changed, document, gone_ok, only, parsed, pick, retag, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result

GONE = ("NotFoundException",)
DEFAULT_PENDING_DAYS = 30


def default_key_policy(ctx: Context) -> dict:
    """KMS's default key policy: the account's IAM policies decide (what a key without KeyPolicy gets)."""
    return {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account}:root"}, "Action": "kms:*", "Resource": "*"}]}


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _pending_days(props: dict) -> int:
    days = int(props.get("PendingWindowInDays", DEFAULT_PENDING_DAYS))
    if not 7 <= days <= 30:
        raise HandlerError("PendingWindowInDays must be between 7 and 30")
    return days


class Key(ResourceType):
    """AWS::KMS::Key: Ref is the key's id; GetAtt Arn and KeyId."""

    type_name = "AWS::KMS::Key"
    SUPPORTED = ("Description", "KeyPolicy", "KeyUsage", "KeySpec", "Enabled", "EnableKeyRotation",
                 "RotationPeriodInDays", "PendingWindowInDays", "MultiRegion", "BypassPolicyLockoutSafetyCheck", "Tags")
    IMMUTABLE = ("KeyUsage", "KeySpec", "MultiRegion")  # a change fails the update: never a replacement

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        _pending_days(props)
        kms = ctx.client("kms")
        params: dict[str, Any] = {"Policy": document(props.get("KeyPolicy") or default_key_policy(ctx)),
                                  **pick(props, "Description", "KeyUsage", "KeySpec")}
        if "MultiRegion" in props:
            params["MultiRegion"] = _flag(props["MultiRegion"], False)
        if "BypassPolicyLockoutSafetyCheck" in props:
            params["BypassPolicyLockoutSafetyCheck"] = _flag(props["BypassPolicyLockoutSafetyCheck"], False)
        if props.get("Tags"):
            params["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]
        key = kms.create_key(**params)["KeyMetadata"]
        self._rotation(kms, key["KeyId"], {}, props)
        if not _flag(props.get("Enabled"), True):
            kms.disable_key(KeyId=key["KeyId"])
        return Result(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})

    @staticmethod
    def _rotation(kms: Any, key_id: str, old: dict, new: dict) -> None:
        before, after = _flag(old.get("EnableKeyRotation"), False), _flag(new.get("EnableKeyRotation"), False)
        if after and (not before or changed(old, new, "RotationPeriodInDays")):
            kms.enable_key_rotation(KeyId=key_id, **({"RotationPeriodInDays": int(new["RotationPeriodInDays"])}
                                                     if "RotationPeriodInDays" in new else {}))
        elif before and not after:
            kms.disable_key_rotation(KeyId=key_id)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        _pending_days(new)
        fixed = [key for key in self.IMMUTABLE if changed(old, new, key)]
        if fixed:
            raise HandlerError(f"{', '.join(fixed)} of an existing KMS key cannot change: the update fails rather "
                               "than replace (and so delete) the key", "NotUpdatable")
        kms = ctx.client("kms")
        if changed(old, new, "KeyPolicy"):
            kms.put_key_policy(KeyId=physical_id, PolicyName="default",
                               Policy=document(new.get("KeyPolicy") or default_key_policy(ctx)))
        if changed(old, new, "Description"):
            kms.update_key_description(KeyId=physical_id, Description=new.get("Description", ""))
        if _flag(old.get("Enabled"), True) != _flag(new.get("Enabled"), True):
            (kms.enable_key if _flag(new.get("Enabled"), True) else kms.disable_key)(KeyId=physical_id)
        self._rotation(kms, physical_id, old, new)
        retag(old, new, lambda remove: kms.untag_resource(KeyId=physical_id, TagKeys=remove),
              lambda put: kms.tag_resource(KeyId=physical_id, Tags=[{"TagKey": k, "TagValue": v} for k, v in put.items()]))
        key = kms.describe_key(KeyId=physical_id)["KeyMetadata"]
        return Result(physical_id, {"Arn": key["Arn"], "KeyId": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        kms = ctx.client("kms")
        with gone_ok(*GONE):
            if kms.describe_key(KeyId=physical_id)["KeyMetadata"]["KeyState"] == "PendingDeletion":
                return
            kms.schedule_key_deletion(KeyId=physical_id, PendingWindowInDays=_pending_days(props))

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        kms = ctx.client("kms")
        with gone_ok(*GONE):
            key = kms.describe_key(KeyId=physical_id)["KeyMetadata"]
            if key["KeyState"] == "PendingDeletion":
                return None
            policy = parsed(kms.get_key_policy(KeyId=physical_id, PolicyName="default")["Policy"])
            rotation = kms.get_key_rotation_status(KeyId=physical_id).get("KeyRotationEnabled", False)
            tags = kms.list_resource_tags(KeyId=physical_id).get("Tags", [])
            return without_empty({
                "Description": key.get("Description") or None, "KeyPolicy": policy, "KeyUsage": key.get("KeyUsage"),
                "KeySpec": key.get("KeySpec"), "Enabled": key.get("Enabled"), "EnableKeyRotation": rotation,
                "MultiRegion": key.get("MultiRegion"),
                "Tags": [{"Key": t["TagKey"], "Value": t["TagValue"]} for t in tags]})
        return None


class Alias(ResourceType):
    """AWS::KMS::Alias: Ref is the alias name (``alias/...``)."""

    type_name = "AWS::KMS::Alias"
    SUPPORTED = ("AliasName", "TargetKeyId")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        name = str(props.get("AliasName", ""))
        if not name.startswith("alias/") or name.startswith("alias/aws/"):
            raise HandlerError("AliasName must begin with alias/ and not with alias/aws/ (reserved for AWS)")
        ctx.client("kms").create_alias(AliasName=name, TargetKeyId=props["TargetKeyId"])
        return Result(name)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        ctx.client("kms").update_alias(AliasName=physical_id, TargetKeyId=new["TargetKeyId"])
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("kms").delete_alias(AliasName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        pages = ctx.client("kms").get_paginator("list_aliases").paginate()
        for page in pages:
            for alias in page["Aliases"]:
                if alias["AliasName"] == physical_id:
                    target = alias.get("TargetKeyId")
                    given = str(props.get("TargetKeyId", ""))
                    # the template may name the key by id or ARN; the alias answers its id
                    same = given == target or given.endswith(f"key/{target}")
                    return {"AliasName": physical_id, "TargetKeyId": given if same else target}
        return None


TYPES: list[ResourceType] = [Key(), Alias()]
