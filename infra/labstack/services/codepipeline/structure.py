"""Checks of a pipeline declaration, as CreatePipeline and UpdatePipeline make them.

The input shape (names, patterns, lengths, enums) is already checked by the protocol layer
against botocore's model; these are the rules of CodePipeline's pipeline structure reference
that a shape cannot say: artifact wiring, known action types and their required
configuration, artifact counts, stage and action layout, V2-only features, namespaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from labstack.errors import AwsError
from labstack.services.codebuild import patterns
from labstack.services.codepipeline import rule_types, rules
from labstack.services.codepipeline.action_types import ActionType

MAX_STAGES = 50
MAX_ACTIONS_PER_STAGE = 50
VARIABLE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")
BUILTIN_NAMESPACES = {"variables", "codepipeline"}


def _structure(message: str) -> AwsError:
    return AwsError("InvalidStructureException", message)


def _action_error(message: str) -> AwsError:
    return AwsError("InvalidActionDeclarationException", message)


def _stage_error(message: str) -> AwsError:
    return AwsError("InvalidStageDeclarationException", message)


def check(pipeline: dict, region: str, find_type: Callable[[dict], ActionType | None]) -> None:
    """Raise AWS's error for the first rule ``pipeline`` breaks; ``find_type`` maps an
    ``ActionTypeId`` to the action type the account can use (None if there is none)."""
    v2 = pipeline.get("pipelineType", "V1") == "V2"
    _check_store(pipeline)
    stages = pipeline["stages"]
    if len(stages) < 2:
        raise _structure(f"Pipeline has only {len(stages)} stage(s). There should be a minimum of 2 stages in a pipeline")
    if len(stages) > MAX_STAGES:
        raise AwsError("LimitExceededException", f"Pipeline has {len(stages)} stages; the limit is {MAX_STAGES}")
    if not v2:
        if pipeline.get("variables"):
            raise AwsError("ValidationException", "Pipeline-level variables are only supported in pipelines of type V2")
        if pipeline.get("triggers"):
            raise AwsError("ValidationException", "Triggers are only supported in pipelines of type V2")
        if pipeline.get("executionMode", "SUPERSEDED") != "SUPERSEDED":
            raise AwsError("ValidationException",
                           f"Execution mode {pipeline['executionMode']} is only supported in pipelines of type V2")
    names = [v["name"] for v in pipeline.get("variables", [])]
    if len(names) != len(set(names)):
        raise AwsError("ValidationException", "Pipeline variable names must be unique")
    seen_stages: set[str] = set()
    produced: set[str] = set()
    namespaces: set[str] = set()
    for index, stage in enumerate(stages):
        if stage["name"] in seen_stages:
            raise _stage_error(f"Stage name {stage['name']} is used more than once; stage names must be unique")
        seen_stages.add(stage["name"])
        _check_conditions(stage, v2, produced)
        _check_stage(stage, index, region, find_type, produced, namespaces)
    _check_namespace_clashes(stages, produced)
    _check_variable_references(stages, namespaces)
    _check_triggers(pipeline)


MAX_WAIT_MINUTES = 1440  # a CloudWatchAlarm rule's WaitTime: labstack waits a lab day at most
RESULTS = {"beforeEntry": ("FAIL", "SKIP"), "onSuccess": ("ROLLBACK", "FAIL"), "onFailure": ("ROLLBACK", "FAIL", "RETRY")}


def _check_conditions(stage: dict, v2: bool, produced: set[str]) -> None:
    """Stage conditions (V2): the results each kind takes (beforeEntry FAIL or SKIP, onSuccess ROLLBACK or
    FAIL, onFailure ROLLBACK, FAIL or RETRY), and rules of AWS's rule types that labstack evaluates."""
    name = stage["name"]
    failure = stage.get("onFailure")
    if any(stage.get(kind) for kind in RESULTS) and not v2:
        raise AwsError("ValidationException", f"Stage {name}: conditions (beforeEntry, onSuccess, onFailure) are only "
                       "supported in pipelines of type V2")
    if (failure or {}).get("result") == "SKIP":  # in the model's enum (shared with beforeEntry); AWS skips only before entry
        raise AwsError("ValidationException", f"Stage {name}: onFailure result SKIP is not supported; a stage "
                       "can be skipped only by a beforeEntry condition. onFailure takes FAIL, RETRY or ROLLBACK")
    for kind, allowed in RESULTS.items():
        for condition in (stage.get(kind) or {}).get("conditions") or []:
            result = condition.get("result") or ((failure or {}).get("result") if kind == "onFailure" else None)
            if result is None:
                raise _stage_error(f"Stage {name}: a {kind} condition must declare its result ({', '.join(allowed)})")
            if result not in allowed:
                raise _stage_error(f"Stage {name}: the result of a {kind} condition must be one of "
                                   f"{', '.join(allowed)}; {result} is not")
            rules = condition.get("rules") or []
            if not rules:
                raise _stage_error(f"Stage {name}: a {kind} condition must contain at least one rule")
            names = [r["name"] for r in rules]
            if len(names) != len(set(names)):
                raise _stage_error(f"Stage {name}: rule names must be unique within a condition")
            for rule in rules:
                _check_rule(name, rule, produced)


def _check_rule(stage: str, rule: dict, produced: set[str]) -> None:
    type_id = rule["ruleTypeId"]
    rule_type = rule_types.find(type_id)
    if rule_type is None:
        raise _stage_error(f"RuleType (Category: '{type_id['category']}', Provider: '{type_id['provider']}', Owner: "
                           f"'{type_id['owner']}', Version: '{type_id['version']}') in rule '{rule['name']}' of stage "
                           f"{stage} is not available")
    if type_id["provider"] not in rules.EVALUATORS:
        raise AwsError("NotImplemented", f"labstack does not evaluate {type_id['provider']} rules (rule {rule['name']} of "
                       f"stage {stage}); it evaluates {', '.join(sorted(rules.EVALUATORS))}", 501)
    configuration = rule.get("configuration") or {}
    for prop in rule_type.properties:
        if prop.required and not configuration.get(prop.name):
            raise _stage_error(f"Rule configuration for rule '{rule['name']}' is missing required configuration "
                               f"'{prop.name}'")
    known = {p.name for p in rule_type.properties}
    for key in configuration:
        if key not in known:
            raise _stage_error(f"Rule configuration for rule '{rule['name']}' contains unknown configuration '{key}'")
    inputs = [a["name"] for a in rule.get("inputArtifacts", [])]
    low, high = rule_type.inputs
    if not low <= len(inputs) <= high:
        raise _stage_error(f"Rule {rule['name']} declares {len(inputs)} input artifacts; rules of type "
                           f"{type_id['provider']} take {low} to {high}")
    for artifact in inputs:
        if artifact not in produced:
            raise _structure(f"Input artifact {artifact} of rule {rule['name']} is not the output artifact of an "
                             "action of an earlier stage")
    if rule.get("commands"):
        raise _stage_error(f"Rule {rule['name']} cannot contain a commands field; only Commands rules take commands")
    problem = _rule_configuration_problem(type_id["provider"], configuration)
    if problem:
        raise _stage_error(f"Rule configuration for rule '{rule['name']}': {problem}")


def _rule_configuration_problem(provider: str, configuration: dict) -> str | None:
    """What is wrong with the values of a rule's configuration, as far as they can be known before a run."""
    if provider == "VariableCheck":
        if configuration["Operator"] not in rules.OPERATORS:
            return f"Operator must be one of {', '.join(rules.OPERATORS)}"
        if configuration["Operator"] == "MATCHES" and not VARIABLE.search(configuration["Value"]):
            try:
                patterns.compile_pattern(configuration["Value"])
            except patterns.PatternError as exc:
                return f"Value {exc}"
    if provider == "DeploymentWindow":
        try:
            rules.window_cron(configuration["Cron"])
            rules.time_zone(configuration.get("TimeZone"))
        except ValueError as exc:
            return str(exc)
    if provider == "CloudWatchAlarm":
        states = [s.strip() for s in configuration.get("AlarmStates", "ALARM").split(",")]
        if any(s not in rules.ALARM_STATES for s in states):
            return f"AlarmStates must be a comma-separated list of {', '.join(rules.ALARM_STATES)}"
        try:
            wait = float(configuration.get("WaitTime") or 0)
        except ValueError:
            wait = -1
        if not 0 <= wait <= MAX_WAIT_MINUTES:
            return f"WaitTime must be a number of minutes from 0 to {MAX_WAIT_MINUTES}"
    return None


def _check_store(pipeline: dict) -> None:
    if ("artifactStore" in pipeline) == ("artifactStores" in pipeline):
        raise _structure("Pipeline must have exactly one of artifactStore or artifactStores")


def _check_stage(stage: dict, index: int, region: str, find_type: Callable[[dict], ActionType | None],
                 produced: set[str], namespaces: set[str]) -> None:
    actions = stage["actions"]
    if not actions:
        raise _stage_error(f"Stage {stage['name']} must contain at least one action")
    if len(actions) > MAX_ACTIONS_PER_STAGE:
        raise AwsError("LimitExceededException",
                       f"Stage {stage['name']} has {len(actions)} actions; the limit is {MAX_ACTIONS_PER_STAGE}")
    action_names = [a["name"] for a in actions]
    for name in action_names:
        if action_names.count(name) > 1:
            raise _action_error(f"Action name {name} is used more than once in stage {stage['name']}; "
                                "action names must be unique within a stage")
    sources = [a for a in actions if a["actionTypeId"]["category"] == "Source"]
    if index == 0 and len(sources) != len(actions):
        raise _structure("Pipeline must begin with a stage that contains only source actions")
    if index > 0 and sources:
        raise _structure(f"Source actions may only occur in the first stage; stage {stage['name']} has "
                         f"source action {sources[0]['name']}")
    by_order: dict[int, list[dict]] = {}
    for action in actions:
        by_order.setdefault(action.get("runOrder", 1), []).append(action)
    for order in sorted(by_order):
        made_here: list[str] = []
        for action in by_order[order]:
            _check_action(action, region, find_type, produced)
            made_here += [a["name"] for a in action.get("outputArtifacts", [])]
            namespace = action.get("namespace")
            if namespace:
                if namespace in namespaces or namespace in BUILTIN_NAMESPACES:
                    raise _action_error(f"Namespace {namespace} is used by more than one action; namespaces must be unique")
                namespaces.add(namespace)
        for name in made_here:
            if name in produced or made_here.count(name) > 1:
                raise _structure(f"Output artifact name {name} is used more than once; "
                                 "every output artifact in a pipeline must have a unique name")
        produced.update(made_here)


def _check_action(action: dict, region: str, find_type: Callable[[dict], ActionType | None], produced: set[str]) -> None:
    type_id = action["actionTypeId"]
    action_type = find_type(type_id)
    if action_type is None:
        raise _action_error(
            f"ActionType (Category: '{type_id['category']}', Provider: '{type_id['provider']}', Owner: "
            f"'{type_id['owner']}', Version: '{type_id['version']}') in action '{action['name']}' is not available in "
            f"region '{region.upper().replace('-', '_')}'")
    inputs = [a["name"] for a in action.get("inputArtifacts", [])]
    outputs = action.get("outputArtifacts", [])
    for kind, count, (low, high) in (("input", len(inputs), action_type.inputs), ("output", len(outputs), action_type.outputs)):
        if count < low:
            raise _action_error(f"Action {action['name']} declares {count} {kind} artifacts which is less than the "
                                f"minimum count ({low})")
        if count > high:
            raise _action_error(f"Action {action['name']} declares {count} {kind} artifacts which is more than the "
                                f"maximum count ({high})")
    if len(inputs) != len(set(inputs)):
        raise _action_error(f"Action {action['name']} declares the same input artifact more than once")
    for name in inputs:
        if name not in produced:
            raise _structure(f"Input artifact {name} of action {action['name']} is not the output artifact of an "
                             "action that runs before it")
    configuration = action.get("configuration", {})
    known = action_type.property_names()
    for prop in action_type.properties:
        if prop.required and not configuration.get(prop.name):
            raise _action_error(f"Action configuration for action '{action['name']}' is missing required "
                                f"configuration '{prop.name}'")
    for key in configuration:
        if key not in known:
            raise _action_error(f"Action configuration for action '{action['name']}' contains unknown configuration "
                                f"'{key}'")
    _check_timeout(action)
    if action.get("commands") or any(o.get("files") for o in outputs):
        raise _action_error(f"The following action cannot contain a commands field: {action['name']}. To use the "
                            "commands field, use a compute action.")
    _check_provider_configuration(action, configuration, inputs)


def _check_timeout(action: dict) -> None:
    """``timeoutInMinutes`` belongs to Manual approvals alone (its range, 5 to 86400, is the input
    shape's and checked with it)."""
    type_id = action["actionTypeId"]
    if "timeoutInMinutes" in action and (type_id["category"], type_id["provider"]) != ("Approval", "Manual"):
        raise _action_error(f"Action {action['name']} declares timeoutInMinutes, which only a Manual approval action "
                            "may declare")


def _check_provider_configuration(action: dict, configuration: dict, inputs: list[str]) -> None:
    """Rules of single providers: artifact names their configuration refers to, booleans."""
    provider = action["actionTypeId"]["provider"]
    if provider == "CodeDeployToECS":
        for key in ("TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact",
                    *[f"Image{i}ArtifactName" for i in range(1, 5)]):
            if key in configuration and configuration[key] not in inputs:
                raise _action_error(f"Action configuration for action '{action['name']}': {key} "
                                    f"'{configuration[key]}' is not one of the action's input artifacts")
    if provider == "CodeBuild" and configuration.get("PrimarySource") and configuration["PrimarySource"] not in inputs:
        raise _action_error(f"Action configuration for action '{action['name']}': PrimarySource "
                            f"'{configuration['PrimarySource']}' is not one of the action's input artifacts")
    for key in ("PollForSourceChanges", "DetectChanges", "Extract", "BatchEnabled", "CombineArtifacts"):
        if key in configuration and configuration[key].lower() not in ("true", "false"):
            raise _action_error(f"Action configuration for action '{action['name']}': {key} must be true or false")


def _check_namespace_clashes(stages: list[dict], artifacts: set[str]) -> None:
    """A namespace may not have the name of any artifact of the pipeline (before or after it)."""
    for stage in stages:
        for action in stage["actions"]:
            if action.get("namespace") in artifacts:
                raise _action_error(f"Namespace {action['namespace']} of action {action['name']} conflicts with an "
                                    "artifact of the same name; namespaces cannot conflict with artifact names")


def _check_variable_references(stages: list[dict], namespaces: set[str]) -> None:
    for stage in stages:
        for action in stage["actions"]:
            for value in action.get("configuration", {}).values():
                for namespace, _name in VARIABLE.findall(value):
                    if namespace not in namespaces and namespace not in BUILTIN_NAMESPACES:
                        raise _action_error(f"Action '{action['name']}' refers to namespace '{namespace}', which no "
                                            "action of the pipeline declares")


def _check_triggers(pipeline: dict) -> None:
    sources = {a["name"]: a for a in pipeline["stages"][0]["actions"]}
    for trigger in pipeline.get("triggers", []):
        git = trigger["gitConfiguration"]
        action = sources.get(git["sourceActionName"])
        if action is None or action["actionTypeId"]["provider"] != "CodeStarSourceConnection":
            raise AwsError("ValidationException", f"Trigger source action {git['sourceActionName']} is not a "
                           "CodeStarSourceConnection source action of the pipeline")
        for push in git.get("push", []):
            if "tags" in push and ("branches" in push or "filePaths" in push):
                raise AwsError("ValidationException", "A push filter on tags cannot also filter branches or file paths")
            if "filePaths" in push and "branches" not in push:
                raise AwsError("ValidationException", "A push filter on file paths must also filter branches")
        for pull in git.get("pullRequest", []):  # AWS's combinations: branches, or branches and file paths
            if "branches" not in pull:
                raise AwsError("ValidationException", "A pull request filter must filter branches (the destination "
                               "branches), and may also filter file paths")

