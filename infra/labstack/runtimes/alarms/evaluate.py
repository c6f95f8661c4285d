"""How CloudWatch decides a metric alarm's state, from datapoints, following AWS's rules.

The alarm looks at its last EvaluationPeriods periods; it goes to ALARM when at least
DatapointsToAlarm of them breach the threshold, to OK when the rest decide it, and
TreatMissingData says what a period without data counts as. Periods are lab time.
"""

from __future__ import annotations

import datetime as dt
import math
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


@dataclass
class Verdict:
    state: str
    reason: str
    data: dict[str, Any]


def decide(alarm: Any, samples: list[Sample], now: dt.datetime, real_period: float) -> Verdict | None:
    """The state the alarm should be in now (None: keep the current one)."""
    periods = int(alarm.evaluation_periods or 1)
    needed = int(alarm.datapoints_to_alarm or periods)
    treat = alarm.treat_missing_data or "missing"
    windows: list[tuple[dt.datetime, float | None]] = []
    for index in range(periods, 0, -1):  # oldest first
        start = now - dt.timedelta(seconds=real_period * index)
        end = start + dt.timedelta(seconds=real_period)
        inside = [s for s in samples if start < s.timestamp <= end]
        windows.append((start, statistic(inside, alarm.statistic, alarm.extended_statistic)))
    present = [(t, v) for t, v in windows if v is not None]
    breaches = OPERATORS[alarm.comparison_operator]
    breaching = sum(1 for _, v in present if breaches(v, alarm.threshold))
    missing = periods - len(present)
    if treat == "breaching":
        breaching += missing
    name = alarm.extended_statistic or alarm.statistic
    data = {"version": "1.0", "queryDate": now.isoformat(timespec="milliseconds"),
            "startDate": windows[0][0].isoformat(timespec="milliseconds"), "statistic": name,
            "period": alarm.period, "recentDatapoints": [v for _, v in present], "threshold": alarm.threshold,
            "evaluatedDatapoints": [{"timestamp": t.isoformat(timespec="seconds"), "value": v} for t, v in reversed(present)]}
    if breaching >= needed:
        points = ", ".join(f"{v:g} ({t:%d/%m/%y %H:%M:%S})" for t, v in reversed(present)) or "no datapoints"
        return Verdict("ALARM", f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{points}] was "
                                f"{_WORDS[alarm.comparison_operator]} the threshold ({alarm.threshold:g}) "
                                f"(minimum {needed} datapoint{'s' if needed > 1 else ''} for OK -> ALARM transition).", data)
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None
        return Verdict("INSUFFICIENT_DATA", f"Insufficient Data: {periods} datapoint{'s were' if periods > 1 else ' was'} "
                                            "unknown.", data)
    points = ", ".join(f"{v:g} ({t:%d/%m/%y %H:%M:%S})" for t, v in reversed(present)) or "no datapoints"
    return Verdict("OK", f"Threshold Crossed: {len(present) - breaching if present else periods} out of the last "
                         f"{periods} datapoints [{points}] {'was' if len(present) == 1 else 'were'} not "
                         f"{_WORDS[alarm.comparison_operator]} the threshold ({alarm.threshold:g}) "
                         f"(minimum {needed} datapoint{'s' if needed > 1 else ''} for ALARM -> OK transition).", data)
