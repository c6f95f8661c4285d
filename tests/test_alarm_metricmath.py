"""Metric math as labstack's alarm runtime evaluates it: arithmetic over a period's query values, a missing
input or a division by zero gives no value, FILL/SUM/AVG/MIN/MAX, and anything else is refused (never run).
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from labstack.runtimes.alarms.metricmath import Unsupported, compute, math_alarm, parse


def value(expression: str, **values: float | None) -> float | None:
    return compute(parse(expression, set(values)), values)


def test_arithmetic_missing_values_and_functions() -> None:
    assert value("100 * errors / requests", errors=3, requests=10) == 30
    assert value("100 * errors / requests", errors=3, requests=0) is None
    assert value("errors - requests", errors=None, requests=1) is None
    assert value("-a + (b * 2)", a=1, b=3) == 5
    assert value("FILL(a, 0) + 1", a=None) == 1
    assert value("SUM([a, b, c])", a=1, b=None, c=2) == 3
    assert value("AVG([a, b])", a=1, b=3) == 2 and value("MAX([a, b])", a=1, b=3) == 3
    assert value("MIN([a, b])", a=None, b=None) is None


@pytest.mark.parametrize("expression", ["__import__('os').system('true')", "a.real", "a ** 2", "'a'", "IF(a, 1, 2)",
                                        "FILL(a)", "b + 1", "lambda: 1", "(" * 500 + "a" + ")" * 500, "a if a else a"])
def test_what_labstack_does_not_evaluate_is_refused(expression: str) -> None:
    with pytest.raises(Unsupported):
        parse(expression, {"a"})


def query(query_id: str, expression: str | None = None, stat: bool = False, returns: str = "false") -> SimpleNamespace:
    metric_stat = SimpleNamespace(metric=None, period="60", stat="Sum") if stat else None
    return SimpleNamespace(id=query_id, expression=expression, metric_stat=metric_stat, return_data=returns, period=None)


def test_an_alarms_queries_return_one_value_in_dependency_order() -> None:
    alarm = math_alarm([query("total", "a + b", returns="true"), query("b", "a * 2"), query("a", stat=True)])
    assert [key for key, _ in alarm.expressions] == ["b", "total"] and alarm.period == 60
    with pytest.raises(Unsupported, match="circle"):
        math_alarm([query("x", "y", returns="true"), query("y", "x"), query("a", stat=True)])
    with pytest.raises(Unsupported, match="exactly one"):
        math_alarm([query("x", "a", returns="true"), query("a", stat=True, returns="true")])
