"""The stack state machine: create, update, delete and roll back, one worker thread per operation.

Resources are made in dependency order (independent ones in parallel, as AWS does), each through
its handler (``types/``), which calls the resource's own API on labstack as the stack's principal
(``acting``). Events follow AWS's order and wording: the stack's ``CREATE_IN_PROGRESS`` "User
Initiated", each resource's ``CREATE_IN_PROGRESS``, then again with "Resource creation Initiated",
then ``CREATE_COMPLETE``; a failure rolls back with "The following resource(s) failed to create: [X].
Rollback requested by user.":
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html
Updates replace a resource by making the new one first and deleting the old one in
``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
"""

from __future__ import annotations

import contextlib
import copy
import functools
import graphlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from labstack.errors import AwsError
from labstack.services.cloudformation import parameters, schemas, types
from labstack.services.cloudformation.acting import Acting, failed_service
from labstack.services.cloudformation.document import Document
from labstack.services.cloudformation.resource import Context, HandlerError, NeedsReplacement, Result
from labstack.services.cloudformation.template import TemplateError
from labstack.services.cloudformation.stacks import Export, Stack, StackResource, Stacks, now

log = logging.getLogger("labstack.cloudformation")

SETTLE_SECONDS = float(os.environ.get("LABSTACK_CFN_SETTLE_SECONDS") or 5)
"""How long CreateStack, UpdateStack, DeleteStack and ExecuteChangeSet wait for the stack to settle before
answering (AWS answers at once; boto3's waiters poll every 30 s)."""
WORKERS = 4  # resources of one stack made at the same time
MAX_OPERATIONS = int(os.environ.get("LABSTACK_CFN_MAX_OPERATIONS") or 25)
"""Root stack operations one account may start while others run (labstack's bound: each runs in threads of its
own; AWS states no such quota). Nested stacks run under their root's; deletions and rollbacks are never refused."""
POLL_LAB_SECONDS = 5.0  # how often a handler's wait polls, on the lab clock
RETAIN = "Retain"


class Engine:
    """Runs stack operations; one per stack at a time, each in its own thread."""

    def __init__(self, labstack: Any, stacks: Stacks) -> None:
        self.labstack = labstack
        self.stacks = stacks
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # account -> operations admitted and not finished
        self._workers: set[threading.Thread] = set()  # background work besides operations (drift detection)

    # -- running --------------------------------------------------------------------------
    def run(self, stack: Stack, operation: Callable[[], None], wait: bool = True) -> None:
        """Run ``operation`` for ``stack`` in a worker thread; wait up to SETTLE_SECONDS for it (``wait``)."""
        stack.settled.clear()
        stack.cancel.clear()

        def guarded() -> None:
            try:
                operation()
            except Exception:  # a bug must not leave the stack in progress forever
                log.exception("CloudFormation: %s failed", stack.name)
                if stack.busy:
                    stack.stack_event(_failed_status(stack.status), "Internal Failure")
            finally:
                self.release(stack)
                stack.settled.set()

        threading.Thread(target=guarded, name=f"cloudformation-{stack.name}"[:64], daemon=True).start()
        if wait:
            stack.settled.wait(SETTLE_SECONDS)

    def admit(self, stack: Stack) -> None:
        """Take one of the account's MAX_OPERATIONS slots for the operation about to start on ``stack`` (the count
        and the taking under one lock); LimitExceededException when none is free. A nested stack's operations count
        against their root's, so are not admitted; deletions and rollbacks never ask to be."""
        if stack.parent_id is not None:
            return
        with self._lock:
            if stack.admitted:
                return
            if self._running.get(stack.account, 0) >= MAX_OPERATIONS:
                raise AwsError("LimitExceededException", f"labstack runs at most {MAX_OPERATIONS} stack operations "
                                                         "of an account at once; wait for one to finish")
            self._running[stack.account] = self._running.get(stack.account, 0) + 1
            stack.admitted = True

    def release(self, stack: Stack) -> None:
        """Give back the slot ``admit`` took for ``stack`` (its operation ended, or never started)."""
        with self._lock:
            if stack.admitted:
                stack.admitted = False
                self._running[stack.account] -= 1

    def background(self, name: str, work: Callable[[], None]) -> threading.Thread:
        """Run ``work`` in a thread ``shutdown`` waits for (``work`` must watch ``self.stop``)."""
        def guarded() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._workers.discard(threading.current_thread())

        worker = threading.Thread(target=guarded, name=name[:64], daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()
        return worker

    def shutdown(self) -> None:
        """Cancel every operation in progress (reset, shutdown) and wait briefly for them."""
        self.stop.set()
        busy = [s for s in self.stacks.everywhere() if not s.settled.is_set()]
        for stack in busy:
            stack.cancel.set()
        for stack in busy:
            stack.settled.wait(10)
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(10)
        self.stop.clear()

    def _resume(self, stack: Stack) -> None:
        """After a cancelled walk the rollback runs in full (its waits must not see the cancel), unless labstack
        is stopping."""
        if not self.stop.is_set():
            stack.cancel.clear()

    def context(self, stack: Stack, acting: Acting, logical_id: str, resource_type: str) -> Context:
        """The handler's view of one resource operation."""
        partition = stack.stack_id.split(":")[1]

        def waiter(done: Callable[[], bool], lab_seconds: float, what: str) -> None:
            deadline = self.labstack.clock.deadline(lab_seconds)
            while not done():
                if deadline.expired() or stack.cancel.is_set():
                    raise HandlerError(f"{what} did not stabilize", "NotStabilized")
                self.labstack.clock.sleep(POLL_LAB_SECONDS, stack.cancel)

        return Context(labstack=self.labstack, account=stack.account, region=stack.region, partition=partition,
                       stack_name=stack.name, stack_id=stack.stack_id, logical_id=logical_id, clients=acting.client,
                       waiter=waiter, tags=[t for t in stack.tags], resource_type=resource_type)

    def acting(self, stack: Stack) -> Acting:
        return Acting(self.labstack, stack.account, stack.region, stack.name, stack.role_arn, stack.caller_key)

    def document(self, stack: Stack, template: dict, resolved: dict) -> Document:
        """The template with this stack's parameter values, pseudo parameters and the region's exports."""
        return Document(template, resolved, stack, lambda name: self.export_value(stack, name), self.zones(stack))

    def zones(self, stack: Stack) -> Callable[[str], list[str]]:
        """Fn::GetAZs: the region's Availability Zones, as EC2 answers them."""
        partition = stack.stack_id.split(":")[1]

        def names(region: str) -> list[str]:
            if region not in _regions(partition):
                raise TemplateError(f"Template error: Fn::GetAZs: {region} is not a region of partition {partition}")
            ec2 = self.labstack.clients.get("ec2", stack.account, region)
            return sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
        return names

    def export_value(self, stack: Stack, name: str) -> str | None:
        """The value exported as ``name`` in the stack's account and region (None when none is)."""
        found = self.stacks.region(stack.account, stack.region).exports.get(name)
        return None if found is None else found.value

    # -- create ---------------------------------------------------------------------------
    def create(self, stack: Stack, on_failure: str) -> None:
        """CREATE_IN_PROGRESS -> CREATE_COMPLETE, or a rollback as ``on_failure`` says (ROLLBACK, DELETE, DO_NOTHING)."""
        stack.stack_event("CREATE_IN_PROGRESS", "User Initiated")
        acting = self.acting(stack)
        try:
            doc = self.document(stack, stack.template, stack.resolved)
            failed, reason = self._provision(stack, acting, doc, {}, {})
            self._resume(stack)
            if not failed:
                failed, reason = self._finish_outputs(stack, doc)
            if not failed:
                stack.imports = sorted(doc.imported)
                stack.stack_event("CREATE_COMPLETE")
                return
            if on_failure == "DO_NOTHING":
                stack.stack_event("CREATE_FAILED", reason)
                return
            stack.stack_event("ROLLBACK_IN_PROGRESS", f"{reason} Rollback requested by user.")
            left = self._delete_resources(stack, acting, doc.graph(), doc=None if stack.retain_except_on_create else doc)
            if on_failure == "DELETE" and not left:
                stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
                self._forget(stack)
                stack.deleted = now()
                stack.stack_event("DELETE_COMPLETE")
                return
            stack.stack_event("ROLLBACK_FAILED" if left else "ROLLBACK_COMPLETE",
                              _failed_to("delete", left) if left else None)
        finally:
            acting.close()

    # -- update ---------------------------------------------------------------------------
    def update(self, stack: Stack, template: dict, resolved: dict) -> None:
        """UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE, or a rollback to the
        previous template and values."""
        stack.stack_event("UPDATE_IN_PROGRESS", "User Initiated")
        acting = self.acting(stack)
        old_resources = {k: copy.copy(r) for k, r in stack.resources.items()}
        old_template, old_resolved, old_outputs = stack.template, stack.resolved, stack.outputs
        try:
            old_doc = self.document(stack, old_template, old_resolved)
            stack.template, stack.resolved = template, resolved
            doc = self.document(stack, template, resolved)
            replaced: dict[str, StackResource] = {}
            failed, reason = self._provision(stack, acting, doc, old_resources, replaced)
            self._resume(stack)
            removed = [k for k in old_resources if k not in doc.resources]
            if not failed:
                failed, reason = self._finish_outputs(stack, doc, old_outputs)
            if not failed:
                stack.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                stack.imports = sorted(doc.imported)
                self._cleanup(stack, acting, old_doc, old_resources, replaced, removed)
                stack.stack_event("UPDATE_COMPLETE")
                return
            if stack.disable_rollback:
                stack.stack_event("UPDATE_FAILED", reason)
                return
            stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", reason)
            self._roll_back_update(stack, acting, doc, old_resources, replaced)
            stack.template, stack.resolved, stack.outputs = old_template, old_resolved, old_outputs
        finally:
            acting.close()

    def _roll_back_update(self, stack: Stack, acting: Acting, doc: Document, old_resources: dict[str, StackResource],
                          replaced: dict[str, StackResource]) -> None:
        """UPDATE_ROLLBACK_IN_PROGRESS: put every resource changed in place back as it was, then (in
        UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS) delete what the update made."""
        restore: dict[str, StackResource] = {}
        doomed: dict[str, StackResource] = {}
        for logical, old in old_resources.items():
            current = stack.resources.get(logical)
            if logical in replaced:  # the new physical resource is deleted below; the old one comes back
                if current is not None and current.physical_id not in (None, old.physical_id):
                    doomed[logical] = current
                stack.resources[logical] = old
            elif current is None or current.props == old.props:
                stack.resources[logical] = old
            else:
                restore[logical] = old
        doomed.update({k: r for k, r in stack.resources.items() if k not in old_resources})
        policies = {} if stack.retain_except_on_create else {k: doc.deletion_policy(k) for k in doomed}
        stack.rollback = {"restore": restore, "doomed": doomed, "graph": doc.graph(), "policies": policies}
        self._finish_rollback(stack, acting)

    def _finish_rollback(self, stack: Stack, acting: Acting, skip: frozenset[str] = frozenset()) -> None:
        """The rollback's work in ``stack.rollback``: UPDATE_ROLLBACK_FAILED while a resource cannot be put
        back (ContinueUpdateRollback retries, or skips those named), else UPDATE_ROLLBACK_COMPLETE."""
        pending = stack.rollback or {"restore": {}, "doomed": {}, "graph": {}, "policies": {}}
        left: list[str] = []
        for logical, old in list(pending["restore"].items()):
            current = stack.resources.get(logical) or old
            if logical in skip:
                stack.resources[logical] = old
                old.status = "UPDATE_COMPLETE"
                stack.event(logical, old.type, "UPDATE_COMPLETE", "Resource skipped during UpdateRollback",
                            old.physical_id)
                del pending["restore"][logical]
                continue
            handler = types.handler(old.type)
            stack.event(logical, old.type, "UPDATE_IN_PROGRESS", None, current.physical_id)
            try:
                if handler is None:
                    raise HandlerError(f"Unrecognized resource types: [{old.type}]")
                result = handler.update(self.context(stack, acting, logical, old.type), current.physical_id or "",
                                        current.props, old.props)
            except Exception as error:  # noqa: BLE001 - every failure is the resource's
                current.status, current.reason = "UPDATE_FAILED", reason_of(error)
                stack.resources[logical] = current
                stack.event(logical, old.type, "UPDATE_FAILED", current.reason, current.physical_id)
                left.append(logical)
                continue
            old.attributes = result.attributes or old.attributes
            old.status, old.updated = "UPDATE_COMPLETE", now()
            stack.resources[logical] = old
            stack.event(logical, old.type, "UPDATE_COMPLETE", None, old.physical_id)
            del pending["restore"][logical]
        if left:
            stack.stack_event("UPDATE_ROLLBACK_FAILED", _failed_to("update", left))
            return
        stack.stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        self._delete_some(stack, acting, pending["graph"], pending["doomed"], pending["policies"])
        for logical, record in pending["doomed"].items():
            if stack.resources.get(logical) is record:
                del stack.resources[logical]
        stack.rollback = None
        stack.stack_event("UPDATE_ROLLBACK_COMPLETE")

    def _cleanup(self, stack: Stack, acting: Acting, old_doc: Document, old_resources: dict[str, StackResource],
                 replaced: dict[str, StackResource], removed: list[str]) -> None:
        """UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: delete the replaced resources' old physical ones and the removed."""
        doomed = {k: replaced[k] for k in replaced}
        doomed.update({k: old_resources[k] for k in removed})
        policies = {k: old_doc.update_replace_policy(k) for k in replaced}
        policies.update({k: old_doc.deletion_policy(k) for k in removed})
        self._delete_some(stack, acting, old_doc.graph(), doomed, policies=policies)
        for k in removed:
            stack.resources.pop(k, None)

    def continue_rollback(self, stack: Stack, skip: list[str]) -> None:
        """ContinueUpdateRollback: retry putting back what failed to roll back; those in ``skip`` are left as
        they are and marked UPDATE_COMPLETE, as AWS does."""
        stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
        acting = self.acting(stack)
        try:
            self._finish_rollback(stack, acting, frozenset(skip))
        finally:
            acting.close()

    # -- delete ---------------------------------------------------------------------------
    def delete(self, stack: Stack, retain: list[str]) -> None:
        """DELETE_IN_PROGRESS -> DELETE_COMPLETE (DeletionPolicy Retain and ``retain`` kept), or DELETE_FAILED."""
        stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
        in_use = self.exports_in_use(stack, [o.get("ExportName") for o in stack.outputs if o.get("ExportName")])
        if in_use:
            stack.deleting = False
            stack.stack_event("DELETE_FAILED", in_use)
            return
        acting = self.acting(stack)
        try:
            doc = self.document(stack, stack.template, stack.resolved)
            left = self._delete_resources(stack, acting, doc.graph(), retain=set(retain), doc=doc)
            if left:
                stack.stack_event("DELETE_FAILED", _failed_to("delete", left))
                return
            self._forget(stack)
            stack.deleted = now()
            stack.stack_event("DELETE_COMPLETE")
        finally:
            stack.deleting = False
            acting.close()

    def _forget(self, stack: Stack) -> None:
        """The stack's exports and imports go with it."""
        st = self.stacks.region(stack.account, stack.region)
        with self.stacks.state.lock:
            for name in [n for n, e in st.exports.items() if e.stack_id == stack.stack_id]:
                del st.exports[name]

    def exports_in_use(self, stack: Stack, names: list[str], verb: str = "deleted") -> str | None:
        """AWS's refusal when another live stack imports one of ``names`` exported by ``stack``."""
        for name in names:
            importers = self.importers(stack.account, stack.region, name)
            importers = [s for s in importers if s.stack_id != stack.stack_id]
            if importers:
                return f"Export {name} cannot be {verb} as it is in use by {importers[0].name}"
        return None

    def importers(self, account: str, region: str, name: str) -> list[Stack]:
        """The live stacks whose template imports export ``name``."""
        return [s for s in self.stacks.all(account, region)
                if not s.is_deleted and name in s.imports]

    # -- the resource walk ----------------------------------------------------------------
    def _provision(self, stack: Stack, acting: Acting, doc: Document, old: dict[str, StackResource],
                   replaced: dict[str, StackResource]) -> tuple[list[str], str]:
        """Create (or update) every resource of ``doc`` in dependency order; the failed ones and the reason."""
        graph = doc.graph()
        deadline = (self.labstack.clock.deadline(stack.timeout_minutes * 60)  # TimeoutInMinutes: creation only
                    if stack.timeout_minutes and not old else None)
        failed: list[str] = []

        def one(logical: str) -> None:
            if deadline is not None and deadline.expired():
                raise _Cancelled()
            with _naming_the_service():
                self._one(stack, acting, doc, logical, old.get(logical), replaced)

        errors = _walk(graph, one, self.stop, stack.cancel)
        for logical, error in errors.items():
            resource_type = doc.resources[logical]["Type"]
            status = "UPDATE_FAILED" if logical in old and logical not in replaced else "CREATE_FAILED"
            if isinstance(error, _Cancelled):
                reason = "Resource creation cancelled" if status == "CREATE_FAILED" else "Resource update cancelled"
            else:
                reason = reason_of(error)
                failed.append(logical)
            held = stack.resources.get(logical)
            if held is not None:
                held.status, held.reason = status, reason
            stack.event(logical, resource_type, status, reason, held.physical_id if held else None)
        if not failed and errors:  # only cancellations: a timeout
            failed = list(errors)
        if not errors and (stack.cancel.is_set() or self.stop.is_set()):
            return ["cancelled"], "Stack update cancelled" if old else "Stack creation cancelled."
        creates = [k for k in failed if k not in old or k in replaced]
        updates = [k for k in failed if k in old and k not in replaced]
        reason = " ".join(p for p in (_failed_to("create", creates) if creates else "",
                                      _failed_to("update", updates) if updates else "") if p)
        if errors and deadline is not None and deadline.expired():
            reason = "Stack creation time exceeded the specified timeout."
        return failed, reason

    def _one(self, stack: Stack, acting: Acting, doc: Document, logical: str, old: StackResource | None,
             replaced: dict[str, StackResource]) -> None:
        """Create, update (in place, or by replacement) one resource."""
        declared = doc.resources[logical]
        resource_type = declared["Type"]
        props = doc.properties(logical, stack.resources)
        handler = types.handler(resource_type)
        if handler is None:
            raise HandlerError(f"Unrecognized resource types: [{resource_type}]")
        ctx = self.context(stack, acting, logical, resource_type)
        if old is not None and old.type == resource_type and old.physical_id is not None:
            if props == old.props:
                return
            if not replacement_needed(resource_type, old.props, props):
                stack.event(logical, resource_type, "UPDATE_IN_PROGRESS", None, old.physical_id)
                try:
                    result = handler.update(ctx, old.physical_id, old.props, props)
                except NeedsReplacement:
                    pass
                else:
                    self._record(stack, logical, resource_type, result, props, "UPDATE_COMPLETE", declared)
                    return
            custom = _custom_name(resource_type, old.props, props)
            if custom is not None:
                raise HandlerError(f"CloudFormation cannot update a stack when a custom-named resource requires "
                                   f"replacing. Rename {custom} and update the stack again.")
            stack.event(logical, resource_type, "UPDATE_IN_PROGRESS", "Requested update requires the creation of a new "
                        "physical resource; hence creating one.", old.physical_id)
            replaced[logical] = old
            result = handler.create(ctx, props)
            stack.event(logical, resource_type, "UPDATE_IN_PROGRESS", "Resource creation Initiated", result.physical_id)
            self._record(stack, logical, resource_type, result, props, "UPDATE_COMPLETE", declared)
            return
        stack.resources[logical] = StackResource(logical, resource_type, "CREATE_IN_PROGRESS",
                                                 metadata=declared.get("Metadata"))
        stack.event(logical, resource_type, "CREATE_IN_PROGRESS", properties=_props_json(props, stack))
        result = handler.create(ctx, props)
        stack.resources[logical].physical_id = result.physical_id
        stack.event(logical, resource_type, "CREATE_IN_PROGRESS", "Resource creation Initiated", result.physical_id,
                    _props_json(props, stack))
        self._record(stack, logical, resource_type, result, props, "CREATE_COMPLETE", declared)

    @staticmethod
    def _record(stack: Stack, logical: str, resource_type: str, result: Result, props: dict, status: str,
                declared: dict) -> None:
        held = StackResource(logical, resource_type, status, None, result.physical_id, result.ref,
                             dict(result.attributes), props, now(), declared.get("Metadata"))
        stack.resources[logical] = held
        stack.event(logical, resource_type, status, None, result.physical_id, _props_json(props, stack))

    def _delete_resources(self, stack: Stack, acting: Acting, graph: dict[str, set[str]],
                          retain: set[str] | None = None, doc: Document | None = None) -> list[str]:
        """Delete every resource the stack holds, dependents first (``doc``'s DeletionPolicy Retain and those in
        ``retain`` kept); the logical ids that failed."""
        policies = {k: doc.deletion_policy(k) for k in stack.resources} if doc is not None else {}
        for k in retain or ():
            policies[k] = RETAIN
        left = self._delete_some(stack, acting, graph, dict(stack.resources), policies)
        for k in list(stack.resources):
            if k not in left:
                del stack.resources[k]
        return left

    def _delete_some(self, stack: Stack, acting: Acting, graph: dict[str, set[str]], doomed: dict[str, StackResource],
                     policies: dict[str, str] | None = None) -> list[str]:
        """Delete the physical resources in ``doomed`` (logical -> record), dependents first."""
        policies = policies or {}
        reverse: dict[str, set[str]] = {k: set() for k in doomed}
        for logical, deps in graph.items():
            for dep in deps:
                if dep in reverse and logical in reverse:
                    reverse[dep].add(logical)

        def one(logical: str) -> None:
            record = doomed[logical]
            if record.physical_id is None:  # it was never made (its creation failed)
                stack.event(logical, record.type, "DELETE_COMPLETE")
                return
            if policies.get(logical) == RETAIN:
                stack.event(logical, record.type, "DELETE_SKIPPED", None, record.physical_id)
                return
            stack.event(logical, record.type, "DELETE_IN_PROGRESS", None, record.physical_id)
            handler = types.handler(record.type)
            if handler is not None:
                with _naming_the_service():
                    handler.delete(self.context(stack, acting, logical, record.type), record.physical_id, record.props)
            stack.event(logical, record.type, "DELETE_COMPLETE", None, record.physical_id)

        errors = _walk(reverse, one, self.stop, threading.Event())
        for logical, error in errors.items():
            record = doomed[logical]
            stack.event(logical, record.type, "DELETE_FAILED", reason_of(error), record.physical_id)
            record.status, record.reason = "DELETE_FAILED", reason_of(error)
        return list(errors)

    # -- outputs and exports ----------------------------------------------------------------
    def _finish_outputs(self, stack: Stack, doc: Document, previous: list[dict] | None = None) -> tuple[list[str], str]:
        """Resolve the outputs and claim their exports; AWS's refusals as the failure reason."""
        try:
            outputs = doc.outputs(stack.resources)
        except AwsError as error:
            return ["Outputs"], error.message
        st = self.stacks.region(stack.account, stack.region)
        new = {o["ExportName"]: o["OutputValue"] for o in outputs if o.get("ExportName")}
        old = {o["ExportName"]: o["OutputValue"] for o in previous or [] if o.get("ExportName")}
        with self.stacks.state.lock:
            for name in new:
                owner = st.exports.get(name)
                if owner is not None and owner.stack_id != stack.stack_id:
                    owner_stack = st.stacks.get(owner.stack_id)
                    return ["Outputs"], f"Export with name {name} is already exported by stack {owner_stack.name if owner_stack else owner.stack_id}"
            gone = [n for n in old if n not in new]
            changed = [n for n in old if n in new and new[n] != old[n]]
            refusal = self.exports_in_use(stack, gone) or self.exports_in_use(stack, changed, verb="updated")
            if refusal:
                return ["Outputs"], refusal
            for name in gone:
                st.exports.pop(name, None)
            for name, value in new.items():
                st.exports[name] = Export(name, value, stack.stack_id)
        stack.outputs = outputs
        return [], ""


@contextlib.contextmanager
def _naming_the_service() -> Iterator[None]:
    """A ClientError leaving the block carries the service whose call failed (``service``), for its reason."""
    try:
        yield
    except ClientError as error:
        error.service = failed_service()  # type: ignore[attr-defined]
        raise


class _Cancelled(Exception):
    """A resource not started (or given up) because the operation was cancelled or timed out."""


def _walk(graph: dict[str, set[str]], fn: Callable[[str], None], stop: threading.Event,
          cancel: threading.Event) -> dict[str, BaseException]:
    """Run ``fn`` on every node once its dependencies are done, up to WORKERS at a time; after the first
    failure, or once ``stop`` or ``cancel`` is set, nothing new starts. Answers the failures."""
    sorter: graphlib.TopologicalSorter = graphlib.TopologicalSorter({k: {d for d in v if d in graph} for k, v in graph.items()})
    sorter.prepare()
    errors: dict[str, BaseException] = {}
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=threading.current_thread().name[:40]) as pool:
        while sorter.is_active():
            if not errors and not stop.is_set() and not cancel.is_set():
                for node in sorter.get_ready():
                    running[pool.submit(fn, node)] = node
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                node = running.pop(future)
                error = future.exception()
                if error is None:
                    sorter.done(node)
                else:
                    errors[node] = error
    return errors


@functools.lru_cache(maxsize=None)
def _regions(partition: str) -> frozenset[str]:
    """The partition's regions, as botocore's endpoint data knows them."""
    return frozenset(boto3.session.Session().get_available_regions("ec2", partition))


def reason_of(error: BaseException) -> str:
    """A resource's status reason in AWS's wording for a handler's failure."""
    token = uuid.uuid4()
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        meta = error.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode", 400)
        service = getattr(error, "service", None)
        message = (f"{err.get('Message') or err.get('Code')} (Service: {service or 'Unknown'}, Status Code: {status}, "
                   f"Request ID: {meta.get('RequestId', '')})")
        return f'Resource handler returned message: "{message}" (RequestToken: {token}, HandlerErrorCode: {_code_of(err.get("Code", ""), status)})'
    if isinstance(error, HandlerError):
        return f'Resource handler returned message: "{error.message}" (RequestToken: {token}, HandlerErrorCode: {error.code})'
    if isinstance(error, AwsError):
        return error.message
    if isinstance(error, BotoCoreError):
        return f'Resource handler returned message: "{error}" (RequestToken: {token}, HandlerErrorCode: GeneralServiceException)'
    log.error("CloudFormation handler failed", exc_info=error)
    return "Internal Failure"


def _code_of(code: str, status: int) -> str:
    lowered = code.lower()
    for part, handler_code in (("accessdenied", "AccessDenied"), ("notauthorized", "AccessDenied"),
                               ("notfound", "NotFound"), ("nosuch", "NotFound"), ("alreadyexists", "AlreadyExists"),
                               ("entityalreadyexists", "AlreadyExists"), ("limitexceeded", "ServiceLimitExceeded"),
                               ("throttl", "Throttling")):
        if part in lowered:
            return handler_code
    return "InvalidRequest" if status < 500 else "GeneralServiceException"


def _failed_to(verb: str, logical_ids: list[str]) -> str:
    return f"The following resource(s) failed to {verb}: [{', '.join(sorted(logical_ids))}]."


def _failed_status(status: str) -> str:
    return {"CREATE_IN_PROGRESS": "CREATE_FAILED", "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
            "DELETE_IN_PROGRESS": "DELETE_FAILED", "UPDATE_IN_PROGRESS": "UPDATE_FAILED",
            "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED"}.get(status, "UPDATE_ROLLBACK_FAILED")


def replacement_needed(resource_type: str, old: dict, new: dict) -> bool:
    """Whether changing ``old`` to ``new`` requires replacement: a create-only property changed (AWS's
    "Update requires: Replacement", from the type's registry schema)."""
    schema = schemas.type_schema(resource_type)
    names = set(old) | set(new)
    return any(schema.recreation(name, old.get(name), new.get(name)) == schemas.ALWAYS
               for name in names if old.get(name) != new.get(name))


def _custom_name(resource_type: str, old: dict, new: dict) -> str | None:
    """The custom name a resource keeps across a change that replaces it (its type's create-only ``...Name``
    property, unchanged): AWS cannot make the new resource while the old one holds that name."""
    schema = schemas.type_schema(resource_type)
    for path in schema.create_only:
        name = path[0]
        if len(path) == 1 and name.endswith("Name") and old.get(name) is not None and old.get(name) == new.get(name):
            return str(old[name])
    return None


def _props_json(props: dict, stack: Stack) -> str:
    """An event's ResourceProperties: the resolved properties as JSON, NoEcho parameters' values masked."""
    text = json.dumps(props, default=str, separators=(",", ":"))
    for parameter in stack.resolved.values():
        if parameter.no_echo and parameter.value:
            text = text.replace(json.dumps(parameter.value)[1:-1], parameters.MASK)
    return text[:4096]
