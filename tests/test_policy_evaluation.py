"""labstack.iampolicy against the rules and examples of AWS's IAM documentation (pure, no labstack).

Each test's docstring names the AWS page whose rule or example it encodes.
"""

from __future__ import annotations

from typing import Any

import pytest

from grader.policies import allows, grants_beyond, other_principals, trust_beyond, trusted_services
from labstack.iampolicy import (
    ALLOWED,
    EXPLICIT_DENY,
    IDENTITY,
    IMPLICIT_DENY,
    KEY,
    RESOURCE,
    Policy,
    PolicyError,
    Principal,
    Request,
    can_assume,
    evaluate,
)

ACCOUNT, OTHER = "123456789012", "111122223333"
USER = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:user/carlossalazar")
SESSION = Principal.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/build-role/build-42")
STRANGER = Principal.from_arn(f"arn:aws:iam::{OTHER}:user/mateo")
BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version:
        out["Version"] = version
    return out


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(who: Principal, action: str, resource: str = "*", identity: tuple[dict[str, Any], ...] = (),
           resource_policies: tuple[dict[str, Any], ...] = (), context: dict[str, Any] | None = None,
           owner: str | None = None) -> str:
    request = Request(who, action, resource, context or {}, owner)
    return evaluate(request, [Policy.parse(d, f"identity {i}") for i, d in enumerate(identity)],
                    [Policy.parse(d, f"resource {i}", RESOURCE) for i, d in enumerate(resource_policies)]).decision


# --- the decision ---------------------------------------------------------------------------------

def test_implicit_deny_without_any_allow_and_explicit_deny_over_allow() -> None:
    """"How AWS enforcement code logic evaluates requests to allow or deny access",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html:
    by default all requests are implicitly denied; an explicit deny overrides an explicit allow."""
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k") == IMPLICIT_DENY
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", (doc(allow("s3:*")),)) == ALLOWED
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k",
                  (doc(allow("s3:*")), doc(deny("s3:GetObject", f"{BUCKET}/*")))) == EXPLICIT_DENY


def test_the_root_user_has_full_access_in_its_account_unless_explicitly_denied() -> None:
    """Same page: requests are implicitly denied "with the exception of the AWS account root user,
    which has full access"; an explicit deny in a resource-based policy still applies."""
    root = Principal.root(ACCOUNT)
    assert decide(root, "s3:DeleteBucket", BUCKET, owner=ACCOUNT) == ALLOWED
    bucket_policy = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": BUCKET})
    assert decide(root, "s3:DeleteBucket", BUCKET, resource_policies=(bucket_policy,), owner=ACCOUNT) == EXPLICIT_DENY


def test_within_one_account_either_an_identity_or_a_resource_policy_allows() -> None:
    """"Policy evaluation for requests within a single account", example identity-based and
    resource-based policy evaluation (user carlossalazar and his logs bucket),
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html:
    "If either the identity-based policy or the resource-based policy within the same account allows the
    request and the other doesn't, the request is still allowed."""
    logs = "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs"
    identity = doc({"Sid": "AllowS3ListRead", "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListAllMyBuckets"], "Resource": "*"})
    bucket = doc({"Sid": "AllowCarlosWrite", "Effect": "Allow", "Principal": {"AWS": USER.arn},
                  "Action": "s3:PutObject", "Resource": f"{logs}/*"})
    assert decide(USER, "s3:PutObject", f"{logs}/today.log", (identity,), (bucket,), owner=ACCOUNT) == ALLOWED
    assert decide(USER, "s3:GetObject", f"{logs}/today.log", (identity,), (bucket,), owner=ACCOUNT) == ALLOWED
    assert decide(USER, "s3:DeleteObject", f"{logs}/today.log", (identity,), (bucket,), owner=ACCOUNT) == IMPLICIT_DENY


def test_a_resource_policy_naming_only_the_account_does_not_allow_alone() -> None:
    """"AWS JSON policy elements: Principal" (AWS account principals),
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html: naming an
    account delegates to it, and its administrators grant access through identity-based policies."""
    bucket = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
                  "Resource": f"{BUCKET}/*"})
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", resource_policies=(bucket,), owner=ACCOUNT) == IMPLICIT_DENY
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", (doc(allow("s3:GetObject")),), (bucket,),
                  owner=ACCOUNT) == ALLOWED
    by_role = doc({"Effect": "Allow", "Principal": {"AWS": SESSION.role_arn}, "Action": "s3:GetObject",
                   "Resource": f"{BUCKET}/*"})
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", resource_policies=(by_role,), owner=ACCOUNT) == ALLOWED


def test_across_accounts_both_the_identity_and_the_resource_policy_must_allow() -> None:
    """"Cross-account policy evaluation logic",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html:
    the resource-based policy in the trusting account must name the principal (or its account) and the
    principal's identity-based policy must allow the access too."""
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    queue_policy = doc({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sqs:SendMessage", "Resource": queue})
    mine = doc(allow("sqs:SendMessage", queue))
    assert decide(STRANGER, "sqs:SendMessage", queue, (mine,), (queue_policy,)) == ALLOWED
    assert decide(STRANGER, "sqs:SendMessage", queue, (), (queue_policy,)) == IMPLICIT_DENY
    assert decide(STRANGER, "sqs:SendMessage", queue, (mine,), ()) == IMPLICIT_DENY
    assert decide(Principal.root(OTHER), "sqs:SendMessage", queue, (), (queue_policy,)) == ALLOWED
    assert decide(Principal.root(OTHER), "sqs:SendMessage", queue) == IMPLICIT_DENY
    decision = evaluate(Request(STRANGER, "sqs:SendMessage", queue), [Policy.parse(mine, "mine")])
    assert decision.reason == "because no resource-based policy allows the sqs:SendMessage action"


def test_a_denial_explains_itself_in_aws_words() -> None:
    """"Troubleshoot access denied error messages",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html: the message names the
    principal, the action, the resource and the policy type that denied (or that none allowed)."""
    request = Request(SESSION, "ecr:GetAuthorizationToken", "*")
    none = evaluate(request, [])
    assert none.message() == (f"User: {SESSION.arn} is not authorized to perform: ecr:GetAuthorizationToken on "
                              "resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action")
    denied = evaluate(request, [Policy.parse(doc(allow("*"), {"Sid": "NoEcr", **deny("ecr:*")}), "inline policy build")])
    assert denied.decision == EXPLICIT_DENY
    assert denied.message().endswith("with an explicit deny in an identity-based policy")
    assert denied.explain() == ('statement "NoEcr" of identity-based policy inline policy build denies '
                                "ecr:GetAuthorizationToken on *")
    allowed = evaluate(request, [Policy.parse(doc(allow("ecr:GetAuthorizationToken")), "inline policy build")])
    assert allowed.explain() == ("statement #1 of identity-based policy inline policy build allows "
                                 "ecr:GetAuthorizationToken on *")


# --- Action, NotAction, Resource, NotResource ---------------------------------------------------------

def test_actions_ignore_case_and_take_wildcards() -> None:
    """"IAM JSON policy elements: Action",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html: action names
    are case-insensitive and may use * and ? wildcards."""
    policy = (doc(allow(["S3:get*", "iam:?etUser"])),)
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", policy) == ALLOWED
    assert decide(SESSION, "iam:GetUser", policy[0]["Statement"][0]["Resource"], policy) == ALLOWED
    assert decide(SESSION, "iam:SetUser", "*", policy) == ALLOWED
    assert decide(SESSION, "iam:ListUsers", "*", policy) == IMPLICIT_DENY
    assert decide(SESSION, "s3:PutObject", f"{BUCKET}/k", policy) == IMPLICIT_DENY


def test_notaction_with_allow_grants_everything_else() -> None:
    """"IAM JSON policy elements: NotAction", NotAction with Allow,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html: "NotAction":
    "iam:*" with "Resource": "*" allows every action of every service except IAM's; "NotAction":
    "s3:DeleteBucket" on "arn:aws:s3:::*" allows the other S3 actions on S3 resources only."""
    all_but_iam = (doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),)
    assert decide(SESSION, "ec2:RunInstances", "*", all_but_iam) == ALLOWED
    assert decide(SESSION, "codebuild:StartBuild", f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/p", all_but_iam) == ALLOWED
    assert decide(SESSION, "iam:CreateUser", "*", all_but_iam) == IMPLICIT_DENY
    s3_but_delete = (doc({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"}),)
    assert decide(SESSION, "s3:PutObject", f"{BUCKET}/k", s3_but_delete) == ALLOWED
    assert decide(SESSION, "s3:DeleteBucket", BUCKET, s3_but_delete) == IMPLICIT_DENY
    assert decide(SESSION, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", s3_but_delete) == IMPLICIT_DENY


def test_notaction_with_deny_denies_everything_else_and_grants_nothing() -> None:
    """Same page, NotAction with Deny: the DenyAllUsersNotUsingMFA example denies every non-IAM action
    when aws:MultiFactorAuthPresent is false or absent (BoolIfExists); it allows nothing itself."""
    policy = doc(allow("*"), {"Sid": "DenyAllUsersNotUsingMFA", "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                              "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})
    assert decide(USER, "ec2:RunInstances", "*", (policy,)) == EXPLICIT_DENY
    assert decide(USER, "ec2:RunInstances", "*", (policy,), context={"aws:MultiFactorAuthPresent": False}) == EXPLICIT_DENY
    assert decide(USER, "ec2:RunInstances", "*", (policy,), context={"aws:MultiFactorAuthPresent": True}) == ALLOWED
    assert decide(USER, "iam:ListUsers", "*", (policy,)) == ALLOWED
    deny_only = (doc({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}),)
    assert decide(USER, "iam:ListUsers", "*", deny_only) == IMPLICIT_DENY


def test_notresource_matches_every_resource_but_those_listed() -> None:
    """"IAM JSON policy elements: NotResource",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html: a Deny of
    every S3 action on all but one bucket confines the principal to it; an Allow with NotResource grants the
    action everywhere except the listed resources."""
    confined = doc(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*",
                                   "NotResource": [BUCKET, f"{BUCKET}/*"]})
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", (confined,)) == ALLOWED
    assert decide(SESSION, "s3:GetObject", "arn:aws:s3:::another-bucket/k", (confined,)) == EXPLICIT_DENY
    everywhere_but = doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/secret/*"})
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/public/k", (everywhere_but,)) == ALLOWED
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/secret/k", (everywhere_but,)) == IMPLICIT_DENY


def test_resource_arns_match_with_case_segment_by_segment() -> None:
    """"IAM JSON policy elements: Resource", using wildcards in resource ARNs,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html: wildcards work
    within each colon-separated segment, a * that ends a segment may extend past the colons, the IAM user
    name is case sensitive, and * within the resource part spans slashes."""
    users = (doc(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/accounting/*")),)
    assert decide(SESSION, "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/accounting/team/Bob", users) == ALLOWED
    assert decide(SESSION, "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/Accounting/Bob", users) == IMPLICIT_DENY
    any_account = (doc(allow("iam:GetRole", "arn:aws:iam::*:role/deploy")),)
    assert decide(SESSION, "iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/deploy", any_account) == ALLOWED
    inner = (doc(allow("ssm:GetParameter", f"arn:aws:ssm:us-*-1:{ACCOUNT}:parameter/app")),)
    assert decide(SESSION, "ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app", inner) == ALLOWED
    assert decide(SESSION, "ssm:GetParameter", f"arn:aws:ssm:us-east-1:x:{ACCOUNT}:parameter/app", inner) == IMPLICIT_DENY
    one = (doc(allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue?")),)
    assert decide(SESSION, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue1", one) == ALLOWED
    assert decide(SESSION, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue12", one) == IMPLICIT_DENY


# --- conditions -----------------------------------------------------------------------------------

def cond(operator: str, key: str, value: Any, context: dict[str, Any] | None, effect: str = "Allow") -> bool:
    statement = {"Effect": effect, "Action": "s3:GetObject", "Resource": "*", "Condition": {operator: {key: value}}}
    return decide(SESSION, "s3:GetObject", "*", (doc(statement),), context=context) == ALLOWED


def test_string_operators() -> None:
    """"IAM JSON policy elements: Condition operators", string condition operators,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html:
    StringEquals is exact and case-sensitive, …IgnoreCase ignores case, StringLike takes * and ?, and the
    Not forms negate."""
    ctx = {"aws:PrincipalTag/job-category": "iamuser-admin"}
    assert cond("StringEquals", "aws:PrincipalTag/job-category", "iamuser-admin", ctx)
    assert not cond("StringEquals", "aws:PrincipalTag/job-category", "IAMUSER-admin", ctx)
    assert cond("StringEqualsIgnoreCase", "aws:PrincipalTag/job-category", "IAMUSER-admin", ctx)
    assert not cond("StringNotEqualsIgnoreCase", "aws:PrincipalTag/job-category", "IAMUSER-admin", ctx)
    assert cond("StringNotEquals", "aws:PrincipalTag/job-category", "other", ctx)
    assert cond("StringLike", "aws:PrincipalTag/job-category", "iamuser-*", ctx)
    assert cond("StringLike", "aws:PrincipalTag/job-category", "iamuser?admin", ctx)
    assert not cond("StringNotLike", "aws:PrincipalTag/job-category", "iam*", ctx)
    assert not cond("StringEquals", "aws:PrincipalTag/job-category", "iamuser-*", ctx)


def test_context_key_names_ignore_case() -> None:
    """"IAM JSON policy elements: Condition",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html: context key
    names are not case-sensitive (aws:SourceIP is the same as AWS:SourceIp); values follow the operator."""
    assert cond("StringEquals", "AWS:UserName", "johndoe", {"aws:username": "johndoe"})
    assert not cond("StringEquals", "aws:username", "johndoe", {"aws:username": "JohnDoe"})
    assert cond("StringEqualsIgnoreCase", "aws:username", "johndoe", {"aws:username": "JohnDoe"})


def test_a_missing_key_fails_an_operator_and_satisfies_a_negated_one() -> None:
    """Condition operators page: "If the key that you specify in a policy condition is not present in the
    request context, the values do not match and the condition is false. If the policy condition requires
    that the key is not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
    condition is true"; …IfExists is true when the key is absent; Null tests presence."""
    assert not cond("StringEquals", "aws:SourceVpc", "vpc-1", {})
    assert cond("StringNotLike", "aws:SourceVpc", "vpc-*", {})
    assert cond("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::x", {})
    assert cond("StringEqualsIfExists", "aws:SourceVpc", "vpc-1", {})
    assert not cond("StringEqualsIfExists", "aws:SourceVpc", "vpc-1", {"aws:SourceVpc": "vpc-2"})
    assert cond("Null", "aws:TokenIssueTime", "true", {})
    assert not cond("Null", "aws:TokenIssueTime", "true", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"})
    assert cond("Null", "aws:TokenIssueTime", "false", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"})


def test_keys_are_anded_values_ored_and_negated_values_anded() -> None:
    """"Creating a condition with multiple context keys or values",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html:
    several operators or keys must all hold (AND); several values of one key are alternatives (OR);
    with a negated operator such as StringNotEquals several values act as a logical AND."""
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {
        "StringEquals": {"aws:PrincipalTag/team": ["blue", "green"], "aws:RequestedRegion": "eu-west-1"}}}
    policies = (doc(statement),)
    for team, region, expected in (("blue", "eu-west-1", ALLOWED), ("green", "eu-west-1", ALLOWED),
                                   ("red", "eu-west-1", IMPLICIT_DENY), ("blue", "us-east-1", IMPLICIT_DENY)):
        ctx = {"aws:PrincipalTag/team": team, "aws:RequestedRegion": region}
        assert decide(SESSION, "s3:GetObject", "*", policies, context=ctx) == expected
    assert not cond("StringNotEquals", "aws:PrincipalTag/role", ["audit", "security"], {"aws:PrincipalTag/role": "audit"})
    assert cond("StringNotEquals", "aws:PrincipalTag/role", ["audit", "security"], {"aws:PrincipalTag/role": "dev"})


def test_set_operators_for_multivalued_keys() -> None:
    """"Single-valued vs. multivalued context keys", set operators,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html:
    ForAllValues holds when every request value matches a policy value, and also when the key is absent;
    ForAnyValue holds when at least one does, and is false when the key is absent."""
    tags = ["environment", "cost-center"]
    assert cond("ForAllValues:StringEquals", "aws:TagKeys", ["environment", "cost-center", "owner"], {"aws:TagKeys": tags})
    assert not cond("ForAllValues:StringEquals", "aws:TagKeys", ["environment"], {"aws:TagKeys": tags})
    assert cond("ForAllValues:StringEquals", "aws:TagKeys", ["environment"], {})
    assert cond("ForAnyValue:StringEquals", "aws:TagKeys", ["environment"], {"aws:TagKeys": tags})
    assert not cond("ForAnyValue:StringEquals", "aws:TagKeys", ["owner"], {"aws:TagKeys": tags})
    assert not cond("ForAnyValue:StringEquals", "aws:TagKeys", ["environment"], {})
    assert cond("ForAllValues:StringLike", "aws:TagKeys", ["env*", "cost-*"], {"aws:TagKeys": tags})
    # A Deny on ForAnyValue:StringLike denies when any requested tag key has a forbidden prefix.
    assert not cond("ForAnyValue:StringLike", "aws:TagKeys", "key1*", {"aws:TagKeys": ["key1a", "x"]}, "Deny")


def test_numeric_date_bool_binary_and_ip_operators() -> None:
    """Condition operators page: numeric, date (ISO 8601 or epoch seconds), Boolean, binary (base-64) and
    IP address operators (CIDR, IPv4 or IPv6); an unparsable value matches nothing."""
    assert cond("NumericLessThanEquals", "s3:max-keys", "10", {"s3:max-keys": "10"})
    assert not cond("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "10"})
    assert cond("NumericGreaterThan", "s3:max-keys", "10", {"s3:max-keys": 11})
    assert not cond("NumericEquals", "s3:max-keys", "10", {"s3:max-keys": "ten"})
    assert cond("DateGreaterThan", "aws:CurrentTime", "2020-04-01T00:00:00Z", {"aws:CurrentTime": "2026-12-07T16:00:00Z"})
    assert cond("DateLessThan", "aws:EpochTime", "1700000000", {"aws:EpochTime": "1600000000"})
    assert cond("DateEquals", "aws:CurrentTime", "2026-01-01T00:00:00Z", {"aws:CurrentTime": "2026-01-01T01:00:00+01:00"})
    assert cond("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": True})
    assert not cond("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "false"})
    assert cond("BinaryEquals", "key", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="})
    assert cond("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.7"})
    assert not cond("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.7"})
    assert cond("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"], {"aws:SourceIp": "198.51.100.7"})
    assert not cond("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"], {"aws:SourceIp": "2001:db8::1"})


def test_arn_operators_match_segment_by_segment() -> None:
    """Condition operators page, ARN condition operators: ArnEquals/ArnLike match case-sensitively, each of
    the six colon-delimited parts checked separately, each allowing * and ?; the Not forms negate."""
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    assert cond("ArnEquals", "aws:SourceArn", topic, {"aws:SourceArn": topic})
    assert cond("ArnLike", "aws:SourceArn", f"arn:aws:sns:*:{ACCOUNT}:*", {"aws:SourceArn": topic})
    assert not cond("ArnLike", "aws:SourceArn", f"arn:aws:sns:*:{OTHER}:*", {"aws:SourceArn": topic})
    assert not cond("ArnEquals", "aws:SourceArn", topic.upper(), {"aws:SourceArn": topic})
    assert cond("ArnNotLike", "aws:SourceArn", f"arn:aws:sns:*:{OTHER}:*", {"aws:SourceArn": topic})


def test_policy_variables_in_resources_and_conditions() -> None:
    """"IAM policy elements: Variables and tags",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html: ${aws:username} in a
    Resource is replaced from the request (only with Version 2012-10-17); a variable with no value makes
    the element match nothing unless it has a default (${key, 'default'}); ${*}, ${?} and ${$} are the
    literal characters."""
    home = doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*"))
    assert decide(USER, "s3:GetObject", f"{BUCKET}/home/carlossalazar/notes", (home,)) == ALLOWED
    assert decide(USER, "s3:GetObject", f"{BUCKET}/home/mateo/notes", (home,)) == IMPLICIT_DENY
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/home/${{aws:username}}/notes", (home,)) == IMPLICIT_DENY
    old = doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*"), version="2008-10-17")
    assert decide(USER, "s3:GetObject", f"{BUCKET}/home/carlossalazar/notes", (old,)) == IMPLICIT_DENY
    assert decide(USER, "s3:GetObject", f"{BUCKET}/home/${{aws:username}}/notes", (old,)) == ALLOWED
    team = doc(allow("s3:GetObject", f"{BUCKET}/${{aws:PrincipalTag/team, 'company-wide'}}/*"))
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/company-wide/k", (team,)) == ALLOWED
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/red/k", (team,), context={"aws:PrincipalTag/team": "red"}) == ALLOWED
    literal = doc(allow("s3:GetObject", f"{BUCKET}/${{*}}"))
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/*", (literal,)) == ALLOWED
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/anything", (literal,)) == IMPLICIT_DENY
    owner = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
             "Condition": {"StringEquals": {"s3:prefix": "home/${aws:username}"}}}
    assert decide(USER, "s3:GetObject", "*", (doc(owner),), context={"s3:prefix": "home/carlossalazar"}) == ALLOWED


# --- the keys service roles meet --------------------------------------------------------------------

def test_confused_deputy_keys_aws_source_arn_and_source_account() -> None:
    """"The confused deputy problem", https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html,
    and "AWS global condition context keys" (aws:SourceArn, aws:SourceAccount),
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html: a trust or
    resource policy that names a service limits it to requests made for one account or resource."""
    project = f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/cicd-lab"
    trust = doc({"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole",
                 "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                               "ArnLike": {"aws:SourceArn": f"arn:aws:codebuild:*:{ACCOUNT}:project/*"}}})
    codebuild = Principal.service("codebuild.amazonaws.com")
    assert can_assume(trust, codebuild, context={"aws:SourceAccount": ACCOUNT, "aws:SourceArn": project}).allowed
    assert not can_assume(trust, codebuild, context={"aws:SourceAccount": OTHER, "aws:SourceArn": project}).allowed
    assert not can_assume(trust, codebuild, context={"aws:SourceAccount": ACCOUNT}).allowed
    assert not can_assume(trust, Principal.service("ec2.amazonaws.com"), context={"aws:SourceAccount": ACCOUNT,
                                                                                   "aws:SourceArn": project}).allowed


def test_a_key_policy_must_allow_even_the_root_user() -> None:
    """"Key policies in AWS KMS", https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html: no
    principal, the root user included, may use a key unless the key policy allows it; IAM policies allow
    only when the key policy names the account ("Enable IAM User Permissions"), and can always deny."""
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    use_keys = [Policy.parse(doc(allow("kms:Decrypt")), "may decrypt")]
    admins_only = Policy.parse(doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/KMSKeyAdmins"},
                                    "Action": "kms:*", "Resource": "*"}), "key policy", KEY)
    default = Policy.parse(doc({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                                "Resource": "*"}), "key policy", KEY)
    assert evaluate(Request(SESSION, "kms:Decrypt", key), use_keys, [admins_only]).decision == IMPLICIT_DENY
    assert evaluate(Request(Principal.root(ACCOUNT), "kms:Decrypt", key), [], [admins_only]).decision == IMPLICIT_DENY
    assert evaluate(Request(SESSION, "kms:Decrypt", key), use_keys, [default]).decision == ALLOWED
    assert evaluate(Request(SESSION, "kms:Decrypt", key), [], [default]).decision == IMPLICIT_DENY
    assert evaluate(Request(Principal.root(ACCOUNT), "kms:Decrypt", key), [], [default]).decision == ALLOWED
    no_decrypt = [Policy.parse(doc(deny("kms:Decrypt")), "no decrypt")]
    assert evaluate(Request(SESSION, "kms:Decrypt", key), no_decrypt, [default]).decision == EXPLICIT_DENY


def test_iam_passed_to_service_limits_pass_role() -> None:
    """"IAM and AWS STS condition context keys", iam:PassedToService,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html: the
    AWSCodeDeployRoleForECS grant of iam:PassRole holds only when the role goes to ecs-tasks.amazonaws.com."""
    managed = doc({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*",
                   "Condition": {"StringLike": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}}})
    role = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
    assert decide(SESSION, "iam:PassRole", role, (managed,), context={"iam:PassedToService": "ecs-tasks.amazonaws.com"}) == ALLOWED
    assert decide(SESSION, "iam:PassRole", role, (managed,), context={"iam:PassedToService": "lambda.amazonaws.com"}) == IMPLICIT_DENY
    assert decide(SESSION, "iam:PassRole", role, (managed,)) == IMPLICIT_DENY
    lambda_pass = evaluate(Request(SESSION, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"}),
                           [Policy.parse(managed, "managed policy AWSCodeDeployRoleForECS")])
    assert lambda_pass.explain() == (
        f"iam:PassRole on {role}: because no identity-based policy allows the iam:PassRole action (statement #1 of "
        "identity-based policy managed policy AWSCodeDeployRoleForECS would allow it, but its condition StringLike "
        "iam:PassedToService does not hold)")


def test_kms_via_service_limits_a_key_to_requests_through_s3() -> None:
    """"AWS KMS condition keys", kms:ViaService,
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html: a key policy can allow
    kms:Decrypt only when the request comes through a named service such as S3 in one region."""
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    key_policy = doc({"Effect": "Allow", "Principal": {"AWS": SESSION.role_arn}, "Action": "kms:Decrypt",
                      "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert decide(SESSION, "kms:Decrypt", key, resource_policies=(key_policy,), context=via_s3) == ALLOWED
    assert decide(SESSION, "kms:Decrypt", key, resource_policies=(key_policy,)) == IMPLICIT_DENY
    assert decide(SESSION, "kms:Decrypt", key, resource_policies=(key_policy,),
                  context={"kms:ViaService": "ssm.us-east-1.amazonaws.com"}) == IMPLICIT_DENY


# --- principals and trust -------------------------------------------------------------------------

def test_trust_policies_name_services_accounts_roles_and_everyone() -> None:
    """"AWS JSON policy elements: Principal",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html: a service
    principal is trusted by the trust policy alone; an account principal (id or root ARN) needs the
    caller's own identity policy; a role ARN covers that role's sessions; "*" names everyone."""
    service = doc({"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"})
    assert can_assume(service, Principal.service("codebuild.amazonaws.com")).allowed
    assert not can_assume(service, Principal.service("codepipeline.amazonaws.com")).allowed
    assert not can_assume(service, USER, role_arn=f"arn:aws:iam::{ACCOUNT}:role/r").allowed
    role = f"arn:aws:iam::{ACCOUNT}:role/deploy"
    assume = [Policy.parse(doc(allow("sts:AssumeRole", role)), "may assume")]
    account = doc({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"})
    assert not can_assume(account, STRANGER, role_arn=role).allowed
    assert can_assume(account, STRANGER, role_arn=role, identity=assume).allowed
    by_role = doc({"Effect": "Allow", "Principal": {"AWS": SESSION.role_arn}, "Action": "sts:AssumeRole"})
    assert can_assume(by_role, SESSION, role_arn=role).allowed
    everyone = doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})
    assert can_assume(everyone, Principal.service("ec2.amazonaws.com")).allowed
    assert can_assume(everyone, STRANGER, role_arn=role, identity=assume).allowed
    no_wildcards = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"}, "Action": "sts:AssumeRole"})
    assert not can_assume(no_wildcards, USER, role_arn=role).allowed


def test_notprincipal_with_deny_excepts_only_the_listed_principal_and_account() -> None:
    """"AWS JSON policy elements: NotPrincipal",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html: it is used
    with Deny (with Allow it is not supported) and denies everyone but the listed principals; a session is
    excepted by its session ARN, and the principal's account must be listed too."""
    listed = {"AWS": [SESSION.arn, f"arn:aws:iam::{ACCOUNT}:root"]}
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"},
                 {"Effect": "Deny", "NotPrincipal": listed, "Action": "s3:*", "Resource": f"{BUCKET}/*"})
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", resource_policies=(policy,), owner=ACCOUNT) == ALLOWED
    other_session = Principal.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/build-role/other")
    assert decide(other_session, "s3:GetObject", f"{BUCKET}/k", resource_policies=(policy,), owner=ACCOUNT) == EXPLICIT_DENY
    without_account = doc({"Effect": "Deny", "NotPrincipal": {"AWS": SESSION.arn}, "Action": "s3:*", "Resource": "*"},
                          {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert decide(SESSION, "s3:GetObject", f"{BUCKET}/k", resource_policies=(without_account,)) == EXPLICIT_DENY
    with pytest.raises(PolicyError, match="NotPrincipal is supported with Deny only"):
        Policy.parse(doc({"Effect": "Allow", "NotPrincipal": {"AWS": OTHER}, "Action": "s3:*", "Resource": "*"}),
                     "p", RESOURCE)


def test_documents_iam_would_refuse_raise_a_clear_error() -> None:
    """"IAM JSON policy element reference" (grammar),
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html: a statement has Effect,
    Action or NotAction, Resource or NotResource (identity policies); Principal only in resource-based
    policies; condition operators are a fixed set."""
    bad = [({"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}, "Effect must be Allow or Deny"),
           (doc({"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"}), "not both"),
           (doc({"Effect": "Allow", "Action": "s3:*"}), "needs Resource or NotResource"),
           (doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}), "no Principal element"),
           (doc(allow("s3:*", Condition={"StringEqualz": {"a:b": "c"}})), "unknown condition operator StringEqualz"),
           (doc(allow("s3:*", Condition={"ForSomeValues:StringEquals": {"a:b": "c"}})), "unknown set operator"),
           ("{not json", "not JSON"), ({"Version": "2012-10-17"}, "with a Statement")]
    for document, message in bad:
        with pytest.raises(PolicyError, match=message):
            Policy.parse(document, "inline policy p", IDENTITY)


# --- the grader's questions -------------------------------------------------------------------------

PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/db/password"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/api-key-AbCdEf"
NEEDED = [("ssm:GetParameters", PARAMETER), ("secretsmanager:GetSecretValue", SECRET)]


def test_least_privilege_passes_and_action_star_fails() -> None:
    """The kit's least-privilege helper, by evaluation: the lab's exact grant allows what is needed and
    nothing beyond; "Action": "*" is named as every action of every service (NotAction page's caution)."""
    exact = doc(allow("ssm:GetParameters", PARAMETER), allow("secretsmanager:GetSecretValue", SECRET))
    assert all(allows([exact], action, resource) for action, resource in NEEDED)
    assert grants_beyond([exact], NEEDED) == []
    admin = doc(allow("*"))
    assert grants_beyond([admin], NEEDED)[0] == 'every action of every service ("Action": "*" or a NotAction)'
    assert any(g.startswith("IAM privilege escalation: iam:CreateUser") for g in grants_beyond([admin], NEEDED))


def test_least_privilege_counts_a_grant_whose_condition_a_caller_can_meet() -> None:
    """A condition does not narrow what a role may do when its caller can meet it (HTTPS, the region it
    asks for): "Action": "*" under such a condition is still every action; a Deny that applies only under
    a condition stops nothing for a caller who avoids it."""
    for condition in ({"Bool": {"aws:SecureTransport": "true"}},
                      {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, {"StringLike": {"aws:userid": "*"}}):
        admin = doc({**allow("*"), "Condition": condition})
        assert grants_beyond([admin], NEEDED)[0].startswith("every action of every service"), condition
    exact = doc(allow("ssm:GetParameters", PARAMETER), allow("secretsmanager:GetSecretValue", SECRET))
    fenced = doc(allow("*"), {"Effect": "Deny", "NotAction": ["ssm:GetParameters", "secretsmanager:GetSecretValue"],
                              "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})
    assert grants_beyond([exact], NEEDED) == [] and grants_beyond([fenced], NEEDED)[0].startswith("every action")


def test_least_privilege_names_service_wildcards_broad_resources_and_notaction() -> None:
    """NotAction page ("NotAction": "iam:*" allows every other service) and Resource page ("Resource": "*"
    where the action supports resource-level permissions): each excess is named."""
    service_star = doc(allow("ssm:*", PARAMETER), allow("secretsmanager:GetSecretValue", SECRET))
    assert grants_beyond([service_star], NEEDED) == ["every ssm action (ssm:*)"]
    any_secret = doc(allow("ssm:GetParameters", PARAMETER), allow("secretsmanager:GetSecretValue", "*"))
    assert grants_beyond([any_secret], NEEDED) == [
        f"secretsmanager:GetSecretValue on other resources than {SECRET} "
        f"(e.g. arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/lab-kit-probe)"]
    all_but_s3 = doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
    beyond = grants_beyond([all_but_s3], NEEDED)
    assert beyond[0].startswith("every action of every service")
    assert "iam:PutRolePolicy" in beyond[1]
    denied_iam = doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, deny("iam:*"), deny("lab-kit-probe:*"))
    assert not any("IAM" in g or "every action" in g for g in grants_beyond([denied_iam], NEEDED))


def test_trust_helpers_by_evaluation() -> None:
    """Principal page again, through the grader's trust helpers: which services a trust policy admits
    (a Deny on a service removes it), and who else may assume the role."""
    own = doc({"Effect": "Allow", "Principal": {"Service": ["codebuild.amazonaws.com", "ec2.amazonaws.com"]},
               "Action": "sts:AssumeRole"},
              {"Effect": "Deny", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"})
    assert trusted_services(own) == {"codebuild.amazonaws.com"}
    assert trust_beyond(own, "codebuild.amazonaws.com", ACCOUNT) == []
    wide = doc({"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com", "AWS": ACCOUNT},
                "Action": "sts:AssumeRole"})
    assert trust_beyond(wide, "codebuild.amazonaws.com", ACCOUNT) == [f"IAM users and roles of {ACCOUNT}"]
    assert other_principals(wide) == [f"AWS: {ACCOUNT}"]
    everyone = doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})
    assert trust_beyond(everyone, "codebuild.amazonaws.com", ACCOUNT) == [
        "any service", f"IAM users and roles of {ACCOUNT}", "principals of other accounts"]


def test_wildcard_matching_agrees_with_regular_expressions_and_survives_hostile_patterns() -> None:
    """Resource page's wildcard rules, checked against a reference: the pattern walk used for patterns
    with several wildcards agrees with Python's regular expressions on many random small cases, and a
    pattern of 40 wildcards against a 2,000-character ARN is answered (a backtracking regex never would be)."""
    import random
    import re

    from labstack.iampolicy.matching import _elements, _simulate, action_matches, arn_matches, tokens

    rng = random.Random(19)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab:*?") for _ in range(rng.randint(0, 7)))
        text = "".join(rng.choice("ab:") for _ in range(rng.randint(0, 8)))
        reference = re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                                 text, re.DOTALL)
        assert _simulate(_elements(tokens(pattern), False), text, False) == (reference is not None), (pattern, text)
    long_arn = "arn:aws:s3:::" + "a" * 2000
    assert not arn_matches(tokens("arn:aws:s3:::" + "*a" * 40 + "*c"), long_arn)
    assert arn_matches(tokens("arn:aws:s3:::" + "*a" * 40 + "*"), long_arn)
    assert not action_matches("*a" * 40 + "*c", "s3:" + "a" * 2000)
    assert arn_matches(tokens("arn:aws:ssm:*:*:parameter/*/db/*"), f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/db/pw")
    inner = tokens("arn:aws:ssm:u*1:*2:parameter/*")  # stars inside a segment stay inside it
    assert arn_matches(inner, f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/x")
    assert not arn_matches(inner, f"arn:aws:ssm:us:east-1:{ACCOUNT}:parameter/x")
    assert not arn_matches(inner, f"arn:aws:ssm:us-east-1:1:{ACCOUNT}:parameter/x")


def test_any_document_parses_or_is_refused_with_policy_error_and_never_breaks_evaluation() -> None:
    """Bad input: whatever a document holds, parsing gives a policy or a PolicyError, and evaluating a
    parsed policy answers (labstack must never fall over on a learner's policy)."""
    import random

    rng = random.Random(20)
    leaves: list[Any] = ["*", "s3:*", "Allow", "Deny", 1, None, True, [], {}, "${aws:username}", "arn:aws:s3:::b/*",
                         "1e999", "::::::", "${", "10.0.0.0/8", "2026-01-01T00:00:00Z"]
    elements = ["Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition", "Sid"]
    operators = ["StringLike", "ForAllValues:ArnLike", "NumericLessThanIfExists", "Null", "DateGreaterThan", "IpAddress",
                 "Bool", "BinaryEquals", "ForAnyValue:StringNotEquals"]

    def value(depth: int) -> Any:
        if depth > 2 or rng.random() < 0.5:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(operators + ["AWS", "Service", "aws:SourceIp"]): value(depth + 1) for _ in range(rng.randint(0, 2))}

    parsed = 0
    for _ in range(2000):
        statement = {name: value(0) for name in rng.sample(elements, rng.randint(1, len(elements)))}
        if rng.random() < 0.7:
            statement.update({"Effect": rng.choice(["Allow", "Deny"]), "Action": rng.choice(["*", "s3:Get*"]),
                              "Resource": rng.choice(["*", "arn:aws:s3:::b/*"])})
        kind = rng.choice([IDENTITY, RESOURCE])
        try:
            policy = Policy.parse(doc(statement), "fuzz", kind)
        except PolicyError:
            continue
        parsed += 1
        context = {"aws:SourceIp": rng.choice(["10.1.2.3", "nonsense"]), "aws:username": rng.choice(["a", ["x", "y"]])}
        for who in (USER, SESSION, Principal.service("codebuild.amazonaws.com")):
            policies = ([policy], []) if kind == IDENTITY else ([], [policy])
            assert evaluate(Request(who, "s3:GetObject", "arn:aws:s3:::b/k", context), *policies).decision in (
                ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY)
    assert parsed > 30  # enough documents got through to be evaluated
