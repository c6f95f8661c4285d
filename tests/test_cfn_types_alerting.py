"""AWS::SNS::*, AWS::CloudWatch::Alarm and AWS::KMS::* handlers against a real labstack."""

from __future__ import annotations

import json

import pytest
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_handlers import context, of
from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for


def test_a_topic_with_subscriptions_a_subscription_and_a_topic_policy(labstack: LabstackProcess) -> None:
    """Topic: Ref the ARN, GetAtt TopicName; its Subscription list is kept in step on update; Subscription:
    Ref its ARN; TopicPolicy sets the topics' policy and gives the default back when deleted
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-topic.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-subscription.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-topicpolicy.html)."""
    account = new_account()
    sns, sqs = labstack.client("sns", account=account), labstack.client("sqs", account=account)
    ctx, topic = context(labstack, account, "Alerts"), of("AWS::SNS::Topic")
    props = {"DisplayName": "alerts", "Subscription": [{"Protocol": "email", "Endpoint": "ops@example.com"}],
             "Tags": [{"Key": "team", "Value": "ci"}]}
    made = topic.create(ctx, props)
    name = made.attributes["TopicName"]
    assert name.startswith("Shop-Alerts-") and made.physical_id == f"arn:aws:sns:us-east-1:{account}:{name}"
    subs = sns.list_subscriptions_by_topic(TopicArn=made.physical_id)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.com")]

    new = {**props, "DisplayName": "on-call", "Subscription": [{"Protocol": "email", "Endpoint": "dev@example.com"}]}
    topic.update(ctx, made.physical_id, props, new)
    subs = sns.list_subscriptions_by_topic(TopicArn=made.physical_id)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "dev@example.com")]
    live = topic.read(ctx, made.physical_id, new)
    assert live["DisplayName"] == "on-call" and live["Tags"] == [{"Key": "team", "Value": "ci"}]

    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription, sprops = of("AWS::SNS::Subscription"), {
        "TopicArn": made.physical_id, "Protocol": "sqs", "Endpoint": queue_arn, "RawMessageDelivery": "true",
        "FilterPolicy": {"kind": ["deploy"]}}
    sub = subscription.create(ctx, sprops)
    assert sub.physical_id.startswith(made.physical_id + ":") and sub.attributes["Arn"] == sub.physical_id
    sns.publish(TopicArn=made.physical_id, Message="skipped", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "build"}})
    sns.publish(TopicArn=made.physical_id, Message="shipped", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "deploy"}})
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["shipped"]  # raw delivery, filtered
    assert subscription.read(ctx, sub.physical_id, sprops)["FilterPolicy"] == {"kind": ["deploy"]}

    policy, pprops = of("AWS::SNS::TopicPolicy"), {"Topics": [made.physical_id], "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                "Action": "sns:Publish", "Resource": made.physical_id}]}}
    pmade = policy.create(ctx, pprops)
    stored = json.loads(sns.get_topic_attributes(TopicArn=made.physical_id)["Attributes"]["Policy"])
    assert stored["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    policy.delete(ctx, pmade.physical_id, pprops)
    stored = json.loads(sns.get_topic_attributes(TopicArn=made.physical_id)["Attributes"]["Policy"])
    assert stored["Id"] == "__default_policy_ID"

    subscription.delete(ctx, sub.physical_id, sprops)
    topic.delete(ctx, made.physical_id, new)
    assert topic.read(ctx, made.physical_id, new) is None
    topic.delete(ctx, made.physical_id, new)


def test_an_alarm_on_metric_math_is_made_updated_and_deleted(labstack: LabstackProcess) -> None:
    """Ref is the alarm's name, GetAtt Arn; Metrics (metric math) and TreatMissingData pass as written
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-alarm.html)."""
    account = new_account()
    cloudwatch = labstack.client("cloudwatch", account=account)
    ctx, alarm = context(labstack, account, "ErrorRate"), of("AWS::CloudWatch::Alarm")
    metric = lambda name: {"Namespace": "Shop", "MetricName": name, "Dimensions": [{"Name": "Service", "Value": "web"}]}  # noqa: E731
    props = {"ComparisonOperator": "GreaterThanThreshold", "Threshold": "10", "EvaluationPeriods": "1",
             "TreatMissingData": "notBreaching", "Metrics": [
                 {"Id": "errors", "MetricStat": {"Metric": metric("Errors"), "Period": 60, "Stat": "Sum"}, "ReturnData": False},
                 {"Id": "requests", "MetricStat": {"Metric": metric("Requests"), "Period": 60, "Stat": "Sum"},
                  "ReturnData": False},
                 {"Id": "rate", "Expression": "100 * errors / requests", "Label": "error rate", "ReturnData": True}]}
    made = alarm.create(ctx, props)
    assert made.physical_id.startswith("Shop-ErrorRate-")
    assert made.attributes["Arn"] == f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{made.physical_id}"
    stored = cloudwatch.describe_alarms(AlarmNames=[made.physical_id])["MetricAlarms"][0]
    assert [m["Id"] for m in stored["Metrics"]] == ["errors", "requests", "rate"]
    assert stored["Metrics"][2]["Expression"] == "100 * errors / requests" and stored["TreatMissingData"] == "notBreaching"
    live = alarm.read(ctx, made.physical_id, props)
    assert float(live["Threshold"]) == 10 and live["Metrics"][2]["Expression"] == "100 * errors / requests"

    new = {**props, "Threshold": 5, "AlarmDescription": "too many errors"}
    alarm.update(ctx, made.physical_id, props, new)
    stored = cloudwatch.describe_alarms(AlarmNames=[made.physical_id])["MetricAlarms"][0]
    assert (stored["Threshold"], stored["AlarmDescription"]) == (5.0, "too many errors")
    alarm.delete(ctx, made.physical_id, new)
    assert alarm.read(ctx, made.physical_id, new) is None
    alarm.delete(ctx, made.physical_id, new)


def test_a_metric_math_alarm_moves_with_its_metrics(labstack: LabstackProcess) -> None:
    """An alarm on ``100 * errors / requests`` goes to ALARM when the rate crosses its threshold (its
    AlarmActions topic told) and back to OK when it falls (metric math alarms: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create-alarm-on-metric-math-expression.html;
    a period of 60 lab seconds is a real second at the default time scale)."""
    account = new_account()
    cloudwatch = labstack.client("cloudwatch", account=account)
    ctx, alarm = context(labstack, account, "Rate"), of("AWS::CloudWatch::Alarm")
    sqs = labstack.client("sqs", account=account)
    inbox = sqs.create_queue(QueueName="pager")["QueueUrl"]
    topic = of("AWS::SNS::Topic").create(ctx, {"Subscription": [
        {"Protocol": "sqs", "Endpoint": f"arn:aws:sqs:us-east-1:{account}:pager"}]}).physical_id
    stat = lambda name: {"Metric": {"Namespace": "Shop", "MetricName": name}, "Period": 60, "Stat": "Sum"}  # noqa: E731
    made = alarm.create(ctx, {
        "ComparisonOperator": "GreaterThanThreshold", "Threshold": 10, "EvaluationPeriods": 1,
        "TreatMissingData": "ignore", "AlarmActions": [topic], "Metrics": [
            {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
            {"Id": "requests", "MetricStat": stat("Requests"), "ReturnData": False},
            {"Id": "rate", "Expression": "100 * FILL(errors, 0) / requests", "ReturnData": True}]})

    def state() -> str:
        return cloudwatch.describe_alarms(AlarmNames=[made.physical_id])["MetricAlarms"][0]["StateValue"]

    def put(errors: float, requests: float) -> None:
        cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
            {"MetricName": "Errors", "Value": errors}, {"MetricName": "Requests", "Value": requests}])

    put(5, 10)
    wait_for(lambda: state() == "ALARM")
    reason = cloudwatch.describe_alarms(AlarmNames=[made.physical_id])["MetricAlarms"][0]["StateReason"]
    assert "greater than the threshold (10)" in reason
    told = wait_for(lambda: sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1).get("Messages"))
    message = json.loads(json.loads(told[0]["Body"])["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == (made.physical_id, "ALARM")
    put(0, 1000)
    wait_for(lambda: state() == "OK")


def test_a_key_with_rotation_an_alias_resolving_to_it_and_a_scheduled_deletion(labstack: LabstackProcess) -> None:
    """Key: Ref the key id, GetAtt Arn; EnableKeyRotation; deletion is scheduled after PendingWindowInDays; a
    KeyUsage change fails the update (never a replacement that would delete the key).
    Alias: Ref the alias name; the alias resolves to the key in KMS calls; TargetKeyId updates in place
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-kms-key.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-kms-alias.html)."""
    account = new_account()
    kms = labstack.client("kms", account=account)
    ctx, key = context(labstack, account, "Key"), of("AWS::KMS::Key")
    props = {"Description": "artifacts", "EnableKeyRotation": "true", "PendingWindowInDays": 7,
             "Tags": [{"Key": "team", "Value": "ci"}]}
    first = key.create(ctx, props)
    assert first.attributes["Arn"] == f"arn:aws:kms:us-east-1:{account}:key/{first.physical_id}"
    assert kms.get_key_rotation_status(KeyId=first.physical_id)["KeyRotationEnabled"] is True
    assert key.read(ctx, first.physical_id, props)["KeyPolicy"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{account}:root"}
    second = key.create(ctx, {"Description": "other"})

    alias, aprops = of("AWS::KMS::Alias"), {"AliasName": "alias/artifacts", "TargetKeyId": first.attributes["Arn"]}
    made = alias.create(ctx, aprops)
    assert made.physical_id == "alias/artifacts"
    blob = kms.encrypt(KeyId="alias/artifacts", Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == first.attributes["Arn"]
    assert kms.describe_key(KeyId="alias/artifacts")["KeyMetadata"]["KeyId"] == first.physical_id
    assert alias.read(ctx, made.physical_id, aprops) == aprops

    moved = {**aprops, "TargetKeyId": second.physical_id}
    alias.update(ctx, made.physical_id, aprops, moved)
    assert kms.describe_key(KeyId="alias/artifacts")["KeyMetadata"]["KeyId"] == second.physical_id
    with pytest.raises(HandlerError, match="KeyUsage of an existing KMS key cannot change"):
        key.update(ctx, first.physical_id, props, {**props, "KeyUsage": "SIGN_VERIFY"})
    with pytest.raises(HandlerError, match="alias/aws/"):
        alias.create(ctx, {"AliasName": "alias/aws/s3", "TargetKeyId": first.physical_id})

    alias.delete(ctx, made.physical_id, moved)
    assert alias.read(ctx, made.physical_id, moved) is None
    key.delete(ctx, first.physical_id, props)
    described = kms.describe_key(KeyId=first.physical_id)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion" and "DeletionDate" in described
    key.delete(ctx, first.physical_id, props)  # already scheduled: success
    assert key.read(ctx, first.physical_id, props) is None
