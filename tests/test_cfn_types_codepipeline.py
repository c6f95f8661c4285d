"""AWS::CodeCommit::Repository, AWS::CodeBuild::Project and AWS::CodePipeline::Pipeline handlers against a
real labstack: a repository seeded from a zip in S3, a project and a V2 pipeline really run a build; updates
apply in place; deletes leave nothing; what labstack cannot honour is refused, never ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_code import ENVIRONMENT, PIPELINE, PROJECT, REPOSITORY, SEED, action, zipped
from tests.support.cfn_handlers import context, of
from tests.support.codepipeline import PipelineLab
from tests.support.gitcli import commit, git, new_work_tree
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]

def project_props(lab: PipelineLab, **extra: Any) -> dict:
    return {"ServiceRole": lab.build_role, "Source": {"Type": "CODEPIPELINE"}, "Artifacts": {"Type": "CODEPIPELINE"},
            "Environment": {**ENVIRONMENT, "EnvironmentVariables": [{"Name": "GREETING", "Value": "hello"}]}, **extra}


def s3_pipeline(lab: PipelineLab, project: str, **extra: Any) -> dict:
    """A V2 pipeline from a zip in the lab's source bucket to a build of ``project``."""
    source = action("Source", "Source", "S3", {"S3Bucket": lab.sources, "S3ObjectKey": "source.zip",
                                                "PollForSourceChanges": False}, outputs=("src",))
    build = action("Build", "Build", "CodeBuild", {"ProjectName": project}, inputs=("src",))
    return {"RoleArn": lab.role, "PipelineType": "V2", "ArtifactStore": {"Type": "S3", "Location": lab.bucket},
            "Stages": [{"Name": "Source", "Actions": [source]}, {"Name": "Build", "Actions": [build]}], **extra}


@pytest.mark.slow
def test_a_repository_from_s3_a_project_and_a_v2_pipeline_run_a_build(pipeline_lab: PipelineLab) -> None:
    """The repository's first commit is the zip Code.S3 names, on BranchName's default ``main``
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codecommit-repository-code.html);
    the pipeline the handlers make runs a build from it to Succeeded. Return values, from each type's
    reference page: a repository's Ref is its ID, Fn::GetAtt Arn, CloneUrlHttp, CloneUrlSsh, Name
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codecommit-repository.html#aws-resource-codecommit-repository-return-values);
    a project's Ref is its name, Fn::GetAtt Arn
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codebuild-project.html#aws-resource-codebuild-project-return-values);
    a pipeline's Ref is its name, Fn::GetAtt Version
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codepipeline-pipeline.html#aws-resource-codepipeline-pipeline-return-values)."""
    lab = pipeline_lab
    lab.s3.put_object(Bucket=lab.sources, Key="seed.zip", Body=zipped(SEED))
    codecommit = lab.client("codecommit")

    repo = of(REPOSITORY).create(context(lab.server, lab.account, "Repo"), {
        "RepositoryName": "shop", "RepositoryDescription": "seeded",
        "Code": {"S3": {"Bucket": lab.sources, "Key": "seed.zip"}}})
    meta = codecommit.get_repository(repositoryName="shop")["repositoryMetadata"]
    assert repo.ref_value == repo.physical_id == meta["repositoryId"]
    assert repo.attributes["Name"] == "shop" and repo.attributes["Arn"] == meta["Arn"]
    assert repo.attributes["CloneUrlHttp"] == meta["cloneUrlHttp"] and repo.attributes["CloneUrlSsh"].endswith("/v1/repos/shop")
    assert meta["defaultBranch"] == "main"
    assert codecommit.get_file(repositoryName="shop", filePath="check.sh")["fileMode"] == "EXECUTABLE"
    assert codecommit.get_file(repositoryName="shop", filePath="notes/readme.txt")["fileContent"] == b"seeded from S3\n"

    project = of(PROJECT).create(context(lab.server, lab.account, "Build"), project_props(lab))
    arn = lab.codebuild.batch_get_projects(names=[project.ref_value])["projects"][0]["arn"]
    assert project.ref_value.startswith("Shop-Build-") and project.attributes == {"Arn": arn}

    source = action("Source", "Source", "CodeCommit", {"RepositoryName": repo.attributes["Name"], "BranchName": "main",
                                                       "PollForSourceChanges": False}, outputs=("src",))
    staged = json.dumps([{"name": "STAGE", "value": "#{variables.Stage}", "type": "PLAINTEXT"}])
    build = action("Build", "Build", "CodeBuild", {"ProjectName": project.ref_value, "EnvironmentVariables": staged},
                   inputs=("src",))
    pipeline = of(PIPELINE).create(context(lab.server, lab.account, "Pipeline"), {
        "RoleArn": lab.role, "PipelineType": "V2", "ExecutionMode": "QUEUED",
        "Variables": [{"Name": "Stage", "DefaultValue": "staging", "Description": "where it goes"}],
        "ArtifactStore": {"Type": "S3", "Location": lab.bucket},
        "Stages": [{"Name": "Source", "Actions": [source]}, {"Name": "Build", "Actions": [build]}]})
    assert pipeline.attributes["Version"] == "1"
    declared = lab.codepipeline.get_pipeline(name=pipeline.ref_value)["pipeline"]
    assert (declared["pipelineType"], declared["executionMode"]) == ("V2", "QUEUED")
    first = lab.wait_for_executions(pipeline.ref_value, 1)[0]  # CreatePipeline starts it, as on AWS
    assert lab.wait(pipeline.ref_value, first["pipelineExecutionId"], timeout=60)["status"] == "Succeeded"


@pytest.mark.slow
def test_a_pipeline_updates_in_place_and_its_delete_leaves_nothing(pipeline_lab: PipelineLab) -> None:
    """Stages, PipelineType (V1 to V2, with ExecutionMode and Variables), Tags and DisableInboundStageTransitions
    change with no interruption (the same pipeline, its Version grows); RestartExecutionOnUpdate runs it again after the update
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codepipeline-pipeline.html);
    read() gives the live pipeline in template form, so an unchanged one shows no drift."""
    lab = pipeline_lab
    lab.source({"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n"})
    lab.project("builder", ["echo built"])
    handler, ctx = of(PIPELINE), context(lab.server, lab.account, "Pipeline")
    props = s3_pipeline(lab, "builder", Name="shop-pipeline", PipelineType="V1", Tags=[{"Key": "team", "Value": "a"}])
    made = handler.create(ctx, props)
    lab.wait(made.physical_id, lab.wait_for_executions(made.physical_id, 1)[0]["pipelineExecutionId"])
    assert handler.read(ctx, made.physical_id, props) == props

    second = action("Check", "Test", "CodeBuild", {"ProjectName": "builder"}, inputs=("src",))
    changed = {**props, "Stages": [*props["Stages"], {"Name": "Test", "Actions": [second]}],
               "PipelineType": "V2", "ExecutionMode": "QUEUED", "Variables": [{"Name": "Env", "DefaultValue": "dev"}],
               "Tags": [{"Key": "team", "Value": "b"}, {"Key": "cost", "Value": "lab"}],
               "DisableInboundStageTransitions": [{"StageName": "Test", "Reason": "held for review"}],
               "RestartExecutionOnUpdate": True}
    updated = handler.update(ctx, made.physical_id, props, changed)
    assert (updated.physical_id, updated.attributes["Version"]) == ("shop-pipeline", "2")
    declared = lab.codepipeline.get_pipeline(name="shop-pipeline")["pipeline"]
    assert (declared["pipelineType"], declared["executionMode"], declared["variables"][0]["name"]) == ("V2", "QUEUED", "Env")
    arn = updated.attributes["Arn"]
    assert {t["key"]: t["value"] for t in lab.codepipeline.list_tags_for_resource(resourceArn=arn)["tags"]} == \
        {"team": "b", "cost": "lab"}
    states = {s["stageName"]: s for s in lab.codepipeline.get_pipeline_state(name="shop-pipeline")["stageStates"]}
    assert states["Test"]["inboundTransitionState"] == {**states["Test"]["inboundTransitionState"], "enabled": False,
                                                        "disabledReason": "held for review"}
    assert len(lab.wait_for_executions("shop-pipeline", 2)) == 2  # restarted after the update
    assert handler.read(ctx, made.physical_id, changed) == changed

    released = {**changed, "DisableInboundStageTransitions": [], "Tags": [{"Key": "team", "Value": "b"}]}
    handler.update(ctx, made.physical_id, changed, released)
    states = {s["stageName"]: s for s in lab.codepipeline.get_pipeline_state(name="shop-pipeline")["stageStates"]}
    assert states["Test"]["inboundTransitionState"]["enabled"] is True
    assert lab.codepipeline.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "b"}]

    handler.delete(ctx, made.physical_id, released)
    handler.delete(ctx, made.physical_id, released)  # already gone: success
    assert handler.read(ctx, made.physical_id, released) is None
    assert lab.codepipeline.list_pipelines()["pipelines"] == []


@pytest.mark.slow
def test_a_project_updates_in_place_and_refuses_what_labstack_cannot_do(pipeline_lab: PipelineLab) -> None:
    """Project properties change with no interruption; a property removed from the template is not unset
    (AWS: "To unset or remove a project value via CFN, explicitly provide the attribute with value as empty
    input", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codebuild-project.html).
    Public visibility, what builds would not honour (a VPC, a custom certificate), unknown properties and a
    webhook CodeBuild refuses fail the resource with a clear message, and no project is left behind."""
    lab = pipeline_lab
    handler, ctx = of(PROJECT), context(lab.server, lab.account, "Build")
    props = project_props(lab, Name="shop-build", Description="first", TimeoutInMinutes="20", BadgeEnabled=True,
                          Cache={"Type": "LOCAL", "Modes": ["LOCAL_SOURCE_CACHE"]}, ConcurrentBuildLimit=2,
                          BuildBatchConfig={"ServiceRole": lab.build_role, "TimeoutInMins": 30,
                                            "Restrictions": {"MaximumBuildsAllowed": 4}},
                          LogsConfig={"CloudWatchLogs": {"Status": "ENABLED", "GroupName": "builds"}},
                          Tags=[{"Key": "team", "Value": "a"}])
    made = handler.create(ctx, props)
    live = lab.codebuild.batch_get_projects(names=["shop-build"])["projects"][0]
    assert (live["timeoutInMinutes"], live["badge"]["badgeEnabled"], live["concurrentBuildLimit"]) == (20, True, 2)
    assert live["buildBatchConfig"]["restrictions"]["maximumBuildsAllowed"] == 4
    assert handler.read(ctx, made.physical_id, props) == props

    changed = {k: v for k, v in props.items() if k not in ("Tags", "Description")} | {"TimeoutInMinutes": 45}
    assert handler.update(ctx, made.physical_id, props, changed).physical_id == "shop-build"
    live = lab.codebuild.batch_get_projects(names=["shop-build"])["projects"][0]
    assert (live["timeoutInMinutes"], live["description"], live.get("tags")) == (45, "first", [])

    refused = [({**props, "Name": "public", "Visibility": "PUBLIC_READ"}, "Visibility"),
               ({**props, "Name": "odd", "Colour": "blue"}, "Colour"),
               ({**props, "Name": "vpc", "VpcConfig": {"VpcId": "vpc-1", "Subnets": ["subnet-1"],
                                                       "SecurityGroupIds": ["sg-1"]}}, "VpcConfig"),
               ({**props, "Name": "certified", "Environment": {**ENVIRONMENT, "Certificate": "certs/ca.pem"}},
                "Certificate"),
               ({**props, "Name": "hooked", "Source": {"Type": "CODECOMMIT", "Location": "https://example.com/x"},
                 "Artifacts": {"Type": "NO_ARTIFACTS"}, "Triggers": {"Webhook": True}}, "CODECOMMIT")]
    for bad, named in refused:
        with pytest.raises((HandlerError, ClientError)) as failure:
            handler.create(ctx, bad)
        assert named in str(failure.value), failure.value
    assert lab.codebuild.list_projects()["projects"] == ["shop-build"]

    handler.delete(ctx, made.physical_id, changed)
    handler.delete(ctx, made.physical_id, changed)
    assert handler.read(ctx, made.physical_id, changed) is None


@pytest.mark.slow
def test_a_projects_triggers_are_a_webhook_that_builds_on_a_push(pipeline_lab: PipelineLab, tmp_path: Path) -> None:
    """Triggers with Webhook true and FilterGroups make the project's webhook
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codebuild-project-projecttriggers.html):
    a push to the local GitHub that passes a group builds; changing the groups updates the webhook in place;
    Webhook false removes it."""
    lab = pipeline_lab
    full_id = f"cfn-{lab.account}/app"
    url = f"{lab.server.endpoint}/github/{full_id}.git"
    work = new_work_tree(tmp_path / "work", {"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"})
    git(work, "push", "--quiet", url, "main")
    handler, ctx = of(PROJECT), context(lab.server, lab.account, "Build")
    push_to_main = [[{"Type": "EVENT", "Pattern": "PUSH"}, {"Type": "HEAD_REF", "Pattern": "^refs/heads/main$"}]]
    props = {"Name": "hooked", "ServiceRole": lab.build_role, "Environment": ENVIRONMENT, "Artifacts": {"Type": "NO_ARTIFACTS"},
             "Source": {"Type": "GITHUB", "Location": f"https://github.com/{full_id}"},
             "Triggers": {"Webhook": True, "BuildType": "BUILD", "FilterGroups": push_to_main}}
    handler.create(ctx, props)
    assert handler.read(ctx, "hooked", props) == props
    pushed = commit(work, {"app.txt": "v1\n"}, "v1")
    git(work, "push", "--quiet", url, "main")
    build = wait_for(lambda: lab.codebuild.list_builds_for_project(projectName="hooked").get("ids"), seconds=30)[0]
    assert lab.codebuild.batch_get_builds(ids=[build])["builds"][0]["sourceVersion"] == pushed

    only_tags = [[{"Type": "EVENT", "Pattern": "PUSH"}, {"Type": "HEAD_REF", "Pattern": "^refs/tags/.*"}]]
    retargeted = {**props, "Triggers": {**props["Triggers"], "FilterGroups": only_tags}}
    handler.update(ctx, "hooked", props, retargeted)
    hook = lab.codebuild.batch_get_projects(names=["hooked"])["projects"][0]["webhook"]
    assert hook["filterGroups"][0][1]["pattern"] == "^refs/tags/.*"
    assert handler.read(ctx, "hooked", retargeted) == retargeted

    unhooked = {**props, "Triggers": {"Webhook": False}}
    handler.update(ctx, "hooked", retargeted, unhooked)
    assert "webhook" not in lab.codebuild.batch_get_projects(names=["hooked"])["projects"][0]
    assert handler.read(ctx, "hooked", unhooked) == unhooked
    handler.delete(ctx, "hooked", unhooked)


def test_per_region_artifact_stores_read_back_as_the_template_lists_them(pipeline_lab: PipelineLab) -> None:
    """ArtifactStores, the template's list of {Region, ArtifactStore}, is CodePipeline's map by region
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codepipeline-pipeline-artifactstoremap.html)."""
    lab = pipeline_lab
    lab.project("builder", ["echo built"])
    props = s3_pipeline(lab, "builder")
    props["ArtifactStores"] = [{"Region": "us-east-1", "ArtifactStore": props.pop("ArtifactStore")}]
    handler, ctx = of(PIPELINE), context(lab.server, lab.account, "Pipeline")
    made = handler.create(ctx, props)
    declared = lab.codepipeline.get_pipeline(name=made.physical_id)["pipeline"]
    assert declared["artifactStores"] == {"us-east-1": {"type": "S3", "location": lab.bucket}}
    assert handler.read(ctx, made.physical_id, props) == props
    handler.delete(ctx, made.physical_id, props)
