"""Lab 01, repo setup: the artifact store, the source repository, the build's configuration and
the service roles that CodePipeline, CodeBuild and CodeDeploy assume."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from grader.backends import LabSession
from grader.checks import Check, Fail, found
from grader.checks import check as _check
from grader.policies import (
    document,
    grants_beyond,
    missing_permissions,
    role_policies,
    trust_beyond,
    trusted_services,
)

TITLE = "Lab 01 · Repo setup"
NOTEBOOK = "01_repo_setup"

KEY_ALIAS = "alias/cicd-lab-artifacts"
REPOSITORY = "cicd-lab-app"
BRANCH = "main"
DB_PASSWORD_PARAMETER = "/app/db/password"  # the seed's buildspec: parameter-store DB_PASSWORD
API_KEY_SECRET = "prod/api-key"  # the seed's buildspec: secrets-manager API_KEY: prod/api-key:API_KEY
API_KEY_FIELD = "API_KEY"
ROLES = {
    "codepipeline": "cicd-lab-codepipeline-role",
    "codebuild": "cicd-lab-codebuild-role",
    "codedeploy": "cicd-lab-codedeploy-role",
}
CODEDEPLOY_ECS_POLICY = "AWSCodeDeployRoleForECS"
# What CodeDeploy does with its role in an ECS blue/green deployment: the grant of AWSCodeDeployRoleForECS.
CODEDEPLOY_ECS_ACTIONS = ("ecs:DescribeServices", "ecs:CreateTaskSet", "ecs:UpdateServicePrimaryTaskSet",
                          "ecs:DeleteTaskSet", "elasticloadbalancing:DescribeTargetGroups",
                          "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:ModifyListener",
                          "elasticloadbalancing:DescribeRules", "elasticloadbalancing:ModifyRule",
                          "lambda:InvokeFunction", "cloudwatch:DescribeAlarms", "sns:Publish", "s3:GetObject",
                          "s3:GetObjectVersion")

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def bucket_name(account: str) -> str:
    """The artifact bucket's name: S3 names are global, so the account id makes it yours."""
    return f"cicd-lab-artifacts-{account}"


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 01 asks for, for this session's account."""
    return {"bucket": bucket_name(session.account), "key_alias": KEY_ALIAS, "repository": REPOSITORY,
            "branch": BRANCH, "db_password_parameter": DB_PASSWORD_PARAMETER, "api_key_secret": API_KEY_SECRET,
            "api_key_field": API_KEY_FIELD, "roles": dict(ROLES)}


def _key(session: LabSession) -> dict[str, Any]:
    return found(lambda: session.client("kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"],
                 f"no KMS key has the alias {KEY_ALIAS}")


def _bucket_encryption(session: LabSession) -> dict[str, Any]:
    bucket = bucket_name(session.account)
    config = found(lambda: session.client("s3").get_bucket_encryption(Bucket=bucket),
                   f"bucket {bucket} is missing or has no default encryption configuration")
    rules = config["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}


def _role(session: LabSession, service: str) -> dict[str, Any]:
    name = ROLES[service]
    return found(lambda: session.client("iam").get_role(RoleName=name)["Role"], f"there is no role {name}")


# --- the artifact store -------------------------------------------------------------------

@check("kms-key", 1, f"Create a symmetric customer managed key with KMS and give it the alias {KEY_ALIAS}.",
       uses=("key_alias",))
def kms_key(session: LabSession) -> str:
    key = _key(session)
    if key.get("KeyManager") != "CUSTOMER":
        raise Fail(f"{KEY_ALIAS} names an AWS managed key; the lab needs a key you manage")
    if (key.get("KeySpec"), key.get("KeyUsage")) != ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"):
        raise Fail(f"{KEY_ALIAS} names a {key.get('KeySpec')} key for {key.get('KeyUsage')}; S3 encrypts only with a "
                   "symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)")
    if key.get("KeyState") != "Enabled":
        raise Fail(f"the key behind {KEY_ALIAS} is {key.get('KeyState')}, not Enabled")
    return f"{KEY_ALIAS} → key {key['KeyId']}, enabled"


@check("bucket-exists", 1, "The bucket name carries your account id (print lab.names.bucket); S3 names are global.",
       uses=("bucket",))
def bucket_exists(session: LabSession) -> str:
    bucket = bucket_name(session.account)
    found(lambda: session.client("s3").get_bucket_location(Bucket=bucket), f"there is no bucket {bucket}")
    return f"bucket {bucket} exists"


@check("bucket-versioning", 2, "Versioning is a setting of the bucket, off until you turn it on; "
       "an artifact store keeps every version a pipeline run wrote.", uses=("bucket",))
def bucket_versioning(session: LabSession) -> str:
    bucket = bucket_name(session.account)
    status = found(lambda: session.client("s3").get_bucket_versioning(Bucket=bucket),
                   f"there is no bucket {bucket}").get("Status", "never enabled")
    if status != "Enabled":
        raise Fail(f"versioning of {bucket} is {status}")
    return "versioning is Enabled"


@check("bucket-encryption", 2, "Give the bucket a default encryption configuration that uses KMS (aws:kms), "
       "not S3-managed keys.", uses=("bucket",))
def bucket_encryption(session: LabSession) -> str:
    algorithm = _bucket_encryption(session).get("SSEAlgorithm")
    if algorithm not in ("aws:kms", "aws:kms:dsse"):
        raise Fail(f"default encryption is {algorithm or 'unset'}, not aws:kms")
    return f"objects are encrypted with {algorithm} by default"


@check("bucket-uses-lab-key", 2, f"Name your own key ({KEY_ALIAS}, its id or ARN) in the bucket's default "
       "encryption; without it S3 uses the AWS managed key aws/s3.", hidden=True, uses=("bucket",))
def bucket_uses_lab_key(session: LabSession) -> str:
    named = _bucket_encryption(session).get("KMSMasterKeyID")
    if not named:
        raise Fail("the default encryption names no key, so S3 uses aws/s3")
    used = found(lambda: session.client("kms").describe_key(KeyId=named)["KeyMetadata"],
                 f"the default encryption names {named}, which KMS does not know")
    if used["KeyId"] != _key(session)["KeyId"]:
        raise Fail(f"the default encryption uses key {used['KeyId']}, not the one behind {KEY_ALIAS}")
    return f"the bucket encrypts with the key behind {KEY_ALIAS}"


@check("key-rotation", 1, "KMS can rotate a customer managed key's material every year; it is off until enabled.",
       hidden=True, uses=("key_alias",))
def key_rotation(session: LabSession) -> str:
    key_id = _key(session)["KeyId"]
    if not session.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]:
        raise Fail(f"automatic rotation of {KEY_ALIAS} is off")
    return "automatic key rotation is on"


# --- the source repository ----------------------------------------------------------------

@check("repo-exists", 1, f"Create the CodeCommit repository {REPOSITORY}; its metadata holds the clone URL.",
       uses=("repository",))
def repo_exists(session: LabSession) -> str:
    meta = found(lambda: session.client("codecommit").get_repository(repositoryName=REPOSITORY),
                 f"there is no CodeCommit repository {REPOSITORY}")["repositoryMetadata"]
    return f"{REPOSITORY} clones from {meta['cloneUrlHttp']}"


@check("repo-has-main", 2, f"Commit the app in a local work tree and push the branch {BRANCH} to the "
       "repository's cloneUrlHttp with git.", uses=("repository",))
def repo_has_main(session: LabSession) -> str:
    branch = found(lambda: session.client("codecommit").get_branch(repositoryName=REPOSITORY, branchName=BRANCH),
                   f"{REPOSITORY} has no branch {BRANCH}: nothing was pushed to it yet")["branch"]
    return f"{BRANCH} is at {branch['commitId'][:7]}"


@check("repo-has-buildspec", 2, "CodeBuild looks for buildspec.yml at the root of the source; push the "
       "whole app folder, not its parent.", hidden=True, uses=("repository",))
def repo_has_buildspec(session: LabSession) -> str:
    found(lambda: session.client("codecommit").get_file(repositoryName=REPOSITORY, commitSpecifier=BRANCH,
                                                         filePath="buildspec.yml"),
          f"{BRANCH} of {REPOSITORY} has no buildspec.yml at its root")
    return "buildspec.yml is at the root of main"


# --- what the build reads ------------------------------------------------------------------

@check("db-password-parameter", 2, f"Store {DB_PASSWORD_PARAMETER} in SSM Parameter Store as an encrypted "
       "parameter type, never as plain String.", uses=("db_password_parameter",))
def db_password_parameter(session: LabSession) -> str:
    param = found(lambda: session.client("ssm").get_parameter(Name=DB_PASSWORD_PARAMETER)["Parameter"],
                  f"there is no SSM parameter {DB_PASSWORD_PARAMETER}")
    if param["Type"] != "SecureString":
        raise Fail(f"{DB_PASSWORD_PARAMETER} is a {param['Type']}, readable by anyone who can read parameters")
    return f"{DB_PASSWORD_PARAMETER} is a SecureString"


@check("api-key-secret", 1, f"Create the Secrets Manager secret {API_KEY_SECRET} (the name the buildspec uses).",
       uses=("api_key_secret",))
def api_key_secret(session: LabSession) -> str:
    found(lambda: session.client("secretsmanager").describe_secret(SecretId=API_KEY_SECRET),
          f"there is no secret {API_KEY_SECRET}")
    return f"secret {API_KEY_SECRET} exists"


@check("api-key-field", 2, f"The buildspec reads {API_KEY_SECRET}:{API_KEY_FIELD}, one field of a JSON "
       "secret; store the value as a JSON object with that key.", hidden=True, uses=("api_key_secret",))
def api_key_field(session: LabSession) -> str:
    value = found(lambda: session.client("secretsmanager").get_secret_value(SecretId=API_KEY_SECRET),
                  f"there is no secret {API_KEY_SECRET}").get("SecretString", "")
    try:
        fields = json.loads(value)
    except ValueError:
        raise Fail(f"{API_KEY_SECRET} holds plain text, not a JSON object") from None
    if not isinstance(fields, dict) or not fields.get(API_KEY_FIELD):
        raise Fail(f"{API_KEY_SECRET} has no non-empty field {API_KEY_FIELD}")
    return f"{API_KEY_SECRET} has the field {API_KEY_FIELD}"


# --- the service roles ---------------------------------------------------------------------

def _trust_check(service: str) -> None:
    principal = f"{service}.amazonaws.com"

    @check(f"{service}-role-trust", 2, f"A service role's trust policy lets the service principal {principal} "
           "call sts:AssumeRole; the permissions come from separate policies.", uses=("roles",))
    def trust(session: LabSession) -> str:
        role = _role(session, service)
        trusted = trusted_services(document(role["AssumeRolePolicyDocument"]), {"aws:SourceAccount": session.account})
        if principal not in trusted:
            raise Fail(f"{ROLES[service]} trusts {', '.join(sorted(trusted)) or 'no service'}, not {principal}")
        return f"{ROLES[service]} can be assumed by {principal}"


for _service in ROLES:
    _trust_check(_service)


@check("trust-least-privilege", 2, "Each service role should trust exactly one service and nobody else: "
       "no account principals, no wildcard.", hidden=True, uses=("roles",))
def trust_least_privilege(session: LabSession) -> str:
    problems = []
    for service, name in ROLES.items():
        doc = document(_role(session, service)["AssumeRolePolicyDocument"])
        extra = trust_beyond(doc, f"{service}.amazonaws.com", session.account)
        if extra:
            problems.append(f"{name} also trusts {', '.join(extra)}")
    if problems:
        raise Fail("; ".join(problems))
    return "each role trusts its own service only"


def _broad_grants(session: LabSession, role: str, needed: list[tuple[str, str]]) -> list[str]:
    """What ``role`` allows beyond ``needed`` that no lab asks for: every action, or IAM escalation."""
    return [g for g in grants_beyond(role_policies(session, role), needed)
            if g.startswith(("every action", "IAM privilege"))]


@check("codedeploy-role-policy", 1, "CodeDeploy needs permissions to shift ECS traffic; AWS ships a managed "
       "policy for exactly that role.", hidden=True, uses=("roles",))
def codedeploy_role_policy(session: LabSession) -> str:
    _role(session, "codedeploy")
    role = ROLES["codedeploy"]
    needed = [(action, "*") for action in CODEDEPLOY_ECS_ACTIONS]
    passed = (("iam:PassRole", f"arn:aws:iam::{session.account}:role/ecsTaskExecutionRole",
               {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),)
    missing = missing_permissions(session, role, [*needed, *passed])
    if missing:
        raise Fail(f"{role} may not {'; '.join(missing[:3])}" + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""))
    broad = _broad_grants(session, role, needed)
    if broad:
        raise Fail(f"{role} allows {'; '.join(broad)}: far more than CodeDeploy needs")
    return f"{role} may shift ECS traffic as {CODEDEPLOY_ECS_POLICY} allows, and no more"


@check("codebuild-reads-config", 2, "The build resolves parameter-store and secrets-manager variables with "
       "its own role: allow reading exactly that parameter and that secret.", hidden=True, uses=("roles",))
def codebuild_reads_config(session: LabSession) -> str:
    _role(session, "codebuild")
    role = ROLES["codebuild"]
    parameter_arn = found(lambda: session.client("ssm").get_parameter(Name=DB_PASSWORD_PARAMETER)["Parameter"]["ARN"],
                          f"there is no SSM parameter {DB_PASSWORD_PARAMETER}")
    secret_arn = found(lambda: session.client("secretsmanager").describe_secret(SecretId=API_KEY_SECRET)["ARN"],
                       f"there is no secret {API_KEY_SECRET}")
    needed = [("ssm:GetParameters", parameter_arn), ("secretsmanager:GetSecretValue", secret_arn)]
    missing = missing_permissions(session, role, needed)
    if missing:
        raise Fail(f"{role} may not {' nor '.join(missing)}")
    beyond = grants_beyond(role_policies(session, role), needed)
    if beyond:
        raise Fail(f"{role} allows more than reading that parameter and that secret: {'; '.join(beyond)}")
    return "the build role may read the parameter and the secret, and no others"
