"""The ELB runtime: listeners listen on local ports, split traffic by weight, check health."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from labstack.endpoints import listener_url
from labstack.runtimes.elb.health import PROBE_FLOOR

from tests.support.responses import check_responses
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for
from tests.support.webapp import VersionApp, fetch

ACCOUNT = "135713571357"




@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, VersionApp]]:
    started = {"blue": VersionApp("blue", "127.0.0.2"), "green": VersionApp("green", "127.0.0.3")}
    yield started
    for app in started.values():
        app.stop()


@pytest.fixture(scope="module")
def alb(labstack: LabstackProcess, apps: dict[str, VersionApp]) -> dict[str, Any]:
    """An ALB with a blue and a green target group and a listener on port 80 sending 90/10."""
    ec2 = labstack.client("ec2", account=ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    elb = check_responses(labstack.client("elbv2", account=ACCOUNT))
    groups = {}
    for name, app in apps.items():
        groups[name] = elb.create_target_group(
            Name=name, Protocol="HTTP", Port=app.port, VpcId=vpc, TargetType="ip", HealthCheckPath="/health",
            HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2, UnhealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=groups[name], Targets=[{"Id": app.host, "Port": app.port}])
    balancer = elb.create_load_balancer(Name="app", Subnets=subnets, Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": groups["blue"], "Weight": 90}, {"TargetGroupArn": groups["green"], "Weight": 10}]}}],
    )["Listeners"][0]["ListenerArn"]

    def url() -> str | None:
        with urllib.request.urlopen(labstack.endpoint + "/_labstack/endpoints", timeout=10) as response:
            endpoints = json.loads(response.read())["endpoints"]
        return next((e["url"] for e in endpoints if e["listenerArn"] == listener), None)

    return {"elb": elb, "groups": groups, "listener": listener, "url": wait_for(url), "apps": apps, "balancer": balancer}


def states(alb: dict[str, Any], name: str) -> list[str]:
    health = alb["elb"].describe_target_health(TargetGroupArn=alb["groups"][name])["TargetHealthDescriptions"]
    return [h["TargetHealth"]["State"] for h in health]


def test_targets_become_healthy_through_real_health_checks(alb: dict[str, Any]) -> None:
    wait_for(lambda: states(alb, "blue") == ["healthy"] and states(alb, "green") == ["healthy"])
    health = alb["elb"].describe_target_health(TargetGroupArn=alb["groups"]["blue"])["TargetHealthDescriptions"][0]
    assert health["Target"] == {"Id": "127.0.0.2", "Port": alb["apps"]["blue"].port}
    assert health["HealthCheckPort"] == str(alb["apps"]["blue"].port)


def test_the_listener_splits_traffic_by_weight(alb: dict[str, Any]) -> None:
    wait_for(lambda: states(alb, "green") == ["healthy"])
    seen = Counter(fetch(alb["url"] + "/")[1].split()[0] for _ in range(400))
    assert set(seen) == {"blue", "green"}
    assert 15 <= seen["green"] <= 80, seen  # 10 % of 400 is 40
    status, text = fetch(alb["url"] + "/orders")
    assert status == 200 and text.endswith(" /orders via 80")  # path and X-Forwarded-Port reach the target


def test_new_weights_apply_before_modify_listener_returns(alb: dict[str, Any]) -> None:
    """CodeDeploy shifts traffic with ModifyListener and counts on the very next request going the new way."""
    wait_for(lambda: states(alb, "blue") == ["healthy"] and states(alb, "green") == ["healthy"])
    for only, other in (("green", "blue"), ("blue", "green"), ("green", "blue")):
        alb["elb"].modify_listener(ListenerArn=alb["listener"], DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": alb["groups"][other], "Weight": 0},
                             {"TargetGroupArn": alb["groups"][only], "Weight": 100}]}}])
        answers = [fetch(alb["url"] + "/")[1].split()[0] for _ in range(20)]
        assert set(answers) == {only}, answers


def metric_sum(labstack: LabstackProcess, alb: dict[str, Any], name: str, group: str | None = None) -> float:
    from labstack.runtimes.elb.metrics import dimension_value

    dims = [{"Name": "LoadBalancer", "Value": dimension_value(alb["balancer"])}]
    if group:
        dims.append({"Name": "TargetGroup", "Value": dimension_value(alb["groups"][group])})
    now = datetime.datetime.now(datetime.timezone.utc)
    points = labstack.client("cloudwatch", account=ACCOUNT).get_metric_statistics(
        Namespace="AWS/ApplicationELB", MetricName=name, Dimensions=dims, Statistics=["Sum"], Period=60,
        StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=5))["Datapoints"]
    return sum(p["Sum"] for p in points)


def settled(read: Callable[[], float]) -> float:
    """A metric sum once two lab minutes have passed without it changing."""
    last, since = read(), time.monotonic()
    while time.monotonic() - since < 2.5:
        time.sleep(0.25)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.mark.slow
def test_metrics_reach_cloudwatch_every_lab_minute(labstack: LabstackProcess, alb: dict[str, Any]) -> None:
    before = settled(lambda: metric_sum(labstack, alb, "HTTPCode_Target_2XX_Count", "green"))
    requests = settled(lambda: metric_sum(labstack, alb, "RequestCount", "green"))
    for _ in range(30):
        assert fetch(alb["url"] + "/")[1].startswith("green")
    wait_for(lambda: metric_sum(labstack, alb, "HTTPCode_Target_2XX_Count", "green") == before + 30, seconds=10)
    assert metric_sum(labstack, alb, "RequestCount", "green") == requests + 30
    assert metric_sum(labstack, alb, "HealthyHostCount", "green") >= 1


def test_rules_with_path_patterns_come_first(alb: dict[str, Any]) -> None:
    alb["elb"].create_rule(ListenerArn=alb["listener"], Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/maintenance*"]}], Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down for maintenance"}}])
    assert fetch(alb["url"] + "/maintenance/now") == (503, "down for maintenance")  # at once: the call applied it
    assert fetch(alb["url"] + "/other")[0] == 200


def test_host_header_rules_and_redirects(alb: dict[str, Any]) -> None:
    """Rules apply to the next request once CreateRule, ModifyRule, SetRulePriorities or DeleteRule returns."""
    admin = alb["elb"].create_rule(ListenerArn=alb["listener"], Priority=2, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403", "MessageBody": "no admins here"}}])
    admin = admin["Rules"][0]["RuleArn"]
    old = alb["elb"].create_rule(ListenerArn=alb["listener"], Priority=3, Conditions=[
        {"Field": "path-pattern", "Values": ["/old/*"]}],
        Actions=[{"Type": "redirect", "RedirectConfig": {"Path": "/new/#{path}", "StatusCode": "HTTP_301"}}])
    old = old["Rules"][0]["RuleArn"]

    def ask(path: str, host: str) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection(*alb["url"][7:].split(":"), timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            return response.status, response.getheader("Location") or "", response.read().decode()
        finally:
            conn.close()

    assert ask("/", "admin.example.com")[::2] == (403, "no admins here")
    assert ask("/", "shop.example.com")[0] == 200
    status, location, _ = ask("/old/page?x=1", "shop.example.com")
    assert status == 301 and location == "http://shop.example.com:80/new/old/page?x=1"
    alb["elb"].modify_rule(RuleArn=admin, Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
        "StatusCode": "404", "MessageBody": "gone"}}])
    assert ask("/old/x", "admin.example.com")[::2] == (404, "gone")  # priority 2 before 3
    alb["elb"].set_rule_priorities(RulePriorities=[{"RuleArn": admin, "Priority": 4}])
    assert ask("/old/x", "admin.example.com")[0] == 301
    alb["elb"].delete_rule(RuleArn=old)
    alb["elb"].delete_rule(RuleArn=admin)
    assert ask("/old/x", "admin.example.com")[0] == 200
    with pytest.raises(ClientError) as gone:  # moto's answer, passed on as AWS's
        alb["elb"].modify_rule(RuleArn=admin, Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert gone.value.response["Error"]["Code"] == "RuleNotFound"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_failing_health_check_marks_the_target_unhealthy_with_aws_reason(alb: dict[str, Any]) -> None:
    alb["apps"]["green"].health_status = 500
    try:
        wait_for(lambda: states(alb, "green") == ["unhealthy"])
        health = alb["elb"].describe_target_health(TargetGroupArn=alb["groups"]["green"])["TargetHealthDescriptions"][0]
        assert health["TargetHealth"]["Reason"] == "Target.ResponseCodeMismatch"
        assert "[500]" in health["TargetHealth"]["Description"]
        assert fetch(alb["url"] + "/")[1].startswith("green")  # all unhealthy: the ALB fails open
    finally:
        alb["apps"]["green"].health_status = 200
    wait_for(lambda: states(alb, "green") == ["healthy"])


def test_a_health_check_slower_than_its_timeout_fails_with_target_timeout(alb: dict[str, Any]) -> None:
    """A probe may take the group's timeout, but no less than PROBE_FLOOR real seconds at any time scale."""
    assert alb["elb"].describe_target_groups(TargetGroupArns=[alb["groups"]["green"]])["TargetGroups"][0][
        "HealthCheckTimeoutSeconds"] == 2  # two lab seconds: 33 ms at 60x, so the floor applies
    alb["apps"]["green"].health_delay = PROBE_FLOOR + 0.5
    try:
        wait_for(lambda: states(alb, "green") == ["unhealthy"], seconds=30)
        health = alb["elb"].describe_target_health(TargetGroupArn=alb["groups"]["green"])["TargetHealthDescriptions"][0]
        assert (health["TargetHealth"]["Reason"], health["TargetHealth"]["Description"]) == (
            "Target.Timeout", "Request timed out")
        alb["apps"]["green"].health_delay = PROBE_FLOOR / 4  # slow, but within the floor: healthy again
        wait_for(lambda: states(alb, "green") == ["healthy"], seconds=30)
    finally:
        alb["apps"]["green"].health_delay = 0.0


def test_a_group_without_targets_answers_503_and_deregistered_targets_drain(alb: dict[str, Any]) -> None:
    app, group = alb["apps"]["green"], alb["groups"]["green"]
    alb["elb"].modify_target_group_attributes(TargetGroupArn=group, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "60"}])  # one lab minute: a second at 60x
    alb["elb"].deregister_targets(TargetGroupArn=group, Targets=[{"Id": app.host, "Port": app.port}])
    try:
        assert wait_for(lambda: fetch(alb["url"] + "/")[0] == 503, seconds=5)  # no new requests to a draining target
        health = alb["elb"].describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        assert [(h["Target"]["Id"], h["TargetHealth"]["State"], h["TargetHealth"]["Reason"]) for h in health] == [
            (app.host, "draining", "Target.DeregistrationInProgress")]
        wait_for(lambda: alb["elb"].describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"] == [], seconds=5)
        asked = alb["elb"].describe_target_health(TargetGroupArn=group, Targets=[{"Id": app.host, "Port": app.port}])
        assert asked["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "unused"
        with pytest.raises(alb["elb"].exceptions.InvalidTargetException):
            alb["elb"].deregister_targets(TargetGroupArn=group, Targets=[{"Id": app.host, "Port": app.port}])
    finally:
        alb["elb"].register_targets(TargetGroupArn=group, Targets=[{"Id": app.host, "Port": app.port}])


def test_targets_on_one_address_with_different_ports_are_different_targets(alb: dict[str, Any]) -> None:
    second = VersionApp("green-2", "127.0.0.3")
    try:
        group = alb["groups"]["green"]
        alb["elb"].register_targets(TargetGroupArn=group, Targets=[{"Id": second.host, "Port": second.port}])
        wait_for(lambda: states(alb, "green") == ["healthy", "healthy"])
        seen = Counter(fetch(alb["url"] + "/")[1].split()[0] for _ in range(60))
        assert set(seen) == {"green", "green-2"}, seen
        alb["elb"].deregister_targets(TargetGroupArn=group, Targets=[{"Id": second.host, "Port": second.port}])
    finally:
        second.stop()


def test_another_account_cannot_read_the_target_health(labstack: LabstackProcess, alb: dict[str, Any]) -> None:
    other = labstack.client("elbv2", account="999988887777")
    with pytest.raises(other.exceptions.TargetGroupNotFoundException):
        other.describe_target_health(TargetGroupArn=alb["groups"]["blue"])


def test_the_labs_and_status_find_a_listener_by_load_balancer_name(labstack: LabstackProcess, alb: dict[str, Any]) -> None:
    assert listener_url("app", 80, endpoint=labstack.endpoint) == alb["url"]
    with pytest.raises(LookupError):
        listener_url("app", 8443, endpoint=labstack.endpoint)
    env = dict(os.environ, LABSTACK_HOME=str(labstack.settings.home))
    status = subprocess.run([sys.executable, "-m", "labstack", "status"], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert f"listener   app:80 ({ACCOUNT}, us-east-1) -> {alb['url']}" in status.stdout


def test_a_deleted_listener_stops_listening(labstack: LabstackProcess, alb: dict[str, Any]) -> None:
    alb["elb"].delete_listener(ListenerArn=alb["listener"])

    def closed() -> bool:
        try:
            urllib.request.urlopen(alb["url"] + "/", timeout=2).close()
        except urllib.error.URLError as error:
            return isinstance(error.reason, ConnectionRefusedError)
        except OSError:
            return False  # reset while the server shuts down: ask again
        return False

    wait_for(closed, seconds=5)

