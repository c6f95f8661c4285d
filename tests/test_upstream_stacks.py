"""A stack's buckets, topics, queues, SSM parameters and events rules live in LocalStack when labstack runs
beside it (``--upstream``): CloudFormation makes each resource through its service's API, which labstack
routes there; labstack alone still keeps them in moto."""

from __future__ import annotations

import json
import re

import pytest
from labstack.daemon import get_json

from tests.support.cfn_stacks import outputs, settled
from tests.support.codebuild import new_account
from tests.support.localstack import LocalStack
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.localstack_fixtures"]

BUCKET = {"Type": "AWS::S3::Bucket", "Properties": {
    "VersioningConfiguration": {"Status": "Enabled"}, "Tags": [{"Key": "team", "Value": "ci"}]}}


def template(visibility: int, stage: str) -> str:
    """A bucket (named by CloudFormation), a topic with an email subscription, a queue and a parameter."""
    outputs = {"Bucket": {"Ref": "Bucket"}, "BucketArn": {"Fn::GetAtt": ["Bucket", "Arn"]},
               "BucketDomain": {"Fn::GetAtt": ["Bucket", "RegionalDomainName"]},
               "Topic": {"Ref": "Topic"}, "TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]},
               "Queue": {"Ref": "Queue"}, "QueueArn": {"Fn::GetAtt": ["Queue", "Arn"]},
               "QueueName": {"Fn::GetAtt": ["Queue", "QueueName"]},
               "Parameter": {"Ref": "Stage"}, "StageValue": {"Fn::GetAtt": ["Stage", "Value"]}}
    return json.dumps({"Resources": {
        "Bucket": BUCKET,
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": "alerts", "Subscription": [{"Protocol": "email", "Endpoint": "ops@example.com"}]}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility, "MessageRetentionPeriod": 3600}},
        "Stage": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "/shop/stage", "Type": "String", "Value": stage, "Description": "the shop's stage"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()}})


def in_moto(server: LabstackProcess, account: str) -> dict[str, int]:
    """What labstack's own moto holds in ``account``, per service (its status endpoint, never forwarded)."""
    return get_json(f"{server.endpoint}/_labstack/status")["accounts"].get(account, {}).get("resources", {})


@pytest.mark.slow
def test_a_stacks_bucket_topic_queue_and_parameter_are_made_changed_and_deleted_in_localstack(
        upstream_labstack: LabstackProcess, localstack: LocalStack) -> None:
    account = new_account()
    cloudformation = upstream_labstack.client("cloudformation", account=account)
    stack_id = cloudformation.create_stack(StackName="Shop", TemplateBody=template(45, "dev"))["StackId"]
    stack = settled(cloudformation, "Shop")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    s3, sns, sqs, ssm = (localstack.client(service, account) for service in ("s3", "sns", "sqs", "ssm"))
    out = outputs(stack)

    bucket = out["Bucket"]
    assert re.fullmatch(r"shop-bucket-[a-z0-9]+", bucket), bucket
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "ci"}]
    assert (out["BucketArn"], out["BucketDomain"]) == (f"arn:aws:s3:::{bucket}", f"{bucket}.s3.us-east-1.amazonaws.com")

    topic = f"arn:aws:sns:us-east-1:{account}:alerts"
    assert (out["Topic"], out["TopicName"]) == (topic, "alerts")
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [topic]
    assert [(s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        ("email", "ops@example.com")]

    queue = out["QueueName"]
    assert queue.startswith("Shop-Queue-") and out["QueueArn"] == f"arn:aws:sqs:us-east-1:{account}:{queue}"
    assert sqs.list_queues()["QueueUrls"] == [out["Queue"]] == [sqs.get_queue_url(QueueName=queue)["QueueUrl"]]
    attributes = sqs.get_queue_attributes(QueueUrl=out["Queue"], AttributeNames=["All"])["Attributes"]
    assert (attributes["VisibilityTimeout"], attributes["MessageRetentionPeriod"]) == ("45", "3600")

    parameter = ssm.get_parameter(Name="/shop/stage")["Parameter"]
    assert (parameter["Type"], parameter["Value"], out["Parameter"], out["StageValue"]) == ("String", "dev", "/shop/stage", "dev")
    assert [p["Description"] for p in ssm.describe_parameters()["Parameters"]] == ["the shop's stage"]
    assert in_moto(upstream_labstack, account) == {"cloudformation": 1}

    cloudformation.update_stack(StackName="Shop", TemplateBody=template(90, "prod"))
    stack = settled(cloudformation, "Shop")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    assert outputs(stack) == {**out, "StageValue": "prod"}
    assert sqs.get_queue_attributes(QueueUrl=out["Queue"], AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "90"}
    assert ssm.get_parameter(Name="/shop/stage")["Parameter"]["Value"] == "prod"

    cloudformation.delete_stack(StackName="Shop")

    def gone() -> bool:
        return (not s3.list_buckets()["Buckets"] and not sns.list_topics()["Topics"]
                and not sqs.list_queues().get("QueueUrls") and not ssm.describe_parameters()["Parameters"])

    wait_for(gone)
    deleted = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]  # moto would make its outputs' resources again
    assert deleted["StackStatus"] == "DELETE_COMPLETE" and "Outputs" not in deleted and gone()
    assert in_moto(upstream_labstack, account) == {}


@pytest.mark.slow
def test_a_stacks_events_rule_is_made_in_localstack_with_its_target(
        upstream_labstack: LabstackProcess, localstack: LocalStack) -> None:
    """CloudFormation makes each resource through its own service's API, so with LocalStack as the upstream
    an events rule lands there as EventBridge's PutRule and PutTargets would put it
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-rule.html)."""
    account = new_account()
    body = json.dumps({"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "ticks"}},
        "Tick": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "rate(5 minutes)", "Targets": [
                {"Id": "queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}},
                # LocalStack's free EventBridge refuses a pipeline target; labstack keeps it, for a stack as for a
                # learner's own PutTargets (lab 07's push rule)
                {"Id": "pipeline", "Arn": f"arn:aws:codepipeline:us-east-1:{account}:app"}]}}},
        "Outputs": {"Queue": {"Value": {"Ref": "Queue"}}, "Rule": {"Value": {"Ref": "Tick"}}}})
    cloudformation = upstream_labstack.client("cloudformation", account=account)
    cloudformation.create_stack(StackName="ticker", TemplateBody=body)
    stack = settled(cloudformation, "ticker")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    events = localstack.client("events", account)
    rule = outputs(stack)["Rule"]
    assert [(r["Name"], r["ScheduleExpression"]) for r in events.list_rules()["Rules"]] == [(rule, "rate(5 minutes)")]
    assert [t["Arn"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == [f"arn:aws:sqs:us-east-1:{account}:ticks"]
    through = upstream_labstack.client("events", account=account)  # labstack shows both, as learners see them
    assert sorted(t["Id"] for t in through.list_targets_by_rule(Rule=rule)["Targets"]) == ["pipeline", "queue"]
    assert in_moto(upstream_labstack, account) == {"cloudformation": 1}
    cloudformation.delete_stack(StackName="ticker")
    wait_for(lambda: not events.list_rules()["Rules"] and not localstack.client("sqs", account).list_queues().get("QueueUrls"))


@pytest.mark.slow
def test_an_update_whose_resource_fails_is_rolled_back_and_what_it_added_is_deleted_from_localstack(
        upstream_labstack: LabstackProcess, localstack: LocalStack) -> None:
    account = new_account()
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}}
    cloudformation = upstream_labstack.client("cloudformation", account=account)
    cloudformation.create_stack(StackName="jobs", TemplateBody=json.dumps({"Resources": {"Queue": queue}}))
    assert settled(cloudformation, "jobs")["StackStatus"] == "CREATE_COMPLETE"
    added = {"Queue": queue, "Retries": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "retries"}},
             "Bad": {"Type": "AWS::SQS::Queue", "DependsOn": "Retries", "Properties": {"QueueName": "not a queue name!"}}}
    cloudformation.update_stack(StackName="jobs", TemplateBody=json.dumps({"Resources": added}))
    stack = settled(cloudformation, "jobs")
    assert (stack["StackStatus"], stack.get("StackStatusReason")) == ("UPDATE_ROLLBACK_COMPLETE", None)
    assert "The following resource(s) failed to create: [Bad]." in [
        e.get("ResourceStatusReason") for e in cloudformation.describe_stack_events(StackName="jobs")["StackEvents"]]
    sqs = localstack.client("sqs", account)
    assert [url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]] == ["jobs"]
    assert cloudformation.get_template(StackName="jobs")["TemplateBody"] == {"Resources": {"Queue": queue}}
    cloudformation.delete_stack(StackName="jobs")
    wait_for(lambda: not sqs.list_queues().get("QueueUrls"))


def test_without_localstack_a_stacks_bucket_is_made_in_moto_as_before(labstack: LabstackProcess) -> None:
    account = new_account()
    cloudformation = labstack.client("cloudformation", account=account)
    body = json.dumps({"Resources": {"Bucket": BUCKET}, "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}}})
    cloudformation.create_stack(StackName="Shop", TemplateBody=body)
    stack = settled(cloudformation, "Shop")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    s3 = labstack.client("s3", account=account)
    bucket = outputs(stack)["Bucket"]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "ci"}]
    assert in_moto(labstack, account) == {"cloudformation": 1, "s3": 1}
    cloudformation.delete_stack(StackName="Shop")
    assert s3.list_buckets()["Buckets"] == []
