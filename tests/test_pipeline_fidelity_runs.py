"""Pipeline executions as AWS documents them where labstack used to differ: an update during a run,
a Manual approval's own timeout."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def approval(name: str = "Approve", **extra: object) -> dict:
    return action(name, "Approval", "Manual", **extra)


def s3_deploy(name: str, bucket: str, key: str, **extra: object) -> dict:
    return action(name, "Deploy", "S3", {"BucketName": bucket, "Extract": "true", "ObjectKey": key}, inputs=("src",), **extra)


def error_of(call, **kwargs) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def stage_state(lab: PipelineLab, name: str, stage_name: str) -> dict:
    states = lab.codepipeline.get_pipeline_state(name=name)["stageStates"]
    return next(s for s in states if s["stageName"] == stage_name)


def token_of(lab: PipelineLab, name: str, stage_name: str, action_name: str) -> str:
    def waiting() -> str | None:
        shown = next(a for a in stage_state(lab, name, stage_name)["actionStates"] if a["actionName"] == action_name)
        return shown.get("latestExecution", {}).get("token")
    return wait_for(waiting)


def test_an_update_cancels_executions_in_progress_after_their_running_actions_finish(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-edit.html: an update lets
    running actions finish, then ends the stages and executions they ran in;
    https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecution.html and
    API_StageExecution.html name that status Cancelled ("the pipeline's definition was updated before
    the execution could be completed"), and
    https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
    the event state CANCELED. An execution waiting at a stage's boundary is cancelled too."""
    lab.source({"app.txt": "v1"})
    sqs, events = lab.client("sqs"), lab.client("events")
    queue = sqs.create_queue(QueueName="cancelled")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="cancelled", EventPattern=json.dumps({
        "source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"state": ["CANCELED"]}}))
    events.put_targets(Rule="cancelled", Targets=[{"Id": "q", "Arn": queue_arn}])
    declaration = lab.declaration("edited", stage("Source", s3_source(lab.sources)),
                                  stage("Gate", approval(), s3_deploy("Site", lab.bucket, "old", run_order=2)))
    lab.codepipeline.create_pipeline(pipeline=declaration)
    running = lab.wait_for_executions("edited", 1)[0]["pipelineExecutionId"]
    token = token_of(lab, "edited", "Gate", "Approve")
    waiting = lab.codepipeline.start_pipeline_execution(name="edited")["pipelineExecutionId"]
    wait_for(lambda: stage_state(lab, "edited", "Gate").get("inboundExecution", {}).get("pipelineExecutionId") == waiting)
    declaration["stages"][1]["actions"][1]["configuration"]["ObjectKey"] = "new"
    assert lab.codepipeline.update_pipeline(pipeline=declaration)["pipeline"]["version"] == 2

    assert lab.wait("edited", waiting)["status"] == "Cancelled"
    assert "Approve" not in lab.actions("edited", waiting)
    # the running approval goes on: it is still waiting for its answer, and takes it
    assert lab.execution("edited", running)["status"] == "InProgress"
    lab.codepipeline.put_approval_result(pipelineName="edited", stageName="Gate", actionName="Approve", token=token,
                                         result={"summary": "fine", "status": "Approved"})
    ended = lab.wait("edited", running)
    assert (ended["status"], ended["pipelineVersion"]) == ("Cancelled", 1)
    runs = lab.actions("edited", running)
    assert runs["Approve"]["status"] == "Succeeded" and "Site" not in runs
    assert stage_state(lab, "edited", "Gate")["latestExecution"] == {
        "pipelineExecutionId": running, "status": "Cancelled", "type": "STANDARD"}
    assert "old" not in {o["Key"].split("/")[0] for o in lab.s3.list_objects_v2(Bucket=lab.bucket).get("Contents", [])}
    told = set()
    for _ in range(40):
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            told.add(json.loads(message["Body"])["detail"]["execution-id"])
        if told == {running, waiting}:
            break
    assert told == {running, waiting}
    # a new execution runs the new structure to its end
    fresh = lab.codepipeline.start_pipeline_execution(name="edited")["pipelineExecutionId"]
    lab.codepipeline.put_approval_result(pipelineName="edited", stageName="Gate", actionName="Approve",
                                         token=token_of(lab, "edited", "Gate", "Approve"),
                                         result={"summary": "fine", "status": "Approved"})
    done = lab.wait("edited", fresh)
    assert (done["status"], done["pipelineVersion"]) == ("Succeeded", 2)


@pytest.mark.slow
def test_an_approval_expires_after_its_own_timeout_in_lab_minutes(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html: a Manual approval waits
    7 days unless the action sets timeoutInMinutes (5 to 86400 minutes); here 5 lab minutes, five real
    seconds at labstack's default scale."""
    lab.source({"app.txt": "v1"})
    declaration = lab.declaration("quick", stage("Source", s3_source(lab.sources)), stage("Gate", approval(timeoutInMinutes=5)))
    lab.codepipeline.create_pipeline(pipeline=declaration)
    execution = lab.wait_for_executions("quick", 1)[0]["pipelineExecutionId"]
    token_of(lab, "quick", "Gate", "Approve")
    assert lab.execution("quick", execution)["status"] == "InProgress"
    ended = lab.wait("quick", execution, timeout=60)
    assert ended["status"] == "Failed"
    expired = lab.actions("quick", execution)["Approve"]
    assert expired["status"] == "Failed"
    assert "within 5 minutes" in expired["output"]["executionResult"]["errorDetails"]["message"]


def test_timeout_in_minutes_is_checked(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionDeclaration.html:
    timeoutInMinutes is 5 to 86400 and is available only to the Manual approval action type."""
    raw = lab.client("codepipeline", validate=False)  # botocore would refuse the range before sending it
    for minutes in (4, 86401):
        bad = lab.declaration("bad", stage("Source", s3_source(lab.sources)), stage("Gate", approval(timeoutInMinutes=minutes)))
        code, message = error_of(raw.create_pipeline, pipeline=bad)
        assert code == "ValidationException" and "timeoutInMinutes" in message
    wrong = lab.declaration("wrong", stage("Source", s3_source(lab.sources)),
                            stage("Deploy", s3_deploy("Site", lab.bucket, "k", timeoutInMinutes=30)))
    code, message = error_of(lab.codepipeline.create_pipeline, pipeline=wrong)
    assert code == "InvalidActionDeclarationException" and "timeoutInMinutes" in message
    longest = lab.declaration("longest", stage("Source", s3_source(lab.sources)),
                              stage("Gate", approval(timeoutInMinutes=86400)))
    assert lab.codepipeline.create_pipeline(pipeline=longest)["pipeline"]["stages"][1]["actions"][0]["timeoutInMinutes"] == 86400
