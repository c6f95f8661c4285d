"""The one seam to moto: moto in process, the store for every service labstack does not own.

Everything of labstack that depends on how moto is built lives here, and nowhere else:
- **imports**: no other module imports ``moto`` (its public API included: exception classes,
  models, matchers) or names a moto module (``sys.modules``, ``importlib``); they call this
  module's functions, which import lazily (moto loads in a background thread after the socket
  is bound, so labstack answers its health check at once) and under one lock;
- **patches**: every moto attribute labstack replaces is a :class:`Patch` in :data:`PATCHES`,
  with what it replaces, why, and the moto versions it was checked against; :func:`apply_patches`
  installs a group once, the first time labstack routes a request to its service (loading every
  patched moto module at start would cost ~150 MB and a second in every labstack process). A
  replacement's behaviour may live with the runtime it serves (``runtimes/lambdas``),
  written against this module's functions; only this module assigns to moto;
- **private API** (``BackendDict._instances``, ``moto_api._internal``, ECR's
  ``_get_repository`` and ``layer_parts``...): one function
  here for each read or write another module needs;
- **moto's backends**: no other module holds a backend (``_backends``/``_loaded_backends`` are
  private) or calls a backend's method; it calls the function here named for what it does
  (``ecr_put_image``, ``ecs_services``, ``cloudwatch_alarms``...), which answers plain values or,
  where a runtime follows moto's model (an ECS service, an alarm), moto's model object, whose
  writes (under the runtime's lock) are functions here too;
- **the version guard**: :data:`SUPPORTED_MOTO` is the range of moto versions all of this was
  checked against (pyproject.toml states it too); any other version stops labstack at start
  (:func:`check_moto_version`) unless ``LABSTACK_MOTO_UNTESTED=1`` (the newest-moto lane).

``tests/test_moto_seam.py`` fails when another module imports moto, patches its classes, uses a
private name of this module or iterates moto's backends.
"""

from __future__ import annotations

import contextlib
import contextvars
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

log = logging.getLogger("labstack.moto")

# Services the kit relies on moto for (DESIGN.md), as botocore names them.
MOTO_SERVICES = (
    "s3", "iam", "sts", "sns", "sqs", "cloudwatch", "logs", "events", "ssm",
    "secretsmanager", "kms", "ecr", "ecs", "elbv2", "lambda", "ec2",
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
}


# Services whose requests may name AWS-managed policies.
_USES_MANAGED_POLICIES = frozenset({"iam"})
_policies_lock = threading.Lock()
_import_lock = threading.RLock()  # a patch's module may import through the seam again

# --- which moto ----------------------------------------------------------------------------------

# The moto versions labstack's patches and private reads were checked against (the whole suite passes):
# 5.2.5 alone so far. pyproject.toml's dependency says the same; the newest-moto lane (.ci/moto-newest,
# `make moto-newest`) tries the newest moto beyond it and says when the range may widen.
SUPPORTED_MOTO = ">=5.2.5,<5.2.6"
UNTESTED_ENV = "LABSTACK_MOTO_UNTESTED"


class UnsupportedMoto(RuntimeError):
    """The installed moto is outside :data:`SUPPORTED_MOTO` (or labstack's patches no longer fit it)."""


def installed_moto() -> str:
    """The version of the moto distribution Python would import."""
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        raise UnsupportedMoto(f"moto is not installed; labstack needs moto[server]{SUPPORTED_MOTO}") from None


def check_moto_version() -> str:
    """The installed moto's version; :class:`UnsupportedMoto` when it is outside the supported range,
    unless ``LABSTACK_MOTO_UNTESTED=1`` lets it start (with a warning)."""
    found = installed_moto()
    try:
        supported = Version(found) in SpecifierSet(SUPPORTED_MOTO)
    except InvalidVersion:
        supported = False
    if supported:
        return found
    message = (f"moto {found} is installed, but labstack is tested with moto{SUPPORTED_MOTO} only: its patches and "
               f"private reads of moto may not fit. Install a supported one (make install, or pip install "
               f"'moto[server]{SUPPORTED_MOTO}'), or set {UNTESTED_ENV}=1 to start anyway")
    if os.environ.get(UNTESTED_ENV) == "1":
        log.warning("%s; starting anyway (%s=1)", message.partition(", or set")[0], UNTESTED_ENV)
        return found
    raise UnsupportedMoto(message)


# --- what labstack replaces in moto --------------------------------------------------------------

CHECKED = ("5.2.5",)  # the moto versions every patch below was last checked against


@dataclass(frozen=True)
class Patch:
    """One named replacement of attributes of a moto class or module.

    ``make(target, **context)`` (a ``module:function`` path) returns the new values of ``attributes``,
    reading the originals off ``target`` where it wraps them; ``adds`` are those of them moto does not
    have (every other one must exist). ``group`` says when it is installed: the first request to that
    service (``upstream``: when a labstack with ``--upstream`` starts)."""

    name: str
    target: str  # "moto.events.models:Rule": a class (or "moto.x.y:" for the module itself)
    attributes: tuple[str, ...]
    make: str
    group: str
    why: str
    adds: tuple[str, ...] = ()
    checked: tuple[str, ...] = CHECKED


PATCHES: tuple[Patch, ...] = (
    Patch("events-delivery", "moto.events.models:Rule", ("send_to_targets",), "labstack.motobridge:_deliveries", "events",
          "a disabled rule delivers nothing; targets labstack serves (a pipeline) get their events from the labstack "
          "serving the request; a target nobody emulates is skipped with a log line instead of failing PutEvents"),
    Patch("iam-deleted-keys", "moto.iam.models:IAMBackend", ("delete_access_key_by_name",), "labstack.motobridge:_key_deletions",
          "iam", "a deleted access key is refused as AWS refuses it, not read as the default account's"),
    Patch("s3-default-encryption", "moto.s3.models:FakeBucket", ("__init__",), "labstack.motobridge:_encrypted_buckets", "s3",
          "S3 encrypts every new bucket with SSE-S3 by default since January 2023; moto leaves them without any"),
    Patch("s3-encryption-deleted", "moto.s3.models:S3Backend", ("delete_bucket_encryption",),
          "labstack.motobridge:_encryption_deletions", "s3", "DeleteBucketEncryption brings S3's default encryption back"),
    Patch("s3-bucket-policy-denials", "moto.s3.models:FakeBucket", ("get_permission",),
          "labstack.motobridge:_bucket_policy_denials", "s3",
          "moto's own bucket policy check ignores conditions, so an enforce-SSL Deny (aws:SecureTransport false, as "
          "the CDK writes on artifact buckets) denied every object call; labstack's gate evaluates the conditions"),
    Patch("upstream-iam-roles", "moto.iam.models:IAMBackend", ("get_role", "get_role_by_arn"),
          "labstack.runtimes.lambdas.upstream_roles:role_lookups", "upstream",
          "with --upstream the learner's roles live in LocalStack: moto's own lookups (Lambda's CreateFunction) read them there"),
)
# Requests to these services install these groups first.
_SERVICE_GROUPS = {"events": ("events",), "iam": ("iam",), "s3": ("s3",)}
_applied: set[str] = set()
_patch_lock = threading.RLock()


def _resolve(path: str) -> Any:
    """The object at ``module:attribute`` (the module itself when the attribute is empty)."""
    module, _, name = path.partition(":")
    with _import_lock:
        found = importlib.import_module(module)
    return getattr(found, name) if name else found


def _missing(patch: Patch, target: Any) -> list[str]:
    """The attributes ``patch`` replaces that ``target`` (moto's class or module) does not have."""
    return [a for a in patch.attributes if a not in patch.adds and not hasattr(target, a)]


def patch_misfits(patches: Iterable[Patch] = PATCHES) -> list[str]:
    """What keeps a patch from fitting the installed moto (a missing attribute, a ``make`` that is not a
    function); empty when every patch fits. Imports every patched module."""
    found = []
    for patch in patches:
        found += [f"{patch.name}: {patch.target} has no {a}" for a in _missing(patch, _resolve(patch.target))]
        if not callable(_resolve(patch.make)):
            found.append(f"{patch.name}: {patch.make} is not a function")
    return found


def apply_patches(group: str, **context: Any) -> None:
    """Install every patch of ``group`` (and the groups it needs) once per process; ``context`` goes to
    each patch's ``make`` (the upstream's clients). :class:`UnsupportedMoto` names a patch whose
    attribute moto no longer has."""
    with _patch_lock:
        for patch in PATCHES:
            if patch.group != group or patch.name in _applied:
                continue
            target = _resolve(patch.target)
            missing = _missing(patch, target)
            if missing:
                raise UnsupportedMoto(f"labstack's patch {patch.name} replaces {patch.target}.{missing[0]}, which moto "
                                      f"{installed_moto()} does not have (checked with moto {', '.join(patch.checked)})")
            values = _resolve(patch.make)(target, **context)
            if set(values) != set(patch.attributes):
                raise ValueError(f"patch {patch.name} makes {sorted(values)}, not {sorted(patch.attributes)}")
            for attribute, value in values.items():
                setattr(target, attribute, value)
            _applied.add(patch.name)
            log.debug("moto patched: %s (%s)", patch.name, patch.target)


# --- EventBridge: targets each labstack delivers to itself ---------------------------------------

EventTarget = Callable[[str, str, dict[str, Any], dict[str, Any], str], None]
# How many event buses one event may pass through (a rule whose target is a bus delivers again):
# enough for a chain of buses, and a loop of them ends.
MAX_BUS_HOPS = 5
_forwarding = threading.local()
# Target services moto delivers to itself.
_MOTO_EVENT_TARGETS = frozenset({"logs", "events", "sqs"})
# The MotoBridge of the labstack whose request moto is serving in this thread: moto's backends are
# shared by every labstack of a process, its rules fire in the thread of the request that put the event.
_serving: contextvars.ContextVar[MotoBridge | None] = contextvars.ContextVar("labstack_moto_serving", default=None)


class EventTargets:
    """The EventBridge targets one labstack serves itself (moto has no code for them), by the target
    ARN's service: ``fn(account, region, target, event, rule ARN)``. CodePipeline registers here."""

    def __init__(self) -> None:
        self._targets: dict[str, EventTarget] = {}
        self._lock = threading.Lock()

    def register(self, service: str, deliver: EventTarget) -> None:
        """Deliver events of rules whose target ARN names ``service`` to ``deliver``."""
        with self._lock:
            self._targets[service] = deliver

    def serves(self, arn: str) -> bool:
        """True when this labstack delivers to the target ``arn`` itself."""
        with self._lock:
            return _arn_service(arn) in self._targets

    def deliver(self, rule: str, rule_arn: str, account: str, region: str, target: dict[str, Any],
                event: dict[str, Any]) -> None:
        """Hand ``event`` to the target; a failure is logged (the rule's other targets still get it)."""
        with self._lock:
            found = self._targets.get(_arn_service(target["Arn"]))
        if found is None:
            log.info("EventBridge rule %s: target %s is not emulated; its event is dropped", rule, target["Arn"])
            return
        try:
            found(account, region, target, event, rule_arn)
        except Exception:
            log.exception("EventBridge rule %s could not deliver to %s", rule, target["Arn"])


def _arn_service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def _deliveries(rule_class: Any) -> dict[str, Any]:
    """Rule.send_to_targets as AWS runs EventBridge. moto's own targets get the event through moto's method
    on a copy of the rule holding just them: the shared rule is never changed, so concurrent PutEvents (and
    PutTargets) cannot make one of them send to another's targets or lose any."""
    send = rule_class.send_to_targets

    def deliver(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if self.state != "ENABLED" or not self.event_pattern.matches_event(event):
            return
        bridge = _serving.get()
        own, theirs = [], []
        for target in list(self.targets):
            if bridge is not None and bridge.event_targets.serves(target["Arn"]):
                own.append(target)
            elif _arn_service(target["Arn"]) in _MOTO_EVENT_TARGETS:
                theirs.append(target)
            else:
                log.info("EventBridge rule %s: target %s is not emulated; its event is dropped", self.name, target["Arn"])
        for target in own:
            bridge.event_targets.deliver(self.name, self.arn, self.account_id, self.region_name, target, event)  # type: ignore[union-attr]
        if theirs and getattr(_forwarding, "depth", 0) < MAX_BUS_HOPS:
            just_theirs = copy.copy(self)  # a bus target delivers again, here: no lock may be held
            just_theirs.targets = theirs
            _forwarding.depth = getattr(_forwarding, "depth", 0) + 1
            try:
                send(just_theirs, event, transform_input)
            finally:
                _forwarding.depth -= 1
        elif theirs:
            log.info("EventBridge rule %s: an event passed %d buses already; it goes no further", self.name, MAX_BUS_HOPS)

    return {"send_to_targets": deliver}


def event_pattern_matches(pattern: str, event: dict[str, Any]) -> bool:
    """True when ``event`` matches the EventBridge ``pattern`` (JSON), by moto's matcher."""
    with _import_lock:
        from moto.events.models import EventPattern
    return bool(EventPattern.load(pattern).matches_event(event))


# What S3 has set on every new bucket since January 2023: SSE-S3 default encryption.
_DEFAULT_BUCKET_ENCRYPTION = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                       "BucketKeyEnabled": "false"}}


_deleted_keys: set[str] = set()  # access key ids IAM deleted: they never again pass for an account's root


def _key_deletions(backend_class: Any) -> dict[str, Any]:
    """IAMBackend.delete_access_key_by_name noting each key it deletes, so a deleted key is refused as AWS
    refuses it (labstack would otherwise read an unknown key as the default account)."""
    delete = backend_class.delete_access_key_by_name

    def remembered(self: Any, name: str) -> None:
        delete(self, name)
        if len(_deleted_keys) < 100_000:
            _deleted_keys.add(name)

    return {"delete_access_key_by_name": remembered}


def deleted_key(access_key: str) -> bool:
    """True for an access key id moto's IAM issued and then deleted."""
    return access_key in _deleted_keys


def _encrypted_buckets(bucket_class: Any) -> dict[str, Any]:
    """FakeBucket.__init__ giving a new bucket S3's default encryption (moto leaves it without any)."""
    created = bucket_class.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        created(self, *args, **kwargs)
        if self.encryption is None:
            self.encryption = json.loads(json.dumps(_DEFAULT_BUCKET_ENCRYPTION))

    return {"__init__": init}


def _bucket_policy_denials(bucket_class: Any) -> dict[str, Any]:
    """FakeBucket.get_permission that does not deny by a policy whose every Deny has a condition: moto
    ignores conditions, labstack's gate evaluated them (an enforce-SSL Deny denies nothing on labstack,
    whose endpoints stand for AWS's HTTPS ones). A Deny without a condition still denies here too."""
    checked = bucket_class.get_permission
    from moto.iam.access_control import PermissionResult

    def get_permission(self: Any, action: str, resource: str) -> Any:
        result = checked(self, action, resource)
        if result == PermissionResult.DENIED and _denials_all_conditional(self.policy):
            return PermissionResult.NEUTRAL
        return result

    return {"get_permission": get_permission}


def _denials_all_conditional(policy: Any) -> bool:
    """Whether every Deny statement of a bucket policy (moto keeps its JSON text) has a Condition."""
    try:
        document = json.loads(policy.decode() if isinstance(policy, bytes) else policy or "{}")
    except (ValueError, UnicodeDecodeError):
        return False
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    return all(s.get("Condition") for s in statements if isinstance(s, dict) and s.get("Effect") == "Deny")


def _encryption_deletions(backend_class: Any) -> dict[str, Any]:
    """S3Backend.delete_bucket_encryption bringing the default encryption back, as S3 does."""

    def delete_encryption(self: Any, bucket_name: str) -> None:
        self.get_bucket(bucket_name).encryption = json.loads(json.dumps(_DEFAULT_BUCKET_ENCRYPTION))

    return {"delete_bucket_encryption": delete_encryption}


@functools.lru_cache(maxsize=1)
def _aws_managed_policy_data() -> dict[str, Any]:
    with _import_lock:
        from moto.iam.aws_managed_policies import aws_managed_policies_data
    return json.loads(aws_managed_policies_data)


def _ensure_aws_managed_policies(account: str, partition: str) -> None:
    """Give one account's IAM AWS's managed policies (AdministratorAccess…), once.

    moto can load them for every account it meets (MOTO_IAM_LOAD_MANAGED_POLICIES), which
    costs ~15 MB at the first request and ~5 MB per account, IAM used or not; labstack
    adds them to an account at its first IAM request instead.
    """
    with _import_lock:
        from moto.iam.models import AWSManagedPolicy
    backend = _backends("iam")[account][partition]
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


def _backends(service: str) -> Any:
    """moto's BackendDict of ``service`` (botocore's name). Private: runtimes call the functions below,
    named for what they read or write.

    Its models are imported under one lock: runtimes starting together must not import
    moto's modules concurrently (Python's import locks can deadlock across threads).
    """
    with _import_lock:
        module = importlib.import_module(f"moto.{_BACKEND_NAMES.get(service, service)}.models")
    return getattr(module, f"{service}_backends")


def _loaded_backends(service: str) -> Any | None:
    """moto's BackendDict of ``service`` if moto has already loaded it, else None.

    What runtimes poll reads through this: until a request has touched a service there is nothing of
    it to run, and importing moto's models early would cost memory for nothing.
    """
    module = sys.modules.get(f"moto.{_BACKEND_NAMES.get(service, service)}.models")
    return None if module is None else getattr(module, f"{service}_backends", None)


def _moto_key(access_key: str) -> tuple[str, str, Any, Any] | None:
    """(account, partition, moto's AccessKey, its AssumedRole or None) of a key moto's IAM or STS issued.
    Reads moto's state only where it is already loaded."""
    iam = _loaded_backends("iam")
    if iam is None:
        return None
    for account, partitions in list(iam.items()):
        for partition in list(partitions):
            key = partitions[partition].access_keys.get(access_key)
            if key is None:
                continue
            sts = _loaded_backends("sts")
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
    user = _loaded_backends("iam")[account][partition].users.get(key.user_name or "")
    if user is None:
        return None
    return {"type": "IAMUser", "account": account, "userName": user.name, "userId": user.id, "arn": user.arn}


def _attribute(obj: Any, path: str) -> Any:
    """``obj.a.b`` for ``path`` "a.b" (None where moto lacks a part)."""
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


class MotoBridge:
    """One labstack's door to moto: loads moto's WSGI dispatcher, prepares moto for each request, and
    keeps the EventBridge targets this labstack serves itself. Made only for a supported moto."""

    def __init__(self) -> None:
        self.version = check_moto_version()
        self.app: Callable[..., Iterable[bytes]] | None = None
        self.handler_class: type | None = None
        self.loaded_in: float | None = None
        self.event_targets = EventTargets()

    def load(self) -> None:
        """Import moto and build its dispatcher (idempotent)."""
        if self.app is not None:
            return
        started = time.perf_counter()
        # Another account's bucket answers AccessDenied, as on AWS without a bucket policy granting it
        # (moto lets any account reach any bucket by name unless told otherwise).
        os.environ["MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS"] = "false"
        with _import_lock:
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
        """Get moto ready for a request to ``service``: its patches installed (new S3 buckets encrypted by
        default, EventBridge delivering as AWS does...), IAM calls seeing AWS's managed policies."""
        for group in _SERVICE_GROUPS.get(service or "", ()):
            apply_patches(group)
        if service in _USES_MANAGED_POLICIES:
            _ensure_aws_managed_policies(account, partition)

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around moto answering one of this labstack's requests: what moto does meanwhile in this thread
        (a rule firing) is this labstack's."""
        token = _serving.set(self)
        try:
            yield
        finally:
            _serving.reset(token)

    def service_states(self) -> dict[str, str]:
        """LocalStack-style state per service: ``running`` once its backend holds data."""
        running = set(self._in_use()) if self.ready else set()
        return {
            svc: "running" if svc in running else "available"
            for svc in MOTO_SERVICES
        }

    def reset(self) -> None:
        """Empty every moto backend (moto's own reset)."""
        if not self.ready:
            return
        with _import_lock:
            from moto.moto_api._internal.models import moto_api_backend
        moto_api_backend.reset()

    def census(self) -> dict[str, dict[str, int]]:
        """Per account, per service: how many resources moto holds."""
        counts: dict[str, dict[str, int]] = {}
        if not self.ready:
            return counts
        for name, backends in self._in_use().items():
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
    def _in_use() -> dict[str, Any]:
        base = sys.modules.get("moto.core.base_backend")
        if base is None:
            return {}
        return {b.service_name: b for b in list(base.BackendDict._instances) if len(b)}


# --- what IAM enforcement reads of moto's state (labstack.enforcement.policies) -------------------

Documents = list[tuple[str, Any]]  # (the name an explanation gives a policy, its document as moto keeps it)


def _iam(account: str, partition: str = "aws") -> Any | None:
    found = _loaded_backends("iam")
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
    s3 = _loaded_backends("s3")
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
            bucket = _loaded_backends("s3")[owner]["global"].buckets.get(name) if owner else None
            return None if bucket is None or not bucket.policy else bucket.policy
        backends_ = _loaded_backends(service)
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


# --- what other modules need of moto's internals -------------------------------------------------

def service_errors() -> tuple[type[BaseException], ...]:
    """The exceptions moto's backends raise for an AWS error (each has ``code`` and ``message``)."""
    with _import_lock:
        from moto.core.exceptions import ServiceException
    return (ServiceException,)


def partition_of(region: str) -> str:
    """The partition of ``region`` as moto reads it (``aws``, ``aws-cn``, ``aws-us-gov``...)."""
    with _import_lock:
        from moto.utilities.utils import get_partition
    return str(get_partition(region))


def key_account(access_key: str) -> str | None:
    """The account moto gives ``access_key`` (moto's default account for a key no IAM or STS of it issued),
    or None while moto's IAM is not loaded: a module still half-initialised in another thread has issued
    no keys."""
    lookup = getattr(sys.modules.get("moto.iam.models"), "get_account_id_from", None)
    return None if lookup is None else str(lookup(access_key))


def s3_request_target(host: str, path: str) -> tuple[str | None, str]:
    """The bucket and key moto's S3 reads off a request's ``Host`` and (unquoted) path: the bucket from a
    dotted Host that is not an endpoint, else from the path."""
    from types import SimpleNamespace
    from urllib.parse import unquote

    with _import_lock:
        from moto.s3.responses import S3Response, parse_key_name
        from moto.s3.utils import bucket_name_from_url
        from moto.s3bucket_path.utils import bucket_name_from_url as path_bucket
        from moto.s3bucket_path.utils import parse_key_name as path_key
    url = f"http://{host}{path}"
    if S3Response.subdomain_based_buckets(SimpleNamespace(headers={"host": host}, url=url)):
        return bucket_name_from_url(url), parse_key_name(unquote(path))
    bucket = path_bucket(url)
    return (unquote(bucket) if bucket else None), path_key(unquote(path))


# --- what runtimes read and write of moto's backends ----------------------------------------------
# One function per use. Some hand out moto's model objects (a service, an alarm): their attributes are
# moto's data, read as moto keeps it; what a runtime writes through a backend's method happens here.

def _ecr_repository(account: str, region: str, name: str, registry_id: str | None) -> Any:
    return _backends("ecr")[account][region]._get_repository(name, registry_id)


def ecr_layers(account: str, region: str, name: str, registry_id: str | None) -> frozenset[str]:
    """The digests of the layers ECR repository ``name`` holds (moto's RepositoryNotFoundException otherwise)."""
    return frozenset(_ecr_repository(account, region, name, registry_id).layers)


def ecr_upload(account: str, region: str, name: str, registry_id: str | None, upload_id: str) -> bytes | None:
    """The bytes uploaded so far to a layer upload of repository ``name``, or None when there is no such upload."""
    upload = _ecr_repository(account, region, name, registry_id).uploads.get(upload_id)
    return None if upload is None else bytes(upload.layer_parts)


def ecr_complete_layer_upload(account: str, region: str, name: str, upload_id: str, digests: list[str],
                              registry_id: str | None) -> dict[str, Any]:
    """moto's CompleteLayerUpload: the upload becomes a layer of repository ``name``."""
    return _backends("ecr")[account][region].complete_layer_upload(name, upload_id, digests, registry_id)


def ecr_put_image(account: str, region: str, name: str, manifest: str, tag: str | None, media_type: str | None,
                  digest: str) -> dict[str, Any]:
    """moto's PutImage (``digest`` is the manifest's): the image as PutImage answers it, without its tag."""
    image = _backends("ecr")[account][region].put_image(name, manifest, tag, media_type, digest)
    return {"registryId": image.registry_id, "repositoryName": image.repository_name,
            "imageDigest": image.image_digest, "imageManifest": image.image_manifest,
            "imageManifestMediaType": image.image_manifest_media_type}


def _everywhere(service: str, collection: str) -> list[tuple[str, str, Any]]:
    """(account, region, item) for every item of ``collection`` (a dict attribute of the backend) in every
    account and region of moto's ``service``; none before moto has loaded that service."""
    found = _loaded_backends(service)
    if found is None:
        return []
    return [(account, region, item) for account, region, backend in list(found.iter_backends())
            for item in list(getattr(backend, collection).values())]


def ecs_services() -> list[tuple[str, str, Any]]:
    """(account, region, service) for every service of moto's ECS; none before moto's ECS is loaded."""
    return _everywhere("ecs", "services")


def ecs_service(account: str, region: str, cluster: str, name: str) -> Any:
    """moto's ECS service ``name`` of ``cluster`` (a cluster's name); KeyError when there is none."""
    return _backends("ecs")[account][region].services[f"{cluster}:{name}"]


def ecs_create_task_set(account: str, region: str, service: str, cluster: str, task_definition: str,
                        **settings: Any) -> Any:
    """moto's CreateTaskSet (``settings``: its keyword arguments); the new task set."""
    return _backends("ecs")[account][region].create_task_set(service, cluster, task_definition, **settings)


def ecs_set_primary_task_set(account: str, region: str, cluster: str, service: str, task_set_arn: str) -> None:
    """moto's UpdateServicePrimaryTaskSet."""
    _backends("ecs")[account][region].update_service_primary_task_set(cluster, service, task_set_arn)


# What the ECS service scheduler writes on moto's services and task sets (under the ECS lock it holds).

def ecs_set_task_definition(holder: Any, task_definition: str) -> None:
    """Point a moto ECS service or task set at ``task_definition`` (an ARN)."""
    holder.task_definition = task_definition


def ecs_set_counts(holder: Any, running: int, pending: int, desired: int | None = None) -> None:
    """Record a moto ECS service's or task set's running and pending tasks (a task set's desired count too)."""
    holder.running_count = running
    holder.pending_count = pending
    if desired is not None:
        holder.computed_desired_count = desired


def ecs_set_stability(task_set: Any, steady: bool, at: Any) -> None:
    """Mark a moto task set STEADY_STATE or STABILIZING, since ``at`` when that is a change."""
    if steady != (task_set.stabilityStatus == "STEADY_STATE"):
        task_set.stabilityStatus = "STEADY_STATE" if steady else "STABILIZING"
        task_set.stabilityStatusAt = at


def ecs_set_scale(task_set: Any, scale: dict[str, Any]) -> None:
    """Set a moto task set's scale (after creating it: moto would otherwise record tasks of its own)."""
    task_set.scale = scale


def ecs_set_deployments(service: Any, deployments: list[dict[str, Any]]) -> None:
    """Replace a moto ECS service's deployments."""
    service.deployments = deployments


def ecs_add_event(service: Any, event: dict[str, Any], keep: int = 100) -> None:
    """Put ``event`` first among a moto ECS service's events, keeping the newest ``keep``."""
    events = getattr(service, "events", None)
    if events is not None:
        events.insert(0, event)
        del events[keep:]


def elbv2_load_balancers() -> list[tuple[str, str, Any]]:
    """(account, region, load balancer) for every load balancer of moto's ELBv2; none before it is loaded."""
    return _everywhere("elbv2", "load_balancers")


def elbv2_target_groups() -> list[tuple[str, str, Any]]:
    """(account, region, target group) for every target group of moto's ELBv2; none before it is loaded."""
    return _everywhere("elbv2", "target_groups")


def elbv2_target_group(arn: str) -> Any | None:
    """moto's target group ``arn`` (whichever account and region holds it), or None."""
    for _account, _region, backend in list(_backends("elbv2").iter_backends()):
        found = backend.target_groups.get(arn)
        if found is not None:
            return found
    return None


def lambda_alias(account: str, region: str, function: str, alias: str) -> Any:
    """moto's alias ``alias`` of Lambda function ``function`` (moto's error when there is none)."""
    return _backends("lambda")[account][region].get_alias(alias, function)


def lambda_function(account: str, region: str, function: str, qualifier: str | None) -> Any:
    """moto's Lambda function ``function`` at version ``qualifier`` (moto's error when there is none)."""
    return _backends("lambda")[account][region].get_function(function, qualifier)


def cloudwatch_alarms() -> list[tuple[str, str, Any]]:
    """(account, region, alarm) for every alarm of moto's CloudWatch; none before it is loaded."""
    return _everywhere("cloudwatch", "alarms")


def cloudwatch_alarm(account: str, region: str, name: str) -> Any | None:
    """moto's alarm ``name``, or None."""
    return _backends("cloudwatch")[account][region].alarms.get(name)


def cloudwatch_metric_data(account: str, region: str) -> list[Any]:
    """The datapoints moto's CloudWatch keeps for ``account`` and ``region``: moto's own list, which only
    grows (a reset gives the account a new one)."""
    return _backends("cloudwatch")[account][region].metric_data


def alarm_update_state(alarm: Any, reason: str, reason_data: str, state: str) -> None:
    """Set a moto alarm's state, as SetAlarmState does (moto records when it changed)."""
    alarm.update_state(reason, reason_data, state)


def sns_subscriptions(account: str, region: str, topic_arn: str) -> list[dict[str, str]]:
    """The subscriptions of SNS topic ``topic_arn``: ``SubscriptionArn``, ``Protocol`` and ``Endpoint`` of each."""
    return [{"SubscriptionArn": s.arn, "Protocol": s.protocol, "Endpoint": s.endpoint}
            for s in list(_backends("sns")[account][region].subscriptions.values()) if s.topic.arn == topic_arn]


# With --upstream: moto objects that stand for resources the upstream keeps.

def role_not_found(name: str) -> Exception:
    """moto IAM's error for a role that does not exist (what its callers expect)."""
    with _import_lock:
        from moto.iam.exceptions import NotFoundException
    return NotFoundException(f"Role {name} not found")


def standing_role(account: str, partition: str, found: dict[str, Any]) -> Any:
    """A moto ``Role`` (not kept in moto) with the name, id, path and trust policy of ``found``, a role as
    IAM's GetRole answers it."""
    with _import_lock:
        from moto.iam.models import Role
    document = found.get("AssumeRolePolicyDocument", "{}")
    return Role(account, partition, found["RoleId"], found["RoleName"],
                document if isinstance(document, str) else json.dumps(document), found.get("Path", "/"),
                None, found.get("Description", ""), found.get("Tags", []), found.get("MaxSessionDuration"))
