"""AWS::Events::Rule against a real labstack: a rule made by its handler starts a pipeline as the
target's role, and only while the role allows it and the rule is enabled."""

from __future__ import annotations

from typing import Any

import pytest
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_handlers import context, of
from tests.support.codepipeline import PipelineLab, action, s3_source, stage

pytest_plugins = ["tests.support.codepipeline_fixtures"]

PATTERN = {"source": ["my.app"], "detail-type": ["release"]}


def start_role(lab: PipelineLab, logical: str, allowed: bool) -> str:
    """A role EventBridge may assume (made by the IAM handler), allowed to start pipelines or not."""
    action_name = "codepipeline:StartPipelineExecution" if allowed else "codepipeline:GetPipeline"
    return of("AWS::IAM::Role").create(context(lab.server, lab.account, logical), {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "start", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": action_name, "Resource": "*"}]}}]}).attributes["Arn"]


def executions(lab: PipelineLab, name: str) -> int:
    return len(lab.codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"])


def release(lab: PipelineLab) -> None:
    answer = lab.client("events").put_events(Entries=[{"Source": "my.app", "DetailType": "release", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 0


@pytest.mark.slow
def test_a_rule_with_a_pipeline_target_and_role_starts_the_pipeline(lab: PipelineLab) -> None:
    """Ref is the rule's name, GetAtt Arn; a target's RoleArn is the role EventBridge acts as
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-rule.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-events-rule-target.html)."""
    lab.source({"app.txt": "v1"})
    lab.create("shop", stage("Source", s3_source(lab.sources)), stage("Deploy", action(
        "Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": "site"}, inputs=("src",))))
    pipeline_arn = f"arn:aws:codepipeline:us-east-1:{lab.account}:shop"
    rule, ctx = of("AWS::Events::Rule"), context(lab.server, lab.account, "OnRelease")
    props = {"EventPattern": PATTERN, "Targets": [{"Id": "pipeline", "Arn": pipeline_arn,
                                                   "RoleArn": start_role(lab, "Starter", True)}]}
    made = rule.create(ctx, props)
    assert made.physical_id.startswith("Shop-OnRelease-")
    assert made.attributes["Arn"] == f"arn:aws:events:us-east-1:{lab.account}:rule/{made.physical_id}"
    described = lab.client("events").describe_rule(Name=made.physical_id)
    assert described["State"] == "ENABLED"

    release(lab)
    started = lab.wait_for_executions("shop", 2)[0]
    assert started["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": made.attributes["Arn"]}
    lab.wait("shop", started["pipelineExecutionId"])

    live = rule.read(ctx, made.physical_id, props)
    assert live["EventPattern"] == PATTERN and live["Targets"][0]["Arn"] == pipeline_arn

    # An update in place: a target whose role may not start pipelines replaces the old one; the
    # refused invocation goes to the target's dead-letter queue, saying why.
    sqs = lab.client("sqs")
    dlq = sqs.create_queue(QueueName="failed-starts")["QueueUrl"]
    weak = {**props, "Targets": [{"Id": "weak", "Arn": pipeline_arn, "RoleArn": start_role(lab, "Weak", False),
                                  "DeadLetterConfig": {"Arn": f"arn:aws:sqs:us-east-1:{lab.account}:failed-starts"}}],
            "State": "ENABLED"}
    rule.update(ctx, made.physical_id, props, weak)
    assert [t["Id"] for t in lab.client("events").list_targets_by_rule(Rule=made.physical_id)["Targets"]] == ["weak"]
    release(lab)
    failed = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=10, MessageAttributeNames=["All"])["Messages"][0]
    assert failed["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert executions(lab, "shop") == 2
    disabled = {**weak, "State": "DISABLED"}
    rule.update(ctx, made.physical_id, weak, disabled)
    assert lab.client("events").describe_rule(Name=made.physical_id)["State"] == "DISABLED"

    rule.delete(ctx, made.physical_id, disabled)
    assert rule.read(ctx, made.physical_id, disabled) is None
    rule.delete(ctx, made.physical_id, disabled)


def test_a_scheduled_rule_on_a_custom_bus_is_referenced_as_bus_and_name(lab: PipelineLab) -> None:
    """On a custom event bus Ref is ``EventBusName|RuleName``; a schedule instead of a pattern; a rule needs one
    of the two."""
    events: Any = lab.client("events")
    events.create_event_bus(Name="builds")
    rule, ctx = of("AWS::Events::Rule"), context(lab.server, lab.account, "Nightly")
    props = {"Name": "nightly", "EventBusName": "builds", "EventPattern": {"source": ["my.app"]}}
    made = rule.create(ctx, props)
    assert made.physical_id == "builds|nightly"
    assert made.attributes["Arn"] == f"arn:aws:events:us-east-1:{lab.account}:rule/builds/nightly"
    rule.delete(ctx, made.physical_id, props)
    assert events.list_rules(EventBusName="builds")["Rules"] == []
    nightly = rule.create(ctx, {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "DISABLED"})
    described = events.describe_rule(Name=nightly.physical_id)
    assert (described["ScheduleExpression"], described["State"]) == ("cron(0 2 * * ? *)", "DISABLED")
    with pytest.raises(HandlerError, match="EventPattern or ScheduleExpression"):
        rule.create(ctx, {"Name": "empty"})
