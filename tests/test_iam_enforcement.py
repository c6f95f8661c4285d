"""labstack enforces IAM at its gateway (issue 20): IAM users' keys and role sessions are decided by
their policies, denials are AWS's, issued keys are verified even on the laptop.

Each rule cites the AWS page it follows:
- "Policy evaluation for requests within a single account" (IAM User Guide,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html);
- "How AWS enforcement code logic evaluates requests to allow or deny access"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):
  "all requests are implicitly denied with the exception of the AWS account root user", "an explicit deny
  overrides an explicit allow".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess




class Account:
    """One fresh account of a labstack: its root's clients, and IAM users with keys."""

    def __init__(self, server: LabstackProcess) -> None:
        self.server = server
        self.id = new_account()
        self.iam = server.client("iam", account=self.id)

    def root(self, service: str) -> Any:
        return self.server.client(service, account=self.id)

    def user(self, name: str, *statements: dict[str, Any]) -> dict[str, str]:
        """A new IAM user with an inline policy of ``statements`` (none: no policy); its key."""
        self.iam.create_user(UserName=name)
        if statements:
            self.allow(name, *statements)
        return self.iam.create_access_key(UserName=name)["AccessKey"]

    def allow(self, user: str, *statements: dict[str, Any], name: str = "inline") -> None:
        self.iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=policy(*statements))

    def as_key(self, key: dict[str, str], service: str) -> Any:
        return self.server.client(service, account=key["AccessKeyId"], secret=key["SecretAccessKey"],
                                  token=key.get("SessionToken"))


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


@pytest.fixture
def account(labstack: LabstackProcess) -> Account:
    return Account(labstack)


def test_a_user_without_policies_is_denied_with_awss_sentence(account: Account) -> None:
    """No identity-based policy allows it: implicit deny, and AWS's sentence names who, what and why."""
    key = account.user("carlossalazar")
    ssm = account.as_key(key, "ssm")
    code, status, message = error(lambda: ssm.get_parameter(Name="/app/db/password"))
    assert (code, status) == ("AccessDeniedException", 400)
    arn = f"arn:aws:iam::{account.id}:user/carlossalazar"
    assert message == (f"User: {arn} is not authorized to perform: ssm:GetParameter on resource: "
                       f"arn:aws:ssm:us-east-1:{account.id}:parameter/app/db/password because no identity-based "
                       "policy allows the ssm:GetParameter action")
    assert account.as_key(key, "sts").get_caller_identity()["Arn"] == arn  # needs no permission


def test_denials_take_each_protocols_shape(account: Account) -> None:
    """AccessDenied for query services and S3 (403), AccessDeniedException for JSON (400) and REST-JSON (403)."""
    key = account.user("nobody")
    assert error(lambda: account.as_key(key, "iam").list_roles())[:2] == ("AccessDenied", 403)
    assert error(lambda: account.as_key(key, "s3").list_buckets())[:2] == ("AccessDenied", 403)
    assert error(lambda: account.as_key(key, "codebuild").list_projects())[:2] == ("AccessDeniedException", 400)
    assert error(lambda: account.as_key(key, "lambda").list_functions())[:2] == ("AccessDeniedException", 403)


def test_the_root_user_may_do_everything(account: Account) -> None:
    """The account's root (the kit's ``test`` key, a 12-digit key) has full access."""
    assert account.root("iam").list_roles()["Roles"] == []
    account.root("ssm").put_parameter(Name="/app/flag", Value="on", Type="String")


def test_an_allow_on_one_resource_is_not_an_allow_on_another(account: Account) -> None:
    """Resource ARNs are matched as written: a parameter's ARN allows that parameter only."""
    ssm = account.root("ssm")
    for name in ("/app/db/password", "/app/other"):
        ssm.put_parameter(Name=name, Value="v", Type="String")
    key = account.user("reader", {"Effect": "Allow", "Action": "ssm:GetParameter",
                                  "Resource": f"arn:aws:ssm:us-east-1:{account.id}:parameter/app/db/*"})
    reader = account.as_key(key, "ssm")
    assert reader.get_parameter(Name="/app/db/password")["Parameter"]["Value"] == "v"
    assert error(lambda: reader.get_parameter(Name="/app/other"))[0] == "AccessDeniedException"


def test_an_explicit_deny_overrides_an_allow_and_says_so(account: Account) -> None:
    """"An explicit deny overrides an explicit allow" — the denial says it came from an explicit deny."""
    key = account.user("admin", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    account.allow("admin", {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}, name="guard")
    admin = account.as_key(key, "iam")
    code, _, message = error(admin.list_roles)
    assert code == "AccessDenied" and message.endswith("with an explicit deny in an identity-based policy")
    assert account.as_key(key, "ssm").describe_parameters()["Parameters"] == []


def test_a_policy_change_takes_effect_on_the_next_call(account: Account) -> None:
    key = account.user("grows")
    ssm = account.as_key(key, "ssm")
    assert error(ssm.describe_parameters)[0] == "AccessDeniedException"
    account.allow("grows", {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"})
    assert ssm.describe_parameters()["Parameters"] == []
    account.iam.delete_user_policy(UserName="grows", PolicyName="inline")
    assert error(ssm.describe_parameters)[0] == "AccessDeniedException"


def test_aws_managed_policies_are_evaluated(account: Account) -> None:
    """AmazonSSMReadOnlyAccess (an AWS managed policy, as moto ships it) allows reads and not writes."""
    key = account.user("readonly")
    account.iam.attach_user_policy(UserName="readonly", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess")
    ssm = account.as_key(key, "ssm")
    assert ssm.describe_parameters()["Parameters"] == []
    assert error(lambda: ssm.put_parameter(Name="/x", Value="v", Type="String"))[0] == "AccessDeniedException"


def test_group_policies_count_for_their_users(account: Account) -> None:
    key = account.user("member")
    account.iam.create_group(GroupName="readers")
    account.iam.put_group_policy(GroupName="readers", PolicyName="ssm", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}))
    ssm = account.as_key(key, "ssm")
    assert error(ssm.describe_parameters)[0] == "AccessDeniedException"
    account.iam.add_user_to_group(GroupName="readers", UserName="member")
    assert ssm.describe_parameters()["Parameters"] == []


def test_a_bucket_policy_naming_the_user_allows_without_an_identity_policy(account: Account) -> None:
    """Within one account, a resource-based policy that names the principal allows on its own."""
    s3 = account.root("s3")
    bucket = f"evidence-{account.id}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.txt", Body=b"ok")
    key = account.user("auditor")
    auditor = account.as_key(key, "s3")
    assert error(lambda: auditor.get_object(Bucket=bucket, Key="report.txt"))[0] == "AccessDenied"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.id}:user/auditor"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert auditor.get_object(Bucket=bucket, Key="report.txt")["Body"].read() == b"ok"
    assert error(lambda: auditor.put_object(Bucket=bucket, Key="x", Body=b"x"))[0] == "AccessDenied"


def test_a_role_session_is_decided_by_its_roles_policies(account: Account) -> None:
    """A session of a role (moto's STS) acts with the role's policies; the denial names the session."""
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.id}:root"}, "Action": "sts:AssumeRole"})
    account.iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust)
    account.iam.put_role_policy(RoleName="deployer", PolicyName="ssm", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}))
    role_arn = f"arn:aws:iam::{account.id}:role/deployer"
    credentials = account.root("sts").assume_role(RoleArn=role_arn, RoleSessionName="night-shift")["Credentials"]
    session = {"AccessKeyId": credentials["AccessKeyId"], "SecretAccessKey": credentials["SecretAccessKey"],
               "SessionToken": credentials["SessionToken"]}
    assert account.as_key(session, "ssm").describe_parameters()["Parameters"] == []
    code, _, message = error(account.as_key(session, "iam").list_roles)
    assert code == "AccessDenied"
    assert message.startswith(f"User: arn:aws:sts::{account.id}:assumed-role/deployer/night-shift is not authorized "
                              "to perform: iam:ListRoles")
    account.iam.delete_role_policy(RoleName="deployer", PolicyName="ssm")
    account.iam.delete_role(RoleName="deployer")
    assert error(account.as_key(session, "ssm").describe_parameters)[0] == "AccessDeniedException"  # role gone


def test_assume_role_needs_the_trust_policy_and_the_callers_policy(account: Account) -> None:
    """A trust policy naming the account delegates to the caller's identity policy; naming the user
    allows on its own ("IAM roles and resource-based policies", cross-account and same-account)."""
    key = account.user("ops")
    sts = account.as_key(key, "sts")
    role_arn = f"arn:aws:iam::{account.id}:role/ops-role"
    account.iam.create_role(RoleName="ops-role", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.id}:root"}, "Action": "sts:AssumeRole"}))
    assert error(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="ops"))[0] == "AccessDenied"
    account.allow("ops", {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn})
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="ops")["AssumedRoleUser"]["Arn"].endswith("ops-role/ops")
    account.iam.create_role(RoleName="service-only", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    account.allow("ops", {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    other = f"arn:aws:iam::{account.id}:role/service-only"
    assert error(lambda: sts.assume_role(RoleArn=other, RoleSessionName="ops"))[0] == "AccessDenied"


def test_a_wrong_secret_is_refused_on_the_laptop_too(account: Account) -> None:
    """labstack knows the secrets of the keys IAM issued: a wrong one is SignatureDoesNotMatch."""
    key = account.user("guessed")
    forged = {**key, "SecretAccessKey": "not-the-secret"}
    code, status, _ = error(account.as_key(forged, "sts").get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_inactive_and_deleted_keys_are_refused_never_read_as_the_root(account: Account) -> None:
    """An Inactive or deleted key gets AWS's InvalidClientTokenId; it never becomes the account's root."""
    key = account.user("leaver", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    sts = account.as_key(key, "sts")
    assert sts.get_caller_identity()["Arn"].endswith(":user/leaver")
    account.iam.update_access_key(UserName="leaver", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error(sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
    account.iam.delete_access_key(UserName="leaver", AccessKeyId=key["AccessKeyId"])
    assert error(sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
    assert error(lambda: account.as_key(key, "iam").list_users())[:2] == ("InvalidClientTokenId", 403)


def test_a_denied_call_changes_nothing_and_is_in_the_event_log(account: Account) -> None:
    key = account.user("intruder")
    code, _, _ = error(lambda: account.as_key(key, "iam").create_role(RoleName="backdoor", AssumeRolePolicyDocument="{}"))
    assert code == "AccessDenied"
    assert [r["RoleName"] for r in account.iam.list_roles()["Roles"]] == []
    events = account.root("cloudtrail").lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": "CreateRole"}])["Events"]
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["errorCode"] == "AccessDenied" and record["userIdentity"]["userName"] == "intruder"


def test_report_mode_lets_a_denial_through_and_logs_it(iam_report_labstack: LabstackProcess) -> None:
    account = Account(iam_report_labstack)
    key = account.user("tolerated")
    assert account.as_key(key, "ssm").describe_parameters()["Parameters"] == []
    log = Path(iam_report_labstack.settings.log_file).read_text()
    assert "LABSTACK_IAM=report let through" in log
    assert f"arn:aws:iam::{account.id}:user/tolerated is not authorized to perform: ssm:DescribeParameters" in log


def test_off_mode_decides_nothing_but_still_verifies_keys(iam_off_labstack: LabstackProcess) -> None:
    account = Account(iam_off_labstack)
    key = account.user("unchecked")
    assert account.as_key(key, "ssm").describe_parameters()["Parameters"] == []
    forged = {**key, "SecretAccessKey": "wrong"}
    assert error(account.as_key(forged, "ssm").describe_parameters)[0] == "InvalidSignatureException"


def test_get_caller_identity_names_each_kind_of_caller(account: Account) -> None:
    """STS answers the root's ARN for root credentials, the user's for a user's keys, the session's for
    a role session ("GetCallerIdentity", STS API reference)."""
    root = account.root("sts").get_caller_identity()
    assert (root["Account"], root["Arn"]) == (account.id, f"arn:aws:iam::{account.id}:root")
    key = account.user("who")
    assert account.as_key(key, "sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{account.id}:user/who"


def test_ended_temporary_keys_are_refused_not_read_as_a_root_key(account: Account) -> None:
    """A build's or task's keys, once revoked, get ExpiredToken; they never act as an account's root."""
    from tests.support.roles import service_role

    role = service_role(account.iam, "short-lived", "codebuild.amazonaws.com")
    codebuild = account.root("codebuild")
    codebuild.create_project(name="leak", source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n"
                                                   "    commands:\n      - env | grep -E '^AWS_(ACCESS|SECRET|SESSION)' > keys.txt\n"
                                                   "      - python3 -c \"import boto3; print(boto3.client('sts')"
                                                   ".get_caller_identity()['Arn'])\" > who.txt\n"
                                                   "artifacts:\n  files: [keys.txt, who.txt]\n"},
                             artifacts={"type": "S3", "location": f"leak-{account.id}", "packaging": "NONE"},
                             environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                          "computeType": "BUILD_GENERAL1_SMALL"}, serviceRole=role)
    account.root("s3").create_bucket(Bucket=f"leak-{account.id}")
    from tests.support.codebuild import wait_build

    build = wait_build(codebuild, codebuild.start_build(projectName="leak")["build"]["id"], timeout=60)
    assert build["buildStatus"] == "SUCCEEDED", build.get("phases")
    s3 = account.root("s3")
    keys = {o["Key"].rpartition("/")[2]: o["Key"] for o in s3.list_objects_v2(Bucket=f"leak-{account.id}")["Contents"]}
    who = s3.get_object(Bucket=f"leak-{account.id}", Key=keys["who.txt"])["Body"].read().decode().strip()
    assert who.startswith(f"arn:aws:sts::{account.id}:assumed-role/short-lived/AWSCodeBuild-"), who
    text = s3.get_object(Bucket=f"leak-{account.id}", Key=keys["keys.txt"])["Body"].read().decode()
    env = dict(line.split("=", 1) for line in text.split())
    stolen = {"AccessKeyId": env["AWS_ACCESS_KEY_ID"], "SecretAccessKey": env["AWS_SECRET_ACCESS_KEY"],
              "SessionToken": env["AWS_SESSION_TOKEN"]}
    assert error(account.as_key(stolen, "sts").get_caller_identity)[:2] == ("ExpiredToken", 403)
    assert error(account.as_key(stolen, "ssm").describe_parameters)[0] == "ExpiredTokenException"


def test_a_kms_key_policy_that_names_only_another_principal_denies_the_users_own_allow(account: Account) -> None:
    """"Key policies in AWS KMS": a key's policy must allow (itself, or by delegating to the account's
    IAM policies); an identity policy alone does not reach a key whose policy does not name the account."""
    kms = account.root("kms")
    key = account.user("crypto", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    delegating = kms.create_key()["KeyMetadata"]["KeyId"]  # the default key policy delegates to IAM
    assert account.as_key(key, "kms").describe_key(KeyId=delegating)["KeyMetadata"]["KeyId"] == delegating
    closed = kms.create_key(Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.id}:user/keeper"}, "Action": "kms:*",
        "Resource": "*"}), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
    code, _, message = error(lambda: account.as_key(key, "kms").describe_key(KeyId=closed))
    assert code == "AccessDeniedException" and "because no resource-based policy allows" in message


def test_function_and_repository_policies_naming_the_user_allow_without_an_identity_policy(account: Account) -> None:
    """Lambda function policies and ECR repository policies are resource-based policies: within the
    account, one that names the principal allows on its own."""
    key = account.user("consumer")
    ecr = account.root("ecr")
    ecr.create_repository(repositoryName="shared")
    as_user = account.as_key(key, "ecr")
    assert error(lambda: as_user.describe_images(repositoryName="shared"))[0] == "AccessDeniedException"
    ecr.set_repository_policy(repositoryName="shared", policyText=policy({
        "Sid": "Consumer", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.id}:user/consumer"},
        "Action": "ecr:DescribeImages"}))
    assert as_user.describe_images(repositoryName="shared")["imageDetails"] == []
    assert error(lambda: as_user.delete_repository(repositoryName="shared"))[0] == "AccessDeniedException"

    import io
    import zipfile

    from tests.support.roles import service_role

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'hello'\n")
    lam = account.root("lambda")
    role = service_role(account.iam, "fn-role", "lambda.amazonaws.com", policy=None)
    lam.create_function(FunctionName="greeter", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": code.getvalue()})
    caller = account.as_key(key, "lambda")
    assert error(lambda: caller.get_function_configuration(FunctionName="greeter"))[0] == "AccessDeniedException"
    lam.add_permission(FunctionName="greeter", StatementId="consumer", Action="lambda:GetFunctionConfiguration",
                       Principal=f"arn:aws:iam::{account.id}:user/consumer")
    assert caller.get_function_configuration(FunctionName="greeter")["FunctionName"] == "greeter"
