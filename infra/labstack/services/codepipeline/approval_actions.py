"""Manual approval: a token, a notification to the SNS topic in AWS's approval format, and
a wait for PutApprovalResult that expires after the action's ``timeoutInMinutes`` of lab time
(5 to 86400), or the account-level default of seven days."""

from __future__ import annotations

import datetime as dt
import json

from botocore.exceptions import ClientError

from labstack.services.codepipeline import acting
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed, ActionJob
from labstack.services.codepipeline.model import new_id

EXPIRY_LAB_SECONDS = 7 * 24 * 3600
TICK = 0.05


def _expiry(declaration: dict) -> tuple[int, str]:
    """Lab seconds an approval waits, and how to say it."""
    minutes = declaration.get("timeoutInMinutes")
    if minutes is None:
        return EXPIRY_LAB_SECONDS, "7 days"
    return minutes * 60, f"{minutes} minutes"


def notification(job: ActionJob, token: str, expires: dt.datetime) -> tuple[str, str]:
    """(subject, message) of the approval-needed notification: the JSON AWS publishes, with
    a readable text for email subscriptions."""
    config = job.configuration
    pipeline, stage, action = job.pipeline.name, job.run.stage, job.run.name
    console = f"https://console.aws.amazon.com/codepipeline/home?region={job.region}#/view/{pipeline}"
    review = f"{console}/{stage}/{action}/approve/{token}"
    approval = {"pipelineName": pipeline, "stageName": stage, "actionName": action, "token": token,
                "expires": expires.strftime("%Y-%m-%dT%H:%MZ"), "externalEntityLink": config.get("ExternalEntityLink"),
                "approvalReviewLink": review, "customData": config.get("CustomData")}
    body = {"region": job.region, "consoleLink": console, "approval": approval}
    lines = ["Hello,", "", "The following Approval action is waiting for your response:", "",
             "--Pipeline Details--", "", f"Pipeline name: {pipeline}", f"Stage name: {stage}", f"Action name: {action}",
             f"Region: {job.region}", "", "--Approval Details--", "", f"Approve or reject: {review}"]
    if config.get("ExternalEntityLink"):
        lines.append(f"Additional information: {config['ExternalEntityLink']}")
    if config.get("CustomData"):
        lines.append(f"Comments: {config['CustomData']}")
    lines.append(f"Deadline: This review request will expire on {expires.strftime('%Y-%m-%dT%H:%MZ')}")
    data = json.dumps(body)
    message = json.dumps({"default": data, "email-json": data, "email": "\n".join(lines)})
    return f"APPROVAL NEEDED: AWS CodePipeline {pipeline} for action {action}"[:100], message


def manual(job: ActionJob) -> dict[str, str]:
    """Wait for an answer; Approved succeeds, Rejected fails, silence expires."""
    token = new_id()
    clock = job.labstack.clock
    lab_seconds, said = _expiry(job.run.declaration)
    # when the request really expires: seven days of lab time by default (at the default scale, under three hours)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=clock.real_seconds(lab_seconds))
    job.update(token=token)
    topic = job.configuration.get("NotificationArn")
    if topic:
        subject, message = notification(job, token, expires)
        try:
            job.client("sns").publish(TopicArn=topic, Subject=subject, Message=message, MessageStructure="json")
        except ClientError as exc:
            denied = acting.refused(exc, "Amazon SNS")
            reason = denied.message if denied is not None else str(exc)
            raise ActionFailed(f"Could not publish the approval notification to {topic}: {reason}",
                               "ConfigurationError") from None
    deadline = clock.deadline(lab_seconds)
    while not job.run.answered.wait(TICK):
        if job.cancel.is_set():
            raise Abandoned()
        if deadline.expired():
            raise ActionFailed(f"The approval request expired: nobody approved or rejected it within {said}", "JobFailed")
    answer = job.run.approval or {}
    if answer.get("status") == "Approved":
        job.update(summary=answer.get("summary") or None)
        return {}
    raise ActionFailed(answer.get("summary") or "Rejected", "JobFailed")
