"""AWS::Logs::LogGroup, made through CloudWatch Logs' API (retention, KMS key, tags)."""

from __future__ import annotations

from labstack.services.cloudformation.properties import (
    arn, changed, gone_ok, only, retag, tag_map, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result

GONE = ("ResourceNotFoundException",)
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                  3653)  # the values PutRetentionPolicy accepts


def _retention(props: dict) -> int | None:
    if "RetentionInDays" not in props:
        return None
    days = int(props["RetentionInDays"])
    if days not in RETENTION_DAYS:
        raise HandlerError(f"RetentionInDays {days} is not one of {', '.join(map(str, RETENTION_DAYS))}")
    return days


class LogGroup(ResourceType):
    """AWS::Logs::LogGroup: Ref is the group's name; GetAtt Arn (``...:log-group:<name>:*``)."""

    type_name = "AWS::Logs::LogGroup"
    SUPPORTED = ("LogGroupName", "RetentionInDays", "KmsKeyId", "LogGroupClass", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        days = _retention(props)
        name = props.get("LogGroupName") or ctx.name(512)
        logs = ctx.client("logs")
        params = {"logGroupName": name, **({"kmsKeyId": props["KmsKeyId"]} if "KmsKeyId" in props else {}),
                  **({"logGroupClass": props["LogGroupClass"]} if "LogGroupClass" in props else {}),
                  **({"tags": tag_map(props["Tags"])} if props.get("Tags") else {})}
        logs.create_log_group(**params)
        if days is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)
        return Result(name, {"Arn": self._arn(ctx, name)})

    @staticmethod
    def _arn(ctx: Context, name: str) -> str:
        return arn(ctx, "logs", f"log-group:{name}:*")

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        logs = ctx.client("logs")
        days = _retention(new)
        if changed(old, new, "RetentionInDays"):
            if days is None:
                logs.delete_retention_policy(logGroupName=physical_id)
            else:
                logs.put_retention_policy(logGroupName=physical_id, retentionInDays=days)
        if changed(old, new, "KmsKeyId"):
            if new.get("KmsKeyId"):
                logs.associate_kms_key(logGroupName=physical_id, kmsKeyId=new["KmsKeyId"])
            else:
                logs.disassociate_kms_key(logGroupName=physical_id)
        group_arn = self._arn(ctx, physical_id)
        retag(old, new, lambda remove: logs.untag_resource(resourceArn=group_arn.removesuffix(":*"), tagKeys=remove),
              lambda put: logs.tag_resource(resourceArn=group_arn.removesuffix(":*"), tags=put))
        return Result(physical_id, {"Arn": group_arn})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("logs").delete_log_group(logGroupName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        logs = ctx.client("logs")
        for group in logs.describe_log_groups(logGroupNamePrefix=physical_id)["logGroups"]:
            if group["logGroupName"] == physical_id:
                tags = logs.list_tags_log_group(logGroupName=physical_id).get("tags") or {}
                return without_empty({"LogGroupName": physical_id, "RetentionInDays": group.get("retentionInDays"),
                                      "KmsKeyId": group.get("kmsKeyId"),
                                      "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})
        return None


TYPES: list[ResourceType] = [LogGroup()]
