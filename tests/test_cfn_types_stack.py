"""A CreateStack of the everyday types (KMS, logs, SQS, SNS, SSM, S3, IAM, Lambda, EventBridge, CloudWatch)
through labstack's own CloudFormation: what it makes works together, an update changes it in place, a
deletion leaves nothing behind."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_handlers import context, of
from tests.support.cfn_stacks import outputs, settled
from tests.support.codebuild import new_account
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

TEMPLATE = """
Parameters:
  Colour:
    Type: String
    Default: blue
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: shop
      EnableKeyRotation: true
      PendingWindowInDays: 7
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/shop
      TargetKeyId: !Ref Key
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 7
  Queue:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Subscription:
        - Protocol: sqs
          Endpoint: !GetAtt Queue.Arn
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: [sns.amazonaws.com, events.amazonaws.com]}
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Ref Colour
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: {Status: Enabled}
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
      Policies:
        - PolicyName: read-setting
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: ssm:GetParameter
                Resource: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${Setting}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt FnRole.Arn
      Timeout: 10
      Environment:
        Variables:
          SETTING: !Ref Setting
      Code:
        ZipFile: |
          import os
          import boto3

          def handler(event, context):
              ssm = boto3.client("ssm")
              try:
                  other = ssm.get_parameter(Name="/elsewhere")["Parameter"]["Value"]
              except Exception as exc:
                  other = type(exc).__name__
              return {"colour": ssm.get_parameter(Name=os.environ["SETTING"])["Parameter"]["Value"], "other": other}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop]}
      Targets:
        - Id: queue
          Arn: !GetAtt Queue.Arn
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      ComparisonOperator: GreaterThanThreshold
      Threshold: 10
      EvaluationPeriods: 1
      TreatMissingData: notBreaching
      AlarmActions: [!Ref Topic]
      Metrics:
        - Id: errors
          ReturnData: false
          MetricStat:
            Metric: {Namespace: Shop, MetricName: Errors}
            Period: 60
            Stat: Sum
        - Id: requests
          ReturnData: false
          MetricStat:
            Metric: {Namespace: Shop, MetricName: Requests}
            Period: 60
            Stat: Sum
        - Id: rate
          Expression: 100 * errors / requests
          ReturnData: true
Outputs:
  Key: {Value: !Ref Key}
  KeyArn: {Value: !GetAtt Key.Arn}
  Alias: {Value: !Ref KeyAlias}
  LogGroup: {Value: !Ref Logs}
  QueueUrl: {Value: !Ref Queue}
  QueueArn: {Value: !GetAtt Queue.Arn}
  Topic: {Value: !Ref Topic}
  Setting: {Value: !Ref Setting}
  SettingValue: {Value: !GetAtt Setting.Value}
  Bucket: {Value: !Ref Bucket}
  Function: {Value: !Ref Fn}
  FunctionArn: {Value: !GetAtt Fn.Arn}
  RoleArn: {Value: !GetAtt FnRole.Arn}
  RuleArn: {Value: !GetAtt Rule.Arn}
  Alarm: {Value: !Ref Alarm}
"""


def drifts(cfn: Any) -> dict[str, dict]:
    """The stack's resources that are not IN_SYNC after a drift detection, by logical id."""
    detection = cfn.detect_stack_drift(StackName="Shop")["StackDriftDetectionId"]
    status = wait_for(lambda: (s := cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection))[
        "DetectionStatus"] != "DETECTION_IN_PROGRESS" and s)
    assert status["DetectionStatus"] == "DETECTION_COMPLETE", status
    found = cfn.describe_stack_resource_drifts(StackName="Shop")["StackResourceDrifts"]
    return {d["LogicalResourceId"]: d for d in found if d["StackResourceDriftStatus"] != "IN_SYNC"}


def invoke(server: LabstackProcess, account: str, name: str) -> dict:
    answer = server.client("lambda", account=account).invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


@pytest.mark.slow
def test_a_stack_of_everyday_types_works_updates_in_place_and_deletes_cleanly(labstack: LabstackProcess) -> None:
    """Each type's Ref and Fn::GetAtt as its "Return values" section says; the function runs as the role the
    stack made, whose inline policy allows its parameter and nothing else; an event reaches the queue through
    the rule and the topic; a parameter change updates the SSM parameter in place (No interruption)
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html)."""
    account = new_account()
    cfn = labstack.client("cloudformation", account=account)
    labstack.client("ssm", account=account).put_parameter(Name="/elsewhere", Value="secret", Type="String")
    cfn.create_stack(StackName="Shop", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    stack = settled(cfn, "Shop")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = outputs(stack)

    assert out["KeyArn"] == f"arn:aws:kms:us-east-1:{account}:key/{out['Key']}" and out["Alias"] == "alias/shop"
    kms = labstack.client("kms", account=account)
    assert kms.describe_key(KeyId="alias/shop")["KeyMetadata"]["KeyId"] == out["Key"]
    assert out["QueueArn"].endswith(out["QueueUrl"].rpartition("/")[2])
    assert out["SettingValue"] == "blue" and out["Setting"].startswith("CFN-Setting-")
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:{account}:function:{out['Function']}"
    assert out["RuleArn"].startswith(f"arn:aws:events:us-east-1:{account}:rule/Shop-Rule-")
    assert out["Bucket"].startswith("shop-bucket-")

    assert invoke(labstack, account, out["Function"]) == {"colour": "blue", "other": "AccessDeniedException"}

    # Every handler reads its resource back in the template's words: untouched, nothing has drifted;
    # a change behind the stack's back is MODIFIED, naming the property.
    assert drifts(cfn) == {}
    labstack.client("logs", account=account).put_retention_policy(logGroupName=out["LogGroup"], retentionInDays=30)
    labstack.client("ssm", account=account).put_parameter(Name=out["Setting"], Value="red", Type="String",
                                                           Overwrite=True)
    changed = drifts(cfn)
    assert set(changed) == {"Logs", "Setting"}, {k: v.get("PropertyDifferences") for k, v in changed.items()}
    assert [(d["PropertyPath"], d["ExpectedValue"], d["ActualValue"]) for d in changed["Logs"]["PropertyDifferences"]] == [
        ("/RetentionInDays", "7", "30")]
    labstack.client("ssm", account=account).put_parameter(Name=out["Setting"], Value="blue", Overwrite=True)

    sqs = labstack.client("sqs", account=account)
    events = labstack.client("events", account=account)
    events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"id": 7})}])
    got = wait_for(lambda: sqs.receive_message(QueueUrl=out["QueueUrl"], WaitTimeSeconds=1).get("Messages"))
    assert json.loads(got[0]["Body"])["detail"] == {"id": 7}
    sqs.delete_message(QueueUrl=out["QueueUrl"], ReceiptHandle=got[0]["ReceiptHandle"])
    labstack.client("sns", account=account).publish(TopicArn=out["Topic"], Message="hello")
    got = wait_for(lambda: sqs.receive_message(QueueUrl=out["QueueUrl"], WaitTimeSeconds=1).get("Messages"))
    assert json.loads(got[0]["Body"])["Message"] == "hello"

    cfn.update_stack(StackName="Shop", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Colour", "ParameterValue": "green"}])
    stack = settled(cfn, "Shop")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    assert outputs(stack)["Setting"] == out["Setting"] and outputs(stack)["SettingValue"] == "green"
    assert invoke(labstack, account, out["Function"])["colour"] == "green"

    cfn.delete_stack(StackName="Shop")
    wait_for(lambda: not [s for s in cfn.list_stacks()["StackSummaries"]
                          if s["StackName"] == "Shop" and s["StackStatus"] != "DELETE_COMPLETE"], seconds=90)
    assert labstack.client("lambda", account=account).list_functions()["Functions"] == []
    assert labstack.client("sns", account=account).list_topics()["Topics"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert labstack.client("s3", account=account).list_buckets()["Buckets"] == []
    assert [r["RoleName"] for r in labstack.client("iam", account=account).list_roles()["Roles"]] == []
    assert labstack.client("cloudwatch", account=account).describe_alarms()["MetricAlarms"] == []
    assert kms.describe_key(KeyId=out["Key"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/shop"] == []


@pytest.mark.slow
@pytest.mark.parametrize(("resource", "reason"), [
    ({"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)", "Targets": "everyone"}},
     "Value of property {/Targets} must be of type List"),
    ({"Type": "AWS::S3::Bucket", "Properties": {"NotificationConfiguration": {"LambdaConfigurations": []}}},
     "labstack's AWS::S3::Bucket NotificationConfiguration does not support the property LambdaConfigurations"),
    ({"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12", "Handler": "index.handler"}},
     "Properties validation failed for resource Bad with message: #: required key [Code] not found"),
    ({"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "no spaces allowed"}},
     "Can only include alphanumeric characters, hyphens, or underscores"),
])
def test_a_bad_resource_fails_its_stack_clearly_and_labstack_keeps_answering(
        labstack: LabstackProcess, resource: dict, reason: str) -> None:
    """Nothing unsupported is ignored: the resource fails with a reason that says why, the stack rolls back."""
    account = new_account()
    cfn = labstack.client("cloudformation", account=account)
    cfn.create_stack(StackName="Bad", TemplateBody=json.dumps({"Resources": {
        "Fine": {"Type": "AWS::SNS::Topic"}, "Bad": {**resource, "DependsOn": "Fine"}}}))
    assert settled(cfn, "Bad")["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName="Bad")["StackEvents"]
              if e["LogicalResourceId"] == "Bad" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reason in failed[0]["ResourceStatusReason"], failed[0]["ResourceStatusReason"]
    assert labstack.client("sns", account=account).list_topics()["Topics"] == []


MORE = """
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties:
      ImageScanningConfiguration: {ScanOnPush: true}
      LifecyclePolicy:
        LifecyclePolicyText: '{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}'
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: db
      GenerateSecretString: {PasswordLength: 16, ExcludePunctuation: true}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Managed:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Roles: [!Ref Role]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {Effect: Allow, Action: 'logs:*', Resource: '*'}
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Roles: [!Ref Role]
  Topic:
    Type: AWS::SNS::Topic
  Queue:
    Type: AWS::SQS::Queue
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Queue.Arn
      RawMessageDelivery: true
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: 'sns:Publish', Resource: !Ref Topic}
  Bucket:
    Type: AWS::S3::Bucket
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Deny
            Principal: '*'
            Action: 's3:*'
            Resource: !Sub '${Bucket.Arn}/*'
            Condition: {Bool: {aws:SecureTransport: 'false'}}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return context.function_version
  Version:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
  Live:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Fn
      FunctionVersion: !GetAtt Version.Version
      Name: live
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Live
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
Outputs:
  RepositoryUri: {Value: !GetAtt Repository.RepositoryUri}
  Secret: {Value: !Ref Secret}
  Managed: {Value: !Ref Managed}
  ProfileArn: {Value: !GetAtt Profile.Arn}
  Subscription: {Value: !Ref Subscription}
  Version: {Value: !Ref Version}
  Alias: {Value: !Ref Live}
"""


@pytest.mark.slow
def test_a_stack_of_the_other_types_reads_back_in_sync(labstack: LabstackProcess) -> None:
    """Every other D1 type (ECR, Secrets Manager, managed policy, instance profile, subscription, topic and
    bucket policies, a function's version, alias and permission) made by one stack and read back by drift
    detection as IN_SYNC: each read() speaks the template's words; Ref and Fn::GetAtt as the pages say
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-instanceprofile.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-permission.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-repository.html)."""
    account = new_account()
    cfn = labstack.client("cloudformation", account=account)
    cfn.create_stack(StackName="Shop", TemplateBody=MORE, Capabilities=["CAPABILITY_IAM"])
    stack = settled(cfn, "Shop")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = outputs(stack)
    assert out["RepositoryUri"].startswith(f"{account}.dkr.ecr.us-east-1.amazonaws.com/shop-repository-")
    assert out["Managed"].startswith(f"arn:aws:iam::{account}:policy/Shop-Managed-")
    assert out["Version"].endswith(":1") and out["Alias"].endswith(":live")
    assert out["ProfileArn"].startswith(f"arn:aws:iam::{account}:instance-profile/Shop-Profile-")
    assert drifts(cfn) == {}
    labstack.client("lambda", account=account).invoke(FunctionName=out["Alias"], Payload=b"{}")
    cfn.delete_stack(StackName="Shop")
    wait_for(lambda: not [s for s in cfn.list_stacks()["StackSummaries"]
                          if s["StackName"] == "Shop" and s["StackStatus"] != "DELETE_COMPLETE"], seconds=90)
    assert labstack.client("ecr", account=account).describe_repositories()["repositories"] == []
    assert labstack.client("secretsmanager", account=account).list_secrets()["SecretList"] == []


@pytest.mark.slow
def test_changing_a_keys_usage_fails_the_update_and_keeps_the_key(labstack: LabstackProcess) -> None:
    """"If you change the value of the KeySpec, KeyUsage, Origin, or MultiRegion properties of an existing KMS
    key, the update request fails, regardless of the value of the UpdateReplacePolicy attribute"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-kms-key.html): the
    stack rolls back and the key is neither replaced nor scheduled for deletion."""
    account = new_account()
    cfn = labstack.client("cloudformation", account=account)
    key = {"Type": "AWS::KMS::Key", "Properties": {"Description": "signing", "KeyUsage": "ENCRYPT_DECRYPT"}}
    body = {"Resources": {"Key": key}, "Outputs": {"Key": {"Value": {"Ref": "Key"}}}}
    cfn.create_stack(StackName="Keys", TemplateBody=json.dumps(body))
    key_id = outputs(settled(cfn, "Keys"))["Key"]
    key["Properties"] = {"Description": "signing", "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}
    cfn.update_stack(StackName="Keys", TemplateBody=json.dumps(body))
    stack = settled(cfn, "Keys")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason") or "" for e in cfn.describe_stack_events(StackName="Keys")["StackEvents"]
               if e["LogicalResourceId"] == "Key" and e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "cannot change" in reasons[0], reasons
    assert outputs(stack)["Key"] == key_id
    kms = labstack.client("kms", account=account)
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key_id]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_malformed_nested_properties_fail_as_handler_errors(labstack: LabstackProcess) -> None:
    """A list of strings where objects belong fails the resource clearly, never as an internal failure."""
    ctx = context(labstack, new_account())
    for type_name, props, reason in (
            ("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)", "Targets": ["x"]}, "{/Targets/0}"),
            ("AWS::S3::Bucket", {"LifecycleConfiguration": {"Rules": ["x"]}}, "LifecycleConfiguration Rule"),
            ("AWS::S3::Bucket", {"BucketEncryption": {"ServerSideEncryptionConfiguration": [7]}},
             "ServerSideEncryptionRule"),
            ("AWS::SNS::Topic", {"Subscription": ["ops@example.com"]}, "Protocol and Endpoint")):
        with pytest.raises(HandlerError, match=re.escape(reason)):
            of(type_name).create(ctx, props)
