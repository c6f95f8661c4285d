"""moto, in process: the store for every service labstack does not own.

moto is imported in a background thread after the socket is bound, so labstack
answers its health check at once; requests for moto's services wait until it is in.
"""

from __future__ import annotations

import copy
import datetime
import functools
import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("labstack.moto")

# Services the kit relies on moto for (DESIGN.md), as botocore names them.
MOTO_SERVICES = (
    "s3", "iam", "sts", "sns", "sqs", "cloudwatch", "logs", "events", "ssm",
    "secretsmanager", "kms", "ecr", "ecs", "elbv2", "lambda", "cloudformation",
)

# moto's module names where they differ from botocore's service names.
_BACKEND_NAMES = {"lambda": "awslambda"}

# What counts as a learner's resource, per moto backend: attribute holding a collection.
_RESOURCE_ATTRS: dict[str, tuple[str, ...]] = {
    "s3": ("buckets",),
    "iam": ("roles", "users", "groups", "instance_profiles"),
    "sns": ("topics",),
    "sqs": ("queues",),
    "cloudwatch": ("alarms", "dashboards"),
    "logs": ("groups",),
    "events": ("rules",),
    "ssm": ("_parameters",),
    "secretsmanager": ("secrets",),
    "kms": ("keys",),
    "ecr": ("repositories",),
    "ecs": ("clusters", "task_definitions", "services"),
    "elbv2": ("load_balancers", "target_groups"),
    "lambda": ("_lambdas._functions",),
    "cloudformation": ("stacks",),
}


# Services whose requests may name AWS-managed policies. (moto's CloudFormation ignores a
# role's ManagedPolicyArns, so templates cannot attach them yet.)
_USES_MANAGED_POLICIES = frozenset({"iam"})
_policies_lock = threading.Lock()
_import_lock = threading.Lock()


# EventBridge targets labstack delivers to itself (moto has no code for them): the ARN's service ->
# fn(account, region, target, event, rule ARN). Providers register here (CodePipeline does).
EVENT_TARGETS: dict[str, Callable[[str, str, dict[str, Any], dict[str, Any], str], None]] = {}
# How many event buses one event may pass through (a rule whose target is a bus delivers again):
# enough for a chain of buses, and a loop of them ends.
MAX_BUS_HOPS = 5
_forwarding = threading.local()
# Target services moto delivers to itself.
_MOTO_EVENT_TARGETS = frozenset({"logs", "events", "sqs"})


@functools.lru_cache(maxsize=1)
def _deliver_events() -> None:
    """EventBridge as AWS runs it, once: a disabled rule delivers nothing; targets labstack serves
    (a pipeline) get their events; a target type nobody emulates is skipped with a log line instead
    of failing PutEvents for every other target."""
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    send = Rule.send_to_targets

    def deliver(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if self.state != "ENABLED" or not self.event_pattern.matches_event(event):
            return
        own, theirs = [], []
        for target in list(self.targets):
            service = parse_arn(target["Arn"]).service
            if service in EVENT_TARGETS:
                own.append((service, target))
            elif service in _MOTO_EVENT_TARGETS:
                theirs.append(target)
            else:
                log.info("EventBridge rule %s: target %s is not emulated; its event is dropped", self.name, target["Arn"])
        for service, target in own:
            try:
                EVENT_TARGETS[service](self.account_id, self.region_name, target, event, self.arn)
            except Exception:
                log.exception("EventBridge rule %s could not deliver to %s", self.name, target["Arn"])
        if theirs and getattr(_forwarding, "depth", 0) < MAX_BUS_HOPS:
            # moto sends to the targets of a copy of the rule (no lock: a bus target delivers again, here)
            just_theirs = copy.copy(self)
            just_theirs.targets = theirs
            _forwarding.depth = getattr(_forwarding, "depth", 0) + 1
            try:
                send(just_theirs, event, transform_input)
            finally:
                _forwarding.depth -= 1
        elif theirs:
            log.info("EventBridge rule %s: an event passed %d buses already; it goes no further", self.name, MAX_BUS_HOPS)

    Rule.send_to_targets = deliver


# Requests that may create S3 buckets (directly, or through a stack).
_MAKES_BUCKETS = frozenset({"s3", "cloudformation"})
# What S3 has set on every new bucket since January 2023: SSE-S3 default encryption.
_DEFAULT_BUCKET_ENCRYPTION = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                       "BucketKeyEnabled": "false"}}


_deleted_keys: set[str] = set()  # access key ids IAM deleted: they never again pass for an account's root


@functools.lru_cache(maxsize=1)
def _remember_deleted_keys() -> None:
    """Note each access key IAM deletes, so a deleted key is refused as AWS refuses it (labstack would
    otherwise read an unknown key as the default account)."""
    from moto.iam.models import IAMBackend

    delete = IAMBackend.delete_access_key_by_name

    def remembered(self: Any, name: str) -> None:
        delete(self, name)
        if len(_deleted_keys) < 100_000:
            _deleted_keys.add(name)

    IAMBackend.delete_access_key_by_name = remembered


def deleted_key(access_key: str) -> bool:
    """True for an access key id moto's IAM issued and then deleted."""
    return access_key in _deleted_keys


@functools.lru_cache(maxsize=1)
def _encrypt_new_buckets() -> None:
    """Give moto's new buckets S3's default encryption (moto leaves them without any), and bring it
    back when a bucket's encryption is deleted, as S3 does; once."""
    from moto.s3.models import FakeBucket, S3Backend

    created = FakeBucket.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        created(self, *args, **kwargs)
        if self.encryption is None:
            self.encryption = json.loads(json.dumps(_DEFAULT_BUCKET_ENCRYPTION))

    def delete_encryption(self: Any, bucket_name: str) -> None:
        self.get_bucket(bucket_name).encryption = json.loads(json.dumps(_DEFAULT_BUCKET_ENCRYPTION))

    FakeBucket.__init__ = init
    S3Backend.delete_bucket_encryption = delete_encryption


@functools.lru_cache(maxsize=1)
def _aws_managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def _ensure_aws_managed_policies(account: str, partition: str) -> None:
    """Give one account's IAM AWS's managed policies (AdministratorAccess…), once.

    moto can load them for every account it meets (MOTO_IAM_LOAD_MANAGED_POLICIES), which
    costs ~15 MB at the first request and ~5 MB per account, IAM used or not; labstack
    adds them to an account at its first IAM request instead.
    """
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account][partition]
    if backend.aws_managed_policies:
        return
    with _policies_lock:
        if backend.aws_managed_policies:
            return
        policies = [
            AWSManagedPolicy.from_data(name, account, backend.region_name, data)
            for name, data in _aws_managed_policy_data().items()
        ]
        for policy in policies:
            backend.managed_policies.setdefault(policy.arn, policy)
        backend.aws_managed_policies = policies


def backends(service: str) -> Any:
    """moto's BackendDict of ``service`` (botocore's name), for runtimes that read moto's state.

    Its models are imported under one lock: runtimes starting together must not import
    moto's modules concurrently (Python's import locks can deadlock across threads).
    """
    with _import_lock:
        module = importlib.import_module(f"moto.{_BACKEND_NAMES.get(service, service)}.models")
    return getattr(module, f"{service}_backends")


def loaded_backends(service: str) -> Any | None:
    """moto's BackendDict of ``service`` if moto has already loaded it, else None.

    Runtimes poll with this: until a request has touched a service there is nothing of
    it to run, and importing moto's models early would cost memory for nothing.
    """
    module = sys.modules.get(f"moto.{_BACKEND_NAMES.get(service, service)}.models")
    return None if module is None else getattr(module, f"{service}_backends", None)


def _moto_key(access_key: str) -> tuple[str, str, Any, Any] | None:
    """(account, partition, moto's AccessKey, its AssumedRole or None) of a key moto's IAM or STS issued.
    Reads moto's state only where it is already loaded."""
    iam = loaded_backends("iam")
    if iam is None:
        return None
    for account, partitions in list(iam.items()):
        for partition in list(partitions):
            key = partitions[partition].access_keys.get(access_key)
            if key is None:
                continue
            sts = loaded_backends("sts")
            assumed = sts[account][partition].get_assumed_role_from_access_key(access_key) if sts is not None else None
            return account, partition, key, assumed
    return None


def issued_key(access_key: str) -> tuple[str, str, str | None, bool, float | None] | None:
    """A key that moto's IAM or STS issued: (account, secret, session token, active, expiry as epoch
    seconds), or None."""
    found = _moto_key(access_key)
    if found is None:
        return None
    account, _partition, key, assumed = found
    token, expires = None, None
    if assumed is not None:
        token = assumed.session_token
        expires = assumed.expiration.replace(tzinfo=datetime.timezone.utc).timestamp()  # moto's is naive UTC
    return account, key.secret_access_key, token, key.status == "Active", expires


def key_holder(access_key: str) -> dict[str, str] | None:
    """Who holds a key moto's IAM or STS issued, or None: an IAM user (``type`` IAMUser, ``account``,
    ``userName``, ``userId``, ``arn``) or a role session (``type`` AssumedRole, ``account``, ``arn``,
    ``principalId`` as role id:session name, ``roleArn``)."""
    found = _moto_key(access_key)
    if found is None:
        return None
    account, partition, key, assumed = found
    if assumed is not None:
        return {"type": "AssumedRole", "account": assumed.account_id, "arn": assumed.arn,
                "principalId": assumed.user_id, "roleArn": assumed.role_arn}
    user = loaded_backends("iam")[account][partition].users.get(key.user_name or "")
    if user is None:
        return None
    return {"type": "IAMUser", "account": account, "userName": user.name, "userId": user.id, "arn": user.arn}


def _attribute(obj: Any, path: str) -> Any:
    """``obj.a.b`` for ``path`` "a.b" (None where moto lacks a part)."""
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


class MotoBridge:
    """Loads moto's WSGI dispatcher and forwards requests to it."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None
        self.handler_class: type | None = None
        self.loaded_in: float | None = None

    def load(self) -> None:
        """Import moto and build its dispatcher (idempotent)."""
        if self.app is not None:
            return
        started = time.perf_counter()
        # Another account's bucket answers AccessDenied, as on AWS without a bucket policy granting it
        # (moto lets any account reach any bucket by name unless told otherwise).
        os.environ["MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS"] = "false"
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        self.handler_class = MotoRequestHandler
        self.app = DomainDispatcherApplication(create_backend_app)
        self.loaded_in = time.perf_counter() - started

    @property
    def ready(self) -> bool:
        return self.app is not None


    def prepare(self, service: str | None, account: str, partition: str) -> None:
        """Get moto's state ready for a request: IAM calls see AWS's managed policies; new S3
        buckets are encrypted by default; EventBridge delivers as AWS does."""
        if service in _USES_MANAGED_POLICIES:
            _ensure_aws_managed_policies(account, partition)
            _remember_deleted_keys()
        if service in _MAKES_BUCKETS:
            _encrypt_new_buckets()
        if service == "events":
            _deliver_events()

    def service_states(self) -> dict[str, str]:
        """LocalStack-style state per service: ``running`` once its backend holds data."""
        running = set(self._loaded_backends()) if self.ready else set()
        return {
            svc: "running" if svc in running else "available"
            for svc in MOTO_SERVICES
        }

    def reset(self) -> None:
        """Empty every moto backend (moto's own reset)."""
        if not self.ready:
            return
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def census(self) -> dict[str, dict[str, int]]:
        """Per account, per service: how many resources moto holds."""
        counts: dict[str, dict[str, int]] = {}
        if not self.ready:
            return counts
        for name, backends in self._loaded_backends().items():
            attrs = _RESOURCE_ATTRS.get(name)
            if not attrs:
                continue
            for account, _region, backend in list(backends.iter_backends()):
                total = sum(len(_attribute(backend, a) or ()) for a in attrs)
                if name == "iam":
                    total += sum(
                        1 for arn in list(getattr(backend, "managed_policies", {})) if ":aws:policy/" not in arn
                    )
                if total:
                    per = counts.setdefault(account, {})
                    per[name] = per.get(name, 0) + total
        return counts

    @staticmethod
    def _loaded_backends() -> dict[str, Any]:
        base = sys.modules.get("moto.core.base_backend")
        if base is None:
            return {}
        return {b.service_name: b for b in list(base.BackendDict._instances) if len(b)}


# --- what IAM enforcement reads of moto's state (labstack.enforcement.policies) -------------------

Documents = list[tuple[str, Any]]  # (the name an explanation gives a policy, its document as moto keeps it)


def _iam(account: str, partition: str = "aws") -> Any | None:
    found = loaded_backends("iam")
    if found is None:
        return None
    _ensure_aws_managed_policies(account, partition)
    return found[account][partition]


def _attached(owner: Any) -> Documents:
    out: Documents = []
    for arn, policy in list(owner.managed_policies.items()):
        version = next((v for v in policy.versions if v.version_id == policy.default_version_id), None)
        if version is not None:
            out.append((f"managed policy {arn.rpartition('/')[2]}", version.document))
    return out


def _role(account: str, name: str, partition: str) -> Any | None:
    iam = _iam(account, partition)
    return None if iam is None else next((r for r in list(iam.roles.values()) if r.name == name), None)


def role(account: str, name: str, partition: str = "aws") -> tuple[Any, Documents] | None:
    """A role of moto's IAM: (its trust policy document, its permissions policies), or None when it does
    not exist."""
    found = _role(account, name, partition)
    if found is None:
        return None
    inline = [(f"inline policy {n}", d) for n, d in list(found.policies.items())]
    return found.assume_role_policy_document, inline + _attached(found)


def role_id(account: str, name: str, partition: str = "aws") -> str | None:
    """The unique id (``AROA…``) of a role of moto's IAM, or None."""
    found = _role(account, name, partition)
    return None if found is None else found.id


def user(account: str, name: str, partition: str = "aws") -> Documents | None:
    """The permissions policies of an IAM user, its own and its groups', or None when it does not exist."""
    iam = _iam(account, partition)
    found = None if iam is None else iam.users.get(name)
    if found is None:
        return None
    out: Documents = [(f"inline policy {n}", d) for n, d in list(found.policies.items())] + _attached(found)
    for group in list(iam.groups.values()):
        if found in group.users:
            out += [(f"inline policy {n} of group {group.name}", d) for n, d in list(group.policies.items())]
            out += _attached(group)
    return out


def bucket_owner(name: str) -> str | None:
    """The account that owns bucket ``name`` in moto's S3, or None."""
    s3 = loaded_backends("s3")
    owner = None if s3 is None else s3.bucket_accounts.get(name)
    return owner[1] if isinstance(owner, tuple) else owner  # moto keeps (partition, account id)


def _lambda_statement(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement of moto's Lambda policy as AWS's GetPolicy writes it: moto keeps the principal of
    AddPermission as a bare string (an ARN, an account id or a service)."""
    principal = statement.get("Principal")
    if not isinstance(principal, str) or principal == "*":
        return statement
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    return {**statement, "Principal": {kind: principal}}


def resource_policy(service: str, account: str, region: str, name: str) -> Any | None:
    """The resource-based policy moto keeps for a bucket (``s3``), a KMS key (``kms``, id), a function
    (``lambda``) or an ECR repository (``ecr``); None when there is none or the resource is unknown."""
    try:
        if service == "s3":
            owner = bucket_owner(name)  # moto keeps a bucket in its owner's backend
            bucket = loaded_backends("s3")[owner]["global"].buckets.get(name) if owner else None
            return None if bucket is None or not bucket.policy else bucket.policy
        backends_ = loaded_backends(service)
        if backends_ is None:
            return None
        backend = backends_[account][region]
        if service == "kms":
            return backend.describe_key(name).policy  # an id, an ARN or an alias
        if service == "ecr":
            repository = backend.repositories.get(name)
            return None if repository is None else repository.policy
        if service == "lambda":
            function = backend._lambdas.get_function_by_name_or_arn_with_qualifier(name)
            statements = function.policy.statements if function is not None else []
            return {"Version": "2012-10-17", "Statement": [_lambda_statement(st) for st in statements]} if statements else None
    except Exception:  # a resource moto does not know (or no longer knows) has no policy
        return None
    return None
