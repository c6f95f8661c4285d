"""AWS::CodeStarConnections::Connection (and its newer name, AWS::CodeConnections::Connection), made
through the connections API of the same name.

Ref is the connection's ARN; Fn::GetAtt ConnectionArn, ConnectionStatus and OwnerAccountId. Only Tags
can change in place (ConnectionName, ProviderType and HostArn replace the connection). labstack's
connections reach its local GitHub (ProviderType GitHub), so CreateConnection refuses other providers
and hosts with its own message.
"""

from __future__ import annotations

from typing import ClassVar

from botocore.exceptions import ClientError

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.properties import gone_ok
from labstack.services.cloudformation.resource import Context, ResourceType, Result
from labstack.services.cloudformation.types.common import gone, tag_changes


class Connection(ResourceType):
    """AWS::CodeStarConnections::Connection."""

    type_name = "AWS::CodeStarConnections::Connection"
    service: ClassVar[str] = "codestar-connections"

    def create(self, ctx: Context, props: dict) -> Result:
        arn = ctx.client(self.service).create_connection(**to_api(self.service, "CreateConnection", props))["ConnectionArn"]
        return self._result(ctx, arn)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        client = ctx.client(self.service)
        tags, removed = tag_changes(old, new)
        if tags:
            client.tag_resource(ResourceArn=physical_id, Tags=tags)
        if removed:
            client.untag_resource(ResourceArn=physical_id, TagKeys=removed)
        return self._result(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok("ResourceNotFoundException"):
            ctx.client(self.service).delete_connection(ConnectionArn=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        client = ctx.client(self.service)
        try:
            connection = client.get_connection(ConnectionArn=physical_id)["Connection"]
        except ClientError as error:
            if gone(error, "ResourceNotFoundException"):
                return None
            raise
        live = from_api(self.service, "Connection", connection, {k: v for k, v in props.items() if k != "Tags"})
        if "Tags" in props:
            live["Tags"] = client.list_tags_for_resource(ResourceArn=physical_id).get("Tags", [])
        return live

    def _result(self, ctx: Context, arn: str) -> Result:
        connection = ctx.client(self.service).get_connection(ConnectionArn=arn)["Connection"]
        return Result(arn, {"ConnectionArn": arn, "ConnectionStatus": connection["ConnectionStatus"],
                            "OwnerAccountId": connection["OwnerAccountId"]})


class CodeConnectionsConnection(Connection):
    """AWS::CodeConnections::Connection: the same resource through the newer API."""

    type_name = "AWS::CodeConnections::Connection"
    service = "codeconnections"


TYPES: list[ResourceType] = [Connection(), CodeConnectionsConnection()]
