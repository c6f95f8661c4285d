"""Actions that wait for someone: Manual approval (SNS notification, tokens, rejection),
Invoke Lambda and custom actions through the job worker API; and the EventBridge events
executions send."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError
from labstack import daemon

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.roles import service_role
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]

HANDLER = '''
import boto3


def handler(event, context):
    job = event["CodePipeline.job"]
    pipeline = boto3.client("codepipeline")
    params = job["data"]["actionConfiguration"]["configuration"]["UserParameters"]
    if params == "fail":
        pipeline.put_job_failure_result(jobId=job["id"], failureDetails={"type": "JobFailed", "message": "told to fail"})
    else:
        pipeline.put_job_success_result(jobId=job["id"], outputVariables={"Said": params},
                                        executionDetails={"summary": "checked " + params})
'''


def approval(topic: str | None = None) -> dict:
    config = {"CustomData": "Please review staging", "ExternalEntityLink": "http://staging.example.com"}
    if topic:
        config["NotificationArn"] = topic
    return action("Review", "Approval", "Manual", config)


def error_code(call, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


def inbox(lab: PipelineLab) -> list[dict]:
    with urllib.request.urlopen(f"{lab.server.endpoint}/_labstack/inbox?account={lab.account}", timeout=10) as response:
        return json.loads(response.read())["messages"]


def waiting_token(lab: PipelineLab, name: str) -> str:
    def token() -> str | None:
        return lab.action_state(name, "Approve", "Review").get("latestExecution", {}).get("token")
    return wait_for(token)


def test_a_manual_approval_notifies_waits_and_goes_on_when_approved(lab: PipelineLab) -> None:
    sns = lab.client("sns")
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="lead@example.com")
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="bot@example.com")
    lab.source({"app.txt": "v1"})
    lab.codepipeline.create_pipeline(pipeline=lab.declaration("gated", stage("Source", s3_source(lab.sources)),
                                                               stage("Approve", approval(topic))))
    execution_id = lab.wait_for_executions("gated", 1)[0]["pipelineExecutionId"]
    token = waiting_token(lab, "gated")
    mails = wait_for(lambda: (m := inbox(lab)) and len(m) == 2 and m)
    assert mails[0]["subject"] == "APPROVAL NEEDED: AWS CodePipeline gated for action Review"
    assert "Please review staging" in mails[0]["body"] and f"/approve/{token}" in mails[0]["body"]
    sent = json.loads(json.loads(mails[1]["body"])["Message"])
    assert sent["approval"]["token"] == token and sent["approval"]["customData"] == "Please review staging"
    assert sent["approval"]["externalEntityLink"] == "http://staging.example.com"
    assert sent["approval"]["pipelineName"] == "gated" and sent["region"] == "us-east-1"
    cp = lab.codepipeline
    result = {"summary": "looks good", "status": "Approved"}
    assert error_code(cp.put_approval_result, pipelineName="gated", stageName="Approve", actionName="Review", result=result,
                      token="0" * 8 + "-0000-0000-0000-" + "0" * 12) == "InvalidApprovalTokenException"
    assert error_code(cp.put_approval_result, pipelineName="gated", stageName="Nope", actionName="Review", result=result,
                      token=token) == "StageNotFoundException"
    assert error_code(cp.put_approval_result, pipelineName="gated", stageName="Approve", actionName="Nope", result=result,
                      token=token) == "ActionNotFoundException"
    assert lab.execution("gated", execution_id)["status"] == "InProgress"
    assert "approvedAt" in cp.put_approval_result(pipelineName="gated", stageName="Approve", actionName="Review",
                                                  result=result, token=token)
    assert lab.wait("gated", execution_id)["status"] == "Succeeded"
    assert error_code(cp.put_approval_result, pipelineName="gated", stageName="Approve", actionName="Review", result=result,
                      token=token) == "ApprovalAlreadyCompletedException"
    review = lab.actions("gated", execution_id)["Review"]
    assert review["status"] == "Succeeded" and review["output"]["executionResult"]["externalExecutionSummary"] == "looks good"
    assert review["updatedBy"] == f"arn:aws:iam::{lab.account}:root"


def test_a_rejection_fails_the_execution_with_the_summary(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.codepipeline.create_pipeline(pipeline=lab.declaration("rejected", stage("Source", s3_source(lab.sources)),
                                                               stage("Approve", approval())))
    execution_id = lab.wait_for_executions("rejected", 1)[0]["pipelineExecutionId"]
    token = waiting_token(lab, "rejected")
    lab.codepipeline.put_approval_result(pipelineName="rejected", stageName="Approve", actionName="Review",
                                         result={"summary": "not this one", "status": "Rejected"}, token=token)
    done = lab.wait("rejected", execution_id)
    assert done["status"] == "Failed" and "not this one" in done["statusSummary"]
    state = lab.action_state("rejected", "Approve", "Review")["latestExecution"]
    assert state["status"] == "Failed" and state["summary"] == "not this one" and "token" not in state


def test_an_unanswered_approval_expires_after_seven_lab_days(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.server import start_labstack

    server = start_labstack(tmp_path, LABSTACK_PROVIDERS="", LABSTACK_TIME_SCALE="604800")  # a lab week per real second
    try:
        lab = PipelineLab(server)
        lab.source({"app.txt": "v1"})
        lab.codepipeline.create_pipeline(pipeline=lab.declaration("late", stage("Source", s3_source(lab.sources)),
                                                                   stage("Approve", approval())))
        execution_id = lab.wait_for_executions("late", 1)[0]["pipelineExecutionId"]
        done = lab.wait("late", execution_id, timeout=20)
        assert done["status"] == "Failed" and "expired" in lab.actions("late", execution_id)["Review"]["output"]["executionResult"]["errorDetails"]["message"]
    finally:
        server.stop()


@pytest.mark.slow
def test_a_lambda_action_gets_its_job_and_answers_it(lab: PipelineLab) -> None:
    role = service_role(lab.client("iam"), "fn", "lambda.amazonaws.com")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", HANDLER)
    lab.client("lambda").create_function(FunctionName="checker", Runtime="python3.12", Role=role, Handler="app.handler",
                                         Timeout=30, Code={"ZipFile": code.getvalue()})
    lab.source({"app.txt": "v1"})

    def invoke(name: str, params: str, namespace: str | None = None) -> dict:
        extra = {"namespace": namespace} if namespace else {}
        return action(name, "Invoke", "Lambda", {"FunctionName": "checker", "UserParameters": params}, inputs=("src",), **extra)

    lab.create("invoked", stage("Source", s3_source(lab.sources)), stage("Check", invoke("Check", "hello", "Checked")),
               stage("Use", action("Put", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": "#{Checked.Said}"},
                                   inputs=("src",))))
    done = lab.run("invoked", timeout=60)
    assert done["status"] == "Succeeded"
    runs = lab.actions("invoked", done["pipelineExecutionId"])
    assert runs["Check"]["output"]["outputVariables"] == {"Said": "hello"}
    assert runs["Check"]["output"]["executionResult"]["externalExecutionSummary"] == "checked hello"
    assert runs["Put"]["input"]["resolvedConfiguration"]["ObjectKey"] == "hello"
    job_id = runs["Check"]["output"]["executionResult"]["externalExecutionId"]
    details = lab.codepipeline.get_job_details(jobId=job_id)["jobDetails"]
    assert details["data"]["pipelineContext"]["pipelineName"] == "invoked"
    assert details["data"]["inputArtifacts"][0]["name"] == "src"
    assert error_code(lab.codepipeline.put_job_success_result, jobId=job_id) == "InvalidJobStateException"
    declaration = lab.codepipeline.get_pipeline(name="invoked")["pipeline"]
    declaration["stages"][1]["actions"][0]["configuration"]["UserParameters"] = "fail"
    lab.codepipeline.update_pipeline(pipeline=declaration)
    failed = lab.run("invoked", timeout=60)
    assert failed["status"] == "Failed"
    assert lab.actions("invoked", failed["pipelineExecutionId"])["Check"]["output"]["executionResult"]["errorDetails"] == \
        {"code": "JobFailed", "message": "told to fail"}


def test_a_custom_action_waits_for_a_worker(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    type_id = {"category": "Test", "owner": "Custom", "provider": "Scanner", "version": "1"}
    cp.create_custom_action_type(category="Test", provider="Scanner", version="1",
                                 configurationProperties=[{"name": "Level", "required": True, "key": True, "secret": False,
                                                           "queryable": True}],
                                 inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
                                 outputArtifactDetails={"minimumCount": 0, "maximumCount": 0})
    lab.source({"app.txt": "v1"})
    cp.create_pipeline(pipeline=lab.declaration("custom", stage("Source", s3_source(lab.sources)),
                                                stage("Scan", {"name": "Scan", "actionTypeId": type_id,
                                                               "configuration": {"Level": "high"}, "inputArtifacts": [{"name": "src"}]})))
    execution_id = lab.wait_for_executions("custom", 1)[0]["pipelineExecutionId"]
    assert cp.poll_for_jobs(actionTypeId=type_id, queryParam={"Level": "low"})["jobs"] == []
    jobs = wait_for(lambda: cp.poll_for_jobs(actionTypeId=type_id, maxBatchSize=5, queryParam={"Level": "high"})["jobs"])
    job = jobs[0]
    assert job["data"]["actionConfiguration"]["configuration"] == {"Level": "high"}
    assert job["data"]["inputArtifacts"][0]["location"]["s3Location"]["bucketName"] == lab.bucket
    assert error_code(cp.acknowledge_job, jobId=job["id"], nonce="wrong") == "InvalidNonceException"
    assert cp.acknowledge_job(jobId=job["id"], nonce=job["nonce"])["status"] == "InProgress"
    assert cp.poll_for_jobs(actionTypeId=type_id)["jobs"] == []
    cp.put_job_success_result(jobId=job["id"], executionDetails={"summary": "clean", "externalExecutionId": "scan-1"})
    assert lab.wait("custom", execution_id)["status"] == "Succeeded"
    scan = lab.actions("custom", execution_id)["Scan"]["output"]["executionResult"]
    assert (scan["externalExecutionSummary"], scan["externalExecutionId"]) == ("clean", "scan-1")
    assert error_code(cp.poll_for_jobs, actionTypeId={**type_id, "provider": "Other"}) == "ActionTypeNotFoundException"
    assert error_code(cp.get_job_details, jobId="0" * 8 + "-0000-0000-0000-" + "0" * 12) == "JobNotFoundException"


def test_executions_send_state_change_events(lab: PipelineLab) -> None:
    sqs = lab.client("sqs")
    queue = sqs.create_queue(QueueName="pipeline-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = lab.client("events")
    events.put_rule(Name="pipelines", EventPattern=json.dumps({"source": ["aws.codepipeline"]}))
    events.put_targets(Rule="pipelines", Targets=[{"Id": "q", "Arn": queue_arn}])
    lab.source({"app.txt": "v1"})
    lab.create("told", stage("Source", s3_source(lab.sources)),
               stage("Deploy", action("Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true"}, inputs=("src",))))
    seen: list[dict] = []

    def collected() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return any(e["detail-type"] == "CodePipeline Pipeline Execution State Change" and e["detail"]["state"] == "SUCCEEDED"
                   for e in seen)

    wait_for(collected)
    kinds = [(e["detail-type"].split()[1], e["detail"]["state"], e["detail"].get("stage"), e["detail"].get("action")) for e in seen]
    assert ("Pipeline", "STARTED", None, None) in kinds and ("Stage", "SUCCEEDED", "Deploy", None) in kinds
    assert ("Action", "SUCCEEDED", "Source", "Source") in kinds
    action_event = next(e for e in seen if e["detail"].get("action") == "Site" and e["detail"]["state"] == "SUCCEEDED")
    assert action_event["source"] == "aws.codepipeline" and action_event["resources"] == [f"arn:aws:codepipeline:us-east-1:{lab.account}:told"]
    assert action_event["detail"]["type"] == {"owner": "AWS", "category": "Deploy", "provider": "S3", "version": "1"}
    assert action_event["detail"]["input-artifacts"][0]["name"] == "src"
    assert action_event["detail"]["execution-trigger"]["trigger-type"] == "CreatePipeline"


def test_a_reset_ends_waiting_executions_and_forgets_pipelines(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.codepipeline.create_pipeline(pipeline=lab.declaration("held", stage("Source", s3_source(lab.sources)),
                                                               stage("Approve", approval())))
    waiting_token(lab, "held")

    def status() -> dict:
        with urllib.request.urlopen(f"{lab.server.endpoint}/_labstack/status", timeout=10) as response:
            return json.loads(response.read())["accounts"].get(lab.account, {})

    assert status()["executions"] == 1 and status()["resources"]["codepipeline"] == 1
    assert daemon.get_json(f"{lab.server.endpoint}/_labstack/reset", timeout=30, method="POST") == {"reset": True}
    assert error_code(lab.codepipeline.get_pipeline, name="held") == "PipelineNotFoundException"
    assert status().get("executions", 0) == 0
