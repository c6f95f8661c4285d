"""AWS::IAM::Role, AWS::IAM::Policy, AWS::IAM::ManagedPolicy and AWS::IAM::InstanceProfile, made through
IAM's API (AWS's managed policies, ``arn:aws:iam::aws:policy/...``, are there to attach as on AWS)."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.convert import to_api
from labstack.services.cloudformation.properties import (
    changed, gone_ok, only, parsed, pick, retag, tag_list, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result

GONE = ("NoSuchEntity",)
PRINCIPALS = (("Roles", "role", "RoleName"), ("Users", "user", "UserName"), ("Groups", "group", "GroupName"))


def _inline(client: Any, kind: str, key: str, name: str) -> dict[str, Any]:
    """An IAM identity's inline policies: name -> document."""
    names = getattr(client, f"list_{kind}_policies")(**{key: name})["PolicyNames"]
    return {policy: getattr(client, f"get_{kind}_policy")(**{key: name, "PolicyName": policy})["PolicyDocument"]
            for policy in names}


def _attached(client: Any, kind: str, key: str, name: str) -> list[str]:
    """The ARNs of the managed policies attached to an IAM identity."""
    pages = client.get_paginator(f"list_attached_{kind}_policies").paginate(**{key: name})
    return [p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]]


def _policies(props: dict) -> dict[str, Any]:
    """A role's ``Policies`` property as name -> document."""
    out = {}
    for item in props.get("Policies") or []:
        if not isinstance(item, dict) or "PolicyName" not in item or "PolicyDocument" not in item:
            raise HandlerError("Each of Policies needs PolicyName and PolicyDocument")
        out[str(item["PolicyName"])] = item["PolicyDocument"]
    return out


class Role(ResourceType):
    """AWS::IAM::Role: Ref is the role's name; GetAtt Arn and RoleId."""

    type_name = "AWS::IAM::Role"
    SUPPORTED = ("AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "MaxSessionDuration", "Path",
                 "PermissionsBoundary", "Policies", "RoleName", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        iam = ctx.client("iam")
        name = props.get("RoleName") or ctx.name(64)
        params = to_api("iam", "CreateRole", {**props, "RoleName": name}, drop=("Policies", "ManagedPolicyArns"))
        role = iam.create_role(**params)["Role"]
        for policy, doc in _policies(props).items():
            iam.put_role_policy(**to_api("iam", "PutRolePolicy", {"RoleName": name, "PolicyName": policy,
                                                                  "PolicyDocument": doc}))
        for policy_arn in props.get("ManagedPolicyArns") or []:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return Result(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        iam = ctx.client("iam")
        if changed(old, new, "AssumeRolePolicyDocument"):
            iam.update_assume_role_policy(**to_api("iam", "UpdateAssumeRolePolicy", {
                "RoleName": physical_id, "PolicyDocument": new["AssumeRolePolicyDocument"]}))
        if changed(old, new, "Description", "MaxSessionDuration"):
            iam.update_role(**to_api("iam", "UpdateRole", {"RoleName": physical_id, "Description": new.get("Description", ""),
                                                           **pick(new, "MaxSessionDuration")}))
        if changed(old, new, "PermissionsBoundary"):
            if new.get("PermissionsBoundary"):
                iam.put_role_permissions_boundary(RoleName=physical_id, PermissionsBoundary=new["PermissionsBoundary"])
            else:
                iam.delete_role_permissions_boundary(RoleName=physical_id)
        before, after = _policies(old), _policies(new)
        for policy in before.keys() - after.keys():
            with gone_ok(*GONE):
                iam.delete_role_policy(RoleName=physical_id, PolicyName=policy)
        for policy, doc in after.items():
            if before.get(policy) != doc:
                iam.put_role_policy(**to_api("iam", "PutRolePolicy", {"RoleName": physical_id, "PolicyName": policy,
                                                                      "PolicyDocument": doc}))
        managed_before, managed_after = old.get("ManagedPolicyArns") or [], new.get("ManagedPolicyArns") or []
        for policy_arn in managed_before:
            if policy_arn not in managed_after:
                with gone_ok(*GONE):
                    iam.detach_role_policy(RoleName=physical_id, PolicyArn=policy_arn)
        for policy_arn in managed_after:
            if policy_arn not in managed_before:
                iam.attach_role_policy(RoleName=physical_id, PolicyArn=policy_arn)
        retag(old, new, lambda remove: iam.untag_role(RoleName=physical_id, TagKeys=remove),
              lambda put: iam.tag_role(RoleName=physical_id, Tags=tag_list(put)))
        role = iam.get_role(RoleName=physical_id)["Role"]
        return Result(physical_id, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        iam = ctx.client("iam")
        with gone_ok(*GONE):
            for policy_arn in _attached(iam, "role", "RoleName", physical_id):
                iam.detach_role_policy(RoleName=physical_id, PolicyArn=policy_arn)
            for policy in iam.list_role_policies(RoleName=physical_id)["PolicyNames"]:
                iam.delete_role_policy(RoleName=physical_id, PolicyName=policy)
            for profile in iam.list_instance_profiles_for_role(RoleName=physical_id)["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"],
                                                      RoleName=physical_id)
            iam.delete_role(RoleName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        iam = ctx.client("iam")
        with gone_ok(*GONE):
            role = iam.get_role(RoleName=physical_id)["Role"]
            inline = _inline(iam, "role", "RoleName", physical_id)
            return without_empty({
                "RoleName": role["RoleName"], "Path": role["Path"],
                "AssumeRolePolicyDocument": parsed(role["AssumeRolePolicyDocument"]),
                "Description": role.get("Description") or None,
                "MaxSessionDuration": role.get("MaxSessionDuration"),
                "PermissionsBoundary": role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
                "Policies": [{"PolicyName": k, "PolicyDocument": parsed(v)} for k, v in inline.items()],
                "ManagedPolicyArns": _attached(iam, "role", "RoleName", physical_id),
                "Tags": role.get("Tags")})
        return None


class Policy(ResourceType):
    """AWS::IAM::Policy: an inline policy put on each of its Roles, Users and Groups. Ref is the
    resource's id (AWS generates one; the policy itself is named PolicyName). No ``read()``: AWS does not
    detect this type's drift (its page says so), so drift detection leaves it NOT_CHECKED."""

    type_name = "AWS::IAM::Policy"
    SUPPORTED = ("PolicyName", "PolicyDocument", "Roles", "Users", "Groups")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        if not any(props.get(key) for key, _, _ in PRINCIPALS):
            raise HandlerError("At least one of [Groups,Roles,Users] must be non-empty.")
        self._put(ctx, props)
        return Result(ctx.name(128))

    @staticmethod
    def _put(ctx: Context, props: dict) -> None:
        """Put the policy on each principal ``props`` names."""
        iam = ctx.client("iam")
        for key, kind, member in PRINCIPALS:
            for name in props.get(key) or []:
                getattr(iam, f"put_{kind}_policy")(**to_api("iam", f"Put{kind.capitalize()}Policy", {
                    member: name, "PolicyName": props["PolicyName"], "PolicyDocument": props["PolicyDocument"]}))

    @staticmethod
    def _remove(ctx: Context, props: dict, keep: dict | None = None) -> None:
        """Delete the policy from each principal of ``props`` that ``keep`` does not name under the same name."""
        iam = ctx.client("iam")
        for key, kind, member in PRINCIPALS:
            kept = set(keep.get(key) or []) if keep and keep.get("PolicyName") == props.get("PolicyName") else set()
            for name in props.get(key) or []:
                if name not in kept:
                    with gone_ok(*GONE):
                        getattr(iam, f"delete_{kind}_policy")(**{member: name, "PolicyName": props["PolicyName"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        if not any(new.get(key) for key, _, _ in PRINCIPALS):
            raise HandlerError("At least one of [Groups,Roles,Users] must be non-empty.")
        self._remove(ctx, old, keep=new)
        self._put(ctx, new)
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        self._remove(ctx, props)


class ManagedPolicy(ResourceType):
    """AWS::IAM::ManagedPolicy: Ref is the policy's ARN; GetAtt PolicyArn, PolicyId, DefaultVersionId,
    AttachmentCount, IsAttachable, CreateDate, UpdateDate."""

    type_name = "AWS::IAM::ManagedPolicy"
    SUPPORTED = ("ManagedPolicyName", "Description", "Path", "PolicyDocument", "Roles", "Users", "Groups")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        iam = ctx.client("iam")
        name = props.get("ManagedPolicyName") or ctx.name(128)
        policy = iam.create_policy(**to_api("iam", "CreatePolicy", {
            "PolicyName": name, **pick(props, "Description", "Path", "PolicyDocument")}))["Policy"]
        self._attach(iam, policy["Arn"], props, {})
        return self._result(iam, policy["Arn"])

    @staticmethod
    def _attach(iam: Any, policy_arn: str, new: dict, old: dict) -> None:
        for key, kind, member in PRINCIPALS:
            before, after = old.get(key) or [], new.get(key) or []
            for name in before:
                if name not in after:
                    with gone_ok(*GONE):
                        getattr(iam, f"detach_{kind}_policy")(**{member: name, "PolicyArn": policy_arn})
            for name in after:
                if name not in before:
                    getattr(iam, f"attach_{kind}_policy")(**{member: name, "PolicyArn": policy_arn})

    @staticmethod
    def _result(iam: Any, policy_arn: str) -> Result:
        policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
        return Result(policy_arn, {
            "PolicyArn": policy_arn, "PolicyId": policy["PolicyId"], "DefaultVersionId": policy["DefaultVersionId"],
            "AttachmentCount": policy.get("AttachmentCount", 0), "IsAttachable": policy.get("IsAttachable", True),
            "CreateDate": policy["CreateDate"].isoformat(), "UpdateDate": policy["UpdateDate"].isoformat(),
            "PermissionsBoundaryUsageCount": policy.get("PermissionsBoundaryUsageCount", 0)})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        iam = ctx.client("iam")
        if changed(old, new, "PolicyDocument"):
            versions = iam.list_policy_versions(PolicyArn=physical_id)["Versions"]
            if len(versions) >= 5:  # IAM keeps five versions: the oldest non-default one makes room
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                iam.delete_policy_version(PolicyArn=physical_id, VersionId=oldest["VersionId"])
            iam.create_policy_version(**to_api("iam", "CreatePolicyVersion", {
                "PolicyArn": physical_id, "PolicyDocument": new["PolicyDocument"], "SetAsDefault": True}))
        self._attach(iam, physical_id, new, old)
        return self._result(iam, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        iam = ctx.client("iam")
        with gone_ok(*GONE):
            entities = iam.list_entities_for_policy(PolicyArn=physical_id)
            current = {key: [e[member] for e in entities[f"Policy{key}"]] for key, _, member in PRINCIPALS}
            self._attach(iam, physical_id, {}, current)
            for version in iam.list_policy_versions(PolicyArn=physical_id)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=physical_id, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        iam = ctx.client("iam")
        with gone_ok(*GONE):
            policy = iam.get_policy(PolicyArn=physical_id)["Policy"]
            doc = iam.get_policy_version(PolicyArn=physical_id, VersionId=policy["DefaultVersionId"])
            entities = iam.list_entities_for_policy(PolicyArn=physical_id)
            return without_empty({
                "ManagedPolicyName": policy["PolicyName"], "Path": policy["Path"],
                "Description": policy.get("Description") or None,
                "PolicyDocument": parsed(doc["PolicyVersion"]["Document"]),
                **{key: [e[member] for e in entities[f"Policy{key}"]] for key, _, member in PRINCIPALS}})
        return None


class InstanceProfile(ResourceType):
    """AWS::IAM::InstanceProfile: Ref is its name; GetAtt Arn. One role at most, as IAM allows."""

    type_name = "AWS::IAM::InstanceProfile"
    SUPPORTED = ("InstanceProfileName", "Path", "Roles")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        iam = ctx.client("iam")
        name = props.get("InstanceProfileName") or ctx.name(128)
        profile = iam.create_instance_profile(InstanceProfileName=name, **pick(props, "Path"))["InstanceProfile"]
        for role in props.get("Roles") or []:
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
        return Result(name, {"Arn": profile["Arn"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        iam = ctx.client("iam")
        before, after = old.get("Roles") or [], new.get("Roles") or []
        for role in before:
            if role not in after:
                with gone_ok(*GONE):
                    iam.remove_role_from_instance_profile(InstanceProfileName=physical_id, RoleName=role)
        for role in after:
            if role not in before:
                iam.add_role_to_instance_profile(InstanceProfileName=physical_id, RoleName=role)
        profile = iam.get_instance_profile(InstanceProfileName=physical_id)["InstanceProfile"]
        return Result(physical_id, {"Arn": profile["Arn"]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        iam = ctx.client("iam")
        with gone_ok(*GONE):
            for role in iam.get_instance_profile(InstanceProfileName=physical_id)["InstanceProfile"]["Roles"]:
                iam.remove_role_from_instance_profile(InstanceProfileName=physical_id, RoleName=role["RoleName"])
            iam.delete_instance_profile(InstanceProfileName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        with gone_ok(*GONE):
            profile = ctx.client("iam").get_instance_profile(InstanceProfileName=physical_id)["InstanceProfile"]
            return without_empty({"InstanceProfileName": profile["InstanceProfileName"], "Path": profile["Path"],
                                  "Roles": [r["RoleName"] for r in profile["Roles"]]})
        return None


TYPES: list[ResourceType] = [Role(), Policy(), ManagedPolicy(), InstanceProfile()]
