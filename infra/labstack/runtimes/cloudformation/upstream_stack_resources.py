"""A stack's buckets, topics, queues and SSM parameters made in LocalStack when it is the upstream.

With ``--upstream`` the learner's S3, SNS, SQS and SSM are LocalStack's, so a stack's
``AWS::S3::Bucket``, ``AWS::SNS::Topic``, ``AWS::SQS::Queue`` and ``AWS::SSM::Parameter`` are
created, updated and deleted there (in the stack's account and region). moto's CloudFormation
gets back a :class:`StandIn` for each: what ``Ref`` and ``Fn::GetAtt`` read, and how it is
deleted; nothing is kept in moto. Any other resource type of the upstream's services fails with
a reason that says so (:class:`Refused`), rather than landing in moto where the learner's
clients never see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labstack import motobridge
from labstack.runtimes.cloudformation.failures import ResourceFailed

# CloudFormation's namespace of each upstream service (botocore's name) that has resource types.
NAMESPACES = {"s3": "S3", "iam": "IAM", "sns": "SNS", "sqs": "SQS", "cloudwatch": "CloudWatch", "logs": "Logs",
              "events": "Events", "ssm": "SSM", "secretsmanager": "SecretsManager"}
# Types made in the upstream: these four here, roles and log groups in ``upstream_resources``.
MADE_UPSTREAM = frozenset({"AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::SSM::Parameter",
                           "AWS::IAM::Role", "AWS::Logs::LogGroup"})
_GONE = frozenset({"NoSuchBucket", "NotFound", "ParameterNotFound", "AWS.SimpleQueueService.NonExistentQueue",
                   "QueueDoesNotExist"})


class StandIn:
    """What moto's CloudFormation keeps of a resource that lives in the upstream."""

    def __init__(self, name: str, ref: str, attributes: dict[str, Any], properties: dict[str, Any],
                 delete: Callable[[], None]) -> None:
        self.name = name
        self.physical_resource_id = ref
        self.attributes = attributes
        self.properties = properties
        self._delete = delete

    def get_cfn_attribute(self, attribute: str) -> Any:
        """``Fn::GetAtt``'s value of ``attribute``."""
        if attribute not in self.attributes:
            raise motobridge.no_such_attribute()
        return self.attributes[attribute]

    def is_created(self) -> bool:
        """Made as soon as the upstream answered."""
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        """Delete it in the upstream; one already gone is deleted."""
        try:
            self._delete()
        except ClientError as error:
            if error.response["Error"]["Code"] not in _GONE:
                raise


class Refused:
    """Any other resource type of the upstream's services: its creation fails and says why."""

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        """Outputs are not checked: the resource fails first."""
        return True

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        """Fail, naming the type and what to do instead."""
        kind = kwargs["ResourceType"]
        where = "it would otherwise be hidden in labstack" if kind in motobridge.resource_types() else "labstack would otherwise skip it"
        raise ResourceFailed(kwargs["LogicalId"], kind,
                             f"labstack beside LocalStack does not create {kind} in LocalStack: create it with boto3 ({where})")


def refusals(parsing: Any, clients: Any) -> dict[str, Any]:
    """moto CloudFormation's ``resource_class_from_type`` answering :class:`Refused` for the other resource
    types of the upstream's services."""
    served = {f"AWS::{namespace}::" for service, namespace in NAMESPACES.items() if clients.upstream_serves(service)}
    known = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type not in MADE_UPSTREAM and resource_type.startswith(tuple(served)):
            return Refused
        return known(resource_type)

    return {"resource_class_from_type": resource_class_from_type}


def buckets(model: type, clients: Any) -> dict[str, Any]:
    """moto's ``FakeBucket`` of a stack made in the upstream."""
    return _made_upstream(clients, "s3", "BucketName", _create_bucket, _update_bucket, _BUCKET_ATTRIBUTES)


def topics(model: type, clients: Any) -> dict[str, Any]:
    """moto's ``Topic`` of a stack made in the upstream."""
    return _made_upstream(clients, "sns", "TopicName", _create_topic, _update_topic, ("TopicArn", "TopicName"))


def queues(model: type, clients: Any) -> dict[str, Any]:
    """moto's ``Queue`` of a stack made in the upstream."""
    return _made_upstream(clients, "sqs", "QueueName", _create_queue, _update_queue, ("Arn", "QueueName", "QueueUrl"))


def parameters(model: type, clients: Any) -> dict[str, Any]:
    """moto's SSM ``Parameter`` of a stack made in the upstream."""
    return _made_upstream(clients, "ssm", "Name", _create_parameter, _update_parameter, ("Type", "Value"))


def _made_upstream(clients: Any, service: str, name_property: str,
                   create: Callable[[Any, str, dict[str, Any]], StandIn],
                   update: Callable[[Any, StandIn, dict[str, Any]], StandIn], attributes: tuple[str, ...]) -> dict[str, Any]:
    """A model's CloudFormation methods: ``create`` and ``update`` on the upstream's client; a new name
    replaces the resource (made, then the old one deleted), as CloudFormation does."""

    def create_json(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                    region_name: str, **kwargs: Any) -> StandIn:
        try:
            return create(clients.get(service, account_id, region_name), resource_name,
                          cloudformation_json.get("Properties") or {})
        except ClientError as error:
            raise ResourceFailed(kwargs["LogicalId"], kwargs["ResourceType"], _message(error)) from None

    def update_json(cls: type, original_resource: StandIn, new_resource_name: str, cloudformation_json: dict[str, Any],
                    account_id: str, region_name: str) -> StandIn:
        props = cloudformation_json.get("Properties") or {}
        client = clients.get(service, account_id, region_name)
        try:
            if props.get(name_property, original_resource.name) == original_resource.name:
                return update(client, original_resource, props)
            created = create(client, props[name_property], props)
        except ClientError as error:
            raise ResourceFailed(original_resource.logical_resource_id, cloudformation_json["Type"],  # type: ignore[attr-defined]
                                 _message(error), "UPDATE") from None
        original_resource.delete(account_id, region_name)
        return created

    return {"create_from_cloudformation_json": classmethod(create_json),
            "update_from_cloudformation_json": classmethod(update_json),
            "has_cfn_attr": classmethod(lambda cls, attribute: attribute in attributes)}


def _message(error: ClientError) -> str:
    found = error.response.get("Error", {})
    return f"{found.get('Code', 'Error')}: {found.get('Message', '')}".rstrip(": ")


def _text(value: Any) -> str:
    """A template value as the APIs' attribute strings want it (``true``, ``30``, JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _true(value: Any) -> bool:
    return _text(value) == "true"


def _tags(props: dict[str, Any]) -> dict[str, str]:
    """A template's Tags (a Key/Value list, or SSM's map) as a map."""
    tags = props.get("Tags") or {}
    return dict(tags) if isinstance(tags, dict) else {tag["Key"]: tag["Value"] for tag in tags}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


# --- AWS::S3::Bucket: Ref is its name -----------------------------------------------------------

_BUCKET_ATTRIBUTES = ("Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL")

def _create_bucket(s3: Any, name: str, props: dict[str, Any]) -> StandIn:
    region = s3.meta.region_name
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **where)
    _configure_bucket(s3, name, props, {})
    return _bucket(s3, name, props)


def _update_bucket(s3: Any, bucket: StandIn, props: dict[str, Any]) -> StandIn:
    _configure_bucket(s3, bucket.name, props, bucket.properties)
    return _bucket(s3, bucket.name, props)


def _configure_bucket(s3: Any, name: str, props: dict[str, Any], before: dict[str, Any]) -> None:
    """Versioning, default encryption and tags as the template has them (what it dropped, undone)."""
    versioning = props.get("VersioningConfiguration")
    if versioning or before.get("VersioningConfiguration"):  # versioning once on can only be suspended
        status = versioning["Status"] if versioning else "Suspended"
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
    if rules:
        rules = [{**rule, "BucketKeyEnabled": _true(rule["BucketKeyEnabled"])} if "BucketKeyEnabled" in rule else rule
                 for rule in rules]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    elif before.get("BucketEncryption"):
        s3.delete_bucket_encryption(Bucket=name)
    if props.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(_tags(props))})
    elif before.get("Tags"):
        s3.delete_bucket_tagging(Bucket=name)


def _bucket(s3: Any, name: str, props: dict[str, Any]) -> StandIn:
    region = s3.meta.region_name
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    attributes = {"Arn": f"arn:{partition}:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                  "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                  "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                  "WebsiteURL": f"http://{name}.s3-website.{region}.amazonaws.com"}
    return StandIn(name, name, attributes, props, lambda: s3.delete_bucket(Bucket=name))


# --- AWS::SNS::Topic: Ref is its ARN ------------------------------------------------------------

_TOPIC_CHANGEABLE = ("DisplayName", "KmsMasterKeyId", "SignatureVersion", "TracingConfig", "ContentBasedDeduplication")
_TOPIC_ATTRIBUTES = ("FifoTopic", *_TOPIC_CHANGEABLE)


def _create_topic(sns: Any, name: str, props: dict[str, Any]) -> StandIn:
    if "TopicName" not in props and _true(props.get("FifoTopic", False)):
        name += ".fifo"
    attributes = {key: _text(props[key]) for key in _TOPIC_ATTRIBUTES if key in props}
    tags = _tag_list(_tags(props))
    arn = sns.create_topic(Name=name, Attributes=attributes, **({"Tags": tags} if tags else {}))["TopicArn"]
    for subscription in props.get("Subscription", []):
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return _topic(sns, name, arn, props)


def _update_topic(sns: Any, topic: StandIn, props: dict[str, Any]) -> StandIn:
    arn = topic.physical_resource_id
    for key in _TOPIC_CHANGEABLE:
        if props.get(key) != topic.properties.get(key):
            sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=_text(props.get(key, "")))
    wanted = [(s["Protocol"], s["Endpoint"]) for s in props.get("Subscription", [])]
    for found in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]:
        if (found["Protocol"], found["Endpoint"]) not in wanted and found["SubscriptionArn"].startswith("arn:"):
            sns.unsubscribe(SubscriptionArn=found["SubscriptionArn"])
    for protocol, endpoint in wanted:  # Subscribe is idempotent
        sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
    _retag(topic.properties, props, lambda tags: sns.tag_resource(ResourceArn=arn, Tags=_tag_list(tags)),
           lambda keys: sns.untag_resource(ResourceArn=arn, TagKeys=keys))
    return _topic(sns, topic.name, arn, props)


def _topic(sns: Any, name: str, arn: str, props: dict[str, Any]) -> StandIn:
    return StandIn(name, arn, {"TopicArn": arn, "TopicName": name}, props, lambda: sns.delete_topic(TopicArn=arn))


def _retag(before: dict[str, Any], props: dict[str, Any], tag: Callable[[dict[str, str]], Any],
           untag: Callable[[list[str]], Any]) -> None:
    """Tags the template added or changed set, the ones it dropped removed."""
    old, new = _tags(before), _tags(props)
    if gone := [key for key in old if key not in new]:
        untag(gone)
    if changed := {key: value for key, value in new.items() if old.get(key) != value}:
        tag(changed)


# --- AWS::SQS::Queue: Ref is its URL -------------------------------------------------------------

# What an attribute the template no longer sets goes back to (SQS's defaults).
_QUEUE_DEFAULTS = {"DelaySeconds": "0", "MaximumMessageSize": "262144", "MessageRetentionPeriod": "345600",
                   "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": "",
                   "RedriveAllowPolicy": ""}


def _queue_attributes(props: dict[str, Any]) -> dict[str, str]:
    return {key: _text(value) for key, value in props.items() if key not in ("QueueName", "Tags")}


def _create_queue(sqs: Any, name: str, props: dict[str, Any]) -> StandIn:
    if "QueueName" not in props:  # a generated name fits SQS's 80 characters, ".fifo" included
        name = name[:75] + ".fifo" if _true(props.get("FifoQueue", False)) else name[:80]
    tags = _tags(props)
    url = sqs.create_queue(QueueName=name, Attributes=_queue_attributes(props), **({"tags": tags} if tags else {}))["QueueUrl"]
    return _queue(sqs, name, url, props)


def _update_queue(sqs: Any, queue: StandIn, props: dict[str, Any]) -> StandIn:
    url = queue.physical_resource_id
    wanted, before = _queue_attributes(props), _queue_attributes(queue.properties)
    changed = {key: value for key, value in wanted.items() if before.get(key) != value and key != "FifoQueue"}
    changed.update({key: _QUEUE_DEFAULTS[key] for key in before if key not in wanted and key in _QUEUE_DEFAULTS})
    if changed:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
    _retag(queue.properties, props, lambda tags: sqs.tag_queue(QueueUrl=url, Tags=tags),
           lambda keys: sqs.untag_queue(QueueUrl=url, TagKeys=keys))
    return _queue(sqs, queue.name, url, props)


def _queue(sqs: Any, name: str, url: str, props: dict[str, Any]) -> StandIn:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return StandIn(name, url, {"Arn": arn, "QueueName": name, "QueueUrl": url}, props,
                   lambda: sqs.delete_queue(QueueUrl=url))


# --- AWS::SSM::Parameter: Ref is its name --------------------------------------------------------

_PARAMETER_OPTIONS = ("Description", "AllowedPattern", "Tier", "DataType", "Policies")


def _put_parameter(ssm: Any, name: str, props: dict[str, Any], **extra: Any) -> StandIn:
    options = {key: _text(props[key]) for key in _PARAMETER_OPTIONS if key in props}
    kind = props.get("Type", "String")
    ssm.put_parameter(Name=name, Value=_text(props["Value"]), Type=kind, **options, **extra)
    return StandIn(name, name, {"Type": kind, "Value": _text(props["Value"])}, props,
                   lambda: ssm.delete_parameter(Name=name))


def _create_parameter(ssm: Any, name: str, props: dict[str, Any]) -> StandIn:
    tags = _tag_list(_tags(props))
    return _put_parameter(ssm, name, props, **({"Tags": tags} if tags else {}))


def _update_parameter(ssm: Any, parameter: StandIn, props: dict[str, Any]) -> StandIn:
    name = parameter.name
    updated = _put_parameter(ssm, name, props, Overwrite=True)
    _retag(parameter.properties, props,
           lambda tags: ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=_tag_list(tags)),
           lambda keys: ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=keys))
    return updated
