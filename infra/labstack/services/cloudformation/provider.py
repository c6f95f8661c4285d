"""CloudFormation: labstack's own stacks, whose resources are made through labstack's own APIs.

The API is here; ``engine`` runs the operations (one worker thread per stack operation), ``stacks`` keeps
the stacks, ``document``/``template``/``intrinsics``/``parameters`` read templates, ``types/`` makes resources.
An operation answers once the stack settles or LABSTACK_CFN_SETTLE_SECONDS pass (AWS answers at once).
API reference: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
from labstack.services.cloudformation import capabilities, graph, parameters, rules, summary, template as templates, types, urls
from labstack.services.cloudformation.intrinsics import LANGUAGE_EXTENSIONS
from labstack.services.cloudformation.acting import Acting, check_role
from labstack.services.cloudformation.changesets import ChangeSets
from labstack.services.cloudformation.drift import Drift, drift_information
from labstack.services.cloudformation.document import Document, static_imports
from labstack.services.cloudformation.engine import SETTLE_SECONDS, Engine
from labstack.services.cloudformation.stacks import Stack, Stacks, new_stack_id, now

PAGE = 100
_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
UPDATABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE")
MAX_NESTING = 5
"""How deep nested stacks may nest (labstack's bound: a template that nests itself fails at this depth)."""


def _page(items: list, token: str | None) -> tuple[list, str | None]:
    try:
        start = int(token or 0)
    except ValueError:
        raise AwsError("ValidationError", "Invalid NextToken") from None
    if start < 0 or (token is not None and start >= max(len(items), 1)):
        raise AwsError("ValidationError", "Invalid NextToken")
    return items[start:start + PAGE], (str(start + PAGE) if start + PAGE < len(items) else None)


class CloudFormationProvider(Provider):
    """Stacks per account and region; each operation runs in a thread of its own."""

    service = "cloudformation"

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.stacks = Stacks()
        self.engine = Engine(labstack, self.stacks)
        self.change_sets = ChangeSets(self)
        self.drift = Drift(self)
        labstack.hooks.on_reset(self.reset)
        labstack.hooks.on_shutdown(self.engine.shutdown)

    @staticmethod
    def of(labstack: Any) -> "CloudFormationProvider":
        """The CloudFormation provider serving ``labstack`` (nested stacks are made through it)."""
        return next(p for p in labstack.providers if isinstance(p, CloudFormationProvider))

    def reset(self) -> None:
        """Cancel every operation and forget every stack (their resources go with the other services' reset)."""
        self.engine.shutdown()
        self.stacks.reset()
        self.change_sets.reset()

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stack in self.stacks.everywhere():
            if not stack.is_deleted:
                counts[stack.account] = counts.get(stack.account, 0) + 1
        return counts

    def activity_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for stack in self.stacks.everywhere():
            if stack.busy:
                counts.setdefault(stack.account, {"stack operations": 0})["stack operations"] += 1
        return counts

    # -- templates ------------------------------------------------------------------------
    def template_text(self, ctx: RequestContext, request: dict, reader: Any = None) -> tuple[str, int]:
        """The request's template text (TemplateBody, or TemplateURL read from S3 as the caller, or as ``reader``:
        anything with ``client(service)``, a parent stack's handler Context) and its limit."""
        body, url = request.get("TemplateBody"), request.get("TemplateURL")
        if (body is None) == (url is None):
            raise AwsError("ValidationError", "Exactly one of TemplateBody or TemplateUrl must be specified.")
        if body is not None:
            return body, templates.BODY_LIMIT
        if reader is not None:
            return urls.read(reader.client("s3"), url), templates.URL_LIMIT
        caller = Acting(self.labstack, ctx.account, ctx.region, "template", None, ctx.access_key)
        try:
            return urls.read(caller.client("s3"), url), templates.URL_LIMIT
        finally:
            caller.close()

    def load(self, ctx: RequestContext, request: dict, reader: Any = None) -> tuple[str, dict]:
        """The request's template, read and checked: (text, template)."""
        text, limit = self.template_text(ctx, request, reader)
        return text, templates.load(text, limit=limit)

    def prepare(self, ctx: RequestContext, stack: Stack, template: dict, given: list[dict],
                previous: dict[str, str] | None, capabilities_given: list[str]) -> dict[str, parameters.Resolved]:
        """What CloudFormation checks before it starts an operation: capabilities, resource types, parameter
        values, conditions, references and imports. Answers the resolved parameters."""
        capabilities.check(template, capabilities_given)
        declared = [name for name in templates.transforms(template) if name != LANGUAGE_EXTENSIONS]
        if declared:
            raise AwsError("ValidationError", f"labstack does not expand transforms: {', '.join(declared)}")
        unknown = sorted({r["Type"] for r in (template.get("Resources") or {}).values() if types.handler(r["Type"]) is None})
        if unknown:
            raise templates.format_error(f"Unrecognized resource types: [{', '.join(unknown)}]")
        acting = Acting(self.labstack, ctx.account, ctx.region, stack.name, None, ctx.access_key)

        def ssm(name: str) -> str | None:
            try:
                return acting.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
            except (ClientError, BotoCoreError):  # unreadable is "does not exist" to the template
                return None

        try:
            resolved = parameters.resolve(template.get("Parameters") or {}, given, previous, ssm=ssm)
        finally:
            acting.close()
        doc = Document(template, resolved, stack, lambda name: self.engine.export_value(stack, name))
        rules.check_rules(template, doc.scope)
        graph.check(template, doc.conditions)
        for name in static_imports(template, resolved, stack):
            if self.engine.export_value(stack, name) is None:
                raise AwsError("ValidationError", f"No export named {name} found.")
        return resolved

    # -- operations -----------------------------------------------------------------------
    def create_stack(self, ctx: RequestContext, request: dict) -> dict:
        name = request["StackName"]
        if not _NAME.match(name):
            raise AwsError("ValidationError", f"1 validation error detected: Value '{name}' at 'stackName' failed to "
                                              "satisfy constraint: Member must satisfy regular expression pattern: "
                                              "[a-zA-Z][-a-zA-Z0-9]*")
        if self.stacks.live(ctx.account, ctx.region, name) is not None:
            raise AwsError("AlreadyExistsException", f"Stack [{name}] already exists")
        stack = self.new_stack(ctx, name, request)
        self.start_create(stack, request.get("OnFailure") or ("DO_NOTHING" if request.get("DisableRollback") else "ROLLBACK"))
        return {"StackId": stack.stack_id}

    def new_stack(self, ctx: RequestContext, name: str, request: dict, parent: Stack | None = None,
                  reader: Any = None) -> Stack:
        """A stack made from a CreateStack request (or a nested stack's properties), checked, not yet started."""
        if request.get("OnFailure") and request.get("DisableRollback") is not None:
            raise AwsError("ValidationError", "You cannot specify both OnFailure and DisableRollback")
        check_role(self.labstack, request.get("RoleARN"), name, ctx.account)
        text, template = self.load(ctx, request, reader)
        stack = Stack(new_stack_id(ctx.partition, ctx.region, ctx.account, name), name, ctx.account, ctx.region,
                      template_body=text, template=template, tags=list(request.get("Tags") or []),
                      capabilities=list(request.get("Capabilities") or []),
                      notification_arns=list(request.get("NotificationARNs") or []), role_arn=request.get("RoleARN"),
                      caller_key=ctx.access_key, description=template.get("Description"),
                      disable_rollback=bool(request.get("DisableRollback")) or request.get("OnFailure") == "DO_NOTHING",
                      retain_except_on_create=bool(request.get("RetainExceptOnCreate")),
                      termination_protection=bool(request.get("EnableTerminationProtection")),
                      timeout_minutes=request.get("TimeoutInMinutes"), policy=request.get("StackPolicyBody"))
        if parent is not None:
            stack.parent_id, stack.root_id = parent.stack_id, parent.root_id or parent.stack_id
        stack.resolved = self.prepare(ctx, stack, template, list(request.get("Parameters") or []), None, stack.capabilities)
        stack.parameters = parameters.describe(stack.resolved)
        return stack

    def start_create(self, stack: Stack, on_failure: str, wait: bool = True) -> None:
        """Keep ``stack`` and run its creation."""
        self.engine.admit(stack)
        try:
            self.stacks.add(stack)
        except AwsError:
            self.engine.release(stack)
            raise
        stack.status = "CREATE_IN_PROGRESS"
        self.engine.run(stack, lambda: self.engine.create(stack, on_failure), wait=wait)

    def update_stack(self, ctx: RequestContext, request: dict) -> dict:
        stack = self._live(ctx, request["StackName"])
        self.update(ctx, stack, request)
        return {"StackId": stack.stack_id}

    def update(self, ctx: RequestContext, stack: Stack, request: dict, reader: Any = None, wait: bool = True) -> None:
        """Check an UpdateStack request (or a nested stack's new properties) and start the update."""
        if stack.status not in UPDATABLE:
            raise AwsError("ValidationError", f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
        if request.get("UsePreviousTemplate"):
            if request.get("TemplateBody") is not None or request.get("TemplateURL") is not None:
                raise AwsError("ValidationError", "You cannot specify both usePreviousTemplate and Template Body/Template Url")
            text, template = stack.template_body, stack.template
        else:
            text, template = self.load(ctx, request, reader)
        retyped = sorted(k for k, r in (template.get("Resources") or {}).items()
                         if k in stack.resources and isinstance(r, dict) and r.get("Type") != stack.resources[k].type)
        if retyped:
            raise AwsError("ValidationError", "Update of resource type is not permitted. The new template modifies "
                                              f"resource type of the following resources: [{', '.join(retyped)}]")
        role = request.get("RoleARN") or stack.role_arn
        check_role(self.labstack, role, stack.name, stack.account)
        given = list(request.get("Parameters") or [])
        previous = parameters.stored_values(stack.resolved)
        resolved = self.prepare(ctx, stack, template, given, previous, list(request.get("Capabilities") or []))
        tags = request.get("Tags")
        if (template == stack.template and parameters.stored_values(resolved) == previous
                and (tags is None or list(tags) == stack.tags)):
            raise AwsError("ValidationError", "No updates are to be performed.")
        with stack.lock:
            if stack.status not in UPDATABLE:  # another operation started meanwhile
                raise AwsError("ValidationError", f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
            self.engine.admit(stack)
            stack.role_arn, stack.caller_key = role, ctx.access_key
            stack.capabilities = list(request.get("Capabilities") or [])
            if tags is not None:
                stack.tags = list(tags)
            if request.get("DisableRollback") is not None:
                stack.disable_rollback = bool(request["DisableRollback"])
            if request.get("RetainExceptOnCreate") is not None:
                stack.retain_except_on_create = bool(request["RetainExceptOnCreate"])
            if request.get("StackPolicyBody"):
                stack.policy = request["StackPolicyBody"]
            stack.updated = now()
            stack.status = "UPDATE_IN_PROGRESS"
        self.start_update(stack, text, template, resolved, wait=wait)

    def start_update(self, stack: Stack, text: str, template: dict, resolved: dict, wait: bool = True) -> None:
        """Run an update of ``stack`` to ``template`` (``text``) with ``resolved`` parameters (UpdateStack,
        ExecuteChangeSet); a rollback brings the previous template and parameters back."""
        old_text = stack.template_body
        stack.template_body, stack.parameters = text, parameters.describe(resolved)

        def operation() -> None:
            self.engine.update(stack, template, resolved)
            if stack.template is not template:  # rolled back
                stack.template_body, stack.parameters = old_text, parameters.describe(stack.resolved)

        self.engine.run(stack, operation, wait=wait)

    def delete_stack(self, ctx: RequestContext, request: dict) -> dict:
        stack = self.stacks.live(ctx.account, ctx.region, request["StackName"])
        if stack is None:
            return {}  # AWS answers success for a stack that does not exist
        if stack.termination_protection:
            raise AwsError("ValidationError", f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
        if stack.status == "DELETE_IN_PROGRESS":
            return {}
        retain = list(request.get("RetainResources") or [])
        if retain and stack.status != "DELETE_FAILED":
            raise AwsError("ValidationError", f"Invalid operation on stack [{stack.stack_id}]: RetainResources can only "
                                              "be specified when the stack is in the DELETE_FAILED state")
        check_role(self.labstack, request.get("RoleARN") or stack.role_arn, stack.name, stack.account)
        if request.get("RoleARN"):
            stack.role_arn = request["RoleARN"]
        stack.caller_key = ctx.access_key
        self.start_delete(stack, retain)
        return {}

    def start_delete(self, stack: Stack, retain: list[str], wait: bool = True) -> None:
        """Delete ``stack``; an operation in progress is cancelled first (it rolls back), and the deletion
        follows it without holding up the request. Deletions are never admission-limited (a rollback's or a failed
        nested stack's must not be refused)."""
        with stack.lock:
            if stack.deleting:  # a DeleteStack already runs or waits its turn
                return
            stack.deleting = True
        if not stack.busy:
            self.engine.run(stack, lambda: self.engine.delete(stack, retain), wait=wait)
            return
        stack.cancel.set()

        def after() -> None:
            stack.settled.wait()
            if stack in self.stacks.all(stack.account, stack.region):  # not forgotten by a reset meanwhile
                self.engine.run(stack, lambda: self.engine.delete(stack, retain), wait=False)

        threading.Thread(target=after, name=f"cloudformation-{stack.name}"[:64], daemon=True).start()

    def describe_stacks(self, ctx: RequestContext, request: dict) -> dict:
        name = request.get("StackName")
        found = [self.stacks.find(ctx.account, ctx.region, name)] if name else [
            s for s in self.stacks.all(ctx.account, ctx.region) if not s.is_deleted]
        page, token = _page(list(reversed(found)) if not name else found, request.get("NextToken"))
        answer: dict[str, Any] = {"Stacks": [self.shown(s) for s in page]}
        if token:
            answer["NextToken"] = token
        return answer

    @staticmethod
    def shown(stack: Stack) -> dict:
        """A stack as DescribeStacks shows it."""
        with stack.lock:
            row: dict[str, Any] = {
                "StackId": stack.stack_id, "StackName": stack.name, "CreationTime": stack.created,
                "StackStatus": stack.status, "DisableRollback": stack.disable_rollback,
                "NotificationARNs": list(stack.notification_arns), "Tags": list(stack.tags),
                "EnableTerminationProtection": stack.termination_protection,
                "DriftInformation": drift_information(stack),
            }
            optional = {"Description": stack.description, "StackStatusReason": stack.reason,
                        "LastUpdatedTime": stack.updated, "DeletionTime": stack.deleted,
                        "TimeoutInMinutes": stack.timeout_minutes, "RoleARN": stack.role_arn,
                        "ParentId": stack.parent_id, "RootId": stack.root_id, "ChangeSetId": stack.change_set_id}
            row.update({k: v for k, v in optional.items() if v is not None})
            if stack.parameters:
                row["Parameters"] = [dict(p) for p in stack.parameters]
            if stack.capabilities:
                row["Capabilities"] = list(stack.capabilities)
            if stack.outputs and not stack.is_deleted:
                row["Outputs"] = [dict(o) for o in stack.outputs]
            return row

    def list_stacks(self, ctx: RequestContext, request: dict) -> dict:
        wanted = set(request.get("StackStatusFilter") or [])
        found = [s for s in reversed(self.stacks.all(ctx.account, ctx.region)) if not wanted or s.status in wanted]
        page, token = _page(found, request.get("NextToken"))
        summaries = []
        for stack in page:
            row: dict[str, Any] = {"StackId": stack.stack_id, "StackName": stack.name, "CreationTime": stack.created,
                                   "StackStatus": stack.status,
                                   "DriftInformation": drift_information(stack)}
            optional = {"TemplateDescription": stack.description, "StackStatusReason": stack.reason,
                        "LastUpdatedTime": stack.updated, "DeletionTime": stack.deleted,
                        "ParentId": stack.parent_id, "RootId": stack.root_id}
            row.update({k: v for k, v in optional.items() if v is not None})
            summaries.append(row)
        answer: dict[str, Any] = {"StackSummaries": summaries}
        if token:
            answer["NextToken"] = token
        return answer

    def describe_stack_events(self, ctx: RequestContext, request: dict) -> dict:
        stack = self.stacks.find(ctx.account, ctx.region, request["StackName"])
        with stack.lock:
            events = [dict(e) for e in reversed(stack.events)]
        page, token = _page(events, request.get("NextToken"))
        answer: dict[str, Any] = {"StackEvents": page}
        if token:
            answer["NextToken"] = token
        return answer

    def _resource_rows(self, stack: Stack) -> list[dict]:
        with stack.lock:
            held = list(stack.resources.values())
        rows = []
        for r in held:
            row: dict[str, Any] = {"LogicalResourceId": r.logical_id, "ResourceType": r.type, "ResourceStatus": r.status,
                                   "LastUpdatedTimestamp": r.updated,
                                   "DriftInformation": drift_information(r)}
            if r.physical_id is not None:
                row["PhysicalResourceId"] = r.physical_id
            if r.reason:
                row["ResourceStatusReason"] = r.reason
            if r.metadata is not None:
                row["Metadata"] = json.dumps(r.metadata)
            rows.append(row)
        return rows

    def describe_stack_resource(self, ctx: RequestContext, request: dict) -> dict:
        stack = self.stacks.find(ctx.account, ctx.region, request["StackName"])
        logical = request["LogicalResourceId"]
        row = next((r for r in self._resource_rows(stack) if r["LogicalResourceId"] == logical), None)
        if row is None:
            raise AwsError("ValidationError", f"Resource {logical} does not exist for stack {stack.name}")
        row.update(StackName=stack.name, StackId=stack.stack_id)
        return {"StackResourceDetail": row}

    def describe_stack_resources(self, ctx: RequestContext, request: dict) -> dict:
        name, physical = request.get("StackName"), request.get("PhysicalResourceId")
        if name is None and physical is None:
            raise AwsError("ValidationError", "Either StackName or PhysicalResourceId must be specified")
        if name is not None:
            stack = self.stacks.find(ctx.account, ctx.region, name)
        else:
            stack = next((s for s in self.stacks.all(ctx.account, ctx.region) if not s.is_deleted and any(
                r.physical_id == physical for r in list(s.resources.values()))), None)
            if stack is None:
                raise AwsError("ValidationError", f"Stack for {physical} does not exist")
        rows = []
        for row in self._resource_rows(stack):
            if request.get("LogicalResourceId") not in (None, row["LogicalResourceId"]):
                continue
            if physical is not None and row.get("PhysicalResourceId") != physical:
                continue
            row["Timestamp"] = row.pop("LastUpdatedTimestamp")
            row.pop("Metadata", None)
            row.update(StackName=stack.name, StackId=stack.stack_id)
            rows.append(row)
        return {"StackResources": rows}

    def list_stack_resources(self, ctx: RequestContext, request: dict) -> dict:
        stack = self.stacks.find(ctx.account, ctx.region, request["StackName"])
        rows = [{k: v for k, v in r.items() if k != "Metadata"} for r in self._resource_rows(stack)]
        page, token = _page(rows, request.get("NextToken"))
        answer: dict[str, Any] = {"StackResourceSummaries": page}
        if token:
            answer["NextToken"] = token
        return answer

    def get_template(self, ctx: RequestContext, request: dict) -> dict:
        if request.get("ChangeSetName"):
            return self.change_set_template(ctx, request)
        stack = self.stacks.find(ctx.account, ctx.region, request["StackName"])
        body = stack.template_body
        if request.get("TemplateStage") == "Processed" and templates.transforms(stack.template):
            body = json.dumps(stack.template)
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}

    def change_set_template(self, ctx: RequestContext, request: dict) -> dict:
        """GetTemplate of a change set."""
        return self.change_sets.template(ctx, request)

    def validate_template(self, ctx: RequestContext, request: dict) -> dict:
        _, template = self.load(ctx, request)
        return summary.validate_template(template)

    def get_template_summary(self, ctx: RequestContext, request: dict) -> dict:
        if request.get("StackName"):
            template = self.stacks.find(ctx.account, ctx.region, request["StackName"]).template
        else:
            _, template = self.load(ctx, request)
        return summary.template_summary(template)

    def list_exports(self, ctx: RequestContext, request: dict) -> dict:
        st = self.stacks.region(ctx.account, ctx.region)
        with self.stacks.state.lock:
            rows = [{"ExportingStackId": e.stack_id, "Name": e.name, "Value": e.value} for e in st.exports.values()]
        page, token = _page(rows, request.get("NextToken"))
        answer: dict[str, Any] = {"Exports": page}
        if token:
            answer["NextToken"] = token
        return answer

    def list_imports(self, ctx: RequestContext, request: dict) -> dict:
        name = request["ExportName"]
        importers = [s.name for s in self.engine.importers(ctx.account, ctx.region, name)]
        if not importers:
            raise AwsError("ValidationError", f"Export '{name}' is not imported by any stack.")
        page, token = _page(importers, request.get("NextToken"))
        answer: dict[str, Any] = {"Imports": page}
        if token:
            answer["NextToken"] = token
        return answer

    def update_termination_protection(self, ctx: RequestContext, request: dict) -> dict:
        stack = self._live(ctx, request["StackName"])
        if stack.parent_id is not None:
            raise AwsError("ValidationError", "Termination protection cannot be updated on a nested stack; "
                                              "update it on the root stack")
        stack.termination_protection = bool(request["EnableTerminationProtection"])
        return {"StackId": stack.stack_id}

    def cancel_update_stack(self, ctx: RequestContext, request: dict) -> dict:
        stack = self._live(ctx, request["StackName"])
        if stack.status != "UPDATE_IN_PROGRESS":
            raise AwsError("ValidationError", f"CancelUpdateStack cannot be called from current stack status {stack.status}")
        stack.cancel.set()
        stack.settled.wait(SETTLE_SECONDS)
        return {}

    def continue_update_rollback(self, ctx: RequestContext, request: dict) -> dict:
        stack = self._live(ctx, request["StackName"])
        if stack.status != "UPDATE_ROLLBACK_FAILED":
            raise AwsError("ValidationError", f"Stack {stack.stack_id} is in {stack.status} state and can not continue "
                                              "update rollback.")
        skip = list(request.get("ResourcesToSkip") or [])
        check_role(self.labstack, request.get("RoleARN") or stack.role_arn, stack.name, stack.account)
        if request.get("RoleARN"):
            stack.role_arn = request["RoleARN"]
        stack.caller_key = ctx.access_key
        self.engine.run(stack, lambda: self.engine.continue_rollback(stack, skip))
        return {}

    def get_stack_policy(self, ctx: RequestContext, request: dict) -> dict:
        stack = self._live(ctx, request["StackName"])
        return {"StackPolicyBody": stack.policy} if stack.policy else {}

    def set_stack_policy(self, ctx: RequestContext, request: dict) -> dict:
        stack = self._live(ctx, request["StackName"])
        body = request.get("StackPolicyBody")
        if body is None:
            raise AwsError("ValidationError", "labstack takes a stack policy as StackPolicyBody")
        try:
            json.loads(body)
        except ValueError:
            raise AwsError("ValidationError", "Error validating stack policy: Invalid stack policy") from None
        stack.policy = body
        return {}

    # -- change sets (changesets.py) and drift (drift.py) ----------------------------------------
    def create_change_set(self, ctx: RequestContext, request: dict) -> dict:
        return self.change_sets.create(ctx, request)

    def describe_change_set(self, ctx: RequestContext, request: dict) -> dict:
        return self.change_sets.describe(ctx, request)

    def execute_change_set(self, ctx: RequestContext, request: dict) -> dict:
        return self.change_sets.execute(ctx, request)

    def delete_change_set(self, ctx: RequestContext, request: dict) -> dict:
        return self.change_sets.delete(ctx, request)

    def list_change_sets(self, ctx: RequestContext, request: dict) -> dict:
        return self.change_sets.list(ctx, request)

    def detect_stack_drift(self, ctx: RequestContext, request: dict) -> dict:
        return self.drift.detect_stack(ctx, request)

    def describe_stack_drift_detection_status(self, ctx: RequestContext, request: dict) -> dict:
        return self.drift.status(ctx, request)

    def detect_stack_resource_drift(self, ctx: RequestContext, request: dict) -> dict:
        return self.drift.detect_resource(ctx, request)

    def describe_stack_resource_drifts(self, ctx: RequestContext, request: dict) -> dict:
        return self.drift.resource_drifts(ctx, request)

    def _live(self, ctx: RequestContext, name: str) -> Stack:
        stack = self.stacks.find(ctx.account, ctx.region, name)
        if stack.is_deleted:
            raise AwsError("ValidationError", f"Stack with id {name} does not exist")
        return stack


PROVIDER = CloudFormationProvider
"""CloudFormation: labstack's own engine, serving every operation."""
