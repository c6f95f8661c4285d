"""The resources a call names, as CloudTrail lists them: a resource type and a name or ARN.

One table of request members, not code per operation: a member names a resource of a fixed type
(``RoleName`` an IAM role), or, for the generic ``name``/``Name``/``id`` members, of the type the
operation's noun says (``CreateTargetGroup``'s ``Name`` is a target group). Create calls add the
identifiers their answer returns (a KMS key's id, a stack's id, a deployment's id).
"""

from __future__ import annotations

import re
from typing import Any

# The CloudFormation namespace of each service, by the name its requests are signed with.
NAMESPACES = {
    "codebuild": "CodeBuild", "codepipeline": "CodePipeline", "codedeploy": "CodeDeploy", "codecommit": "CodeCommit",
    "iam": "IAM", "sts": "STS", "s3": "S3", "lambda": "Lambda", "monitoring": "CloudWatch", "sns": "SNS", "sqs": "SQS",
    "kms": "KMS", "secretsmanager": "SecretsManager", "ssm": "SSM", "cloudformation": "CloudFormation", "ecs": "ECS",
    "ecr": "ECR", "elasticloadbalancing": "ElasticLoadBalancingV2", "events": "Events", "logs": "Logs",
    "cloudtrail": "CloudTrail", "codeconnections": "CodeConnections", "codestar-connections": "CodeStarConnections",
}
# Request members that name a resource: member -> noun (in the call's own service) or (namespace, noun).
NAMED: dict[str, str | tuple[str, str]] = {
    "projectName": "Project", "pipelineName": "Pipeline", "applicationName": "Application",
    "deploymentGroupName": "DeploymentGroup", "deploymentId": "Deployment", "deploymentIds": "Deployment",
    "deploymentConfigName": "DeploymentConfig", "currentDeploymentGroupName": "DeploymentGroup",
    "newDeploymentGroupName": "DeploymentGroup", "repositoryName": "Repository", "repositoryNames": "Repository",
    "RoleName": ("IAM", "Role"), "UserName": ("IAM", "User"), "GroupName": ("IAM", "Group"),
    "PolicyArn": ("IAM", "Policy"), "PolicyName": ("IAM", "Policy"), "InstanceProfileName": ("IAM", "InstanceProfile"),
    "Bucket": ("S3", "Bucket"), "FunctionName": ("Lambda", "Function"),
    "AlarmName": ("CloudWatch", "Alarm"), "AlarmNames": ("CloudWatch", "Alarm"), "DashboardName": ("CloudWatch", "Dashboard"),
    "TopicArn": ("SNS", "Topic"), "SubscriptionArn": ("SNS", "Subscription"), "QueueUrl": ("SQS", "Queue"),
    "QueueName": ("SQS", "Queue"), "KeyId": ("KMS", "Key"), "TargetKeyId": ("KMS", "Key"), "AliasName": ("KMS", "Alias"),
    "SecretId": ("SecretsManager", "Secret"), "StackName": ("CloudFormation", "Stack"),
    "cluster": ("ECS", "Cluster"), "clusterName": ("ECS", "Cluster"), "clusters": ("ECS", "Cluster"),
    "service": ("ECS", "Service"), "serviceName": ("ECS", "Service"), "services": ("ECS", "Service"),
    "family": ("ECS", "TaskDefinition"), "taskDefinition": ("ECS", "TaskDefinition"), "task": ("ECS", "Task"),
    "tasks": ("ECS", "Task"), "TargetGroupArn": ("ElasticLoadBalancingV2", "TargetGroup"),
    "TargetGroupArns": ("ElasticLoadBalancingV2", "TargetGroup"), "LoadBalancerArn": ("ElasticLoadBalancingV2", "LoadBalancer"),
    "LoadBalancerArns": ("ElasticLoadBalancingV2", "LoadBalancer"), "ListenerArn": ("ElasticLoadBalancingV2", "Listener"),
    "RuleArn": ("ElasticLoadBalancingV2", "ListenerRule"),
    "Rule": ("Events", "Rule"), "EventBusName": ("Events", "EventBus"), "logGroupName": ("Logs", "LogGroup"),
    "logStreamName": ("Logs", "LogStream"), "ConnectionArn": "Connection", "ConnectionName": "Connection",
    "TrailName": ("CloudTrail", "Trail"),
}
# Members whose resource type is the operation's noun (CreateProject's ``name`` is a project).
GENERIC = frozenset({"name", "Name", "names", "Names", "id", "ids"})
# Members of one service only, where the same member means something else elsewhere (every ``name`` of
# CodePipeline's is a pipeline's: StartPipelineExecution's too).
ONLY_IN: dict[str, dict[str, str | tuple[str, str]]] = {"sts": {"RoleArn": ("IAM", "Role")},
                                                       "codepipeline": {"name": "Pipeline"}}
# Requests that wrap their resource in one member (CreatePipeline's ``pipeline``).
WRAPPERS = frozenset({"pipeline"})
# Identifiers that answers to create calls return, for resources the request could not name yet.
RETURNED: dict[str, tuple[str, str]] = {
    "KeyId": ("KMS", "Key"), "StackId": ("CloudFormation", "Stack"), "deploymentId": ("CodeDeploy", "Deployment"),
    "TopicArn": ("SNS", "Topic"), "LoadBalancerArn": ("ElasticLoadBalancingV2", "LoadBalancer"),
    "TargetGroupArn": ("ElasticLoadBalancingV2", "TargetGroup"), "ListenerArn": ("ElasticLoadBalancingV2", "Listener"),
    "taskDefinitionArn": ("ECS", "TaskDefinition"), "serviceArn": ("ECS", "Service"), "clusterArn": ("ECS", "Cluster"),
    "FunctionArn": ("Lambda", "Function"), "QueueUrl": ("SQS", "Queue"), "pipelineExecutionId": ("CodePipeline", "PipelineExecution"),
}
RETURNED_MEMBERS = frozenset(RETURNED)
MAX_RESOURCES = 20  # per event; a batch call names more than a record lists
MAX_NAME = 1024
_VERB = re.compile(r"^(?:BatchGet|BatchDelete|BatchDescribe|Create|Delete|Update|Get|Describe|List|Put|Start|Stop|"
                   r"Register|Deregister|Retry|Tag|Untag|Enable|Disable|Set|Modify|Add|Remove|Attach|Detach)(?=[A-Z])")


Named = tuple[str, str, str]  # resource type, name or ARN, and the member that named it


def of_request(service: str, operation: str | None, params: dict[str, Any]) -> list[Named]:
    """(resource type, name or ARN, member) of every resource ``params`` name, in the order they come."""
    namespace = NAMESPACES.get(service, service.title())
    noun = _noun(operation)
    found: list[Named] = []
    only = ONLY_IN.get(service, {})
    for scope in _scopes(params):
        for member, value in scope.items():
            kind = only.get(member) or NAMED.get(member)
            if kind is None and member in GENERIC and noun:
                kind = noun
            if kind is None:
                continue
            space, what = kind if isinstance(kind, tuple) else (namespace, kind)
            for name in value if isinstance(value, list) else [value]:
                _add(found, f"AWS::{space}::{what}", name, member)
    return found


def of_answer(members: list[tuple[str, str]]) -> list[Named]:
    """(resource type, identifier, member) of what a create call's answer returned (:data:`RETURNED_MEMBERS`)."""
    found: list[Named] = []
    for member, value in members:
        space, what = RETURNED[member]
        _add(found, f"AWS::{space}::{what}", value, member)
    return found


def s3_object(bucket: str, key: str) -> Named:
    """An S3 object as CloudTrail lists it: by its ARN."""
    return "AWS::S3::Object", f"arn:aws:s3:::{bucket}/{key}"[:MAX_NAME], "key"


def _scopes(params: dict[str, Any]) -> list[dict[str, Any]]:
    return [params] + [v for k, v in params.items() if k in WRAPPERS and isinstance(v, dict)]


def _noun(operation: str | None) -> str | None:
    """``TargetGroup`` for ``CreateTargetGroup`` or ``DescribeTargetGroups``; None without a verb."""
    if not operation or not _VERB.match(operation):
        return None
    noun = _VERB.sub("", operation, count=1)
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _add(found: list[Named], kind: str, name: Any, member: str) -> None:
    if isinstance(name, str) and name and len(found) < MAX_RESOURCES:
        found.append((kind, name[:MAX_NAME], member))
