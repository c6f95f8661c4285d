"""CodePipeline acting as its service role (issue 20).

Each action execution assumes the pipeline's ``roleArn`` as ``codepipeline.amazonaws.com`` (the role's
trust policy must allow it, with ``aws:SourceArn`` the pipeline's ARN); an action that declares a
``roleArn`` of its own acts as that role, which the pipeline role's session assumes (so that session
needs ``sts:AssumeRole`` on it, or the action role's trust policy must name the pipeline role). Every
call the action makes for the pipeline goes through a client signed with that session, and what AWS
authorizes where labstack makes no call of its own (CodeCommit's archive, a connection, KMS under the
artifact store, StartBuild) is decided by ``labstack.gate.authorize`` for the same session. A denial
fails the action with AWS's wording and the AccessDenied sentence; the sessions end with the action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from labstack.enforcement import policies, roles
from labstack.enforcement.asks import Ask, asks
from labstack.errors import AwsError
from labstack.services.codepipeline.action_job import ActionFailed

if TYPE_CHECKING:
    from labstack.keyring import Identity
    from labstack.services.codepipeline.action_job import ActionJob

SERVICE = "codepipeline.amazonaws.com"
DENIED_CODES = ("AccessDenied", "AccessDeniedException", "AuthorizationError")


def decided(labstack: Any) -> bool:
    """False where labstack cannot act as roles: LABSTACK_IAM=off, or IAM served by the upstream
    (``--upstream``: the roles live there, out of labstack's evaluator's reach). Then CodePipeline acts
    with labstack's own keys, as before issue 20."""
    return labstack.gate.mode != "off"  # off too when IAM is served by the upstream


def declared_roles(declaration: dict) -> list[tuple[str, str]]:
    """The roles a pipeline declaration's actions and condition rules name, each once, with what names
    them ("action" or "rule")."""
    stages = declaration.get("stages", [])
    found = [("action", a.get("roleArn")) for s in stages for a in s.get("actions", [])]
    found += [("rule", r.get("roleArn")) for s in stages for kind in ("beforeEntry", "onSuccess", "onFailure")
              for c in (s.get(kind) or {}).get("conditions") or [] for r in c.get("rules") or []]
    return list(dict.fromkeys((kind, arn) for kind, arn in found if arn))


def check_roles(labstack: Any, region: str, pipeline_arn: str, declaration: dict) -> None:
    """CreatePipeline and UpdatePipeline: InvalidStructureException, as AWS answers, when CodePipeline
    cannot assume the pipeline's role or that role's session cannot assume an action's or a rule's role."""
    if not decided(labstack):
        return
    role = declaration["roleArn"]
    try:
        session = roles.assume(labstack, SERVICE, role, "codepipeline:check", source_arn=pipeline_arn, seconds=60)
    except roles.RoleRefused:
        raise AwsError("InvalidStructureException", f"CodePipeline is not authorized to perform AssumeRole on role {role}") from None
    try:
        for kind, declared in declared_roles(declaration):
            if _refusal(labstack, session, declared, region) is not None:
                raise AwsError("InvalidStructureException",
                               f"Pipeline role {role} is not authorized to perform AssumeRole on {kind} role {declared}")
    finally:
        _end(labstack, session)


def start(job: "ActionJob") -> None:
    """Give ``job`` the session it acts as: the pipeline role's, or its own role's assumed by that one.
    Raises ActionFailed (AWS's sentence) when a role cannot be assumed. (Where roles are not
    :func:`decided`, the job keeps no session and acts with labstack's own keys.)"""
    labstack = job.labstack
    if not decided(labstack):
        return
    session = job.identity = _pipeline_session(job, job.session_id)
    action_role = job.declaration.get("roleArn")
    if action_role:
        refused = _refusal(labstack, session, action_role, job.region)
        if refused is not None:
            raise ActionFailed(refused)
        job.identity = labstack.keyring.issue(job.account, f"codepipeline:{job.session_id}",
                                              role_arn=action_role)
        job.sessions.append(job.identity)


def worker_session(job: "ActionJob", job_id: str) -> "Identity":
    """The ``artifactCredentials`` of a job for a worker: a session of the pipeline's role (the
    worker reads and writes the artifacts as the pipeline would), ended with the action."""
    if not decided(job.labstack):
        session = job.labstack.keyring.issue(job.account, f"codepipeline:{job_id}")
        job.sessions.append(session)
        return session
    return _pipeline_session(job, job_id)


def _pipeline_session(job: "ActionJob", name: str) -> "Identity":
    """A session of the pipeline's role for ``job`` (kept in ``job.sessions``), as CodePipeline assumes it;
    ActionFailed with AWS's sentence when it may not."""
    try:
        session = roles.assume(job.labstack, SERVICE, job.execution.declaration["roleArn"], f"codepipeline:{name}",
                               source_arn=job.pipeline.arn)
    except roles.RoleRefused as exc:
        raise ActionFailed(str(exc)) from None
    job.sessions.append(session)
    return session


def end(job: "ActionJob") -> None:
    """Revoke the action's sessions (and drop their clients)."""
    for session in job.sessions:
        _end(job.labstack, session)
    job.sessions.clear()


def _end(labstack: Any, session: "Identity") -> None:
    labstack.keyring.revoke(session.access_key)
    labstack.clients.forget(session.access_key)


def _refusal(labstack: Any, session: "Identity", role_arn: str, region: str) -> str | None:
    """Why ``session`` (the pipeline role's) may not assume the action role ``role_arn``; None if it may."""
    sentence = f"{session.session_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return f"{sentence}: it is not the ARN of an IAM role"
    if policies.trust(parts[4], parts[5].rpartition("/")[2], parts[1]) is None:
        return f"{sentence}: the role does not exist" if labstack.gate.mode == "enforce" else None
    decision = labstack.gate.authorize(session, Ask("sts:AssumeRole", role_arn, resource_account=parts[4]),
                                       region, "codepipeline assumes an action role")
    return None if decision is None or decision.allowed else decision.message()


def authorize(job: "ActionJob", service: str, operation: str, params: dict[str, Any], failure: Any,
              resource: str | None = None, context: dict[str, Any] | None = None,
              identity: "Identity | None" = None) -> None:
    """What AWS authorizes for the action's session (or ``identity``, another session acting for the action,
    such as its build's) where labstack makes no call of its own: the asks of ``operation`` (on ``resource``
    where the table's is broader than AWS's, with ``context`` added). A denial raises ``failure(sentence)``
    (an ActionFailed in AWS's words for that service)."""
    identity = identity or job.identity
    if identity is None:  # roles are not decided here
        return
    found = asks(service, operation, params, job.account, job.region)
    if resource is not None or context:
        found = [Ask(a.action, resource or a.resource, {**a.context, **(context or {})},
                     _account_of(resource) if resource else a.resource_account) for a in found]
    for ask in found:
        decision = job.labstack.gate.authorize(identity, ask, job.region, f"{service}.{operation}")
        if decision is not None and not decision.allowed:
            raise failure(decision.message())


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return (parts[4] or None) if len(parts) > 4 else None


def denial(exc: ClientError) -> str | None:
    """The AccessDenied sentence of a call the session was refused; None for any other error."""
    error = exc.response.get("Error", {})
    return error.get("Message") or str(exc) if error.get("Code") in DENIED_CODES else None


def insufficient(service: str) -> Any:
    """ActionFailed in the words CodePipeline uses when its role may not use ``service``."""
    def failed(sentence: str) -> ActionFailed:
        return ActionFailed(f"The provided role does not have sufficient permissions to access {service}: {sentence}")
    return failed


def artifact_store(sentence: str) -> ActionFailed:
    """ActionFailed in CodePipeline's words for a denied artifact read or write (S3 and its KMS key)."""
    return ActionFailed("Insufficient permissions The provided role does not have permissions to perform this action. "
                        f"Underlying error: {sentence}")


def refused(exc: ClientError, service: str, worded: Any = None) -> ActionFailed | None:
    """For a call the session was denied: ActionFailed in CodePipeline's insufficient-permissions words
    (``worded``, default :func:`insufficient` for ``service``); None for any other error."""
    sentence = denial(exc)
    return None if sentence is None else (worded or insufficient(service))(sentence)


def failed_call(exc: ClientError, service: str, otherwise: str, worded: Any = None) -> ActionFailed:
    """ActionFailed for a call the action made: :func:`refused` for a denial, else ``otherwise`` with
    the service's error."""
    error = exc.response.get("Error", {})
    return refused(exc, service, worded) or ActionFailed(
        f"{otherwise}: {error.get('Code', 'Error')}: {error.get('Message', str(exc))}")
