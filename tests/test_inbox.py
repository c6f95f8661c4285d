"""SNS email subscriptions deliver to a local inbox that labstack shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from tests.support.server import LabstackProcess

ACCOUNT = "753175317531"


def inbox(labstack: LabstackProcess) -> list[dict]:
    with urllib.request.urlopen(f"{labstack.endpoint}/_labstack/inbox?account={ACCOUNT}", timeout=10) as response:
        return json.loads(response.read())["messages"]


def test_email_subscribers_get_the_message_in_the_inbox(labstack: LabstackProcess) -> None:
    sns = labstack.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name="pipeline-approvals")["TopicArn"]
    plain = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="lead@example.com")["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="bot@example.com")
    attributes = sns.get_subscription_attributes(SubscriptionArn=plain)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"  # confirmed at once
    message_id = sns.publish(TopicArn=topic, Subject="Approval needed", Message="Please review staging")["MessageId"]
    received = inbox(labstack)
    assert [(m["to"], m["subject"]) for m in received] == [("lead@example.com", "Approval needed"), ("bot@example.com", "Approval needed")]
    assert received[0]["body"] == "Please review staging" and received[0]["messageId"] == message_id
    envelope = json.loads(received[1]["body"])
    assert (envelope["Type"], envelope["Message"], envelope["TopicArn"]) == ("Notification", "Please review staging", topic)


def test_the_inbox_command_lists_the_messages(labstack: LabstackProcess) -> None:
    env = dict(os.environ, LABSTACK_HOME=str(labstack.settings.home))
    result = subprocess.run([sys.executable, "-m", "labstack", "inbox", "--account", ACCOUNT], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "to lead@example.com" in result.stdout and "Subject: Approval needed" in result.stdout


def test_publishing_still_reaches_other_subscribers(labstack: LabstackProcess) -> None:
    sns, sqs = labstack.client("sns", account=ACCOUNT), labstack.client("sqs", account=ACCOUNT)
    topic = sns.create_topic(Name="fanout")["TopicArn"]
    queue = sqs.create_queue(QueueName="fanout-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="to the queue")
    body = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"][0]["Body"])
    assert body["Message"] == "to the queue"
