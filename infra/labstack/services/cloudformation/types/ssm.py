"""AWS::SSM::Parameter, made through Systems Manager's API (String and StringList: CloudFormation
cannot make a SecureString parameter)."""

from __future__ import annotations

from labstack.services.cloudformation.properties import (
    document, gone_ok, only, pick, retag, tag_list, tag_map, without_empty,
)
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result

GONE = ("ParameterNotFound",)
OPTIONAL = ("Description", "AllowedPattern", "Tier", "DataType")


def _check(ctx: Context, props: dict) -> None:
    only(Parameter.type_name, props, Parameter.SUPPORTED, ctx)
    if props.get("Type") not in ("String", "StringList"):
        raise HandlerError(f"Type {props.get('Type')!r} is not supported: CloudFormation makes String and StringList "
                           "parameters (SecureString is not supported)")
    if props.get("Value") in (None, ""):
        raise HandlerError("Property Value cannot be empty")


class Parameter(ResourceType):
    """AWS::SSM::Parameter: Ref is the parameter's name; GetAtt Type and Value."""

    type_name = "AWS::SSM::Parameter"
    SUPPORTED = ("Name", "Type", "Value", "Policies", "Tags") + OPTIONAL

    def create(self, ctx: Context, props: dict) -> Result:
        _check(ctx, props)
        name = props.get("Name") or f"CFN-{ctx.logical_id}-{ctx.name().rpartition('-')[2]}"  # AWS's generated form
        params = {"Name": name, "Type": props["Type"], "Value": str(props["Value"]), **pick(props, *OPTIONAL)}
        if props.get("Policies"):
            params["Policies"] = document(props["Policies"])
        if props.get("Tags"):
            params["Tags"] = tag_list(props["Tags"])
        ctx.client("ssm").put_parameter(**params)
        return Result(name, {"Type": props["Type"], "Value": str(props["Value"])})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        _check(ctx, new)
        ssm = ctx.client("ssm")
        params = {"Name": physical_id, "Type": new["Type"], "Value": str(new["Value"]), "Overwrite": True,
                  "Description": new.get("Description", ""), **pick(new, "AllowedPattern", "Tier", "DataType")}
        if new.get("Policies"):
            params["Policies"] = document(new["Policies"])
        ssm.put_parameter(**params)
        tagged = {"ResourceType": "Parameter", "ResourceId": physical_id}
        retag(old, new, lambda remove: ssm.remove_tags_from_resource(**tagged, TagKeys=remove),
              lambda put: ssm.add_tags_to_resource(**tagged, Tags=tag_list(put)))
        return Result(physical_id, {"Type": new["Type"], "Value": str(new["Value"])})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok(*GONE):
            ctx.client("ssm").delete_parameter(Name=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        ssm = ctx.client("ssm")
        with gone_ok(*GONE):
            value = ssm.get_parameter(Name=physical_id)["Parameter"]
            found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [physical_id]}])["Parameters"]
            meta = found[0] if found else {}
            tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=physical_id).get("TagList", [])
            live = without_empty({"Name": physical_id, "Type": value["Type"], "Value": value["Value"],
                                  "Description": meta.get("Description"), "AllowedPattern": meta.get("AllowedPattern"),
                                  "Tier": meta.get("Tier") if "Tier" in props else None,
                                  "DataType": value.get("DataType") if "DataType" in props else None})
            if tags or "Tags" in props:  # a map in this type's template form
                live["Tags"] = tag_map(tags) if isinstance(props.get("Tags"), dict) else tag_list(tags)
            return live
        return None


TYPES: list[ResourceType] = [Parameter()]
