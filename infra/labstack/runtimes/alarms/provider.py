"""The alarms runtime: every metric alarm re-evaluated as its data arrives, state changes
recorded in its history, and its actions' SNS topics told in AWS's alarm message."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

from labstack.context import RequestContext
from labstack import motobridge
from labstack.protocol.provider import Provider
from labstack.runtimes.alarms.evaluate import Sample, decide
from labstack.runtimes.alarms.metricmath import Unsupported, math_alarm
from labstack.runtimes.loop import every
from labstack.state import AccountRegionStore

log = logging.getLogger("labstack.alarms")
TICK_SECONDS = 0.2
_REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-2": "US West (Oregon)",
                 "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}


def _samples(data: list[Any], alarm: Any, grouped: dict[int, tuple[int, dict[tuple, list[Sample]]]]) -> list[Sample]:
    """The datapoints of the alarm's metric, or of a metric math query's metric (``alarm``: anything with a
    namespace, metric_name and dimensions; ``data``: its account's and region's). ``grouped`` keeps each such list's
    datapoints sorted by metric until more arrive, so an alarm at rest is evaluated without reading every
    datapoint of its account again."""
    known = grouped.get(id(data))
    if known is None or known[0] != len(data):
        groups: dict[tuple, list[Sample]] = {}
        for datum in list(data):
            key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
            stamp = datum.timestamp if datum.timestamp.tzinfo else datum.timestamp.replace(tzinfo=dt.timezone.utc)
            if hasattr(datum, "value"):
                value = float(datum.value)
                sample = Sample(stamp, 1, value, value, value, (value,))
            else:
                sample = Sample(stamp, float(datum.sample_count), float(datum.sum), float(datum.min), float(datum.max))
            groups.setdefault(key, []).append(sample)
        known = grouped[id(data)] = (len(data), groups)
    return known[1].get((alarm.namespace, alarm.metric_name, frozenset((d.name, d.value) for d in alarm.dimensions)), [])


class AlarmsRuntime(Provider):
    """Evaluates CloudWatch metric alarms (moto keeps them; this moves them)."""

    service = "cloudwatch"
    overlay = True  # answers DescribeAlarmHistory and records SetAlarmState; the rest is moto's

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self._stop = threading.Event()
        self.history: AccountRegionStore[list[dict[str, Any]]] = AccountRegionStore(list)
        self._grouped: dict[int, tuple[int, dict[tuple, list[Sample]]]] = {}  # see _samples
        self._unsupported: set[str] = set()  # metric math alarms already logged as not evaluated
        labstack.hooks.on_shutdown(self._stop.set)
        labstack.hooks.on_reset(self.history.reset)
        labstack.hooks.on_reset(self._grouped.clear)
        every(labstack, TICK_SECONDS, self.evaluate_all, "alarm evaluation", self._stop)

    def evaluate_all(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        for account, region, alarm in motobridge.cloudwatch_alarms():
            if alarm.rule or not (alarm.metric_name or alarm.metric_data_queries):
                continue  # composite alarms are not evaluated
            data = motobridge.cloudwatch_metric_data(account, region)
            if alarm.metric_data_queries:
                try:
                    math = math_alarm(alarm.metric_data_queries)
                except Unsupported as exc:
                    if alarm.alarm_arn not in self._unsupported:
                        self._unsupported.add(alarm.alarm_arn)
                        log.warning("alarm %s is not evaluated: %s", alarm.name, exc)
                    continue
                real_period = self.labstack.clock.real_seconds(math.period)
                verdict = decide(alarm, [], now, real_period, lambda start, end, math=math, data=data: math.value(
                    lambda metric: _samples(data, metric, self._grouped), start, end))
            else:
                real_period = self.labstack.clock.real_seconds(float(alarm.period or 60))
                verdict = decide(alarm, _samples(data, alarm, self._grouped), now, real_period)
            # moto creates alarms "OK, Unchecked"; AWS evaluates a new alarm before it is anything,
            # and a new alarm that keeps its state (``ignore``) keeps INSUFFICIENT_DATA, its first one.
            unchecked = alarm.state_reason.startswith("Unchecked")
            state = verdict.state or ("INSUFFICIENT_DATA" if unchecked else None)
            if state is None or (state == alarm.state_value and not unchecked):
                continue
            old = ("INSUFFICIENT_DATA" if unchecked else alarm.state_value, alarm.state_reason)
            motobridge.alarm_update_state(alarm, verdict.reason, json.dumps(verdict.data), state)
            log.info("alarm %s: %s -> %s", alarm.name, old[0], state)
            self._record(account, region, alarm, old)
            self._act(account, region, alarm, old[0])

    def _record(self, account: str, region: str, alarm: Any, old: tuple[str, str]) -> None:
        """An AlarmHistoryItem for a state change, as CloudWatch writes it."""
        data = {"version": "1.0", "oldState": {"stateValue": old[0], "stateReason": old[1]},
                "newState": {"stateValue": alarm.state_value, "stateReason": alarm.state_reason,
                             "stateReasonData": json.loads(alarm.state_reason_data or "{}")}}
        self._item(account, region, alarm.name, "StateUpdate", f"Alarm updated from {old[0]} to {alarm.state_value}", data)

    def _item(self, account: str, region: str, name: str, kind: str, summary: str, data: dict[str, Any]) -> None:
        with self.history.lock:
            self.history.get(account, region).append({
                "AlarmName": name, "AlarmType": "MetricAlarm", "Timestamp": dt.datetime.now(dt.timezone.utc),
                "HistoryItemType": kind, "HistorySummary": summary, "HistoryData": json.dumps(data)})

    def set_alarm_state(self, ctx: RequestContext, request: dict) -> dict:
        alarm = motobridge.cloudwatch_alarm(ctx.account, ctx.region, request["AlarmName"])
        old = (alarm.state_value, alarm.state_reason) if alarm is not None else None
        self.labstack.clients.moto("cloudwatch", ctx.account, ctx.region).set_alarm_state(**request)
        if alarm is not None and old is not None:
            self._record(ctx.account, ctx.region, alarm, old)
            self._act(ctx.account, ctx.region, alarm, old[0])
        return {}

    def describe_alarm_history(self, ctx: RequestContext, request: dict) -> dict:
        items = list(self.history.get(ctx.account, ctx.region))
        if request.get("AlarmName"):
            items = [i for i in items if i["AlarmName"] == request["AlarmName"]]
        if request.get("HistoryItemType"):
            items = [i for i in items if i["HistoryItemType"] == request["HistoryItemType"]]
        if request.get("StartDate"):
            items = [i for i in items if i["Timestamp"] >= request["StartDate"]]
        if request.get("EndDate"):
            items = [i for i in items if i["Timestamp"] <= request["EndDate"]]
        items.sort(key=lambda i: i["Timestamp"], reverse=request.get("ScanBy", "TimestampDescending") == "TimestampDescending")
        return {"AlarmHistoryItems": items[:request.get("MaxRecords", 100)]}

    def _act(self, account: str, region: str, alarm: Any, old: str) -> None:
        """Publish AWS's alarm message to the SNS topics of the new state's actions."""
        if not alarm.actions_enabled:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[alarm.state_value] or []
        message = {
            "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": account,
            "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp.isoformat(),
            "NewStateValue": alarm.state_value, "NewStateReason": alarm.state_reason,
            "StateChangeTime": alarm.state_updated_timestamp.isoformat(), "Region": _REGION_NAMES.get(region, region),
            "AlarmArn": alarm.alarm_arn, "OldStateValue": old, "OKActions": alarm.ok_actions,
            "AlarmActions": alarm.alarm_actions, "InsufficientDataActions": alarm.insufficient_data_actions,
            "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace, "StatisticType": "Statistic",
                        "Statistic": (alarm.statistic or "").upper(), "Unit": alarm.unit,
                        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                        "Period": alarm.period, "EvaluationPeriods": alarm.evaluation_periods,
                        "DatapointsToAlarm": alarm.datapoints_to_alarm, "ComparisonOperator": alarm.comparison_operator,
                        "Threshold": alarm.threshold, "TreatMissingData": alarm.treat_missing_data or "missing",
                        "EvaluateLowSampleCountPercentile": ""},
        }
        subject = f'{alarm.state_value}: "{alarm.name}" in {_REGION_NAMES.get(region, region)}'[:100]
        for arn in actions:
            if ":sns:" not in arn:
                continue
            _, _, _, topic_region, topic_account, _ = arn.split(":", 5)
            if self.labstack.settings.class_mode and topic_account != account:
                self._item(account, region, alarm.name, "Action", f"Failed to execute action {arn}",
                           {"error": "the topic is another account's: this labstack serves a class"})
                continue
            try:
                self.labstack.clients.get("sns", topic_account, topic_region).publish(
                    TopicArn=arn, Subject=subject, Message=json.dumps(message))
            except Exception as exc:
                log.exception("alarm %s could not notify %s", alarm.name, arn)
                self._item(account, region, alarm.name, "Action", f"Failed to execute action {arn}", {"error": str(exc)})
            else:
                self._item(account, region, alarm.name, "Action", f"Successfully executed action {arn}",
                           {"actionState": "Succeeded", "notificationResource": arn})


PROVIDER = AlarmsRuntime
