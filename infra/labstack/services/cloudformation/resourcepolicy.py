"""The shape AWS::SNS::TopicPolicy and AWS::SQS::QueuePolicy share: one policy document set on each of a
list of resources, taken off those the template no longer names, and off all of them on deletion."""

from __future__ import annotations

from typing import Any, ClassVar

from labstack.services.cloudformation.properties import gone_ok, only, parsed
from labstack.services.cloudformation.resource import Context, ResourceType, Result


class PolicyOnEach(ResourceType):
    """A policy resource: Ref is a generated id. Subclasses name the list property (``targets``), the
    error codes of a target that is gone, and how to set, clear and get a target's policy."""

    targets: ClassVar[str] = ""
    gone: ClassVar[tuple[str, ...]] = ()

    def set_policy(self, ctx: Context, target: str, policy: str) -> None:
        """Put ``policy`` (JSON text) on ``target``."""
        raise NotImplementedError

    def clear_policy(self, ctx: Context, target: str) -> None:
        """Give ``target`` back the policy it has without this resource."""
        raise NotImplementedError

    def get_policy(self, ctx: Context, target: str) -> Any:
        """``target``'s policy as JSON text (None or empty without one)."""
        raise NotImplementedError

    def _apply(self, ctx: Context, new: dict, old: dict) -> None:
        keep = new.get(self.targets) or []
        for target in old.get(self.targets) or []:
            if target not in keep:
                with gone_ok(*self.gone):
                    self.clear_policy(ctx, target)
        for target in keep:
            self.set_policy(ctx, target, new["PolicyDocument"])

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, ("PolicyDocument", self.targets), ctx)
        self._apply(ctx, props, {})
        return Result(ctx.name(128))

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, ("PolicyDocument", self.targets), ctx)
        self._apply(ctx, new, old)
        return Result(physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        self._apply(ctx, {}, props)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        for target in props.get(self.targets) or []:
            with gone_ok(*self.gone):
                policy = self.get_policy(ctx, target)
                return {"PolicyDocument": parsed(policy), self.targets: list(props[self.targets])} if policy else None
        return None
