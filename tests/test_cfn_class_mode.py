"""labstack's CloudFormation in class mode: a learner's template naming another learner's resources gets AWS's
answers (the engine's own calls, signed as the learner, are the ones kept apart), and nothing of the other
account is read or made."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cfn_stacks import events, service_role, settled
from tests.support.classmode import ClassLabstack

pytest_plugins = ["tests.support.classmode_fixtures"]


@pytest.mark.slow
def test_another_learners_parameter_role_and_topic_are_out_of_reach(classroom: ClassLabstack) -> None:
    """An ``AWS::SSM::Parameter::Value`` parameter naming another account's parameter ARN is refused as AWS refuses a
    parameter it cannot fetch (ValidationError "Unable to fetch parameters [...] from parameter store for this
    account.", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html);
    a RoleARN of another account is "invalid or cannot be assumed"; a resource naming another account's topic fails
    with AccessDenied; the other account's parameter and topic are untouched."""
    owner, thief = "learner01", "learner02"
    ssm = classroom.client("ssm", owner)
    ssm.put_parameter(Name="/secret", Value="owners-secret", Type="String")
    arn = f"arn:aws:ssm:us-east-1:{classroom.account(owner)}:parameter/secret"
    cfn: Any = classroom.client("cloudformation", thief)
    steal = {"Parameters": {"P": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": arn}},
             "Resources": {"Copy": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "P"}}}}}
    with pytest.raises(cfn.exceptions.ClientError, match=rf"ValidationError.*Unable to fetch parameters \[{arn}\] from "
                                                          r"parameter store for this account\."):
        cfn.create_stack(StackName="Steal", TemplateBody=json.dumps(steal))

    role = service_role(classroom.client("iam", owner), "cfn-admin", ["*"])
    with pytest.raises(cfn.exceptions.ClientError, match=f"Role {role} is invalid or cannot be assumed"):
        cfn.create_stack(StackName="Borrow", RoleARN=role, TemplateBody=json.dumps(
            {"Resources": {"Q": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/planted", "Type": "String",
                                                                                   "Value": "x"}}}}))

    topic = classroom.client("sns", owner).create_topic(Name="owners")["TopicArn"]
    cfn.create_stack(StackName="Reach", TemplateBody=json.dumps({"Resources": {"Sub": {
        "Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": topic, "Protocol": "email", "Endpoint": "a@b.c"}}}}))
    assert settled(cfn, "Reach")["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for l, s, r in events(cfn, "Reach") if (l, s) == ("Sub", "CREATE_FAILED"))
    assert "HandlerErrorCode: AccessDenied" in reason
    assert classroom.client("sns", owner).list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert ssm.get_parameter(Name="/secret")["Parameter"]["Value"] == "owners-secret"
    assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]] == ["Reach"]
