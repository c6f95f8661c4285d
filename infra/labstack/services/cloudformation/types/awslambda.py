"""AWS::Lambda::Function, Permission, Version and Alias, made through Lambda's API (labstack runs the
functions it makes)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from labstack.services.cloudformation.convert import to_api
from labstack.services.cloudformation.properties import (
    changed, gone_ok, only, parsed, pick, retag, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, Result, ResourceType

GONE = ("ResourceNotFoundException",)
SETTLE_LAB_SECONDS = 300
CONFIGURATION = ("Role", "Handler", "Runtime", "Description", "Timeout", "MemorySize", "Environment",
                 "EphemeralStorage")
DEFAULTS = {"Description": "", "Timeout": 3, "MemorySize": 128, "Environment": {"Variables": {}},
            "EphemeralStorage": {"Size": 512}}  # what Lambda gives a function that names none


def inline_zip(runtime: str, source: str) -> bytes:
    """``Code.ZipFile``'s source zipped as CloudFormation does: one file named ``index`` with the
    runtime's extension (.py for Python, .js for Node.js, the only runtimes inline code is for)."""
    if runtime.startswith("python"):
        name = "index.py"
    elif runtime.startswith("nodejs"):
        name = "index.js"
    else:
        raise HandlerError(f"ZipFile is only supported for Node.js and Python runtimes, not {runtime or 'no runtime'}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def _code(props: dict) -> dict[str, Any]:
    """The ``Code`` property as CreateFunction's ``Code`` (UpdateFunctionCode takes the same members)."""
    code = props.get("Code")
    if not isinstance(code, dict) or not code:
        raise HandlerError("Property Code cannot be empty.")
    only("AWS::Lambda::Function Code", code, ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion"))
    if "ZipFile" in code:
        if len(code) > 1:
            raise HandlerError("Code: ZipFile cannot be combined with S3Bucket, S3Key or S3ObjectVersion")
        return {"ZipFile": inline_zip(str(props.get("Runtime", "")), str(code["ZipFile"]))}
    if "S3Bucket" not in code or "S3Key" not in code:
        raise HandlerError("Code needs ZipFile, or S3Bucket and S3Key")
    return pick(code, "S3Bucket", "S3Key", "S3ObjectVersion")


def _settled(ctx: Context, name: str, what: str) -> dict:
    """The function's configuration once Lambda has finished creating or updating it."""
    lam = ctx.client("lambda")
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen.update(lam.get_function_configuration(FunctionName=name))
        if seen.get("State") == "Failed" or seen.get("LastUpdateStatus") == "Failed":
            raise HandlerError(f"{what} failed: {seen.get('StateReason') or seen.get('LastUpdateStatusReason')}",
                               "NotStabilized")
        return seen.get("State", "Active") == "Active" and seen.get("LastUpdateStatus", "Successful") == "Successful"

    ctx.wait(done, SETTLE_LAB_SECONDS, what)
    return seen


class Function(ResourceType):
    """AWS::Lambda::Function: Ref is the function's name; GetAtt Arn."""

    type_name = "AWS::Lambda::Function"
    SUPPORTED = ("Code", "FunctionName", "Tags", "PackageType", "Architectures") + CONFIGURATION

    def create(self, ctx: Context, props: dict) -> Result:
        self._check(ctx, props)
        name = props.get("FunctionName") or ctx.name(64)
        params = to_api("lambda", "CreateFunction", {**props, "FunctionName": name}, drop=("Code",))
        made = ctx.client("lambda").create_function(**params, Code=_code(props))
        _settled(ctx, name, f"Function {name}")
        return Result(name, {"Arn": made["FunctionArn"]})

    def _check(self, ctx: Context, props: dict) -> None:
        only(self.type_name, props, self.SUPPORTED, ctx)
        if props.get("PackageType", "Zip") != "Zip":
            raise HandlerError("labstack's AWS::Lambda::Function supports PackageType Zip only (no container images)")
        for key in ("Handler", "Runtime", "Role"):
            if not props.get(key):
                raise HandlerError(f"Property {key} is required for a Zip function")

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        self._check(ctx, new)
        lam = ctx.client("lambda")
        if changed(old, new, *CONFIGURATION):
            config = {key: new.get(key, DEFAULTS.get(key)) for key in CONFIGURATION if changed(old, new, key)}
            lam.update_function_configuration(**to_api("lambda", "UpdateFunctionConfiguration", {
                "FunctionName": physical_id, **{k: v for k, v in config.items() if v is not None}}))
            _settled(ctx, physical_id, f"Function {physical_id}")
        if changed(old, new, "Code", "Architectures") or (changed(old, new, "Runtime") and "ZipFile" in new["Code"]):
            lam.update_function_code(FunctionName=physical_id, **_code(new), **pick(new, "Architectures"))
            _settled(ctx, physical_id, f"Function {physical_id}")
        arn = lam.get_function_configuration(FunctionName=physical_id)["FunctionArn"]
        retag(old, new, lambda remove: lam.untag_resource(Resource=arn, TagKeys=remove),
              lambda put: lam.tag_resource(Resource=arn, Tags=put))
        return Result(physical_id, {"Arn": arn})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("lambda").delete_function(FunctionName=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        lam = ctx.client("lambda")
        with gone_ok(*GONE):
            found = lam.get_function(FunctionName=physical_id)
            config = found["Configuration"]
            live = {"FunctionName": config["FunctionName"], "Role": config.get("Role"),
                    "Handler": config.get("Handler"), "Runtime": config.get("Runtime"),
                    "Description": config.get("Description") or None, "Timeout": config.get("Timeout"),
                    "MemorySize": config.get("MemorySize"), "PackageType": config.get("PackageType"),
                    "Architectures": config.get("Architectures"),
                    "Environment": {"Variables": config["Environment"]["Variables"]}
                    if config.get("Environment", {}).get("Variables") else None,
                    "Tags": [{"Key": k, "Value": v} for k, v in (found.get("Tags") or {}).items()] or None}
            return without_empty({k: v for k, v in live.items() if k in props or k in ("FunctionName", "Role")})
        return None


class Permission(ResourceType):
    """AWS::Lambda::Permission: one statement of the function's resource policy; Ref is its id."""

    type_name = "AWS::Lambda::Permission"
    SUPPORTED = ("Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "EventSourceToken",
                 "PrincipalOrgID", "FunctionUrlAuthType")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        statement = ctx.name(100)
        ctx.client("lambda").add_permission(**to_api("lambda", "AddPermission", {**props, "StatementId": statement}))
        return Result(statement)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("lambda").remove_permission(FunctionName=props["FunctionName"], StatementId=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        with gone_ok(*GONE):
            policy = parsed(ctx.client("lambda").get_policy(FunctionName=props["FunctionName"])["Policy"])
            for statement in policy.get("Statement", []):
                if statement.get("Sid") == physical_id:
                    principal = statement.get("Principal", {})
                    condition = statement.get("Condition", {})
                    return without_empty({
                        "FunctionName": props["FunctionName"], "Action": statement.get("Action"),
                        "Principal": principal.get("Service") or principal.get("AWS") if isinstance(principal, dict)
                        else principal,
                        "SourceArn": condition.get("ArnLike", {}).get("AWS:SourceArn"),
                        "SourceAccount": condition.get("StringEquals", {}).get("AWS:SourceAccount")})
        return None


class Version(ResourceType):
    """AWS::Lambda::Version: Ref is the version's ARN; GetAtt Version and FunctionArn."""

    type_name = "AWS::Lambda::Version"
    SUPPORTED = ("FunctionName", "Description", "CodeSha256")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        lam = ctx.client("lambda")
        _settled(ctx, props["FunctionName"], f"Function {props['FunctionName']}")
        made = lam.publish_version(**to_api("lambda", "PublishVersion", props))
        return Result(made["FunctionArn"], {"Version": made["Version"], "FunctionArn": made["FunctionArn"]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        function, _, version = physical_id.rpartition(":")
        with gone_ok(*GONE):
            ctx.client("lambda").delete_function(FunctionName=function, Qualifier=version)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        function, _, version = physical_id.rpartition(":")
        with gone_ok(*GONE):
            config = ctx.client("lambda").get_function_configuration(FunctionName=function, Qualifier=version)
            return without_empty({"FunctionName": props.get("FunctionName"), "Description": config.get("Description")
                                  if "Description" in props else None,
                                  "CodeSha256": config.get("CodeSha256") if "CodeSha256" in props else None})
        return None


def _routing(props: dict) -> dict:
    """An alias's RoutingConfig (``[{FunctionVersion, FunctionWeight}]``) as the API's version -> weight map."""
    weights = (props.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    try:
        return {"AdditionalVersionWeights": {str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights}}
    except (KeyError, TypeError, ValueError):
        raise HandlerError("RoutingConfig.AdditionalVersionWeights: each needs FunctionVersion and a numeric "
                           "FunctionWeight") from None


class Alias(ResourceType):
    """AWS::Lambda::Alias with weighted routing: Ref is the alias's ARN; GetAtt AliasArn."""

    type_name = "AWS::Lambda::Alias"
    SUPPORTED = ("FunctionName", "FunctionVersion", "Name", "Description", "RoutingConfig")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        made = ctx.client("lambda").create_alias(
            **to_api("lambda", "CreateAlias", props, drop=("RoutingConfig",)), RoutingConfig=_routing(props))
        return Result(made["AliasArn"], {"AliasArn": made["AliasArn"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        made = ctx.client("lambda").update_alias(
            FunctionName=new["FunctionName"], Name=new["Name"], FunctionVersion=str(new["FunctionVersion"]),
            Description=new.get("Description", ""), RoutingConfig=_routing(new))
        return Result(made["AliasArn"], {"AliasArn": made["AliasArn"]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("lambda").delete_alias(FunctionName=props["FunctionName"], Name=props["Name"])

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        with gone_ok(*GONE):
            alias = ctx.client("lambda").get_alias(FunctionName=props["FunctionName"], Name=props["Name"])
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            return without_empty({
                "FunctionName": props["FunctionName"], "Name": alias["Name"],
                "FunctionVersion": alias["FunctionVersion"], "Description": alias.get("Description") or None,
                "RoutingConfig": {"AdditionalVersionWeights": [
                    {"FunctionVersion": k, "FunctionWeight": v} for k, v in weights.items()]} if weights else None})
        return None


TYPES: list[ResourceType] = [Function(), Permission(), Version(), Alias()]
