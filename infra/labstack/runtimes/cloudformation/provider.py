"""CloudFormation's overlay: stacks are moto's, whose resource models take every property the base
stack relies on (``resources``, installed by the seam when moto first serves CloudFormation); where
LocalStack is the upstream, a stack's roles, log groups, buckets, topics, queues and SSM parameters
are made there and its other resources of LocalStack's services fail (``upstream_resources``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack.enforcement import roles
from labstack.errors import AwsError
from labstack.motobridge import apply_patches
from labstack.protocol.provider import Provider


class CloudFormationOverlay(Provider):
    """CreateStack, UpdateStack, CreateChangeSet and DeleteStack go to moto, with a stack role (RoleARN)
    CloudFormation can assume."""

    service = "cloudformation"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.upstream = labstack.clients.upstream_serves("iam")
        if self.upstream:  # moto's Lambda looks its roles up from the first request on
            apply_patches("upstream", clients=labstack.clients)

    def _moto(self, ctx: RequestContext, operation: str, request: dict) -> dict:
        if not self.upstream:
            self.labstack.moto.prepare("iam", ctx.account, ctx.partition)  # AWS's managed policies, to attach
        client = self.labstack.clients.moto("cloudformation", ctx.account, ctx.region)
        try:
            answer: dict[str, Any] = getattr(client, operation)(**request)
        except ClientError as error:  # moto's own error, answered as moto gave it
            raise AwsError(error.response["Error"]["Code"], error.response["Error"].get("Message", ""),
                           error.response["ResponseMetadata"]["HTTPStatusCode"]) from None
        return without_metadata(answer)

    def _assumable(self, ctx: RequestContext, request: dict) -> None:
        """A stack's service role (RoleARN) must be one CloudFormation can assume: AWS's ValidationError
        otherwise. (The stack's resources are still made by moto, not as that role's session.)"""
        role = request.get("RoleARN")
        if not role or self.upstream:  # with --upstream the role lives there, out of the evaluator's reach
            return
        try:
            session = roles.assume(self.labstack, "cloudformation.amazonaws.com", role,
                                   f"cloudformation:{request['StackName']}", seconds=60)
        except roles.RoleRefused:
            raise AwsError("ValidationError", f"Role {role} is invalid or cannot be assumed", 400) from None
        self.labstack.keyring.revoke(session.access_key)

    def create_stack(self, ctx: RequestContext, request: dict) -> dict:
        self._assumable(ctx, request)
        return self._moto(ctx, "create_stack", request)

    def update_stack(self, ctx: RequestContext, request: dict) -> dict:
        self._assumable(ctx, request)
        return self._moto(ctx, "update_stack", request)

    def create_change_set(self, ctx: RequestContext, request: dict) -> dict:
        self._assumable(ctx, request)
        return self._moto(ctx, "create_change_set", request)

    def delete_stack(self, ctx: RequestContext, request: dict) -> dict:
        self._assumable(ctx, request)
        return self._moto(ctx, "delete_stack", request)


PROVIDER = CloudFormationOverlay
