"""The CloudFormation deploy action against labstack's own CloudFormation engine: CREATE_UPDATE,
REPLACE_ON_FAILURE, DELETE_ONLY, CHANGE_SET_REPLACE and CHANGE_SET_EXECUTE, with TemplatePath,
TemplateConfiguration and ParameterOverrides (``Fn::GetParam`` included) as the action
reference describes them. The stack's outputs become output variables, and with
OutputFileName an output artifact.

CHANGE_SET_REPLACE waits until CloudFormation has computed the change set; one with nothing to change
(FAILED: "The submitted information didn't contain changes...") is no failure of the action, and
CHANGE_SET_EXECUTE of it leaves the stack as it is and succeeds, so a pipeline that deploys its own
stack (self-mutation) runs on when its template did not change."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from botocore.exceptions import ClientError

from labstack.archives import ArchiveError, read_zip
from labstack.services.cloudformation.changesets import NO_CHANGES
from labstack.services.codepipeline import acting
from labstack.services.codepipeline.action_job import ActionFailed, ActionJob

POLL_LAB_SECONDS = 3
TIMEOUT_LAB_SECONDS = 3600
FAILED_STACK = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_COMPLETE",
                "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED")


def _artifact_file(job: ActionJob, reference: str, what: str) -> str:
    """The text of ``ArtifactName::path`` among the action's input artifacts."""
    artifact, sep, path = reference.partition("::")
    if not sep or artifact not in job.input_names():
        raise ActionFailed(f"{what} {reference} must be written InputArtifactName::path with one of the action's input "
                           "artifacts", "ConfigurationError")
    try:
        return read_zip(job.input(artifact), path, f"{what}: input artifact {artifact}").decode()
    except KeyError:
        raise ActionFailed(f"{what}: the file {path} was not found in input artifact {artifact}", "ConfigurationError") from None
    except ArchiveError as exc:
        raise ActionFailed(str(exc), "ConfigurationError") from None


def _get_param(job: ActionJob, value: Any) -> str:
    """A parameter override: a string, or ``{"Fn::GetParam": [artifact, file, key]}``."""
    if isinstance(value, dict) and "Fn::GetParam" in value:
        artifact, path, key = value["Fn::GetParam"]
        return str(json.loads(_artifact_file(job, f"{artifact}::{path}", "Fn::GetParam"))[key])
    return str(value)


def _parameters(job: ActionJob) -> tuple[list[dict], list[dict]]:
    """(Parameters, Tags): the template configuration file, then the overrides on top."""
    config = job.configuration
    values: dict[str, str] = {}
    tags: dict[str, str] = {}
    try:
        if config.get("TemplateConfiguration"):
            declared = json.loads(_artifact_file(job, config["TemplateConfiguration"], "TemplateConfiguration"))
            values.update({k: str(v) for k, v in (declared.get("Parameters") or {}).items()})
            tags.update({k: str(v) for k, v in (declared.get("Tags") or {}).items()})
        if config.get("ParameterOverrides"):
            values.update({k: _get_param(job, v) for k, v in json.loads(config["ParameterOverrides"]).items()})
    except (ValueError, TypeError, AttributeError) as exc:
        raise ActionFailed(f"The parameters could not be read: {exc}", "ConfigurationError") from None
    return ([{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            [{"Key": k, "Value": v} for k, v in tags.items()])


def _stack(cfn: Any, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        denied = acting.refused(exc, "AWS CloudFormation")
        if denied is not None:
            raise denied from None
        return None


def _settle(job: ActionJob, cfn: Any, name: str, deleting: bool = False, judge: bool = True) -> dict | None:
    """Wait until the stack is no longer in progress; with ``judge``, fail the action if it ended badly."""
    deadline = job.labstack.clock.deadline(TIMEOUT_LAB_SECONDS)
    while True:
        stack = _stack(cfn, name)
        status = (stack or {}).get("StackStatus", "DELETE_COMPLETE")
        if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":  # REVIEW: a change set waits to run
            if judge and (status in FAILED_STACK or (deleting and status != "DELETE_COMPLETE")):
                raise ActionFailed(f"Stack {name} is in state {status}: {(stack or {}).get('StackStatusReason', '')}".rstrip(": "))
            return None if status == "DELETE_COMPLETE" else stack
        if deadline.expired():
            raise ActionFailed(f"Stack {name} is still {status} after an hour")
        job.wait(POLL_LAB_SECONDS)


def _change(job: ActionJob, cfn: Any, call: str, **args: Any) -> None:
    try:
        getattr(cfn, call)(**args)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "No updates are to be performed" not in message:
            raise acting.refused(exc, "AWS CloudFormation") or ActionFailed(f"CloudFormation {call} failed: {message}") from None


def _change_set(job: ActionJob, cfn: Any, name: str, change_set: str) -> dict | None:
    """The change set once CloudFormation has computed it (None: there is no such change set)."""
    deadline = job.labstack.clock.deadline(TIMEOUT_LAB_SECONDS)
    while True:
        try:
            found = cfn.describe_change_set(ChangeSetName=change_set, StackName=name)
        except ClientError as exc:
            denied = acting.refused(exc, "AWS CloudFormation")
            if denied is not None:
                raise denied from None
            return None
        if found["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS") or deadline.expired():
            return found
        job.wait(POLL_LAB_SECONDS)


def _empty(found: dict | None) -> bool:
    """Whether a change set failed only because it changes nothing."""
    return found is not None and found["Status"] == "FAILED" and found.get("StatusReason") == NO_CHANGES


def _stack_args(job: ActionJob) -> dict[str, Any]:
    config = job.configuration
    parameters, tags = _parameters(job)
    args: dict[str, Any] = {"StackName": config["StackName"], "TemplateBody": _artifact_file(job, config.get("TemplatePath", ""), "TemplatePath"),
                            "Parameters": parameters}
    if tags:
        args["Tags"] = tags
    if config.get("Capabilities"):
        args["Capabilities"] = [c.strip() for c in config["Capabilities"].split(",")]
    if config.get("RoleArn"):
        args["RoleARN"] = config["RoleArn"]
    return args


def cloudformation(job: ActionJob) -> dict[str, str]:
    """Run the action's ActionMode; the stack's outputs are the output variables."""
    config = job.configuration
    mode, name = config["ActionMode"], config["StackName"]
    cfn = job.client("cloudformation")
    stack = _settle(job, cfn, name, judge=False)
    if mode in ("CREATE_UPDATE", "REPLACE_ON_FAILURE"):
        args = _stack_args(job)
        if stack is not None and mode == "REPLACE_ON_FAILURE" and stack["StackStatus"] in FAILED_STACK:
            _change(job, cfn, "delete_stack", StackName=name)
            stack = _settle(job, cfn, name, deleting=True)
        _change(job, cfn, "create_stack" if stack is None else "update_stack", **args)
        stack = _settle(job, cfn, name)
    elif mode == "DELETE_ONLY":
        if stack is not None:
            _change(job, cfn, "delete_stack", StackName=name)
            stack = _settle(job, cfn, name, deleting=True)
    elif mode == "CHANGE_SET_REPLACE":
        change_set = config.get("ChangeSetName") or f"{name}-changeset"
        try:
            cfn.delete_change_set(ChangeSetName=change_set, StackName=name)
        except ClientError as exc:  # there was none to replace, unless the role may not
            denied = acting.refused(exc, "AWS CloudFormation")
            if denied is not None:
                raise denied from None
        kind = "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
        _change(job, cfn, "create_change_set", ChangeSetName=change_set, ChangeSetType=kind, **_stack_args(job))
        found = _change_set(job, cfn, name, change_set)
        if found is not None and found["Status"] == "FAILED" and not _empty(found):
            raise ActionFailed(f"Change set {change_set} of stack {name} failed: {found.get('StatusReason', '')}".rstrip(": "))
        job.update(summary=f"Change set {change_set} of stack {name} has no changes" if _empty(found)
                   else f"Change set {change_set} created for stack {name}")
        return {}
    elif mode == "CHANGE_SET_EXECUTE":
        change_set = config.get("ChangeSetName") or f"{name}-changeset"
        if _empty(_change_set(job, cfn, name, change_set)):
            job.update(summary=f"Change set {change_set} of stack {name} has no changes: the stack is left as it is")
        else:
            _change(job, cfn, "execute_change_set", ChangeSetName=change_set, StackName=name)
            stack = _settle(job, cfn, name)
    else:
        raise ActionFailed(f"ActionMode {mode} is not one of CREATE_UPDATE, REPLACE_ON_FAILURE, DELETE_ONLY, "
                           "CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE", "ConfigurationError")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
    if stack is not None:
        job.update(external_id=stack["StackId"], summary=f"Stack {name} is {stack['StackStatus']}")
    if config.get("OutputFileName") and job.output_names():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(config["OutputFileName"], json.dumps(outputs))
        job.output(job.output_names()[0], buffer.getvalue())
    return outputs
