"""AWS::CodePipeline::Pipeline, made through CodePipeline's own API.

Ref is the pipeline's name; Fn::GetAtt Version is its version (it grows with each UpdatePipeline) and
Arn its ARN. The declaration (V1 or V2: PipelineType, ExecutionMode, Variables, Triggers, Stages with
their actions, conditions and blockers, ArtifactStore or per-region ArtifactStores) is CreatePipeline's
and UpdatePipeline's; Tags are the pipeline's tags; DisableInboundStageTransitions become
DisableStageTransition calls (and EnableStageTransition when a stage leaves the list);
RestartExecutionOnUpdate starts an execution after an update, as AWS's handler does. CreatePipeline
starts the first execution itself, as on AWS.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.properties import gone_ok
from labstack.services.cloudformation.resource import Context, ResourceType, Result
from labstack.services.cloudformation.types.common import gone, tag_changes

_NOT_DECLARATION = ("Tags", "DisableInboundStageTransitions", "RestartExecutionOnUpdate")


class Pipeline(ResourceType):
    """AWS::CodePipeline::Pipeline."""

    type_name = "AWS::CodePipeline::Pipeline"

    def create(self, ctx: Context, props: dict) -> Result:
        name = props.get("Name") or ctx.name(100)
        codepipeline = ctx.client("codepipeline")
        request = to_api("codepipeline", "CreatePipeline", {"Pipeline": _declaration(props, name),
                                                            "Tags": props.get("Tags")})
        codepipeline.create_pipeline(**request)
        try:
            _set_transitions(codepipeline, name, [], props.get("DisableInboundStageTransitions") or [])
        except ClientError:
            codepipeline.delete_pipeline(name=name)  # the stack does not know the pipeline yet: leave nothing
            raise
        return _result(codepipeline.get_pipeline(name=name))

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        codepipeline = ctx.client("codepipeline")
        if _declaration(old, physical_id) != _declaration(new, physical_id):
            request = to_api("codepipeline", "UpdatePipeline", {"Pipeline": _declaration(new, physical_id)})
            codepipeline.update_pipeline(**request)
        answer = codepipeline.get_pipeline(name=physical_id)
        arn = answer["metadata"]["pipelineArn"]
        tags, removed = tag_changes(old, new)
        if tags:
            codepipeline.tag_resource(resourceArn=arn, tags=[{"key": t["Key"], "value": t["Value"]} for t in tags])
        if removed:
            codepipeline.untag_resource(resourceArn=arn, tagKeys=removed)
        _set_transitions(codepipeline, physical_id, old.get("DisableInboundStageTransitions") or [],
                         new.get("DisableInboundStageTransitions") or [])
        if str(new.get("RestartExecutionOnUpdate", False)).lower() == "true":
            codepipeline.start_pipeline_execution(name=physical_id)
        return _result(answer)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok("PipelineNotFoundException"):
            ctx.client("codepipeline").delete_pipeline(name=physical_id)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        codepipeline = ctx.client("codepipeline")
        try:
            answer = codepipeline.get_pipeline(name=physical_id)
        except ClientError as error:
            if gone(error, "PipelineNotFoundException"):
                return None
            raise
        like = {k: v for k, v in props.items() if k not in _NOT_DECLARATION}
        live = from_api("codepipeline", "PipelineDeclaration", answer["pipeline"], like)
        if "Tags" in props:
            tags = codepipeline.list_tags_for_resource(resourceArn=answer["metadata"]["pipelineArn"]).get("tags", [])
            live["Tags"] = [{"Key": t["key"], "Value": t["value"]} for t in tags]
        if "DisableInboundStageTransitions" in props:
            states = codepipeline.get_pipeline_state(name=physical_id).get("stageStates", [])
            live["DisableInboundStageTransitions"] = [
                {"StageName": s["stageName"], "Reason": s["inboundTransitionState"].get("disabledReason", "")}
                for s in states if not s.get("inboundTransitionState", {}).get("enabled", True)]
        if "RestartExecutionOnUpdate" in props:  # write-only: CodePipeline keeps no such setting
            live["RestartExecutionOnUpdate"] = props["RestartExecutionOnUpdate"]
        return live


def _declaration(props: dict, name: str) -> dict:
    """The template's PipelineDeclaration part (what CreatePipeline/UpdatePipeline take as ``pipeline``)."""
    return {**{k: v for k, v in props.items() if k not in _NOT_DECLARATION}, "Name": name}


def _result(answer: dict) -> Result:
    """Ref (the name) and Fn::GetAtt Version and Arn from a GetPipeline answer."""
    return Result(answer["pipeline"]["name"], {"Version": str(answer["pipeline"]["version"]),
                                               "Arn": answer["metadata"]["pipelineArn"]})


def _set_transitions(codepipeline: Any, name: str, old: list[dict], new: list[dict]) -> None:
    """Disable the inbound transitions ``new`` lists (again when the reason changed), enable those only
    ``old`` listed."""
    before = {t["StageName"]: t.get("Reason", "") for t in old}
    after = {t["StageName"]: t.get("Reason", "") for t in new}
    for stage in before.keys() - after.keys():
        codepipeline.enable_stage_transition(pipelineName=name, stageName=stage,
                                             transitionType="Inbound")
    for stage, reason in after.items():
        if before.get(stage) != reason:
            codepipeline.disable_stage_transition(pipelineName=name, stageName=stage,
                                                  transitionType="Inbound", reason=reason)


TYPES: list[ResourceType] = [Pipeline()]
