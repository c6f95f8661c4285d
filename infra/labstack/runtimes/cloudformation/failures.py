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
import threading
from typing import Any

log = logging.getLogger("labstack.cloudformation")
_lock = threading.Lock()
_installed = False


class ResourceFailed(Exception):
    """A resource CloudFormation could not create or update, and why (its ResourceStatusReason)."""

    def __init__(self, logical_id: str, resource_type: str, reason: str, action: str = "CREATE") -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        self.action = action


def roll_back_failures() -> None:
    """Make moto's stacks fail and roll back on :class:`ResourceFailed` (once)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.cloudformation.models import Stack

        create, update, delete = Stack.create_resources, Stack.update, Stack.delete

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
            _keep_what_is_left(self)

        Stack.create_resources = create_resources  # type: ignore[method-assign]
        Stack.delete = delete_stack  # type: ignore[method-assign]
        Stack.update = update_stack  # type: ignore[method-assign]
        _installed = True


def _resource_event(stack: Any, failed: ResourceFailed) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(Event(stack.stack_id, stack.name, failed.logical_id, "", failed.resource_type,
                              f"{failed.action}_FAILED", failed.reason, None))


def _roll_back_creation(stack: Any, failed: ResourceFailed) -> None:
    """The failed resource's event, then every resource made so far deleted."""
    _resource_event(stack, failed)
    reason = f"The following resource(s) failed to create: [{failed.logical_id}]. Rollback requested by user."
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    resources = stack.resource_map
    try:
        resources.delete()
        stack.status = "ROLLBACK_COMPLETE"
    except Exception as error:  # noqa: BLE001 - whatever a deletion raised; what stays is kept, as on AWS
        log.warning("stack %s: rollback could not delete every resource: %s", stack.name, error)
        stack.status = "ROLLBACK_FAILED"
    _keep_what_is_left(stack)
    stack.stack_status_reason = reason
    stack._add_stack_event(stack.status)


def _keep_what_is_left(stack: Any) -> None:
    """Only the resources still made stay in the stack, and no outputs (which would make the others again)."""
    from moto.cloudformation.parsing import OutputMap

    resources = stack.resource_map
    resources._resource_json_map = {name: body for name, body in resources._resource_json_map.items()
                                    if name in resources._parsed_resources}
    stack.output_map = OutputMap(resources, {"Outputs": {}}, stack.stack_id)


def _roll_back_update(stack: Any, failed: ResourceFailed, template: str, parameters: dict[str, Any]) -> None:
    """The failed resource's event, then the previous template applied again."""
    _resource_event(stack, failed)
    reason = f"The following resource(s) failed to {failed.action.lower()}: [{failed.logical_id}]."
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    stack.template = template
    stack._parse_template()
    try:
        stack.resource_map.update(stack.template_dict, parameters)
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    except Exception as error:  # noqa: BLE001 - whatever a resource raised; the stack says it failed
        log.warning("stack %s: the update could not be rolled back: %s", stack.name, error)
        stack.status = "UPDATE_ROLLBACK_FAILED"
    stack.output_map = stack._create_output_map()
    stack.stack_status_reason = reason
    stack._add_stack_event(stack.status)
