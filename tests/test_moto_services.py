"""Everything labstack does not own is served by moto in the same process, in the caller's account."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.support import raw
from tests.support.roles import service_role
from tests.support.server import LabstackProcess

ACCOUNT = "444455556666"
ROLE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def get(labstack: LabstackProcess, path: str) -> dict:
    with urllib.request.urlopen(labstack.endpoint + path, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


# One ordinary call per service the design lists, each answered by moto through labstack.
CALLS = {
    "s3": lambda c: c.list_buckets(),
    "iam": lambda c: c.list_roles(),
    "sts": lambda c: c.get_caller_identity(),
    "sns": lambda c: c.list_topics(),
    "sqs": lambda c: c.list_queues(),
    "cloudwatch": lambda c: c.describe_alarms(),
    "logs": lambda c: c.describe_log_groups(),
    "events": lambda c: c.list_rules(),
    "ssm": lambda c: c.describe_parameters(),
    "secretsmanager": lambda c: c.list_secrets(),
    "kms": lambda c: c.list_keys(),
    "ecr": lambda c: c.describe_repositories(),
    "ecs": lambda c: c.list_clusters(),
    "elbv2": lambda c: c.describe_load_balancers(),
    "lambda": lambda c: c.list_functions(),
    "cloudformation": lambda c: c.list_stacks(),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_each_moto_service_answers(labstack: LabstackProcess, service: str) -> None:
    response = CALLS[service](labstack.client(service, account=ACCOUNT))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_access_key_picks_the_account_for_moto_and_labstack_alike(labstack: LabstackProcess) -> None:
    assert labstack.client("sts", account=ACCOUNT).get_caller_identity()["Account"] == ACCOUNT
    assert labstack.client("sts").get_caller_identity()["Account"] == "123456789012"  # moto's default
    topic = labstack.client("sns", account=ACCOUNT, region="eu-west-1").create_topic(Name="approvals")["TopicArn"]
    assert topic == f"arn:aws:sns:eu-west-1:{ACCOUNT}:approvals"
    widget = labstack.client("labtest", account=ACCOUNT, region="eu-west-1").create_widget(name="same-account")["widget"]
    assert widget["arn"].split(":")[3:5] == ["eu-west-1", ACCOUNT]
    assert labstack.client("sns").list_topics()["Topics"] == []  # the default account sees none of it


def test_keys_issued_by_iam_belong_to_their_account(labstack: LabstackProcess) -> None:
    iam = labstack.client("iam", account="777788889999")
    iam.create_user(UserName="learner")
    key = iam.create_access_key(UserName="learner")["AccessKey"]  # signed with its secret: labstack verifies it
    sts = labstack.client("sts", account=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Account"] == "777788889999"


def test_aws_managed_policies_can_be_attached(labstack: LabstackProcess) -> None:
    iam = labstack.client("iam", account=ACCOUNT)
    iam.create_role(RoleName="codebuild-service-role", AssumeRolePolicyDocument=ROLE_TRUST)
    iam.attach_role_policy(RoleName="codebuild-service-role", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    attached = iam.list_attached_role_policies(RoleName="codebuild-service-role")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]


def test_s3_objects_round_trip_with_underscored_metadata(labstack: LabstackProcess) -> None:
    s3 = labstack.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="artifacts-bucket")
    s3.put_object(Bucket="artifacts-bucket", Key="a/b.txt", Body=b"hello", Metadata={"build_id": "42"})
    got = s3.get_object(Bucket="artifacts-bucket", Key="a/b.txt")
    assert got["Body"].read() == b"hello"
    assert got["Metadata"] == {"build_id": "42"}


def test_new_buckets_are_encrypted_by_default_as_on_s3(labstack: LabstackProcess) -> None:
    """Since January 2023 every new S3 bucket has SSE-S3 default encryption."""
    s3 = labstack.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="encrypted-by-default")
    rule = s3.get_bucket_encryption(Bucket="encrypted-by-default")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    s3.put_bucket_encryption(Bucket="encrypted-by-default", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/mine"}}]})
    rule = s3.get_bucket_encryption(Bucket="encrypted-by-default")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    s3.delete_bucket_encryption(Bucket="encrypted-by-default")  # S3 goes back to SSE-S3
    rule = s3.get_bucket_encryption(Bucket="encrypted-by-default")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_head_bucket_on_a_missing_bucket_is_a_404(labstack: LabstackProcess) -> None:
    """moto answers an empty 404: that is S3's answer, not a route moto lacks."""
    s3 = labstack.client("s3", account=ACCOUNT)
    with pytest.raises(ClientError) as info:
        s3.head_bucket(Bucket="no-such-bucket-here")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.create_bucket(Bucket="bucket-that-is-here")
    assert s3.head_bucket(Bucket="bucket-that-is-here")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_an_operation_moto_lacks_is_an_aws_shaped_501(labstack: LabstackProcess) -> None:
    for service, call in [
        ("ecs", lambda c: c.list_services_by_namespace(namespace="x")),  # JSON protocol
        ("cloudformation", lambda c: c.describe_generated_template(GeneratedTemplateName="x")),  # query: XML
    ]:
        with pytest.raises(ClientError) as info:
            call(labstack.client(service))
        error = info.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert error["Error"]["Code"] == "NotImplemented"
        assert "labstack does not emulate" in error["Error"]["Message"]


def test_a_service_nobody_emulates_is_named(labstack: LabstackProcess) -> None:
    with pytest.raises(ClientError) as info:
        labstack.client("devicefarm", region="us-west-2").list_projects()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "devicefarm.ListProjects" in info.value.response["Error"]["Message"]


def test_unrouted_paths_never_answer_html(labstack: LabstackProcess) -> None:
    headers = raw.sign(labstack.endpoint + "/2015-03-31/no-such-path", "lambda", {}, b"", method="GET")
    reply = raw.send(labstack.endpoint, "/2015-03-31/no-such-path", headers, method="GET")
    assert reply.status == 501
    assert "html" not in reply.headers.get("content-type", "")
    assert reply.json()["__type"] == "NotImplemented"


def test_health_is_served_at_both_paths(labstack: LabstackProcess) -> None:
    ours = get(labstack, "/_labstack/health")
    theirs = get(labstack, "/_localstack/health")
    assert set(ours["services"]) >= set(CALLS) | {"labtest"}
    assert set(ours["services"].values()) <= {"available", "running"}
    assert ours["services"] == theirs["services"]
    labstack.client("kms", account=ACCOUNT).create_key()
    assert get(labstack, "/_localstack/health")["services"]["kms"] == "running"


def test_localstack_client_reaches_labstack(labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    import localstack_client.session

    monkeypatch.setenv("AWS_ENDPOINT_URL", labstack.endpoint)
    session = localstack_client.session.Session(region_name="us-east-1")
    assert session.client("sts").get_caller_identity()["Account"]
    assert "Buckets" in session.client("s3").list_buckets()


def test_status_counts_resources_per_account(labstack: LabstackProcess) -> None:
    account = "999900001111"
    labstack.client("s3", account=account).create_bucket(Bucket="counted-bucket")
    labstack.client("labtest", account=account).create_widget(name="counted")
    labstack.client("labtest", account=account, region="eu-west-1").create_widget(name="counted")
    status = get(labstack, "/_labstack/status")
    mine = status["accounts"][account]
    assert mine["resources"] == {"s3": 1, "labtest": 2}
    assert mine["resource_count"] == 3
    assert (mine["builds"], mine["deployments"], mine["tasks"]) == (0, 0, 0)
    assert status["endpoint"] == labstack.endpoint and status["uptime_seconds"] >= 0



def test_lambda_functions_are_counted_and_shown_running(labstack: LabstackProcess) -> None:
    import io
    import zipfile

    account = "686868686868"
    role = service_role(labstack.client("iam", account=account), "r", "lambda.amazonaws.com")  # Lambda may assume it
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    labstack.client("lambda", account=account).create_function(
        FunctionName="counted", Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()})
    assert get(labstack, "/_labstack/status")["accounts"][account]["resources"]["lambda"] == 1
    assert get(labstack, "/_labstack/health")["services"]["lambda"] == "running"
