"""CodeBuild builds: a buildspec really runs, phase by phase, as AWS records it."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import Lab, buildspec, marked_sleep, phases, running, wait_build

ALL_PHASES = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD",
              "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]

pytest_plugins = ["tests.support.codebuild_fixtures"]


def test_a_trivial_build_succeeds_with_every_phase_recorded(lab: Lab) -> None:
    lab.project("hello", buildspec({"build": {"commands": ["echo hi"]}}))
    started = lab.codebuild.start_build(projectName="hello")["build"]
    assert started["buildStatus"] == "IN_PROGRESS" and started["buildComplete"] is False
    assert started["id"].startswith("hello:") and started["buildNumber"] == 1
    build = wait_build(lab.codebuild, started["id"])
    assert build["buildStatus"] == "SUCCEEDED" and build["currentPhase"] == "COMPLETED"
    assert [p["phaseType"] for p in build["phases"]] == ALL_PHASES
    for phase in build["phases"][:-1]:
        assert phase["phaseStatus"] == "SUCCEEDED" and phase["durationInSeconds"] >= 0
        assert phase["endTime"] >= phase["startTime"]
    assert "contexts" not in phases(build)["SUBMITTED"]
    assert phases(build)["BUILD"]["contexts"] == [{"statusCode": "", "message": ""}]
    assert set(phases(build)["COMPLETED"]) == {"phaseType", "startTime"}
    assert build["endTime"] >= build["startTime"]
    lines = lab.logs(build)
    assert "hi" in lines
    said = "runs under bubblewrap" if shutil.which("bwrap") else "runs without a sandbox"
    assert any(said in line for line in lines)


def test_one_shell_per_build_keeps_variables_and_directory(lab: Lab) -> None:
    spec = buildspec({
        "install": {"commands": ["MY_VAR=kept", "export EXPORTED=yes", "mkdir -p sub && cd sub"]},
        "build": {"commands": ["echo var=$MY_VAR exported=$EXPORTED dir=$(basename $(pwd))"]},
    })
    lab.project("shell", spec)
    build = lab.run("shell")
    assert "var=kept exported=yes dir=sub" in lab.logs(build)


def test_a_command_that_exits_keeps_exported_variables_for_later_phases(lab: Lab) -> None:
    spec = buildspec({
        "build": {"commands": ["export TAG=v1 && cd /tmp", "exit 4"]},
        "post_build": {"commands": ["echo tag=$TAG dir=$(pwd) succeeding=$CODEBUILD_BUILD_SUCCEEDING"]},
    })
    lab.project("exits", spec)
    build = lab.run("exits")
    assert phases(build)["BUILD"]["contexts"][0]["message"].endswith("exit status 4")
    assert "tag=v1 dir=/tmp succeeding=0" in lab.logs(build)


def test_env_shell_sh_runs_commands_with_sh(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": ['[ -z "$BASH_VERSION" ] && echo plain-sh']}}, env={"shell": "sh"})
    lab.project("sh", spec)
    assert "plain-sh" in lab.logs(lab.run("sh"))


def test_failed_build_still_runs_post_build_with_succeeding_zero(lab: Lab) -> None:
    spec = buildspec({
        "build": {"commands": ["echo before", "false", "echo never"], "finally": ["echo cleanup"]},
        "post_build": {"commands": ["echo succeeding=$CODEBUILD_BUILD_SUCCEEDING"]},
    })
    lab.project("fails", spec)
    build = lab.run("fails")
    assert build["buildStatus"] == "FAILED"
    by_type = phases(build)
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert by_type["BUILD"]["contexts"] == [{"statusCode": "COMMAND_EXECUTION_ERROR",
                                             "message": "Error while executing command: false. Reason: exit status 1"}]
    assert by_type["POST_BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert "UPLOAD_ARTIFACTS" in by_type
    lines = lab.logs(build)
    assert "cleanup" in lines and "never" not in lines and "succeeding=0" in lines


@pytest.mark.parametrize("failing", ["install", "pre_build"])
def test_failed_install_or_pre_build_skips_to_finalizing(lab: Lab, failing: str) -> None:
    spec = buildspec({failing: {"commands": ["exit 2"], "finally": ["echo finally-ran"]},
                      "build": {"commands": ["echo build-ran"]}})
    lab.project(f"skip-{failing.replace('_', '-')}", spec)
    build = lab.run(f"skip-{failing.replace('_', '-')}")
    kinds = [p["phaseType"] for p in build["phases"]]
    assert build["buildStatus"] == "FAILED"
    assert kinds[-3:] == [failing.upper(), "FINALIZING", "COMPLETED"]
    lines = lab.logs(build)
    assert "finally-ran" in lines and "build-ran" not in lines


def test_on_failure_continue_goes_on_but_the_build_fails(lab: Lab) -> None:
    spec = buildspec({"install": {"on-failure": "CONTINUE", "commands": ["false"]},
                      "build": {"commands": ["echo went-on succeeding=$CODEBUILD_BUILD_SUCCEEDING"]}})
    lab.project("cont", spec)
    build = lab.run("cont")
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert "went-on succeeding=0" in lab.logs(build)


@pytest.mark.parametrize("text, fragment", [
    ("version: 0.2\nphases: [unclosed", "YAML file does not parse"),
    ("version: 0.1\nphases: {}\n", "version"),
    ("version: 0.2\nphases:\n  compile:\n    commands: [ls]\n", "unknown phase"),
    ("version: 0.2\nphases:\n  build:\n    on-failure: SKIP\n", "on-failure"),
])
def test_buildspec_errors_fail_download_source(lab: Lab, text: str, fragment: str) -> None:
    lab.project("yaml", "version: 0.2\nphases: {}\n")
    build = lab.run("yaml", buildspecOverride=text)
    assert build["buildStatus"] == "FAILED"
    assert [p["phaseType"] for p in build["phases"]][-3:] == ["DOWNLOAD_SOURCE", "FINALIZING", "COMPLETED"]
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert context["statusCode"] == "YAML_FILE_ERROR" and fragment in context["message"]


def test_runtime_versions_are_checked(lab: Lab) -> None:
    lab.project("runtime", buildspec({"install": {"runtime-versions": {"python": "2.7"}}}))
    build = lab.run("runtime")
    assert phases(build)["INSTALL"]["phaseStatus"] == "FAILED"
    assert "python" in phases(build)["INSTALL"]["contexts"][0]["message"]
    lab.codebuild.update_project(name="runtime", source={"type": "NO_SOURCE", "buildspec": buildspec(
        {"install": {"runtime-versions": {"python": "latest"}}})})
    assert lab.run("runtime")["buildStatus"] == "SUCCEEDED"


def test_a_build_has_a_python_of_its_own_that_sees_the_kits_build_tools(lab: Lab) -> None:
    """pytest, coverage, bandit and boto3 are there without a download, and their commands run the
    build's Python; what pip installs stays in the build."""
    setup = "from setuptools import setup; setup(name='lab-only-pkg', version='1.0', py_modules=['lab_only_pkg'])"
    spec = buildspec({"install": {"commands": [
        "python3 -c 'import sys; print(\"prefix\", sys.prefix)'",
        "python3 -c 'import pytest, coverage, bandit, boto3; print(\"tools imported\")'",
        "python3 -m pytest --version",
        "pytest --version && coverage --version && bandit --version",
        "pip install --no-index pytest",
        "mkdir pkg && echo 'VALUE = 42' > pkg/lab_only_pkg.py",
        f'echo "{setup}" > pkg/setup.py',
        "pip install --no-index --no-build-isolation ./pkg",
        "python3 -c 'import lab_only_pkg; print(\"imported\", lab_only_pkg.VALUE)'",
    ]}})
    lab.project("own-python", spec)
    build = lab.run("own-python", timeout=90)
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", lines[-20:]
    prefix = next(line.split(" ", 1)[1] for line in lines if line.startswith("prefix "))
    assert prefix.endswith("/python") and "/builds/" in prefix
    assert "tools imported" in lines and any(line.startswith("pytest 9") for line in lines)
    assert any(line.startswith("Coverage.py, version") for line in lines)
    assert any("Requirement already satisfied: pytest" in line for line in lines)
    assert "imported 42" in lines
    with pytest.raises(ImportError):
        __import__("lab_only_pkg")  # not in the kit's environment


def test_a_build_does_not_see_the_rest_of_the_kit(lab: Lab) -> None:
    """A CodeBuild image has none of the kit's packages: neither nbgrader nor the kit's pytest plugins."""
    spec = buildspec({"build": {"commands": [
        "python3 -m pytest -VV",
        "python3 -c 'import xdist' || echo no-xdist",
        "python3 -c 'import nbgrader'",
    ]}})
    lab.project("no-kit", spec)
    build = lab.run("no-kit")
    lines = lab.logs(build)
    assert build["buildStatus"] == "FAILED" and phases(build)["BUILD"]["phaseStatus"] == "FAILED"
    assert any(line.startswith("This is pytest version") for line in lines), lines[-20:]
    assert not any("registered third-party plugins" in line for line in lines)  # no xdist, timeout, anyio…
    assert "no-xdist" in lines
    assert "ModuleNotFoundError: No module named 'nbgrader'" in lines


def test_aws_sets_its_variables_and_the_cli_talks_to_labstack_as_the_project_account(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": [
        "echo id=$CODEBUILD_BUILD_ID number=$CODEBUILD_BUILD_NUMBER region=$AWS_REGION/$AWS_DEFAULT_REGION",
        "echo arn=$CODEBUILD_BUILD_ARN",
        "echo src=$CODEBUILD_SRC_DIR start=$CODEBUILD_START_TIME initiator=$CODEBUILD_INITIATOR",
        "aws sts get-caller-identity --query Account --output text",
        "aws s3 mb s3://made-inside-a-build",
        "docker version || echo docker-exit=$?",
    ]}})
    lab.project("vars", spec)
    build = lab.run("vars")
    assert build["buildStatus"] == "SUCCEEDED", lab.logs(build)
    lines = lab.logs(build)
    assert f"id={build['id']} number=1 region=us-east-1/us-east-1" in lines
    assert f"arn={build['arn']}" in lines
    assert lab.account in lines
    assert "docker-exit=1" in lines and any("Cannot connect to the Docker daemon" in line for line in lines)
    buckets = [b["Name"] for b in lab.client("s3").list_buckets()["Buckets"]]
    assert "made-inside-a-build" in buckets


def test_variables_precedence_parameters_and_secrets_masked(lab: Lab) -> None:
    lab.client("ssm").put_parameter(Name="/app/db/password", Value="pa55word", Type="SecureString")
    lab.client("secretsmanager").create_secret(Name="prod/api-key", SecretString=json.dumps({"API_KEY": "s3cr3t-key"}))
    spec = buildspec({"build": {"commands": ["echo $NODE_ENV $FROM_PROJECT $OVERRIDDEN", "echo db=$DB_PASSWORD api=$API_KEY project=$PROJECT_SECRET",
                                             "test $DB_PASSWORD = pa55word"]}},
                     env={"variables": {"NODE_ENV": "production", "OVERRIDDEN": "from-buildspec"},
                          "parameter-store": {"DB_PASSWORD": "/app/db/password"},
                          "secrets-manager": {"API_KEY": "prod/api-key:API_KEY"}})
    lab.project("secrets", spec, environment={
        "type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL",
        "environmentVariables": [{"name": "FROM_PROJECT", "value": "p"}, {"name": "OVERRIDDEN", "value": "from-project"},
                                 {"name": "PROJECT_SECRET", "value": "/app/db/password", "type": "PARAMETER_STORE"}]})
    build = lab.run("secrets", environmentVariablesOverride=[{"name": "OVERRIDDEN", "value": "from-start"}])
    assert build["buildStatus"] == "SUCCEEDED"
    lines = lab.logs(build)
    assert "production p from-start" in lines
    assert "db=*** api=*** project=***" in lines
    assert not any("pa55word" in line or "s3cr3t-key" in line for line in lines)


def test_missing_parameter_fails_download_source(lab: Lab) -> None:
    lab.project("noparam", buildspec({"build": {"commands": ["true"]}}, env={"parameter-store": {"X": "/missing"}}))
    build = lab.run("noparam")
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and "/missing" in context["message"]


def test_exported_variables(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": ["export IMAGE_TAG=abc123", "UNEXPORTED=visible"]}},
                     env={"exported-variables": ["IMAGE_TAG", "UNEXPORTED", "NEVER_SET"]})
    lab.project("exports", spec)
    build = lab.run("exports")
    assert build["exportedEnvironmentVariables"] == [
        {"name": "IMAGE_TAG", "value": "abc123"}, {"name": "UNEXPORTED", "value": "visible"}, {"name": "NEVER_SET", "value": ""}]


def test_s3_zip_source_with_buildspec_file(lab: Lab) -> None:
    s3 = lab.client("s3")
    s3.create_bucket(Bucket="sources")
    s3.put_bucket_versioning(Bucket="sources", VersioningConfiguration={"Status": "Enabled"})
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("buildspec.yml", buildspec({"build": {"commands": ["cat app/hello.txt", "echo v=$CODEBUILD_RESOLVED_SOURCE_VERSION"]}}))
        zf.writestr("app/hello.txt", "hello from the zip")
    version = s3.put_object(Bucket="sources", Key="app.zip", Body=data.getvalue())["VersionId"]
    lab.codebuild.create_project(name="from-s3", source={"type": "S3", "location": "sources/app.zip"},
                                 artifacts={"type": "NO_ARTIFACTS"}, serviceRole=lab.role,
                                 environment={"type": "LINUX_CONTAINER", "image": "x", "computeType": "BUILD_GENERAL1_SMALL"})
    build = lab.run("from-s3")
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["resolvedSourceVersion"] == version
    lines = lab.logs(build)
    assert "hello from the zip" in lines and f"v={version}" in lines
    missing = lab.run("from-s3", sourceLocationOverride="sources/nope.zip")
    assert phases(missing)["DOWNLOAD_SOURCE"]["contexts"][0]["statusCode"] == "CLIENT_ERROR"


def test_codecommit_source_at_a_branch(lab: Lab) -> None:
    codecommit = lab.client("codecommit")
    clone = codecommit.create_repository(repositoryName="app")["repositoryMetadata"]["cloneUrlHttp"]
    first = codecommit.put_file(repositoryName="app", branchName="main", filePath="buildspec.yml",
                                fileContent=buildspec({"build": {"commands": ["cat version.txt"]}}).encode())["commitId"]
    second = codecommit.put_file(repositoryName="app", branchName="main", filePath="version.txt", fileContent=b"v2",
                                 parentCommitId=first)["commitId"]
    lab.codebuild.create_project(name="from-git", source={"type": "CODECOMMIT", "location": clone}, sourceVersion="main",
                                 artifacts={"type": "NO_ARTIFACTS"}, serviceRole=lab.role,
                                 environment={"type": "LINUX_CONTAINER", "image": "x", "computeType": "BUILD_GENERAL1_SMALL"})
    build = lab.run("from-git")
    assert build["buildStatus"] == "SUCCEEDED" and build["resolvedSourceVersion"] == second
    assert "v2" in lab.logs(build)
    old = lab.run("from-git", sourceVersion=first)
    assert phases(old)["BUILD"]["phaseStatus"] == "FAILED"  # version.txt came later
    missing = lab.run("from-git", sourceVersion="no-such-branch")
    assert phases(missing)["DOWNLOAD_SOURCE"]["contexts"][0]["statusCode"] == "CLIENT_ERROR"


def test_list_retry_and_delete_builds(lab: Lab) -> None:
    lab.project("many", buildspec({"build": {"commands": ["true"]}}))
    first = lab.run("many")
    second = lab.run("many")
    cb = lab.codebuild
    assert cb.list_builds_for_project(projectName="many")["ids"] == [second["id"], first["id"]]
    assert cb.list_builds(sortOrder="ASCENDING")["ids"] == [first["id"], second["id"]]
    retried = wait_build(cb, cb.retry_build(id=first["id"])["build"]["id"])
    assert retried["buildNumber"] == 3 and retried["buildStatus"] == "SUCCEEDED"
    gone = cb.batch_delete_builds(ids=[first["id"], "many:not-a-build"])
    assert gone["buildsDeleted"] == [first["id"]]
    assert gone["buildsNotDeleted"] == [{"id": "many:not-a-build", "statusCode": "BUILD_NOT_FOUND"}]
    assert cb.batch_get_builds(ids=[first["id"]])["buildsNotFound"] == [first["id"]]
    with pytest.raises(ClientError) as excinfo:
        cb.list_builds_for_project(projectName="ghost")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_project_concurrent_build_limit(lab: Lab) -> None:
    lab.project("limited", buildspec({"build": {"commands": ["sleep 1"]}}), concurrentBuildLimit=1)
    running = lab.codebuild.start_build(projectName="limited")["build"]
    with pytest.raises(ClientError) as excinfo:
        lab.codebuild.start_build(projectName="limited")
    assert excinfo.value.response["Error"]["Code"] == "AccountLimitExceededException"
    assert wait_build(lab.codebuild, running["id"])["buildStatus"] == "SUCCEEDED"


def test_idempotency_token_returns_the_same_build(lab: Lab) -> None:
    lab.project("idem", buildspec({"build": {"commands": ["true"]}}))
    one = lab.codebuild.start_build(projectName="idem", idempotencyToken="tok-1")["build"]
    two = lab.codebuild.start_build(projectName="idem", idempotencyToken="tok-1")["build"]
    assert one["id"] == two["id"]
    wait_build(lab.codebuild, one["id"])


def test_stop_build_kills_the_whole_process_tree(lab: Lab) -> None:
    import time

    sleep = marked_sleep()
    spec = buildspec({"build": {"commands": [f"({sleep} & echo child-started; wait)"]}})
    lab.project("stopme", spec)
    started = lab.codebuild.start_build(projectName="stopme")["build"]
    deadline = time.monotonic() + 10
    while not running(sleep):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopped = lab.codebuild.stop_build(id=started["id"])["build"]
    build = wait_build(lab.codebuild, stopped["id"])
    assert build["buildStatus"] == "STOPPED"
    assert phases(build)["BUILD"]["phaseStatus"] == "STOPPED"
    assert running(sleep) == []


def test_logs_stream_while_the_build_runs(lab: Lab) -> None:
    """The first line shows while the build sleeps (4 s: on a loaded machine a log batch can lag a second or two)."""
    spec = buildspec({"build": {"commands": ["echo first-line", "sleep 4", "echo last-line"]}},)
    lab.project("streaming", spec, logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/custom/group",
                                                                  "streamName": "runs"}})
    started = lab.codebuild.start_build(projectName="streaming")["build"]
    assert started["logs"]["groupName"] == "/custom/group"
    assert started["logs"]["streamName"] == f"runs/{started['id'].split(':')[1]}"
    assert "deepLink" in started["logs"]
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            lines = lab.logs(started)
        except ClientError:
            lines = []
        if "first-line" in lines:
            break
        assert time.monotonic() < deadline, "no log line arrived while the build ran"
        time.sleep(0.1)
    assert "last-line" not in lines
    build = wait_build(lab.codebuild, started["id"])
    assert "last-line" in lab.logs(build)


def test_logs_config_override_and_disabled_logs(lab: Lab) -> None:
    lab.project("logs-where", buildspec({"build": {"commands": ["echo somewhere-else"]}}))
    moved = lab.run("logs-where", logsConfigOverride={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/override/group"}})
    assert moved["logs"]["groupName"] == "/override/group" and "somewhere-else" in lab.logs(moved)
    quiet = lab.run("logs-where", logsConfigOverride={"cloudWatchLogs": {"status": "DISABLED"}})
    assert quiet["buildStatus"] == "SUCCEEDED" and quiet["logs"]["cloudWatchLogs"] == {"status": "DISABLED"}
    groups = [g["logGroupName"] for g in lab.client("logs").describe_log_groups()["logGroups"]]
    assert groups == ["/override/group"]


def test_state_changes_reach_eventbridge_rules(lab: Lab) -> None:
    sqs, events = lab.client("sqs"), lab.client("events")
    queue = sqs.create_queue(QueueName="build-failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="failed-builds", EventPattern=json.dumps({
        "source": ["aws.codebuild"], "detail-type": ["CodeBuild Build State Change"],
        "detail": {"build-status": ["FAILED"]}}))
    events.put_targets(Rule="failed-builds", Targets=[{"Id": "q", "Arn": arn}])
    lab.project("notify", buildspec({"build": {"commands": ["false"]}}))
    build = lab.run("notify")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["detail"]["build-id"] == build["arn"] and event["detail"]["project-name"] == "notify"
    assert event["resources"] == [build["arn"]]
