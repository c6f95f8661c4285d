"""Fixtures of the mutation tests of labs 04–06 (loaded through ``pytest_plugins``): two small accounts,
without builds, whose history went wrong (the solved account is :func:`tests.support.later_labs.solved_through`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grader import live
from grader.backends import LabSession
from grader.checks import lab01, lab03, lab04, lab05, lab06
from tests.support.bluegreen import zipped
from tests.support.codepipeline import DONE, action, stage
from tests.support.grading import session_for
from tests.support.later_labs import AlarmStops, HandRun
from tests.support.mutations import results
from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for


LAMBDA = "def handler(event, context):\n    return '{version}'\n"


def _finished(session: LabSession, execution_id: str) -> bool:
    return live.execution_status(session, lab04.PIPELINE, execution_id) in DONE


def small_pipeline(session: LabSession, path: str, text: str, *stages: dict[str, Any]) -> str:
    """The lab's repository with ``text`` at ``path`` on main, the lab's buckets, and the lab's pipeline
    (no builds: Source, then ``stages``) created, which starts its first execution: returned once it waits
    for an approval or is over."""
    account = session.account
    codecommit, s3 = session.client("codecommit"), session.client("s3")
    codecommit.create_repository(repositoryName=lab01.REPOSITORY)
    codecommit.put_file(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, filePath=path,
                        fileContent=text.encode(), commitMessage="First")
    for bucket in (lab01.bucket_name(account), site_bucket(session)):
        s3.create_bucket(Bucket=bucket)
    role = service_role(session.client("iam"), lab01.ROLES["codepipeline"], "codepipeline.amazonaws.com")  # IAM is enforced
    source = {"RepositoryName": lab01.REPOSITORY, "BranchName": lab01.BRANCH, "PollForSourceChanges": "false"}
    session.client("codepipeline").create_pipeline(pipeline={
        "name": lab04.PIPELINE, "pipelineType": "V2", "roleArn": role,
        "artifactStore": {"type": "S3", "location": lab01.bucket_name(account)},
        "stages": [stage("Source", action("Source", "Source", "CodeCommit", source, outputs=("SourceArtifact",))), *stages]})
    created = wait_for(lambda: live.newest_execution(session, lab04.PIPELINE))["pipelineExecutionId"]
    wait_for(lambda: live.approval_token(session, lab04.PIPELINE, created) or _finished(session, created), seconds=60)
    return str(created)


def site_bucket(session: LabSession) -> str:
    """The bucket a small pipeline's S3 deploy actions write to."""
    return f"site-{session.account}"


def s3_deploy(stage_name: str, bucket: str) -> dict[str, Any]:
    """A stage ``stage_name`` that copies the source into ``bucket``."""
    return stage(stage_name, action("Deploy", "Deploy", "S3", {"BucketName": bucket, "Extract": "true"}, inputs=("SourceArtifact",)))


APPROVAL = stage("Approval", action("ManualApproval", "Approval", "Manual"))


def approve(session: LabSession, execution_id: str) -> None:
    """Approve the request ``execution_id`` waits at, once it does; return when the execution is over."""
    token = wait_for(lambda: live.approval_token(session, lab04.PIPELINE, execution_id), seconds=60)
    session.client("codepipeline").put_approval_result(
        pipelineName=lab04.PIPELINE, stageName="Approval", actionName="ManualApproval", token=token,
        result={"status": "Approved", "summary": "Staging looks right"})
    wait_for(lambda: _finished(session, execution_id), seconds=60)


@pytest.fixture(scope="session")
def hand_run(sampleapp_labstack: LabstackProcess) -> HandRun:
    """An account with what a learner builds when they go wrong with the pipeline's history, cheaply (no
    builds): a pipeline Source → Deploy_Staging (S3) → Approval → Deploy_Production whose production bucket
    does not exist. Its first execution (CreatePipeline) is approved and fails in production; a second, started
    by hand, is stopped while it waits for the approval; a third fails at the approval, whose topic does not
    exist. Nothing was pushed, nothing rejected. Beside it: an
    approvals topic with a typo in its name and a staging service that CodeDeploy would deploy."""
    session = session_for(sampleapp_labstack)
    created = small_pipeline(session, "index.html", "<p>v1</p>", s3_deploy("Deploy_Staging", site_bucket(session)),
                             APPROVAL, s3_deploy("Deploy_Production", f"no-such-bucket-{session.account}"))
    approve(session, created)
    before_start = results(session, lab05, ("manual-release",))

    codepipeline = session.client("codepipeline")
    started = codepipeline.start_pipeline_execution(name=lab04.PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: live.approval_token(session, lab04.PIPELINE, started), seconds=60)
    codepipeline.stop_pipeline_execution(pipelineName=lab04.PIPELINE, pipelineExecutionId=started, abandon=True,
                                         reason="Not now")
    wait_for(lambda: _finished(session, started), seconds=60)
    runs = codepipeline.list_action_executions(pipelineName=lab04.PIPELINE)["actionExecutionDetails"]
    statuses = {(r["pipelineExecutionId"], r["stageName"]): r["status"] for r in runs}
    assert statuses == {(created, "Source"): "Succeeded", (created, "Deploy_Staging"): "Succeeded",
                        (created, "Approval"): "Succeeded", (created, "Deploy_Production"): "Failed",
                        (started, "Source"): "Succeeded", (started, "Deploy_Staging"): "Succeeded",
                        (started, "Approval"): "Abandoned"}, statuses

    declaration = codepipeline.get_pipeline(name=lab04.PIPELINE)["pipeline"]
    lab04.stage(declaration, "Approval")["actions"][0]["configuration"] = {
        "NotificationArn": f"arn:aws:sns:{session.region}:{session.account}:{lab05.TOPIC}"}  # no such topic
    codepipeline.update_pipeline(pipeline=declaration)
    unsent = codepipeline.start_pipeline_execution(name=lab04.PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: _finished(session, unsent), seconds=60)

    session.client("sns").create_topic(Name=lab05.TOPIC.removesuffix("s"))
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName=lab03.CLUSTER)
    definition = ecs.register_task_definition(family=lab04.STAGING_SERVICE, containerDefinitions=[
        {"name": "app", "image": "sample-app:latest", "memory": 256, "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]
    ecs.create_service(cluster=lab03.CLUSTER, serviceName=lab04.STAGING_SERVICE, desiredCount=1,
                       taskDefinition=definition["taskDefinitionArn"], deploymentController={"type": "CODE_DEPLOY"})
    return HandRun(session, before_start)


def _alarm(session: LabSession, missing_data: str) -> None:
    """Lab 06's alarm on a metric nobody sends: ``breaching`` missing data puts it in ALARM within a lab minute."""
    cloudwatch = session.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName=lab06.ALARM, Namespace=lab06.NAMESPACE, MetricName=lab06.METRIC,
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData=missing_data)
    wanted = "ALARM" if missing_data == "breaching" else "OK"
    wait_for(lambda: cloudwatch.describe_alarms(AlarmNames=[lab06.ALARM])["MetricAlarms"][0]["StateValue"] == wanted)


def _deployment(session: LabSession, deployment_id: str) -> dict[str, Any]:
    return session.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]


@pytest.fixture(scope="session")
def alarm_stops(sampleapp_labstack: LabstackProcess) -> AlarmStops:
    """Lab 06's group gone wrong, cheaply: the application and group of the lab's names on the Lambda platform
    (an alias moved by a canary; nothing to build or run). First the alarm stops a deployment while the
    group's auto-rollback leaves out DEPLOYMENT_STOP_ON_ALARM (no rollback); then, with it, the alarm stops
    another whose function was deleted during the canary, so its rollback cannot restore it and fails.
    Then the fix, cheaply: main holds v3 and a pipeline (Source → Approval → Deploy_Production to S3) ships it
    again; a revert is committed but not shipped; then shipped; then one more execution is started and stopped
    at the approval, so that the fix's production deploy is no longer the newest action execution."""
    session = session_for(sampleapp_labstack)
    lam, codedeploy = session.client("lambda"), session.client("codedeploy")
    role = service_role(session.client("iam"), lab01.ROLES["codedeploy"], "lambda.amazonaws.com", "codedeploy.amazonaws.com")
    lam.create_function(FunctionName="sample-app", Runtime="python3.12", Role=role, Handler="hook.handler",
                        Code={"ZipFile": zipped(LAMBDA.format(version="v1"))}, Publish=True)
    lam.update_function_code(FunctionName="sample-app", ZipFile=zipped(LAMBDA.format(version="v3")), Publish=True)
    lam.create_alias(FunctionName="sample-app", Name="live", FunctionVersion="1")
    codedeploy.create_application(applicationName=lab05.APPLICATION, computePlatform="Lambda")
    codedeploy.create_deployment_group(
        applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP, serviceRoleArn=role,
        deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent30Minutes",
        alarmConfiguration={"enabled": True, "alarms": [{"name": lab06.ALARM}]},
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    spec = json.dumps({"version": 0.0, "Resources": [{"app": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "sample-app", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}]})

    def deploy() -> str:
        return codedeploy.create_deployment(applicationName=lab05.APPLICATION, deploymentGroupName=lab05.DEPLOYMENT_GROUP,
                                            revision={"revisionType": "String", "string": {"content": spec}})["deploymentId"]

    _alarm(session, "breaching")
    first = deploy()
    stopped = wait_for(lambda: (d := _deployment(session, first))["status"] in ("Stopped", "Failed") and d, seconds=60)
    assert (stopped["status"], stopped["errorInformation"]["code"], stopped.get("rollbackInfo")) == ("Stopped", "ALARM_ACTIVE", None)
    without_rollback = results(session, lab06, ("v3-rolled-back", "rollback-restored"))

    codedeploy.update_deployment_group(applicationName=lab05.APPLICATION, currentDeploymentGroupName=lab05.DEPLOYMENT_GROUP,
                                       autoRollbackConfiguration={"enabled": True, "events": list(lab03.ROLLBACK_EVENTS)})
    _alarm(session, "notBreaching")
    second = deploy()
    wait_for(lambda: (lam.get_alias(FunctionName="sample-app", Name="live").get("RoutingConfig") or {})
             .get("AdditionalVersionWeights"), seconds=60)  # the canary's 10 % are on v3
    lam.delete_function(FunctionName="sample-app")
    _alarm(session, "breaching")
    stopped = wait_for(lambda: (d := _deployment(session, second))["status"] in ("Stopped", "Failed") and d, seconds=60)
    rollback = wait_for(lambda: (d := _deployment(session, stopped["rollbackInfo"]["rollbackDeploymentId"]))["status"]
                        in ("Succeeded", "Failed") and d, seconds=60)
    assert (stopped["errorInformation"]["code"], rollback["status"]) == ("ALARM_ACTIVE", "Failed"), (stopped, rollback)

    approve(session, small_pipeline(session, "app/version.py", 'VERSION = "v3"\n', APPROVAL,
                                    s3_deploy("Deploy_Production", site_bucket(session))))
    still_v3 = results(session, lab06, ("fixed-forward",))
    codecommit, codepipeline = session.client("codecommit"), session.client("codepipeline")
    head = codecommit.get_branch(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH)["branch"]["commitId"]
    codecommit.put_file(repositoryName=lab01.REPOSITORY, branchName=lab01.BRANCH, filePath="app/version.py",
                        fileContent=b'VERSION = "v2"\n', parentCommitId=head, commitMessage='Revert "Release v3"')
    fix_not_shipped = results(session, lab06, ("fixed-forward",))
    approve(session, codepipeline.start_pipeline_execution(name=lab04.PIPELINE)["pipelineExecutionId"])
    newer = codepipeline.start_pipeline_execution(name=lab04.PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: live.approval_token(session, lab04.PIPELINE, newer), seconds=60)
    codepipeline.stop_pipeline_execution(pipelineName=lab04.PIPELINE, pipelineExecutionId=newer, abandon=True, reason="Later")
    wait_for(lambda: _finished(session, newer), seconds=60)
    return AlarmStops(session, without_rollback, still_v3, fix_not_shipped)
