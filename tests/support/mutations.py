"""Mutation tests of a lab's checks: the lab's correct state built once, one property broken the way a
learner might break it, and that check expected to fail with its hint while the others stay green.

A test module marks each test with the checks it breaks (``@breaks("id", …)``) and asserts with
:func:`uncovered` that every check of its lab is broken by some test; state shared by a module is
built once per labstack and account by :func:`solved_account` and put back by :func:`mutation`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

from grader import catchup, checks
from grader.backends import LabSession
from grader.results import CheckResult
from tests.support.grading import session_for
from tests.support.server import LabstackProcess

F = TypeVar("F", bound=Callable[..., Any])

_SOLVED: dict[tuple[str, int], LabSession] = {}


def solved(labstack: LabstackProcess, through: int) -> LabSession:
    """A new account on ``labstack`` where catch-up built labs 1..``through`` from their solutions (catch-up
    raises unless every check of each, hidden ones included, then passes)."""
    session = session_for(labstack)
    catchup.catch_up(through + 1, session, say=lambda _line: None)
    return session


def solved_account(labstack: LabstackProcess, through: int) -> LabSession:
    """Like :func:`solved`, but one account per labstack and lab, shared by every test module that asks:
    tests that change it must put back what they changed (see :func:`mutation`)."""
    key = (labstack.endpoint, through)
    if key not in _SOLVED:
        _SOLVED[key] = solved(labstack, through)
    return _SOLVED[key]


@contextmanager
def mutation(undo: Callable[[], object]) -> Iterator[None]:
    """Run the body (which breaks something), then ``undo`` whatever happened in the body."""
    try:
        yield
    finally:
        undo()


@contextmanager
def project_changed(session: LabSession, name: str, **settings: Any) -> Iterator[dict[str, Any]]:
    """CodeBuild project ``name`` updated with ``settings`` for the body (which gets the project as it was),
    then updated back."""
    codebuild = session.client("codebuild")
    before = codebuild.batch_get_projects(names=[name])["projects"][0]
    with mutation(lambda: codebuild.update_project(name=name, **{key: before[key] for key in settings})):
        codebuild.update_project(name=name, **settings)
        yield before


@contextmanager
def deployment_group_changed(session: LabSession, application: str, group: str, **changes: Any) -> Iterator[dict[str, Any]]:
    """CodeDeploy deployment group ``group`` of ``application`` updated with ``changes`` for the body (which
    gets the group as it was), then updated back."""
    codedeploy = session.client("codedeploy")
    before = codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=group)["deploymentGroupInfo"]
    where = {"applicationName": application, "currentDeploymentGroupName": group}
    with mutation(lambda: codedeploy.update_deployment_group(**where, **{key: before[key] for key in changes})):
        codedeploy.update_deployment_group(**where, **changes)
        yield before


@contextmanager
def role_policy(session: LabSession, role: str, name: str, policy: dict[str, Any] | None) -> Iterator[None]:
    """The inline policy ``name`` of ``role`` replaced (or added) with ``policy``, or deleted if None, for the
    body; then put back as it was (or deleted, if it was not there)."""
    iam = session.client("iam")
    try:
        before = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        before = None

    def put(document: dict[str, Any] | None) -> None:
        if document is not None:
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
            return
        try:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        except iam.exceptions.NoSuchEntityException:
            pass

    with mutation(lambda: put(before)):
        put(policy)
        yield


def results(session: LabSession, lab: ModuleType, ids: Iterable[str]) -> dict[str, CheckResult]:
    """The results of the checks ``ids`` of the checks module ``lab`` against ``session``, by id."""
    report = checks.run(lab.TITLE, session, checks.select(lab.CHECKS, tuple(ids), hidden=True))
    return {r.id: r for r in report.results}


def assert_breaks(session: LabSession, lab: ModuleType, broken: str, intact: Iterable[str] = ()) -> CheckResult:
    """Assert that check ``broken`` fails with its own hint and a message, and each other check of ``intact``
    (say, every check of its graded cell) passes; return the broken check's result (its message is worth
    asserting on too)."""
    intact = tuple(i for i in intact if i != broken)
    found = results(session, lab, (broken, *intact))
    hint = next(c.hint for c in lab.CHECKS if c.id == broken)
    failed = found[broken]
    assert (failed.passed, failed.hint) == (False, hint), failed
    assert failed.message and "the check itself failed" not in failed.message, failed
    assert [r for i, r in found.items() if i != broken and not r.passed] == []
    return failed


def breaks(*ids: str) -> Callable[[F], F]:
    """Mark a test as one that breaks the checks ``ids`` (read by :func:`uncovered`)."""
    def mark(test: F) -> F:
        test.breaks = ids  # type: ignore[attr-defined]
        return test
    return mark


def uncovered(lab: ModuleType, namespace: dict[str, Any]) -> set[str]:
    """The checks of ``lab`` that no test in ``namespace`` (a test module's globals) is marked to break."""
    marked = {i for value in namespace.values() for i in getattr(value, "breaks", ())}
    return {c.id for c in lab.CHECKS} - marked
