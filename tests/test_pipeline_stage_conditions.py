"""Stage conditions (beforeEntry, onSuccess, onFailure) and their rules, evaluated for real: variable
checks, CloudWatch alarms, deployment windows on the lab clock, Lambda functions; the rule executions
ListRuleExecutions lists and the condition states GetPipelineState shows; OverrideStageCondition."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.codepipeline import PipelineLab, action, s3_source, stage, zipped
from tests.support.roles import service_role
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]

def rule(name: str, provider: str, configuration: dict, **extra: Any) -> dict:
    """A ``RuleDeclaration`` of AWS's rule type ``provider``."""
    return {"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration, **extra}


def condition(result: str, *rules: dict) -> dict:
    return {"conditions": [{"result": result, "rules": list(rules)}]}


def deploy(lab: PipelineLab, key: str, name: str = "Site") -> dict:
    return action(name, "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "false", "ObjectKey": key}, inputs=("src",))


def v2(lab: PipelineLab, name: str, *stages: dict, **extra: Any) -> dict:
    return lab.declaration(name, stage("Source", s3_source(lab.sources)), *stages, pipelineType="V2", **extra)


def stage_state(lab: PipelineLab, name: str, stage_name: str) -> dict:
    return next(s for s in lab.codepipeline.get_pipeline_state(name=name)["stageStates"] if s["stageName"] == stage_name)


def rule_runs(lab: PipelineLab, name: str, execution_id: str) -> list[dict]:
    return lab.codepipeline.list_rule_executions(pipelineName=name, filter={"pipelineExecutionId": execution_id})[
        "ruleExecutionDetails"]


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def gated(lab: PipelineLab, name: str, condition_of_stage: dict, **extra: Any) -> dict:
    """A V2 pipeline whose Deploy stage (an S3 deploy of the source to ``name``.zip) has ``condition_of_stage``."""
    deploy_stage = {**stage("Deploy", deploy(lab, f"{name}.zip")), **condition_of_stage}
    return v2(lab, name, deploy_stage, **extra)


def test_a_before_entry_variable_check_skips_the_stage(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: an entry condition's rules must
    all pass for the stage to be entered; when one fails the result engages, and Skip skips the stage.
    https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html: EQ compares the
    variable with Value. API_StageExecution.html lists the stage status Skipped."""
    lab.source({"app.txt": "v1"})
    check = rule("OnlyProd", "VariableCheck", {"Variable": "#{variables.Env}", "Value": "prod", "Operator": "EQ"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "skipping", {"beforeEntry": condition("SKIP", check)},
                                                    variables=[{"name": "Env", "defaultValue": "dev"}]))
    first = lab.wait("skipping", lab.wait_for_executions("skipping", 1)[0]["pipelineExecutionId"])
    assert first["status"] == "Succeeded"
    assert "Site" not in lab.actions("skipping", first["pipelineExecutionId"])
    shown = stage_state(lab, "skipping", "Deploy")
    assert shown["latestExecution"]["status"] == "Skipped"
    entry = shown["beforeEntryConditionState"]
    assert entry["latestExecution"]["status"] == "Failed"
    assert entry["conditionStates"][0]["ruleStates"][0]["ruleName"] == "OnlyProd"
    assert entry["conditionStates"][0]["ruleStates"][0]["latestExecution"]["status"] == "Failed"
    [ran] = rule_runs(lab, "skipping", first["pipelineExecutionId"])
    assert (ran["ruleName"], ran["stageName"], ran["status"]) == ("OnlyProd", "Deploy", "Failed")
    assert ran["input"]["resolvedConfiguration"]["Variable"] == "dev"
    assert ran["input"]["configuration"]["Variable"] == "#{variables.Env}"
    assert "'dev'" in ran["output"]["executionResult"]["externalExecutionSummary"]

    prod = lab.run("skipping", variables=[{"name": "Env", "value": "prod"}])
    assert prod["status"] == "Succeeded"
    assert lab.actions("skipping", prod["pipelineExecutionId"])["Site"]["status"] == "Succeeded"
    assert stage_state(lab, "skipping", "Deploy")["beforeEntryConditionState"]["latestExecution"]["status"] == "Succeeded"
    assert [r["status"] for r in rule_runs(lab, "skipping", prod["pipelineExecutionId"])] == ["Succeeded"]


def test_a_before_entry_condition_that_fails_fails_the_stage_and_the_execution(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: an entry condition with the
    result Fail fails the stage when a rule fails; the stage's actions do not run.
    https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html: CONTAINS and
    MATCHES."""
    lab.source({"app.txt": "v1"})
    rules = (rule("Named", "VariableCheck", {"Variable": "#{codepipeline.PipelineExecutionId}", "Value": "^[0-9a-f-]{36}$",
                                             "Operator": "MATCHES"}),
             rule("Release", "VariableCheck", {"Variable": "#{variables.Branch}", "Value": "release", "Operator": "CONTAINS"}))
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "failing", {"beforeEntry": condition("FAIL", *rules)},
                                                    variables=[{"name": "Branch", "defaultValue": "feature/x"}]))
    execution_id = lab.wait_for_executions("failing", 1)[0]["pipelineExecutionId"]
    ended = lab.wait("failing", execution_id)
    assert ended["status"] == "Failed"
    assert "beforeEntry condition of stage Deploy failed" in ended["statusSummary"] and "Release" in ended["statusSummary"]
    assert "Site" not in lab.actions("failing", execution_id)
    assert stage_state(lab, "failing", "Deploy")["latestExecution"]["status"] == "Failed"
    statuses = {r["ruleName"]: r["status"] for r in rule_runs(lab, "failing", execution_id)}
    assert statuses == {"Named": "Succeeded", "Release": "Failed"}
    assert lab.run("failing", variables=[{"name": "Branch", "value": "release/2"}])["status"] == "Succeeded"


def _alarm(lab: PipelineLab, name: str, missing: str) -> None:
    """A metric alarm on a metric nobody writes: TreatMissingData breaching keeps it in ALARM, notBreaching in OK (as
    the alarms runtime evaluates it)."""
    lab.client("cloudwatch").put_metric_alarm(
        AlarmName=name, Namespace="Lab", MetricName="Errors", Period=60, EvaluationPeriods=1, Statistic="Sum",
        Threshold=5, ComparisonOperator="GreaterThanThreshold", TreatMissingData=missing)


def _alarm_state(lab: PipelineLab, name: str) -> str:
    return lab.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


@pytest.mark.slow
def test_an_on_success_alarm_condition_rolls_the_stage_back_while_the_alarm_is_in_alarm(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: an On Success condition is
    checked once the stage has succeeded and its Rollback result engages when a rule fails;
    https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html: the rule watches
    AlarmStates of AlarmName. https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html: a
    rollback runs the stage again with the source revisions of the last execution that succeeded in it
    (executionType ROLLBACK)."""
    s3 = lab.s3
    _alarm(lab, "errors", "notBreaching")
    wait_for(lambda: _alarm_state(lab, "errors") == "OK")
    lab.source({"app.txt": "v1"})
    watch = rule("Errors", "CloudWatchAlarm", {"AlarmName": "errors", "AlarmStates": "ALARM"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "guarded", {"onSuccess": condition("ROLLBACK", watch)}))
    good = lab.wait("guarded", lab.wait_for_executions("guarded", 1)[0]["pipelineExecutionId"])
    assert good["status"] == "Succeeded"
    v1 = s3.get_object(Bucket=lab.bucket, Key="guarded.zip")["Body"].read()

    _alarm(lab, "errors", "breaching")
    wait_for(lambda: _alarm_state(lab, "errors") == "ALARM")
    lab.source({"app.txt": "v2"})
    bad = lab.run("guarded")
    assert bad["status"] == "Failed"
    assert "onSuccess condition of stage Deploy failed" in bad["statusSummary"]
    assert "Alarm errors is in state ALARM" in bad["statusSummary"]
    assert lab.actions("guarded", bad["pipelineExecutionId"])["Site"]["status"] == "Succeeded"
    [alarm_run] = rule_runs(lab, "guarded", bad["pipelineExecutionId"])
    assert alarm_run["status"] == "Failed" and alarm_run["output"]["executionResult"]["externalExecutionId"].endswith(":alarm:errors")

    def rollback() -> dict | None:
        found = lab.codepipeline.list_pipeline_executions(pipelineName="guarded")["pipelineExecutionSummaries"]
        return next((e for e in found if e["executionType"] == "ROLLBACK"), None)

    rolled = wait_for(rollback)
    assert rolled["trigger"] == {"triggerType": "AutomatedRollback", "triggerDetail": bad["pipelineExecutionId"]}
    assert rolled["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good["pipelineExecutionId"]
    assert lab.wait("guarded", rolled["pipelineExecutionId"])["status"] == "Succeeded"
    assert s3.get_object(Bucket=lab.bucket, Key="guarded.zip")["Body"].read() == v1


def _window_in(minutes: int) -> str:
    """A DeploymentWindow cron expression (AWS's form) of the single minute ``minutes`` from now, UTC."""
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    return f"* {at.minute} {at.hour} {at.day} {at.month} ? {at.year}"


@pytest.mark.slow
def test_a_deployment_window_holds_the_stage_until_it_opens_on_the_lab_clock(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html: the rule allows
    the stage in the days and times of its Cron expression (seconds, minutes, hours, day of month, month, day of
    week, optional year) in TimeZone. labstack's waits run on the lab clock (60 lab seconds a real second here): a
    window four minutes away opens after about four real seconds."""
    lab.source({"app.txt": "v1"})
    window = rule("Window", "DeploymentWindow", {"Cron": _window_in(4), "TimeZone": "UTC"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "windowed", {"beforeEntry": condition("FAIL", window)}))
    execution_id = lab.wait_for_executions("windowed", 1)[0]["pipelineExecutionId"]
    ended = lab.wait("windowed", execution_id, timeout=60)
    assert ended["status"] == "Succeeded"
    [ran] = rule_runs(lab, "windowed", execution_id)
    assert ran["status"] == "Succeeded"
    assert "opened" in ran["output"]["executionResult"]["externalExecutionSummary"]


def test_a_closed_window_waits_until_the_condition_is_overridden(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: rule conditions can be
    overridden at run time; API_OverrideStageCondition.html overrides an entry (BEFORE_ENTRY) or success
    (ON_SUCCESS) condition, and answers ConditionNotOverridableException where there is none to override. A closed
    window keeps the rule InProgress (GetPipelineState's beforeEntryConditionState), and the stage does not run."""
    lab.source({"app.txt": "v1"})
    window = rule("Window", "DeploymentWindow", {"Cron": "* 0 3 ? * SUN 2098", "TimeZone": "Europe/Paris"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "closed", {"beforeEntry": condition("FAIL", window)}))
    execution_id = lab.wait_for_executions("closed", 1)[0]["pipelineExecutionId"]

    def waiting() -> dict | None:
        entry = stage_state(lab, "closed", "Deploy").get("beforeEntryConditionState", {})
        rules = entry.get("conditionStates", [{}])[0].get("ruleStates", [{}])
        latest = rules[0].get("latestExecution", {})  # the rule says when the window opens once it has worked it out
        return entry if latest.get("status") == "InProgress" and latest.get("summary") else None

    entry = wait_for(waiting)
    assert entry["latestExecution"]["status"] == "InProgress"
    assert "2098-" in entry["conditionStates"][0]["ruleStates"][0]["latestExecution"]["summary"]
    assert "Site" not in lab.actions("closed", execution_id)
    code, _ = error_of(lab.codepipeline.override_stage_condition, pipelineName="closed", stageName="Deploy",
                       pipelineExecutionId=execution_id, conditionType="ON_SUCCESS")
    assert code == "ConditionNotOverridableException"
    lab.codepipeline.override_stage_condition(pipelineName="closed", stageName="Deploy", pipelineExecutionId=execution_id,
                                              conditionType="BEFORE_ENTRY")
    assert lab.wait("closed", execution_id)["status"] == "Succeeded"
    assert lab.actions("closed", execution_id)["Site"]["status"] == "Succeeded"
    entry = stage_state(lab, "closed", "Deploy")["beforeEntryConditionState"]
    assert entry["latestExecution"]["status"] == "Overridden"
    assert entry["conditionStates"][0]["ruleStates"][0]["latestExecution"]["status"] == "Abandoned"


RULE_HANDLER = """
def handler(event, context):
    if event["UserParameters"] != "allow":
        raise RuntimeError("smoke test refused " + event["stageName"])
    return {"checked": event["ruleName"]}
"""


@pytest.mark.slow
def test_a_lambda_rule_passes_or_fails_with_the_function(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-LambdaInvoke.html: the rule invokes
    FunctionName with UserParameters; the function's error fails the rule (labstack: a function error fails it, a
    return passes it). The function is invoked as the pipeline's role."""
    role = service_role(lab.client("iam"), "fn", "lambda.amazonaws.com")
    lab.client("lambda").create_function(FunctionName="smoke", Runtime="python3.12", Role=role, Handler="app.handler",
                                         Timeout=30, Code={"ZipFile": zipped({"app.py": RULE_HANDLER})})
    lab.source({"app.txt": "v1"})
    smoke = rule("Smoke", "LambdaInvoke", {"FunctionName": "smoke", "UserParameters": "#{variables.Mode}"},
                 inputArtifacts=[{"name": "src"}])
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "smoked", {"onSuccess": condition("FAIL", smoke)},
                                                    variables=[{"name": "Mode", "defaultValue": "allow"}]))
    first = lab.wait("smoked", lab.wait_for_executions("smoked", 1)[0]["pipelineExecutionId"], timeout=60)
    assert first["status"] == "Succeeded"
    refused = lab.run("smoked", timeout=60, variables=[{"name": "Mode", "value": "deny"}])
    assert refused["status"] == "Failed"
    [ran] = rule_runs(lab, "smoked", refused["pipelineExecutionId"])
    assert ran["status"] == "Failed"
    assert "smoke test refused Deploy" in ran["output"]["executionResult"]["errorDetails"]["message"]
    assert ran["input"]["resolvedConfiguration"]["UserParameters"] == "deny"
    # onSuccess FAIL: the execution failed, no rollback was made
    summaries = lab.codepipeline.list_pipeline_executions(pipelineName="smoked")["pipelineExecutionSummaries"]
    assert {e["executionType"] for e in summaries} == {"STANDARD"}


def test_a_rule_acts_as_the_pipeline_role_and_is_denied_what_the_role_may_not_do(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/security-iam.html: CodePipeline acts with the
    pipeline's service role; a CloudWatchAlarm rule reads the alarm as that role, so a role without
    cloudwatch:DescribeAlarms fails the rule with AccessDenied (nothing is read for it)."""
    _alarm(lab, "quiet", "notBreaching")
    lab.source({"app.txt": "v1"})
    narrow = service_role(lab.client("iam"), "narrow-pipeline", "codepipeline.amazonaws.com", policy={
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudwatch:DescribeAlarms", "Resource": "*"}]})
    watch = rule("Quiet", "CloudWatchAlarm", {"AlarmName": "quiet"})
    declaration = gated(lab, "denied", {"beforeEntry": condition("FAIL", watch)})
    declaration["roleArn"] = narrow
    lab.codepipeline.create_pipeline(pipeline=declaration)
    execution_id = lab.wait_for_executions("denied", 1)[0]["pipelineExecutionId"]
    assert lab.wait("denied", execution_id)["status"] == "Failed"
    [ran] = rule_runs(lab, "denied", execution_id)
    message = ran["output"]["executionResult"]["errorDetails"]["message"]
    assert "not authorized to perform: cloudwatch:DescribeAlarms" in message and "narrow-pipeline" in message


def test_a_rule_role_the_pipeline_role_cannot_assume_is_refused_at_creation(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html: a rule may act as a
    roleArn of its own, which the pipeline's role assumes (as for an action's roleArn)."""
    lonely = service_role(lab.client("iam"), "lonely", "ec2.amazonaws.com")
    narrow = service_role(lab.client("iam"), "no-assume", "codepipeline.amazonaws.com", policy={
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    check = rule("Check", "VariableCheck", {"Variable": "a", "Value": "a", "Operator": "EQ"}, roleArn=lonely)
    declaration = gated(lab, "role-refused", {"beforeEntry": condition("FAIL", check)})
    declaration["roleArn"] = narrow
    code, message = error_of(lab.codepipeline.create_pipeline, pipeline=declaration)
    assert code == "InvalidStructureException" and f"on rule role {lonely}" in message


@pytest.mark.parametrize(("where", "declared", "expected"), [
    ("beforeEntry", condition("ROLLBACK", rule("R", "VariableCheck", {"Variable": "a", "Value": "a", "Operator": "EQ"})),
     ("InvalidStageDeclarationException", "FAIL, SKIP")),
    ("onSuccess", condition("SKIP", rule("R", "VariableCheck", {"Variable": "a", "Value": "a", "Operator": "EQ"})),
     ("InvalidStageDeclarationException", "ROLLBACK, FAIL")),
    ("onFailure", condition("SKIP", rule("R", "VariableCheck", {"Variable": "a", "Value": "a", "Operator": "EQ"})),
     ("InvalidStageDeclarationException", "ROLLBACK, FAIL, RETRY")),
    ("onFailure", {"result": "SKIP"}, ("ValidationException", "onFailure result SKIP is not supported")),
    ("beforeEntry", condition("FAIL", rule("R", "Telepathy", {})), ("InvalidStageDeclarationException", "Telepathy")),
    ("beforeEntry", condition("FAIL", rule("R", "CodeBuild", {"ProjectName": "p"}, inputArtifacts=[{"name": "src"}])),
     ("NotImplemented", "does not evaluate CodeBuild rules")),
    ("beforeEntry", condition("FAIL", rule("R", "VariableCheck", {"Variable": "a", "Value": "a", "Operator": "GT"})),
     ("InvalidStageDeclarationException", "Operator must be one of EQ, NE, CONTAINS, MATCHES")),
    ("beforeEntry", condition("FAIL", rule("R", "VariableCheck", {"Variable": "a", "Value": "a"})),
     ("InvalidStageDeclarationException", "missing required configuration 'Operator'")),
    ("beforeEntry", condition("FAIL", rule("R", "DeploymentWindow", {"Cron": "0 9 * * MON"})),
     ("InvalidStageDeclarationException", "6 fields")),
    ("beforeEntry", condition("FAIL", rule("R", "DeploymentWindow", {"Cron": "* 0 9 ? * MON", "TimeZone": "Mars/Base"})),
     ("InvalidStageDeclarationException", "Mars/Base is not a time zone")),
    ("beforeEntry", condition("FAIL", rule("R", "CloudWatchAlarm", {"AlarmName": "a", "AlarmStates": "RED"})),
     ("InvalidStageDeclarationException", "AlarmStates")),
    ("onSuccess", condition("FAIL", rule("R", "CloudWatchAlarm", {"AlarmName": "a", "WaitTime": "nan"})),
     ("InvalidStageDeclarationException", "WaitTime must be a number of minutes")),
    ("beforeEntry", condition("FAIL", rule("R", "LambdaInvoke", {"FunctionName": "f"}, inputArtifacts=[{"name": "later"}])),
     ("InvalidStructureException", "Input artifact later of rule R")),
])
def test_conditions_aws_refuses_are_refused(lab: PipelineLab, where: str, declared: dict, expected: tuple) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: Entry conditions take Fail or
    Skip, On Success and On Failure Rollback (the API's Result enum adds FAIL and RETRY; SKIP only before entry);
    the rule reference lists each rule type's required configuration and values. Rule types labstack does not
    evaluate are refused by name (501) instead of being accepted and ignored."""
    deploy_stage = {**stage("Deploy", deploy(lab, "x.zip")), where: declared}
    code, message = error_of(lab.codepipeline.create_pipeline, pipeline=v2(lab, "refused", deploy_stage))
    assert code == expected[0] and expected[1] in message


def test_conditions_are_for_v2_pipelines(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: conditions are a feature of V2
    type pipelines."""
    check = rule("R", "VariableCheck", {"Variable": "a", "Value": "a", "Operator": "EQ"})
    declaration = lab.declaration("old-type", stage("Source", s3_source(lab.sources)),
                                  {**stage("Deploy", deploy(lab, "x.zip")), "beforeEntry": condition("FAIL", check)})
    code, message = error_of(lab.codepipeline.create_pipeline, pipeline=declaration)
    assert code == "ValidationException" and "V2" in message


def test_list_rule_executions_filters_by_execution(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListRuleExecutions.html: rule executions newest
    first, filtered by pipelineExecutionId or latestInPipelineExecution; an unknown execution is
    PipelineExecutionNotFoundException."""
    lab.source({"app.txt": "v1"})
    check = rule("Check", "VariableCheck", {"Variable": "#{variables.N}", "Value": "x", "Operator": "NE"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "listed", {"beforeEntry": condition("FAIL", check)},
                                                    variables=[{"name": "N", "defaultValue": "1"}]))
    first = lab.wait("listed", lab.wait_for_executions("listed", 1)[0]["pipelineExecutionId"])["pipelineExecutionId"]
    second = lab.run("listed", variables=[{"name": "N", "value": "2"}])["pipelineExecutionId"]
    everything = lab.codepipeline.list_rule_executions(pipelineName="listed")["ruleExecutionDetails"]
    assert [r["pipelineExecutionId"] for r in everything] == [second, first]
    assert [r["input"]["resolvedConfiguration"]["Variable"] for r in everything] == ["2", "1"]
    latest = lab.codepipeline.list_rule_executions(pipelineName="listed", filter={"latestInPipelineExecution": {
        "pipelineExecutionId": first, "startTimeRange": "Latest"}})["ruleExecutionDetails"]
    assert [r["pipelineExecutionId"] for r in latest] == [first]
    code, _ = error_of(lab.codepipeline.list_rule_executions, pipelineName="listed",
                       filter={"pipelineExecutionId": "00000000-0000-0000-0000-000000000000"})
    assert code == "PipelineExecutionNotFoundException"


@pytest.mark.slow
def test_an_on_failure_condition_decides_whether_a_failed_stage_rolls_back(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html: an On Failure condition is
    checked when the stage fails, and its Rollback result engages when the condition fails (here: a CloudWatchAlarm
    rule, which fails while the alarm is in ALARM). A failure while the alarm is OK leaves the stage failed and
    rolls nothing back."""
    _alarm(lab, "health", "notBreaching")
    wait_for(lambda: _alarm_state(lab, "health") == "OK")
    lab.source({"app.txt": "v1"})
    watch = rule("Health", "CloudWatchAlarm", {"AlarmName": "health"})
    site = action("Site", "Deploy", "S3", {"BucketName": "#{variables.Bucket}", "Extract": "false", "ObjectKey": "s.zip"},
                  inputs=("src",))
    declaration = v2(lab, "on-failure", {**stage("Deploy", site), "onFailure": condition("ROLLBACK", watch)},
                     variables=[{"name": "Bucket", "defaultValue": lab.bucket}])
    lab.codepipeline.create_pipeline(pipeline=declaration)
    good = lab.wait("on-failure", lab.wait_for_executions("on-failure", 1)[0]["pipelineExecutionId"])
    assert good["status"] == "Succeeded"

    calm = lab.run("on-failure", variables=[{"name": "Bucket", "value": "no-such-bucket"}])
    assert calm["status"] == "Failed"
    assert [r["status"] for r in rule_runs(lab, "on-failure", calm["pipelineExecutionId"])] == ["Succeeded"]
    assert stage_state(lab, "on-failure", "Deploy")["onFailureConditionState"]["latestExecution"]["status"] == "Succeeded"

    _alarm(lab, "health", "breaching")
    wait_for(lambda: _alarm_state(lab, "health") == "ALARM")
    alarmed = lab.run("on-failure", variables=[{"name": "Bucket", "value": "no-such-bucket"}])
    assert alarmed["status"] == "Failed"
    assert [r["status"] for r in rule_runs(lab, "on-failure", alarmed["pipelineExecutionId"])] == ["Failed"]

    def rollbacks() -> list[dict]:
        found = lab.codepipeline.list_pipeline_executions(pipelineName="on-failure")["pipelineExecutionSummaries"]
        return [e for e in found if e["executionType"] == "ROLLBACK"]

    [rolled] = wait_for(rollbacks)
    assert rolled["trigger"]["triggerDetail"] == alarmed["pipelineExecutionId"]
    assert rolled["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good["pipelineExecutionId"]
    assert lab.wait("on-failure", rolled["pipelineExecutionId"])["status"] == "Succeeded"


def test_a_window_that_never_opens_fails_its_rule(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html: the Cron
    expression names the times the stage may run; one that names none (February 30th) can never let it in, and the
    rule fails at once instead of holding the execution for ever."""
    lab.source({"app.txt": "v1"})
    window = rule("Never", "DeploymentWindow", {"Cron": "* 0 12 30 2 ? *"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "never", {"beforeEntry": condition("FAIL", window)}))
    ended = lab.wait("never", lab.wait_for_executions("never", 1)[0]["pipelineExecutionId"])
    assert ended["status"] == "Failed" and "never opens" in ended["statusSummary"]


def test_a_catastrophic_matches_pattern_fails_its_rule_instead_of_hanging_labstack(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html: MATCHES takes a
    regular expression the pipeline's author writes. One that backtracks catastrophically on the variable's value is
    given up after a short time limit: the rule fails as undecided and labstack goes on."""
    lab.source({"app.txt": "v1"})
    check = rule("Greedy", "VariableCheck", {"Variable": "#{variables.Text}", "Value": "^(a|a)*$", "Operator": "MATCHES"})
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "greedy", {"beforeEntry": condition("FAIL", check)},
                                                    variables=[{"name": "Text", "defaultValue": "a" * 60 + "b"}]))
    ended = lab.wait("greedy", lab.wait_for_executions("greedy", 1)[0]["pipelineExecutionId"])
    assert ended["status"] == "Failed" and "undecided" in ended["statusSummary"]
    assert lab.codepipeline.get_pipeline(name="greedy")["pipeline"]["name"] == "greedy"


def test_an_update_cancels_an_execution_waiting_for_its_window_and_a_stop_stops_one(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StageExecution.html: an update ends the stage
    Cancelled, a stop Stopped; a waiting rule does not hold either up (its execution is Abandoned)."""
    lab.source({"app.txt": "v1"})
    window = rule("Window", "DeploymentWindow", {"Cron": "* 0 3 ? * SUN 2098"})
    declaration = gated(lab, "interrupted", {"beforeEntry": condition("FAIL", window)})
    lab.codepipeline.create_pipeline(pipeline=declaration)
    first = lab.wait_for_executions("interrupted", 1)[0]["pipelineExecutionId"]
    wait_for(lambda: rule_runs(lab, "interrupted", first))
    lab.codepipeline.update_pipeline(pipeline=declaration)
    assert lab.wait("interrupted", first)["status"] == "Cancelled"
    assert [r["status"] for r in rule_runs(lab, "interrupted", first)] == ["Abandoned"]

    second = lab.codepipeline.start_pipeline_execution(name="interrupted")["pipelineExecutionId"]
    wait_for(lambda: rule_runs(lab, "interrupted", second))
    lab.codepipeline.stop_pipeline_execution(pipelineName="interrupted", pipelineExecutionId=second, reason="not today")
    assert lab.wait("interrupted", second)["status"] == "Stopped"
    assert stage_state(lab, "interrupted", "Deploy")["latestExecution"]["status"] == "Stopped"


def test_a_rule_with_a_role_of_its_own_acts_as_that_role(lab: PipelineLab) -> None:
    """https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html: roleArn is "the
    ARN of the IAM service role that performs the declared rule", assumed through the pipeline's role. The
    pipeline's role may read alarms; the rule's role may not, and the rule is refused as that role."""
    _alarm(lab, "watched", "notBreaching")
    lab.source({"app.txt": "v1"})
    iam = lab.client("iam")
    trusting = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": lab.role},
                                                        "Action": "sts:AssumeRole"}]}
    watcher = iam.create_role(RoleName="watcher", AssumeRolePolicyDocument=json.dumps(trusting))["Role"]["Arn"]
    iam.put_role_policy(RoleName="watcher", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    watch = rule("Watched", "CloudWatchAlarm", {"AlarmName": "watched"}, roleArn=watcher)
    lab.codepipeline.create_pipeline(pipeline=gated(lab, "own-role", {"beforeEntry": condition("FAIL", watch)}))
    execution_id = lab.wait_for_executions("own-role", 1)[0]["pipelineExecutionId"]
    assert lab.wait("own-role", execution_id)["status"] == "Failed"
    [ran] = rule_runs(lab, "own-role", execution_id)
    assert ran["input"]["roleArn"] == watcher
    message = ran["output"]["executionResult"]["errorDetails"]["message"]
    assert "cloudwatch:DescribeAlarms" in message and "watcher" in message
