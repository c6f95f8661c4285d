"""Lab 06's checks, proven by mutation: in an account the solutions built, the alarm and the deployment group
broken with wrong-but-plausible settings make their check ✗ with its hint (the rest of the cell still ✓), and
are put back. Stops, rollbacks and the fix are broken in a small account of their own (a Lambda group, a
pipeline without builds)."""

from __future__ import annotations

from typing import Any

import pytest

from grader.backends import LabSession
from grader.checks import lab03, lab04, lab05, lab06
from tests.support.later_labs import (
    AlarmStops,
    alarm_changed,
    assert_failed,
    assert_fails,
    assert_passes,
    assert_solved,
    group_changed,
    production_primary,
    solved_through,
)
from tests.support.mutations import breaks, results, uncovered
from tests.support.server import LabstackProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("solved-account"),
              pytest.mark.first]  # one worker grows the solved account (tests/support/later_labs.py), from the start
pytest_plugins = ["tests.support.later_labs_fixtures"]


@pytest.fixture(scope="module")
def solved(sampleapp_labstack: LabstackProcess) -> LabSession:
    """This worker's solved account, with labs 01–06 done at least (shared with labs 04's and 05's tests)."""
    return solved_through(sampleapp_labstack, 6)


def test_every_check_of_lab_06_is_broken_by_a_test() -> None:
    assert uncovered(lab06, globals()) == set()


def test_the_solved_account_passes_every_check_and_each_names_what_it_grades(solved: LabSession) -> None:
    assert_solved(solved, lab06)


# --- the alarm ----------------------------------------------------------------------------------

def _metrics(session: LabSession, expression: str = "100 * errors / requests", dimensions: list[dict[str, str]] | None = None,
             **errors_query: Any) -> list[dict[str, Any]]:
    """The solution's metric math queries, with the 5xx query's MetricStat changed by ``errors_query``
    (``Stat``, ``Period``, ``MetricName``, ``Namespace``), both queries' dimensions by ``dimensions``,
    and the returned expression by ``expression``."""
    dims = dimensions or [{"Name": "LoadBalancer", "Value": lab06.balancer_dimension(session)}]

    def query(query_id: str, metric: str, **changes: Any) -> dict[str, Any]:
        stat = {"Metric": {"Namespace": changes.get("Namespace", lab06.NAMESPACE), "MetricName": changes.get("MetricName", metric),
                           "Dimensions": dims}, "Period": changes.get("Period", lab06.PERIOD), "Stat": changes.get("Stat", lab06.STATISTIC)}
        return {"Id": query_id, "ReturnData": False, "MetricStat": stat}

    return [query("errors", lab06.METRIC, **errors_query), query("requests", lab06.REQUESTS),
            {"Id": "rate", "Expression": expression, "ReturnData": True}]


COUNT_ALARM = {"Metrics": None, "Namespace": lab06.NAMESPACE, "MetricName": lab06.METRIC, "Statistic": "Sum", "Period": 60}


@pytest.mark.parametrize(("change", "found"), [
    ({}, "watches the count AWS/ApplicationELB HTTPCode_Target_5XX_Count alone: design the error rate"),
    ({"Stat": "Average"}, "reads AWS/ApplicationELB HTTPCode_Target_5XX_Count as the Average over 60 s"),
    ({"Period": 300}, "as the Sum over 300 s"),
    ({"MetricName": "HTTPCode_ELB_5XX_Count"}, "queries read ['HTTPCode_ELB_5XX_Count', 'RequestCount'], not"),
    ({"Namespace": "AWS/ELB"}, "reads AWS/ELB HTTPCode_Target_5XX_Count as the Sum over 60 s, not AWS/ApplicationELB's"),
    ({"EvaluationPeriods": 3}, "needs 3 of 3 periods to breach"),
], ids=["count-alarm", "average", "period", "elb-metric", "classic-namespace", "periods"])
@breaks("alarm-exists")
def test_an_alarm_that_is_not_the_rate_of_target_5xx_a_minute(solved: LabSession, change: dict[str, Any], found: str) -> None:
    if not change:
        changes = COUNT_ALARM
    elif "EvaluationPeriods" in change:
        changes = change
    else:
        changes = {"Metrics": _metrics(solved, **change)}
    with alarm_changed(solved, **changes):
        assert_fails(solved, lab06, "alarm-exists", found)
    assert_passes(solved, lab06, "alarm-exists", "production-fixed")


@pytest.mark.parametrize(("changes", "found"), [
    ({"Threshold": 5}, "10 5xx in 300 requests) the alarm computes 3.33, and GreaterThanOrEqualToThreshold 5 does not "
                       "breach: v3 would reach production"),
    ({"Metrics": "100 * requests / errors"}, "one 5xx in 3000 requests gives 3e+05, which breaches"),
    ({"Metrics": "errors"}, "one 5xx in 3000 requests gives 1, which breaches GreaterThanOrEqualToThreshold 1"),
    ({"Metrics": "100 * FILL(errors, 0) / requests", "ComparisonOperator": "LessThanThreshold"},
     "the alarm computes 3.33, and LessThanThreshold 1 does not breach"),
    ({"Metrics": "errors / requests"}, "computes 0.0333, and GreaterThanOrEqualToThreshold 1 does not breach"),
], ids=["five-percent", "inverted", "count-as-expression", "less-than", "fraction-not-percent"])
@breaks("alarm-catches-a-bad-canary")
def test_a_plausible_alarm_that_a_bad_canary_would_not_fire(solved: LabSession, changes: dict[str, Any], found: str) -> None:
    """The wrong-but-plausible designs: a 5 % threshold sounds strict, yet v3's canary (10 % of the traffic failing one
    request in three) shows 3.3 % at the load balancer; the check tries each on model minutes, as the alarm would
    compute them (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html)."""
    if isinstance(changes.get("Metrics"), str):
        changes = {**changes, "Metrics": _metrics(solved, changes["Metrics"])}
    with alarm_changed(solved, **changes):
        assert_fails(solved, lab06, "alarm-catches-a-bad-canary", found, still=("alarm-exists", "alarm-covers-both-groups"))
    assert_passes(solved, lab06, "alarm-catches-a-bad-canary")


def _target_group(session: LabSession, name: str) -> str:
    arn = session.client("elbv2").describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    return str(arn.split(":", 5)[5])


@breaks("alarm-covers-both-groups")
def test_an_alarm_on_one_target_group_is_blind_every_other_deployment(solved: LabSession) -> None:
    blue = _target_group(solved, "sample-app-blue")
    dimensions = [{"Name": "TargetGroup", "Value": blue}, {"Name": "LoadBalancer", "Value": lab06.balancer_dimension(solved)}]
    with alarm_changed(solved, Metrics=_metrics(solved, dimensions=dimensions)):
        assert_fails(solved, lab06, "alarm-covers-both-groups", f"'TargetGroup': '{blue}'", "not the load balancer",
                     still=("alarm-exists", "alarm-catches-a-bad-canary"))
    assert_passes(solved, lab06, "alarm-covers-both-groups")


@breaks("alarm-covers-both-groups")
def test_an_alarm_on_the_load_balancers_whole_arn(solved: LabSession) -> None:
    arn = solved.client("elbv2").describe_load_balancers(Names=[lab05.LOAD_BALANCER])["LoadBalancers"][0]["LoadBalancerArn"]
    with alarm_changed(solved, Metrics=_metrics(solved, dimensions=[{"Name": "LoadBalancer", "Value": arn}])):
        assert_fails(solved, lab06, "alarm-covers-both-groups", f"{{'LoadBalancer': '{arn}'}}", still=("alarm-exists",))


@breaks("alarm-covers-both-groups")
def test_an_alarm_on_another_load_balancer(solved: LabSession) -> None:
    elbv2 = solved.client("elbv2")
    ours = elbv2.describe_load_balancers(Names=[lab05.LOAD_BALANCER])["LoadBalancers"][0]
    other = elbv2.create_load_balancer(Name="sample-app-staging-alb", Subnets=[z["SubnetId"] for z in ours["AvailabilityZones"]],
                                       SecurityGroups=ours.get("SecurityGroups", []))["LoadBalancers"][0]["LoadBalancerArn"]
    value = other.split(":loadbalancer/", 1)[1]
    try:
        with alarm_changed(solved, Metrics=_metrics(solved, dimensions=[{"Name": "LoadBalancer", "Value": value}])):
            assert_fails(solved, lab06, "alarm-covers-both-groups", f"{{'LoadBalancer': '{value}'}}",
                         f"not the load balancer {lab06.balancer_dimension(solved)} alone", still=("alarm-exists",))
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=other)


@breaks("alarm-covers-both-groups")
def test_an_alarm_that_treats_a_quiet_minute_as_missing(solved: LabSession) -> None:
    with alarm_changed(solved, TreatMissingData="missing"):
        assert_fails(solved, lab06, "alarm-covers-both-groups", "missing data counts as missing", still=("alarm-exists",))


# --- the deployment group -------------------------------------------------------------------------

@breaks("group-alarm-config")
def test_a_group_whose_alarm_configuration_is_off(solved: LabSession) -> None:
    with group_changed(solved, alarmConfiguration={"enabled": False, "alarms": [{"name": lab06.ALARM}]}):
        assert_fails(solved, lab06, "group-alarm-config", f"is off with ['{lab06.ALARM}']", still=("group-rollback-on-alarm",))
    assert_passes(solved, lab06, "group-alarm-config")


@breaks("group-rollback-on-alarm")
def test_a_group_that_rolls_back_only_failed_deployments(solved: LabSession) -> None:
    with group_changed(solved, autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}):
        assert_fails(solved, lab06, "group-rollback-on-alarm", "auto-rollback is on for ['DEPLOYMENT_FAILURE']",
                     still=("group-alarm-config",))
    assert_passes(solved, lab06, "group-rollback-on-alarm")


@breaks("group-rollback-on-alarm", "group-alarm-config")
def test_a_group_watching_another_alarm(solved: LabSession) -> None:
    with group_changed(solved, alarmConfiguration={"enabled": True, "alarms": [{"name": "sample-app-errors"}]}):
        assert_fails(solved, lab06, "group-rollback-on-alarm", f"no alarm of the group is {lab06.ALARM}")
        assert_fails(solved, lab06, "group-alarm-config", "enabled with ['sample-app-errors']")


# --- stops, rollbacks, the fix (the small account) ------------------------------------------------

@breaks("v3-rolled-back")
def test_a_deployment_the_alarm_stopped_with_no_rollback(alarm_stops: AlarmStops) -> None:
    assert_failed(alarm_stops.without_rollback["v3-rolled-back"], lab06, "the alarm stopped d-", "but nothing rolled it back")
    assert results(alarm_stops.session, lab06, ("v3-rolled-back",))["v3-rolled-back"].passed  # once the group rolls back


@breaks("rollback-restored")
def test_a_rollback_that_failed(alarm_stops: AlarmStops) -> None:
    assert_fails(alarm_stops.session, lab06, "rollback-restored", "is Failed (creator codeDeployRollback)",
                 still=("v3-rolled-back",))


@breaks("fixed-forward")
def test_main_that_still_holds_v3(alarm_stops: AlarmStops) -> None:
    assert_failed(alarm_stops.still_v3["fixed-forward"], lab06, "main still holds v3")


@breaks("fixed-forward")
def test_a_fix_committed_but_never_shipped(alarm_stops: AlarmStops) -> None:
    assert_failed(alarm_stops.fix_not_shipped["fixed-forward"], lab06, "has not reached production through the pipeline since the rollback")


def test_the_fix_is_found_however_many_pages_of_action_executions_came_after_it(
        alarm_stops: AlarmStops, monkeypatch: pytest.MonkeyPatch) -> None:
    session = alarm_stops.session
    first = session.client("codepipeline").list_action_executions(pipelineName=lab04.PIPELINE, maxResults=2)
    assert "Deploy_Production" not in {r["stageName"] for r in first["actionExecutionDetails"]} and first["nextToken"]
    monkeypatch.setattr(lab04, "PAGE_SIZE", 2)
    assert results(session, lab06, ("fixed-forward",))["fixed-forward"].passed


@breaks("production-fixed")
def test_production_left_on_the_first_release_is_not_fixed(solved: LabSession) -> None:
    first = f"arn:aws:ecs:{solved.region}:{solved.account}:task-definition/{lab03.SERVICE}:1"
    with production_primary(solved, first):
        assert_fails(solved, lab06, "production-fixed", "not the fix", still=("fixed-forward",))
    assert_passes(solved, lab06, "production-fixed")

