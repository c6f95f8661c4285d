"""AWS::S3::Bucket and AWS::S3::BucketPolicy, made through S3's API: versioning, default encryption,
public access block, lifecycle rules, notifications to queues and topics, and tags. Deleting a bucket that still holds objects fails, as on
AWS (CloudFormation never empties a bucket)."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.properties import (
    changed, document, gone_ok, only, parsed, tag_list, tag_map, url_suffix,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result

GONE = ("NoSuchBucket",)
DASHED_WEBSITE_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
                          "eu-west-1", "sa-east-1", "us-gov-west-1")  # s3-website-<region>; the rest s3-website.<region>
PUBLIC_ACCESS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
RULE = ("Id", "Status", "Prefix", "TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "ExpirationInDays",
        "ExpirationDate", "ExpiredObjectDeleteMarker", "NoncurrentVersionExpirationInDays", "NoncurrentVersionExpiration",
        "Transitions", "Transition", "NoncurrentVersionTransitions", "NoncurrentVersionTransition",
        "AbortIncompleteMultipartUpload")


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _filter(rule: dict) -> dict:
    """A CloudFormation lifecycle rule's Prefix, TagFilters and size bounds as the API's Filter."""
    parts: dict[str, Any] = {}
    if "Prefix" in rule:
        parts["Prefix"] = rule["Prefix"]
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters") or []]
    for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if key in rule:
            parts[key] = int(rule[key])
    if len(parts) + len(tags) > 1:
        return {"And": {**parts, **({"Tags": tags} if tags else {})}}
    if tags:
        return {"Tag": tags[0]}
    return parts or {"Prefix": ""}


def _transition(item: dict, noncurrent: bool) -> dict:
    out: dict[str, Any] = {"StorageClass": item["StorageClass"]}
    if noncurrent:
        out["NoncurrentDays"] = int(item["TransitionInDays"])
        if "NewerNoncurrentVersions" in item:
            out["NewerNoncurrentVersions"] = int(item["NewerNoncurrentVersions"])
    elif "TransitionDate" in item:
        out["Date"] = item["TransitionDate"]
    else:
        out["Days"] = int(item["TransitionInDays"])
    return out


def lifecycle_rule(rule: dict) -> dict:
    """One rule of LifecycleConfiguration in the API's form (``ExpirationInDays`` -> ``Expiration.Days``...)."""
    only("AWS::S3::Bucket LifecycleConfiguration Rule", rule, RULE)
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled"), "Filter": _filter(rule)}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = _flag(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    noncurrent = dict(rule.get("NoncurrentVersionExpiration") or {})
    if "NoncurrentVersionExpirationInDays" in rule:
        noncurrent["NoncurrentDays"] = rule["NoncurrentVersionExpirationInDays"]
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {k: int(v) for k, v in noncurrent.items()}
    transitions = list(rule.get("Transitions") or []) + ([rule["Transition"]] if "Transition" in rule else [])
    if transitions:
        out["Transitions"] = [_transition(t, False) for t in transitions]
    older = list(rule.get("NoncurrentVersionTransitions") or []) + (
        [rule["NoncurrentVersionTransition"]] if "NoncurrentVersionTransition" in rule else [])
    if older:
        out["NoncurrentVersionTransitions"] = [_transition(t, True) for t in older]
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return out


NOTIFICATIONS = {"QueueConfigurations": ("QueueConfigurations", "Queue", "QueueArn"),
                 "TopicConfigurations": ("TopicConfigurations", "Topic", "TopicArn")}


def notifications(props: dict) -> dict:
    """NotificationConfiguration in the API's form: queue and topic configurations (the ones labstack
    delivers), each with its Event and an S3Key filter."""
    config = props.get("NotificationConfiguration") or {}
    only("AWS::S3::Bucket NotificationConfiguration", config, NOTIFICATIONS)
    out: dict[str, list] = {}
    for key, (api_key, target, api_target) in NOTIFICATIONS.items():
        for item in config.get(key) or []:
            only(f"AWS::S3::Bucket {key}", item, ("Event", target, "Filter"))
            entry: dict[str, Any] = {api_target: item[target], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
            out.setdefault(api_key, []).append(entry)
    return out


def _encryption(props: dict) -> dict:
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    out = []
    for rule in rules:
        only("AWS::S3::Bucket ServerSideEncryptionRule", rule, ("ServerSideEncryptionByDefault", "BucketKeyEnabled"))
        item: dict[str, Any] = {}
        if "ServerSideEncryptionByDefault" in rule:
            item["ApplyServerSideEncryptionByDefault"] = dict(rule["ServerSideEncryptionByDefault"])
        if "BucketKeyEnabled" in rule:
            item["BucketKeyEnabled"] = _flag(rule["BucketKeyEnabled"])
        out.append(item)
    return {"Rules": out}


def _subset(want: Any, have: Any) -> bool:
    """True when ``have`` holds everything ``want`` says (the API adds defaults of its own)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(_subset, want, have))
    return want == have


def _written(fallback: list, expected: list, live: list, template: list) -> list:
    """Each live item in the template's words where it is what the template asked for, else as S3 has it."""
    return [template[i] if i < len(expected) and _subset(expected[i], item) else fallback[i]
            for i, item in enumerate(live)]


def attributes(ctx: Context, name: str) -> dict[str, str]:
    """A bucket's Fn::GetAtt attributes (AWS::S3::Bucket's "Return values")."""
    suffix, region = url_suffix(ctx), ctx.region
    website = f"s3-website-{region}" if region in DASHED_WEBSITE_REGIONS else f"s3-website.{region}"
    return {"Arn": f"arn:{ctx.partition}:s3:::{name}", "DomainName": f"{name}.s3.{suffix}",
            "RegionalDomainName": f"{name}.s3.{region}.{suffix}",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.{suffix}",
            "WebsiteURL": f"http://{name}.{website}.{suffix}"}


class Bucket(ResourceType):
    """AWS::S3::Bucket: Ref is the bucket's name; GetAtt Arn, DomainName, RegionalDomainName,
    DualStackDomainName, WebsiteURL."""

    type_name = "AWS::S3::Bucket"
    SUPPORTED = ("BucketName", "VersioningConfiguration", "BucketEncryption", "PublicAccessBlockConfiguration",
                 "LifecycleConfiguration", "NotificationConfiguration", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        name = props.get("BucketName") or ctx.name(63, lowercase=True)
        s3 = ctx.client("s3")
        params: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        s3.create_bucket(**params)
        self._configure(s3, name, {}, props)
        return Result(name, attributes(ctx, name))

    @staticmethod
    def _configure(s3: Any, name: str, old: dict, new: dict) -> None:
        """Each configuration the template changed, put or removed."""
        if changed(old, new, "VersioningConfiguration") and (new.get("VersioningConfiguration") or old):
            status = (new.get("VersioningConfiguration") or {}).get("Status", "Suspended")
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        if changed(old, new, "BucketEncryption"):
            if new.get("BucketEncryption"):
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=_encryption(new))
            else:
                s3.delete_bucket_encryption(Bucket=name)
        if changed(old, new, "PublicAccessBlockConfiguration"):
            block = new.get("PublicAccessBlockConfiguration")
            if block:
                only("AWS::S3::Bucket PublicAccessBlockConfiguration", block, PUBLIC_ACCESS)
                s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
                    key: _flag(block.get(key, False)) for key in PUBLIC_ACCESS})
            else:
                s3.delete_public_access_block(Bucket=name)
        if changed(old, new, "LifecycleConfiguration"):
            config = new.get("LifecycleConfiguration") or {}
            only("AWS::S3::Bucket LifecycleConfiguration", config, ("Rules",))
            if config.get("Rules"):
                s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={
                    "Rules": [lifecycle_rule(rule) for rule in config["Rules"]]})
            else:
                s3.delete_bucket_lifecycle(Bucket=name)
        if changed(old, new, "NotificationConfiguration"):
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notifications(new))
        if changed(old, new, "Tags"):
            if new.get("Tags"):
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(new["Tags"])})
            else:
                s3.delete_bucket_tagging(Bucket=name)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        self._configure(ctx.client("s3"), physical_id, old, new)
        return Result(physical_id, attributes(ctx, physical_id))

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        """Fails (BucketNotEmpty) while the bucket holds objects, as CloudFormation's deletion does on AWS."""
        with gone_ok(*GONE):
            ctx.client("s3").delete_bucket(Bucket=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        s3 = ctx.client("s3")
        with gone_ok(*GONE, "404"):
            s3.head_bucket(Bucket=physical_id)
            live: dict[str, Any] = {"BucketName": physical_id}
            status = s3.get_bucket_versioning(Bucket=physical_id).get("Status")
            if status:
                live["VersioningConfiguration"] = {"Status": status}
            with gone_ok("ServerSideEncryptionConfigurationNotFoundError"):
                rules = s3.get_bucket_encryption(Bucket=physical_id)["ServerSideEncryptionConfiguration"]["Rules"]
                if "BucketEncryption" in props:  # S3 encrypts every new bucket (SSE-S3): drift only when written
                    live["BucketEncryption"] = {"ServerSideEncryptionConfiguration": _written(
                        [{"ServerSideEncryptionByDefault": r.get("ApplyServerSideEncryptionByDefault"),
                          "BucketKeyEnabled": r.get("BucketKeyEnabled")} for r in rules],
                        _encryption(props)["Rules"], rules, props["BucketEncryption"]["ServerSideEncryptionConfiguration"])}
            with gone_ok("NoSuchPublicAccessBlockConfiguration"):
                live["PublicAccessBlockConfiguration"] = s3.get_public_access_block(
                    Bucket=physical_id)["PublicAccessBlockConfiguration"]
            with gone_ok("NoSuchLifecycleConfiguration"):
                rules = s3.get_bucket_lifecycle_configuration(Bucket=physical_id)["Rules"]
                written = (props.get("LifecycleConfiguration") or {}).get("Rules") or []
                live["LifecycleConfiguration"] = {"Rules": _written(
                    rules, [lifecycle_rule(r) for r in written], rules, written)}
            if "NotificationConfiguration" in props:
                found = s3.get_bucket_notification_configuration(Bucket=physical_id)
                live["NotificationConfiguration"] = props["NotificationConfiguration"] if all(
                    _subset(v, found.get(k)) for k, v in notifications(props).items()) else {
                    k: found[k] for k in ("QueueConfigurations", "TopicConfigurations") if found.get(k)}
            with gone_ok("NoSuchTagSet"):
                tags = s3.get_bucket_tagging(Bucket=physical_id)["TagSet"]
                if tags:
                    live["Tags"] = [{"Key": k, "Value": v} for k, v in tag_map(tags).items()]
            return live
        return None


class BucketPolicy(ResourceType):
    """AWS::S3::BucketPolicy: the bucket's policy; Ref is the bucket's name."""

    type_name = "AWS::S3::BucketPolicy"
    SUPPORTED = ("Bucket", "PolicyDocument")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        if not props.get("Bucket") or not props.get("PolicyDocument"):
            raise HandlerError("Properties Bucket and PolicyDocument are required")
        ctx.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=document(props["PolicyDocument"]))
        return Result(str(props["Bucket"]))

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        ctx.client("s3").put_bucket_policy(Bucket=physical_id, Policy=document(new["PolicyDocument"]))
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE, "NoSuchBucketPolicy"):
            ctx.client("s3").delete_bucket_policy(Bucket=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        with gone_ok(*GONE, "NoSuchBucketPolicy"):
            policy = ctx.client("s3").get_bucket_policy(Bucket=physical_id)["Policy"]
            return {"Bucket": physical_id, "PolicyDocument": parsed(policy)}
        return None


TYPES: list[ResourceType] = [Bucket(), BucketPolicy()]
