"""labstack's protocol layer, proven on the LabTest provider in a real labstack process."""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.support.responses import check_responses
from tests.support.server import LabstackProcess


def error_of(call) -> tuple[str, int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_a_round_trip_keeps_every_type(labtest) -> None:  # type: ignore[no-untyped-def]
    created_at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    widget = labtest.create_widget(
        name="round-trip", color="green", size=7, tags={"team": "blue"},
        parts=[{"partName": "bolt", "weight": 0.25}], createdAt=created_at, payload=b"\x00\xff", enabled=True,
    )["widget"]
    fetched = labtest.get_widget(name="round-trip")["widget"]
    assert fetched == widget
    assert fetched["createdAt"] == created_at
    assert fetched["payload"] == b"\x00\xff"
    assert fetched["parts"] == [{"partName": "bolt", "weight": 0.25}]
    assert fetched["arn"] == "arn:aws:labtest:us-east-1:123456789012:widget/round-trip"
    assert "round-trip" in [w["name"] for w in labtest.list_widgets()["widgets"]]


def test_the_server_validates_what_the_client_did_not(labstack: LabstackProcess) -> None:
    client = labstack.client("labtest", validate=False)
    code, status, message = error_of(lambda: client.create_widget(name="UPPER", color="pink"))
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'UPPER' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
    assert "Value 'pink' at 'color' failed to satisfy constraint: Member must satisfy enum value set: [red, green, blue]" in message


def test_botocore_validation_is_not_weakened(labtest) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParamValidationError):
        labtest.create_widget()


def test_errors_take_the_status_the_model_documents(labtest) -> None:  # type: ignore[no-untyped-def]
    assert error_of(lambda: labtest.get_widget(name="absent"))[:2] == ("WidgetNotFoundException", 404)
    labtest.create_widget(name="twice")
    assert error_of(lambda: labtest.create_widget(name="twice"))[:2] == ("WidgetExistsException", 400)


def test_an_operation_without_a_method_is_named_as_not_emulated(labtest) -> None:  # type: ignore[no-untyped-def]
    code, status, message = error_of(lambda: labtest.polish_widget(name="w"))
    assert (code, status) == ("NotImplemented", 501)
    assert "LabTest.PolishWidget" in message


def test_a_crashing_operation_answers_internal_failure_and_labstack_lives(labstack: LabstackProcess, labtest) -> None:  # type: ignore[no-untyped-def]
    code, status, _ = error_of(lambda: labtest.explode_widget(name="w"))
    assert (code, status) == ("InternalFailure", 500)
    assert labtest.list_widgets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_state_is_per_account_and_region(labstack: LabstackProcess) -> None:
    alice = labstack.client("labtest", account="111111111111")
    bob = labstack.client("labtest", account="222222222222")
    alice_eu = labstack.client("labtest", account="111111111111", region="eu-west-1")
    widget = alice.create_widget(name="mine")["widget"]
    assert widget["arn"] == "arn:aws:labtest:us-east-1:111111111111:widget/mine"
    assert error_of(lambda: bob.get_widget(name="mine"))[0] == "WidgetNotFoundException"
    assert error_of(lambda: alice_eu.get_widget(name="mine"))[0] == "WidgetNotFoundException"
    assert alice_eu.create_widget(name="mine")["widget"]["arn"].startswith("arn:aws:labtest:eu-west-1:111111111111:")


def test_a_long_lab_wait_does_not_block_other_requests(labstack: LabstackProcess, labtest) -> None:  # type: ignore[no-untyped-def]
    waiter = labstack.client("labtest")
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(waiter.wait_widget(labSeconds=120)))
    thread.start()
    started = time.monotonic()
    labtest.list_widgets()
    assert time.monotonic() - started < 1.0  # answered while the other request waits
    thread.join(timeout=30)
    # 120 lab seconds at the default scale of 60 last two real seconds.
    assert 1.9 <= result["waitedRealSeconds"] < 5


def test_providers_call_other_services_as_the_caller(labstack: LabstackProcess) -> None:
    account = "565656565656"
    labstack.client("s3", account=account).create_bucket(Bucket="counted-by-provider")
    answer = check_responses(labstack.client("labtest", account=account)).count_buckets()
    assert (answer["count"], answer["account"]) == (1, account)


def test_providers_serve_plain_http_routes(labstack: LabstackProcess) -> None:
    with urllib.request.urlopen(labstack.endpoint + "/labtest/some/path", timeout=10) as response:
        assert response.read() == b"labtest route saw GET /labtest/some/path"


def test_a_query_request_keeps_out_the_structures_it_leaves_out() -> None:
    """A parsed query request can be sent on as it is (an overlay forwards it to moto with boto3)."""
    from labstack.protocol import models
    from labstack.protocol.query_codec import _read

    shape = models.service_model("elbv2").operation_model("ModifyListener").input_shape
    params = {"ListenerArn": "arn:l", "DefaultActions.member.1.Type": "forward",
              "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn": "arn:g",
              "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight": "100"}
    assert _read(shape, params, "") == {"ListenerArn": "arn:l", "DefaultActions": [
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "arn:g", "Weight": 100}]}}]}
    assert _read(shape, {}, "") == {}
