"""Metric math for alarms: each period's value of the alarm's returning expression, computed from the
statistics of the MetricStat queries it names (AWS's "Create a CloudWatch alarm based on a metric math
expression"). labstack evaluates arithmetic (``+ - * /``, parentheses, numbers, query ids) and the
functions FILL, SUM, AVG, MIN and MAX over those; an alarm using anything else is left unevaluated.

A missing input makes the result missing for that period, and so does a division by zero, as metric
math gives no datapoint there.
"""

from __future__ import annotations

import ast
import graphlib
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labstack.runtimes.alarms.evaluate import Sample, statistic

Value = float | None
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class Unsupported(ValueError):
    """An expression labstack does not evaluate."""


def _over(values: list[Value], combine: Callable[[list[float]], float]) -> Value:
    present = [v for v in values if v is not None]
    return combine(present) if present else None


_FUNCTIONS: dict[str, Callable[[list[Value]], Value]] = {
    "SUM": lambda vs: _over(vs, sum), "AVG": lambda vs: _over(vs, lambda p: sum(p) / len(p)),
    "MIN": lambda vs: _over(vs, min), "MAX": lambda vs: _over(vs, max)}


def parse(expression: str, ids: set[str]) -> ast.expr:
    """The expression's syntax tree, refused (Unsupported) unless made only of what labstack evaluates."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):
        raise Unsupported(f"cannot read the expression {expression!r}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in (*_FUNCTIONS, "FILL") or node.keywords:
                raise Unsupported(f"{ast.unparse(node.func)} is not a function labstack evaluates")
            if node.func.id == "FILL" and len(node.args) != 2:
                raise Unsupported("FILL takes a query and a value")
        elif isinstance(node, ast.Name):
            if node.id not in ids and node.id not in (*_FUNCTIONS, "FILL"):
                raise Unsupported(f"{node.id} names no query of the alarm")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise Unsupported(f"the operator {type(node.op).__name__} is not evaluated")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise Unsupported("only + and - are evaluated as signs")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise Unsupported(f"{node.value!r} is not a number")
        elif not isinstance(node, (ast.List, ast.Load, ast.operator, ast.unaryop)):
            raise Unsupported(f"{type(node).__name__} is not evaluated")
    return tree


def _list(node: ast.expr, values: dict[str, Value]) -> list[Value]:
    return [compute(item, values) for item in node.elts] if isinstance(node, ast.List) else [compute(node, values)]


def compute(node: ast.expr, values: dict[str, Value]) -> Value:
    """The value of a parsed expression for one period, given each query's value."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values.get(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = compute(node.operand, values)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp):
        left, right = compute(node.left, values), compute(node.right, values)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return _BINARY[type(node.op)](left, right)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    if node.func.id == "FILL":
        value = compute(node.args[0], values)
        return compute(node.args[1], values) if value is None else value
    return _FUNCTIONS[node.func.id]([v for arg in node.args for v in _list(arg, values)])


@dataclass
class MathAlarm:
    """An alarm's metric math: its MetricStat queries and the expressions, returning one."""

    stats: dict[str, Any]  # id -> moto's MetricStat
    expressions: list[tuple[str, ast.expr]]  # in an order where each comes after those it uses
    returned: str
    period: float

    def value(self, samples_of: Callable[[Any], list[Sample]], start: Any, end: Any) -> Value:
        """The returning query's value over ``(start, end]``; ``samples_of(metric)`` gives a metric's datapoints."""
        values: dict[str, Value] = {}
        for query_id, stat in self.stats.items():
            inside = [s for s in samples_of(stat.metric) if start < s.timestamp <= end]
            extended = stat.stat if str(stat.stat or "").startswith("p") else None
            values[query_id] = statistic(inside, None if extended else stat.stat, extended)
        for key, tree in self.expressions:
            values[key] = compute(tree, values)
        return values.get(self.returned)


def math_alarm(queries: list[Any]) -> MathAlarm:
    """The metric math of an alarm's ``Metrics`` (moto's MetricDataQuery list); Unsupported when labstack
    cannot evaluate it."""
    ids = {q.id for q in queries}
    stats = {q.id: q.metric_stat for q in queries if q.metric_stat is not None}
    expressions = {q.id: parse(q.expression, ids) for q in queries if q.expression}
    returning = [q.id for q in queries if str(q.return_data).lower() == "true"] or [
        q.id for q in queries if str(q.return_data).lower() != "false"]
    if len(returning) != 1:
        raise Unsupported("an alarm's Metrics must return exactly one query (ReturnData true)")
    periods = [float(q.metric_stat.period) for q in queries if q.metric_stat is not None and q.metric_stat.period]
    periods += [float(q.period) for q in queries if q.period]
    if not stats or not periods:
        raise Unsupported("an alarm's Metrics need a MetricStat with a Period")
    try:
        order = graphlib.TopologicalSorter({key: {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                                                  and n.id in expressions} for key, tree in expressions.items()})
        ordered = [(key, expressions[key]) for key in order.static_order()]
    except graphlib.CycleError:
        raise Unsupported("the expressions refer to one another in a circle") from None
    return MathAlarm(stats, ordered, returning[0], max(periods))
