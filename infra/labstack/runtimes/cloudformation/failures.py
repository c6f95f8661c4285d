"""A stack resource that fails, and the stack rolled back, as CloudFormation does.

moto's CloudFormation has no failed resource: an exception while it creates one escapes
CreateStack as a 500 and leaves the stack ``CREATE_IN_PROGRESS``. A resource creation that
raises :class:`ResourceFailed` instead gets a ``CREATE_FAILED`` (or ``UPDATE_FAILED``) event
with its reason, and the stack is rolled back: a new stack's resources made so far are deleted
(``ROLLBACK_COMPLETE``), an update is undone by applying the previous template again
(``UPDATE_ROLLBACK_COMPLETE``). Other exceptions still go as moto lets them.

moto makes a stack's resources lazily, on first use: a rolled-back or deleted stack described
by its id would make again what its outputs name. Such a stack keeps no resources or outputs.
"""

from __future__ import annotations

import logging
from typing import Any

from labstack import motobridge

log = logging.getLogger("labstack.cloudformation")


class ResourceFailed(Exception):
    """A resource CloudFormation could not create or update, and why (its ResourceStatusReason)."""

    def __init__(self, logical_id: str, resource_type: str, reason: str, action: str = "CREATE") -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        self.action = action


def stack(model: Any, **_: Any) -> dict[str, Any]:
    """moto's ``Stack`` failing and rolling back on :class:`ResourceFailed` (the seam installs it)."""
    create, update, delete = model.create_resources, model.update, model.delete

    def create_resources(self: Any) -> None:
        try:
            create(self)
        except ResourceFailed as failed:
            _roll_back_creation(self, failed)

    def update_stack(self: Any, template: str, role_arn: str | None = None,
                     parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
        previous = (self.template, dict(self.resource_map.input_parameters))
        try:
            update(self, template, role_arn, parameters=parameters, tags=tags)
        except ResourceFailed as failed:
            _roll_back_update(self, failed, *previous)

    def delete_stack(self: Any) -> None:
        delete(self)
        motobridge.stack_keeps_made_only(self)

    return {"create_resources": create_resources, "update": update_stack, "delete": delete_stack}


def _resource_event(stack: Any, failed: ResourceFailed) -> None:
    motobridge.resource_event(stack, failed.logical_id, failed.resource_type, f"{failed.action}_FAILED", failed.reason)


def _roll_back_creation(stack: Any, failed: ResourceFailed) -> None:
    """The failed resource's event, then every resource made so far deleted."""
    _resource_event(stack, failed)
    reason = f"The following resource(s) failed to create: [{failed.logical_id}]. Rollback requested by user."
    stack.status = "ROLLBACK_IN_PROGRESS"
    motobridge.stack_event(stack, "ROLLBACK_IN_PROGRESS", reason)
    resources = stack.resource_map
    try:
        resources.delete()
        stack.status = "ROLLBACK_COMPLETE"
    except Exception as error:  # noqa: BLE001 - whatever a deletion raised; what stays is kept, as on AWS
        log.warning("stack %s: rollback could not delete every resource: %s", stack.name, error)
        stack.status = "ROLLBACK_FAILED"
    motobridge.stack_keeps_made_only(stack)
    stack.stack_status_reason = reason
    motobridge.stack_event(stack, stack.status)


def _roll_back_update(stack: Any, failed: ResourceFailed, template: str, parameters: dict[str, Any]) -> None:
    """The failed resource's event, then the previous template applied again."""
    _resource_event(stack, failed)
    reason = f"The following resource(s) failed to {failed.action.lower()}: [{failed.logical_id}]."
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    motobridge.stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    motobridge.stack_template(stack, template)
    try:
        stack.resource_map.update(stack.template_dict, parameters)
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    except Exception as error:  # noqa: BLE001 - whatever a resource raised; the stack says it failed
        log.warning("stack %s: the update could not be rolled back: %s", stack.name, error)
        stack.status = "UPDATE_ROLLBACK_FAILED"
    motobridge.stack_outputs(stack)
    stack.stack_status_reason = reason
    motobridge.stack_event(stack, stack.status)
