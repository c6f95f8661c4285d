"""A stack's IAM roles and log groups kept in LocalStack when it is the upstream (``--upstream``).

moto's own code looks roles up in moto's IAM (Lambda's CreateFunction checks its role) and
moto's CloudFormation creates ``AWS::IAM::Role`` and ``AWS::Logs::LogGroup`` in moto. With an
upstream, the roles and logs a learner sees live in LocalStack, so the seam's ``upstream`` patches
(``motobridge.PATCHES``, made here) make them go there: a role lookup reads the upstream and answers
with a moto ``Role`` that stands for it, and a stack's roles (with their inline and managed policies) and log groups (with their
retention) are created, updated and deleted in the upstream. The moto objects CloudFormation
gets back stand for those resources (``Ref``, ``Fn::GetAtt``) and are not kept in moto.
``upstream_stack_resources`` does the same for buckets, topics, queues and SSM parameters, and
fails the other resource types of the upstream's services.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from labstack import motobridge
from labstack.config import DEFAULT_REGION


def _iam(clients: Any, account: str) -> Any:
    return clients.get("iam", account, DEFAULT_REGION)


def role_lookups(backend: type, clients: Any) -> dict[str, Any]:
    """moto IAM's ``get_role`` and ``get_role_by_arn`` reading the upstream's roles."""

    def get_role(self: Any, role_name: str) -> Any:
        try:
            found = _iam(clients, self.account_id).get_role(RoleName=role_name)["Role"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                raise motobridge.role_not_found(role_name) from None
            raise
        return motobridge.standing_role(self.account_id, self.partition, found)

    def get_role_by_arn(self: Any, arn: str) -> Any:
        return get_role(self, arn.rsplit("/", 1)[-1])

    return {"get_role": get_role, "get_role_by_arn": get_role_by_arn}


def stack_roles(model: type, clients: Any) -> dict[str, Any]:
    """moto's ``Role`` of a stack created, updated and deleted in the upstream (with its policies)."""

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json["Properties"]
        client = _iam(clients, account_id)
        document = props["AssumeRolePolicyDocument"]
        created = client.create_role(
            RoleName=props.get("RoleName", resource_name), Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=document if isinstance(document, str) else json.dumps(document),
            Description=props.get("Description", ""), MaxSessionDuration=int(props.get("MaxSessionDuration", 3600)),
            Tags=props.get("Tags", []),
            **({"PermissionsBoundary": props["PermissionsBoundary"]} if props.get("PermissionsBoundary") else {}),
        )["Role"]
        _put_policies(client, created["RoleName"], props)
        return motobridge.standing_role(account_id, _partition(region_name), created)

    def update(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
               account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        client = _iam(clients, account_id)
        name = props.get("RoleName", original_resource.name)
        client.update_role(RoleName=name, Description=props.get("Description", ""),
                           MaxSessionDuration=int(props.get("MaxSessionDuration", 3600)))
        _put_policies(client, name, props)
        return motobridge.standing_role(account_id, _partition(region_name), client.get_role(RoleName=name)["Role"])

    def delete(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str) -> None:
        _delete_role(_iam(clients, account_id), resource_name)

    return {"create_from_cloudformation_json": classmethod(create), "update_from_cloudformation_json": classmethod(update),
            "delete_from_cloudformation_json": classmethod(delete)}


def stack_log_groups(model: type, clients: Any) -> dict[str, Any]:
    """moto's ``LogGroup`` of a stack created (with its retention) and deleted in the upstream."""

    def create_log_group(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                         region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json.get("Properties") or {}
        name = props.get("LogGroupName", resource_name)
        logs = clients.get("logs", account_id, region_name)
        logs.create_log_group(logGroupName=name, **({"tags": {t["Key"]: t["Value"] for t in props["Tags"]}}
                                                     if props.get("Tags") else {}))
        if props.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        return motobridge.standing_log_group(account_id, region_name, name, props.get("RetentionInDays"))

    def delete_log_group(self: Any, account_id: str, region_name: str) -> None:
        try:
            clients.get("logs", account_id, region_name).delete_log_group(logGroupName=self.name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    return {"create_from_cloudformation_json": classmethod(create_log_group), "delete": delete_log_group}


def _partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def _put_policies(client: Any, role: str, props: dict[str, Any]) -> None:
    """The template's inline policies and managed policy ARNs, put on the upstream role."""
    for policy in props.get("Policies", []):
        document = policy["PolicyDocument"]
        client.put_role_policy(RoleName=role, PolicyName=policy["PolicyName"],
                               PolicyDocument=document if isinstance(document, str) else json.dumps(document))
    for arn in props.get("ManagedPolicyArns", []):
        client.attach_role_policy(RoleName=role, PolicyArn=arn)


def _delete_role(client: Any, role: str) -> None:
    """Delete a role as CloudFormation does: its policies and instance profiles first."""
    try:
        for name in client.list_role_policies(RoleName=role)["PolicyNames"]:
            client.delete_role_policy(RoleName=role, PolicyName=name)
        for attached in client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            client.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
        for profile in client.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]:
            client.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=role)
        client.delete_role(RoleName=role)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
