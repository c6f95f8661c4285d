"""Lab 01's checks, each broken as a learner might break it: in an account where catch-up built lab 01
(shared, each change put back), or in an account of its own for a resource under the wrong name.
Each test expects exactly its check to fail, with its hint, and the checks beside it to pass."""

from __future__ import annotations

import json

import pytest

from grader.backends import LabSession
from grader.checks import lab01
from tests.support.grading import session_for
from tests.support.mutations import assert_breaks, breaks, mutation, solved_account, uncovered
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow

STORE = ("kms-key", "bucket-exists", "bucket-versioning", "bucket-encryption", "bucket-uses-lab-key", "key-rotation")
REPOSITORY = ("repo-exists", "repo-has-main", "repo-has-buildspec")
ROLE_CHECKS = ("codepipeline-role-trust", "codebuild-role-trust", "codedeploy-role-trust", "trust-least-privilege",
               "codedeploy-role-policy", "codebuild-reads-config")


@pytest.fixture(scope="module")
def account(labstack: LabstackProcess) -> LabSession:
    """Lab 01 built by catch-up in one account (shared with other modules that ask for the same)."""
    return solved_account(labstack, 1)


def test_every_check_of_lab_01_is_broken_by_a_test() -> None:
    assert uncovered(lab01, globals()) == set()


@breaks("bucket-exists", "repo-exists", "api-key-secret")
@pytest.mark.parametrize("check, service, create, named", [
    ("bucket-exists", "s3", "create_bucket", {"Bucket": "cicd-lab-artifacts"}),  # without the account id
    ("repo-exists", "codecommit", "create_repository", {"repositoryName": "cicd-lab-App"}),
    ("api-key-secret", "secretsmanager", "create_secret", {"Name": "prod/api_key", "SecretString": '{"API_KEY": "k"}'}),
])
def test_a_resource_under_another_name(labstack: LabstackProcess, check: str, service: str, create: str,
                                       named: dict[str, str]) -> None:
    session = session_for(labstack)
    getattr(session.client(service), create)(**named)
    assert_breaks(session, lab01, check)


@breaks("kms-key")
def test_an_alias_on_a_signing_key_or_a_disabled_key(account: LabSession) -> None:
    kms = account.client("kms")
    mine = kms.describe_key(KeyId=lab01.KEY_ALIAS)["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with mutation(lambda: kms.update_alias(AliasName=lab01.KEY_ALIAS, TargetKeyId=mine)):
        kms.update_alias(AliasName=lab01.KEY_ALIAS, TargetKeyId=signing)
        failed = assert_breaks(account, lab01, "kms-key", ("bucket-exists", "bucket-versioning", "bucket-encryption"))
        assert "RSA_2048 key for SIGN_VERIFY" in failed.message
    with mutation(lambda: kms.enable_key(KeyId=mine)):
        kms.disable_key(KeyId=mine)
        assert "is Disabled, not Enabled" in assert_breaks(account, lab01, "kms-key").message


@breaks("bucket-versioning")
def test_versioning_suspended(account: LabSession) -> None:
    s3, bucket = account.client("s3"), lab01.bucket_name(account.account)
    with mutation(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
        assert assert_breaks(account, lab01, "bucket-versioning", STORE).message.endswith("is Suspended")


def _restore_encryption(account: LabSession) -> object:
    s3, bucket = account.client("s3"), lab01.bucket_name(account.account)
    kept = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    return lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=kept)


@breaks("bucket-encryption")
def test_s3_managed_encryption(account: LabSession) -> None:
    s3, bucket = account.client("s3"), lab01.bucket_name(account.account)
    with mutation(_restore_encryption(account)):
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        failed = assert_breaks(account, lab01, "bucket-encryption", ("kms-key", "bucket-exists", "bucket-versioning"))
        assert failed.message == "default encryption is AES256, not aws:kms"


@breaks("bucket-uses-lab-key")
def test_kms_encryption_with_the_aws_managed_key_or_another_key(account: LabSession) -> None:
    s3, bucket = account.client("s3"), lab01.bucket_name(account.account)
    other = account.client("kms").create_key()["KeyMetadata"]["KeyId"]
    with mutation(_restore_encryption(account)):
        for named, said in (({}, "names no key, so S3 uses aws/s3"), ({"KMSMasterKeyID": other}, f"uses key {other}")):
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", **named}}]})
            assert said in assert_breaks(account, lab01, "bucket-uses-lab-key", STORE).message


@breaks("key-rotation")
def test_rotation_off(account: LabSession) -> None:
    kms = account.client("kms")
    mine = kms.describe_key(KeyId=lab01.KEY_ALIAS)["KeyMetadata"]["KeyId"]
    with mutation(lambda: kms.enable_key_rotation(KeyId=mine)):
        kms.disable_key_rotation(KeyId=mine)
        assert_breaks(account, lab01, "key-rotation", STORE)


@breaks("repo-has-main")
def test_the_app_pushed_to_another_branch(account: LabSession) -> None:
    codecommit = account.client("codecommit")
    head = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]

    def undo() -> None:
        codecommit.create_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, commitId=head)
        codecommit.update_default_branch(repositoryName=lab01.REPOSITORY, defaultBranchName=lab01.BRANCH)
        codecommit.delete_branch(repositoryName=lab01.REPOSITORY, branchName="master")

    with mutation(undo):
        codecommit.create_branch(repositoryName=lab01.REPOSITORY, branchName="master", commitId=head)
        codecommit.update_default_branch(repositoryName=lab01.REPOSITORY, defaultBranchName="master")
        codecommit.delete_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)
        assert_breaks(account, lab01, "repo-has-main", ("repo-exists",))


@breaks("repo-has-buildspec")
def test_the_app_pushed_inside_a_folder(account: LabSession) -> None:
    codecommit = account.client("codecommit")
    kept = codecommit.get_file(repositoryName=lab01.REPOSITORY, commitSpecifier=lab01.BRANCH, filePath="buildspec.yml")

    def undo() -> None:
        head = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]
        codecommit.put_file(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, parentCommitId=head,
                            filePath="buildspec.yml", fileContent=kept["fileContent"], commitMessage="put it back")

    with mutation(undo):
        head = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]
        codecommit.put_file(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, parentCommitId=head,
                            filePath="app/buildspec.yml", fileContent=kept["fileContent"], commitMessage="moved")
        head = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]
        codecommit.delete_file(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, parentCommitId=head,
                               filePath="buildspec.yml", commitMessage="moved")
        assert_breaks(account, lab01, "repo-has-buildspec", REPOSITORY)


@breaks("db-password-parameter")
def test_the_password_as_a_plain_string(account: LabSession) -> None:
    ssm = account.client("ssm")
    kept = ssm.get_parameter(Name=lab01.DB_PASSWORD_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    with mutation(lambda: ssm.put_parameter(Name=lab01.DB_PASSWORD_PARAMETER, Value=kept, Type="SecureString",
                                            Overwrite=True)):
        ssm.put_parameter(Name=lab01.DB_PASSWORD_PARAMETER, Value=kept, Type="String", Overwrite=True)
        assert "is a String" in assert_breaks(account, lab01, "db-password-parameter", ("api-key-secret",)).message


@breaks("api-key-field")
def test_the_key_stored_as_plain_text_or_under_another_field(account: LabSession) -> None:
    secrets = account.client("secretsmanager")
    kept = secrets.get_secret_value(SecretId=lab01.API_KEY_SECRET)["SecretString"]
    with mutation(lambda: secrets.put_secret_value(SecretId=lab01.API_KEY_SECRET, SecretString=kept)):
        for value, said in (("abc123", "holds plain text"), (json.dumps({"api_key": "abc123"}), "no non-empty field")):
            secrets.put_secret_value(SecretId=lab01.API_KEY_SECRET, SecretString=value)
            assert said in assert_breaks(account, lab01, "api-key-field", ("api-key-secret",)).message


def _keep_trust(iam: object, role: str) -> object:
    kept = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]  # type: ignore[attr-defined]
    return lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(kept))  # type: ignore[attr-defined]


@breaks("codepipeline-role-trust", "codebuild-role-trust", "codedeploy-role-trust")
def test_a_role_that_trusts_the_wrong_service(account: LabSession) -> None:
    iam = account.client("iam")
    for service, role in lab01.ROLES.items():
        wrong = "ec2"  # a role a learner copied from an EC2 instance profile
        with mutation(_keep_trust(iam, role)):
            iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": f"{wrong}.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
            others = [f"{s}-role-trust" for s in lab01.ROLES if s != service]
            failed = assert_breaks(account, lab01, f"{service}-role-trust", others)
            assert failed.message == f"{role} trusts {wrong}.amazonaws.com, not {service}.amazonaws.com"


@breaks("trust-least-privilege")
def test_a_role_that_also_trusts_the_whole_account(account: LabSession) -> None:
    iam, role = account.client("iam"), lab01.ROLES["codebuild"]
    with mutation(_keep_trust(iam, role)):
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com",
                                              "AWS": f"arn:aws:iam::{account.account}:root"},
             "Action": "sts:AssumeRole"}]}))
        failed = assert_breaks(account, lab01, "trust-least-privilege", ROLE_CHECKS[:3])
        assert failed.message.startswith(f"{role} also trusts")


@breaks("codedeploy-role-policy")
def test_the_codedeploy_role_made_an_administrator(account: LabSession) -> None:
    iam, role = account.client("iam"), lab01.ROLES["codedeploy"]
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    with mutation(lambda: iam.detach_role_policy(RoleName=role, PolicyArn=admin)):
        iam.attach_role_policy(RoleName=role, PolicyArn=admin)
        assert "far more than CodeDeploy needs" in assert_breaks(account, lab01, "codedeploy-role-policy", ROLE_CHECKS[:4]).message


@breaks("codebuild-reads-config")
def test_the_build_role_reading_every_parameter(account: LabSession) -> None:
    iam, role = account.client("iam"), lab01.ROLES["codebuild"]
    with mutation(lambda: iam.delete_role_policy(RoleName=role, PolicyName="read-everything")):
        iam.put_role_policy(RoleName=role, PolicyName="read-everything", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*"}]}))
        failed = assert_breaks(account, lab01, "codebuild-reads-config", ROLE_CHECKS[:4])
        assert "allows more than reading that parameter and that secret" in failed.message
