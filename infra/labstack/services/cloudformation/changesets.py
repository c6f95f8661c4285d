"""Change sets: a stack update planned, shown, then run (or thrown away).

CreateChangeSet plans the submitted template against the stack (``plan``): ChangeSetType CREATE makes a
new stack in REVIEW_IN_PROGRESS, UPDATE plans against the stack's resources. A plan with nothing to do
fails with AWS's reason. ExecuteChangeSet runs the planned template through the stack operations
(CreateStack's or UpdateStack's path), and CloudFormation then deletes the stack's other change sets;
a stack updated another way leaves its change sets OBSOLETE. With IncludeNestedStacks, each nested stack the
update modifies gets a change set of its own (linked from its change, run with the root's). AWS's pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.paging import page
from labstack.services.cloudformation import parameters
from labstack.services.cloudformation.document import Document
from labstack.services.cloudformation.plan import NESTED_STACK, Side, changes
from labstack.services.cloudformation.resource import HandlerError
from labstack.services.cloudformation.stacks import Stack, now
from labstack.services.cloudformation.template import TemplateError
from labstack.services.cloudformation.types.cloudformation import nested_parameters
from labstack.state import AccountRegionStore

if TYPE_CHECKING:
    from labstack.services.cloudformation.provider import CloudFormationProvider

NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
MAX_PER_STACK = 100
"""Change sets kept per stack (labstack's bound; more are refused with LimitExceededException)."""
PAGE = 100
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def updatable() -> tuple[str, ...]:
    """The stack statuses an update (and so an UPDATE change set) may start from: UpdateStack's."""
    from labstack.services.cloudformation.provider import UPDATABLE  # the provider imports this module

    return UPDATABLE


@dataclass
class ChangeSet:
    """One change set: what was submitted, what the plan found, where it stands."""

    change_set_id: str
    name: str
    stack: Stack
    kind: str  # CREATE or UPDATE
    template_body: str
    template: dict
    resolved: dict[str, Any]
    request: dict
    caller_key: str | None
    stack_updated: dt.datetime | None  # the stack's LastUpdatedTime when planned: a later update obsoletes it
    created: dt.datetime = field(default_factory=now)
    status: str = "CREATE_PENDING"
    reason: str | None = None
    execution: str = "UNAVAILABLE"
    changes: list[dict] = field(default_factory=list)
    parent: "ChangeSet | None" = None  # a nested change set's parent and root (IncludeNestedStacks)
    root: "ChangeSet | None" = None

    def execution_status(self) -> str:
        """ExecutionStatus now: an execution finishes with its stack; a stack changed since is OBSOLETE; a nested
        change set runs with its root."""
        if self.root is not None:
            return self.root.execution_status()
        if self.execution == "EXECUTE_IN_PROGRESS" and not self.stack.busy and self.stack.status != "REVIEW_IN_PROGRESS":
            self.execution = "EXECUTE_COMPLETE" if self.stack.status in _DONE else "EXECUTE_FAILED"
        if self.execution == "AVAILABLE" and self.stack.updated != self.stack_updated:
            self.execution = "OBSOLETE"
        return self.execution

    def summary(self) -> dict:
        """ListChangeSets' ChangeSetSummary."""
        row: dict[str, Any] = {"StackId": self.stack.stack_id, "StackName": self.stack.name,
                               "ChangeSetId": self.change_set_id, "ChangeSetName": self.name,
                               "ExecutionStatus": self.execution_status(), "Status": self.status,
                               "CreationTime": self.created,
                               "IncludeNestedStacks": bool(self.request.get("IncludeNestedStacks"))}
        if self.reason:
            row["StatusReason"] = self.reason
        if self.request.get("Description"):
            row["Description"] = self.request["Description"]
        return row | self.lineage()

    def lineage(self) -> dict:
        """ParentChangeSetId and RootChangeSetId of a nested change set (nothing for a root)."""
        if self.parent is None or self.root is None:
            return {}
        return {"ParentChangeSetId": self.parent.change_set_id, "RootChangeSetId": self.root.change_set_id}

    def family(self, held: dict[str, "ChangeSet"]) -> list["ChangeSet"]:
        """This root change set and its nested ones."""
        return [self] + [c for c in held.values() if c.root is self]


class ChangeSets:
    """Every account's change sets and the operations on them (the provider's methods delegate here)."""

    def __init__(self, provider: "CloudFormationProvider") -> None:
        self.provider = provider
        self.store: AccountRegionStore[dict[str, ChangeSet]] = AccountRegionStore(dict)

    def reset(self) -> None:
        self.store.reset()

    # -- finding ------------------------------------------------------------------------------
    def find(self, ctx: RequestContext, name: str, stack_name: str | None) -> ChangeSet:
        """The change set by ARN, or by name on the stack; AWS's ChangeSetNotFound otherwise."""
        if not name.startswith("arn:") and not stack_name:
            raise AwsError("ValidationError", "StackName must be specified if ChangeSetName is not specified as an ARN.")
        held = self.store.get(ctx.account, ctx.region)
        with self.store.lock:
            found = held.get(name) if name.startswith("arn:") else next(
                (c for c in held.values() if c.name == name and stack_name in (c.stack.name, c.stack.stack_id)), None)
        if found is None or found.stack.is_deleted:
            raise AwsError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", 404)
        return found

    def of_stack(self, stack: Stack) -> list[ChangeSet]:
        """The stack's change sets, oldest first."""
        held = self.store.get(stack.account, stack.region)
        with self.store.lock:
            return [c for c in held.values() if c.stack is stack]

    # -- operations ---------------------------------------------------------------------------
    def create(self, ctx: RequestContext, request: dict) -> dict:
        """CreateChangeSet: plan the submitted template against the stack (a new one in REVIEW_IN_PROGRESS
        for ChangeSetType CREATE)."""
        kind = request.get("ChangeSetType") or "UPDATE"
        if kind not in ("CREATE", "UPDATE"):
            raise AwsError("ValidationError", f"labstack does not support ChangeSetType {kind} (resource import)")
        name, stack_name = request["ChangeSetName"], request["StackName"]
        provider = self.provider
        stack = provider.stacks.live(ctx.account, ctx.region, stack_name)
        if kind == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise AwsError("ValidationError", f"Stack [{stack_name}] already exists and cannot be created again "
                                                  f"with the changeSet [{name}].")
            if request.get("UsePreviousTemplate"):
                raise AwsError("ValidationError", "UsePreviousTemplate cannot be used with ChangeSetType CREATE")
        elif stack is None:
            raise AwsError("ValidationError", f"Stack [{stack_name}] does not exist")
        elif stack.status == "REVIEW_IN_PROGRESS":
            raise AwsError("ValidationError", f"Stack [{stack_name}] does not exist")  # only a change set made it
        elif stack.status not in updatable():
            raise AwsError("ValidationError", f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
        if stack is not None:
            existing = self.of_stack(stack)
            if any(c.name == name for c in existing):
                raise AwsError("AlreadyExistsException", f"ChangeSet [{name}] already exists")
            if len(existing) >= MAX_PER_STACK:
                raise AwsError("LimitExceededException", f"Stack [{stack_name}] has {MAX_PER_STACK} change sets, "
                                                         "labstack's limit: delete some first")
        text, template, resolved, stack = self._submitted(ctx, request, stack, kind)
        change_set = ChangeSet(
            f"arn:{ctx.partition}:cloudformation:{ctx.region}:{ctx.account}:changeSet/{name}/{uuid.uuid4()}", name,
            stack, kind, text, template, resolved,
            {k: v for k, v in request.items() if k not in ("TemplateBody", "TemplateURL")}, ctx.access_key, stack.updated)
        with self.store.lock:
            held = self.store.get(ctx.account, ctx.region)
            for gone in [k for k, c in held.items() if c.stack.is_deleted]:  # a deleted stack's go with it
                del held[gone]
            held[change_set.change_set_id] = change_set
        self._plan(ctx, change_set)
        return {"Id": change_set.change_set_id, "StackId": stack.stack_id}

    def _submitted(self, ctx: RequestContext, request: dict, stack: Stack | None,
                   kind: str) -> tuple[str, dict, dict, Stack]:
        """The change set's template text, template and resolved parameters, and its stack (a new one in
        REVIEW_IN_PROGRESS for the first CREATE change set)."""
        provider = self.provider
        if stack is None:
            stack = provider.new_stack(ctx, request["StackName"], request)
            stack.caller_key = ctx.access_key
            stack.settled.set()  # no operation runs on it until the change set is executed
            provider.stacks.add(stack)
            # AWS's console shows a REVIEW_IN_PROGRESS event; botocore's ResourceStatus has no such value: no event
            stack.status, stack.reason = "REVIEW_IN_PROGRESS", "User Initiated"
            return stack.template_body, stack.template, stack.resolved, stack
        if request.get("UsePreviousTemplate"):
            text, template = stack.template_body, stack.template
        else:
            text, template = provider.load(ctx, request)
        previous = parameters.stored_values(stack.resolved) if kind == "UPDATE" else None
        resolved = provider.prepare(ctx, stack, template, list(request.get("Parameters") or []), previous,
                                    list(request.get("Capabilities") or []))
        return text, template, resolved, stack

    def _plan(self, ctx: RequestContext, change_set: ChangeSet) -> None:
        """Work out the change set's Changes (and its nested change sets): CREATE_COMPLETE and AVAILABLE, or
        FAILED with the reason."""
        change_set.status = "CREATE_IN_PROGRESS"
        stack = change_set.stack
        try:
            new = self._side(stack, change_set.template, change_set.resolved, held=stack.resources)
            old = Side({}, {}) if change_set.kind == "CREATE" else self._side(stack, stack.template, stack.resolved,
                                                                              held=stack.resources, current=True)
            change_set.changes = changes(old, new)
            if change_set.request.get("IncludeNestedStacks") and change_set.kind == "UPDATE":
                self._nested(ctx, change_set, new)
        except (TemplateError, AwsError, HandlerError) as error:
            change_set.status, change_set.reason = "FAILED", error.message
            return
        tags = change_set.request.get("Tags")
        same = (change_set.parent is None and change_set.kind == "UPDATE" and not change_set.changes
                and change_set.template == stack.template
                and parameters.stored_values(change_set.resolved) == parameters.stored_values(stack.resolved)
                and (tags is None or list(tags) == stack.tags))
        if same:
            change_set.status, change_set.reason = "FAILED", NO_CHANGES
            return
        change_set.status, change_set.execution = "CREATE_COMPLETE", "AVAILABLE"

    def _nested(self, ctx: RequestContext, change_set: ChangeSet, new: Side) -> None:
        """A change set of each nested stack the update modifies, planned from the template and parameters its
        AWS::CloudFormation::Stack resource will have; its id goes on that resource's change."""
        root = change_set.root or change_set
        for change in change_set.changes:
            row = change["ResourceChange"]
            child = self.provider.stacks.live(ctx.account, ctx.region, row.get("PhysicalResourceId") or "")
            props = new.properties.get(row["LogicalResourceId"])
            if row["ResourceType"] != NESTED_STACK or row["Action"] != "Modify" or child is None or not props:
                continue
            request = {"StackName": child.stack_id, "ChangeSetName": f"{root.name}-{row['LogicalResourceId']}",
                       "TemplateURL": props.get("TemplateURL"), "Parameters": nested_parameters(props),
                       "Capabilities": list(change_set.request.get("Capabilities") or []), "IncludeNestedStacks": True}
            text, template = self.provider.load(ctx, request)
            resolved = self.provider.prepare(ctx, child, template, request["Parameters"],
                                             parameters.stored_values(child.resolved), request["Capabilities"])
            nested = ChangeSet(
                f"arn:{ctx.partition}:cloudformation:{ctx.region}:{ctx.account}:changeSet/{request['ChangeSetName']}/"
                f"{uuid.uuid4()}", request["ChangeSetName"], child, "UPDATE", text, template, resolved,
                {k: v for k, v in request.items() if k != "TemplateURL"}, ctx.access_key, child.updated,
                parent=change_set, root=root)
            with self.store.lock:
                self.store.get(ctx.account, ctx.region)[nested.change_set_id] = nested
            self._plan(ctx, nested)
            row["ChangeSetId"] = nested.change_set_id

    def _side(self, stack: Stack, template: dict, resolved: dict, held: dict, current: bool = False) -> Side:
        """One template of ``stack`` as the plan sees it; ``current``: the stack's own, resolved properties
        as its resources were last made."""
        doc = Document(template, resolved, stack, lambda name: self.provider.engine.export_value(stack, name))
        properties: dict[str, dict | None] = {}
        for logical in doc.resources:
            if current and logical in held:
                properties[logical] = dict(held[logical].props)
                continue
            try:
                properties[logical] = doc.properties(logical, held)
            except TemplateError:  # it refers to a resource not made yet: known only when the update runs
                properties[logical] = None
        physical = {k: r.physical_id for k, r in held.items() if r.physical_id is not None} if current else {}
        return Side(doc.resources, properties, parameters.ref_values(resolved), physical, doc.conditions)

    def describe(self, ctx: RequestContext, request: dict) -> dict:
        """DescribeChangeSet."""
        change_set = self.find(ctx, request["ChangeSetName"], request.get("StackName"))
        stack = change_set.stack
        shown, token = page(change_set.changes, request.get("NextToken"), PAGE, "ValidationError", "Invalid NextToken")
        answer: dict[str, Any] = {
            "ChangeSetName": change_set.name, "ChangeSetId": change_set.change_set_id, "StackId": stack.stack_id,
            "StackName": stack.name, "Parameters": parameters.describe(change_set.resolved),
            "CreationTime": change_set.created, "ExecutionStatus": change_set.execution_status(),
            "Status": change_set.status, "NotificationARNs": list(change_set.request.get("NotificationARNs") or []),
            "RollbackConfiguration": dict(change_set.request.get("RollbackConfiguration") or {}),
            "Capabilities": list(change_set.request.get("Capabilities") or []),
            "Tags": list(change_set.request.get("Tags") or []), "Changes": shown,
            "IncludeNestedStacks": bool(change_set.request.get("IncludeNestedStacks")),
        }
        if change_set.reason:
            answer["StatusReason"] = change_set.reason
        if change_set.request.get("Description"):
            answer["Description"] = change_set.request["Description"]
        answer.update(change_set.lineage())
        if change_set.kind == "CREATE":
            answer["OnStackFailure"] = change_set.request.get("OnStackFailure") or "ROLLBACK"
        if token:
            answer["NextToken"] = token
        return answer

    def execute(self, ctx: RequestContext, request: dict) -> dict:
        """ExecuteChangeSet: run the planned template; the stack's other change sets are deleted."""
        change_set = self.find(ctx, request["ChangeSetName"], request.get("StackName"))
        if change_set.root is not None:
            raise AwsError("ValidationError", f"ChangeSet [{change_set.change_set_id}] is a nested change set: execute "
                                              f"its root change set [{change_set.root.change_set_id}]")
        stack = change_set.stack
        with stack.lock:  # one execution: a second request finds it EXECUTE_IN_PROGRESS
            status = change_set.execution_status()
            if change_set.kind == "CREATE" and status == "AVAILABLE" and stack.status != "REVIEW_IN_PROGRESS":
                status = "OBSOLETE"  # another CREATE change set of the stack ran
            if change_set.status != "CREATE_COMPLETE" or status != "AVAILABLE":
                shown = status if change_set.status == "CREATE_COMPLETE" else change_set.status
                raise AwsError("InvalidChangeSetStatus", f"ChangeSet [{change_set.change_set_id}] cannot be executed "
                                                         f"in its current status of [{shown}]")
            change_set.execution = "EXECUTE_IN_PROGRESS"
            stack.change_set_id = change_set.change_set_id
        try:
            if change_set.kind == "CREATE":
                self._start_create(ctx, change_set, request)
            else:
                self._start_update(ctx, change_set, request)
        except AwsError:
            change_set.execution = "AVAILABLE"
            raise
        with self.store.lock:
            held = self.store.get(stack.account, stack.region)
            family = change_set.family(held)
            stacks = {id(c.stack) for c in family}
            for other in [c for c in held.values() if id(c.stack) in stacks and c not in family]:
                del held[other.change_set_id]
        return {}

    def _start_update(self, ctx: RequestContext, change_set: ChangeSet, request: dict) -> None:
        """UpdateStack's path with the change set's template and parameter values."""
        update = {"StackName": change_set.stack.stack_id, "TemplateBody": change_set.template_body,
                  "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in parameters.stored_values(change_set.resolved).items()],
                  **{k: change_set.request[k] for k in ("Capabilities", "Tags", "RoleARN", "NotificationARNs")
                     if change_set.request.get(k) is not None}}
        if request.get("DisableRollback") is not None:
            update["DisableRollback"] = request["DisableRollback"]
        self.provider.update_stack(ctx, update)

    def _start_create(self, ctx: RequestContext, change_set: ChangeSet, request: dict) -> None:
        """CreateStack's path for the stack under review, with the change set's template and values."""
        stack = change_set.stack
        asked = change_set.request
        with stack.lock:
            stack.template_body, stack.template, stack.resolved = change_set.template_body, change_set.template, change_set.resolved
            stack.parameters = parameters.describe(change_set.resolved)
            stack.description = change_set.template.get("Description")
            stack.tags = list(asked.get("Tags") or [])
            stack.capabilities = list(asked.get("Capabilities") or [])
            stack.notification_arns = list(asked.get("NotificationARNs") or [])
            stack.role_arn, stack.caller_key = asked.get("RoleARN"), ctx.access_key
            on_failure = asked.get("OnStackFailure") or "ROLLBACK"
            if request.get("DisableRollback"):
                on_failure = "DO_NOTHING"
            stack.disable_rollback = on_failure == "DO_NOTHING"
        self.provider.start_create(stack, on_failure)

    def delete(self, ctx: RequestContext, request: dict) -> dict:
        """DeleteChangeSet (a change set being executed cannot be deleted)."""
        change_set = self.find(ctx, request["ChangeSetName"], request.get("StackName"))
        if change_set.root is not None:
            raise AwsError("ValidationError", f"ChangeSet [{change_set.change_set_id}] is a nested change set: delete "
                                              f"its root change set [{change_set.root.change_set_id}]")
        if change_set.execution_status() == "EXECUTE_IN_PROGRESS":
            raise AwsError("InvalidChangeSetStatus", f"Cannot delete ChangeSet [{change_set.change_set_id}] while it is "
                                                     "being executed")
        with self.store.lock:
            held = self.store.get(ctx.account, ctx.region)
            for member in change_set.family(held):
                held.pop(member.change_set_id, None)
        return {}

    def list(self, ctx: RequestContext, request: dict) -> dict:
        """ListChangeSets of one stack."""
        stack = self.provider.stacks.find(ctx.account, ctx.region, request["StackName"])
        rows, token = page([c.summary() for c in self.of_stack(stack)], request.get("NextToken"), PAGE,
                           "ValidationError", "Invalid NextToken")
        answer: dict[str, Any] = {"Summaries": rows}
        if token:
            answer["NextToken"] = token
        return answer

    def template(self, ctx: RequestContext, request: dict) -> dict:
        """GetTemplate of a change set: the template it was planned from."""
        change_set = self.find(ctx, request["ChangeSetName"], request.get("StackName"))
        return {"TemplateBody": change_set.template_body, "StagesAvailable": ["Original", "Processed"]}
