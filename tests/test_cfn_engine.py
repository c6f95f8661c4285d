"""labstack's CloudFormation engine against a real labstack: events in AWS's order, rollback that leaves
nothing behind, updates in place and by replacement, deletion policies, capabilities, termination
protection, the stack's service role, and hostile templates refused without taking labstack down."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cfn_stacks import events, service_role, settled
from tests.support.codebuild import new_account
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for


def body(resources: dict, outputs: dict | None = None, **sections: Any) -> str:
    return json.dumps({"Resources": resources, **({"Outputs": outputs} if outputs else {}), **sections})


def topic(**props: Any) -> dict:
    return {"Type": "AWS::SNS::Topic", "Properties": props}


BAD_TOPIC = topic(TopicName="not a valid name!")  # SNS refuses it: the resource fails


def topics(server: LabstackProcess, account: str) -> list[str]:
    return sorted(t["TopicArn"].rpartition(":")[2] for t in server.client("sns", account=account).list_topics()["Topics"])


@pytest.fixture
def cfn(labstack: LabstackProcess) -> Any:
    return check_responses(labstack.client("cloudformation", account=new_account()))


def account_of(cfn: Any) -> str:
    return cfn._request_signer._credentials.access_key


def test_events_are_newest_first_in_aws_order(cfn: Any) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/monitor-stack-progress.html: the stack's
    CREATE_IN_PROGRESS "User Initiated", each resource's CREATE_IN_PROGRESS then "Resource creation Initiated"
    then CREATE_COMPLETE (a dependency first), the stack's CREATE_COMPLETE; DescribeStackEvents newest first."""
    cfn.create_stack(StackName="Order", TemplateBody=body({
        "First": topic(DisplayName="one"), "Second": {**topic(DisplayName="two"), "DependsOn": "First"}}))
    assert settled(cfn, "Order")["StackStatus"] == "CREATE_COMPLETE"
    newest_first = cfn.describe_stack_events(StackName="Order")["StackEvents"]
    assert [e["Timestamp"] for e in newest_first] == sorted((e["Timestamp"] for e in newest_first), reverse=True)
    assert events(cfn, "Order") == [
        ("Order", "CREATE_IN_PROGRESS", "User Initiated"),
        ("First", "CREATE_IN_PROGRESS", None), ("First", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("First", "CREATE_COMPLETE", None),
        ("Second", "CREATE_IN_PROGRESS", None), ("Second", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Second", "CREATE_COMPLETE", None),
        ("Order", "CREATE_COMPLETE", None)]
    resources = cfn.describe_stack_resources(StackName="Order")["StackResources"]
    assert {(r["LogicalResourceId"], r["ResourceStatus"]) for r in resources} == {("First", "CREATE_COMPLETE"),
                                                                                  ("Second", "CREATE_COMPLETE")}
    assert cfn.describe_stack_resource(StackName="Order", LogicalResourceId="First")["StackResourceDetail"][
        "PhysicalResourceId"].endswith(":" + resources[0]["PhysicalResourceId"].rpartition(":")[2])


def test_a_failed_resource_rolls_the_create_back_and_leaves_nothing(cfn: Any, labstack: LabstackProcess) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html: a failure
    rolls the stack back (ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE), deleting what it made; a stack in
    ROLLBACK_COMPLETE can only be deleted."""
    cfn.create_stack(StackName="Broken", TemplateBody=body({"Good": topic(), "Bad": {**BAD_TOPIC, "DependsOn": "Good"}}))
    stack = settled(cfn, "Broken")
    assert (stack["StackStatus"], stack.get("StackStatusReason")) == ("ROLLBACK_COMPLETE", None)
    seen = events(cfn, "Broken")
    assert ("Broken", "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Bad]. Rollback requested by user.") in seen
    failed = next(reason for logical, status, reason in seen if (logical, status) == ("Bad", "CREATE_FAILED"))
    assert failed.startswith('Resource handler returned message: "') and "HandlerErrorCode: InvalidRequest" in failed
    assert ("Good", "DELETE_COMPLETE", None) in seen and seen[-1] == ("Broken", "ROLLBACK_COMPLETE", None)
    assert topics(labstack, account_of(cfn)) == []
    with pytest.raises(cfn.exceptions.ClientError, match="is in ROLLBACK_COMPLETE state and can not be updated"):
        cfn.update_stack(StackName="Broken", TemplateBody=body({"Good": topic()}))


def test_on_failure_do_nothing_keeps_and_delete_removes_a_deleted_stack_listed_by_id(cfn: Any, labstack: LabstackProcess) -> None:
    """OnFailure (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html):
    DO_NOTHING leaves CREATE_FAILED with what was made; DELETE deletes the stack. A deleted stack is
    listed DELETE_COMPLETE and described by its id only
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html)."""
    cfn.create_stack(StackName="Kept", OnFailure="DO_NOTHING",
                     TemplateBody=body({"Good": topic(TopicName="kept"), "Bad": {**BAD_TOPIC, "DependsOn": "Good"}}))
    stack = settled(cfn, "Kept")
    assert (stack["StackStatus"], stack["StackStatusReason"]) == ("CREATE_FAILED", "The following resource(s) failed to create: [Bad].")
    assert topics(labstack, account_of(cfn)) == ["kept"]

    stack_id = cfn.create_stack(StackName="Gone", OnFailure="DELETE", TemplateBody=body({"Bad": BAD_TOPIC}))["StackId"]
    wait_for(lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE")
    with pytest.raises(cfn.exceptions.ClientError, match="Stack with id Gone does not exist"):
        cfn.describe_stacks(StackName="Gone")
    assert [s["StackStatus"] for s in cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]] == ["DELETE_COMPLETE"]
    assert "Gone" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def test_updates_in_place_by_replacement_and_the_custom_named_refusal(labstack: LabstackProcess) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html:
    a DisplayName change updates the topic in place; a role's Path ("Update requires: Replacement") makes a new
    role first and deletes the old one in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS; a custom-named resource that
    needs replacing fails the update."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    iam = labstack.client("iam", account=account)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}

    def template(display: str, path: str, name: str = "alerts") -> str:
        return body({"Alerts": topic(TopicName=name, DisplayName=display),
                     "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust, "Path": path}}},
                    {"Role": {"Value": {"Ref": "Role"}}, "Topic": {"Value": {"Ref": "Alerts"}}})

    cfn.create_stack(StackName="Up", TemplateBody=template("one", "/a/"), Capabilities=["CAPABILITY_IAM"])
    first = {o["OutputKey"]: o["OutputValue"] for o in settled(cfn, "Up")["Outputs"]}
    with pytest.raises(cfn.exceptions.ClientError, match="No updates are to be performed."):
        cfn.update_stack(StackName="Up", TemplateBody=template("one", "/a/"), Capabilities=["CAPABILITY_IAM"])

    cfn.update_stack(StackName="Up", TemplateBody=template("two", "/b/"), Capabilities=["CAPABILITY_IAM"])
    stack = settled(cfn, "Up")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    second = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert second["Topic"] == first["Topic"] and second["Role"] != first["Role"]
    attributes = labstack.client("sns", account=account).get_topic_attributes(TopicArn=second["Topic"])["Attributes"]
    assert attributes["DisplayName"] == "two"
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/")["Roles"]] == [second["Role"]]
    seen = events(cfn, "Up")
    cleanup = seen.index(("Up", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None))
    assert ("Role", "UPDATE_IN_PROGRESS", "Requested update requires the creation of a new physical resource; hence "
            "creating one.") in seen[:cleanup]
    assert ("Role", "DELETE_COMPLETE", None) in seen[cleanup:]

    cfn.update_stack(StackName="Up", TemplateBody=template("two", "/b/", name="renamed"), Capabilities=["CAPABILITY_IAM"])
    assert settled(cfn, "Up")["StackStatus"] == "UPDATE_COMPLETE"  # a new name: replaced, the old topic deleted
    assert topics(labstack, account) == ["renamed"]

    cfn.update_stack(StackName="Up", Capabilities=["CAPABILITY_IAM"], TemplateBody=body({
        "Alerts": topic(TopicName="renamed", FifoTopic=True, DisplayName="two"),
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust, "Path": "/b/"}}}))
    stack = settled(cfn, "Up")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert ("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename renamed "
            "and update the stack again.") in next(r for l, s, r in reversed(events(cfn, "Up")) if (l, s) == ("Alerts", "UPDATE_FAILED"))


def test_a_failed_update_rolls_back_what_it_changed_and_made(cfn: Any, labstack: LabstackProcess) -> None:
    """UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html):
    the changed topic is put back, the added one deleted."""
    account = account_of(cfn)
    cfn.create_stack(StackName="Back", TemplateBody=body({"Kept": topic(TopicName="kept", DisplayName="before")}))
    settled(cfn, "Back")
    cfn.update_stack(StackName="Back", TemplateBody=body({
        "Kept": topic(TopicName="kept", DisplayName="after"), "Added": topic(TopicName="added"),
        "Bad": {**BAD_TOPIC, "DependsOn": ["Kept", "Added"]}}))
    stack = settled(cfn, "Back")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    seen = events(cfn, "Back")
    statuses = [s for logical, s, _ in seen if logical == "Back"]
    assert statuses[-4:] == ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
                             "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    assert ("Back", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Bad].") in seen
    assert topics(labstack, account) == ["kept"]
    arn = f"arn:aws:sns:us-east-1:{account}:kept"
    assert labstack.client("sns", account=account).get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "before"
    assert json.loads(json.dumps(cfn.get_template(StackName="Back")["TemplateBody"]))["Resources"].keys() == {"Kept"}


def test_deletion_policy_retain_and_termination_protection(cfn: Any, labstack: LabstackProcess) -> None:
    """DeletionPolicy Retain keeps the resource (DELETE_SKIPPED,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html);
    termination protection refuses DeleteStack until it is turned off
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html)."""
    cfn.create_stack(StackName="Guarded", EnableTerminationProtection=True, TemplateBody=body({
        "Kept": {**topic(TopicName="retained"), "DeletionPolicy": "Retain"}, "Dropped": topic(TopicName="dropped")}))
    settled(cfn, "Guarded")
    with pytest.raises(cfn.exceptions.ClientError, match=r"Stack \[Guarded\] cannot be deleted while TerminationProtection is enabled"):
        cfn.delete_stack(StackName="Guarded")
    cfn.update_termination_protection(StackName="Guarded", EnableTerminationProtection=False)
    stack_id = cfn.describe_stacks(StackName="Guarded")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName="Guarded")
    wait_for(lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE")
    assert ("Kept", "DELETE_SKIPPED", None) in events(cfn, stack_id)
    assert topics(labstack, account_of(cfn)) == ["retained"]


def test_capabilities_and_unknown_types_are_refused_at_once(cfn: Any) -> None:
    """InsufficientCapabilitiesException "Requires capabilities : [CAPABILITY_IAM]" (NAMED_IAM for a named
    role), https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html; an unknown
    type is a ValidationError."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException, match=r"Requires capabilities : \[CAPABILITY_IAM\]"):
        cfn.create_stack(StackName="Caps", TemplateBody=body({"Role": role}))
    named = {**role, "Properties": {**role["Properties"], "RoleName": "named"}}
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException, match=r"\[CAPABILITY_NAMED_IAM\]"):
        cfn.create_stack(StackName="Caps", TemplateBody=body({"Role": named}), Capabilities=["CAPABILITY_IAM"])
    assert cfn.validate_template(TemplateBody=body({"Role": named}))["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    with pytest.raises(cfn.exceptions.ClientError, match=r"Unrecognized resource types: \[AWS::Made::Up\]"):
        cfn.create_stack(StackName="Caps", TemplateBody=body({"X": {"Type": "AWS::Made::Up"}}))
    assert cfn.list_stacks()["StackSummaries"] == []


def test_the_stack_acts_as_its_service_role(labstack: LabstackProcess) -> None:
    """With RoleARN CloudFormation makes the resources as that role
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html): a role that
    may not create topics fails the resource with AccessDenied; a role CloudFormation cannot assume is refused."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    arn = service_role(labstack.client("iam", account=account), "cfn-weak", ["logs:*"])
    cfn.create_stack(StackName="AsRole", RoleARN=arn, TemplateBody=body({"Alerts": topic(TopicName="alerts")}))
    assert settled(cfn, "AsRole")["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for l, s, r in events(cfn, "AsRole") if (l, s) == ("Alerts", "CREATE_FAILED"))
    assert "sns:CreateTopic" in reason and "(Service: Sns, Status Code: 403" in reason and "HandlerErrorCode: AccessDenied" in reason
    assert topics(labstack, account) == []
    with pytest.raises(cfn.exceptions.ClientError, match="is invalid or cannot be assumed"):
        cfn.create_stack(StackName="NoRole", RoleARN=f"arn:aws:iam::{account}:role/missing",
                         TemplateBody=body({"Alerts": topic()}))


@pytest.mark.slow
def test_hostile_templates_are_refused_cleanly(labstack: LabstackProcess) -> None:
    """Thousands of resources are refused as AWS refuses them (500 a template,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html); a stack that nests
    its own template stops at labstack's nesting bound and rolls every level back; labstack still answers."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    many = json.dumps({"Resources": {f"T{i}": {"Type": "AWS::CloudFormation::WaitConditionHandle"} for i in range(3000)}})
    with pytest.raises(cfn.exceptions.ClientError) as refused:
        cfn.create_stack(StackName="Many", TemplateURL=_upload(labstack, account, "many.json", many))
    assert "Number of resources, 3000, is greater than maximum allowed, 500" in str(refused.value)

    s3_url = f"https://loop-{account}.s3.amazonaws.com/loop.json"
    loop = json.dumps({"Resources": {"Again": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": s3_url}}}})
    _upload(labstack, account, "loop.json", loop, bucket=f"loop-{account}")
    cfn.create_stack(StackName="Loop", TemplateURL=s3_url)
    assert settled(cfn, "Loop")["StackStatus"] == "ROLLBACK_COMPLETE"
    everything = cfn.list_stacks()["StackSummaries"]
    assert 1 < len(everything) <= 7
    assert {s["StackStatus"] for s in everything if s["StackName"] != "Loop"} == {"DELETE_COMPLETE"}
    deepest = [r for l, s, r in _all_events(cfn, everything) if s == "CREATE_FAILED" and r and "nest at most 5" in r]
    assert deepest, "the deepest level names the bound"
    assert cfn.describe_stacks(StackName="Loop")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"


def _all_events(cfn: Any, stacks: list[dict]) -> list[tuple[str, str, str | None]]:
    return [e for s in stacks for e in events(cfn, s["StackId"])]


def _upload(server: LabstackProcess, account: str, key: str, text: str, bucket: str | None = None) -> str:
    s3 = server.client("s3", account=account)
    bucket = bucket or f"templates-{account}"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    return f"https://s3.amazonaws.com/{bucket}/{key}"


@pytest.mark.slow
def test_nested_stacks_count_against_their_root_and_a_failed_one_leaves_no_child(tmp_path: Any) -> None:
    """Each stack operation runs in threads of its own, so labstack bounds how many roots one account runs at once
    (LABSTACK_CFN_MAX_OPERATIONS) and how many nested stacks a root holds (LABSTACK_CFN_MAX_NESTED_STACKS). A nested
    stack runs under its root's admission, so a root with children is not refused at a bound of 1; a template that
    nests itself four times over stops at the nested bound, and its rollback deletes every child (none is left
    behind in ROLLBACK_COMPLETE, the attack of a failed nested stack under load)."""
    from tests.support.server import start_labstack

    server = start_labstack(tmp_path / "home", LABSTACK_CFN_MAX_OPERATIONS="1", LABSTACK_CFN_MAX_NESTED_STACKS="10")
    try:
        account = new_account()
        cfn = check_responses(server.client("cloudformation", account=account))
        url = _upload(server, account, "child.json", body({"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}))
        cfn.create_stack(StackName="Parent", TemplateBody=body({
            "Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}}))
        assert settled(cfn, "Parent")["StackStatus"] == "CREATE_COMPLETE"

        s3_url = f"https://fan-{account}.s3.amazonaws.com/fan.json"
        fan = json.dumps({"Resources": {f"N{i}": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": s3_url}}
                                        for i in range(4)}})
        _upload(server, account, "fan.json", fan, bucket=f"fan-{account}")
        cfn.create_stack(StackName="Fan", TemplateURL=s3_url)
        assert settled(cfn, "Fan", seconds=300)["StackStatus"] == "ROLLBACK_COMPLETE"
        children = [s for s in _every_stack(cfn) if s.get("RootId", "").split("/")[1:2] == ["Fan"]]
        assert children and {s["StackStatus"] for s in children} == {"DELETE_COMPLETE"}
        assert any("at most 10 nested stacks" in (r or "") for _, s, r in _all_events(cfn, children) if s == "CREATE_FAILED")

        other = check_responses(server.client("cloudformation", account=new_account()))
        other.create_stack(StackName="Fine", TemplateBody=body({"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}))
        assert settled(other, "Fine")["StackStatus"] == "CREATE_COMPLETE"
    finally:
        server.stop()


def _every_stack(cfn: Any) -> list[dict]:
    found, token = [], None
    while True:
        page = cfn.list_stacks(**({"NextToken": token} if token else {}))
        found += page["StackSummaries"]
        token = page.get("NextToken")
        if not token:
            return found


@pytest.mark.slow
def test_the_regions_stack_quota_counts_stacks_under_review(tmp_path: Any) -> None:
    """AWS's quota of stacks per Region (2,000; https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html),
    here LABSTACK_CFN_MAX_STACKS=3: a stack made by a CREATE change set (REVIEW_IN_PROGRESS) counts, the next
    CreateStack or CREATE change set is refused with LimitExceededException "Limit for stack has been exceeded" (AWS's
    words, as reported in https://github.com/aws-amplify/amplify-cli/issues/5221), and a deleted stack frees its place."""
    from tests.support.server import start_labstack

    server = start_labstack(tmp_path / "home", LABSTACK_CFN_MAX_STACKS="3")
    try:
        cfn = check_responses(server.client("cloudformation", account=new_account()))
        handle = body({"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}})
        for name in ("One", "Two"):
            cfn.create_stack(StackName=name, TemplateBody=handle)
        cfn.create_change_set(StackName="Review", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=handle)
        with pytest.raises(cfn.exceptions.LimitExceededException, match="^An error occurred .*: Limit for stack has been exceeded$"):
            cfn.create_stack(StackName="Four", TemplateBody=handle)
        with pytest.raises(cfn.exceptions.LimitExceededException):
            cfn.create_change_set(StackName="Four", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=handle)
        assert sorted(s["StackName"] for s in cfn.list_stacks()["StackSummaries"]) == ["One", "Review", "Two"]
        cfn.delete_stack(StackName="One")
        assert cfn.describe_stacks(StackName="Review")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
        wait_for(lambda: cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"])
        cfn.create_stack(StackName="Four", TemplateBody=handle)
        assert settled(cfn, "Four")["StackStatus"] == "CREATE_COMPLETE"
    finally:
        server.stop()


def test_a_service_role_needs_pass_role_and_must_be_the_stacks_accounts(labstack: LabstackProcess) -> None:
    """Naming a service role takes iam:PassRole (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html)
    on DeleteStack and ContinueUpdateRollback as on CreateStack: a user allowed only cloudformation:* cannot delete
    a stack as an administrator role; and a stack cannot act as another account's role."""
    account = new_account()
    iam = labstack.client("iam", account=account)
    admin = service_role(iam, "cfn-admin", ["*"])
    iam.create_user(UserName="weak")
    iam.put_user_policy(UserName="weak", PolicyName="cfn-only", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="weak")["AccessKey"]
    weak = check_responses(labstack.client("cloudformation", account=key["AccessKeyId"], secret=key["SecretAccessKey"]))
    cfn = check_responses(labstack.client("cloudformation", account=account))
    cfn.create_stack(StackName="Victim", TemplateBody=body({"Alerts": topic(TopicName="precious")}))
    settled(cfn, "Victim")
    for call in (lambda: weak.delete_stack(StackName="Victim", RoleARN=admin),
                 lambda: weak.continue_update_rollback(StackName="Victim", RoleARN=admin)):
        with pytest.raises(weak.exceptions.ClientError, match="iam:PassRole"):
            call()
    stack = settled(cfn, "Victim")
    assert stack["StackStatus"] == "CREATE_COMPLETE" and "RoleARN" not in stack
    assert topics(labstack, account) == ["precious"]

    other = new_account()
    foreign = service_role(labstack.client("iam", account=other), "cfn-other", ["*"])
    refused = f"Role {foreign} is invalid or cannot be assumed"
    with pytest.raises(cfn.exceptions.ClientError, match=refused):
        cfn.create_stack(StackName="Across", RoleARN=foreign, TemplateBody=body({"Planted": topic(TopicName="planted")}))
    with pytest.raises(cfn.exceptions.ClientError, match=refused):
        cfn.delete_stack(StackName="Victim", RoleARN=foreign)
    assert topics(labstack, other) == [] and settled(cfn, "Victim")["StackStatus"] == "CREATE_COMPLETE"


def test_stack_scoped_policies_allow_the_stacks_own_operations(labstack: LabstackProcess) -> None:
    """UpdateTerminationProtection, SetStackPolicy and DetectStackDrift act on a stack (resource type ``stack``,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html): a policy on
    one stack's ARN allows them there and nowhere else."""
    account = new_account()
    cfn = check_responses(labstack.client("cloudformation", account=account))
    for name in ("Mine", "Theirs"):
        cfn.create_stack(StackName=name, TemplateBody=body({"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}))
        settled(cfn, name)
    iam = labstack.client("iam", account=account)
    iam.create_user(UserName="owner")
    iam.put_user_policy(UserName="owner", PolicyName="mine", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["cloudformation:UpdateTerminationProtection", "cloudformation:SetStackPolicy",
                                       "cloudformation:DetectStackDrift"],
         "Resource": f"arn:aws:cloudformation:us-east-1:{account}:stack/Mine/*"}]}))
    key = iam.create_access_key(UserName="owner")["AccessKey"]
    owner = check_responses(labstack.client("cloudformation", account=key["AccessKeyId"], secret=key["SecretAccessKey"]))
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]})
    calls = [lambda name: owner.update_termination_protection(StackName=name, EnableTerminationProtection=True),
             lambda name: owner.set_stack_policy(StackName=name, StackPolicyBody=policy),
             lambda name: owner.detect_stack_drift(StackName=name)]
    for call in calls:
        call("Mine")
        with pytest.raises(owner.exceptions.ClientError, match="AccessDenied"):
            call("Theirs")
    assert cfn.describe_stacks(StackName="Mine")["Stacks"][0]["EnableTerminationProtection"] is True
    assert cfn.describe_stacks(StackName="Theirs")["Stacks"][0]["EnableTerminationProtection"] is False


def test_get_azs_of_a_region_outside_the_partition_is_a_template_error(cfn: Any) -> None:
    """Fn::GetAZs takes a region of the partition
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getavailabilityzones.html):
    another name fails the stack with a template error, not an internal one."""
    cfn.create_stack(StackName="Zones", TemplateBody=body({"Zone": {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Type": "String", "Value": {"Fn::Select": [0, {"Fn::GetAZs": "mars-north-1"}]}}}}))
    assert settled(cfn, "Zones")["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for l, s, r in events(cfn, "Zones") if (l, s) == ("Zone", "CREATE_FAILED"))
    assert reason == "Template error: Fn::GetAZs: mars-north-1 is not a region of partition aws"


def test_a_no_echo_value_is_masked_in_the_stack_and_its_events(cfn: Any) -> None:
    """NoEcho (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/parameters-section-structure.html):
    DescribeStacks shows the value as asterisks; labstack masks it in the events' ResourceProperties too."""
    template = json.dumps({"Parameters": {"Secret": {"Type": "String", "NoEcho": True}},
                           "Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
                               "Name": "/shop/secret", "Type": "String", "Value": {"Ref": "Secret"}}}}})
    cfn.create_stack(StackName="Quiet", TemplateBody=template,
                     Parameters=[{"ParameterKey": "Secret", "ParameterValue": "hunter2-hunter2"}])
    stack = settled(cfn, "Quiet")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Parameters"] == [{"ParameterKey": "Secret", "ParameterValue": "****"}]
    shown = [e.get("ResourceProperties", "") for e in cfn.describe_stack_events(StackName="Quiet")["StackEvents"]]
    assert any('"Value":"****"' in p for p in shown) and not any("hunter2" in p for p in shown)


def test_an_update_may_not_change_a_resources_type(cfn: Any) -> None:
    """AWS refuses an update that gives a logical id another resource type (ValidationError)."""
    cfn.create_stack(StackName="Typed", TemplateBody=body({"Thing": topic()}))
    settled(cfn, "Typed")
    with pytest.raises(cfn.exceptions.ClientError, match=r"Update of resource type is not permitted.*\[Thing\]"):
        cfn.update_stack(StackName="Typed", TemplateBody=body({"Thing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}))
    assert settled(cfn, "Typed")["StackStatus"] == "CREATE_COMPLETE"


def test_without_a_service_role_the_stack_acts_as_its_caller(labstack: LabstackProcess) -> None:
    """Without RoleARN CloudFormation uses the caller's credentials
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html): an IAM user who
    may call CloudFormation but not SNS cannot make a topic through a stack either."""
    account = new_account()
    iam = labstack.client("iam", account=account)
    iam.create_user(UserName="deployer")
    iam.put_user_policy(UserName="deployer", PolicyName="cfn-only", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    cfn = check_responses(labstack.client("cloudformation", account=key["AccessKeyId"], secret=key["SecretAccessKey"]))
    cfn.create_stack(StackName="AsCaller", TemplateBody=body({"Alerts": topic(TopicName="alerts")}))
    assert settled(cfn, "AsCaller")["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for l, s, r in events(cfn, "AsCaller") if (l, s) == ("Alerts", "CREATE_FAILED"))
    assert "deployer is not authorized to perform: sns:CreateTopic" in reason
    assert topics(labstack, account) == []


def test_update_replace_policy_retain_keeps_the_replaced_resource(cfn: Any, labstack: LabstackProcess) -> None:
    """UpdateReplacePolicy Retain keeps the old physical resource when an update replaces it
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html)."""
    def template(name: str) -> str:
        return body({"Alerts": {**topic(TopicName=name), "UpdateReplacePolicy": "Retain"}})

    cfn.create_stack(StackName="Replaced", TemplateBody=template("first"))
    settled(cfn, "Replaced")
    cfn.update_stack(StackName="Replaced", TemplateBody=template("second"))
    assert settled(cfn, "Replaced")["StackStatus"] == "UPDATE_COMPLETE"
    assert ("Alerts", "DELETE_SKIPPED", None) in events(cfn, "Replaced")
    assert topics(labstack, account_of(cfn)) == ["first", "second"]


def test_a_rollback_keeps_retained_resources_unless_retain_except_on_create(cfn: Any, labstack: LabstackProcess) -> None:
    """A rollback keeps a new resource whose DeletionPolicy is Retain; RetainExceptOnCreate deletes it too
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html, RetainExceptOnCreate)."""
    def template(name: str) -> str:
        return body({"Kept": {**topic(TopicName=name), "DeletionPolicy": "Retain"}, "Bad": {**BAD_TOPIC, "DependsOn": "Kept"}})

    cfn.create_stack(StackName="KeepOnRollback", TemplateBody=template("kept-on-rollback"))
    assert settled(cfn, "KeepOnRollback")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Kept", "DELETE_SKIPPED", None) in events(cfn, "KeepOnRollback")
    cfn.create_stack(StackName="DropOnRollback", TemplateBody=template("dropped-on-rollback"), RetainExceptOnCreate=True)
    assert settled(cfn, "DropOnRollback")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert topics(labstack, account_of(cfn)) == ["kept-on-rollback"]


def test_racing_requests_never_run_two_operations_on_one_stack(cfn: Any) -> None:
    """Requests that race: one CreateStack of a name wins (AlreadyExistsException for the rest, as AWS answers a
    name in use); racing updates run one after another or are refused, never together; racing deletes delete once."""
    import threading

    def race(call: Any, count: int) -> list[str]:
        results: list[str] = []

        def one(i: int) -> None:
            try:
                call(i)
                results.append("ok")
            except cfn.exceptions.ClientError as error:
                results.append(error.response["Error"]["Code"])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        return sorted(results)

    assert race(lambda i: cfn.create_stack(StackName="Raced", TemplateBody=body({"Alerts": topic(DisplayName="0")})), 6) == [
        "AlreadyExistsException"] * 5 + ["ok"]
    settled(cfn, "Raced")
    updates = race(lambda i: cfn.update_stack(StackName="Raced", TemplateBody=body({"Alerts": topic(DisplayName=str(i + 1))})), 4)
    assert "ok" in updates and set(updates) <= {"ok", "ValidationError"}
    settled(cfn, "Raced")
    stack_id = cfn.describe_stacks(StackName="Raced")["Stacks"][0]["StackId"]
    assert race(lambda i: cfn.delete_stack(StackName=stack_id), 4) == ["ok"] * 4
    wait_for(lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE")
    own = [status for logical, status, _ in events(cfn, stack_id) if logical == "Raced"]
    running = [s for s in own if s.endswith("_IN_PROGRESS") and "CLEANUP" not in s]
    finished = [s for s in own if s.endswith("_COMPLETE")]
    assert len(running) == len(finished) and own.count("DELETE_IN_PROGRESS") == 1
    assert all(not (a.endswith("_IN_PROGRESS") and b.endswith("_IN_PROGRESS") and "CLEANUP" not in a + b)
               for a, b in zip(own, own[1:])), own
