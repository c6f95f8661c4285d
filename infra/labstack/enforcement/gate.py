"""The one enforcement point: every signed AWS call of an IAM principal is decided before it is served.

Who is evaluated (``LABSTACK_IAM=enforce``, the default):
- an IAM user's access keys and a role session's keys (moto's STS issued them);
- a service acting as its service role (a build, a pipeline, a deployment, a task, a function), whose
  keys labstack issued as a session of that role (``enforcement.roles``).
The account's root user (``test``, a 12-digit key, a learner's own key in class mode) may do
everything, as a fresh account's administrator can; labstack's own engine keys do the service's own
bookkeeping. ``report`` lets a denial through and records it (and logs a warning); ``off`` decides
nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from labstack import motobridge
from labstack.enforcement import policies
from labstack.enforcement.asks import NEEDS, PREFIXES, Ask, asks
from labstack.enforcement.stream import Entry
from labstack.errors import JSON, REST_JSON, AwsError
from labstack.iampolicy import EXPLICIT_DENY, IMPLICIT_DENY, Decision, Principal, Request, evaluate
from labstack.keyring import Identity
from labstack.signatures import AuthFailure

if TYPE_CHECKING:
    from labstack.context import RequestContext
    from labstack.instance import Labstack

log = logging.getLogger("labstack.iam")
_MAX_CACHED = 10_000


class Gate:
    """Decides calls against ``labstack.iampolicy``; remembers each key's principal until reset."""

    def __init__(self, labstack: "Labstack") -> None:
        self.labstack = labstack
        self._lock = threading.Lock()
        self._principals: dict[str, Principal | None] = {}
        labstack.hooks.on_reset(self.forget)

    @property
    def mode(self) -> str:
        """``LABSTACK_IAM``; ``off`` when IAM is consumed from an upstream LocalStack (its policies are
        not labstack's to read, and LocalStack's free edition decides nothing)."""
        if self.labstack.clients.upstream_serves("iam"):
            return "off"
        return self.labstack.settings.iam_mode

    def forget(self) -> None:
        with self._lock:
            self._principals.clear()

    def principal(self, identity: Identity | None) -> Principal | None:
        """The IAM principal behind a key, or None for one that is not evaluated (root, labstack's own)."""
        if identity is None or identity.internal:
            return None
        if identity.role_arn is not None:
            return Principal.from_arn(identity.session_arn or "", identity.role_arn)
        if identity.name != "iam":
            return None  # keys labstack issued to a service without a role (LABSTACK_IAM=off)
        with self._lock:
            if identity.access_key in self._principals:
                return self._principals[identity.access_key]
        held = motobridge.key_holder(identity.access_key)
        if held is None:  # its user was deleted: the key is gone with it
            raise AuthFailure("unknown", "the access key's user no longer exists")
        found = Principal.from_arn(held["arn"], held.get("roleArn"))
        with self._lock:
            if len(self._principals) >= _MAX_CACHED:
                self._principals.clear()
            self._principals[identity.access_key] = found
        return found

    def not_the_learner(self, identity: Identity | None) -> bool:
        """Whether ``identity`` is an IAM user's key or one a build, task or function runs with: such keys reach
        the AWS APIs, where IAM decides, but not the doors that stand for the learner (the console and
        labstack's own endpoints in class mode, the local GitHub). The learner's own keys, and a role
        session assumed through STS (the grader's catch-up), are the learner's."""
        principal = self.principal(identity)
        return principal is not None and identity is not None and (
            principal.kind == "user" or identity.role_arn is not None)

    def check(self, ctx: "RequestContext", identity: Identity | None, operation: str | None,
              params: dict[str, Any], protocol: str, source_ip: str = "",
              unclear: Callable[[], str | None] | None = None) -> None:
        """Raise AWS's AccessDenied when the caller may not make this call (``enforce``). A call of an
        evaluated principal whose operation the gate cannot read, or that may be read as another
        (``unclear()`` says how: ``enforcement.reading``), is refused: nothing is served undecided."""
        if self.mode == "off":
            return
        principal = self.principal(identity)
        if principal is None:
            return
        why = unclear() if unclear is not None else None
        if not operation or not ctx.service or why:
            raise unreadable(principal, ctx.service or "", operation, why, protocol)
        unlisted = operation not in NEEDS.get(PREFIXES.get(ctx.service, ctx.service), {})
        for ask in asks(ctx.service, operation, params, ctx.account, ctx.region):
            decision = self.decide(principal, ask, ctx.region, _context(ctx, source_ip))
            if unlisted and decision.allowed:
                decision = _resource_blind_deny(decision) or decision
            self._record(principal, ask, decision, f"{ctx.service}.{operation}")
            if not decision.allowed and self.mode == "enforce":
                raise denied(decision, ctx.service, protocol)

    def authorize(self, identity: Identity | Principal, ask: Ask, region: str, source: str) -> Decision | None:
        """An engine's own question (may this build's role read that object?), or a door's that is no AWS
        API call (a git push signed in with an IAM user's HTTPS Git credentials, a ``Principal``): the
        decision, recorded, or None when the caller is not evaluated. The caller acts on
        ``decision.allowed``; in ``report`` mode a denial comes back allowed (and recorded)."""
        if self.mode == "off":
            return None
        principal = identity if isinstance(identity, Principal) else self.principal(identity)
        if principal is None:
            return None
        decision = self.decide(principal, ask, region, {"aws:RequestedRegion": region})
        self._record(principal, ask, decision, source)
        if not decision.allowed and self.mode == "report":
            return Decision(decision.request, "allowed", "", detail=f"report mode: {decision.explain()}")
        return decision

    def decide(self, principal: Principal, ask: Ask, region: str, context: dict[str, Any]) -> Decision:
        """The decision for one ask: the principal's identity policies and the resource's own policy."""
        request = Request(principal, ask.action, ask.resource, {**context, **ask.context},
                          ask.resource_account or _bucket_owner(ask))
        identity = policies.identity(principal)
        if identity is None:
            gone = principal.role_arn or principal.arn
            return Decision(request, IMPLICIT_DENY, f"because no identity-based policy allows the {ask.action} action",
                            detail=f"{gone} no longer exists")
        return evaluate(request, identity, policies.resource(ask.action, ask.resource, principal.account or "", region))

    def _record(self, principal: Principal, ask: Ask, decision: Decision, source: str) -> None:
        enforced = self.mode == "enforce"
        self.labstack.policy_stream.add(principal.account or "", Entry(
            time=time.time(), principal=principal.arn, role=principal.role_arn, action=ask.action,
            resource=ask.resource, decision=decision.decision, enforced=enforced, explanation=decision.explain(),
            source=source))
        if not decision.allowed and not enforced:
            log.warning("LABSTACK_IAM=report let through: %s (%s)", decision.message(), decision.explain())


def denied(decision: Decision, service: str, protocol: str) -> AwsError:
    """AWS's AccessDenied for ``decision``: ``AccessDeniedException`` for JSON services (status 400 for
    JSON 1.0/1.1, 403 for REST), ``AccessDenied`` 403 for query services and S3."""
    return denied_with(decision.message(), service, protocol)


def denied_with(message: str, service: str, protocol: str) -> AwsError:
    """AWS's AccessDenied error of ``service``'s protocol, saying ``message``."""
    if protocol == JSON:
        return AwsError("AccessDeniedException", message, 400)
    if protocol == REST_JSON and service != "s3":
        return AwsError("AccessDeniedException", message, 403)
    return AwsError("AccessDenied", message, 403)


def unreadable(principal: Principal, service: str, operation: str | None, unclear: str | None,
               protocol: str) -> AwsError:
    """The refusal of a call the gate cannot decide, in the shape of ``denied``."""
    action = f"{service or '?'}:{operation or '?'}"
    why = unclear or f"labstack cannot tell which {service or 'AWS'} operation this request calls"
    return denied_with(f"User: {principal.arn} is not authorized to perform: {action} because {why}", service, protocol)


def _resource_blind_deny(allowed: Decision) -> Decision | None:
    """For an operation the table of asks lacks (asked on ``*``: its resource is unknown), the explicit deny
    of a statement that denies the action on any resource, conditions holding; None if there is none. A
    Deny of ``iam:*`` on one user must not let a call through only because labstack cannot name its user."""
    found = policies.identity(allowed.request.principal) or []
    denies = [replace(policy, statements=tuple(replace(statement, resources=("*",), negate_resources=False)
                                               for statement in policy.statements if statement.effect == "Deny"))
              for policy in found]
    decision = evaluate(allowed.request, [policy for policy in denies if policy.statements])
    if decision.decision != EXPLICIT_DENY:
        return None
    return replace(decision, detail=f"{allowed.request.action} is not in labstack's table of what calls ask for, so "
                                    "its resource is unknown: a Deny of the action on any resource applies")


def _context(ctx: "RequestContext", source_ip: str) -> dict[str, Any]:
    """The global condition keys AWS sets on every request (labstack serves HTTP on the loopback;
    ``aws:SecureTransport`` says what AWS's HTTPS endpoints would)."""
    now = time.time()
    return {"aws:RequestedRegion": ctx.region, "aws:SecureTransport": True, "aws:SourceIp": source_ip or None,
            "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "aws:EpochTime": int(now)}


def _bucket_owner(ask: Ask) -> str | None:
    if not ask.resource.startswith("arn:aws:s3:::") or ask.resource == "arn:aws:s3:::*":
        return None
    return motobridge.bucket_owner(ask.resource[len("arn:aws:s3:::"):].split("/", 1)[0])
