"""A stack's IAM roles and log groups kept in LocalStack when it is the upstream (``--upstream``).

moto's own code looks roles up in moto's IAM (Lambda's CreateFunction checks its role) and
moto's CloudFormation creates ``AWS::IAM::Role`` and ``AWS::Logs::LogGroup`` in moto. With an
upstream, the roles and logs a learner sees live in LocalStack, so :func:`use_upstream` makes
them go there: a role lookup reads the upstream and answers with a moto ``Role`` that stands for
it, and a stack's roles (with their inline and managed policies) and log groups (with their
retention) are created, updated and deleted in the upstream. The moto objects CloudFormation
gets back stand for those resources (``Ref``, ``Fn::GetAtt``) and are not kept in moto.
``upstream_stack_resources`` does the same for buckets, topics, queues and SSM parameters, and
fails the other resource types of the upstream's services.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import ClientError

from labstack.config import DEFAULT_REGION
from labstack.runtimes.cloudformation.resources import complete_moto
from labstack.runtimes.cloudformation.upstream_stack_resources import (
    use_upstream_resources,
)

_lock = threading.Lock()
_installed = False


def use_upstream(clients: Any) -> None:
    """Point moto's role lookups and CloudFormation's stack resources at the upstream (once).

    The rest of ``complete_moto`` applies first, so its own role creation (into moto) is replaced.
    """
    global _installed
    with _lock:
        if _installed:
            return
        complete_moto()
        from moto.iam.exceptions import NotFoundException
        from moto.iam.models import IAMBackend, Role
        from moto.logs.models import LogGroup

        def iam(account: str) -> Any:
            return clients.get("iam", account, DEFAULT_REGION)

        def get_role(self: Any, role_name: str) -> Any:
            try:
                found = iam(self.account_id).get_role(RoleName=role_name)["Role"]
            except ClientError as error:
                if error.response["Error"]["Code"] == "NoSuchEntity":
                    raise NotFoundException(f"Role {role_name} not found") from None
                raise
            return _standing_for(Role, self.account_id, self.partition, found)

        def get_role_by_arn(self: Any, arn: str) -> Any:
            return get_role(self, arn.rsplit("/", 1)[-1])

        def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                   region_name: str, **kwargs: Any) -> Any:
            props = cloudformation_json["Properties"]
            client = iam(account_id)
            document = props["AssumeRolePolicyDocument"]
            created = client.create_role(
                RoleName=props.get("RoleName", resource_name), Path=props.get("Path", "/"),
                AssumeRolePolicyDocument=document if isinstance(document, str) else json.dumps(document),
                Description=props.get("Description", ""), MaxSessionDuration=int(props.get("MaxSessionDuration", 3600)),
                Tags=props.get("Tags", []),
                **({"PermissionsBoundary": props["PermissionsBoundary"]} if props.get("PermissionsBoundary") else {}),
            )["Role"]
            _put_policies(client, created["RoleName"], props)
            return _standing_for(Role, account_id, _partition(region_name), created)

        def update(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                   account_id: str, region_name: str) -> Any:
            props = cloudformation_json["Properties"]
            client = iam(account_id)
            name = props.get("RoleName", original_resource.name)
            client.update_role(RoleName=name, Description=props.get("Description", ""),
                               MaxSessionDuration=int(props.get("MaxSessionDuration", 3600)))
            _put_policies(client, name, props)
            return _standing_for(Role, account_id, _partition(region_name), client.get_role(RoleName=name)["Role"])

        def delete(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                   region_name: str) -> None:
            _delete_role(iam(account_id), resource_name)

        def create_log_group(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                             region_name: str, **kwargs: Any) -> Any:
            props = cloudformation_json.get("Properties") or {}
            name = props.get("LogGroupName", resource_name)
            logs = clients.get("logs", account_id, region_name)
            logs.create_log_group(logGroupName=name, **({"tags": {t["Key"]: t["Value"] for t in props["Tags"]}}
                                                         if props.get("Tags") else {}))
            if props.get("RetentionInDays"):
                logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
            return LogGroup(account_id, region_name, name, RetentionInDays=props.get("RetentionInDays"))

        def delete_log_group(self: Any, account_id: str, region_name: str) -> None:
            try:
                clients.get("logs", account_id, region_name).delete_log_group(logGroupName=self.name)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise

        IAMBackend.get_role = get_role
        IAMBackend.get_role_by_arn = get_role_by_arn
        Role.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
        Role.update_from_cloudformation_json = classmethod(update)  # type: ignore[method-assign,assignment]
        Role.delete_from_cloudformation_json = classmethod(delete)  # type: ignore[method-assign,assignment]
        LogGroup.create_from_cloudformation_json = classmethod(create_log_group)  # type: ignore[method-assign,assignment]
        LogGroup.delete = delete_log_group  # type: ignore[method-assign]
        use_upstream_resources(clients)
        _installed = True


def _partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def _standing_for(role_class: type, account: str, partition: str, found: dict[str, Any]) -> Any:
    """A moto ``Role`` with the upstream role's name, id, path and trust policy (not kept in moto)."""
    document = found.get("AssumeRolePolicyDocument", "{}")
    return role_class(account, partition, found["RoleId"], found["RoleName"],
                      document if isinstance(document, str) else json.dumps(document), found.get("Path", "/"),
                      None, found.get("Description", ""), found.get("Tags", []), found.get("MaxSessionDuration"))


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
