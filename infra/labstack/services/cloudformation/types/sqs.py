"""AWS::SQS::Queue and AWS::SQS::QueuePolicy, made through SQS's API."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.properties import (
    changed, document, gone_ok, only, parsed, retag, tag_map, without_empty,
)
from labstack.services.cloudformation.resource import Context, ResourceType, Result
from labstack.services.cloudformation.resourcepolicy import PolicyOnEach

GONE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
ATTRIBUTES = ("ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
              "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod",
              "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled",
              "VisibilityTimeout")
DEFAULTS = {"DelaySeconds": "0", "MaximumMessageSize": "262144", "MessageRetentionPeriod": "345600",
            "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": "",
            "RedriveAllowPolicy": "", "KmsMasterKeyId": ""}  # what a removed attribute goes back to


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return document(value) if isinstance(value, (dict, list)) else str(value)


def _fifo(props: dict) -> bool:
    return _text(props.get("FifoQueue", False)).lower() == "true"


class Queue(ResourceType):
    """AWS::SQS::Queue: Ref is the queue's URL; GetAtt Arn, QueueName and QueueUrl."""

    type_name = "AWS::SQS::Queue"
    SUPPORTED = ("QueueName", "Tags") + ATTRIBUTES

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        name = props.get("QueueName") or (ctx.name(75) + ".fifo" if _fifo(props) else ctx.name(80))
        attributes = {key: _text(props[key]) for key in ATTRIBUTES if key in props}
        if not _fifo(props):
            attributes.pop("FifoQueue", None)
        sqs = ctx.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes,
                               **({"tags": tag_map(props["Tags"])} if props.get("Tags") else {}))["QueueUrl"]
        return Result(url, self._attributes(sqs, url, name))

    @staticmethod
    def _attributes(sqs: Any, url: str, name: str) -> dict[str, str]:
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"Arn": queue_arn, "QueueName": name, "QueueUrl": url}

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        sqs = ctx.client("sqs")
        update = {key: _text(new[key]) if key in new else DEFAULTS.get(key, "")
                  for key in ATTRIBUTES if key != "FifoQueue" and changed(old, new, key)}
        if update:
            # moto's SetQueueAttributes drops a Policy the call does not repeat (SQS keeps it): repeat it,
            # so a QueuePolicy survives the queue's update
            policy = sqs.get_queue_attributes(QueueUrl=physical_id, AttributeNames=["Policy"]).get(
                "Attributes", {}).get("Policy")
            sqs.set_queue_attributes(QueueUrl=physical_id, Attributes={**update, **({"Policy": policy} if policy else {})})
        retag(old, new, lambda remove: sqs.untag_queue(QueueUrl=physical_id, TagKeys=remove),
              lambda put: sqs.tag_queue(QueueUrl=physical_id, Tags=put))
        return Result(physical_id, self._attributes(sqs, physical_id, physical_id.rpartition("/")[2]))

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("sqs").delete_queue(QueueUrl=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        sqs = ctx.client("sqs")
        with gone_ok(*GONE):
            attributes = sqs.get_queue_attributes(QueueUrl=physical_id, AttributeNames=["All"])["Attributes"]
            live: dict[str, Any] = {"QueueName": physical_id.rpartition("/")[2]}
            for key in ATTRIBUTES:
                if key in props and key in attributes:
                    like = props[key]
                    value: Any = attributes[key]
                    if isinstance(like, (dict, list)):
                        value = parsed(value)
                    elif isinstance(like, bool):
                        value = value == "true"
                    elif isinstance(like, int):
                        value = int(value)
                    live[key] = value
            tags = sqs.list_queue_tags(QueueUrl=physical_id).get("Tags") or {}
            live["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            return without_empty(live)
        return None


class QueuePolicy(PolicyOnEach):
    """AWS::SQS::QueuePolicy: sets the Policy attribute of each queue (by URL) it names; Ref is a generated id."""

    type_name = "AWS::SQS::QueuePolicy"
    targets = "Queues"
    gone = GONE

    def set_policy(self, ctx: Context, target: str, policy: Any) -> None:
        ctx.client("sqs").set_queue_attributes(QueueUrl=target, Attributes={"Policy": document(policy)})

    def clear_policy(self, ctx: Context, target: str) -> None:
        ctx.client("sqs").set_queue_attributes(QueueUrl=target, Attributes={"Policy": ""})

    def get_policy(self, ctx: Context, target: str) -> Any:
        return ctx.client("sqs").get_queue_attributes(QueueUrl=target, AttributeNames=["Policy"]).get(
            "Attributes", {}).get("Policy")


TYPES: list[ResourceType] = [Queue(), QueuePolicy()]
