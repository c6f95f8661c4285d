"""CloudWatch alarms and missing data: AWS's table "How alarm state is evaluated when data is missing", every cell.

Source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
(section "How alarm state is evaluated when data is missing" and "Avoiding premature transitions to alarm
state"). A row is the evaluation range's 5 datapoints, the most recent on the right: 0 within the threshold,
X breaching, - missing. The first table is 3 out of 3, the second 2 out of 3; ``RETAIN`` is the guide's
"Retain current state".
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import pytest

from labstack.runtimes.alarms.evaluate import Sample, decide, evaluation_range, judge
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

URL = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html"
SETTINGS = ("missing", "ignore", "breaching", "notBreaching")
RETAIN = "RETAIN"
# (DatapointsToAlarm, datapoints, MISSING, IGNORE, BREACHING, NOT BREACHING); EvaluationPeriods is 3.
TABLE = [
    (3, "0 - X - X", "OK", "OK", "OK", "OK"),
    (3, "0 - - - -", "OK", "OK", "OK", "OK"),
    (3, "- - - - -", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
    (3, "0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    (3, "- - X - -", "ALARM", RETAIN, "ALARM", "OK"),
    (2, "0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    (2, "0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    (2, "0 - X - -", "OK", "OK", "ALARM", "OK"),
    (2, "- - - - 0", "OK", "OK", "ALARM", "OK"),
    (2, "- - - X -", "ALARM", RETAIN, "ALARM", "OK"),
]
CELLS = [pytest.param(needed, row, setting, expected, id=f"{needed}of3 [{row}] {setting}")
         for needed, row, *states in TABLE for setting, expected in zip(SETTINGS, states)]
THRESHOLD, WITHIN, BREACH = 5.0, 1.0, 10.0
PERIOD = 60.0  # real seconds of one period in the unit tests (any length will do)
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


def slots(row: str) -> list[bool | None]:
    """A table row as the evaluator's slots, oldest first."""
    return [{"0": False, "X": True, "-": None}[c] for c in row.split()]


def test_the_table_is_whole() -> None:
    """Ten rows of four settings: the guide's 40 cells, and its evaluation range of 5 for 3 periods."""
    assert len(CELLS) == 40 and evaluation_range(3) == 5


@pytest.mark.parametrize("needed,row,setting,expected", CELLS)
def test_the_evaluator_decides_every_cell_of_the_table(needed: int, row: str, setting: str, expected: str) -> None:
    """Each cell of the guide's two tables (see the module docstring for the URL), on the bare rule."""
    state = judge(slots(row), 3, needed, setting).state
    assert state == (None if expected == RETAIN else expected)


def alarm_for(needed: int, setting: str, periods: int = 3) -> SimpleNamespace:
    """An alarm as moto keeps one, with the fields the evaluator reads."""
    return SimpleNamespace(evaluation_periods=periods, datapoints_to_alarm=needed, treat_missing_data=setting,
                           statistic="Maximum", extended_statistic=None, comparison_operator="GreaterThanThreshold",
                           threshold=THRESHOLD, period=300)


def samples(row: str, now: dt.datetime = NOW, period: float = PERIOD) -> list[Sample]:
    """Datapoints in the middle of each period of ``row`` (``period`` real seconds; the last one ends ``now``)."""
    points = []
    for age, c in enumerate(reversed(row.split()), start=1):
        if c != "-":
            value = BREACH if c == "X" else WITHIN
            points.append(Sample(now - dt.timedelta(seconds=period * (age - 0.5)), 1, value, value, value, (value,)))
    return points


@pytest.mark.parametrize("needed,row,setting,expected", CELLS)
def test_datapoints_in_time_decide_every_cell_of_the_table(needed: int, row: str, setting: str, expected: str) -> None:
    """The same cells from timestamped datapoints: the evaluator reads a range of 5 periods, not 3."""
    verdict = decide(alarm_for(needed, setting), samples(row), NOW, PERIOD)
    assert verdict.state == (None if expected == RETAIN else expected)


def test_the_range_slides_and_a_lone_good_datapoint_leaves_it() -> None:
    """The guide on row 2 (`0 - - - -`, breaching): OK now; "the next time this alarm is evaluated, if the
    data is still missing it will go to ALARM, as that non-breaching data point will no longer be in the
    evaluation range" (see the module docstring for the URL)."""
    alarm, data = alarm_for(3, "breaching"), samples("0 - - - -")
    assert decide(alarm, data, NOW, PERIOD).state == "OK"
    assert decide(alarm, data, NOW + dt.timedelta(seconds=PERIOD), PERIOD).state == "ALARM"


def test_enough_real_datapoints_are_judged_without_the_missing_data_setting() -> None:
    """`0 X X - X` 3 of 3: the 3 most recent real datapoints breach; AWS says so whatever the setting, and
    the reason lists exactly those three."""
    verdict = decide(alarm_for(3, "notBreaching"), samples("0 X X - X"), NOW, PERIOD)
    assert verdict.state == "ALARM"
    assert verdict.reason.startswith("Threshold Crossed: 3 out of the last 3 datapoints [10 (")
    assert "treated as" not in verdict.reason and len(verdict.data["evaluatedDatapoints"]) == 3


def test_a_fill_is_named_in_the_reason() -> None:
    """`0 - - - -` treated as breaching: one real datapoint and two filled ones decide OK."""
    verdict = decide(alarm_for(3, "breaching"), samples("0 - - - -"), NOW, PERIOD)
    oldest = NOW - dt.timedelta(seconds=PERIOD * 5)  # the range's first period starts 5 periods ago
    assert verdict.reason == (f"Threshold Crossed: 1 out of the last 1 datapoints [1 ({oldest:%d/%m/%y %H:%M:%S})] was not "
                              "greater than the threshold (5) and 2 missing datapoints were treated as [Breaching] "
                              "(minimum 1 datapoint for ALARM -> OK transition).")


@pytest.mark.parametrize("needed,row,expected", [
    (3, "- - - - X", "INSUFFICIENT_DATA"),  # the guide: not ALARM yet, "because the next data point may be non-breaching"
    (3, "- - - X -", "INSUFFICIENT_DATA"),  # likewise
    (2, "- - X - -", "ALARM"),  # the breach is 3 periods old, "at least as old as" DatapointsToAlarm
    (2, "0 - X - -", "OK"),  # the table's own row: a good datapoint in the range blocks the premature alarm
])
def test_the_premature_alarm_rule(needed: int, row: str, expected: str) -> None:
    """The guide's "Avoiding premature transitions to alarm state" (see the module docstring for the URL),
    under ``missing``. It says only "not ALARM" for `- - - - X` and `- - - X -`: with nothing but
    breaches, too few to alarm, labstack says INSUFFICIENT_DATA (``ignore`` keeps the state)."""
    assert judge(slots(row), 3, needed, "missing").state == expected
    assert judge(slots(row), 3, needed, "ignore").state == (None if expected != "OK" else "OK")


# Through a real labstack: datapoints put with their timestamps, alarms evaluated on the lab clock.
ACCOUNT = "731173117311"
TIME_SCALE = 60  # the test labstack's LABSTACK_TIME_SCALE, its default
LAB_PERIOD = 600  # lab seconds: 10 real seconds, so each datapoint sits 5 s from a period's boundary


def _put_row(cw: Any, metric: str, row: str, real_period: float) -> None:
    """The row's datapoints, the most recent in the middle of the period that ends now."""
    cw.put_metric_data(Namespace="Table", MetricData=[
        {"MetricName": metric, "Timestamp": s.timestamp, "Value": s.total}
        for s in samples(row, dt.datetime.now(dt.timezone.utc), real_period)])


def _first_state(cw: Any, name: str) -> dict[str, Any]:
    """The new state of the alarm's first evaluation, from its history."""
    def first() -> dict[str, Any] | None:
        items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate",
                                          ScanBy="TimestampAscending")["AlarmHistoryItems"]
        return json.loads(items[0]["HistoryData"])["newState"] if items else None
    return wait_for(first)


@pytest.mark.parametrize("needed,row,expected", [
    (3, "0 X X - X", dict.fromkeys(SETTINGS, "ALARM")),
    (3, "- - - - X", {"missing": "INSUFFICIENT_DATA", "ignore": "INSUFFICIENT_DATA", "breaching": "ALARM",
                      "notBreaching": "OK"}),
    (2, "0 - X - -", {"missing": "OK", "ignore": "OK", "breaching": "ALARM", "notBreaching": "OK"}),
])
def test_a_table_row_end_to_end(labstack: LabstackProcess, needed: int, row: str, expected: dict[str, str]) -> None:
    """Rows of the guide's table, and the `- - - - X` its text discusses (see the module docstring for the URL),
    through PutMetricData and four alarms, one per TreatMissingData setting, evaluated by labstack on the lab
    clock. A new alarm that keeps its state (``ignore``) keeps the one every alarm starts in, INSUFFICIENT_DATA."""
    cw = labstack.client("cloudwatch", account=ACCOUNT)
    metric = f"m{needed}-{row.replace(' ', '').replace('-', '_')}"
    _put_row(cw, metric, row, LAB_PERIOD / TIME_SCALE)
    for setting in SETTINGS:
        cw.put_metric_alarm(AlarmName=f"{metric}-{setting}", Namespace="Table", MetricName=metric, Period=LAB_PERIOD,
                            EvaluationPeriods=3, DatapointsToAlarm=needed, Statistic="Maximum", Threshold=THRESHOLD,
                            ComparisonOperator="GreaterThanThreshold", TreatMissingData=setting)
    states = {setting: _first_state(cw, f"{metric}-{setting}")["stateValue"] for setting in SETTINGS}
    assert states == expected


def test_retain_current_state_end_to_end(labstack: LabstackProcess) -> None:
    """The table's "Retain current state" (3 of 3, `- - X - -`, ignore; see the module docstring for the URL):
    an alarm set to OK stays OK, while the same row under ``missing`` goes back to ALARM (premature alarm)."""
    cw = labstack.client("cloudwatch", account=ACCOUNT)
    _put_row(cw, "retain", "- - X - -", LAB_PERIOD / TIME_SCALE)
    # Created first, so each evaluation pass reaches the ignore alarm before the missing one.
    for setting in ("ignore", "missing"):
        cw.put_metric_alarm(AlarmName=f"retain-{setting}", Namespace="Table", MetricName="retain", Period=LAB_PERIOD,
                            EvaluationPeriods=3, Statistic="Maximum", Threshold=THRESHOLD,
                            ComparisonOperator="GreaterThanThreshold", TreatMissingData=setting)
    assert _first_state(cw, "retain-missing")["stateValue"] == "ALARM"
    _first_state(cw, "retain-ignore")
    for setting in ("ignore", "missing"):
        cw.set_alarm_state(AlarmName=f"retain-{setting}", StateValue="OK", StateReason="set by the test")
    wait_for(lambda: cw.describe_alarms(AlarmNames=["retain-missing"])["MetricAlarms"][0]["StateValue"] == "ALARM")
    # The pass that put the missing alarm back evaluated the ignore alarm after its SetAlarmState too.
    kept = cw.describe_alarms(AlarmNames=["retain-ignore"])["MetricAlarms"][0]
    assert (kept["StateValue"], kept["StateReason"]) == ("OK", "set by the test")
