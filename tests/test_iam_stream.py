"""The policy stream, as the console's API and ``labstack iam stream`` show it: every call of an IAM user
and of a role session (moto's STS) with its resource and decision, a denial naming the statement that
decided it or saying that none allowed it; the root's own calls are not in it; in class mode a learner
reads only their own account's stream, whatever they ask."""

from __future__ import annotations

import urllib.error
from typing import Any

import pytest

from labstack import cli, daemon
from tests.support.browser_console import call, get
from tests.support.classmode import ClassLabstack
from tests.support.codebuild import new_account
from tests.support.policystream import Keys, denied, policy, role, session, user
from tests.support.server import LabstackProcess, start_labstack

pytest_plugins = ["tests.support.classmode_fixtures"]  # `classroom`

ACCOUNT = new_account()
BUCKET = "stream-uploads"
DEV_POLICY = policy({"Sid": "Buckets", "Effect": "Allow", "Resource": "*",
                     "Action": ["s3:ListAllMyBuckets", "s3:CreateBucket", "s3:PutObject"]},
                    {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"})


@pytest.fixture(scope="module")
def dev(labstack: LabstackProcess) -> Keys:
    """IAM user ``dev``, who listed buckets, made one and uploaded to it, and was refused a delete
    (an explicit Deny) and a list of queues (no statement allows it)."""
    keys = user(labstack.client("iam", account=ACCOUNT), "dev", DEV_POLICY)
    s3 = keys.client(labstack, "s3")
    s3.list_buckets()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="notes/today.txt", Body=b"hello")
    assert denied(lambda: s3.delete_bucket(Bucket=BUCKET)) == "AccessDenied"
    assert denied(lambda: keys.client(labstack, "sqs").list_queues()) == "AccessDeniedException"
    return keys


def rows(answer: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["action"], row["resource"]): row for row in answer["calls"]}


def test_an_iam_users_calls_are_listed_with_their_decisions(labstack: LabstackProcess, dev: Keys) -> None:
    listed = get(labstack.endpoint, "iam", ACCOUNT)
    # the root made the user, the bucket's owner is the user's account: neither is evaluated, so neither is listed
    assert [p["principal"] for p in listed["principals"]] == [dev.arn]
    assert listed["principals"][0]["calls"] == 5 and listed["principals"][0]["denied"] == 2
    found = rows(get(labstack.endpoint, "iam/principal", ACCOUNT, {"principal": dev.arn}))
    upload = found[("s3:PutObject", f"arn:aws:s3:::{BUCKET}/notes/today.txt")]
    assert upload["decision"] == "allowed" and 'statement "Buckets"' in upload["explanation"]
    assert upload["sources"] == ["s3.PutObject"] and upload["enforced"] is True
    delete = found[("s3:DeleteBucket", f"arn:aws:s3:::{BUCKET}")]
    assert delete["decision"] == "explicitDeny"
    assert delete["explanation"].startswith('statement "NoDelete" of identity-based policy inline policy stream-test denies')
    queues = found[("sqs:ListQueues", "*")]
    assert queues["decision"] == "implicitDeny"
    assert "because no identity-based policy allows the sqs:ListQueues action" in queues["explanation"]
    assert set(found) >= {("s3:ListAllMyBuckets", "*"), ("s3:CreateBucket", f"arn:aws:s3:::{BUCKET}")}


def test_a_role_sessions_calls_name_the_session_and_its_role(labstack: LabstackProcess) -> None:
    account = new_account()
    arn = role(labstack.client("iam", account=account), account, "params", policy(
        {"Sid": "Own", "Effect": "Allow", "Action": "ssm:PutParameter", "Resource": f"arn:aws:ssm:us-east-1:{account}:parameter/app/*"}))
    keys = session(labstack.client("sts", account=account), arn, "deploy-1")
    ssm = keys.client(labstack, "ssm")
    ssm.put_parameter(Name="/app/colour", Value="blue", Type="String")
    assert denied(lambda: ssm.put_parameter(Name="/other/colour", Value="red", Type="String")) == "AccessDeniedException"
    assert keys.arn == f"arn:aws:sts::{account}:assumed-role/params/deploy-1"
    listed = get(labstack.endpoint, "iam", account)["principals"]
    assert [(p["principal"], p["role"], p["calls"], p["denied"]) for p in listed] == [(keys.arn, arn, 2, 1)]
    answer = get(labstack.endpoint, "iam/principal", account, {"principal": keys.arn})
    found = rows(answer)
    assert 'statement "Own"' in found[("ssm:PutParameter", f"arn:aws:ssm:us-east-1:{account}:parameter/app/colour")]["explanation"]
    refused = found[("ssm:PutParameter", f"arn:aws:ssm:us-east-1:{account}:parameter/other/colour")]
    assert refused["decision"] == "implicitDeny" and "no identity-based policy allows" in refused["explanation"]
    # a role session's page carries the least-privilege policy of what its role used
    assert answer["suggestion"]["role"] == arn and answer["suggestion"]["denied"] == 1


def test_bad_requests_get_a_json_error_and_labstack_stays_up(labstack: LabstackProcess, dev: Keys) -> None:
    assert call(labstack.endpoint, "iam/principal", ACCOUNT)[0] == 400  # no ?principal=
    status, answer = call(labstack.endpoint, "iam/principal", ACCOUNT, query={"principal": "x" * 5000})
    assert status == 400 and answer["error"] == "BadRequest"
    status, answer = call(labstack.endpoint, "iam/principal", ACCOUNT, query={"principal": dev.arn + "x"})
    assert status == 404 and "no call of" in answer["message"]
    assert call(labstack.endpoint, "iam/policy", ACCOUNT, query={"role": "nobody"})[0] == 404
    assert call(labstack.endpoint, "iam/elsewhere", ACCOUNT)[0] == 404
    assert call(labstack.endpoint, "iam", "not-an-account")[0] == 400
    assert call(labstack.endpoint, "iam", ACCOUNT, body={})[0] == 404  # nothing to POST
    assert call(labstack.endpoint, "iam/principal", new_account(), query={"principal": dev.arn})[0] == 404  # another account
    assert get(labstack.endpoint, "iam", ACCOUNT)["principals"][0]["principal"] == dev.arn


def test_labstack_iam_stream_prints_the_principals_and_a_principals_decisions(
        labstack: LabstackProcess, dev: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["iam", "stream", "--account", ACCOUNT, "--endpoint", labstack.endpoint]) == 0
    assert f"5 calls     2 denied  {dev.arn}" in capsys.readouterr().out
    assert cli.main(["iam", "stream", "--account", ACCOUNT, "--endpoint", labstack.endpoint, "--principal", dev.arn]) == 0
    out = capsys.readouterr().out
    assert f"DENY  s3:DeleteBucket on arn:aws:s3:::{BUCKET}  (1x, s3.DeleteBucket)" in out
    assert 'statement "NoDelete" of identity-based policy' in out
    assert f"ALLOW s3:PutObject on arn:aws:s3:::{BUCKET}/notes/today.txt" in out
    assert cli.main(["iam", "stream", "--account", ACCOUNT, "--endpoint", labstack.endpoint, "--principal", "arn:aws:iam::1:user/x"]) == 1
    assert "no call of arn:aws:iam::1:user/x" in capsys.readouterr().err


# --- class mode: a learner reads their own stream only ------------------------------------------
@pytest.fixture(scope="module")
def class_users(classroom: ClassLabstack) -> dict[str, Keys]:
    """An IAM user in learner01's and in learner02's account, each refused one call."""
    found = {}
    for who in ("learner01", "learner02"):
        keys = user(classroom.client("iam", who), f"{who}-dev", policy(
            {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}))
        classroom.keyed("sqs", keys.key, keys.secret).list_queues()
        assert denied(lambda: classroom.keyed("sns", keys.key, keys.secret).list_topics()) == "AccessDenied"
        found[who] = keys
    return found


def signed_as(classroom: ClassLabstack, who: str, route: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A console API answer signed with ``who``'s keys, as the CLI sends it."""
    row = classroom.rows[who]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", row.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", row.secret_access_key)
    return daemon.get_json(f"{classroom.endpoint}/_labstack/api/{route}", timeout=30)


def test_a_learner_reads_only_their_own_stream(classroom: ClassLabstack, class_users: dict[str, Keys],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    mine, theirs = classroom.account("learner02"), classroom.account("learner01")
    answer = signed_as(classroom, "learner02", f"iam?account={theirs}", monkeypatch)  # asks for learner01's
    assert answer["account"] == mine
    assert [p["principal"] for p in answer["principals"]] == [class_users["learner02"].arn]
    with pytest.raises(urllib.error.HTTPError) as refused:
        signed_as(classroom, "learner02", f"iam/principal?account={theirs}&principal={class_users['learner01'].arn}",
                  monkeypatch)
    assert refused.value.code == 404
    instructor = signed_as(classroom, "instructor", f"iam?account={theirs}", monkeypatch)
    assert [p["principal"] for p in instructor["principals"]] == [class_users["learner01"].arn]
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        daemon.get_json(f"{classroom.endpoint}/_labstack/api/iam?account={theirs}", timeout=30)
    assert unsigned.value.code == 401


def test_in_report_mode_a_denial_let_through_is_marked(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_labstack(tmp_path_factory.mktemp("iam-report-stream"), LABSTACK_IAM="report")
    try:
        account = new_account()
        keys = user(server.client("iam", account=account), "dev", policy(
            {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}))
        keys.client(server, "sns").list_topics()  # not allowed, but let through
        listed = get(server.endpoint, "iam", account)["principals"]
        assert [(p["calls"], p["denied"], p["reported"]) for p in listed] == [(1, 1, 1)]
        row = get(server.endpoint, "iam/principal", account, {"principal": keys.arn})["calls"][0]
        assert (row["action"], row["decision"], row["enforced"]) == ("sns:ListTopics", "implicitDeny", False)
    finally:
        server.stop()
