"""A pipeline acts as its role (LABSTACK_IAM=enforce): each permission the role lacks fails the action that
needs it, with AWS's AccessDenied sentence in its errorDetails; the role fixed, the next execution runs.
CreatePipeline refuses a role CodePipeline cannot assume; EventBridge starts a pipeline only as a role
that may. ``report`` lets the same through (and says so in the log); ``off`` decides nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.codepipeline import PipelineLab, action, build, s3_source, stage
from tests.support.roles import EVERYTHING, service_role
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]
CODEPIPELINE = "codepipeline.amazonaws.com"


def all_but(*actions: str) -> dict[str, Any]:
    """A policy allowing everything except ``actions`` (denied implicitly: no statement allows them)."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": list(actions), "Resource": "*"}]}


def pipeline_policy(lab: PipelineLab, policy: dict[str, Any]) -> None:
    """Replace the pipeline role's policy."""
    lab.client("iam").put_role_policy(RoleName="pipeline-role", PolicyName="test", PolicyDocument=json.dumps(policy))


def site(bucket: str) -> dict:
    return action("Site", "Deploy", "S3", {"BucketName": bucket, "Extract": "true", "ObjectKey": "site"}, inputs=("src",))


def error_of(lab: PipelineLab, name: str, execution_id: str, action_name: str) -> dict[str, str]:
    """The errorDetails of a failed action, as ListActionExecutions shows them (GetPipelineState agrees)."""
    run = lab.actions(name, execution_id)[action_name]
    assert run["status"] == "Failed", run
    details = run["output"]["executionResult"]["errorDetails"]
    assert lab.action_state(name, run["stageName"], action_name)["latestExecution"]["errorDetails"] == details
    return details


def denial(action_name: str, resource: str) -> str:
    """AWS's sentence for a session refused ``action_name`` on ``resource``, after its ARN."""
    return (f"is not authorized to perform: {action_name} on resource: {resource} because no identity-based policy "
            f"allows the {action_name} action")


def session_prefix(lab: PipelineLab, role: str = "pipeline-role") -> str:
    """How a denial of an action's session of ``role`` begins (the session is named for the action execution)."""
    return f"User: arn:aws:sts::{lab.account}:assumed-role/{role}/codepipeline-"


@pytest.mark.slow
def test_a_role_that_may_not_start_builds_fails_the_build_action_and_the_fixed_role_runs(lab: PipelineLab) -> None:
    pipeline_policy(lab, all_but("codebuild:StartBuild"))
    lab.source({"app.txt": "v1"})
    lab.project("compile", ["cat app.txt"])
    lab.create("builds", stage("Source", s3_source(lab.sources)), stage("Build", build("Compile", "compile")))
    first = lab.wait_for_executions("builds", 1)[0]
    assert first["status"] == "Failed"
    error = error_of(lab, "builds", first["pipelineExecutionId"], "Compile")
    project = f"arn:aws:codebuild:us-east-1:{lab.account}:project/compile"
    assert error["code"] == "JobFailed"
    assert error["message"].startswith(f"Error calling startBuild: {session_prefix(lab)}")
    assert denial("codebuild:StartBuild", project) in error["message"]
    assert lab.codebuild.list_builds_for_project(projectName="compile").get("ids", []) == []  # no build started
    assert lab.actions("builds", first["pipelineExecutionId"])["Source"]["status"] == "Succeeded"  # nothing else lost
    pipeline_policy(lab, EVERYTHING)
    assert lab.run("builds")["status"] == "Succeeded"


@pytest.mark.parametrize("missing, resource", [("s3:PutObject", "arn:aws:s3:::{bucket}/stored/src/"),
                                                ("kms:GenerateDataKey", "{key}")])
def test_a_role_that_may_not_store_artifacts_fails_the_source_action(lab: PipelineLab, missing: str, resource: str) -> None:
    key = lab.client("kms").create_key()["KeyMetadata"]["Arn"]
    pipeline_policy(lab, all_but(missing))
    lab.source({"app.txt": "v1"})
    store = {"type": "S3", "location": lab.bucket, "encryptionKey": {"id": key, "type": "KMS"}}
    lab.codepipeline.create_pipeline(pipeline={**lab.declaration("stored", stage("Source", s3_source(lab.sources)),
                                                                 stage("Deploy", site(lab.sources))), "artifactStore": store})
    first = lab.wait("stored", lab.wait_for_executions("stored", 1)[0]["pipelineExecutionId"])
    assert first["status"] == "Failed"
    error = error_of(lab, "stored", first["pipelineExecutionId"], "Source")
    assert error["message"].startswith("Insufficient permissions The provided role does not have permissions to perform "
                                       f"this action. Underlying error: {session_prefix(lab)}"), error
    assert f"is not authorized to perform: {missing} on resource: {resource.format(bucket=lab.bucket, key=key)}" in error["message"]
    assert "Deploy" not in lab.actions("stored", first["pipelineExecutionId"])  # the stage after never ran
    assert lab.s3.list_objects_v2(Bucket=lab.bucket).get("KeyCount") == 0
    pipeline_policy(lab, EVERYTHING)
    assert lab.run("stored")["status"] == "Succeeded"


def test_a_role_that_may_not_read_the_repository_or_use_the_connection_fails_the_source(lab: PipelineLab) -> None:
    lab.client("codecommit").create_repository(repositoryName="app")
    lab.client("codecommit").put_file(repositoryName="app", branchName="main", fileContent=b"v1", filePath="app.txt")
    connection = lab.client("codestar-connections").create_connection(ProviderType="GitHub",
                                                                       ConnectionName="github")["ConnectionArn"]
    repository = f"arn:aws:codecommit:us-east-1:{lab.account}:app"
    sources = {
        "codecommit:UploadArchive": (action("Source", "Source", "CodeCommit", {"RepositoryName": "app", "BranchName": "main",
                                                                             "PollForSourceChanges": "false"}, outputs=("src",)),
                                     "The service role or action role doesn't have the permissions required to access the "
                                     "AWS CodeCommit repository named app. Update the IAM role permissions, and then try "
                                     f"again. Error: {session_prefix(lab)}", repository),
        "codestar-connections:UseConnection": (
            action("Source", "Source", "CodeStarSourceConnection", {"ConnectionArn": connection, "BranchName": "main",
                                                                   "FullRepositoryId": "org/app"}, outputs=("src",)),
            f"Unable to use Connection: {connection}. The provided role does not have sufficient permissions: "
            f"{session_prefix(lab)}", connection)}
    for missing, (source, begins, resource) in sources.items():
        pipeline_policy(lab, all_but(missing))
        name = missing.split(":")[0]
        lab.create(name, stage("Source", source), stage("Deploy", site(lab.bucket)))
        message = error_of(lab, name, lab.wait_for_executions(name, 1)[0]["pipelineExecutionId"], "Source")["message"]
        assert message.startswith(begins) and denial(missing, resource) in message, message
    pipeline_policy(lab, EVERYTHING)
    assert lab.run("codecommit")["status"] == "Succeeded"


def test_create_pipeline_refuses_a_role_codepipeline_cannot_assume(lab: PipelineLab) -> None:
    iam = lab.client("iam")
    builder = service_role(iam, "only-builds", "codebuild.amazonaws.com")
    missing = f"arn:aws:iam::{lab.account}:role/nobody"
    stages = (stage("Source", s3_source(lab.sources)), stage("Deploy", site(lab.bucket)))
    for role in (builder, missing):
        with pytest.raises(ClientError) as caught:
            lab.codepipeline.create_pipeline(pipeline={**lab.declaration("refused", *stages), "roleArn": role})
        assert caught.value.response["Error"] == {"Code": "InvalidStructureException",
                                                  "Message": f"CodePipeline is not authorized to perform AssumeRole on role {role}"}
    assert lab.codepipeline.list_pipelines()["pipelines"] == []
    # An action role the pipeline role's session may not assume (it trusts CodePipeline itself, not the role).
    deployer = service_role(iam, "deployer", CODEPIPELINE)
    pipeline_policy(lab, all_but("sts:AssumeRole"))
    with pytest.raises(ClientError) as caught:
        lab.codepipeline.create_pipeline(pipeline=lab.declaration("refused", stages[0], stage("Deploy", {**site(lab.bucket),
                                                                                                         "roleArn": deployer})))
    assert caught.value.response["Error"]["Message"] == (f"Pipeline role {lab.role} is not authorized to perform AssumeRole "
                                                         f"on action role {deployer}")
    lab.create("updated", *stages)
    declaration = lab.codepipeline.get_pipeline(name="updated")["pipeline"]
    with pytest.raises(ClientError) as caught:
        lab.codepipeline.update_pipeline(pipeline={**declaration, "roleArn": builder})
    assert caught.value.response["Error"]["Code"] == "InvalidStructureException"
    assert lab.codepipeline.get_pipeline(name="updated")["pipeline"]["version"] == 1


def test_an_action_with_its_own_role_acts_as_that_role(lab: PipelineLab) -> None:
    iam = lab.client("iam")
    trusting_the_pipeline = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": lab.role}, "Action": "sts:AssumeRole"}]}
    deployer = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trusting_the_pipeline))["Role"]["Arn"]
    iam.put_role_policy(RoleName="deployer", PolicyName="test", PolicyDocument=json.dumps(all_but("s3:PutObject")))
    lab.source({"app.txt": "v1"})
    lab.create("delegated", stage("Source", s3_source(lab.sources)), stage("Deploy", {**site(lab.bucket), "roleArn": deployer}))
    first = lab.wait_for_executions("delegated", 1)[0]
    error = error_of(lab, "delegated", first["pipelineExecutionId"], "Site")
    assert error["message"].startswith(f"Insufficient permissions The provided role does not have permissions to perform this "
                                       f"action. Underlying error: {session_prefix(lab, 'deployer')}"), error
    assert f"s3:PutObject on resource: arn:aws:s3:::{lab.bucket}/site/app.txt" in error["message"]
    iam.put_role_policy(RoleName="deployer", PolicyName="test", PolicyDocument=json.dumps(EVERYTHING))
    assert lab.run("delegated")["status"] == "Succeeded"
    assert lab.s3.get_object(Bucket=lab.bucket, Key="site/app.txt")["Body"].read() == b"v1"


TOPIC = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}}}'


def test_a_stack_role_must_be_one_cloudformation_assumes_and_the_pipeline_may_pass(lab: PipelineLab) -> None:
    iam, cfn = lab.client("iam"), lab.client("cloudformation")
    stranger = service_role(iam, "not-for-stacks", "codebuild.amazonaws.com")
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName="direct", TemplateBody=TOPIC, RoleARN=stranger)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationError", f"Role {stranger} is invalid or cannot be assumed")
    assert cfn.list_stacks()["StackSummaries"] == []
    stacks = service_role(iam, "stacks", "cloudformation.amazonaws.com")
    lab.source({"template.json": TOPIC})
    deploy = action("Stack", "Deploy", "CloudFormation", {"ActionMode": "CREATE_UPDATE", "StackName": "app",
                                                            "TemplatePath": "src::template.json", "RoleArn": stacks},
                    inputs=("src",))
    pipeline_policy(lab, all_but("iam:PassRole"))
    lab.create("stacked", stage("Source", s3_source(lab.sources)), stage("Deploy", deploy))
    first = lab.wait_for_executions("stacked", 1)[0]
    message = error_of(lab, "stacked", first["pipelineExecutionId"], "Stack")["message"]
    assert message.startswith("The provided role does not have sufficient permissions to access AWS CloudFormation: "
                              f"{session_prefix(lab)}")
    assert denial("iam:PassRole", stacks) in message
    pipeline_policy(lab, EVERYTHING)
    assert lab.run("stacked")["status"] == "Succeeded"
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["RoleARN"] == stacks
    with pytest.raises(ClientError) as caught:
        cfn.delete_stack(StackName="app", RoleARN=stranger)
    assert caught.value.response["Error"]["Message"] == f"Role {stranger} is invalid or cannot be assumed"
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.slow
def test_a_role_deleted_while_its_build_runs_fails_the_action_and_labstack_goes_on(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.project("slow", ["sleep 3"])
    lab.create("doomed", stage("Source", s3_source(lab.sources)), stage("Build", build("Slow", "slow")),
               stage("Deploy", site(lab.bucket)))
    lab.wait("doomed", lab.wait_for_executions("doomed", 1)[0]["pipelineExecutionId"], timeout=60)
    started = lab.codepipeline.start_pipeline_execution(name="doomed")["pipelineExecutionId"]
    wait_for(lambda: lab.actions("doomed", started).get("Slow", {}).get("output", {}).get("executionResult", {})
             .get("externalExecutionId"), 30)
    iam = lab.client("iam")
    iam.delete_role_policy(RoleName="pipeline-role", PolicyName="test")
    iam.delete_role(RoleName="pipeline-role")
    done = lab.wait("doomed", started, timeout=60)
    assert done["status"] == "Failed"
    error = error_of(lab, "doomed", started, "Slow")
    assert error["message"].startswith(f"Error calling batchGetBuilds: {session_prefix(lab)}")
    assert "codebuild:BatchGetBuilds" in error["message"]
    assert "Site" not in lab.actions("doomed", started)
    assert lab.codepipeline.get_pipeline(name="doomed")["pipeline"]["version"] == 1  # labstack serves on
    assert len(lab.codepipeline.list_pipeline_executions(pipelineName="doomed")["pipelineExecutionSummaries"]) == 2
    # the next action execution cannot even assume the role
    next_run = lab.run("doomed", timeout=30)
    source_error = error_of(lab, "doomed", next_run["pipelineExecutionId"], "Source")
    assert source_error["message"].startswith(f"CodePipeline is not authorized to perform: sts:AssumeRole on resource: {lab.role}")


def test_a_job_workers_artifact_credentials_are_a_pipeline_role_session_that_ends_with_the_action(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    type_id = {"category": "Test", "owner": "Custom", "provider": "Scanner", "version": "1"}
    cp.create_custom_action_type(category="Test", provider="Scanner", version="1",
                                 inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
                                 outputArtifactDetails={"minimumCount": 0, "maximumCount": 0})
    pipeline_policy(lab, all_but("s3:DeleteObject"))
    lab.source({"app.txt": "v1"})
    lab.codepipeline.create_pipeline(pipeline=lab.declaration("scanned", stage("Source", s3_source(lab.sources)), stage(
        "Scan", {"name": "Scan", "actionTypeId": type_id, "inputArtifacts": [{"name": "src"}]})))
    job = wait_for(lambda: cp.poll_for_jobs(actionTypeId=type_id)["jobs"])[0]
    keys = job["data"]["artifactCredentials"]

    def worker(service: str) -> Any:
        return lab.server.client(service, account=keys["accessKeyId"], secret=keys["secretAccessKey"],
                                 token=keys["sessionToken"])

    who = worker("sts").get_caller_identity()["Arn"]
    assert who.startswith(f"arn:aws:sts::{lab.account}:assumed-role/pipeline-role/codepipeline-")
    where = job["data"]["inputArtifacts"][0]["location"]["s3Location"]
    s3 = worker("s3")
    assert s3.get_object(Bucket=where["bucketName"], Key=where["objectKey"])["ContentLength"] > 0
    with pytest.raises(ClientError) as caught:  # no more than the pipeline's role may
        s3.delete_object(Bucket=where["bucketName"], Key=where["objectKey"])
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert f"{who} is not authorized to perform: s3:DeleteObject" in caught.value.response["Error"]["Message"]
    cp.acknowledge_job(jobId=job["id"], nonce=job["nonce"])
    cp.put_job_success_result(jobId=job["id"])
    assert lab.wait("scanned", lab.wait_for_executions("scanned", 1)[0]["pipelineExecutionId"])["status"] == "Succeeded"
    with pytest.raises(ClientError) as caught:  # the session ended with the action
        s3.get_object(Bucket=where["bucketName"], Key=where["objectKey"])
    assert caught.value.response["Error"]["Code"] == "ExpiredToken"


def events_role(lab: PipelineLab, policy: dict[str, Any]) -> str:
    return service_role(lab.client("iam"), "events-role", "events.amazonaws.com", policy=policy)


def start_on_event(lab: PipelineLab, role: str, pipeline: str) -> str:
    """A rule sending my.app events to ``pipeline`` as ``role``, with a dead-letter queue; its URL."""
    sqs = lab.client("sqs")
    queue = sqs.create_queue(QueueName="undelivered")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = lab.client("events")
    events.put_rule(Name="release", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="release", Targets=[{"Id": "p", "Arn": f"arn:aws:codepipeline:us-east-1:{lab.account}:{pipeline}",
                                                 "RoleArn": role, "DeadLetterConfig": {"Arn": queue_arn}}])
    return queue


def release(lab: PipelineLab) -> None:
    entries = [{"Source": "my.app", "DetailType": "release", "Detail": "{}"}]
    assert lab.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0


def test_an_events_role_that_may_not_start_the_pipeline_starts_nothing(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.create("quiet", stage("Source", s3_source(lab.sources)), stage("Deploy", site(lab.bucket)))
    role = events_role(lab, all_but("codepipeline:StartPipelineExecution"))
    queue = start_on_event(lab, role, "quiet")
    release(lab)
    sqs = lab.client("sqs")
    received = wait_for(lambda: sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"]).get("Messages"))
    attributes = {k: v["StringValue"] for k, v in received[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == f"arn:aws:events:us-east-1:{lab.account}:rule/release"
    assert (f"arn:aws:sts::{lab.account}:assumed-role/events-role/" in attributes["ERROR_MESSAGE"]
            and "is not authorized to perform: codepipeline:StartPipelineExecution on resource: "
                f"arn:aws:codepipeline:us-east-1:{lab.account}:quiet" in attributes["ERROR_MESSAGE"])
    assert json.loads(received[0]["Body"])["source"] == "my.app"
    assert len(lab.wait_for_executions("quiet", 1)) == 1  # only the one CreatePipeline started
    failed = lab.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Events", MetricName="FailedInvocations", Dimensions=[{"Name": "RuleName", "Value": "release"}],
        StartTime="2020-01-01T00:00:00Z", EndTime="2100-01-01T00:00:00Z", Period=86400, Statistics=["Sum"])
    assert sum(p["Sum"] for p in failed["Datapoints"]) == 1
    events_role(lab, EVERYTHING)
    release(lab)
    started = lab.wait_for_executions("quiet", 2)[0]
    assert started["trigger"] == {"triggerType": "CloudWatchEvent",
                                  "triggerDetail": f"arn:aws:events:us-east-1:{lab.account}:rule/release"}



def test_report_mode_lets_the_pipeline_and_the_event_through_and_says_what_it_let_through(
        iam_report_labstack: LabstackProcess) -> None:
    lab = PipelineLab(iam_report_labstack)
    pipeline_policy(lab, all_but("s3:PutObject"))
    lab.source({"app.txt": "v1"})
    lab.create("reported", stage("Source", s3_source(lab.sources)), stage("Deploy", site(lab.bucket)))
    assert lab.wait_for_executions("reported", 1)[0]["status"] == "Succeeded"
    start_on_event(lab, events_role(lab, all_but("codepipeline:StartPipelineExecution")), "reported")
    release(lab)
    assert lab.wait_for_executions("reported", 2)[0]["trigger"]["triggerType"] == "CloudWatchEvent"
    log = Path(iam_report_labstack.settings.home, "labstack.log").read_text()
    let_through = [line for line in log.splitlines() if "LABSTACK_IAM=report let through" in line]
    assert any(f"arn:aws:sts::{lab.account}:assumed-role/pipeline-role/codepipeline-" in line and f"s3:PutObject on resource: arn:aws:s3:::{lab.bucket}/"
               in line for line in let_through)
    assert any(f"arn:aws:sts::{lab.account}:assumed-role/events-role/" in line and "codepipeline:StartPipelineExecution" in line for line in let_through)


def test_off_mode_runs_a_pipeline_whose_role_does_not_exist(tmp_path: Path) -> None:
    server = start_labstack(tmp_path, LABSTACK_PROVIDERS="", LABSTACK_IAM="off")
    try:
        lab = PipelineLab(server)
        lab.source({"app.txt": "v1"})
        lab.create("unchecked", stage("Source", s3_source(lab.sources)), stage("Deploy", site(lab.bucket)),
                   roleArn=f"arn:aws:iam::{lab.account}:role/nobody")
        assert lab.wait_for_executions("unchecked", 1)[0]["status"] == "Succeeded"
    finally:
        server.stop()
