"""AWS::CodeDeploy::Application, DeploymentGroup and DeploymentConfig, made through CodeDeploy's own API.

Ref is the application's, the group's and the configuration's name; none has Fn::GetAtt attributes.
A group is CreateDeploymentGroup's whole declaration (ECS blue/green: DeploymentStyle,
BlueGreenDeploymentConfiguration, LoadBalancerInfo with TargetGroupPairInfoList, ECSServices; alarms,
auto-rollback, triggers, EC2 and on-premises tag sets) and is updated in place by UpdateDeploymentGroup (a
property the template drops goes back to CodeDeploy's default); its ``Deployment`` (a revision) is created with CreateDeployment once the group exists, and again when
the template's Deployment changes. A DeploymentConfig has no updatable property: any change replaces it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.properties import arn, gone_ok
from labstack.services.cloudformation.resource import Context, ResourceType, Result
from labstack.services.cloudformation.types.common import gone, tag_changes
from labstack.services.codedeploy.groups import DEFAULT_CONFIGS

_TAG_SETS = {"Ec2TagSet": ("Ec2TagSetList", "Ec2TagGroup"),
             "OnPremisesTagSet": ("OnPremisesTagSetList", "OnPremisesTagGroup")}
_NOT_GROUP_UPDATE = ("ApplicationName", "DeploymentGroupName", "Deployment", "Tags")
_SCALAR_DEFAULTS = {"OutdatedInstancesStrategy": "UPDATE", "TerminationHookEnabled": False}  # CodeDeploy's own


def _arn(ctx: Context, kind: str, name: str) -> str:
    return arn(ctx, "codedeploy", f"{kind}:{name}")


def _retag(ctx: Context, resource_arn: str, old: dict, new: dict) -> None:
    """Apply the template's tag changes to the resource ``resource_arn`` names."""
    codedeploy = ctx.client("codedeploy")
    tags, removed = tag_changes(old, new)
    if tags:
        codedeploy.tag_resource(ResourceArn=resource_arn, Tags=tags)
    if removed:
        codedeploy.untag_resource(ResourceArn=resource_arn, TagKeys=removed)


def _live_tags(ctx: Context, resource_arn: str) -> list[dict]:
    return ctx.client("codedeploy").list_tags_for_resource(ResourceArn=resource_arn).get("Tags", [])


class Application(ResourceType):
    """AWS::CodeDeploy::Application."""

    type_name = "AWS::CodeDeploy::Application"

    def create(self, ctx: Context, props: dict) -> Result:
        name = props.get("ApplicationName") or ctx.name(100)
        ctx.client("codedeploy").create_application(
            **to_api("codedeploy", "CreateApplication", {**props, "ApplicationName": name}))
        return Result(name)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        _retag(ctx, _arn(ctx, "application", physical_id), old, new)
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ctx.client("codedeploy").delete_application(applicationName=physical_id)  # a missing one is no error

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        try:
            info = ctx.client("codedeploy").get_application(applicationName=physical_id)["application"]
        except ClientError as error:
            if gone(error, "ApplicationDoesNotExistException"):
                return None
            raise
        live = from_api("codedeploy", "ApplicationInfo", info, {k: v for k, v in props.items() if k != "Tags"})
        if "Tags" in props:
            live["Tags"] = _live_tags(ctx, _arn(ctx, "application", physical_id))
        return live


class DeploymentGroup(ResourceType):
    """AWS::CodeDeploy::DeploymentGroup."""

    type_name = "AWS::CodeDeploy::DeploymentGroup"

    def create(self, ctx: Context, props: dict) -> Result:
        name = props.get("DeploymentGroupName") or ctx.name(100)
        codedeploy = ctx.client("codedeploy")
        request = to_api("codedeploy", "CreateDeploymentGroup", _api_form({**props, "DeploymentGroupName": name}),
                         drop=("Deployment",))
        codedeploy.create_deployment_group(**request)
        if props.get("Deployment"):
            try:
                _deploy(ctx, props["ApplicationName"], name, props["Deployment"])
            except ClientError:
                codedeploy.delete_deployment_group(applicationName=props["ApplicationName"], deploymentGroupName=name)
                raise
        return Result(name)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        app = new["ApplicationName"]
        codedeploy = ctx.client("codedeploy")
        fields = {k: v for k, v in new.items() if k not in _NOT_GROUP_UPDATE}
        dropped = [name for name in old if name not in new and name not in _NOT_GROUP_UPDATE]
        for name in dropped:  # a property the template dropped goes back to CodeDeploy's default, not kept
            if name == "DeploymentConfigName":
                platform = codedeploy.get_deployment_group(applicationName=app, deploymentGroupName=physical_id)[
                    "deploymentGroupInfo"]["computePlatform"]
                fields[name] = DEFAULT_CONFIGS[platform]
            else:
                fields[name] = _SCALAR_DEFAULTS.get(name, [] if isinstance(old[name], list) else {})
        request = to_api("codedeploy", "UpdateDeploymentGroup", _api_form(fields))
        codedeploy.update_deployment_group(applicationName=app, currentDeploymentGroupName=physical_id, **request)
        _retag(ctx, _arn(ctx, "deploymentgroup", f"{app}/{physical_id}"), old, new)
        if new.get("Deployment") and new.get("Deployment") != old.get("Deployment"):
            _deploy(ctx, app, physical_id, new["Deployment"])
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok("ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException"):
            ctx.client("codedeploy").delete_deployment_group(applicationName=props["ApplicationName"],
                                                             deploymentGroupName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        app = props["ApplicationName"]
        try:
            info = ctx.client("codedeploy").get_deployment_group(applicationName=app,
                                                                 deploymentGroupName=physical_id)["deploymentGroupInfo"]
        except ClientError as error:
            if gone(error, "ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException"):
                return None
            raise
        skip = ("Deployment", "Tags", "AutoScalingGroups", *_TAG_SETS)
        live = from_api("codedeploy", "DeploymentGroupInfo", info, {k: v for k, v in props.items() if k not in skip})
        if "AutoScalingGroups" in props:
            live["AutoScalingGroups"] = [g["name"] for g in info.get("autoScalingGroups", [])]
        for prop, (outer, inner) in _TAG_SETS.items():
            if prop in props:  # the API's tag filters already have the template's names (Key, Value, Type)
                groups = (info.get(_lower_first(prop)) or {}).get(_lower_first(outer), [])
                live[prop] = {outer: [{inner: group} for group in groups]}
        if "Tags" in props:
            live["Tags"] = _live_tags(ctx, _arn(ctx, "deploymentgroup", f"{app}/{physical_id}"))
        if "Deployment" in props:  # CloudFormation's own request to deploy once: nothing to read back
            live["Deployment"] = props["Deployment"]
        return live


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _api_form(props: dict) -> dict:
    """The template's EC2 and on-premises tag sets in the API's form: lists of tag-filter lists (the
    template wraps each inner list in an object)."""
    out = dict(props)
    for prop, (outer, inner) in _TAG_SETS.items():
        if isinstance(props.get(prop), dict):
            out[prop] = {outer: [item.get(inner, []) for item in props[prop].get(outer, [])]}
    return out


def _deploy(ctx: Context, app: str, group: str, deployment: dict) -> None:
    """CreateDeployment of the template's ``Deployment`` (revision, description, ignore-stop-failures)."""
    request: dict[str, Any] = to_api("codedeploy", "CreateDeployment", deployment)
    ctx.client("codedeploy").create_deployment(applicationName=app, deploymentGroupName=group, **request)


class DeploymentConfig(ResourceType):
    """AWS::CodeDeploy::DeploymentConfig (every property needs replacement: update is the default)."""

    type_name = "AWS::CodeDeploy::DeploymentConfig"

    def create(self, ctx: Context, props: dict) -> Result:
        name = props.get("DeploymentConfigName") or ctx.name(100)
        ctx.client("codedeploy").create_deployment_config(
            **to_api("codedeploy", "CreateDeploymentConfig", {**props, "DeploymentConfigName": name}))
        return Result(name)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok("DeploymentConfigDoesNotExistException"):
            ctx.client("codedeploy").delete_deployment_config(deploymentConfigName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        try:
            info = ctx.client("codedeploy").get_deployment_config(deploymentConfigName=physical_id)["deploymentConfigInfo"]
        except ClientError as error:
            if gone(error, "DeploymentConfigDoesNotExistException"):
                return None
            raise
        return from_api("codedeploy", "DeploymentConfigInfo", info, props)


TYPES: list[ResourceType] = [Application(), DeploymentGroup(), DeploymentConfig()]
