"""How CloudWatch decides a metric alarm's state, from datapoints, following AWS's rules.

AWS's rules ("Configuring how CloudWatch alarms treat missing data", CloudWatch user guide):
the alarm retrieves more datapoints than its EvaluationPeriods (N), its *evaluation range*. With
no datapoint missing among the last N it judges those N. With N or more real datapoints in the
range it judges the N most recent real ones and TreatMissingData plays no part. With fewer, it
fills the gap with TreatMissingData and judges every real datapoint of the range with the fill.
DatapointsToAlarm (M) of the judged datapoints must breach for ALARM. A breach that has aged to
M periods with nothing but breaches and gaps since (the "premature alarm" rule) is ALARM even
under ``missing``. Periods are lab time.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

OPERATORS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_WORDS = {"GreaterThanThreshold": "greater than", "GreaterThanOrEqualToThreshold": "greater than or equal to",
          "LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to"}
_FILL_WORDS = {"breaching": "Breaching", "notBreaching": "NonBreaching"}
EXTRA_PERIODS = 2  # AWS's one documented example: 3 evaluation periods, an evaluation range of 5


def evaluation_range(periods: int) -> int:
    """How many periods an alarm of ``periods`` evaluation periods retrieves."""
    return periods + EXTRA_PERIODS


@dataclass(frozen=True)
class Sample:
    """One datapoint: a single value, or a statistic set (count, sum, min, max)."""

    timestamp: dt.datetime
    count: float
    total: float
    minimum: float
    maximum: float
    values: tuple[float, ...] = ()


def statistic(samples: list[Sample], name: str | None, extended: str | None) -> float | None:
    """The period's value: Sum, Average, SampleCount, Minimum, Maximum or a pNN percentile."""
    if not samples:
        return None
    if extended:
        values = sorted(v for s in samples for v in s.values)
        if not values:
            return None
        rank = max(0, math.ceil(float(extended.lstrip("p")) / 100 * len(values)) - 1)
        return values[min(rank, len(values) - 1)]
    count = sum(s.count for s in samples)
    if name == "Sum":
        return sum(s.total for s in samples)
    if name == "SampleCount":
        return count
    if name == "Minimum":
        return min(s.minimum for s in samples)
    if name == "Maximum":
        return max(s.maximum for s in samples)
    return sum(s.total for s in samples) / count if count else None


@dataclass(frozen=True)
class Judgement:
    """What the datapoints of an evaluation range decide.

    ``state`` is None when the alarm keeps its state (``ignore``); ``judged`` are the indexes (into the
    range, oldest first) of the real datapoints the decision read; ``filled`` how many missing ones
    TreatMissingData stood in for."""

    state: str | None
    judged: tuple[int, ...]
    filled: int = 0


def _premature(slots: Sequence[bool | None], periods: int, needed: int) -> bool:
    """AWS's premature-alarm rule: every real datapoint of the range breaches, and the oldest breach
    among the last ``periods`` is at least ``needed`` periods old (the newest period is 1 old)."""
    real = [s for s in slots if s is not None]
    if not real or not all(real):
        return False  # a datapoint within the threshold anywhere in the range blocks it (AWS's 2-of-3 row 3)
    ages = [periods - i for i, breach in enumerate(slots[-periods:]) if breach]
    return bool(ages) and max(ages) >= needed


def judge(slots: Sequence[bool | None], periods: int, needed: int, treat: str) -> Judgement:
    """The state an evaluation range decides. ``slots`` are its periods oldest first: True breaching,
    False within the threshold, None missing."""
    real = [i for i, s in enumerate(slots) if s is not None]
    recent = range(len(slots) - periods, len(slots))
    if all(slots[i] is not None for i in recent):
        judged = tuple(recent)
    elif len(real) >= periods:
        judged = tuple(real[-periods:])
    else:
        judged = tuple(real)
    breaches = sum(1 for i in judged if slots[i])
    filled = periods - len(judged)
    if not filled:
        return Judgement("ALARM" if breaches >= needed else "OK", judged)
    if treat in ("breaching", "notBreaching"):
        if treat == "breaching":
            breaches += filled
        return Judgement("ALARM" if breaches >= needed else "OK", judged, filled)
    # missing or ignore: the gap is unknown
    keep = treat == "ignore"
    if breaches >= needed:
        return Judgement("ALARM", judged)
    if not judged:
        return Judgement(None if keep else "INSUFFICIENT_DATA", judged, filled)
    if _premature(slots, periods, needed):
        return Judgement(None if keep else "ALARM", judged, filled)
    if all(slots[i] for i in judged):
        # Only breaches, too few to alarm: nothing says the metric is within the threshold. The
        # guide says only "not ALARM" here (its `- - - - X`); labstack calls it INSUFFICIENT_DATA.
        return Judgement(None if keep else "INSUFFICIENT_DATA", judged, filled)
    return Judgement("OK", judged, filled)


@dataclass
class Verdict:
    state: str | None
    reason: str
    data: dict[str, Any]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _reason(alarm: Any, judgement: Judgement, points: list[tuple[dt.datetime, float]], treat: str) -> str:
    """The StateReason AWS writes for a judgement."""
    periods = int(alarm.evaluation_periods or 1)
    needed = int(alarm.datapoints_to_alarm or periods)
    words, threshold = _WORDS[alarm.comparison_operator], f"{alarm.threshold:g}"
    if judgement.state in (None, "INSUFFICIENT_DATA"):
        unknown = judgement.filled
        return f"Insufficient Data: {_plural(unknown, 'datapoint')} {'was' if unknown == 1 else 'were'} unknown."
    listed = ", ".join(f"{v:g} ({t:%d/%m/%y %H:%M:%S})" for t, v in reversed(points))
    alarming = judgement.state == "ALARM"
    transition = (f"(minimum {_plural(needed, 'datapoint')} for OK -> ALARM transition)" if alarming else
                  f"(minimum {_plural(periods - needed + 1, 'datapoint')} for ALARM -> OK transition)")
    breaches = OPERATORS[alarm.comparison_operator]
    counted = [v for _, v in points if breaches(v, alarm.threshold) == alarming]
    if not points:
        return (f"Threshold Crossed: no datapoints were received for {_plural(periods, 'period')} and "
                f"{_plural(judgement.filled, 'missing datapoint')} {'was' if judgement.filled == 1 else 'were'} "
                f"treated as [{_FILL_WORDS[treat]}].")
    said = (f"Threshold Crossed: {len(counted)} out of the last {len(points)} datapoints [{listed}] "
            f"{'was' if len(counted) == 1 else 'were'} {'' if alarming else 'not '}{words} the threshold ({threshold})")
    if judgement.filled:
        said += (f" and {_plural(judgement.filled, 'missing datapoint')} {'was' if judgement.filled == 1 else 'were'} "
                 f"treated as [{_FILL_WORDS.get(treat, 'Missing')}]")
    return f"{said} {transition}."


def decide(alarm: Any, samples: list[Sample], now: dt.datetime, real_period: float,
           value: Callable[[dt.datetime, dt.datetime], float | None] | None = None) -> Verdict:
    """The state the alarm should be in now (a Verdict whose state is None: keep the current one).
    ``value(start, end)``, when given, is a period's value (a metric math alarm's) instead of the
    alarm's statistic of ``samples``."""
    periods = int(alarm.evaluation_periods or 1)
    needed = int(alarm.datapoints_to_alarm or periods)
    treat = alarm.treat_missing_data or "missing"
    windows: list[tuple[dt.datetime, float | None]] = []
    for index in range(evaluation_range(periods), 0, -1):  # oldest first
        start = now - dt.timedelta(seconds=real_period * index)
        end = start + dt.timedelta(seconds=real_period)
        if value is not None:
            windows.append((start, value(start, end)))
            continue
        inside = [s for s in samples if start < s.timestamp <= end]
        windows.append((start, statistic(inside, alarm.statistic, alarm.extended_statistic)))
    breaches = OPERATORS[alarm.comparison_operator]
    slots = [None if v is None else breaches(v, alarm.threshold) for _, v in windows]
    judgement = judge(slots, periods, needed, treat)
    points = [(windows[i][0], windows[i][1]) for i in judgement.judged]
    present = [(t, v) for t, v in windows if v is not None]
    data = {"version": "1.0", "queryDate": now.isoformat(timespec="milliseconds"),
            "startDate": windows[0][0].isoformat(timespec="milliseconds"),
            "statistic": alarm.extended_statistic or alarm.statistic, "period": alarm.period,
            "recentDatapoints": [v for _, v in present], "threshold": alarm.threshold,
            "evaluatedDatapoints": [{"timestamp": t.isoformat(timespec="seconds"), "value": v} for t, v in reversed(points)]}
    return Verdict(judgement.state, _reason(alarm, judgement, points, treat), data)
