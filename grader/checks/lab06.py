"""Lab 06, alarm rollback: a CloudWatch alarm on the load balancer's target 5xx *rate* (metric math: 5xx per
100 requests), tried on model minutes (a bad canary must fire it, a healthy or noisy minute must not), the
deployment group's alarm configuration and automatic rollback, the faulty v3 stopped by the alarm, and a fix forward."""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import partial
from typing import Any

from labstack.runtimes.alarms.metricmath import Unsupported, compute, parse

from grader.backends import LabSession
from grader.checks import Check, Fail, found, lab01, lab04, lab05
from grader.checks import check as _check

TITLE = "Lab 06 · Alarm rollback"
NOTEBOOK = "06_alarm_rollback"

ALARM = "sample-app-5xx"
NAMESPACE = "AWS/ApplicationELB"
METRIC = "HTTPCode_Target_5XX_Count"
REQUESTS = "RequestCount"
ROLLBACK_EVENT = "DEPLOYMENT_STOP_ON_ALARM"
STATISTIC, PERIOD = "Sum", 60
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge, "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le}
# Model minutes the alarm's design is tried on, as (requests, 5xx; None: no 5xx datapoint that minute, as the
# load balancer publishes none). v3's canary: 10 % of the traffic reaches a version that fails one request in three.
BAD_CANARY = (300, 10)
HEALTHY = (300, None)
NOISE = (3000, 1)  # one 5xx among thousands: what an alarm on the count pages for

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 06 asks for, for this session's account (with those it uses from labs 01–05)."""
    return {**lab05.names(session), "alarm": ALARM}


def _alarm(session: LabSession, name: str = ALARM) -> dict[str, Any]:
    alarms = session.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not alarms:
        raise Fail(f"there is no metric alarm {name}")
    return dict(alarms[0])


def _group(session: LabSession) -> dict[str, Any]:
    return found(lambda: session.client("codedeploy").get_deployment_group(
        applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP)["deploymentGroupInfo"],
        f"there is no deployment group {lab05.APPLICATION}/{lab05.DEPLOYMENT_GROUP} (lab 03)")


def balancer_dimension(session: LabSession) -> str:
    """The ``LoadBalancer`` dimension of lab 03's load balancer in CloudWatch: ``app/<name>/<id>``."""
    arn = session.client("elbv2").describe_load_balancers(Names=[lab05.LOAD_BALANCER])["LoadBalancers"][0]["LoadBalancerArn"]
    return str(arn.split(":loadbalancer/", 1)[1])


# --- the alarm ----------------------------------------------------------------------------------

def _stats(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The alarm's MetricStat queries by metric name."""
    return {q["MetricStat"]["Metric"].get("MetricName", ""): q for q in alarm.get("Metrics", []) if q.get("MetricStat")}


def _returned(alarm: dict[str, Any]) -> dict[str, Any]:
    returned = [q for q in alarm.get("Metrics", []) if q.get("ReturnData", True)]
    if len(returned) != 1 or not returned[0].get("Expression"):
        raise Fail(f"{ALARM} should return exactly one query, the expression of the rate "
                   f"(ReturnData false on the others); it returns {[q['Id'] for q in returned]}")
    return returned[0]


@check("alarm-exists", 2, f"A metric math alarm {ALARM}: two queries of {NAMESPACE}, {METRIC} and {REQUESTS}, "
       f"each the {STATISTIC} over {PERIOD} seconds with ReturnData false, and one expression returning the "
       "error rate (5xx per 100 requests); one evaluation period.", uses=("alarm",))
def alarm_exists(session: LabSession) -> str:
    alarm = _alarm(session)
    if not alarm.get("Metrics"):
        raise Fail(f"{ALARM} watches the count {alarm.get('Namespace')} {alarm.get('MetricName')} alone: design the "
                   "error rate with metric math (Metrics)")
    stats = _stats(alarm)
    for name in (METRIC, REQUESTS):
        query = stats.get(name)
        if query is None:
            raise Fail(f"{ALARM}'s queries read {sorted(stats)}, not {METRIC} and {REQUESTS}")
        stat = query["MetricStat"]
        if (stat["Metric"].get("Namespace"), stat.get("Stat"), stat.get("Period")) != (NAMESPACE, STATISTIC, PERIOD):
            raise Fail(f"{ALARM} reads {stat['Metric'].get('Namespace')} {name} as the {stat.get('Stat')} over "
                       f"{stat.get('Period')} s, not {NAMESPACE}'s {STATISTIC} over {PERIOD} s")
    expression = _returned(alarm)["Expression"]
    periods = (alarm.get("EvaluationPeriods"), alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods"))
    if periods != (1, 1):
        raise Fail(f"{ALARM} needs {periods[1]} of {periods[0]} periods to breach: a short canary is over before that")
    return (f"{ALARM}: {expression} {alarm.get('ComparisonOperator')} {alarm.get('Threshold', 0):g}, "
            f"now {alarm['StateValue']}")


@check("alarm-covers-both-groups", 2, "Blue/green moves production between two target groups, so the alarm must "
       "see 5xx from either: both queries watch the load balancer as a whole (dimension LoadBalancer only), and "
       "missing data is not breaching.", hidden=True, uses=("alarm",))
def alarm_covers_both_groups(session: LabSession) -> str:
    alarm = _alarm(session)
    wanted = balancer_dimension(session)
    queries = _stats(alarm).values() or [{"MetricStat": {"Metric": alarm}}]
    for query in queries:
        metric = query["MetricStat"]["Metric"]
        dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        if dims != {"LoadBalancer": wanted}:
            raise Fail(f"{ALARM}'s {metric.get('MetricName')} dimensions are {dims}, not the load balancer {wanted} alone")
    if alarm.get("TreatMissingData") != "notBreaching":
        raise Fail(f"missing data counts as {alarm.get('TreatMissingData', 'missing')}: a minute without requests "
                   "has no 5xx either")
    return f"{ALARM} sees every target group behind {lab05.LOAD_BALANCER}"


def fires(alarm: dict[str, Any], requests: float, errors: float | None) -> tuple[float | None, bool]:
    """The value a metric math alarm computes for a minute of ``requests`` with ``errors`` 5xx (None: no 5xx
    datapoint), and whether that minute breaches it (a missing value never does: missing data not breaching)."""
    stats = _stats(alarm)
    values = {q["Id"]: {METRIC: errors, REQUESTS: float(requests)}.get(name) for name, q in stats.items()}
    queries = {q["Id"]: q for q in alarm.get("Metrics", [])}
    try:
        for _ in queries:  # expressions may use one another: computed as often as there are queries, all settle
            for query_id, query in queries.items():
                if query.get("Expression"):
                    values[query_id] = compute(parse(query["Expression"], set(queries)), values)
    except Unsupported as exc:
        raise Fail(f"the kit cannot evaluate {ALARM}'s metric math: {exc}") from None
    value = values.get(_returned(alarm)["Id"])
    compare = COMPARISONS.get(alarm.get("ComparisonOperator", ""))
    threshold = alarm.get("Threshold")
    return value, bool(value is not None and compare and threshold is not None and compare(value, threshold))


@check("alarm-catches-a-bad-canary", 2, "Try the alarm's design before a release does: a minute of v3's canary "
       f"({BAD_CANARY[1]} 5xx in {BAD_CANARY[0]} requests, 3.3 %: 10 % of the traffic to a version failing one "
       "request in three) must breach it; a healthy minute (no 5xx) and a noisy one (one 5xx in "
       f"{NOISE[0]}) must not. Mind how the canary's 10 % dilutes the rate.", uses=("alarm",))
def alarm_catches_a_bad_canary(session: LabSession) -> str:
    alarm = _alarm(session)
    if not alarm.get("Metrics"):
        raise Fail(f"{ALARM} is no metric math alarm yet")
    _returned(alarm)
    said = f"{alarm.get('ComparisonOperator')} {alarm.get('Threshold', 0):g}"
    value, breached = fires(alarm, *BAD_CANARY)
    if not breached:
        raise Fail(f"in a minute of a bad canary ({BAD_CANARY[1]} 5xx in {BAD_CANARY[0]} requests) the alarm computes "
                   f"{'nothing' if value is None else f'{value:.3g}'}, and {said} does not breach: v3 would reach production")
    for minute, what in ((HEALTHY, "a healthy minute (no 5xx)"), (NOISE, f"one 5xx in {NOISE[0]} requests")):
        quiet, noisy = fires(alarm, *minute)
        if noisy:
            raise Fail(f"{what} gives {quiet:.3g}, which breaches {said}: the alarm would stop good releases")
    return f"a bad canary's minute gives {value:.3g} ({said}: ALARM); a healthy or noisy minute does not"


# --- the deployment group -------------------------------------------------------------------------

@check("group-alarm-config", 2, f"Update the deployment group's alarmConfiguration: enabled, with the alarm {ALARM}.",
       uses=("deployment_group",))
def group_alarm_config(session: LabSession) -> str:
    config = _group(session).get("alarmConfiguration", {})
    alarms = [a["name"] for a in config.get("alarms", [])]
    if not config.get("enabled") or ALARM not in alarms:
        raise Fail(f"the group's alarm configuration is {'enabled' if config.get('enabled') else 'off'} with {alarms}")
    return f"{lab05.DEPLOYMENT_GROUP} stops a deployment when {ALARM} fires"


@check("group-rollback-on-alarm", 2, f"Rolling back on an alarm needs both: automatic rollback for the event "
       f"{ROLLBACK_EVENT} (lab 03 turned it on; keep DEPLOYMENT_FAILURE too) and the alarm in the group.",
       uses=("deployment_group",))
def group_rollback_on_alarm(session: LabSession) -> str:
    group = _group(session)
    alarms = [a["name"] for a in group.get("alarmConfiguration", {}).get("alarms", [])]
    config = group.get("autoRollbackConfiguration", {})
    if not config.get("enabled") or ROLLBACK_EVENT not in config.get("events", []):
        raise Fail(f"auto-rollback is {'on' if config.get('enabled') else 'off'} for {config.get('events', [])}")
    if ALARM not in alarms:
        raise Fail(f"auto-rollback is on, but no alarm of the group is {ALARM}: nothing would stop a deployment")
    return f"{ALARM} in ALARM rolls back ({', '.join(config['events'])})"


# --- v3 and the rollback --------------------------------------------------------------------------

def _stopped_by_alarm(session: LabSession, rolled_back: bool = True) -> list[dict[str, Any]]:
    """Deployments of the group that the alarm stopped (with a rollback, unless ``rolled_back`` is false), newest first."""
    codedeploy = session.client("codedeploy")
    pages = codedeploy.get_paginator("list_deployments").paginate(
        applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP, includeOnlyStatuses=["Stopped", "Failed"])
    ids = [i for page in pages for i in page["deployments"]]
    infos = [codedeploy.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids]
    stopped = [d for d in infos if d.get("errorInformation", {}).get("code") == "ALARM_ACTIVE"
               and ((d.get("rollbackInfo") or {}).get("rollbackDeploymentId") or not rolled_back)]
    return sorted(stopped, key=lambda d: d["createTime"], reverse=True)


@check("v3-rolled-back", 3, "Ship v3 through the pipeline, approve it, and send requests to production during "
       "the canary: the alarm must stop the deployment (ALARM_ACTIVE) and roll it back.",
       uses=("repository", "pipeline", "deployment_group"), runs=True)
def v3_rolled_back(session: LabSession) -> str:
    _group(session)
    stopped = _stopped_by_alarm(session)
    if not stopped:
        alone = _stopped_by_alarm(session, rolled_back=False)
        if alone:
            raise Fail(f"the alarm stopped {alone[0]['deploymentId']}, but nothing rolled it back")
        raise Fail("no deployment of the group was stopped by an alarm yet")
    return f"{stopped[0]['deploymentId']} stopped by the alarm, rolled back by {stopped[0]['rollbackInfo']['rollbackDeploymentId']}"


@check("rollback-restored", 2, "A rollback is a deployment of its own (creator codeDeployRollback) that puts "
       "production back on the original task set; wait for it to succeed.", hidden=True,
       uses=("deployment_group",), runs=True)
def rollback_restored(session: LabSession) -> str:
    stopped = _stopped_by_alarm(session)
    if not stopped:
        raise Fail("no deployment was stopped by an alarm yet")
    rollback_id = stopped[0]["rollbackInfo"]["rollbackDeploymentId"]
    rollback = session.client("codedeploy").get_deployment(deploymentId=rollback_id)["deploymentInfo"]
    if rollback.get("status") != "Succeeded" or rollback.get("creator") != "codeDeployRollback":
        raise Fail(f"rollback {rollback_id} is {rollback.get('status')} (creator {rollback.get('creator')})")
    return f"rollback {rollback_id} succeeded"


# --- the fix --------------------------------------------------------------------------------------

def _head(session: LabSession) -> tuple[str, str]:
    """(commit id, app/version.py) of main's head."""
    codecommit = session.client("codecommit")
    commit = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]
    version = found(lambda: codecommit.get_file(repositoryName=lab01.REPOSITORY, commitSpecifier=commit,
                                                 filePath="app/version.py"), "main has no app/version.py")
    return str(commit), version["fileContent"].decode()


@check("fixed-forward", 3, "Fix forward: revert v3 with a new commit (git revert), push it, approve it, and let "
       "the pipeline deploy it to production.", uses=("repository", "pipeline"), runs=True)
def fixed_forward(session: LabSession) -> str:
    stopped = _stopped_by_alarm(session)
    if not stopped:
        raise Fail("there is nothing to fix yet: no deployment was stopped by the alarm")
    commit, version = _head(session)
    if '"v3"' in version:
        raise Fail("main still holds v3")
    client = session.client("codepipeline")
    for run in lab04.action_runs(session, "Deploy_Production", "Succeeded"):
        if run["startTime"] < stopped[0]["createTime"]:
            continue
        execution = client.get_pipeline_execution(pipelineName=lab04.PIPELINE,
                                                   pipelineExecutionId=run["pipelineExecutionId"])["pipelineExecution"]
        if execution["artifactRevisions"][0]["revisionId"] == commit:
            return f"the fix {commit[:7]} reached production after the rollback"
    raise Fail(f"main's head {commit[:7]} has not reached production through the pipeline since the rollback")


@check("production-fixed", 2, "In the end production runs the fix's image and the alarm is back to OK (it does "
       "once its evaluation range, a few lab minutes, holds no 5xx).", hidden=True,
       uses=("pipeline", "alarm"), runs=True)
def production_fixed(session: LabSession) -> str:
    commit, _ = _head(session)
    image = lab05.production_image(session)
    if not image.endswith(f":{commit[:7]}"):
        raise Fail(f"production runs {image}, not the fix {commit[:7]}")
    state = _alarm(session)["StateValue"]
    if state != "OK":
        raise Fail(f"{ALARM} is {state}")
    return f"production runs {image.rsplit('/', 1)[-1]} and {ALARM} is OK"
