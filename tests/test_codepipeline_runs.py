"""Pipeline executions that really run: stages in order, runOrder groups in parallel, artifacts
and variables handed on, failures, retries, stops, transitions and SUPERSEDED executions."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.support.codepipeline import PipelineLab, action, build, s3_source, stage
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def s3_deploy(name: str, bucket: str, key: str, inputs: tuple = ("src",), **extra: object) -> dict:
    return action(name, "Deploy", "S3", {"BucketName": bucket, "Extract": "true", "ObjectKey": key}, inputs=inputs, **extra)


def error_code(call, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


@pytest.mark.slow
def test_stages_run_in_order_and_hand_on_artifacts_and_variables(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.project("compile", ["cp app.txt built.txt", "export IMAGE_TAG=tag-$(cat app.txt)"],
                artifacts={"files": ["built.txt"]}, env={"exported-variables": ["IMAGE_TAG"]})
    lab.project("check", ["test -f built.txt"])
    lab.create("flow",
               stage("Source", s3_source(lab.sources)),
               stage("Build", build("Compile", "compile", outputs=("built",), namespace="BuildVariables")),
               stage("Test", build("One", "check", inputs=("built",), category="Test"),
                     build("Two", "check", inputs=("built",), category="Test"),
                     build("After", "check", inputs=("built",), category="Test", run_order=2)),
               stage("Deploy", s3_deploy("Site", lab.bucket, "site/#{BuildVariables.IMAGE_TAG}/#{variables.Env}",
                                         inputs=("built",))),
               pipelineType="V2", variables=[{"name": "Env", "defaultValue": "dev"}])
    done = lab.run("flow", variables=[{"name": "Env", "value": "prod"}])
    assert done["status"] == "Succeeded" and done["trigger"]["triggerType"] == "StartPipelineExecution"
    assert done["variables"] == [{"name": "Env", "resolvedValue": "prod"}]
    assert [r["name"] for r in done["artifactRevisions"]] == ["src"]
    runs = lab.actions("flow", done["pipelineExecutionId"])
    compile_run = runs["Compile"]
    assert compile_run["output"]["outputVariables"] == {"IMAGE_TAG": "tag-v1"}
    stored = compile_run["output"]["outputArtifacts"][0]["s3location"]
    assert stored["bucket"] == lab.bucket and stored["key"].startswith("flow/built/") and len(stored["key"]) == len("flow/built/") + 7
    assert compile_run["output"]["executionResult"]["externalExecutionId"].startswith("compile:")
    assert runs["Site"]["input"]["resolvedConfiguration"]["ObjectKey"] == "site/tag-v1/prod"
    assert runs["Site"]["input"]["configuration"]["ObjectKey"] == "site/#{BuildVariables.IMAGE_TAG}/#{variables.Env}"
    assert lab.s3.get_object(Bucket=lab.bucket, Key="site/tag-v1/prod/built.txt")["Body"].read() == b"v1"
    # One and Two ran side by side; After waited for both
    assert runs["After"]["startTime"] >= max(runs["One"]["lastUpdateTime"], runs["Two"]["lastUpdateTime"])
    assert runs["Two"]["startTime"] < runs["One"]["lastUpdateTime"]
    state = lab.codepipeline.get_pipeline_state(name="flow")
    assert [s["latestExecution"]["status"] for s in state["stageStates"]] == ["Succeeded"] * 4
    assert lab.action_state("flow", "Test", "After")["latestExecution"]["actionExecutionId"] == runs["After"]["actionExecutionId"]
    succeeded_in_test = lab.codepipeline.list_pipeline_executions(pipelineName="flow", filter={"succeededInStage": {"stageName": "Test"}})
    assert next(e["pipelineExecutionId"] for e in succeeded_in_test["pipelineExecutionSummaries"]) == done["pipelineExecutionId"]


@pytest.mark.slow
def test_a_failed_action_fails_the_stage_after_its_siblings_and_a_retry_reruns_only_it(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.project("slow-ok", ["sleep 0.5", "echo fine"])
    lab.project("broken", ["exit 3"])
    lab.create("fails", stage("Source", s3_source(lab.sources)),
               stage("Test", build("Slow", "slow-ok", category="Test"), build("Broken", "broken", category="Test"),
                     build("Later", "slow-ok", category="Test", run_order=2)),
               stage("Deploy", s3_deploy("Site", lab.bucket, "site")))
    done = lab.run("fails")
    assert done["status"] == "Failed" and "Broken" in done["statusSummary"]
    runs = lab.actions("fails", done["pipelineExecutionId"])
    assert runs["Slow"]["status"] == "Succeeded" and "Later" not in runs and "Site" not in runs
    ended = lab.codepipeline.list_pipeline_executions(pipelineName="fails")["pipelineExecutionSummaries"][0]
    assert ended["lastUpdateTime"] >= runs["Slow"]["lastUpdateTime"] > runs["Broken"]["lastUpdateTime"]
    error = runs["Broken"]["output"]["executionResult"]["errorDetails"]
    assert error["code"] == "JobFailed" and "COMMAND_EXECUTION_ERROR" in error["message"] and "exit status 3" in error["message"]
    state = lab.action_state("fails", "Test", "Broken")["latestExecution"]
    assert state["status"] == "Failed" and state["errorDetails"] == error
    assert error_code(lab.codepipeline.retry_stage_execution, pipelineName="fails", stageName="Source",
                      pipelineExecutionId=done["pipelineExecutionId"], retryMode="FAILED_ACTIONS") == "StageNotRetryableException"
    lab.codebuild.update_project(name="broken", source={"type": "CODEPIPELINE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [echo fixed]\n"})
    lab.codepipeline.retry_stage_execution(pipelineName="fails", stageName="Test", pipelineExecutionId=done["pipelineExecutionId"],
                                           retryMode="FAILED_ACTIONS")
    retried = lab.wait("fails", done["pipelineExecutionId"], statuses=("Succeeded", "Failed"))
    assert retried["status"] == "Succeeded"
    details = lab.codepipeline.list_action_executions(pipelineName="fails", filter={"pipelineExecutionId": done["pipelineExecutionId"]})
    counts = {}
    for detail in details["actionExecutionDetails"]:
        counts[detail["actionName"]] = counts.get(detail["actionName"], 0) + 1
    assert counts == {"Source": 1, "Slow": 1, "Broken": 2, "Later": 1, "Site": 1}
    state = lab.codepipeline.get_pipeline_state(name="fails")["stageStates"][1]
    assert state["retryStageMetadata"] == {"manualStageRetryAttempt": 1, "latestRetryTrigger": "ManualStageRetry"}


def test_a_missing_codebuild_project_fails_the_action_clearly(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.create("ghost", stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "no-such-project")))
    done = lab.run("ghost")
    assert done["status"] == "Failed"
    message = lab.actions("ghost", done["pipelineExecutionId"])["Build"]["output"]["executionResult"]["errorDetails"]["message"]
    assert "Project cannot be found" in message and "no-such-project" in message


def test_a_disabled_transition_holds_executions_and_superseded_lets_the_newest_through(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.create("gate", stage("Source", s3_source(lab.sources)), stage("Deploy", s3_deploy("Site", lab.bucket, "site")))
    cp = lab.codepipeline
    cp.disable_stage_transition(pipelineName="gate", stageName="Deploy", transitionType="Inbound", reason="freeze")
    older = cp.start_pipeline_execution(name="gate")["pipelineExecutionId"]
    wait_for(lambda: cp.get_pipeline_state(name="gate")["stageStates"][1].get("inboundExecution"))
    deploy = cp.get_pipeline_state(name="gate")["stageStates"][1]
    assert deploy["inboundExecution"] == {"pipelineExecutionId": older, "status": "InProgress", "type": "STANDARD"}
    assert deploy["inboundTransitionState"]["enabled"] is False
    assert deploy["inboundTransitionState"]["disabledReason"] == "freeze"
    newer = cp.start_pipeline_execution(name="gate")["pipelineExecutionId"]
    assert lab.wait("gate", older)["status"] == "Superseded"
    assert lab.execution("gate", newer)["status"] == "InProgress"
    cp.enable_stage_transition(pipelineName="gate", stageName="Deploy", transitionType="Inbound")
    assert lab.wait("gate", newer)["status"] == "Succeeded"
    assert cp.get_pipeline_state(name="gate")["stageStates"][1]["inboundTransitionState"] == {"enabled": True}


def test_queued_executions_all_run_in_order(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.create("queue", stage("Source", s3_source(lab.sources)), stage("Deploy", s3_deploy("Site", lab.bucket, "site")),
               pipelineType="V2", executionMode="QUEUED")
    cp = lab.codepipeline
    cp.disable_stage_transition(pipelineName="queue", stageName="Deploy", transitionType="Inbound", reason="hold")
    first = cp.start_pipeline_execution(name="queue")["pipelineExecutionId"]
    second = cp.start_pipeline_execution(name="queue")["pipelineExecutionId"]
    wait_for(lambda: len(cp.get_pipeline_state(name="queue")["stageStates"][1].get("inboundExecutions", [])) == 2)
    cp.enable_stage_transition(pipelineName="queue", stageName="Deploy", transitionType="Inbound")
    assert lab.wait("queue", first)["status"] == "Succeeded" and lab.wait("queue", second)["status"] == "Succeeded"
    assert lab.execution("queue", first)["executionMode"] == "QUEUED"


def test_stop_lets_running_actions_finish_or_abandons_them(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.project("slow", ["sleep 1"])
    lab.create("stops", stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "slow")),
               stage("Deploy", s3_deploy("Site", lab.bucket, "site")))
    cp = lab.codepipeline
    running = cp.start_pipeline_execution(name="stops")["pipelineExecutionId"]
    wait_for(lambda: "Build" in lab.actions("stops", running))
    cp.stop_pipeline_execution(pipelineName="stops", pipelineExecutionId=running, reason="enough")
    assert lab.execution("stops", running)["status"] == "Stopping"

    def build_stage() -> dict:
        return next(s for s in cp.get_pipeline_state(name="stops")["stageStates"] if s["stageName"] == "Build")["latestExecution"]

    assert build_stage() == {"pipelineExecutionId": running, "status": "Stopping", "type": "STANDARD"}
    assert error_code(cp.stop_pipeline_execution, pipelineName="stops", pipelineExecutionId=running) == "DuplicatedStopRequestException"
    stopped = lab.wait("stops", running)
    assert stopped["status"] == "Stopped" and build_stage()["status"] == "Stopped"
    runs = lab.actions("stops", running)
    assert runs["Build"]["status"] == "Succeeded" and "Site" not in runs
    summary = cp.list_pipeline_executions(pipelineName="stops")["pipelineExecutionSummaries"][0]
    assert summary["stopTrigger"] == {"reason": "enough"}
    abandoned = cp.start_pipeline_execution(name="stops")["pipelineExecutionId"]
    wait_for(lambda: "Build" in lab.actions("stops", abandoned))
    cp.stop_pipeline_execution(pipelineName="stops", pipelineExecutionId=abandoned, abandon=True)
    assert lab.wait("stops", abandoned)["status"] == "Stopped"
    assert lab.actions("stops", abandoned)["Build"]["status"] == "Abandoned"
    assert error_code(cp.stop_pipeline_execution, pipelineName="stops",
                      pipelineExecutionId=abandoned) == "PipelineExecutionNotStoppableException"


def test_an_update_during_an_execution_cancels_it_on_its_version_and_delete_ends_it(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.project("slow", ["sleep 0.5"])
    lab.create("moving", stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "slow")))
    cp = lab.codepipeline
    running = cp.start_pipeline_execution(name="moving")["pipelineExecutionId"]
    declaration = cp.get_pipeline(name="moving")["pipeline"]
    declaration["stages"].append(stage("Deploy", s3_deploy("Site", lab.bucket, "site")))
    assert cp.update_pipeline(pipeline=declaration)["pipeline"]["version"] == 2
    done = lab.wait("moving", running)
    assert (done["status"], done["pipelineVersion"]) == ("Cancelled", 1)  # tests/test_pipeline_fidelity_runs.py
    assert "Site" not in lab.actions("moving", running)
    doomed = cp.start_pipeline_execution(name="moving")["pipelineExecutionId"]
    wait_for(lambda: "Build" in lab.actions("moving", doomed))
    cp.delete_pipeline(name="moving")
    assert error_code(cp.get_pipeline_state, name="moving") == "PipelineNotFoundException"
    lab.create("moving", stage("Source", s3_source(lab.sources)), stage("Deploy", s3_deploy("Site", lab.bucket, "site")))


def test_source_revisions_and_bad_start_requests(lab: PipelineLab) -> None:
    first = lab.source({"app.txt": "one"})
    lab.source({"app.txt": "two"})
    lab.create("pinned", stage("Source", s3_source(lab.sources)), stage("Deploy", s3_deploy("Site", lab.bucket, "pin")),
               pipelineType="V2")
    done = lab.run("pinned", sourceRevisions=[{"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": first}])
    assert done["status"] == "Succeeded" and done["artifactRevisions"][0]["revisionId"] == first
    assert lab.s3.get_object(Bucket=lab.bucket, Key="pin/app.txt")["Body"].read() == b"one"
    listed = lab.codepipeline.list_pipeline_executions(pipelineName="pinned")["pipelineExecutionSummaries"][0]
    assert listed["sourceRevisions"][0]["actionName"] == "Source" and listed["sourceRevisions"][0]["revisionId"] == first
    cp = lab.codepipeline
    assert error_code(cp.start_pipeline_execution, name="pinned", sourceRevisions=[
        {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": "abc"}]) == "ValidationException"
    assert error_code(cp.start_pipeline_execution, name="pinned", variables=[{"name": "Nope", "value": "1"}]) == "ValidationException"
    assert error_code(cp.start_pipeline_execution, name="nothing") == "PipelineNotFoundException"
    token = "same-token"
    again = cp.start_pipeline_execution(name="pinned", clientRequestToken=token)["pipelineExecutionId"]
    assert cp.start_pipeline_execution(name="pinned", clientRequestToken=token)["pipelineExecutionId"] == again
    assert error_code(cp.get_pipeline_execution, pipelineName="pinned", pipelineExecutionId="0" * 8 + "-0000-0000-0000-" + "0" * 12) \
        == "PipelineExecutionNotFoundException"


def test_artifacts_are_encrypted_with_the_stores_key(lab: PipelineLab) -> None:
    key = lab.client("kms").create_key()["KeyMetadata"]["Arn"]
    lab.source({"app.txt": "v1"})
    store = {"type": "S3", "location": lab.bucket, "encryptionKey": {"id": key, "type": "KMS"}}
    lab.create("sealed", stage("Source", s3_source(lab.sources)), stage("Deploy", s3_deploy("Site", lab.bucket, "sealed")),
               artifactStore=store)
    done = lab.run("sealed")
    stored = lab.actions("sealed", done["pipelineExecutionId"])["Source"]["output"]["outputArtifacts"][0]["s3location"]
    head = lab.s3.head_object(Bucket=stored["bucket"], Key=stored["key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
    body = lab.s3.get_object(Bucket=stored["bucket"], Key=stored["key"])["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).read("app.txt") == b"v1"


def test_rollback_stage_and_automatic_rollback_restore_an_earlier_execution(lab: PipelineLab) -> None:
    good = lab.source({"app.txt": "good"})
    deploy = {**s3_deploy("Site", lab.bucket, "live"), "name": "Site"}
    lab.create("undo", stage("Source", s3_source(lab.sources)), {**stage("Deploy", deploy), "onFailure": {"result": "ROLLBACK"}},
               pipelineType="V2")
    first = lab.wait_for_executions("undo", 1)[0]["pipelineExecutionId"]
    lab.source({"app.txt": "better"})
    assert lab.run("undo")["status"] == "Succeeded"
    cp = lab.codepipeline
    rolled = cp.rollback_stage(pipelineName="undo", stageName="Deploy", targetPipelineExecutionId=first)["pipelineExecutionId"]
    done = lab.wait("undo", rolled)
    assert (done["status"], done["executionType"], done["trigger"]["triggerType"]) == ("Succeeded", "ROLLBACK", "ManualRollback")
    assert done["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": first}
    assert done["artifactRevisions"][0]["revisionId"] == good
    assert lab.s3.get_object(Bucket=lab.bucket, Key="live/app.txt")["Body"].read() == b"good"
    assert [a["stageName"] for a in lab.actions("undo", rolled).values()] == ["Deploy"]
    lab.s3.put_object(Bucket=lab.sources, Key="source.zip", Body=b"not a zip")
    broken = lab.run("undo")
    assert broken["status"] == "Failed" and "not a zip archive" in broken["statusSummary"]
    automatic = lab.wait_for_executions("undo", 5)[0]
    assert (automatic["executionType"], automatic["trigger"]["triggerType"]) == ("ROLLBACK", "AutomatedRollback")
    assert lab.wait("undo", automatic["pipelineExecutionId"])["status"] == "Succeeded"
    assert error_code(cp.rollback_stage, pipelineName="undo", stageName="Deploy",
                      targetPipelineExecutionId=broken["pipelineExecutionId"]) == "UnableToRollbackStageException"
    assert error_code(cp.rollback_stage, pipelineName="undo", stageName="Nope", targetPipelineExecutionId=first) == "StageNotFoundException"


def test_a_stage_with_on_failure_retry_is_retried_once(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    # the project's first build fails, the next succeeds (a build's /tmp is its own: the build number tells them apart)
    lab.project("flaky", ['test "$CODEBUILD_BUILD_NUMBER" -gt 1'])
    lab.create("flaky", stage("Source", s3_source(lab.sources)),
               {**stage("Build", build("Build", "flaky")), "onFailure": {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}},
               pipelineType="V2")
    first = lab.wait_for_executions("flaky", 1)[0]
    assert lab.wait("flaky", first["pipelineExecutionId"])["status"] == "Succeeded"
    builds = [d for d in lab.codepipeline.list_action_executions(pipelineName="flaky")["actionExecutionDetails"] if d["actionName"] == "Build"]
    assert sorted(d["status"] for d in builds) == ["Failed", "Succeeded"]
    assert lab.codepipeline.get_pipeline_state(name="flaky")["stageStates"][1]["retryStageMetadata"] == \
        {"autoStageRetryAttempt": 1, "latestRetryTrigger": "AutomatedStageRetry"}
    v1 = lab.declaration("v1-conditions", stage("Source", s3_source(lab.sources)),
                         {**stage("Build", build("Build", "flaky")), "onFailure": {"result": "RETRY"}})
    assert error_code(lab.codepipeline.create_pipeline, pipeline=v1) == "ValidationException"


def test_put_action_revision_starts_the_pipeline_at_a_new_revision_only(lab: PipelineLab) -> None:
    first = lab.source({"app.txt": "one"})
    lab.source({"app.txt": "two"})
    lab.create("revised", stage("Source", s3_source(lab.sources)), stage("Deploy", s3_deploy("Site", lab.bucket, "revised")))
    cp = lab.codepipeline
    revision = {"revisionId": first, "revisionChangeId": first, "created": datetime.datetime.now(datetime.timezone.utc)}
    started = cp.put_action_revision(pipelineName="revised", stageName="Source", actionName="Source", actionRevision=revision)
    assert started["newRevision"] is True
    done = lab.wait("revised", started["pipelineExecutionId"])
    assert done["trigger"]["triggerType"] == "PutActionRevision" and done["artifactRevisions"][0]["revisionId"] == first
    again = cp.put_action_revision(pipelineName="revised", stageName="Source", actionName="Source", actionRevision=revision)
    assert again["newRevision"] is False and "pipelineExecutionId" not in again
    assert error_code(cp.put_action_revision, pipelineName="revised", stageName="Source", actionName="Nope",
                      actionRevision=revision) == "ActionNotFoundException"
