"""CodePipeline's pipeline API: create, update, get, list, delete, tags, action types, and the
structure checks CreatePipeline makes, with AWS's exception names."""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError

from tests.support.codepipeline import PipelineLab, action, build, s3_source, stage

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def two_stages(lab: PipelineLab) -> list[dict]:
    return [stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "proj"))]


def error_of(call, **kwargs) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_get_update_list_delete(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    created = cp.create_pipeline(pipeline=lab.declaration("app", *two_stages(lab)), tags=[{"key": "team", "value": "a"}])
    assert created["pipeline"]["version"] == 1 and created["pipeline"]["pipelineType"] == "V1"
    assert created["pipeline"]["stages"][1]["actions"][0]["runOrder"] == 1
    assert created["tags"] == [{"key": "team", "value": "a"}]
    got = cp.get_pipeline(name="app")
    assert got["metadata"]["pipelineArn"] == f"arn:aws:codepipeline:us-east-1:{lab.account}:app"
    changed = copy.deepcopy(got["pipeline"])
    changed["stages"][1]["actions"][0]["name"] = "Compile"
    updated = cp.update_pipeline(pipeline=changed)["pipeline"]
    assert updated["version"] == 2
    assert cp.get_pipeline(name="app", version=1)["pipeline"]["stages"][1]["actions"][0]["name"] == "Build"
    assert cp.get_pipeline(name="app")["pipeline"]["stages"][1]["actions"][0]["name"] == "Compile"
    listed = cp.list_pipelines()["pipelines"]
    assert [(p["name"], p["version"], p["pipelineType"], p["executionMode"]) for p in listed] == [("app", 2, "V1", "SUPERSEDED")]
    assert error_of(cp.get_pipeline, name="app", version=3)[0] == "PipelineVersionNotFoundException"
    arn = got["metadata"]["pipelineArn"]
    cp.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    cp.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    assert error_of(cp.tag_resource, resourceArn=arn, tags=[{"key": "aws:x", "value": "1"}])[0] == "InvalidTagsException"
    cp.delete_pipeline(name="app")
    cp.delete_pipeline(name="app")  # deleting twice is not an error
    code, message, status = error_of(cp.get_pipeline, name="app")
    assert (code, status) == ("PipelineNotFoundException", 400)
    assert message == f"Account '{lab.account}' does not have a pipeline with name 'app'"


def test_creating_a_pipeline_starts_it(lab: PipelineLab) -> None:
    lab.codepipeline.create_pipeline(pipeline=lab.declaration("auto", *two_stages(lab)))
    first = lab.wait_for_executions("auto", 1)[0]
    assert first["trigger"]["triggerType"] == "CreatePipeline"
    failed = lab.wait("auto", first["pipelineExecutionId"])  # the source object does not exist yet
    assert failed["status"] == "Failed"
    source = lab.actions("auto", first["pipelineExecutionId"])["Source"]
    assert source["status"] == "Failed" and "source.zip" in source["output"]["executionResult"]["errorDetails"]["message"]


def test_v2_pipelines_take_variables_triggers_and_execution_modes(lab: PipelineLab) -> None:
    source = action("Code", "Source", "CodeStarSourceConnection",
                    {"ConnectionArn": f"arn:aws:codestar-connections:us-east-1:{lab.account}:connection/x",
                     "FullRepositoryId": "org/app", "BranchName": "main"}, outputs=("src",))
    trigger = {"providerType": "CodeStarSourceConnection",
               "gitConfiguration": {"sourceActionName": "Code", "push": [{"branches": {"includes": ["main"]}}]}}
    declared = lab.declaration("v2", stage("Source", source), stage("Build", build("Build", "proj")), pipelineType="V2",
                               executionMode="QUEUED", variables=[{"name": "Env", "defaultValue": "dev"}], triggers=[trigger])
    created = lab.codepipeline.create_pipeline(pipeline=declared)["pipeline"]
    assert (created["pipelineType"], created["executionMode"], created["variables"]) == ("V2", "QUEUED", [{"name": "Env", "defaultValue": "dev"}])
    v1 = lab.declaration("v1", *two_stages(lab), variables=[{"name": "Env"}])
    assert error_of(lab.codepipeline.create_pipeline, pipeline=v1)[0] == "ValidationException"
    v1 = lab.declaration("v1", *two_stages(lab), executionMode="PARALLEL")
    assert error_of(lab.codepipeline.create_pipeline, pipeline=v1)[0] == "ValidationException"


BROKEN = {
    "one stage only": (lambda lab: [stage("Source", s3_source(lab.sources))], "InvalidStructureException",
                       "Pipeline has only 1 stage(s). There should be a minimum of 2 stages in a pipeline"),
    "input nobody makes": (lambda lab: [stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "proj", inputs=("nope",)))],
                           "InvalidStructureException", "Input artifact nope of action Build is not the output artifact"),
    "input made later in the stage": (
        lambda lab: [stage("Source", s3_source(lab.sources)),
                     stage("Build", build("A", "proj", inputs=("out",), run_order=1), build("B", "proj", outputs=("out",), run_order=2))],
        "InvalidStructureException", "Input artifact out of action A"),
    "same output twice": (lambda lab: [stage("Source", s3_source(lab.sources)),
                                       stage("Build", build("A", "p", outputs=("src",)))],
                          "InvalidStructureException", "Output artifact name src is used more than once"),
    "unknown provider": (lambda lab: [stage("Source", s3_source(lab.sources)),
                                      stage("Build", action("B", "Build", "Jenkins2", inputs=("src",)))],
                         "InvalidActionDeclarationException",
                         ("ActionType (Category: 'Build', Provider: 'Jenkins2', Owner: 'AWS', Version: '1') in action 'B' is not "
                         "available in region 'US_EAST_1'")),
    "missing ProjectName": (lambda lab: [stage("Source", s3_source(lab.sources)),
                                         stage("Build", action("B", "Build", "CodeBuild", {}, inputs=("src",)))],
                            "InvalidActionDeclarationException",
                            "Action configuration for action 'B' is missing required configuration 'ProjectName'"),
    "unknown configuration": (lambda lab: [stage("Source", s3_source(lab.sources)),
                                           stage("Build", action("B", "Build", "CodeBuild", {"ProjectName": "p", "Bogus": "1"},
                                                                 inputs=("src",)))],
                              "InvalidActionDeclarationException", "contains unknown configuration 'Bogus'"),
    "build without input": (lambda lab: [stage("Source", s3_source(lab.sources)), stage("Build", build("B", "p", inputs=()))],
                            "InvalidActionDeclarationException",
                            "Action B declares 0 input artifacts which is less than the minimum count (1)"),
    "source in a later stage": (lambda lab: [stage("Source", s3_source(lab.sources)),
                                             stage("More", s3_source(lab.sources, output="more"))],
                                "InvalidStructureException", "Source actions may only occur in the first stage"),
    "build first": (lambda lab: [stage("Build", build("B", "p", inputs=())), stage("Source", s3_source(lab.sources))],
                    "InvalidStructureException", "Pipeline must begin with a stage that contains only source actions"),
    "unknown namespace": (lambda lab: [stage("Source", s3_source(lab.sources)),
                                       stage("Deploy", action("D", "Deploy", "S3", {"BucketName": "b", "Extract": "true",
                                                                                    "ObjectKey": "#{Nope.X}"}, inputs=("src",)))],
                          "InvalidActionDeclarationException", "refers to namespace 'Nope'"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_structures_are_refused_with_awss_exceptions(lab: PipelineLab, case: str) -> None:
    stages, code, message = BROKEN[case]
    found = error_of(lab.codepipeline.create_pipeline, pipeline=lab.declaration("broken", *stages(lab)))
    assert found[0] == code and message in found[1] and found[2] == 400
    assert lab.codepipeline.list_pipelines()["pipelines"] == []


def test_a_refused_update_keeps_the_pipeline_and_a_second_create_is_refused(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    cp.create_pipeline(pipeline=lab.declaration("keep", *two_stages(lab)))
    code, message, _ = error_of(cp.create_pipeline, pipeline=lab.declaration("keep", *two_stages(lab)))
    assert code == "PipelineNameInUseException" and "keep" in message
    broken = lab.declaration("keep", stage("Source", s3_source(lab.sources)), stage("Build", build("Build", "p", inputs=("x",))))
    assert error_of(cp.update_pipeline, pipeline=broken)[0] == "InvalidStructureException"
    assert cp.get_pipeline(name="keep")["pipeline"]["version"] == 1
    missing = lab.declaration("ghost", *two_stages(lab))
    assert error_of(cp.update_pipeline, pipeline=missing)[0] == "PipelineNotFoundException"


def test_bad_names_are_refused_by_the_model(lab: PipelineLab) -> None:
    raw = lab.client("codepipeline", validate=False)
    code, _, status = error_of(raw.create_pipeline, pipeline=lab.declaration("bad name!", *two_stages(lab)))
    assert (code, status) == ("ValidationException", 400)


def test_action_types_list_aws_and_custom_types(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    listed = cp.list_action_types(actionOwnerFilter="AWS")["actionTypes"]
    codebuild = next(t for t in listed if t["id"]["provider"] == "CodeBuild" and t["id"]["category"] == "Build")
    assert {"name": "ProjectName", "required": True, "key": True, "secret": False, "queryable": False, "type": "String"} \
        in codebuild["actionConfigurationProperties"]
    assert codebuild["inputArtifactDetails"] == {"minimumCount": 1, "maximumCount": 5}
    assert {t["id"]["provider"] for t in listed} >= {"S3", "CodeCommit", "CodeStarSourceConnection", "ECS", "CodeDeployToECS",
                                                      "Manual", "Lambda", "CloudFormation"}
    cp.create_custom_action_type(category="Test", provider="Checker", version="1",
                                 configurationProperties=[{"name": "Level", "required": True, "key": True, "secret": False,
                                                           "queryable": True}],
                                 inputArtifactDetails={"minimumCount": 0, "maximumCount": 1},
                                 outputArtifactDetails={"minimumCount": 0, "maximumCount": 0})
    custom = cp.list_action_types(actionOwnerFilter="Custom")["actionTypes"]
    assert [t["id"] for t in custom] == [{"category": "Test", "owner": "Custom", "provider": "Checker", "version": "1"}]
    cp.delete_custom_action_type(category="Test", provider="Checker", version="1")
    assert cp.list_action_types(actionOwnerFilter="Custom")["actionTypes"] == []


def test_rule_types_list_the_stage_condition_rules_by_owner_and_region(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    listed = cp.list_rule_types()["ruleTypes"]
    assert {(t["id"]["category"], t["id"]["owner"], t["id"]["provider"], t["id"]["version"]) for t in listed} == {
        ("Rule", "AWS", provider, "1")
        for provider in ("CloudWatchAlarm", "CodeBuild", "Commands", "DeploymentWindow", "LambdaInvoke", "VariableCheck")}
    alarm = next(t for t in listed if t["id"]["provider"] == "CloudWatchAlarm")
    assert alarm["inputArtifactDetails"] == {"minimumCount": 0, "maximumCount": 0}
    names = {p["name"]: p for p in alarm["ruleConfigurationProperties"]}
    assert set(names) == {"AlarmName", "AlarmStates", "WaitTime"}
    assert (names["AlarmName"]["required"], names["WaitTime"]["required"], names["AlarmName"]["secret"]) == (True, False, False)
    assert names["AlarmName"]["description"]
    window = next(t for t in listed if t["id"]["provider"] == "DeploymentWindow")
    assert [p["name"] for p in window["ruleConfigurationProperties"] if p["required"]] == ["Cron"]
    assert cp.list_rule_types(ruleOwnerFilter="AWS", regionFilter="eu-west-1")["ruleTypes"] == listed
    assert cp.list_rule_types(regionFilter="mars-north-1")["ruleTypes"] == []
    raw = lab.client("codepipeline", validate=False)
    assert error_of(raw.list_rule_types, ruleOwnerFilter="Custom")[0] == "ValidationException"


def test_rule_executions_are_empty_but_their_filters_are_checked(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    lab.source({"app.txt": "hello"})
    cp.create_pipeline(pipeline=lab.declaration("rules", *two_stages(lab)))
    execution_id = lab.wait_for_executions("rules", 1)[0]["pipelineExecutionId"]
    assert cp.list_rule_executions(pipelineName="rules")["ruleExecutionDetails"] == []
    filtered = cp.list_rule_executions(pipelineName="rules", maxResults=5, filter={"pipelineExecutionId": execution_id})
    assert filtered["ruleExecutionDetails"] == [] and "nextToken" not in filtered
    latest = {"latestInPipelineExecution": {"pipelineExecutionId": execution_id, "startTimeRange": "Latest"}}
    assert cp.list_rule_executions(pipelineName="rules", filter=latest)["ruleExecutionDetails"] == []
    missing = "00000000-0000-0000-0000-000000000000"
    code, message, _ = error_of(cp.list_rule_executions, pipelineName="rules", filter={"pipelineExecutionId": missing})
    assert code == "PipelineExecutionNotFoundException" and missing in message
    assert error_of(cp.list_rule_executions, pipelineName="ghost")[0] == "PipelineNotFoundException"
    assert error_of(cp.list_rule_executions, pipelineName="rules", nextToken="7")[0] == "InvalidNextTokenException"
    lab.wait("rules", execution_id)


def test_operations_labstack_does_not_emulate_answer_not_implemented(lab: PipelineLab) -> None:
    code, message, status = error_of(lab.codepipeline.list_webhooks)
    assert (code, status) == ("NotImplemented", 501) and "ListWebhooks" in message
