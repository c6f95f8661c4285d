"""CloudWatch metric alarms move from their data, on the lab clock, and tell their SNS topics."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

ACCOUNT = "864286428642"




@pytest.fixture(scope="module")
def cw(labstack: LabstackProcess) -> Any:
    return labstack.client("cloudwatch", account=ACCOUNT)


def alarm(cw: Any, name: str) -> dict[str, Any]:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def put(cw: Any, metric: str, *values: float) -> None:
    cw.put_metric_data(Namespace="Lab", MetricData=[
        {"MetricName": metric, "Dimensions": [{"Name": "Service", "Value": "web"}], "Value": v} for v in values])


def create(cw: Any, name: str, metric: str, **extra: Any) -> None:
    cw.put_metric_alarm(AlarmName=name, Namespace="Lab", MetricName=metric, Dimensions=[{"Name": "Service", "Value": "web"}],
                        Period=60, EvaluationPeriods=extra.pop("EvaluationPeriods", 1),
                        Statistic=extra.pop("Statistic", "Sum"), Threshold=extra.pop("Threshold", 5),
                        ComparisonOperator="GreaterThanThreshold", **extra)


def test_an_alarm_fires_from_its_data_and_notifies_its_topic(labstack: LabstackProcess, cw: Any) -> None:
    sns, sqs = labstack.client("sns", account=ACCOUNT), labstack.client("sqs", account=ACCOUNT)
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    queue = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    create(cw, "errors-high", "Errors", TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic])
    wait_for(lambda: alarm(cw, "errors-high")["StateValue"] == "OK" and
             alarm(cw, "errors-high")["StateReason"].startswith("Threshold Crossed"))
    put(cw, "Errors", 4, 3, 3)
    fired = wait_for(lambda: (a := alarm(cw, "errors-high"))["StateValue"] == "ALARM" and a)
    assert fired["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [10 (")
    assert "was greater than the threshold (5)" in fired["StateReason"]
    assert json.loads(fired["StateReasonData"])["recentDatapoints"] == [10.0]
    seen: list[dict[str, Any]] = []

    def alarm_message() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
        return next((m for m in seen if m["NewStateValue"] == "ALARM"), None)

    body = wait_for(alarm_message)
    assert (body["AlarmName"], body["OldStateValue"]) == ("errors-high", "OK")
    assert seen[0]["OldStateValue"] == "INSUFFICIENT_DATA"  # a new alarm's first evaluation, as on AWS
    assert body["Trigger"]["MetricName"] == "Errors" and body["Trigger"]["Statistic"] == "SUM"
    # No more errors: once the breaching minute leaves the evaluation range (3 lab minutes for 1 evaluation
    # period), the missing data counts as not breaching.
    wait_for(lambda: alarm(cw, "errors-high")["StateValue"] == "OK")
    history = cw.describe_alarm_history(AlarmName="errors-high", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history][:2] == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM"]
    assert json.loads(history[1]["HistoryData"])["newState"]["stateValue"] == "ALARM"
    actions = cw.describe_alarm_history(AlarmName="errors-high", HistoryItemType="Action")["AlarmHistoryItems"]
    assert actions[0]["HistorySummary"] == f"Successfully executed action {topic}"


def test_no_data_is_insufficient_data_when_missing_data_is_missing(cw: Any) -> None:
    create(cw, "quiet", "Nothing")
    wait_for(lambda: alarm(cw, "quiet")["StateValue"] == "INSUFFICIENT_DATA")
    assert alarm(cw, "quiet")["StateReason"] == "Insufficient Data: 1 datapoint was unknown."


def test_missing_data_can_count_as_breaching(cw: Any) -> None:
    create(cw, "silent-is-bad", "Heartbeat", TreatMissingData="breaching", Threshold=0)
    wait_for(lambda: alarm(cw, "silent-is-bad")["StateValue"] == "ALARM")


def test_datapoints_to_alarm_needs_m_out_of_n(cw: Any) -> None:
    create(cw, "two-of-three", "Latency", Statistic="Maximum", Threshold=100, EvaluationPeriods=3, DatapointsToAlarm=2,
           TreatMissingData="notBreaching")
    put(cw, "Latency", 50, 150)  # one breaching lab minute only
    time.sleep(1.5)
    assert alarm(cw, "two-of-three")["StateValue"] == "OK"
    put(cw, "Latency", 180)
    wait_for(lambda: alarm(cw, "two-of-three")["StateValue"] == "ALARM")


def test_set_alarm_state_lasts_until_the_next_evaluation(cw: Any) -> None:
    create(cw, "forced", "Calm", TreatMissingData="notBreaching")
    wait_for(lambda: alarm(cw, "forced")["StateValue"] == "OK" and "Threshold" in alarm(cw, "forced")["StateReason"])
    cw.set_alarm_state(AlarmName="forced", StateValue="ALARM", StateReason="testing the pager")
    assert alarm(cw, "forced")["StateValue"] == "ALARM"
    wait_for(lambda: alarm(cw, "forced")["StateValue"] == "OK")
    summaries = [h["HistorySummary"] for h in cw.describe_alarm_history(AlarmName="forced")["AlarmHistoryItems"]]
    assert summaries[:2] == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM"]
