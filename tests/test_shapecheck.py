"""The test-time check of provider answers against botocore's output shapes (labstack.protocol.shapecheck)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.model import ShapeResolver
from labstack.config import Settings
from labstack.context import RequestContext
from labstack.ports import free_port
from labstack.protocol.provider import Provider
from labstack.protocol.shapecheck import VIEW, problems

from tests.support.inprocess import client, serving
from tests.support.server import MODELS

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def session() -> botocore.session.Session:
    found = botocore.session.get_session()
    found.set_config_variable("data_path", str(MODELS))
    return found


def output(session: botocore.session.Session, service: str, operation: str) -> Any:
    return session.get_service_model(service).operation_model(operation).output_shape


def widget(**extra: Any) -> dict[str, Any]:
    return {"widget": {"name": "w", "arn": "arn:aws:labtest:us-east-1:123456789012:widget/w", "createdAt": NOW, **extra}}


def test_a_well_shaped_answer_has_no_problems(session) -> None:  # type: ignore[no-untyped-def]
    answer = widget(color="red", size=3, tags={"team": "blue"}, parts=[{"partName": "bolt", "weight": 0.5}],
                    payload=b"\x00", enabled=False)
    assert problems(output(session, "labtest", "GetWidget"), answer, "json") == []


@pytest.mark.parametrize(("answer", "expected"), [
    (widget(colour="red"), "widget.colour: not a member of Widget"),
    ({"widget": {"name": "w", "createdAt": NOW}}, "widget.arn: required by Widget but missing"),
    (widget(arn=None), "widget.arn: required by Widget but missing"),
    (widget(size="3"), "widget.size: must be an integer, not str '3'"),
    (widget(size=True), "widget.size: must be an integer, not bool True"),
    (widget(enabled="false"), "widget.enabled: must be a boolean, not str 'false'"),
    (widget(color="pink"), "widget.color: 'pink' is not one of Color's values ['red', 'green', 'blue']"),
    (widget(payload="AAE="), "widget.payload: must be bytes, not str 'AAE='"),
    (widget(tags=["team"]), "widget.tags: must be a map, not list ['team']"),
    (widget(tags={"team": 7}), "widget.tags['team']: must be a string, not int 7"),
    (widget(parts={"partName": "bolt"}), "widget.parts: must be a list, not dict"),
    (widget(parts=[{"partName": "bolt"}, {"weight": 1.0}]), "widget.parts[1].partName: required by Part but missing"),
    (widget(parts=[{"partName": "bolt", "weight": "heavy"}]), "widget.parts[0].weight: must be a number, not str 'heavy'"),
    ({"widget": "w"}, "widget: must be a structure (Widget), not str 'w'"),
    ({"widgets": []}, "widgets: not a member of GetWidgetOutput"),
])
def test_each_wrong_shape_is_named_with_its_path(session, answer, expected) -> None:  # type: ignore[no-untyped-def]
    found = problems(output(session, "labtest", "GetWidget"), answer, "json")
    assert any(problem.startswith(expected) for problem in found), found


def test_a_union_has_exactly_one_member_and_a_document_is_free_form() -> None:
    resolver = ShapeResolver({
        "Choice": {"type": "structure", "union": True, "members": {"a": {"shape": "Text"}, "b": {"shape": "Doc"}}},
        "Text": {"type": "string"},
        "Doc": {"type": "structure", "members": {}, "document": True},
    })
    shape = resolver.get_shape_by_name("Choice")
    assert problems(shape, {"a": "x"}, "json") == []
    assert problems(shape, {"b": {"any": ["thing", 1]}}, "json") == []
    assert problems(shape, {"a": "x", "b": {}}, "json") == ["(result): a union (Choice) must have exactly one member set"]
    assert problems(shape, {}, "json") == ["(result): a union (Choice) must have exactly one member set"]


def test_an_enum_value_aws_documents_beyond_the_model_is_accepted(session) -> None:  # type: ignore[no-untyped-def]
    """GetDeploymentConfig answers MOST_CONCURRENCY for CodeDeployDefault.OneAtATime, which the model's enum
    lacks: https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_MinimumHealthyHosts.html"""
    shape = output(session, "codedeploy", "GetDeploymentConfig")

    def answer(kind: str) -> dict[str, Any]:
        return {"deploymentConfigInfo": {"deploymentConfigName": "CodeDeployDefault.OneAtATime",
                                         "minimumHealthyHosts": {"type": kind, "value": 1}}}

    assert problems(shape, answer("MOST_CONCURRENCY"), "json") == []
    assert problems(shape, answer("MOST_HOSTS"), "json") == [
        "deploymentConfigInfo.minimumHealthyHosts.type: 'MOST_HOSTS' is not one of MinimumHealthyHostsType's values "
        "['HOST_COUNT', 'FLEET_PERCENT']"]


def test_lists_of_structures_are_checked_member_by_member(session) -> None:  # type: ignore[no-untyped-def]
    answer = {"widgets": [widget()["widget"], {**widget()["widget"], "createdAt": "yesterday", "extra": 1}]}
    assert problems(output(session, "labtest", "ListWidgets"), answer, "json") == [
        "widgets[1].createdAt: must be a datetime or epoch seconds (json sends a number), not str 'yesterday'",
        "widgets[1].extra: not a member of Widget",
    ]


def test_json_timestamps_are_datetimes_or_epoch_seconds(session) -> None:  # type: ignore[no-untyped-def]
    """The JSON protocols send timestamps as epoch seconds unless the model says otherwise (no labstack
    service's model does): https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html"""
    shape = output(session, "labtest", "GetWidget")
    for good in (NOW, NOW.replace(tzinfo=None), 1765108800, 1765108800.25):
        assert problems(shape, widget(createdAt=good), "json") == [], good
        assert problems(shape, widget(createdAt=good), "rest-json") == [], good
    for bad in ("2026-12-07T12:00:00Z", "1765108800", True, dt.date(2026, 12, 7)):
        assert problems(shape, widget(createdAt=bad), "json"), bad


def test_query_timestamps_are_datetimes_or_iso_8601(session) -> None:  # type: ignore[no-untyped-def]
    """The query protocol answers XML whose timestamps are ISO 8601 text:
    https://smithy.io/2.0/aws/protocols/aws-query-protocol.html"""
    shape = output(session, "sts", "AssumeRole")

    def answer(expiration: Any) -> dict[str, Any]:
        return {"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s", "SessionToken": "t",
                                "Expiration": expiration},
                "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::123456789012:assumed-role/r/s"}}

    for good in (NOW, "2026-12-07T12:00:00Z", "2026-12-07T12:00:00.000+00:00"):
        assert problems(shape, answer(good), "query") == [], good
    for bad in (1765108800, "1765108800", "soon"):
        assert problems(shape, answer(bad), "query") == [
            f"Credentials.Expiration: must be a datetime or an ISO 8601 string (query sends ISO 8601 text), "
            f"not {type(bad).__name__} {bad!r}"], bad


def test_a_rest_json_payload_may_be_text_but_other_blobs_are_bytes(session) -> None:  # type: ignore[no-untyped-def]
    shape = output(session, "lambda", "Invoke")
    assert problems(shape, {"StatusCode": 200, "Payload": '{"ok": true}'}, "rest-json") == []
    assert problems(shape, {"StatusCode": 200, "Payload": b"{}", "LogResult": "bG9n"}, "rest-json") == []
    assert problems(shape, {"StatusCode": "200", "Payload": 7}, "rest-json") == [
        "StatusCode: must be an integer, not str '200'", "Payload: must be bytes, not int 7"]


def test_an_operation_without_output_answers_nothing(session) -> None:  # type: ignore[no-untyped-def]
    shape = output(session, "codecommit", "CreateBranch")
    assert shape is None
    assert problems(shape, {}, "json") == []
    assert problems(shape, {"deleted": True}, "json") == ["(result): the operation answers nothing, not ['deleted']"]


class MisshapenWidgets(Provider):
    """Answers LabTest with a widget whose shape is wrong in two ways (a provider the test registers)."""

    service = "labtest"

    def get_widget(self, ctx: RequestContext, request: dict) -> dict:
        return {"widget": {"name": request["name"], "createdAt": NOW.isoformat(), "shine": "bright"}}

    def list_widgets(self, ctx: RequestContext, request: dict) -> dict:
        return {"widgets": []}


class MisshapenIdentity(Provider):
    """An STS overlay whose GetCallerIdentity answers a number for the account (query protocol)."""

    service = "sts"
    overlay = True

    def get_caller_identity(self, ctx: RequestContext, request: dict) -> dict:
        return {"UserId": ctx.account, "Account": int(ctx.account), "Arn": f"arn:aws:iam::{ctx.account}:root"}


@pytest.fixture(scope="module")
def checking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A labstack with the check on, serving the mis-shaped providers above."""
    settings = Settings(port=free_port(), home=tmp_path_factory.mktemp("shapecheck"), check_shapes=True)
    with serving(settings) as labstack:
        labstack.register(MisshapenWidgets)
        labstack.register(MisshapenIdentity)
        yield labstack


def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def shape_report(labstack: Any) -> dict[str, Any]:
    with urllib.request.urlopen(f"{labstack.settings.endpoint}{VIEW}", timeout=10) as answer:  # noqa: S310 - loopback
        return json.loads(answer.read())


@pytest.mark.slow
def test_a_misshapen_json_answer_is_a_visible_internal_failure(checking, caplog) -> None:  # type: ignore[no-untyped-def]
    labtest = client(checking, "labtest")
    assert labtest.list_widgets()["widgets"] == []  # a well-shaped answer passes
    before = shape_report(checking)
    with caplog.at_level(logging.ERROR, logger="labstack.shapecheck"):
        response = refusal(lambda: labtest.get_widget(name="w"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["Error"]["Code"] == "InternalFailure"
    message = response["Error"]["Message"]
    assert message.startswith("labstack's answer to labtest.GetWidget breaks its output shape (GetWidgetOutput): ")
    assert "widget.arn: required by Widget but missing" in message
    assert "widget.createdAt: must be a datetime or epoch seconds (json sends a number), not str" in message
    assert "widget.shine: not a member of Widget" in message
    assert any("labtest.GetWidget" in record.getMessage() for record in caplog.records)
    after = shape_report(checking)  # the test client retries a 500 once: count at least one
    assert after["violations"] > before["violations"] and after["responses"] > before["responses"]
    assert after["seconds"] > 0


@pytest.mark.slow
def test_a_misshapen_query_answer_is_a_visible_internal_failure(checking) -> None:  # type: ignore[no-untyped-def]
    response = refusal(lambda: client(checking, "sts").get_caller_identity())
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["Error"]["Code"] == "InternalFailure"
    assert "sts.GetCallerIdentity" in response["Error"]["Message"]
    assert "Account: must be a string, not int 123456789012" in response["Error"]["Message"]


def test_the_check_is_off_unless_asked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from labstack.instance import Labstack

    assert Labstack(Settings(home=tmp_path)).shape_check is None
    assert Labstack(Settings(home=tmp_path, check_shapes=True)).shape_check is not None
