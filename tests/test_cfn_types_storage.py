"""AWS::S3::*, AWS::ECR::Repository, AWS::Logs::LogGroup, AWS::SSM::Parameter, AWS::SQS::* and
AWS::SecretsManager::Secret handlers against a real labstack."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_handlers import context, of
from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess


def test_a_bucket_with_versioning_encryption_lifecycle_and_a_policy(labstack: LabstackProcess) -> None:
    """Ref is the bucket's (generated, lowercase) name; GetAtt Arn, DomainName, RegionalDomainName,
    DualStackDomainName, WebsiteURL; a bucket that holds objects is not deleted
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-rule.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucketpolicy.html)."""
    account = new_account()
    s3 = labstack.client("s3", account=account)
    ctx, bucket = context(labstack, account, "Artifacts"), of("AWS::S3::Bucket")
    props = {"VersioningConfiguration": {"Status": "Enabled"},
             "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                 {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]},
             "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": "true",
                                                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
             "LifecycleConfiguration": {"Rules": [
                 {"Id": "old", "Status": "Enabled", "Prefix": "builds/", "ExpirationInDays": 30,
                  "NoncurrentVersionExpirationInDays": "7", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
             "Tags": [{"Key": "team", "Value": "ci"}]}
    made = bucket.create(ctx, props)
    name = made.physical_id
    assert re.fullmatch(r"shop-artifacts-[a-z0-9]{12}", name), name
    assert made.attributes == {
        "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.us-east-1.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.us-east-1.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-us-east-1.amazonaws.com"}
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"][0]
    assert (lifecycle["ID"], lifecycle["Filter"], lifecycle["Expiration"]["Days"]) == ("old", {"Prefix": "builds/"}, 30)
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    live = bucket.read(ctx, name, props)
    assert live["LifecycleConfiguration"] == props["LifecycleConfiguration"]
    assert live["VersioningConfiguration"] == {"Status": "Enabled"} and live["Tags"] == props["Tags"]

    new = {"VersioningConfiguration": {"Status": "Suspended"}, "Tags": [{"Key": "team", "Value": "ops"}]}
    bucket.update(ctx, name, props, new)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=name)
    with pytest.raises(ClientError):
        s3.get_public_access_block(Bucket=name)
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "team", "Value": "ops"}]

    policy, pprops = of("AWS::S3::BucketPolicy"), {"Bucket": name, "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                                "Resource": [f"arn:aws:s3:::{name}/*"],
                                                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}
    assert policy.create(ctx, pprops).physical_id == name
    assert policy.read(ctx, name, pprops) == pprops
    policy.delete(ctx, name, pprops)
    assert policy.read(ctx, name, pprops) is None

    s3.put_object(Bucket=name, Key="builds/app.zip", Body=b"zip")
    with pytest.raises(ClientError) as info:
        bucket.delete(ctx, name, new)
    assert info.value.response["Error"]["Code"] == "BucketNotEmpty"
    for version in s3.list_object_versions(Bucket=name).get("Versions", []):
        s3.delete_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
    bucket.delete(ctx, name, new)
    assert bucket.read(ctx, name, new) is None
    bucket.delete(ctx, name, new)
    with pytest.raises(HandlerError, match="LambdaConfigurations"):
        bucket.create(ctx, {"NotificationConfiguration": {"LambdaConfigurations": []}})


@pytest.mark.slow
def test_a_buckets_notifications_reach_its_queue(labstack: LabstackProcess) -> None:
    """NotificationConfiguration.QueueConfigurations with an S3Key prefix filter: a new object under the prefix
    is announced to the queue, one elsewhere is not
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-notificationconfiguration.html)."""
    account = new_account()
    sqs, s3 = labstack.client("sqs", account=account), labstack.client("s3", account=account)
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    ctx, bucket = context(labstack, account, "Inbox"), of("AWS::S3::Bucket")
    props = {"NotificationConfiguration": {"QueueConfigurations": [{
        "Event": "s3:ObjectCreated:*", "Queue": f"arn:aws:sqs:us-east-1:{account}:uploads",
        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}}}]}}
    name = bucket.create(ctx, props).physical_id
    s3.put_object(Bucket=name, Key="elsewhere.txt", Body=b"x")
    s3.put_object(Bucket=name, Key="in/order.json", Body=b"{}")
    keys = []
    for _ in range(3):
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            keys += [unquote_plus(r["s3"]["object"]["key"]) for r in json.loads(message["Body"]).get("Records", [])]
    assert keys == ["in/order.json"]
    assert bucket.read(ctx, name, props)["NotificationConfiguration"] == props["NotificationConfiguration"]
    bucket.update(ctx, name, props, {})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=name)


def test_a_repository_with_a_lifecycle_policy_scan_on_push_and_empty_on_delete(labstack: LabstackProcess) -> None:
    """Ref is the repository's name; GetAtt Arn and RepositoryUri; EmptyOnDelete deletes it with its images
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-repository.html)."""
    account = new_account()
    ecr = labstack.client("ecr", account=account)
    ctx, repository = context(labstack, account, "Images"), of("AWS::ECR::Repository")
    rules = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                                          "countNumber": 3}, "action": {"type": "expire"}}]}
    props = {"RepositoryName": "sample-app", "ImageScanningConfiguration": {"ScanOnPush": "true"},
             "ImageTagMutability": "IMMUTABLE", "LifecyclePolicy": {"LifecyclePolicyText": json.dumps(rules)}}
    made = repository.create(ctx, props)
    assert made.physical_id == "sample-app"
    assert made.attributes == {"Arn": f"arn:aws:ecr:us-east-1:{account}:repository/sample-app",
                               "RepositoryUri": f"{account}.dkr.ecr.us-east-1.amazonaws.com/sample-app"}
    described = ecr.describe_repositories(repositoryNames=["sample-app"])["repositories"][0]
    assert described["imageScanningConfiguration"]["scanOnPush"] is True and described["imageTagMutability"] == "IMMUTABLE"
    assert json.loads(ecr.get_lifecycle_policy(repositoryName="sample-app")["lifecyclePolicyText"]) == rules
    new = {**props, "ImageTagMutability": "MUTABLE", "EmptyOnDelete": True}
    del new["LifecyclePolicy"]
    repository.update(ctx, "sample-app", props, new)
    with pytest.raises(ClientError):
        ecr.get_lifecycle_policy(repositoryName="sample-app")
    assert repository.read(ctx, "sample-app", new)["ImageTagMutability"] == "MUTABLE"

    config = b"{}"
    upload = ecr.initiate_layer_upload(repositoryName="sample-app")["uploadId"]
    ecr.upload_layer_part(repositoryName="sample-app", uploadId=upload, partFirstByte=0, partLastByte=len(config) - 1,
                          layerPartBlob=config)
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    ecr.complete_layer_upload(repositoryName="sample-app", uploadId=upload, layerDigests=[digest])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "size": len(config), "digest": digest}, "layers": []})
    ecr.put_image(repositoryName="sample-app", imageManifest=manifest, imageTag="v1")
    with pytest.raises(ClientError) as info:
        repository.delete(ctx, "sample-app", props)  # without EmptyOnDelete: not while it holds images
    assert info.value.response["Error"]["Code"] == "RepositoryNotEmptyException"
    repository.delete(ctx, "sample-app", new)
    assert repository.read(ctx, "sample-app", new) is None


@pytest.mark.slow
def test_a_log_group_a_parameter_a_queue_and_its_policy(labstack: LabstackProcess) -> None:
    """LogGroup: Ref the name, GetAtt Arn; Parameter: Ref the name, GetAtt Value; Queue: Ref the URL, GetAtt
    Arn and QueueName; QueuePolicy sets the queues' Policy
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-logs-loggroup.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queuepolicy.html)."""
    account = new_account()
    ctx = context(labstack, account, "Things")
    logs, ssm, sqs = (labstack.client(s, account=account) for s in ("logs", "ssm", "sqs"))

    group, gprops = of("AWS::Logs::LogGroup"), {"LogGroupName": "/ecs/sample-app", "RetentionInDays": 7}
    made = group.create(ctx, gprops)
    assert made.attributes["Arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:/ecs/sample-app:*"
    assert logs.describe_log_groups(logGroupNamePrefix="/ecs/sample-app")["logGroups"][0]["retentionInDays"] == 7
    group.update(ctx, made.physical_id, gprops, {"LogGroupName": "/ecs/sample-app", "RetentionInDays": 30})
    assert group.read(ctx, made.physical_id, gprops)["RetentionInDays"] == 30
    with pytest.raises(HandlerError, match="RetentionInDays 8"):
        group.create(ctx, {"RetentionInDays": 8})
    group.delete(ctx, made.physical_id, gprops)
    assert group.read(ctx, made.physical_id, gprops) is None

    parameter, pprops = of("AWS::SSM::Parameter"), {"Type": "String", "Value": "blue", "Description": "colour"}
    pmade = parameter.create(ctx, pprops)
    assert pmade.physical_id.startswith("CFN-Things-") and pmade.attributes == {"Type": "String", "Value": "blue"}
    parameter.update(ctx, pmade.physical_id, pprops, {**pprops, "Value": "green"})
    assert ssm.get_parameter(Name=pmade.physical_id)["Parameter"]["Value"] == "green"
    with pytest.raises(HandlerError, match="SecureString"):
        parameter.create(ctx, {"Type": "SecureString", "Value": "x"})
    parameter.delete(ctx, pmade.physical_id, pprops)
    assert parameter.read(ctx, pmade.physical_id, pprops) is None

    queue, qprops = of("AWS::SQS::Queue"), {"VisibilityTimeout": 45, "FifoQueue": True, "ContentBasedDeduplication": True}
    qmade = queue.create(ctx, qprops)
    name = qmade.attributes["QueueName"]
    assert name.startswith("Shop-Things-") and name.endswith(".fifo")
    assert qmade.physical_id == qmade.attributes["QueueUrl"] and qmade.physical_id.endswith(f"/{account}/{name}")
    assert qmade.attributes["Arn"] == f"arn:aws:sqs:us-east-1:{account}:{name}"
    queue.update(ctx, qmade.physical_id, qprops, {"FifoQueue": True, "ContentBasedDeduplication": True})
    attributes = sqs.get_queue_attributes(QueueUrl=qmade.physical_id, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "30" and attributes["FifoQueue"] == "true"

    policy, doc = of("AWS::SQS::QueuePolicy"), {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": qmade.attributes["Arn"]}]}
    polprops = {"Queues": [qmade.physical_id], "PolicyDocument": doc}
    polmade = policy.create(ctx, polprops)
    assert policy.read(ctx, polmade.physical_id, polprops)["PolicyDocument"] == doc
    queue.update(ctx, qmade.physical_id, {"FifoQueue": True}, {"FifoQueue": True, "DelaySeconds": 5})
    assert policy.read(ctx, polmade.physical_id, polprops)["PolicyDocument"] == doc  # the queue's update keeps it
    policy.delete(ctx, polmade.physical_id, polprops)
    assert policy.read(ctx, polmade.physical_id, polprops) is None
    queue.delete(ctx, qmade.physical_id, qprops)
    assert queue.read(ctx, qmade.physical_id, qprops) is None
    queue.delete(ctx, qmade.physical_id, qprops)


def test_a_secret_generated_into_its_template(labstack: LabstackProcess) -> None:
    """GenerateSecretString puts a password drawn as asked under GenerateStringKey; Ref is the ARN
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html)."""
    account = new_account()
    secrets = labstack.client("secretsmanager", account=account)
    ctx, secret = context(labstack, account, "DbSecret"), of("AWS::SecretsManager::Secret")
    props = {"Name": "prod/db", "GenerateSecretString": {
        "SecretStringTemplate": '{"username": "app"}', "GenerateStringKey": "password", "PasswordLength": 20,
        "ExcludePunctuation": True}}
    made = secret.create(ctx, props)
    assert made.physical_id.startswith(f"arn:aws:secretsmanager:us-east-1:{account}:secret:prod/db-")
    value = json.loads(secrets.get_secret_value(SecretId="prod/db")["SecretString"])
    assert value["username"] == "app" and re.fullmatch(r"[A-Za-z0-9]{20}", value["password"])
    secret.update(ctx, made.physical_id, props, {"Name": "prod/db", "SecretString": "plain"})
    assert secrets.get_secret_value(SecretId="prod/db")["SecretString"] == "plain"
    with pytest.raises(HandlerError, match="both SecretStringTemplate and GenerateStringKey"):
        secret.create(ctx, {"GenerateSecretString": {"GenerateStringKey": "password"}})
    secret.delete(ctx, made.physical_id, props)
    assert secret.read(ctx, made.physical_id, props) is None
    secret.create(ctx, {"Name": "prod/db", "SecretString": "again"})  # deleted without a recovery window
