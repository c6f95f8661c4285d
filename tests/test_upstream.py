"""labstack with ``--upstream``: a real LocalStack serves S3, IAM, SSM, Logs, Events, SNS…, and
labstack's engines and gateway use it, while the Code* services stay labstack's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from labstack.daemon import get_json
from labstack.upstream import SERVICES

from grader.backends import fresh_account
from tests.support.bluegreen import BlueGreen
from tests.support.codebuild import (
    ENVIRONMENT,
    Lab,
    buildspec,
    log_lines,
    new_account,
    phases,
)
from tests.support.codepipeline import PipelineLab, action, stage, zipped
from tests.support.localstack import LocalStack, start_localstack
from tests.support.server import LabstackProcess, offline_builds, start_labstack
from tests.support.waiting import wait_for
from tests.support.webapp import fetch

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.localstack_fixtures"]


def test_the_gateway_forwards_s3_iam_and_sts_to_localstack_in_the_same_account(
        upstream_labstack: LabstackProcess, localstack: LocalStack) -> None:
    account = new_account()
    s3 = upstream_labstack.client("s3", account=account)
    s3.create_bucket(Bucket=f"kept-{account}")
    s3.put_object(Bucket=f"kept-{account}", Key="dir/a file.txt", Body=b"through labstack")
    upstream_labstack.client("iam", account=account).create_role(RoleName="app-role", AssumeRolePolicyDocument="{}")
    direct = localstack.client("s3", account)
    assert direct.get_object(Bucket=f"kept-{account}", Key="dir/a file.txt")["Body"].read() == b"through labstack"
    assert localstack.client("iam", account).get_role(RoleName="app-role")["Role"]["Arn"] == f"arn:aws:iam::{account}:role/app-role"
    assert upstream_labstack.client("sts", account=account).get_caller_identity()["Account"] == account
    health = get_json(f"{upstream_labstack.endpoint}/_localstack/health")
    assert health["upstream"] == {"url": localstack.endpoint, "services": sorted(SERVICES)}
    # A key that names no account (``test``) is LocalStack's default account on both sides.
    upstream_labstack.client("s3").create_bucket(Bucket=f"default-{account}")
    assert f"default-{account}" in [b["Name"] for b in localstack.client("s3", "000000000000").list_buckets()["Buckets"]]
    assert upstream_labstack.client("codecommit").create_repository(repositoryName=f"r{account}")[
        "repositoryMetadata"]["accountId"] == "000000000000"


def test_a_build_reads_its_source_and_parameter_and_writes_artifacts_and_logs_in_localstack(
        upstream_labstack: LabstackProcess, localstack: LocalStack) -> None:
    lab = Lab(upstream_labstack)
    s3, ssm = localstack.client("s3", lab.account), localstack.client("ssm", lab.account)
    for bucket in ("sources", "outputs"):
        s3.create_bucket(Bucket=f"{bucket}-{lab.account}")
    spec = buildspec({"build": {"commands": ["cat app/hello.txt", "test \"$GREETING\" = bonjour && echo parameter-read", "mkdir out", "echo built > out/result.txt"]}},
                     env={"parameter-store": {"GREETING": "/app/greeting"}}, artifacts={"files": ["out/result.txt"]})
    s3.put_object(Bucket=f"sources-{lab.account}", Key="app.zip", Body=zipped({"buildspec.yml": spec, "app/hello.txt": "hello from localstack"}))
    ssm.put_parameter(Name="/app/greeting", Value="bonjour", Type="String")
    lab.codebuild.create_project(name="upstream", source={"type": "S3", "location": f"sources-{lab.account}/app.zip"},
                                 artifacts={"type": "S3", "location": f"outputs-{lab.account}", "packaging": "NONE"},
                                 environment=ENVIRONMENT, serviceRole=lab.role)
    build = lab.run("upstream", timeout=60)
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    lines = log_lines(localstack.client("logs", lab.account), build)
    assert "hello from localstack" in lines and "parameter-read" in lines
    found = s3.get_object(Bucket=f"outputs-{lab.account}", Key="upstream/out/result.txt")["Body"].read()
    assert found == b"built\n"


def test_a_rule_in_localstack_targeting_a_pipeline_starts_it_on_a_push(upstream_labstack: LabstackProcess) -> None:
    lab = PipelineLab(upstream_labstack)
    codecommit = lab.client("codecommit")
    codecommit.create_repository(repositoryName="app")
    first = codecommit.put_file(repositoryName="app", branchName="main", fileContent=b"v1", filePath="app.txt")["commitId"]
    source = action("Source", "Source", "CodeCommit", {"RepositoryName": "app", "BranchName": "main", "PollForSourceChanges": "false"},
                    outputs=("src",))
    deploy = action("Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": "site"}, inputs=("src",))
    lab.create("quiet", stage("Source", source), stage("Deploy", deploy))
    events = lab.client("events")
    events.put_rule(Name="on-push", EventPattern=json.dumps({"source": ["aws.codecommit"], "detail": {"referenceName": ["main"]}}))
    events.put_targets(Rule="on-push", Targets=[{"Id": "p", "Arn": f"arn:aws:codepipeline:us-east-1:{lab.account}:quiet",
                                                 "RoleArn": lab.role}])
    second = codecommit.put_file(repositoryName="app", branchName="main", fileContent=b"v2", filePath="app.txt",
                                 parentCommitId=first)["commitId"]
    started = lab.wait_for_revision("quiet", second)
    assert started["trigger"] == {"triggerType": "CloudWatchEvent",
                                  "triggerDetail": f"arn:aws:events:us-east-1:{lab.account}:rule/on-push"}
    done = lab.wait("quiet", started["pipelineExecutionId"])
    assert done["status"] == "Succeeded" and done["artifactRevisions"][0]["revisionId"] == second
    assert lab.s3.get_object(Bucket=lab.bucket, Key="site/app.txt")["Body"].read() == b"v2"
    # A custom event put through the gateway reaches the pipeline too.
    events.put_rule(Name="custom", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="custom", Targets=[{"Id": "p", "Arn": f"arn:aws:codepipeline:us-east-1:{lab.account}:quiet",
                                                "RoleArn": lab.role}])
    assert events.put_events(Entries=[{"Source": "my.app", "DetailType": "release", "Detail": "{}"}])["FailedEntryCount"] == 0
    assert lab.wait_for_executions("quiet", 3)[0]["trigger"]["triggerDetail"].endswith(":rule/custom")


def test_the_inbox_lists_what_localstack_sent_to_email_subscribers(upstream_labstack: LabstackProcess) -> None:
    account = new_account()
    sns = upstream_labstack.client("sns", account=account)
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=f"lead-{account}@example.com")
    sns.publish(TopicArn=topic, Subject="Approve release", Message="please approve")
    mine = wait_for(lambda: [m for m in get_json(f"{upstream_labstack.endpoint}/_labstack/inbox?account={account}")["messages"]
                               if m["to"] == f"lead-{account}@example.com"], 10)
    assert (mine[0]["topicArn"], mine[0]["subject"], mine[0]["account"]) == (topic, "Approve release", account)
    assert json.loads(mine[0]["body"])["Message"] == "please approve"


def test_with_localstack_down_mid_lab_clients_get_a_503_and_labstack_goes_on(tmp_path: Path) -> None:
    (tmp_path / "localstack").mkdir()
    localstack = start_localstack(tmp_path / "localstack")
    server = start_labstack(tmp_path / "labstack", LABSTACK_PROVIDERS="", LABSTACK_UPSTREAM=localstack.endpoint)
    try:
        lab = Lab(server)
        lab.client("s3").create_bucket(Bucket=f"before-{lab.account}")
        lab.codebuild.create_project(name="needs-logs", source={"type": "NO_SOURCE", "buildspec": buildspec({"build": {"commands": ["true"]}})},
                                     artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT, serviceRole=lab.role)
        assert lab.run("needs-logs")["buildStatus"] == "SUCCEEDED"
        localstack.stop()
        pipeline = f"arn:aws:codepipeline:us-east-1:{lab.account}:p"  # the overlay in front of LocalStack asks it too
        for call in (lambda: lab.client("s3").list_buckets(), lambda: lab.client("sqs").list_queues(),
                     lambda: lab.client("ssm").get_parameter(Name="/x"), lambda: lab.client("events").list_rules(),
                     lambda: lab.client("events").put_targets(Rule="r", Targets=[{"Id": "p", "Arn": pipeline}])):
            with pytest.raises(ClientError) as caught:
                call()
            error = caught.value.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert error["Error"]["Code"] == "ServiceUnavailable"
            assert error["Error"]["Message"].startswith(f"LocalStack at {localstack.endpoint}, which serves ")
        # labstack's own services still answer at once, and a build fails saying why.
        started = time.monotonic()
        assert lab.codebuild.list_projects()["projects"] == ["needs-logs"]
        assert server.client("codecommit").list_repositories()["repositories"] == []
        assert time.monotonic() - started < 5
        build = lab.run("needs-logs")
        context = phases(build)["PROVISIONING"]["contexts"][0]
        assert build["buildStatus"] == "FAILED" and context["statusCode"] == "CLIENT_ERROR"
        assert "cannot write the build log to CloudWatch Logs" in context["message"]
    finally:
        server.stop()
        localstack.stop()


def test_labstacks_metric_math_alarm_stops_a_blue_green_deployment_and_tells_a_topic_in_localstack(
        upstream_labstack: LabstackProcess, localstack: LocalStack, tmp_path: Path) -> None:
    """CloudWatch stays labstack's beside LocalStack, whose free CloudWatch evaluates only single-metric
    alarms: an error-rate alarm with metric math
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create-alarm-on-metric-math-expression.html)
    on the ELB runtime's metrics fires on labstack's lab clock, CodeDeploy stops v3 on it, and the alarm's
    action is published to its SNS topic, which lives in LocalStack (an SQS queue there receives it)."""
    account = new_account()
    bg = BlueGreen(upstream_labstack, account, tmp_path)
    before = bg.serving().pop()
    balancer = bg.balancer["LoadBalancerArn"].split(":loadbalancer/")[1]
    sns, sqs = localstack.client("sns", account), localstack.client("sqs", account)
    topic = sns.create_topic(Name="bg-alarms")["TopicArn"]
    queue = sqs.create_queue(QueueName="bg-alarm-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    def metric(query_id: str, name: str) -> dict:
        return {"Id": query_id, "ReturnData": False, "MetricStat": {"Stat": "Sum", "Period": 60, "Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": name,
            "Dimensions": [{"Name": "LoadBalancer", "Value": balancer}]}}}

    bg.cw.put_metric_alarm(AlarmName="bg-error-rate", EvaluationPeriods=1, Threshold=10,
                           ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                           AlarmActions=[topic], Metrics=[
                               metric("errors", "HTTPCode_Target_5XX_Count"), metric("requests", "RequestCount"),
                               {"Id": "rate", "Expression": "100 * errors / requests", "Label": "5xx %"}])
    assert localstack.client("cloudwatch", account).describe_alarms()["MetricAlarms"] == []  # labstack's alone
    bg.group("CodeDeployDefault.ECSCanary10Percent15Minutes", termination_minutes=5, alarms=["bg-error-rate"])
    deployment = bg.deploy("v3")  # half its answers are 500s
    wait_for(lambda: len(bg.weights()) == 2, seconds=30)

    def fired() -> bool:
        fetch(bg.prod_url)
        return bg.cw.describe_alarms(AlarmNames=["bg-error-rate"])["MetricAlarms"][0]["StateValue"] == "ALARM"

    wait_for(fired, seconds=60, interval=0)
    info = bg.finish(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert bg.finish(info["rollbackInfo"]["rollbackDeploymentId"])["status"] == "Succeeded"
    bg.settle()
    assert bg.serving(requests=20) == {before}
    seen: list[dict] = []

    def alarm_message() -> dict | None:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
        return next((m for m in seen if m["NewStateValue"] == "ALARM"), None)

    assert wait_for(alarm_message)["AlarmName"] == "bg-error-rate"


def test_a_stacks_roles_and_log_groups_live_in_localstack_and_lambda_finds_the_role_there(
        upstream_labstack: LabstackProcess, localstack: LocalStack) -> None:
    account = new_account()
    template = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "fn-role", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}}]}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/app/fn", "RetentionInDays": 7}}},
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}, "Group": {"Value": {"Ref": "Logs"}}}}
    cloudformation = upstream_labstack.client("cloudformation", account=account)
    cloudformation.create_stack(StackName="fn", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = wait_for(lambda: (s := cloudformation.describe_stacks(StackName="fn")["Stacks"][0])["StackStatus"] != "CREATE_IN_PROGRESS" and s)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"RoleArn": f"arn:aws:iam::{account}:role/fn-role", "Group": "/app/fn"}
    iam, logs = localstack.client("iam", account), localstack.client("logs", account)
    assert iam.list_role_policies(RoleName="fn-role")["PolicyNames"] == ["logs"]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="fn-role")["AttachedPolicies"]] == [
        "AWSLambdaBasicExecutionRole"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in logs.describe_log_groups()["logGroups"]] == [("/app/fn", 7)]
    code = {"ZipFile": zipped({"fn.py": "def handler(event, context):\n    return event\n"})}
    lam = upstream_labstack.client("lambda", account=account)
    lam.create_function(FunctionName="fn", Runtime="python3.12", Role=outputs["RoleArn"], Handler="fn.handler", Code=code)
    with pytest.raises(ClientError, match="cannot be assumed by Lambda"):
        lam.create_function(FunctionName="other", Runtime="python3.12", Role=f"arn:aws:iam::{account}:role/nowhere",
                            Handler="fn.handler", Code=code)
    cloudformation.delete_stack(StackName="fn")
    wait_for(lambda: not iam.list_roles()["Roles"] and not logs.describe_log_groups()["logGroups"])


def test_grader_solve_stopped_by_localstack_going_down_says_so_in_a_line_and_a_rerun_finishes(tmp_path: Path) -> None:
    """LocalStack stops while `grader solve 2` runs lab 02: one line says to start it and run again; the
    rerun, on a LocalStack that starts empty, rebuilds lab 01 over what labstack kept and finishes lab 02."""
    localstack = start_localstack(tmp_path / "localstack")
    port = int(localstack.endpoint.rsplit(":", 1)[1])
    server = start_labstack(tmp_path / "labstack", LABSTACK_PROVIDERS="", LABSTACK_UPSTREAM=localstack.endpoint,
                            **offline_builds())
    env = dict(os.environ, LAB_BACKEND="localstack", LOCALSTACK_ENDPOINT=localstack.endpoint,
               LABSTACK_ENDPOINT=server.endpoint, PYTHONUNBUFFERED="1")
    solve = [sys.executable, "-m", "grader.cli", "solve", "2", "--account", fresh_account()]
    try:
        first = subprocess.Popen(solve, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert first.stdout is not None
        for line in first.stdout:  # lab 01 is built, lab 02's solution starts
            if line.startswith("✓ lab 01 built"):
                break
        time.sleep(2)
        localstack.stop()
        _, err = first.communicate(timeout=400)
        assert first.returncode == 2, err
        assert err == (f"✗ LocalStack does not answer at {localstack.endpoint}: start it with `labstack localstack up "
                       f"--port {port}` (or `make lab BACKEND=localstack`), then run this again\n"
                       "  then `grader solve 2` picks up where this run stopped\n")
        localstack = start_localstack(tmp_path / "localstack", port=port)
        again = subprocess.run(solve, check=False, env=env, capture_output=True, text=True, timeout=400)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "… building lab 01 from its solution" in again.stdout and "✗" not in again.stdout
    finally:
        server.stop()
        localstack.stop()
