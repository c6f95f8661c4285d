"""The shape walker: validation in AWS's words, and wire <-> Python conversion."""

from __future__ import annotations

import datetime as dt

import botocore.session
import pytest
from labstack.protocol import shapes

from tests.support.server import MODELS


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(MODELS))
    return session.get_service_model("labtest")


def create_input(model):  # type: ignore[no-untyped-def]
    return model.operation_model("CreateWidget").input_shape


def test_a_valid_request_has_no_problems(model) -> None:  # type: ignore[no-untyped-def]
    request = {"name": "w-1", "color": "red", "size": 10, "tags": {"a": "b"}, "parts": [{"partName": "p", "weight": 2}],
               "createdAt": 1700000000.5, "payload": "AAE=", "enabled": False}
    assert shapes.problems(create_input(model), request) == []


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({}, "Value null at 'name' failed to satisfy constraint: Member must not be null"),
        ({"name": "x" * 21}, "at 'name' failed to satisfy constraint: Member must have length less than or equal to 20"),
        ({"name": ""}, "Member must have length greater than or equal to 1"),
        ({"name": "Bad_Name"}, "Member must satisfy regular expression pattern: ^[a-z][a-z0-9-]*$"),
        ({"name": "w", "color": "pink"}, "Value 'pink' at 'color' failed to satisfy constraint: Member must satisfy enum value set: [red, green, blue]"),
        ({"name": "w", "size": 11}, "Member must have value less than or equal to 10"),
        ({"name": "w", "size": 0}, "Member must have value greater than or equal to 1"),
        ({"name": "w", "size": "3"}, "at 'size' failed to satisfy constraint: Member must be an integer"),
        ({"name": "w", "size": True}, "Member must be an integer"),
        ({"name": "w", "enabled": "yes"}, "at 'enabled' failed to satisfy constraint: Member must be a boolean"),
        ({"name": "w", "tags": {str(i): "v" for i in range(6)}}, "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 5"),
        ({"name": "w", "parts": [{}]}, "Value null at 'parts.1.member.partName' failed to satisfy constraint: Member must not be null"),
        ({"name": "w", "parts": [{"partName": "a"}] * 4}, "at 'parts' failed to satisfy constraint: Member must have length less than or equal to 3"),
        ({"name": "w", "parts": {"partName": "a"}}, "Member must be a list"),
        ({"name": "w", "createdAt": "yesterday"}, "at 'createdAt' failed to satisfy constraint: Member must be a timestamp"),
        ({"name": "w", "payload": "***"}, "Member must be base64-encoded binary data"),
    ],
)
def test_each_broken_constraint_is_named(model, request_body, expected) -> None:  # type: ignore[no-untyped-def]
    found = shapes.problems(create_input(model), request_body)
    assert any(expected in problem for problem in found), found


def test_unknown_members_are_reported_only_when_strict(model) -> None:  # type: ignore[no-untyped-def]
    shape = create_input(model)
    assert shapes.problems(shape, {"name": "w", "extra": 1}) == []
    assert shapes.problems(shape, {"name": "w", "extra": 1}, strict=True) == [
        "Member 'extra' is not defined by shape CreateWidgetInput"
    ]


def test_wire_values_become_python_and_back(model) -> None:  # type: ignore[no-untyped-def]
    shape = model.operation_model("CreateWidget").input_shape
    wire = {"name": "w", "createdAt": 1700000000.25, "payload": "AAE=", "parts": [{"partName": "p"}]}
    python = shapes.from_wire(shape, wire)
    assert python["createdAt"] == dt.datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=dt.timezone.utc)
    assert python["payload"] == b"\x00\x01"
    assert shapes.to_wire(shape, python) == wire


def test_iso_timestamps_are_accepted_on_input(model) -> None:  # type: ignore[no-untyped-def]
    shape = create_input(model)
    request = {"name": "w", "createdAt": "2026-11-26T10:00:00Z"}
    assert shapes.problems(shape, request) == []
    assert shapes.from_wire(shape, request)["createdAt"].hour == 10


def test_output_check_catches_python_values_left_on_the_wire(model) -> None:  # type: ignore[no-untyped-def]
    output = model.operation_model("GetWidget").output_shape
    bad = {"widget": {"name": "w", "arn": "a", "createdAt": "not a time", "payload": b"raw"}}
    found = shapes.problems(output, bad, strict=True)
    assert any("createdAt" in p for p in found) and any("payload" in p for p in found)
    missing = shapes.problems(output, {"widget": {"name": "w"}}, strict=True)
    assert "Value null at 'widget.arn' failed to satisfy constraint: Member must not be null" in missing
