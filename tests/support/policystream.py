"""IAM principals that make real calls against a test labstack: an IAM user's keys, a session of a role
from moto's STS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.support.server import LabstackProcess


@dataclass(frozen=True)
class Keys:
    """Credentials of one IAM principal and the ARN calls made with them name."""

    arn: str
    key: str
    secret: str
    token: str | None = None

    def client(self, server: LabstackProcess, service: str) -> Any:
        """A client of ``server`` signed with these credentials."""
        return server.client(service, account=self.key, secret=self.secret, token=self.token)


def policy(*statements: dict[str, Any]) -> str:
    """A policy document of ``statements``."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def user(iam: Any, name: str, document: str) -> Keys:
    """An IAM user ``name`` (made with ``iam``, a client of its account) with ``document`` inline and an access key."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="stream-test", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(arn, key["AccessKeyId"], key["SecretAccessKey"])


def role(iam: Any, account: str, name: str, document: str) -> str:
    """The ARN of a role ``name`` of ``account`` that the account may assume, with ``document`` inline."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="stream-test", PolicyDocument=document)
    return arn


def session(sts: Any, role_arn: str, name: str) -> Keys:
    """A session of ``role_arn`` from moto's STS, assumed with ``sts`` (a client of the account's root)."""
    found = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)
    creds = found["Credentials"]
    return Keys(found["AssumedRoleUser"]["Arn"], creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def denied(call: Any) -> str:
    """The error code of ``call()``, which must fail."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - botocore's modeled and unmodeled errors alike
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code is None:
            raise
        return code
    raise AssertionError("the call was allowed")
