"""CodeBuild batch builds: StartBuildBatch runs the builds of the buildspec's batch section for real.

AWS's pages these tests follow: "Run builds in batches" (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html),
the "Batch build buildspec reference" (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html),
and the BuildBatch API reference (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BuildBatch.html).
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import ENVIRONMENT, Lab, buildspec, wait_build
from tests.support.codebuild_batch import batch_project, batch_role, builds_of, failing, groups, run_batch, wait_batch
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codebuild_fixtures"]

@pytest.mark.slow
def test_a_build_list_runs_both_builds_for_real(lab: Lab) -> None:
    """The "Build list" example of https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html: two builds
    of the project, each with its own variables, both run."""
    batch = {"fast-fail": False, "build-list": [
        {"identifier": "build1", "env": {"variables": {"BUILD_ID": "build1"}}, "ignore-failure": False},
        {"identifier": "build2", "env": {"variables": {"BUILD_ID": "build2"}}, "ignore-failure": True}]}
    project = batch_project(lab, "list", batch, {"build": {"commands": ["echo id=$BUILD_ID ident=$CODEBUILD_BATCH_BUILD_IDENTIFIER"]}})
    started = lab.codebuild.start_build_batch(projectName="list")["buildBatch"]
    assert started["id"].startswith("list:") and started["arn"].endswith(f"build-batch/{started['id']}")
    assert started["buildBatchStatus"] == "IN_PROGRESS" and started["complete"] is False
    assert started["buildBatchNumber"] == 1
    done = wait_batch(lab, started["id"])
    assert done["buildBatchStatus"] == "SUCCEEDED" and done["currentPhase"] == "SUCCEEDED"
    source = done["buildGroups"][0]  # the batch's first build downloads the source, as on AWS
    assert source["identifier"] == "DOWNLOAD_SOURCE" and "dependsOn" not in source
    assert source["currentBuildSummary"]["primaryArtifact"] == {"type": "NO_ARTIFACTS", "identifier": "DOWNLOAD_SOURCE"}
    assert [p["phaseType"] for p in done["phases"]] == ["SUBMITTED", "DOWNLOAD_BATCHSPEC", "IN_PROGRESS", "SUCCEEDED"]
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in done["phases"][:-1])
    assert done["buildBatchConfig"]["serviceRole"] == project["buildBatchConfig"]["serviceRole"]
    by_id = groups(done)
    assert set(by_id) == {"DOWNLOAD_SOURCE", "build1", "build2"}
    assert by_id["build2"]["ignoreFailure"] is True and by_id["build1"]["dependsOn"] == []
    builds = builds_of(lab, done)
    for ident, build in builds.items():
        assert build["buildStatus"] == "SUCCEEDED" and build["buildBatchArn"] == done["arn"]
        assert f"id={ident} ident={ident}" in lab.logs(build)
        summary = by_id[ident]["currentBuildSummary"]
        assert summary["buildStatus"] == "SUCCEEDED" and summary["primaryArtifact"]["identifier"] == ident
    listed = lab.codebuild.list_build_batches_for_project(projectName="list")["ids"]
    assert listed == [done["id"]] and done["id"] in lab.codebuild.list_build_batches()["ids"]
    assert {b.split(":", 1)[0] for b in lab.codebuild.list_builds_for_project(projectName="list")["ids"]} == {"list"}


@pytest.mark.slow
def test_a_build_graph_runs_a_build_after_the_build_it_depends_on(lab: Lab) -> None:
    """The "Build graph" example of https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html: build2
    depends on build1 and build3 on build2, so each runs after the one before it completed."""
    batch = {"fast-fail": False, "build-graph": [
        {"identifier": "build3", "depend-on": ["build2"]},
        {"identifier": "build1"},
        {"identifier": "build2", "depend-on": ["build1"]}]}
    batch_project(lab, "graph", batch)
    done = run_batch(lab, "graph")
    assert done["buildBatchStatus"] == "SUCCEEDED"
    assert [g["identifier"] for g in done["buildGroups"]] == ["DOWNLOAD_SOURCE", "build1", "build2", "build3"]
    assert groups(done)["build3"]["dependsOn"] == ["build2"]
    builds = builds_of(lab, done)
    assert builds["build1"]["endTime"] <= builds["build2"]["startTime"]
    assert builds["build2"]["endTime"] <= builds["build3"]["startTime"]


@pytest.mark.slow
def test_a_failed_dependency_stops_its_dependents_and_fails_the_batch(lab: Lab) -> None:
    """https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html: a task "will not run until
    these tasks are completed"; a failed build that may not be ignored fails the batch and its dependents never run,
    while a build that does not depend on it still runs."""
    batch = {"build-graph": [{"identifier": "first"}, {"identifier": "second", "depend-on": ["first"]},
                             {"identifier": "apart"}]}
    batch_project(lab, "fails", batch, failing("first", status=3))
    done = run_batch(lab, "fails")
    assert done["buildBatchStatus"] == "FAILED" and done["currentPhase"] == "FAILED"
    in_progress = next(p for p in done["phases"] if p["phaseType"] == "IN_PROGRESS")
    assert in_progress["phaseStatus"] == "FAILED" and "first" in in_progress["contexts"][0]["message"]
    by_id = groups(done)
    assert by_id["first"]["currentBuildSummary"]["buildStatus"] == "FAILED"
    assert by_id["apart"]["currentBuildSummary"]["buildStatus"] == "SUCCEEDED"
    assert "currentBuildSummary" not in by_id["second"]
    assert len(lab.codebuild.list_builds_for_project(projectName="fails")["ids"]) == 3  # with DOWNLOAD_SOURCE


@pytest.mark.slow
def test_ignore_failure_lets_the_dependents_run(lab: Lab) -> None:
    """ignore-failure: "If one build task fails, the remaining build tasks will still run"
    (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html)."""
    batch = {"build-graph": [{"identifier": "flaky", "ignore-failure": True},
                             {"identifier": "after", "depend-on": ["flaky"]}]}
    batch_project(lab, "ignored", batch, failing("flaky"))
    done = run_batch(lab, "ignored")
    assert done["buildBatchStatus"] == "SUCCEEDED"
    by_id = groups(done)
    assert by_id["flaky"]["currentBuildSummary"]["buildStatus"] == "FAILED"
    assert by_id["after"]["currentBuildSummary"]["buildStatus"] == "SUCCEEDED"


@pytest.mark.slow
def test_a_build_matrix_runs_one_build_per_combination(lab: Lab) -> None:
    """The build-matrix example of https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html:
    two images and three values of MY_VAR make six builds, each with the static settings."""
    images = ["aws/codebuild/amazonlinux2-x86_64-standard:5.0", "aws/codebuild/standard:7.0"]
    batch = {"build-matrix": {
        "static": {"ignore-failure": False, "env": {"type": "LINUX_CONTAINER", "privileged-mode": True}},
        "dynamic": {"env": {"image": images, "variables": {"MY_VAR": ["VALUE1", "VALUE2", "VALUE3"]}}}}}
    batch_project(lab, "matrix", batch, {"build": {"commands": ["echo my_var=$MY_VAR"]}})
    done = run_batch(lab, "matrix", timeout=120)
    assert done["buildBatchStatus"] == "SUCCEEDED" and len(done["buildGroups"]) == 1 + 6  # DOWNLOAD_SOURCE too
    seen = set()
    for build in builds_of(lab, done).values():
        assert build["environment"]["privilegedMode"] is True and build["environment"]["type"] == "LINUX_CONTAINER"
        value = next(line for line in lab.logs(build) if line.startswith("my_var=")).split("=", 1)[1]
        seen.add((build["environment"]["image"], value))
    assert seen == {(i, v) for i in images for v in ("VALUE1", "VALUE2", "VALUE3")}


@pytest.mark.slow
def test_stop_build_batch_stops_its_running_builds(lab: Lab) -> None:
    """StopBuildBatch (https://docs.aws.amazon.com/codebuild/latest/userguide/stop-batch-build.html): the batch's
    status is STOPPED, and so are the builds it was running."""
    batch_project(lab, "stops", {"build-list": [{"identifier": "slow"}]}, {"build": {"commands": ["sleep 300"]}})
    started = lab.codebuild.start_build_batch(projectName="stops")["buildBatch"]
    wait_for(lambda: "currentBuildSummary" in groups(lab.codebuild.batch_get_build_batches(
        ids=[started["id"]])["buildBatches"][0]).get("slow", {}), 30)
    stopped = lab.codebuild.stop_build_batch(id=started["id"])["buildBatch"]
    assert stopped["buildBatchStatus"] == "STOPPED" and stopped["currentPhase"] == "STOPPED"
    assert next(p for p in stopped["phases"] if p["phaseType"] == "IN_PROGRESS")["phaseStatus"] == "STOPPED"
    build = wait_build(lab.codebuild, groups(stopped)["slow"]["currentBuildSummary"]["arn"].split("build/", 1)[1])
    assert build["buildStatus"] == "STOPPED"
    again = lab.codebuild.stop_build_batch(id=stopped["arn"])["buildBatch"]
    assert again["buildBatchStatus"] == "STOPPED"


@pytest.mark.slow
def test_retry_failed_builds_reruns_only_what_failed(lab: Lab) -> None:
    """RetryBuildBatch with RETRY_FAILED_BUILDS (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_RetryBuildBatch.html):
    the failed build runs again (its first try in priorBuildSummaryList), its skipped dependent runs now, the build
    that succeeded is not run again."""
    ssm = lab.client("ssm")
    ssm.put_parameter(Name="/batch/flag", Value="bad", Type="String")
    batch = {"build-graph": [{"identifier": "gate"}, {"identifier": "after", "depend-on": ["gate"]},
                             {"identifier": "fine"}]}
    spec = buildspec({"build": {"commands": ['if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = gate ]; then test "$FLAG" = ok; fi']}},
                     batch=batch, env={"parameter-store": {"FLAG": "/batch/flag"}})
    lab.project("retries", spec, buildBatchConfig={"serviceRole": batch_role(lab)})
    first = run_batch(lab, "retries")
    assert first["buildBatchStatus"] == "FAILED"
    fine_arn = groups(first)["fine"]["currentBuildSummary"]["arn"]
    with pytest.raises(ClientError) as refused:  # a batch that does not exist
        lab.codebuild.retry_build_batch(id="retries:no-such-batch")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    ssm.put_parameter(Name="/batch/flag", Value="ok", Type="String", Overwrite=True)
    retried = lab.codebuild.retry_build_batch(id=first["id"], retryType="RETRY_FAILED_BUILDS")["buildBatch"]
    assert retried["id"] == first["id"] and retried["buildBatchStatus"] == "IN_PROGRESS"
    done = wait_batch(lab, first["id"])
    assert done["buildBatchStatus"] == "SUCCEEDED"
    phase_types = [p["phaseType"] for p in done["phases"]]
    assert phase_types == ["SUBMITTED", "DOWNLOAD_BATCHSPEC", "IN_PROGRESS", "FAILED", "SUBMITTED", "IN_PROGRESS", "SUCCEEDED"]
    by_id = groups(done)
    assert by_id["gate"]["currentBuildSummary"]["buildStatus"] == "SUCCEEDED"
    assert [s["buildStatus"] for s in by_id["gate"]["priorBuildSummaryList"]] == ["FAILED"]
    assert by_id["after"]["currentBuildSummary"]["buildStatus"] == "SUCCEEDED"
    assert by_id["fine"]["currentBuildSummary"]["arn"] == fine_arn and "priorBuildSummaryList" not in by_id["fine"]


@pytest.mark.slow
def test_retry_all_builds_reruns_every_build_and_a_running_batch_is_refused(lab: Lab) -> None:
    """RETRY_ALL_BUILDS runs every build again; a batch still in progress cannot be retried (InvalidInputException),
    nor one whose project is gone (ResourceNotFoundException)."""
    batch_project(lab, "again", {"build-list": [{"identifier": "one"}, {"identifier": "two"}]})
    first = run_batch(lab, "again")
    retried = lab.codebuild.retry_build_batch(id=first["id"], retryType="RETRY_ALL_BUILDS")["buildBatch"]
    with pytest.raises(ClientError) as refused:
        lab.codebuild.retry_build_batch(id=first["id"])
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    done = wait_batch(lab, retried["id"])
    assert done["buildBatchStatus"] == "SUCCEEDED"
    source, *tasks = done["buildGroups"]
    assert source["identifier"] == "DOWNLOAD_SOURCE" and "priorBuildSummaryList" not in source  # not run again
    for group in tasks:
        assert len(group["priorBuildSummaryList"]) == 1
        assert group["priorBuildSummaryList"][0]["arn"] != group["currentBuildSummary"]["arn"]
    assert len(lab.codebuild.list_builds_for_project(projectName="again")["ids"]) == 5
    lab.codebuild.delete_project(name="again")
    with pytest.raises(ClientError) as gone:
        lab.codebuild.retry_build_batch(id=first["id"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.slow
def test_delete_build_batch_deletes_the_batch_and_its_builds(lab: Lab) -> None:
    """DeleteBuildBatch, as the AWS CLI's example shows it (statusCode BATCH_DELETED and the builds' ARNs):
    https://docs.aws.amazon.com/cli/latest/reference/codebuild/delete-build-batch.html"""
    batch_project(lab, "deletes", {"build-list": [{"identifier": "one"}, {"identifier": "two"}]})
    done = run_batch(lab, "deletes")
    arns = sorted(g["currentBuildSummary"]["arn"] for g in done["buildGroups"])
    answer = lab.codebuild.delete_build_batch(id=done["id"])
    assert answer["statusCode"] == "BATCH_DELETED" and sorted(answer["buildsDeleted"]) == arns
    assert answer["buildsNotDeleted"] == []
    assert lab.codebuild.batch_get_build_batches(ids=[done["id"]])["buildBatchesNotFound"] == [done["id"]]
    assert lab.codebuild.batch_get_builds(ids=[a.split("build/", 1)[1] for a in arns])["buildsNotFound"]
    assert lab.codebuild.list_build_batches()["ids"] == []


def test_a_project_without_batch_configuration_refuses_a_batch(lab: Lab) -> None:
    """Batch builds need the project's buildBatchConfig and its service role
    (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html#batch_security_role)."""
    lab.project("plain", buildspec({"build": {"commands": ["true"]}}, batch={"build-list": [{"identifier": "a"}]}))
    with pytest.raises(ClientError) as refused:
        lab.codebuild.start_build_batch(projectName="plain")
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    assert "buildBatchConfig" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        lab.codebuild.start_build_batch(projectName="no-such-project")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as foreign:
        lab.codebuild.update_project(name="plain", buildBatchConfig={"serviceRole": "arn:aws:iam::999999999999:role/x"})
    assert foreign.value.response["Error"]["Code"] == "InvalidInputException"
    assert lab.codebuild.list_build_batches()["ids"] == []


def refusal(lab: Lab, batch: dict) -> str:
    """The DOWNLOAD_BATCHSPEC phase of a batch refused there, after checking that no build of the batch's
    buildspec ran: the project's only build is the batch's DOWNLOAD_SOURCE."""
    assert batch["buildBatchStatus"] == "FAILED" and batch["currentPhase"] == "FAILED"
    phase = next(p for p in batch["phases"] if p["phaseType"] == "DOWNLOAD_BATCHSPEC")
    assert phase["phaseStatus"] == "FAILED" and [g["identifier"] for g in batch["buildGroups"]] == ["DOWNLOAD_SOURCE"]
    assert "IN_PROGRESS" not in [p["phaseType"] for p in batch["phases"]]
    source = batch["buildGroups"][0]["currentBuildSummary"]
    assert source["buildStatus"] == "SUCCEEDED"
    built = lab.codebuild.list_builds_for_project(projectName=batch["projectName"])["ids"]
    assert built == [source["arn"].split("build/", 1)[1]]
    return phase["contexts"][0]["message"]


def test_more_builds_than_maximum_builds_allowed_fail_the_batch(lab: Lab) -> None:
    """"Maximum builds allowed in batch … If a batch exceeds this limit, the batch will fail"
    (https://docs.aws.amazon.com/codebuild/latest/userguide/create-project-console.html#create-project-console-batch-config)."""
    batch_project(lab, "limited", {"build-list": [{"identifier": "a"}, {"identifier": "b"}, {"identifier": "c"}]},
                  restrictions={"maximumBuildsAllowed": 2})
    message = refusal(lab, run_batch(lab, "limited"))
    assert "3 builds" in message and "maximumBuildsAllowed" in message


def test_a_compute_type_the_batch_may_not_use_fails_the_batch(lab: Lab) -> None:
    """restrictions/computeTypesAllowed (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BatchRestrictions.html)."""
    batch = {"build-list": [{"identifier": "small"}, {"identifier": "big", "env": {"compute-type": "BUILD_GENERAL1_LARGE"}}]}
    batch_project(lab, "computes", batch, restrictions={"computeTypesAllowed": ["BUILD_GENERAL1_SMALL"]})
    message = refusal(lab, run_batch(lab, "computes"))
    assert "big" in message and "BUILD_GENERAL1_LARGE" in message


@pytest.mark.parametrize("graph, said", [
    ([{"identifier": "a", "depend-on": ["b"]}, {"identifier": "b", "depend-on": ["a"]}], "dependency cycle"),
    ([{"identifier": "a", "depend-on": ["a"]}], "depends on itself"),
    ([{"identifier": "a", "depend-on": ["ghost"]}], "ghost, which is not a build"),
    ([{"identifier": "a"}, {"identifier": "a"}], "used twice"),
])
def test_an_impossible_build_graph_fails_the_batch_before_any_build(lab: Lab, graph: list, said: str) -> None:
    """A graph whose depend-on names no build, or whose builds wait on each other, can never run: refused at
    DOWNLOAD_BATCHSPEC (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html#build-spec.batch.build-graph)."""
    batch_project(lab, "impossible", {"build-graph": graph})
    assert said in refusal(lab, run_batch(lab, "impossible"))


def test_a_batch_role_that_may_not_start_builds_fails_the_batch(lab: Lab) -> None:
    """The batch service role is what CodeBuild calls StartBuild with
    (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html#batch_security_role): without the
    permission no build of the batch starts."""
    reader = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codebuild:BatchGetBuilds",
                                                      "Resource": "*"}]}
    spec = buildspec({"build": {"commands": ["true"]}}, batch={"build-list": [{"identifier": "a"}]})
    lab.project("powerless", spec, buildBatchConfig={"serviceRole": batch_role(lab, reader, "weak-batch-role")})
    done = run_batch(lab, "powerless")
    assert done["buildBatchStatus"] == "FAILED" and done["buildGroups"] == [{"identifier": "DOWNLOAD_SOURCE",
                                                                           "ignoreFailure": False}]
    phase = next(p for p in done["phases"] if p["phaseType"] == "DOWNLOAD_BATCHSPEC")
    assert "codebuild:StartBuild" in phase["contexts"][0]["message"]
    assert "ids" not in lab.codebuild.list_builds_for_project(projectName="powerless")


# -- hostile --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [
    {"build-list": [{"identifier": f"b{i}"} for i in range(10_000)]},
    {"build-matrix": {"dynamic": {"env": {"variables": {f"V{d}": [str(v) for v in range(10)] for d in range(4)}}}}},
    {"build-graph": [{"identifier": "n0"}] + [{"identifier": f"n{i}", "depend-on": [f"n{i - 1}"]} for i in range(1, 5000)]},
], ids=["10000-builds", "10000-matrix", "5000-deep-graph"])
def test_a_batch_of_thousands_of_builds_is_refused_and_labstack_stays_up(lab: Lab, batch: dict) -> None:
    """A batch asking for thousands of builds (even when maximumBuildsAllowed would allow them) is refused before a
    single build starts, by labstack's ceiling, and labstack answers as before."""
    batch_project(lab, "huge", batch, restrictions={"maximumBuildsAllowed": 100_000})
    message = refusal(lab, run_batch(lab, "huge"))
    assert "10000 builds" in message or "5000 builds" in message
    assert "labstack runs at most" in message
    assert lab.codebuild.list_projects()["projects"] == ["huge"]


@pytest.mark.slow
def test_fast_fail_stops_the_running_builds_when_one_fails(lab: Lab) -> None:
    """fast-fail true: "All running builds will be stopped when one of the build tasks fails"
    (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html#build-spec.batch)."""
    batch = {"fast-fail": True, "build-list": [{"identifier": "breaks"}, {"identifier": "lingers"}]}
    batch_project(lab, "fastfail", batch, failing("breaks", "sleep 300"))
    done = run_batch(lab, "fastfail")
    assert done["buildBatchStatus"] == "FAILED"
    by_id = groups(done)
    assert by_id["breaks"]["currentBuildSummary"]["buildStatus"] == "FAILED"
    assert by_id["lingers"]["currentBuildSummary"]["buildStatus"] == "STOPPED"


def test_an_idempotency_token_starts_one_batch(lab: Lab) -> None:
    """StartBuildBatch's idempotencyToken: the same request with the same token is the same batch
    (https://docs.aws.amazon.com/codebuild/latest/userguide/run-batch-build-cli.html)."""
    batch_project(lab, "once", {"build-list": [{"identifier": "a"}]})
    first = lab.codebuild.start_build_batch(projectName="once", idempotencyToken="tok-1")["buildBatch"]
    second = lab.codebuild.start_build_batch(projectName="once", idempotencyToken="tok-1")["buildBatch"]
    assert first["id"] == second["id"]
    assert lab.codebuild.list_build_batches()["ids"] == [first["id"]]
    wait_batch(lab, first["id"])


def test_list_build_batches_filters_sorts_and_pages(lab: Lab) -> None:
    """ListBuildBatches and ListBuildBatchesForProject: filter by status, sortOrder, maxResults and nextToken
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildBatches.html)."""
    batch_project(lab, "lists", {"build-graph": [{"identifier": "a", "depend-on": ["a"]}]})  # refused at once
    ids = [run_batch(lab, "lists")["id"] for _ in range(3)]
    assert lab.codebuild.list_build_batches(sortOrder="ASCENDING")["ids"] == ids
    assert lab.codebuild.list_build_batches_for_project(projectName="lists")["ids"] == ids[::-1]
    assert lab.codebuild.list_build_batches(filter={"status": "FAILED"})["ids"] == ids[::-1]
    assert lab.codebuild.list_build_batches(filter={"status": "SUCCEEDED"})["ids"] == []
    page = lab.codebuild.list_build_batches(maxResults=2, sortOrder="ASCENDING")
    assert page["ids"] == ids[:2]
    assert lab.codebuild.list_build_batches(maxResults=2, sortOrder="ASCENDING", nextToken=page["nextToken"])["ids"] == ids[2:]
    numbers = [b["buildBatchNumber"] for b in lab.codebuild.batch_get_build_batches(ids=ids)["buildBatches"]]
    assert numbers == [1, 2, 3]
    with pytest.raises(ClientError) as missing:
        lab.codebuild.list_build_batches_for_project(projectName="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_user_may_run_batches_of_the_projects_its_policy_names(lab: Lab) -> None:
    """The batch operations act on the project (resource type "project" in the Service Authorization Reference for
    CodeBuild: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodebuild.html): a user
    allowed StartBuildBatch and BatchGetBuildBatches on one project is refused them on another."""
    batch_project(lab, "mine", {"build-graph": [{"identifier": "a", "depend-on": ["a"]}]})  # refused at once
    batch_project(lab, "theirs", {"build-graph": [{"identifier": "a", "depend-on": ["a"]}]})
    mine = lab.codebuild.batch_get_projects(names=["mine"])["projects"][0]["arn"]
    iam = lab.client("iam")
    iam.create_user(UserName="batcher")
    iam.put_user_policy(UserName="batcher", PolicyName="batches", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": mine, "Action": [
            "codebuild:StartBuildBatch", "codebuild:BatchGetBuildBatches", "codebuild:StopBuildBatch"]}]}))
    key = iam.create_access_key(UserName="batcher")["AccessKey"]
    user = lab.server.client("codebuild", account=key["AccessKeyId"], secret=key["SecretAccessKey"])
    started = user.start_build_batch(projectName="mine")["buildBatch"]
    assert user.batch_get_build_batches(ids=[started["arn"]])["buildBatches"][0]["id"] == started["id"]
    user.stop_build_batch(id=started["id"])
    theirs = lab.codebuild.start_build_batch(projectName="theirs")["buildBatch"]
    for call, args in ((user.start_build_batch, {"projectName": "theirs"}),
                       (user.batch_get_build_batches, {"ids": [theirs["id"]]}),
                       (user.delete_build_batch, {"id": started["id"]})):
        with pytest.raises(ClientError) as refused:
            call(**args)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.slow
def test_a_batch_of_an_s3_source_reads_the_batch_and_task_buildspecs_from_it(lab: Lab) -> None:
    """The "Build list" example of https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html, from a
    source: build2 runs the source's build2.yml. The source is downloaded as the project's service role (the batch
    role may only start builds), and every build builds the object version the batch resolved."""
    s3 = lab.client("s3")
    bucket = f"batch-src-{lab.account}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    main = buildspec({"build": {"commands": ["echo main-spec $BUILD_ID"]}}, batch={"build-list": [
        {"identifier": "build1", "env": {"variables": {"BUILD_ID": "build1"}}},
        {"identifier": "build2", "buildspec": "build2.yml", "env": {"variables": {"BUILD_ID": "build2"}}}]})
    other = buildspec({"build": {"commands": ["echo other-spec $BUILD_ID"]}})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("buildspec.yml", main)
        zf.writestr("build2.yml", other)
    version = s3.put_object(Bucket=bucket, Key="src.zip", Body=archive.getvalue())["VersionId"]
    s3.put_object(Bucket=bucket, Key="src.zip", Body=b"a later upload the batch must not build")
    lab.codebuild.create_project(name="from-s3", source={"type": "S3", "location": f"{bucket}/src.zip"},
                                 artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT, serviceRole=lab.role,
                                 buildBatchConfig={"serviceRole": batch_role(lab)})
    done = run_batch(lab, "from-s3", sourceVersion=version)
    assert done["buildBatchStatus"] == "SUCCEEDED" and done["resolvedSourceVersion"] == version
    builds = builds_of(lab, done)
    assert "main-spec build1" in lab.logs(builds["build1"])
    assert "other-spec build2" in lab.logs(builds["build2"])
    assert {b["resolvedSourceVersion"] for b in builds.values()} == {version}


@pytest.mark.parametrize("batch, said", [
    ({"build-list": [{"env": {"variables": {"A": "1"}}}]}, "identifier is required"),
    ({"build-graph": [{"identifier": "a", "depends-on": ["b"]}]}, "unknown setting(s) depends-on"),
    ({"build-list": [{"identifier": "a"}], "build-graph": [{"identifier": "b"}]}, "exactly one of"),
    ({"build-fanout": {"parallelism": 4}}, "build-fanout"),
    ({"build-list": [{"identifier": "a b"}]}, "letters, digits or underscores"),
    ({"build-list": [{"identifier": "a", "env": {"fleet": "mine"}}]}, "no reserved-capacity fleets"),
    ({"build-list": [{"identifier": "DOWNLOAD_SOURCE"}]}, "the batch's own first build"),
    (None, "needs a batch section"),
], ids=["no-identifier", "typo", "two-kinds", "fanout", "bad-identifier", "fleet", "reserved", "no-batch"])
def test_a_batch_section_labstack_cannot_run_fails_the_batch_clearly(lab: Lab, batch: dict | None, said: str) -> None:
    """Each build task of a build list or graph has a required identifier and the documented settings alone
    (https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html): anything else fails the batch
    at DOWNLOAD_BATCHSPEC with a message that names it."""
    sections = {"batch": batch} if batch is not None else {}
    lab.project("unreadable", buildspec({"build": {"commands": ["true"]}}, **sections),
                buildBatchConfig={"serviceRole": batch_role(lab)})
    assert said in refusal(lab, run_batch(lab, "unreadable"))
