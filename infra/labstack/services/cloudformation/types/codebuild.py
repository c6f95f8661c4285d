"""AWS::CodeBuild::Project and AWS::CodeBuild::ReportGroup, made through CodeBuild's own API.

Project: Ref is the project's name, Fn::GetAtt Arn. ``Triggers`` (a webhook with filter groups, build
type, scope, pull-request build policy) become CreateWebhook/UpdateWebhook/DeleteWebhook after the
project; everything else is CreateProject/UpdateProject's. As on AWS, a property removed from the
template is not unset by an update (AWS: "explicitly provide the attribute with value as empty input"),
except Tags, which follow the template. What labstack's builds would not honour (a VPC, EFS mounts, retries,
secondary sources, public visibility, registry credentials, certificates, fleets) is refused. ReportGroup: Ref and Fn::GetAtt Arn are its ARN; DeleteReports
lets the delete take the group's reports with it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.properties import changed, gone_ok
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result
from labstack.services.cloudformation.types.common import refuse

_NOT_PROJECT = ("Triggers", "Visibility", "ResourceAccessRole")  # not CreateProject/UpdateProject members
# What labstack's builds would not honour, refused rather than ignored: builds run on the host's network (no
# VPC) without EFS mounts, retries, secondary sources or public logs (ResourceAccessRole); the environment
# takes no private registry credentials, custom certificate, reserved fleet or remote Docker server.
_UNSUPPORTED = ("VpcConfig", "FileSystemLocations", "AutoRetryLimit", "SecondarySources", "SecondarySourceVersions",
                "ResourceAccessRole")
_UNSUPPORTED_ENVIRONMENT = ("RegistryCredential", "Certificate", "Fleet", "DockerServer")
_WEBHOOK_FIXED = ("ScopeConfiguration",)  # UpdateWebhook cannot change it: the webhook is made again


class Project(ResourceType):
    """AWS::CodeBuild::Project."""

    type_name = "AWS::CodeBuild::Project"

    def create(self, ctx: Context, props: dict) -> Result:
        _check(props)
        name = props.get("Name") or ctx.name(255)
        codebuild = ctx.client("codebuild")
        project = codebuild.create_project(**_project_request({**props, "Name": name}, "CreateProject"))["project"]
        if _webhook_wanted(props):
            try:
                codebuild.create_webhook(**_webhook_request(name, props["Triggers"], "CreateWebhook"))
            except ClientError:
                codebuild.delete_project(name=name)  # nothing left behind that the stack does not know of
                raise
        return Result(name, {"Arn": project["arn"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        _check(new)
        codebuild = ctx.client("codebuild")
        request = _project_request({**new, "Name": physical_id}, "UpdateProject")
        if old.get("Tags") and not new.get("Tags"):
            request["tags"] = []  # the template dropped its tags: so does the project
        project = codebuild.update_project(**request)["project"]
        had, wants = _webhook_wanted(old), _webhook_wanted(new)
        if had and (not wants or changed(old["Triggers"], new["Triggers"], *_WEBHOOK_FIXED)):
            codebuild.delete_webhook(projectName=physical_id)
            had = False
        if wants and not had:
            codebuild.create_webhook(**_webhook_request(physical_id, new["Triggers"], "CreateWebhook"))
        elif wants and old["Triggers"] != new["Triggers"]:
            codebuild.update_webhook(**_webhook_request(physical_id, new["Triggers"], "UpdateWebhook"))
        return Result(physical_id, {"Arn": project["arn"]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok("ResourceNotFoundException"):
            ctx.client("codebuild").delete_project(name=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        found = ctx.client("codebuild").batch_get_projects(names=[physical_id]).get("projects") or []
        if not found:
            return None
        project = found[0]
        like = {k: v for k, v in props.items() if k not in _NOT_PROJECT}
        live = from_api("codebuild", "Project", project, like)
        if "BadgeEnabled" in props:
            live["BadgeEnabled"] = project.get("badge", {}).get("badgeEnabled", False)
        if "Visibility" in props:
            live["Visibility"] = project.get("projectVisibility", "PRIVATE")
        if "Triggers" in props:
            webhook = project.get("webhook")
            live["Triggers"] = {"Webhook": False} if not webhook else {
                **from_api("codebuild", "Webhook", webhook, {k: v for k, v in props["Triggers"].items() if k != "Webhook"}),
                "Webhook": True}
        return live


def _check(props: dict) -> None:
    refuse(Project.type_name, props, _UNSUPPORTED)
    refuse(f"{Project.type_name} Environment", props.get("Environment") or {}, _UNSUPPORTED_ENVIRONMENT)
    if str(props.get("Visibility") or "PRIVATE") != "PRIVATE":
        raise HandlerError(f"{Project.type_name} property Visibility is not supported by labstack: public build "
                           "projects are not served (UpdateProjectVisibility), only PRIVATE is")


def _project_request(props: dict, operation: str) -> dict:
    return to_api("codebuild", operation, props, drop=_NOT_PROJECT)


def _webhook_wanted(props: dict) -> bool:
    triggers = props.get("Triggers") or {}
    return str(triggers.get("Webhook", False)).lower() == "true"


def _webhook_request(project: str, triggers: dict, operation: str) -> dict:
    fields = {k: v for k, v in triggers.items() if k != "Webhook"}
    if operation == "UpdateWebhook":
        fields = {k: v for k, v in fields.items() if k not in _WEBHOOK_FIXED}
        fields.setdefault("FilterGroups", [])  # filter groups dropped from the template go from the webhook
    return {**to_api("codebuild", operation, fields), "projectName": project}


class ReportGroup(ResourceType):
    """AWS::CodeBuild::ReportGroup."""

    type_name = "AWS::CodeBuild::ReportGroup"

    def create(self, ctx: Context, props: dict) -> Result:
        name = props.get("Name") or ctx.name(128)
        request = to_api("codebuild", "CreateReportGroup", {**props, "Name": name}, drop=("DeleteReports",))
        arn = ctx.client("codebuild").create_report_group(**request)["reportGroup"]["arn"]
        return Result(arn, {"Arn": arn})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        fields: dict[str, Any] = {"ExportConfig": new["ExportConfig"], "Tags": new.get("Tags") or []}
        ctx.client("codebuild").update_report_group(arn=physical_id, **to_api("codebuild", "UpdateReportGroup", fields))
        return Result(physical_id, {"Arn": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        delete_reports = str(props.get("DeleteReports", False)).lower() == "true"
        with gone_ok("ResourceNotFoundException"):
            ctx.client("codebuild").delete_report_group(arn=physical_id, deleteReports=delete_reports)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        found = ctx.client("codebuild").batch_get_report_groups(reportGroupArns=[physical_id]).get("reportGroups") or []
        if not found:
            return None
        return from_api("codebuild", "ReportGroup", found[0], {k: v for k, v in props.items() if k != "DeleteReports"})


TYPES: list[ResourceType] = [Project(), ReportGroup()]
