"""Pipeline declarations checked as AWS documents them where labstack used to accept what AWS refuses."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.support.codepipeline import PipelineLab, action, s3_source, stage

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def s3_deploy(name: str, bucket: str, key: str, inputs: tuple = ("src",), **extra: object) -> dict:
    return action(name, "Deploy", "S3", {"BucketName": bucket, "Extract": "true", "ObjectKey": key}, inputs=inputs, **extra)


def error_of(call, **kwargs) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_namespace_may_not_have_an_artifact_name(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html: namespaces
    must be unique across the pipeline definition and cannot conflict with any artifact names (here an
    artifact of the same action, then one a later action makes); namespaces are case sensitive."""
    cp = lab.codepipeline
    same_action = lab.declaration("clash", stage("Source", s3_source(lab.sources) | {"namespace": "src"}),
                                  stage("Deploy", s3_deploy("Site", lab.bucket, "k")))
    code, message = error_of(cp.create_pipeline, pipeline=same_action)
    assert code == "InvalidActionDeclarationException" and "src" in message and "artifact" in message
    later = lab.declaration("clash", stage("Source", s3_source(lab.sources) | {"namespace": "Later"}),
                            stage("Build", action("Build", "Build", "CodeBuild", {"ProjectName": "p"}, inputs=("src",),
                                                  outputs=("Later",))))
    code, message = error_of(cp.create_pipeline, pipeline=later)
    assert code == "InvalidActionDeclarationException" and "Later" in message
    fine = lab.declaration("clash", stage("Source", s3_source(lab.sources) | {"namespace": "SRC"}),
                           stage("Deploy", s3_deploy("Site", lab.bucket, "k")))
    created = cp.create_pipeline(pipeline=fine)["pipeline"]
    assert created["stages"][0]["actions"][0]["namespace"] == "SRC"
    fine["stages"][0]["actions"][0]["namespace"] = "src"
    code, _ = error_of(cp.update_pipeline, pipeline=fine)
    assert code == "InvalidActionDeclarationException"
    assert cp.get_pipeline(name="clash")["pipeline"]["version"] == 1


def test_on_failure_skip_is_refused_as_aws_refuses_it(lab: PipelineLab) -> None:
    """The model's Result enum (FailureConditions.result, shared with beforeEntry conditions) lists SKIP,
    but "Skip can only be used with conditions evaluated before a pipeline execution enters a stage"
    (https://aws.amazon.com/about-aws/whats-new/2024/10/aws-codepipeline-skipping-stage/), and
    https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html gives onFailure
    no Skip result: the declaration is refused, with a message that says where SKIP belongs."""
    deploy = stage("Deploy", s3_deploy("Site", lab.bucket, "k")) | {"onFailure": {"result": "SKIP"}}
    skipping = lab.declaration("skip", stage("Source", s3_source(lab.sources)), deploy, pipelineType="V2")
    code, message = error_of(lab.codepipeline.create_pipeline, pipeline=skipping)
    assert code == "ValidationException" and "beforeEntry" in message and "SKIP" in message
    deploy["onFailure"] = {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}
    lab.source({"app.txt": "v1"})
    assert lab.codepipeline.create_pipeline(pipeline=skipping)["pipeline"]["stages"][1]["onFailure"]["result"] == "RETRY"
