"""A bucket policy's conditions decide its denials: labstack's gate evaluates the policy (with its conditions)
before moto serves an object call, and moto's own check (which ignores conditions) no longer denies on top.
The CDK writes an enforce-SSL Deny on every artifact bucket a pipeline makes; on AWS's HTTPS endpoints it
denies nothing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess


def _deny(bucket: str, **condition: dict) -> str:
    statement = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, **condition}]})


def test_an_enforce_ssl_deny_denies_nothing_and_a_plain_deny_still_denies(labstack: LabstackProcess) -> None:
    """The enforce-SSL statement AWS recommends (Deny when aws:SecureTransport is false,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html) lets every object call
    of an IAM user and of the root user through labstack, whose endpoints stand for AWS's HTTPS ones; a Deny
    without a condition still refuses both (the user AWS-shaped, AccessDenied)."""
    account = new_account()
    root = labstack.client("s3", account=account)
    iam = labstack.client("iam", account=account)
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    user = labstack.client("s3", account=key["AccessKeyId"], secret=key["SecretAccessKey"])
    root.create_bucket(Bucket=f"ssl-{account}")
    bucket = f"ssl-{account}"
    root.put_bucket_policy(Bucket=bucket, Policy=_deny(bucket, Condition={"Bool": {"aws:SecureTransport": "false"}}))
    for s3 in (root, user):
        s3.put_object(Bucket=bucket, Key="a.zip", Body=b"artifact")
        assert s3.get_object(Bucket=bucket, Key="a.zip")["Body"].read() == b"artifact"

    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    for s3 in (root, user):
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket=bucket, Key="a.zip")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as refused:
        user.get_object(Bucket=bucket, Key="a.zip")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
