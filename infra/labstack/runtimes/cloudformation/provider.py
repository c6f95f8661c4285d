"""CloudFormation's overlay: stacks are moto's, created once moto's resource models take
every property the base stack relies on (``resources.complete_moto``)."""

from __future__ import annotations

from typing import Any

from labstack.context import RequestContext
from labstack.protocol.provider import Provider
from labstack.runtimes.cloudformation.resources import complete_moto


class CloudFormationOverlay(Provider):
    """CreateStack, UpdateStack and CreateChangeSet go to moto after ``complete_moto``."""

    service = "cloudformation"
    overlay = True

    def _moto(self, ctx: RequestContext) -> Any:
        complete_moto()
        self.labstack.moto.prepare("iam", ctx.account, ctx.partition)  # AWS's managed policies, to attach
        return self.labstack.clients.moto("cloudformation", ctx.account, ctx.region)

    def create_stack(self, ctx: RequestContext, request: dict) -> dict:
        return _plain(self._moto(ctx).create_stack(**request))

    def update_stack(self, ctx: RequestContext, request: dict) -> dict:
        return _plain(self._moto(ctx).update_stack(**request))

    def create_change_set(self, ctx: RequestContext, request: dict) -> dict:
        return _plain(self._moto(ctx).create_change_set(**request))


def _plain(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


PROVIDER = CloudFormationOverlay
