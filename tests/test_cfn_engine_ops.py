"""Stack operations caught in progress, on an in-process labstack whose ECS lock the test holds (an ECS call
of the stack then waits): CancelUpdateStack, TimeoutInMinutes on the lab clock, and ContinueUpdateRollback
after a rollback that could not put a resource back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cfn_stacks import events, service_role, settled
from tests.support.inprocess import client
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.inprocess"]

HANDLE = {"Type": "AWS::CloudFormation::WaitConditionHandle"}


def cluster(name: str, **extra: Any) -> dict:
    return {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": name}, **extra}


def body(resources: dict) -> str:
    return json.dumps({"Resources": resources})


def in_background(call: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def started(cfn: Any, name: str, logical: str) -> None:
    """Wait until ``logical``'s creation began (its ECS call now waits for the held lock)."""
    def begun() -> bool:
        try:
            return (logical, "CREATE_IN_PROGRESS", None) in events(cfn, name)
        except cfn.exceptions.ClientError:  # CreateStack has not made the stack yet
            return False
    wait_for(begun)


def clusters(ecs: Any, name: str) -> list[str]:
    return [c["status"] for c in ecs.describe_clusters(clusters=[name])["clusters"]]


def test_cancel_update_stack_rolls_the_update_back(inprocess: Any) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CancelUpdateStack.html: a
    cancelled update rolls back to the previous configuration (UPDATE_ROLLBACK_COMPLETE), and what it made goes."""
    cfn, ecs = client(inprocess, "cloudformation"), client(inprocess, "ecs")
    cfn.create_stack(StackName="Cancelled", TemplateBody=body({"Handle": HANDLE}))
    settled(cfn, "Cancelled")
    with pytest.raises(cfn.exceptions.ClientError, match="CancelUpdateStack cannot be called from current stack status"):
        cfn.cancel_update_stack(StackName="Cancelled")
    with inprocess.moto_writes.lock("ecs"):
        updating = in_background(lambda: cfn.update_stack(StackName="Cancelled", TemplateBody=body(
            {"Handle": HANDLE, "Cluster": cluster("cancelled-cluster")})))
        started(cfn, "Cancelled", "Cluster")
        cancelling = in_background(lambda: cfn.cancel_update_stack(StackName="Cancelled"))
        wait_for(lambda: inprocess_stack(inprocess, "Cancelled").cancel.is_set())
    updating.join(30)
    cancelling.join(30)
    stack = settled(cfn, "Cancelled")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert ("Cancelled", "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled") in events(cfn, "Cancelled")
    assert clusters(ecs, "cancelled-cluster") in ([], ["INACTIVE"])
    assert [r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName="Cancelled")["StackResources"]] == ["Handle"]


def test_timeout_in_minutes_runs_on_the_lab_clock(inprocess: Any) -> None:
    """TimeoutInMinutes (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html):
    past it the creation fails and rolls back; one lab minute passes in a real second at the default scale."""
    cfn, ecs = client(inprocess, "cloudformation"), client(inprocess, "ecs")
    with inprocess.moto_writes.lock("ecs"):
        creating = in_background(lambda: cfn.create_stack(StackName="Slow", TimeoutInMinutes=1, TemplateBody=body({
            "Cluster": cluster("slow-cluster"), "After": {**HANDLE, "DependsOn": "Cluster"}})))
        started(cfn, "Slow", "Cluster")
        inprocess.clock.sleep(61)  # a lab minute, held
    creating.join(30)
    assert settled(cfn, "Slow")["StackStatus"] == "ROLLBACK_COMPLETE"
    seen = events(cfn, "Slow")
    assert ("Slow", "ROLLBACK_IN_PROGRESS", "Stack creation time exceeded the specified timeout. Rollback requested by user.") in seen
    assert ("After", "CREATE_FAILED", "Resource creation cancelled") in seen
    assert clusters(ecs, "slow-cluster") in ([], ["INACTIVE"])


def test_continue_update_rollback_after_a_resource_could_not_be_put_back(inprocess: Any) -> None:
    """A rollback that cannot put a resource back leaves UPDATE_ROLLBACK_FAILED; ContinueUpdateRollback with
    ResourcesToSkip finishes it, as the RoleARN it names (a role CloudFormation cannot assume is refused) (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html#troubleshooting-errors-update-rollback-failed)."""
    cfn, ecs, sns = client(inprocess, "cloudformation"), client(inprocess, "ecs"), client(inprocess, "sns")
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "skipped", "DisplayName": "before"}}
    cfn.create_stack(StackName="Stuck", TemplateBody=body({"Topic": topic}))
    arn = settled(cfn, "Stuck") and cfn.describe_stack_resource(StackName="Stuck", LogicalResourceId="Topic")[
        "StackResourceDetail"]["PhysicalResourceId"]
    changed = {**topic, "Properties": {**topic["Properties"], "DisplayName": "after"}}
    bad = {"Type": "AWS::SNS::Topic", "DependsOn": ["Cluster", "Topic"], "Properties": {"TopicName": "not valid!"}}
    with inprocess.moto_writes.lock("ecs"):
        updating = in_background(lambda: cfn.update_stack(StackName="Stuck", TemplateBody=body(
            {"Topic": changed, "Cluster": cluster("stuck-cluster"), "Bad": bad})))
        started(cfn, "Stuck", "Cluster")
        wait_for(lambda: ("Topic", "UPDATE_COMPLETE", None) in events(cfn, "Stuck"))
        sns.delete_topic(TopicArn=arn)  # gone behind the stack's back: the rollback cannot put it back
    updating.join(30)
    stack = settled(cfn, "Stuck")
    assert (stack["StackStatus"], stack["StackStatusReason"]) == ("UPDATE_ROLLBACK_FAILED",
                                                                 "The following resource(s) failed to update: [Topic].")
    with pytest.raises(cfn.exceptions.ClientError, match="is in UPDATE_ROLLBACK_FAILED state and can not be updated"):
        cfn.update_stack(StackName="Stuck", TemplateBody=body({"Topic": topic}))
    with pytest.raises(cfn.exceptions.ClientError, match="is invalid or cannot be assumed"):  # its RoleARN is honoured
        cfn.continue_update_rollback(StackName="Stuck", RoleARN="arn:aws:iam::123456789012:role/missing")
    role = service_role(client(inprocess, "iam"), "cfn-rollback", ["sns:*", "ecs:*"])
    cfn.continue_update_rollback(StackName="Stuck", ResourcesToSkip=["Topic"], RoleARN=role)
    stack = settled(cfn, "Stuck")
    assert (stack["StackStatus"], stack["RoleARN"]) == ("UPDATE_ROLLBACK_COMPLETE", role)
    assert ("Topic", "UPDATE_COMPLETE", "Resource skipped during UpdateRollback") in events(cfn, "Stuck")
    assert clusters(ecs, "stuck-cluster") in ([], ["INACTIVE"])


def inprocess_stack(labstack: Any, name: str) -> Any:
    """The engine's record of stack ``name`` in the default account."""
    from labstack.services.cloudformation.provider import CloudFormationProvider

    return CloudFormationProvider.of(labstack).stacks.find("123456789012", "us-east-1", name)


def test_delete_stack_during_creation_cancels_it_and_deletes_what_was_made(inprocess: Any) -> None:
    """DeleteStack on a stack being created (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html)
    answers at once; the creation stops, and the stack ends DELETE_COMPLETE with nothing left."""
    cfn, ecs = client(inprocess, "cloudformation"), client(inprocess, "ecs")
    with inprocess.moto_writes.lock("ecs"):
        creating = in_background(lambda: cfn.create_stack(StackName="Midway", TemplateBody=body({
            "Cluster": cluster("midway"), "After": {**HANDLE, "DependsOn": "Cluster"}})))
        started(cfn, "Midway", "Cluster")
        stack_id = cfn.describe_stacks(StackName="Midway")["Stacks"][0]["StackId"]
        cfn.delete_stack(StackName="Midway")  # answered while the creation still waits for ECS
    creating.join(30)
    wait_for(lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE", seconds=60)
    assert clusters(ecs, "midway") in ([], ["INACTIVE"])
    seen = events(cfn, stack_id)
    assert ("After", "CREATE_COMPLETE", None) not in seen
    assert [s for logical, s, _ in seen if logical == "Midway"] == [
        "CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]


def test_reset_stops_a_stack_in_progress_and_forgets_every_stack(inprocess: Any) -> None:
    """`labstack reset` (run last in this module: it empties the labstack): an operation in progress stops, and
    CloudFormation answers as a fresh labstack does, with no stacks and no exports."""
    cfn = client(inprocess, "cloudformation")
    cfn.create_stack(StackName="Before", TemplateBody=json.dumps({
        "Resources": {"Handle": HANDLE}, "Outputs": {"H": {"Value": {"Ref": "Handle"}, "Export": {"Name": "before"}}}}))
    settled(cfn, "Before")
    with inprocess.moto_writes.lock("ecs"):
        creating = in_background(lambda: cfn.create_stack(StackName="During", TemplateBody=body({"Cluster": cluster("during")})))
        started(cfn, "During", "Cluster")
        resetting = in_background(inprocess.reset)
        wait_for(lambda: inprocess_stack(inprocess, "During").cancel.is_set())
    resetting.join(60)
    creating.join(30)
    assert not resetting.is_alive()
    assert cfn.list_stacks()["StackSummaries"] == [] and cfn.list_exports()["Exports"] == []
    cfn.create_stack(StackName="After", TemplateBody=body({"Handle": HANDLE}))
    assert settled(cfn, "After")["StackStatus"] == "CREATE_COMPLETE"
