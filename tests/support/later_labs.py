"""Mutation tests of labs 04–06's checks: grade a few checks, and change one resource of a solved account
for the length of a ``with`` block, putting it back afterwards (so tests do not depend on their order)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from grader import catchup
from grader.backends import LabSession
from grader.checks import lab03, lab04, lab05, lab06
from grader.policies import document
from grader.results import CheckResult
from tests.support.grading import session_for
from tests.support.mutations import assert_breaks, deployment_group_changed, results
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

# The fields of DescribeAlarms that PutMetricAlarm takes back.
ALARM_FIELDS = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
                "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


# A policy a learner might attach to "make it work": every action on every resource.
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

_GROWN: dict[str, LabSession] = {}


def solved_through(labstack: LabstackProcess, lab: int) -> LabSession:
    """One account per labstack where catch-up ran the solutions of labs 01 to ``lab`` at least. The modules
    of labs 02–07 share it, each asking for the labs it grades: catch-up adds only what is missing, so a module
    may find later labs done too. Tests must put back what they change. Those modules name the xdist group
    ``solved-account``, so that one worker grows it (tests/support/scheduling.py)."""
    if labstack.endpoint not in _GROWN:
        _GROWN[labstack.endpoint] = session_for(labstack)
    catchup.catch_up(lab + 1, _GROWN[labstack.endpoint], say=lambda _line: None)
    return _GROWN[labstack.endpoint]


@dataclass(frozen=True)
class HandRun:
    """The account of the ``hand_run`` fixture, and how its checks stood before its pipeline was started by hand."""

    session: LabSession
    before_start: dict[str, CheckResult]


@dataclass(frozen=True)
class AlarmStops:
    """The account of the ``alarm_stops`` fixture, and how lab 06's checks stood on the way there: after
    the first stop (no rollback), with v3 still on main, and with the fix on main but not shipped."""

    session: LabSession
    without_rollback: dict[str, CheckResult]
    still_v3: dict[str, CheckResult]
    fix_not_shipped: dict[str, CheckResult]


def assert_fails(session: LabSession, lab: ModuleType, broken: str, *found: str, still: tuple[str, ...] = ()) -> None:
    """:func:`assert_breaks` (``still`` intact), and the broken check's message says each of ``found``."""
    message = assert_breaks(session, lab, broken, still).message
    for text in found:
        assert text in message, message


def assert_failed(result: CheckResult, lab: ModuleType, *found: str) -> None:
    """``result`` (of one of ``lab``'s checks, kept from an earlier state) is ✗ with the check's hint and a
    message saying each of ``found``."""
    assert (result.passed, result.hint) == (False, next(c.hint for c in lab.CHECKS if c.id == result.id)), result
    for text in found:
        assert text in result.message, result.message


def assert_passes(session: LabSession, lab: ModuleType, *ids: str) -> None:
    """Each of ``ids`` is ✓ (the state is back where the solution left it)."""
    for result in results(session, lab, ids).values():
        assert result.passed, result


def assert_solved(session: LabSession, lab: ModuleType) -> None:
    """Every check of ``lab`` passes in ``session``'s account, and names what it grades: keys of the lab's
    ``names(session)``."""
    names = lab.names(session)
    for check in lab.CHECKS:
        assert check.uses and set(check.uses) <= set(names), (check.id, check.uses)
    assert_passes(session, lab, *(c.id for c in lab.CHECKS))


# --- changes that are put back --------------------------------------------------------------------

@contextmanager
def pipeline_changed(session: LabSession, change: Callable[[dict[str, Any]], None],
                     name: str = lab04.PIPELINE) -> Iterator[dict[str, Any]]:
    """The declaration of pipeline ``name`` (the lab's) as ``change`` leaves a copy of it, then the original again."""
    client = session.client("codepipeline")
    original = client.get_pipeline(name=name)["pipeline"]
    changed = copy.deepcopy(original)
    change(changed)
    client.update_pipeline(pipeline={k: v for k, v in changed.items() if k != "version"})
    try:
        yield changed
    finally:
        client.update_pipeline(pipeline={k: v for k, v in original.items() if k != "version"})


def action_of(declaration: dict[str, Any], stage_name: str, action_name: str | None = None) -> dict[str, Any]:
    """An action of a declaration: the stage's first, or the one called ``action_name``."""
    actions = lab04.stage(declaration, stage_name)["actions"]
    return next(a for a in actions if action_name in (None, a["name"]))


def policy_document(session: LabSession, role: str, name: str) -> dict[str, Any]:
    """The inline policy ``name`` of ``role`` as a dict."""
    return document(session.client("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])


@contextmanager
def staging_definition(session: LabSession, change: Callable[[dict[str, Any]], None]) -> Iterator[str]:
    """The staging service on a new revision of its task definition as ``change`` leaves a copy of the
    container definitions; afterwards the service is back on its revision and the new one deregistered."""
    ecs = session.client("ecs")
    service = ecs.describe_services(cluster=lab04.CLUSTER, services=[lab04.STAGING_SERVICE])["services"][0]
    current = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    containers = copy.deepcopy(current["containerDefinitions"])
    change(containers)
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory")
    arn = ecs.register_task_definition(**{k: current[k] for k in keep if current.get(k)},
                                       containerDefinitions=containers)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=lab04.CLUSTER, service=lab04.STAGING_SERVICE, taskDefinition=arn)
    try:
        yield arn
    finally:
        ecs.update_service(cluster=lab04.CLUSTER, service=lab04.STAGING_SERVICE, taskDefinition=service["taskDefinition"])
        ecs.deregister_task_definition(taskDefinition=arn)


@contextmanager
def production_primary(session: LabSession, task_definition: str) -> Iterator[None]:
    """Production's primary task set one that runs ``task_definition``, then its own again (the other deleted)."""
    ecs = session.client("ecs")
    service = ecs.describe_services(cluster=lab03.CLUSTER, services=[lab03.SERVICE])["services"][0]
    primary = next(s for s in service["taskSets"] if s["status"] == "PRIMARY")
    other = ecs.create_task_set(cluster=lab03.CLUSTER, service=lab03.SERVICE, taskDefinition=task_definition,
                                launchType="FARGATE", networkConfiguration=primary["networkConfiguration"],
                                scale={"value": 0, "unit": "PERCENT"})["taskSet"]
    ecs.update_service_primary_task_set(cluster=lab03.CLUSTER, service=lab03.SERVICE, primaryTaskSet=other["taskSetArn"])
    try:
        yield
    finally:
        ecs.update_service_primary_task_set(cluster=lab03.CLUSTER, service=lab03.SERVICE, primaryTaskSet=primary["taskSetArn"])
        ecs.delete_task_set(cluster=lab03.CLUSTER, service=lab03.SERVICE, taskSet=other["taskSetArn"], force=True)


def alarm_settings(session: LabSession) -> dict[str, Any]:
    """Lab 06's alarm as PutMetricAlarm takes it."""
    alarm = session.client("cloudwatch").describe_alarms(AlarmNames=[lab06.ALARM])["MetricAlarms"][0]
    return {k: alarm[k] for k in ALARM_FIELDS if alarm.get(k) not in (None, [])}


@contextmanager
def alarm_changed(session: LabSession, **changes: Any) -> Iterator[None]:
    """Lab 06's alarm put again with ``changes`` (a value None leaves the field out), then as it was,
    back to OK (as the solution leaves it: no 5xx since)."""
    cloudwatch = session.client("cloudwatch")
    original = alarm_settings(session)
    changed = {k: v for k, v in {**original, **changes}.items() if v is not None}
    cloudwatch.put_metric_alarm(**changed)
    try:
        yield
    finally:
        cloudwatch.put_metric_alarm(**original)
        wait_for(lambda: cloudwatch.describe_alarms(AlarmNames=[lab06.ALARM])["MetricAlarms"][0]["StateValue"] == "OK")


def group_changed(session: LabSession, **changes: Any) -> AbstractContextManager[dict[str, Any]]:
    """Lab 03's deployment group updated with ``changes``, then with what it had."""
    return deployment_group_changed(session, lab05.APPLICATION, lab05.DEPLOYMENT_GROUP, **changes)
