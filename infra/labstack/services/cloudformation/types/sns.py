"""AWS::SNS::Topic (with its Subscription list), AWS::SNS::Subscription and AWS::SNS::TopicPolicy,
made through SNS's API."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.properties import (
    changed, document, gone_ok, only, parsed, pick, retag, tag_list, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result
from labstack.services.cloudformation.resourcepolicy import PolicyOnEach

GONE = ("NotFound", "NotFoundException")
TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "ContentBasedDeduplication", "SignatureVersion",
                    "TracingConfig", "ArchivePolicy")  # each one topic attribute of the same name
SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                           "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy")


def _text(value: Any) -> str:
    """An SNS attribute's value as the text the API takes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return document(value) if isinstance(value, (dict, list)) else str(value)


def default_policy(topic_arn: str, account: str) -> str:
    """The access policy SNS gives a new topic (what a TopicPolicy's deletion puts back)."""
    return document({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                   "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": topic_arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}]})


def _pairs(props: dict) -> list[tuple[str, str]]:
    """A topic's Subscription property as (protocol, endpoint) pairs."""
    out = []
    for item in props.get("Subscription") or []:
        if not isinstance(item, dict) or not item.get("Protocol") or not item.get("Endpoint"):
            raise HandlerError("Each of Subscription needs Protocol and Endpoint")
        only("AWS::SNS::Topic Subscription", item, ("Protocol", "Endpoint"))
        out.append((str(item["Protocol"]), str(item["Endpoint"])))
    return out


def _subscriptions(sns: Any, topic_arn: str) -> list[dict]:
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return [s for page in pages for s in page["Subscriptions"]]


class Topic(ResourceType):
    """AWS::SNS::Topic: Ref is the topic's ARN; GetAtt TopicArn and TopicName."""

    type_name = "AWS::SNS::Topic"
    SUPPORTED = ("TopicName", "FifoTopic", "Subscription", "Tags") + TOPIC_ATTRIBUTES

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        fifo = _text(props.get("FifoTopic", False)).lower() == "true"
        name = props.get("TopicName") or (ctx.name(251) + ".fifo" if fifo else ctx.name(256))
        attributes = {k: _text(v) for k, v in pick(props, *TOPIC_ATTRIBUTES).items()}
        if fifo:
            attributes["FifoTopic"] = "true"
        sns = ctx.client("sns")
        topic_arn = sns.create_topic(Name=name, Attributes=attributes,
                                     **({"Tags": tag_list(props["Tags"])} if props.get("Tags") else {}))["TopicArn"]
        for protocol, endpoint in _pairs(props):
            sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
        return Result(topic_arn, {"TopicArn": topic_arn, "TopicName": name})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        sns = ctx.client("sns")
        for key in TOPIC_ATTRIBUTES:
            if changed(old, new, key):
                sns.set_topic_attributes(TopicArn=physical_id, AttributeName=key,
                                         AttributeValue=_text(new[key]) if key in new else "")
        before, after = _pairs(old), _pairs(new)
        live = _subscriptions(sns, physical_id)
        for pair in before:
            if pair not in after:
                for sub in live:
                    if (sub["Protocol"], sub["Endpoint"]) == pair and sub["SubscriptionArn"].startswith("arn:"):
                        with gone_ok(*GONE):
                            sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        for protocol, endpoint in after:
            if (protocol, endpoint) not in before:
                sns.subscribe(TopicArn=physical_id, Protocol=protocol, Endpoint=endpoint)
        retag(old, new, lambda remove: sns.untag_resource(ResourceArn=physical_id, TagKeys=remove),
              lambda put: sns.tag_resource(ResourceArn=physical_id, Tags=tag_list(put)))
        return Result(physical_id, {"TopicArn": physical_id, "TopicName": physical_id.rpartition(":")[2]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        sns = ctx.client("sns")
        with gone_ok(*GONE):
            pairs = _pairs(props)
            for sub in _subscriptions(sns, physical_id):
                if (sub["Protocol"], sub["Endpoint"]) in pairs and sub["SubscriptionArn"].startswith("arn:"):
                    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
            sns.delete_topic(TopicArn=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        sns = ctx.client("sns")
        with gone_ok(*GONE):
            attributes = sns.get_topic_attributes(TopicArn=physical_id)["Attributes"]
            live = {key: parsed(attributes[key]) if isinstance(props.get(key), (dict, list)) else attributes[key]
                    for key in TOPIC_ATTRIBUTES if attributes.get(key)}
            tags = sns.list_tags_for_resource(ResourceArn=physical_id).get("Tags")
            return without_empty({
                "TopicName": physical_id.rpartition(":")[2], **live,
                "FifoTopic": attributes.get("FifoTopic") == "true" or None,
                "Subscription": [{"Protocol": s["Protocol"], "Endpoint": s["Endpoint"]}
                                 for s in _subscriptions(sns, physical_id)],
                "Tags": tags})
        return None


class Subscription(ResourceType):
    """AWS::SNS::Subscription: Ref is the subscription's ARN; GetAtt Arn."""

    type_name = "AWS::SNS::Subscription"
    SUPPORTED = ("TopicArn", "Protocol", "Endpoint", "Region") + SUBSCRIPTION_ATTRIBUTES

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        region = props.get("Region") or props["TopicArn"].split(":")[3]
        if region != ctx.region:
            raise HandlerError(f"labstack subscribes to topics of the stack's region only ({ctx.region}), not {region}")
        answer = ctx.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], ReturnSubscriptionArn=True,
            Attributes={k: _text(v) for k, v in pick(props, *SUBSCRIPTION_ATTRIBUTES).items()},
            **pick(props, "Endpoint"))
        arn = answer["SubscriptionArn"]
        return Result(arn, {"Arn": arn})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        sns = ctx.client("sns")
        for key in SUBSCRIPTION_ATTRIBUTES:
            if changed(old, new, key):
                sns.set_subscription_attributes(SubscriptionArn=physical_id, AttributeName=key,
                                                AttributeValue=_text(new[key]) if key in new else "")
        return Result(physical_id, {"Arn": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE, "InvalidParameter"):
            ctx.client("sns").unsubscribe(SubscriptionArn=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        with gone_ok(*GONE):
            attributes = ctx.client("sns").get_subscription_attributes(SubscriptionArn=physical_id)["Attributes"]
            live = {key: parsed(attributes[key]) if isinstance(props.get(key), (dict, list)) else attributes[key]
                    for key in SUBSCRIPTION_ATTRIBUTES if key in props and key in attributes}
            return {"TopicArn": attributes["TopicArn"], "Protocol": attributes["Protocol"],
                    "Endpoint": attributes["Endpoint"], **live}
        return None


class TopicPolicy(PolicyOnEach):
    """AWS::SNS::TopicPolicy: sets the access policy of each of its Topics; Ref is a generated id.
    Deleting it gives the topics SNS's default policy back."""

    type_name = "AWS::SNS::TopicPolicy"
    targets = "Topics"
    gone = GONE

    def set_policy(self, ctx: Context, target: str, policy: Any) -> None:
        ctx.client("sns").set_topic_attributes(TopicArn=target, AttributeName="Policy", AttributeValue=document(policy))

    def clear_policy(self, ctx: Context, target: str) -> None:
        self.set_policy(ctx, target, default_policy(target, target.split(":")[4]))

    def get_policy(self, ctx: Context, target: str) -> Any:
        return ctx.client("sns").get_topic_attributes(TopicArn=target)["Attributes"].get("Policy")


TYPES: list[ResourceType] = [Topic(), Subscription(), TopicPolicy()]
