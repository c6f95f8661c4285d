"""A CodeBuild action's artifacts are moved by the build, as the project's service role, not by the pipeline's role
(LABSTACK_IAM=enforce).

AWS: the pipeline's service role starts and watches the build (codebuild:StartBuild, codebuild:BatchGetBuilds,
https://docs.aws.amazon.com/codepipeline/latest/userguide/how-to-custom-role.html); the build's commands run in
CodeBuild's container, where the action's input artifacts are made available
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html), and CodeBuild uses the
project's service role for every operation it performs on the build's behalf, the artifact bucket's objects included
(https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html); to use a customer managed key
for artifacts, CodeBuild's service role must be allowed to use that key
(https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-kms.html). So a CDK-made pipeline, whose artifact
key lets the project's role decrypt and encrypt, builds; and a project role without the key's permissions fails the
build (and the action) in DOWNLOAD_SOURCE or UPLOAD_ARTIFACTS, naming the project role's build session.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tests.support.codepipeline import PipelineLab, build, s3_source, stage
from tests.support.roles import EVERYTHING

pytest_plugins = ["tests.support.codepipeline_fixtures"]
CRYPTO = ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]


def key_for(lab: PipelineLab, statements: list[dict[str, Any]]) -> str:
    """A KMS key whose policy lets the account administer it but use it only as ``statements`` say."""
    admin = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{lab.account}:root"}, "NotAction": CRYPTO, "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [admin, *statements]}
    return lab.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]


def may_use(role: str, *actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": role}, "Action": list(actions), "Resource": "*"}


def sealed(lab: PipelineLab, name: str, key: str) -> None:
    """Source, then a build of project ``compile`` with an output artifact, in a store encrypted with ``key``."""
    lab.source({"app.txt": "v1"})
    lab.project("compile", ["cp app.txt built.txt"], artifacts={"files": ["built.txt"]})
    store = {"type": "S3", "location": lab.bucket, "encryptionKey": {"id": key, "type": "KMS"}}
    lab.create(name, stage("Source", s3_source(lab.sources)), stage("Build", build("Compile", "compile", outputs=("built",))),
               artifactStore=store)


@pytest.mark.slow
def test_a_key_only_the_project_role_may_decrypt_builds(lab: PipelineLab) -> None:
    # The pipeline role may only encrypt (it stores the source artifact); decrypting is the project role's alone,
    # so an action that read the build's input as the pipeline role would be refused kms:Decrypt.
    key = key_for(lab, [may_use(lab.role, "kms:GenerateDataKey"),
                        may_use(lab.build_role, "kms:Decrypt", "kms:GenerateDataKey")])
    sealed(lab, "cdk-like", key)
    first = lab.wait_for_executions("cdk-like", 1)[0]
    runs = lab.actions("cdk-like", first["pipelineExecutionId"])
    assert first["status"] == "Succeeded", runs["Compile"]["output"].get("executionResult")
    where = runs["Compile"]["output"]["outputArtifacts"][0]["s3location"]
    head = lab.s3.head_object(Bucket=where["bucket"], Key=where["key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key  # stored under the store's key
    body = lab.s3.get_object(Bucket=where["bucket"], Key=where["key"])["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).read("built.txt") == b"v1"


@pytest.mark.slow
@pytest.mark.parametrize("missing, phase", [("kms:Decrypt", "DOWNLOAD_SOURCE"), ("kms:GenerateDataKey", "UPLOAD_ARTIFACTS"),
                                            ("s3:GetObject", "DOWNLOAD_SOURCE"), ("s3:PutObject", "UPLOAD_ARTIFACTS")])
def test_a_project_role_that_may_not_use_the_store_fails_the_build_naming_that_role(
        lab: PipelineLab, missing: str, phase: str) -> None:
    # The key's default policy leaves its use to identity policies: the pipeline role's allows everything, so only
    # the project role's permissions can fail the build.
    key = lab.client("kms").create_key()["KeyMetadata"]["Arn"]
    iam = lab.client("iam")  # the build role's only policy, "test", allows all but ``missing``
    iam.put_role_policy(RoleName="build-role", PolicyName="test", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": [missing], "Resource": "*"}]}))
    sealed(lab, "refused", key)
    first = lab.wait_for_executions("refused", 1)[0]
    assert first["status"] == "Failed"
    run = lab.actions("refused", first["pipelineExecutionId"])["Compile"]
    message = run["output"]["executionResult"]["errorDetails"]["message"]
    assert message.startswith(f"Build terminated with state: FAILED. Phase: {phase}, Code: CLIENT_ERROR, Message: "), message
    build_session = f"arn:aws:sts::{lab.account}:assumed-role/build-role/AWSCodeBuild-"
    assert f"User: {build_session}" in message and f"is not authorized to perform: {missing} on resource: " in message
    assert "pipeline-role" not in message
    built = lab.codebuild.batch_get_builds(ids=[run["output"]["executionResult"]["externalExecutionId"]])["builds"][0]
    failed = next(p for p in built["phases"] if p["phaseType"] == phase)
    assert failed["phaseStatus"] == "FAILED" and failed["contexts"][0]["statusCode"] == "CLIENT_ERROR"
    if phase == "DOWNLOAD_SOURCE":
        assert "for primary source and source version arn:aws:s3:::" in message
    iam.put_role_policy(RoleName="build-role", PolicyName="test", PolicyDocument=json.dumps(EVERYTHING))
    assert lab.run("refused")["status"] == "Succeeded"
