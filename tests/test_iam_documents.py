"""Policy documents on labstack's IAM, as IAM takes them: malformed ones refused with AWS's
``MalformedPolicyDocument`` messages, oversized ones with ``LimitExceeded`` as IAM's quotas say,
and nothing stored or lost when a document is refused. A real labstack, boto3 as a learner uses it.

The quotas are those of "IAM and AWS STS quotas" (IAM User Guide,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): a managed policy 6,144
characters, a role trust policy 2,048, a role's inline policies together 10,240, a user's 2,048, a
group's 5,120, five versions of a managed policy; "IAM does not count white space".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.support.responses import check_responses
from tests.support.server import ROOT, LabstackProcess

ACCOUNT = "202020202020"
OTHER_ACCOUNT = "303030303030"
V = "2012-10-17"
ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
TRUST_BUILD = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "codebuild.amazonaws.com"}}
NO_PRINCIPALS = ("Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
                 "The passed in policy has a statement with no principals!")
VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."


def doc(*statements: dict, **top: Any) -> str:
    return json.dumps({"Version": V, **top, "Statement": list(statements)})


def refusal(call: Callable[[], Any]) -> tuple[str, str, int]:
    """The code, message and HTTP status of the error ``call`` must end in."""
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def uncounted(text: str) -> int:
    """The size IAM counts: characters, white space not counted."""
    return len(re.sub(r"[ \t\r\n]", "", text))


def sized(total: int, statement: dict = ALLOW_GET) -> str:
    """A document of exactly ``total`` counted characters, written with indentation (which IAM does not count)."""
    body: dict[str, Any] = {"Version": V, "Statement": [{"Sid": "", **statement}]}
    body["Statement"][0]["Sid"] = "S" * (total - uncounted(json.dumps(body)))
    text = json.dumps(body, indent=8)
    assert uncounted(text) == total and len(text) > total
    return text


@pytest.fixture(scope="module")
def iam(labstack: LabstackProcess) -> Any:
    return check_responses(labstack.client("iam", account=ACCOUNT))


@pytest.fixture
def role(iam: Any, request: pytest.FixtureRequest) -> str:
    """A role with one inline policy, ``keep``, to show that a refused document takes nothing away."""
    name = f"documents-{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc(TRUST_BUILD))
    iam.put_role_policy(RoleName=name, PolicyName="keep", PolicyDocument=doc(ALLOW_GET))
    return name


def _unchanged(iam: Any, role: str) -> None:
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["keep"]
    assert iam.get_role_policy(RoleName=role, PolicyName="keep")["PolicyDocument"] == json.loads(doc(ALLOW_GET))
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == json.loads(doc(TRUST_BUILD))


# --- malformed documents --------------------------------------------------------------------------

MALFORMED_PERMISSIONS = [
    ("not JSON", "Syntax errors in policy."),
    ('{"Version": "2012-10-17", "Statement": ' + "[" * 50_000 + "]" * 50_000 + "}", "Syntax errors in policy."),
    (json.dumps({"Version": V}), "Syntax errors in policy."),
    (doc(), "Syntax errors in policy."),
    (doc(ALLOW_GET, Extra="x"), "Syntax errors in policy."),
    (doc({**ALLOW_GET, "Effect": "Permit"}), "Syntax errors in policy."),
    (doc({**ALLOW_GET, "Resource": {"a": "b"}}), "Syntax errors in policy."),
    (doc({**ALLOW_GET, "NotAction": "s3:PutObject"}), "Syntax errors in policy."),
    (doc({**ALLOW_GET, "Condition": {"StringEqualz": {"aws:SourceAccount": ACCOUNT}}}), "Syntax errors in policy."),
    (doc({**ALLOW_GET, "Condition": {"ForSomeValues:StringLike": {"aws:TagKeys": "a*"}}}), "Syntax errors in policy."),
    (doc({**ALLOW_GET, "Condition": {"StringEquals": {"aws:SourceAccount": {"nested": "map"}}}}),
     "Syntax errors in policy."),
    (doc({**ALLOW_GET, "Condition": {"NullIfExists": {"aws:TokenIssueTime": "true"}}}), "Syntax errors in policy."),
    (json.dumps({"Version": "2013-10-17", "Statement": ALLOW_GET}), "Syntax errors in policy."),
    (json.dumps({"Statement": ALLOW_GET}), "Policy document must be version 2012-10-17 or greater."),
    (json.dumps({"Version": "2008-10-17", "Statement": ALLOW_GET}),
     "Policy document must be version 2012-10-17 or greater."),
    (doc({**ALLOW_GET, "Effect": "allow"}), "The policy failed legacy parsing"),
    (doc({**ALLOW_GET, "Sid": "a"}, {**ALLOW_GET, "Sid": "a"}), "Statement IDs (SID) in a single policy must be unique."),
    (doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
    (doc({**ALLOW_GET, "Action": []}), "Policy statement must contain actions."),
    (doc({**ALLOW_GET, "Action": "GetObject"}), VENDOR),
    (doc({**ALLOW_GET, "Action": ""}), VENDOR),
    (doc({**ALLOW_GET, "Condition": {"StringEquals": {"SourceAccount": ACCOUNT}}}), VENDOR),
    (doc({**ALLOW_GET, "Action": "s3:Get:Object"}), "Actions/Condition can contain only one colon."),
    (doc({**ALLOW_GET, "Action": "s 3:GetObject"}), "Vendor s 3 is not valid"),
    (doc({**ALLOW_GET, "Principal": {"AWS": ACCOUNT}}), "Policy document should not specify a principal."),
    (doc({**ALLOW_GET, "NotPrincipal": {"AWS": ACCOUNT}}), "Policy document should not specify a principal."),
    (doc({"Effect": "Allow", "Action": "s3:GetObject"}), "Policy statement must contain resources."),
    (doc({**ALLOW_GET, "Resource": []}), "Policy statement must contain resources."),
    (doc({**ALLOW_GET, "Resource": ""}), 'Resource  must be in ARN format or "*".'),
    (doc({**ALLOW_GET, "Resource": "bucket"}), 'Resource bucket must be in ARN format or "*".'),  # moto's check
]


@pytest.mark.parametrize(("document", "message"), MALFORMED_PERMISSIONS, ids=[m[:40] for _, m in MALFORMED_PERMISSIONS])
def test_a_malformed_inline_policy_is_refused_and_the_role_keeps_its_own(
        iam: Any, role: str, document: str, message: str) -> None:
    """PutRolePolicy over the role's own policy, with each kind of malformed document: IAM's code, status
    and message, and the policy of that name is the one the role had."""
    assert refusal(lambda: iam.put_role_policy(RoleName=role, PolicyName="keep", PolicyDocument=document)) == (
        "MalformedPolicyDocument", message, 400)
    _unchanged(iam, role)


def test_every_operation_that_takes_a_permission_policy_refuses_a_malformed_one(iam: Any) -> None:
    """PutUserPolicy, PutGroupPolicy, CreatePolicy and CreatePolicyVersion refuse as PutRolePolicy does,
    and store nothing."""
    bad = doc({**ALLOW_GET, "Principal": "*"})
    expected = ("MalformedPolicyDocument", "Policy document should not specify a principal.", 400)
    iam.create_user(UserName="documents-user")
    iam.create_group(GroupName="documents-group")
    assert refusal(lambda: iam.put_user_policy(UserName="documents-user", PolicyName="p", PolicyDocument=bad)) == expected
    assert refusal(lambda: iam.put_group_policy(GroupName="documents-group", PolicyName="p", PolicyDocument=bad)) == expected
    assert iam.list_user_policies(UserName="documents-user")["PolicyNames"] == []
    assert iam.list_group_policies(GroupName="documents-group")["PolicyNames"] == []

    assert refusal(lambda: iam.create_policy(PolicyName="documents-bad", PolicyDocument=bad)) == expected
    assert "documents-bad" not in [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    arn = iam.create_policy(PolicyName="documents-good", PolicyDocument=doc(ALLOW_GET))["Policy"]["Arn"]
    assert refusal(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=bad, SetAsDefault=True)) == expected
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v1", True)]
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"] == json.loads(doc(ALLOW_GET))


MALFORMED_TRUSTS = [
    ("{", "Syntax errors in policy."),
    (doc({**TRUST_BUILD, "Principal": {"Services": "codebuild.amazonaws.com"}}), "Syntax errors in policy."),
    (doc({**TRUST_BUILD, "Principal": {"AWS": []}}), "Syntax errors in policy."),
    (doc({**TRUST_BUILD, "Action": "AssumeRole"}), VENDOR),
    (doc({**TRUST_BUILD, "Condition": {"StringEquals": {"SourceAccount": ACCOUNT}}}), VENDOR),
    (doc({**TRUST_BUILD, "Action": "s3:GetObject"}),
     "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"),
    (doc({**TRUST_BUILD, "Resource": "*"}), "Has prohibited field Resource."),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), NO_PRINCIPALS),
    (doc({"Effect": "Deny", "Action": "sts:AssumeRole", "NotPrincipal": {"AWS": ACCOUNT}}), NO_PRINCIPALS),
    (doc({**TRUST_BUILD, "Principal": {"Service": "codebuild"}}), 'Invalid principal in policy: "SERVICE":"codebuild"'),
    (doc({**TRUST_BUILD, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}}),
     f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:role/*"'),
    (doc({**TRUST_BUILD, "Principal": {"AWS": "someone"}}), 'Invalid principal in policy: "AWS":"someone"'),
    (doc({**TRUST_BUILD, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/no-such-role"}}),
     f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:role/no-such-role"'),
]


@pytest.mark.parametrize(("document", "message"), MALFORMED_TRUSTS, ids=[m[:40] for _, m in MALFORMED_TRUSTS])
def test_a_malformed_trust_policy_is_refused_on_create_and_on_update(
        iam: Any, role: str, document: str, message: str) -> None:
    """CreateRole makes no role of a malformed trust policy (moto checks none there); UpdateAssumeRolePolicy
    leaves the role's trust policy as it was."""
    expected = ("MalformedPolicyDocument", message, 400)
    assert refusal(lambda: iam.create_role(RoleName=f"{role[:58]}-new", AssumeRolePolicyDocument=document)) == expected
    assert refusal(lambda: iam.get_role(RoleName=f"{role[:58]}-new"))[0] == "NoSuchEntity"
    assert refusal(lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=document)) == expected
    _unchanged(iam, role)


def test_create_role_takes_a_trust_policy_of_the_older_version(iam: Any) -> None:
    """A trust policy without Version (which means 2008-10-17) or of that version: IAM creates the role
    (permission policies must be 2012-10-17, MALFORMED_PERMISSIONS shows)."""
    for number, top in enumerate(({}, {"Version": "2008-10-17"})):
        document = json.dumps({**top, "Statement": [TRUST_BUILD]})
        created = iam.create_role(RoleName=f"documents-older-{number}", AssumeRolePolicyDocument=document)["Role"]
        assert created["AssumeRolePolicyDocument"] == json.loads(document)


def test_a_trust_policy_names_users_and_roles_that_exist(iam: Any) -> None:
    """IAM refuses a principal ARN it cannot resolve (a role not created yet, or on another path); once the
    role exists, the same document is accepted. Another account's principals are not looked up."""
    iam.create_role(RoleName="documents-caller", Path="/team/", AssumeRolePolicyDocument=doc(TRUST_BUILD))
    iam.create_user(UserName="documents-person")
    wrong_path = doc({**TRUST_BUILD, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/documents-caller"}})
    assert refusal(lambda: iam.create_role(RoleName="documents-trusting", AssumeRolePolicyDocument=wrong_path))[1] == (
        f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:role/documents-caller"')
    trusting = doc({**TRUST_BUILD, "Principal": {"AWS": [
        f"arn:aws:iam::{ACCOUNT}:role/team/documents-caller", f"arn:aws:iam::{ACCOUNT}:user/documents-person",
        f"arn:aws:iam::{OTHER_ACCOUNT}:role/theirs", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"]}})
    created = iam.create_role(RoleName="documents-trusting", AssumeRolePolicyDocument=trusting)["Role"]
    assert created["AssumeRolePolicyDocument"] == json.loads(trusting)
    assert iam.get_role(RoleName="documents-trusting")["Role"]["AssumeRolePolicyDocument"] == json.loads(trusting)


# --- sizes --------------------------------------------------------------------------------------------

def test_a_managed_policy_holds_6144_characters_white_space_not_counted(iam: Any) -> None:
    """CreatePolicy and CreatePolicyVersion: 6,144 counted characters pass however much white space they
    carry; one more is IAM's LimitExceeded (409), and nothing is stored."""
    over = ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)
    assert refusal(lambda: iam.create_policy(PolicyName="documents-big", PolicyDocument=sized(6145))) == over
    assert "documents-big" not in [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    arn = iam.create_policy(PolicyName="documents-big", PolicyDocument=sized(6144))["Policy"]["Arn"]
    assert refusal(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=sized(6145))) == over
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=sized(6144), SetAsDefault=True)


def test_a_managed_policy_keeps_at_most_five_versions(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="documents-versions", PolicyDocument=doc(ALLOW_GET))["Policy"]["Arn"]
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(ALLOW_GET), SetAsDefault=True)
    assert refusal(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(ALLOW_GET))) == (
        "LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new version, "
                         "you must delete an existing version.", 409)
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 5


def test_a_trust_policy_holds_2048_characters(iam: Any, role: str) -> None:
    over = ("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409)
    assert refusal(lambda: iam.create_role(RoleName="documents-big-trust",
                                           AssumeRolePolicyDocument=sized(2049, TRUST_BUILD))) == over
    assert refusal(lambda: iam.get_role(RoleName="documents-big-trust"))[0] == "NoSuchEntity"
    assert refusal(lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=sized(2049, TRUST_BUILD))) == over
    _unchanged(iam, role)
    iam.create_role(RoleName="documents-big-trust", AssumeRolePolicyDocument=sized(2048, TRUST_BUILD))
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=sized(2048, TRUST_BUILD))


def test_a_roles_inline_policies_together_hold_10240_characters(iam: Any, role: str) -> None:
    """The quota is the sum over the role's inline policies; a policy replaced under its own name counts
    with its new size, not its old one."""
    keep = uncounted(doc(ALLOW_GET))
    iam.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=sized(6000))
    iam.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=sized(10240 - 6000 - keep))
    over = ("LimitExceeded", f"Maximum policy size of 10240 bytes exceeded for role {role}", 409)
    assert refusal(lambda: iam.put_role_policy(RoleName=role, PolicyName="b",
                                               PolicyDocument=sized(10240 - 6000 - keep + 1))) == over
    assert refusal(lambda: iam.put_role_policy(RoleName=role, PolicyName="c", PolicyDocument=doc(ALLOW_GET))) == over
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == ["a", "b", "keep"]
    stored_b = iam.get_role_policy(RoleName=role, PolicyName="b")["PolicyDocument"]
    assert uncounted(json.dumps(stored_b)) == 10240 - 6000 - keep
    iam.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=sized(5000))  # a smaller "a" makes room
    iam.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=sized(10240 - 5000 - keep))


@pytest.mark.parametrize(("entity", "quota"), [("user", 2048), ("group", 5120)])
def test_a_users_and_a_groups_inline_policies_hold_their_quota(iam: Any, entity: str, quota: int) -> None:
    kind = entity.capitalize()
    name = f"documents-quota-{entity}"
    getattr(iam, f"create_{entity}")(**{f"{kind}Name": name})
    put = getattr(iam, f"put_{entity}_policy")
    put(**{f"{kind}Name": name, "PolicyName": "first", "PolicyDocument": sized(quota - 1000)})
    assert refusal(lambda: put(**{f"{kind}Name": name, "PolicyName": "second", "PolicyDocument": sized(1001)})) == (
        "LimitExceeded", f"Maximum policy size of {quota} bytes exceeded for {entity} {name}", 409)
    put(**{f"{kind}Name": name, "PolicyName": "second", "PolicyDocument": sized(1000)})
    assert getattr(iam, f"list_{entity}_policies")(**{f"{kind}Name": name})["PolicyNames"] == ["first", "second"]


def test_a_flood_of_huge_and_hostile_documents_leaves_labstack_serving(labstack: LabstackProcess, iam: Any,
                                                                       role: str) -> None:
    """Many clients at once send documents near the longest IAM's API admits (131,072 characters: over
    every quota), documents nested deeper than a JSON parser recurses, and documents over the API's
    length: each is refused as IAM refuses it, and labstack answers on, the role as it was."""
    raw_iam = labstack.client("iam", account=ACCOUNT, validate=False)
    huge = sized(130_000)
    nested = "[" * 65_000 + "]" * 65_000
    too_long = huge + " " * 2_000

    def send(document: str) -> tuple[str, str, int]:
        return refusal(lambda: raw_iam.put_role_policy(RoleName=role, PolicyName="keep", PolicyDocument=document))

    floods = [huge, nested, too_long] * 16
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(range(len(floods)), pool.map(send, floods)))
    for number, document in enumerate(floods):
        code, message, status = answers[number]
        if document is huge:
            assert (code, message, status) == ("LimitExceeded", f"Maximum policy size of 10240 bytes exceeded for role {role}", 409)
        elif document is nested:
            assert (code, message, status) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)
        else:  # the API's own length constraint (botocore's model), before any policy is read
            assert status == 400 and "Member must have length less than or equal to 131072" in message
    _unchanged(iam, role)


# --- the course's own documents -------------------------------------------------------------------

def _course_documents(region: str, account: str) -> tuple[list[dict], list[dict]]:
    """The trust and permission policies the labs, catch-up and grader write (solutions/*.ipynb,
    grader/provenance.py), with their names filled in."""
    bucket, key = "lab-kit-artifacts", f"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    trusts = [{"Version": V, "Statement": [{"Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"},
                                            "Action": "sts:AssumeRole"}]}
              for service in ("codebuild", "codedeploy", "codepipeline", "lambda", "events")]
    trusts.append({"Version": V, "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]})
    logs = f"arn:aws:logs:{region}:{account}:log-group:/lab/build*"
    permissions = [
        {"Version": V, "Statement": [
            {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": f"arn:aws:ssm:{region}:{account}:parameter/app/db"},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:prod/api-AbCdEf"}]},
        {"Version": V, "Statement": [
            {"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": f"arn:aws:codecommit:{region}:{account}:app"},
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:PutImage", "ecr:BatchGetImage"],
             "Resource": f"arn:aws:ecr:{region}:{account}:repository/sample-app"},
            {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": logs},
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation"],
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key},
            {"Effect": "Allow", "Action": ["codebuild:CreateReportGroup", "codebuild:BatchPutTestCases"],
             "Resource": f"arn:aws:codebuild:{region}:{account}:report-group/build-*"}]},
        {"Version": V, "Statement": [{"Effect": "Allow", "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
                                      "Resource": "*"}]},
        {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                      "Resource": f"arn:aws:lambda:{region}:{account}:function:smoke-test"}]},
        {"Version": V, "Statement": [
            {"Effect": "Allow", "Action": ["ecs:DescribeServices", "ecs:UpdateService"], "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{account}:role/sample-app-task-execution",
             "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]},
        {"Version": V, "Statement": [{"Effect": "Allow", "Action": "codepipeline:StartPipelineExecution",
                                      "Resource": f"arn:aws:codepipeline:{region}:{account}:lab-pipeline"}]},
        {"Version": V, "Statement": [
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": f"arn:aws:sns:{region}:{account}:approvals"},
            {"Effect": "Allow", "Action": ["codedeploy:CreateDeployment", "codedeploy:GetDeployment"],
             "Resource": f"arn:aws:codedeploy:{region}:{account}:*"}]},
    ]
    return trusts, permissions


class _Template(yaml.SafeLoader):
    """The base stack's YAML with !Sub and !Ref filled in for one region and account."""


def _template_documents(region: str, account: str) -> tuple[list[dict], list[dict]]:
    values = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account, "AppName": "sample-app"}
    _Template.add_constructor("!Sub", lambda loader, node: re.sub(
        r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(1)), loader.construct_scalar(node)))
    _Template.add_constructor("!Ref", lambda loader, node: values.get(loader.construct_scalar(node), "ref"))
    _Template.add_multi_constructor("!", lambda loader, suffix, node: "intrinsic")
    template = yaml.load((ROOT / "infra" / "templates" / "base-stack.yaml").read_text(), Loader=_Template)  # noqa: S506
    roles = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    return ([r["AssumeRolePolicyDocument"] for r in roles],
            [p["PolicyDocument"] for r in roles for p in r.get("Policies", [])])


def test_the_courses_own_documents_are_all_accepted(iam: Any) -> None:
    """Every trust and permission policy the labs, catch-up, the grader and the base stack write goes in
    (each written as the labs write it, json.dumps) and comes back as written."""
    region = "us-east-1"
    trusts, permissions = _course_documents(region, ACCOUNT)
    stack_trusts, stack_permissions = _template_documents(region, ACCOUNT)
    for number, trust in enumerate(trusts + stack_trusts):
        name = f"documents-course-{number}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust
    for number, permission in enumerate(permissions + stack_permissions):
        iam.put_role_policy(RoleName="documents-course-0", PolicyName=f"p{number}", PolicyDocument=json.dumps(permission))
        assert iam.get_role_policy(RoleName="documents-course-0", PolicyName=f"p{number}")["PolicyDocument"] == permission
        iam.create_policy(PolicyName=f"documents-course-{number}", PolicyDocument=json.dumps(permission))
