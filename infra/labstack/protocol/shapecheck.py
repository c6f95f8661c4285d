"""Every answer shaped like AWS's: a provider's result checked against botocore's output shape.

Switched on by ``LABSTACK_CHECK_SHAPES=1`` (the test suite sets it for every labstack it
starts). Then the dispatcher hands each result a provider returns to :meth:`ShapeCheck.verify`
before serialising it, and a result that breaks its operation's output shape is answered with
a 500 ``InternalFailure`` naming the operation, the member path and the problem (and logged),
so any test that calls the operation fails visibly.

What is checked, on the Python values a provider returns:

- structures: no member the shape does not define, every required member present (not None),
  a union with exactly one member set; documents are free-form;
- lists (list or tuple), maps (dict, keys checked as their key shape), strings (str), integers
  and longs (int, not bool), floats and doubles (int or float), booleans (bool);
- enums: a string outside the model's values is a problem. AWS may answer values a given
  botocore release does not list yet, but labstack's providers answer only values labstack
  chose, and botocore is pinned, so an unlisted value here is a typo ("Succeeded" for
  "SUCCEEDED") rather than news from AWS. The few values AWS documents answering although the
  model leaves them out are listed in :data:`UNLISTED_VALUES`, each with its page;
- timestamps as the protocol serialises them: a ``datetime`` everywhere; epoch seconds (a
  number) only for JSON and rest-json, which send epoch seconds; an ISO 8601 string only for
  query, which sends ISO 8601 text (a string in a JSON answer would reach the wire as a string,
  where AWS sends a number);
- blobs: ``bytes``; a rest-json payload (the whole body, e.g. Lambda's ``Payload``) may also be
  ``str``, which the codec encodes.

Not checked: lengths, ranges and patterns. Those constraints describe what a service accepts;
AWS's own answers do not always meet them (an empty description where ``min`` is 1), and
botocore never checks them on responses. Errors are not checked either: an operation may
answer an error code its model does not list, as AWS does.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from botocore.model import OperationModel, Shape

from labstack.errors import JSON, QUERY, REST_JSON, AwsError
from labstack.protocol.shapes import parse_time

if TYPE_CHECKING:
    from labstack.instance import Labstack

log = logging.getLogger("labstack.shapecheck")
VIEW = "/_labstack/shapecheck"
_EPOCH_PROTOCOLS = (JSON, REST_JSON)
# Values AWS documents answering although botocore's enum lacks them: shape name -> values.
UNLISTED_VALUES: dict[str, frozenset[str]] = {
    # CodeDeploy's GetDeploymentConfig answers MOST_CONCURRENCY for CodeDeployDefault.OneAtATime:
    # https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_MinimumHealthyHosts.html
    "MinimumHealthyHostsType": frozenset({"MOST_CONCURRENCY"}),
    # A stack's own events carry its cleanup statuses (AWS::CloudFormation::Stack ... UPDATE_COMPLETE_CLEANUP_IN_PROGRESS):
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html
    "ResourceStatus": frozenset({"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"}),
}
_SIMPLE = {
    "string": (str, "a string"),
    "integer": (int, "an integer"),
    "long": (int, "an integer"),
    "float": ((int, float), "a number"),
    "double": ((int, float), "a number"),
    "boolean": (bool, "a boolean"),
}


def problems(shape: Shape | None, value: Any, protocol: str) -> list[str]:
    """Every way ``value``, a provider's result, breaks ``shape`` as ``protocol`` serialises it.

    Each problem reads ``<member path>: <what is wrong>``, the path as Python would index the
    result (``builds[0].phases[2].phaseStatus``, ``tags["team"]``).
    """
    out: list[str] = []
    if shape is not None:
        _walk(shape, value, "", out, protocol, payload=False)
    elif value:
        out.append(f"(result): the operation answers nothing, not {sorted(value)}")
    return out


def _walk(shape: Shape, value: Any, path: str, out: list[str], protocol: str, payload: bool) -> None:
    kind = shape.type_name
    where = path or "(result)"
    if kind == "structure":
        if shape.metadata.get("document"):
            return
        if not isinstance(value, dict):
            out.append(f"{where}: must be a structure ({shape.name}), not {_kind(value)}")
            return
        members = shape.members
        payload_member = shape.serialization.get("payload") if protocol == REST_JSON and not path else None
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(f"{_member(path, name)}: required by {shape.name} but missing")
        for name, item in value.items():
            if name not in members:
                out.append(f"{_member(path, name)}: not a member of {shape.name}")
            elif item is not None:
                _walk(members[name], item, _member(path, name), out, protocol, payload=name == payload_member)
        if shape.metadata.get("union") and sum(item is not None for item in value.values()) != 1:
            out.append(f"{where}: a union ({shape.name}) must have exactly one member set")
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            out.append(f"{where}: must be a list, not {_kind(value)}")
            return
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{index}]", out, protocol, payload=False)
    elif kind == "map":
        if not isinstance(value, dict):
            out.append(f"{where}: must be a map, not {_kind(value)}")
            return
        for key, item in value.items():
            _walk(shape.key, key, f"{path}[{key!r}] (key)", out, protocol, payload=False)
            _walk(shape.value, item, f"{path}[{key!r}]", out, protocol, payload=False)
    elif kind == "timestamp":
        problem = _timestamp_problem(value, protocol)
        if problem:
            out.append(f"{where}: {problem}")
    elif kind == "blob":
        if not isinstance(value, (bytes, bytearray)) and not (payload and isinstance(value, str)):
            out.append(f"{where}: must be bytes, not {_kind(value)}")
    elif kind == "string" and shape.serialization.get("jsonvalue"):
        return  # any JSON value, sent base64-encoded in a header
    elif kind in _SIMPLE:
        expected, words = _SIMPLE[kind]
        if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
            out.append(f"{where}: must be {words}, not {_kind(value)}")
        elif ("enum" in shape.metadata and value not in shape.metadata["enum"]
              and value not in UNLISTED_VALUES.get(shape.name, ())):
            out.append(f"{where}: {value!r} is not one of {shape.name}'s values {shape.metadata['enum']}")


def _timestamp_problem(value: Any, protocol: str) -> str | None:
    if isinstance(value, dt.datetime):
        return None
    if protocol in _EPOCH_PROTOCOLS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        return f"must be a datetime or epoch seconds ({protocol} sends a number), not {_kind(value)}"
    if protocol == QUERY and isinstance(value, str) and parse_time(value) is not None and not _is_number(value):
        return None
    return f"must be a datetime or an ISO 8601 string ({protocol} sends ISO 8601 text), not {_kind(value)}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _member(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind(value: Any) -> str:
    shown = repr(value)
    return f"{type(value).__name__} {shown[:60]}{'…' if len(shown) > 60 else ''}"


class ShapeCheck:
    """Checks one labstack's answers and counts what checking cost (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses = 0
        self.violations = 0
        self.seconds = 0.0

    def verify(self, service: str, op_model: OperationModel, protocol: str, result: dict[str, Any]) -> None:
        """Raise a 500 ``InternalFailure`` (and log it) if ``result`` breaks the operation's output shape."""
        started = time.perf_counter()
        found = problems(op_model.output_shape, result, protocol)
        spent = time.perf_counter() - started
        with self._lock:
            self.responses += 1
            self.seconds += spent
            self.violations += bool(found)
        if found:
            message = (f"labstack's answer to {service}.{op_model.name} breaks its output shape "
                       f"({op_model.output_shape.name if op_model.output_shape else 'none'}): " + "; ".join(found))
            log.error("%s", message)
            raise AwsError("InternalFailure", message, 500, sender_fault=False)

    def report(self) -> dict[str, Any]:
        """How many answers were checked, how many broke their shape, and the seconds spent checking."""
        with self._lock:
            return {"responses": self.responses, "violations": self.violations, "seconds": round(self.seconds, 6)}

    def log_report(self) -> None:
        """Log :meth:`report` (at shutdown), so the suite's cost of checking can be summed from the logs."""
        report = self.report()
        log.info("shape checks: %d answers checked in %.3fs, %d broke their shape",
                 report["responses"], report["seconds"], report["violations"])


def install(labstack: "Labstack") -> ShapeCheck | None:
    """A :class:`ShapeCheck` for ``labstack`` when its settings ask for one (``LABSTACK_CHECK_SHAPES=1``),
    with its counters served at ``/_labstack/shapecheck`` and logged at shutdown; else None."""
    if not labstack.settings.check_shapes:
        return None
    check = ShapeCheck()
    labstack.views[VIEW] = lambda _environ: check.report()
    labstack.hooks.on_shutdown(check.log_report)
    return check
