"""Lab 07, pipeline as code: a base stack (artifact bucket, KMS key and alias, roles, exports) and a pipeline
stack whose template uses Parameters with AllowedValues, Mappings, a Condition with ``Fn::If``, a nested stack
and ``Fn::ImportValue``; the pipeline that stack made (Source → Build → Test (UnitTests ‖ Lint with cfn-lint) →
Deploy_Staging → [Approval] → Deploy_Production), its blue/green deployment group and push rule, and a run of it.

The checks read what the account holds: the stacks, their templates as CloudFormation keeps them, their
resources, exports and imports, and the resources CloudFormation made (found through the stack, whatever the
learner named them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from grader.backends import LabSession
from grader.checks import Check, Fail, found, lab01, lab02, lab03, lab05
from grader.checks import check as _check

TITLE = "Lab 07 · Pipeline as code"
NOTEBOOK = "07_pipeline_as_code"

PREFIX = "cicd-lab-iac"
BASE_STACK = f"{PREFIX}-base"
PIPELINE_STACK = f"{PREFIX}-pipeline"
ENVIRONMENT = "dev"
BRANCH = "pipeline-as-code"  # the pipeline's own branch: a push there starts it, and lab 04's pipeline stays idle
NESTED_KEY = "templates/build-projects.yaml"
CHANGE_SET = "first-deploy"
STAGES = ["Source", "Build", "Test", "Deploy_Staging", "Approval", "Deploy_Production"]
OPTIONAL_STAGES = {"Approval"}
COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
LINT_SWALLOWED = ("|| true", "||true", "--non-zero-exit-code none", "exit 0")

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 07 asks for, for this session's account (with those it uses from labs 01–05)."""
    return {"iac_stacks": {"base": BASE_STACK, "pipeline": PIPELINE_STACK}, "prefix": PREFIX, "environment": ENVIRONMENT,
            "base_bucket": f"{PREFIX}-artifacts-{session.account}", "nested_key": NESTED_KEY, "change_set": CHANGE_SET,
            "repository": lab01.REPOSITORY, "branch": BRANCH, "app_branch": lab01.BRANCH,
            "ecr_repository": lab02.ECR_REPOSITORY, "cluster": lab03.CLUSTER, "production_service": lab03.SERVICE,
            "load_balancer": lab05.LOAD_BALANCER,
            "image_placeholder": lab05.IMAGE_PLACEHOLDER, "cdk_stack": CDK_STACK, "cdk_branch": CDK_BRANCH}


# --- reading stacks ---------------------------------------------------------------------------

def stack(session: LabSession, name: str) -> dict[str, Any]:
    """The stack ``name`` as DescribeStacks shows it (Fail when there is none)."""
    try:
        return dict(session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":  # "Stack with id X does not exist"
            raise Fail(f"there is no stack {name}") from None
        raise


def complete_stack(session: LabSession, name: str) -> dict[str, Any]:
    """The stack ``name`` when its last operation succeeded (CREATE_COMPLETE or UPDATE_COMPLETE)."""
    found_stack = stack(session, name)
    status = found_stack["StackStatus"]
    if status not in COMPLETE:
        reason = f" ({found_stack['StackStatusReason']})" if found_stack.get("StackStatusReason") else ""
        raise Fail(f"{name} is {status}{reason}: read its events (describe_stack_events) for the first failure")
    return found_stack


def resources(session: LabSession, stack_name: str) -> list[dict[str, Any]]:
    """Every resource of a stack (ListStackResources, every page)."""
    pages = session.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return [r for page in pages for r in page["StackResourceSummaries"]]


def of_type(listed: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    """The resources of ``resource_type`` among ``listed``."""
    return [r for r in listed if r["ResourceType"] == resource_type]


def one(session: LabSession, stack_name: str, resource_type: str) -> str:
    """The physical id of the stack's only (or first) resource of ``resource_type`` (Fail when it has none)."""
    matching = of_type(resources(session, stack_name), resource_type)
    if not matching:
        raise Fail(f"{stack_name} declares no {resource_type}")
    return str(matching[0]["PhysicalResourceId"])


def template(session: LabSession, stack_name: str) -> dict[str, Any]:
    """The template a stack was made from, as CloudFormation keeps it (YAML short forms read as their long ones)."""
    body = session.client("cloudformation").get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, dict):
        return body
    from cfnlint.decode import decode_str  # here, not at import: cfn-lint takes 0.4 s to load in every kernel

    loaded, errors = decode_str(body)
    if errors or not isinstance(loaded, dict):
        raise Fail(f"{stack_name}'s template is neither JSON nor YAML: {errors[0] if errors else 'empty'}")
    return dict(loaded)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a template, ``node`` first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def stack_pipeline(session: LabSession) -> dict[str, Any]:
    """The declaration of the pipeline the pipeline stack made."""
    name = one(session, PIPELINE_STACK, "AWS::CodePipeline::Pipeline")
    return dict(found(lambda: session.client("codepipeline").get_pipeline(name=name),
                      f"the stack's pipeline {name} does not exist any more")["pipeline"])


def _stage(declaration: dict[str, Any], name: str) -> dict[str, Any]:
    for candidate in declaration["stages"]:
        if candidate["name"] == name:
            return dict(candidate)
    raise Fail(f"{declaration['name']} has no stage {name}")


def _base_exports(session: LabSession) -> dict[str, str]:
    """The base stack's exports: name -> value."""
    base_id = stack(session, BASE_STACK)["StackId"]
    pages = session.client("cloudformation").get_paginator("list_exports").paginate()
    return {e["Name"]: e["Value"] for page in pages for e in page["Exports"] if e["ExportingStackId"] == base_id}


# --- the base stack ---------------------------------------------------------------------------

@check("base-stack", 2, f"Create the stack {BASE_STACK} from your base template: an S3 bucket, a KMS key with an "
       "alias, and the roles of CodePipeline, CodeBuild, CodeDeploy and EventBridge. Its status must be "
       "CREATE_COMPLETE (or UPDATE_COMPLETE); if it rolled back, its events say why.", uses=("iac_stacks",))
def base_stack(session: LabSession) -> str:
    complete_stack(session, BASE_STACK)
    listed = resources(session, BASE_STACK)
    wanted = ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::KMS::Alias")
    missing = [t for t in wanted if not of_type(listed, t)]
    if missing:
        raise Fail(f"{BASE_STACK} declares no {', '.join(missing)}")
    roles = len(of_type(listed, "AWS::IAM::Role"))
    if roles < 4:
        raise Fail(f"{BASE_STACK} declares {roles} roles, not one each for CodePipeline, CodeBuild, CodeDeploy and EventBridge")
    return f"{BASE_STACK} holds the bucket, the key and its alias, and {roles} roles"


@check("base-exports", 2, f"Give the base stack's outputs an Export (names starting with {PREFIX}-): the "
       "bucket's name, the key's ARN and each role's ARN, so the pipeline stack can Fn::ImportValue them.",
       uses=("iac_stacks",))
def base_exports(session: LabSession) -> str:
    exports = _base_exports(session)
    listed = resources(session, BASE_STACK)
    bucket = of_type(listed, "AWS::S3::Bucket")[0]["PhysicalResourceId"] if of_type(listed, "AWS::S3::Bucket") else None
    values = set(exports.values())
    if bucket not in values:
        raise Fail(f"no export of {BASE_STACK} holds the bucket's name {bucket} (exports: {sorted(exports) or 'none'})")
    if not any(v.startswith("arn:") and ":key/" in v for v in values):
        raise Fail(f"no export of {BASE_STACK} holds the key's ARN (arn:aws:kms:...:key/...)")
    role_arns = [v for v in values if ":role/" in v]
    if len(role_arns) < 4:
        raise Fail(f"{len(role_arns)} exports of {BASE_STACK} hold a role's ARN, not all four roles'")
    return f"{BASE_STACK} exports {len(exports)} values: {', '.join(sorted(exports))}"


@check("artifact-store-encrypted", 1, "The bucket keeps versions (VersioningConfiguration Enabled) and encrypts "
       "with the stack's own key by default (aws:kms, KMSMasterKeyID the key's ARN); the alias points at that key.",
       hidden=True, uses=("iac_stacks",))
def artifact_store_encrypted(session: LabSession) -> str:
    listed = resources(session, BASE_STACK)
    bucket = one(session, BASE_STACK, "AWS::S3::Bucket")
    key = one(session, BASE_STACK, "AWS::KMS::Key")
    s3, kms = session.client("s3"), session.client("kms")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        raise Fail(f"{bucket} does not keep versions")
    rules = found(lambda: s3.get_bucket_encryption(Bucket=bucket), f"{bucket} has no default encryption")[
        "ServerSideEncryptionConfiguration"]["Rules"]
    default = rules[0]["ApplyServerSideEncryptionByDefault"] if rules else {}
    used = default.get("KMSMasterKeyID")
    if default.get("SSEAlgorithm") != "aws:kms" or not used:
        raise Fail(f"{bucket} encrypts with {default.get('SSEAlgorithm')}, not with the stack's KMS key")
    if kms.describe_key(KeyId=used)["KeyMetadata"]["KeyId"] != kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]:
        raise Fail(f"{bucket} encrypts with {used}, not with the stack's key {key}")
    alias = of_type(listed, "AWS::KMS::Alias")[0]["PhysicalResourceId"]
    target = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    if target != kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]:
        raise Fail(f"{alias} points at {target}, not at the stack's key")
    return f"{bucket} keeps versions and encrypts with {alias}"


# --- the pipeline template ------------------------------------------------------------------

@check("template-parameters", 2, "Declare the environment as a Parameter with AllowedValues (dev, prod) and "
       "read per-environment settings from a Mapping with Fn::FindInMap; the stack's value must be one of "
       "the allowed ones.", uses=("iac_stacks",))
def template_parameters(session: LabSession) -> str:
    body = template(session, PIPELINE_STACK)
    declared = body.get("Parameters") or {}
    allowed = {name: p["AllowedValues"] for name, p in declared.items() if isinstance(p, dict) and p.get("AllowedValues")}
    if not allowed:
        raise Fail(f"no Parameter of {PIPELINE_STACK}'s template has AllowedValues")
    given = {p["ParameterKey"]: p.get("ParameterValue") for p in stack(session, PIPELINE_STACK).get("Parameters", [])}
    if not any({"dev", "prod"} <= set(values) for values in allowed.values()):
        raise Fail(f"no Parameter allows both dev and prod: {allowed}")
    if not body.get("Mappings"):
        raise Fail("the template has no Mappings section")
    if not any("Fn::FindInMap" in node for node in walk(body.get("Resources"))):
        raise Fail("no resource reads its settings from the Mapping (Fn::FindInMap)")
    shown = ", ".join(f"{name}={given.get(name)} of {values}" for name, values in allowed.items())
    return f"Parameters with AllowedValues: {shown}; settings from Mappings"


@check("template-conditions", 2, "Declare a Condition (e.g. IsProd: !Equals [!Ref Environment, prod]) and use it "
       "with Fn::If in a resource's properties.", uses=("iac_stacks",))
def template_conditions(session: LabSession) -> str:
    body = template(session, PIPELINE_STACK)
    conditions = body.get("Conditions") or {}
    if not conditions:
        raise Fail("the template has no Conditions section")
    used = {node["Fn::If"][0] for node in walk(body.get("Resources")) if isinstance(node.get("Fn::If"), list)}
    if not used & set(conditions):
        raise Fail(f"no resource uses the conditions {', '.join(conditions)} in an Fn::If")
    return f"Fn::If on {', '.join(sorted(used & set(conditions)))}"


@check("approval-conditional", 1, "The Approval stage is there only where the condition holds: the Stages list "
       "holds !If [IsProd, <the Approval stage>, !Ref AWS::NoValue].", hidden=True, uses=("iac_stacks",))
def approval_conditional(session: LabSession) -> str:
    body = template(session, PIPELINE_STACK)
    for declared in (body.get("Resources") or {}).values():
        if not isinstance(declared, dict) or declared.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        for entry in (declared.get("Properties") or {}).get("Stages") or []:
            branches = entry.get("Fn::If") if isinstance(entry, dict) else None
            if isinstance(branches, list) and len(branches) == 3:
                staged = [b for b in branches[1:] if isinstance(b, dict)]
                approvals = [b for b in staged for a in b.get("Actions") or []
                             if (a.get("ActionTypeId") or {}).get("Category") == "Approval"]
                if approvals and {"Ref": "AWS::NoValue"} in branches[1:]:
                    return f"the Approval stage exists only when {branches[0]} holds"
        raise Fail("no stage of the pipeline is an !If between an Approval stage and AWS::NoValue")
    raise Fail(f"{PIPELINE_STACK}'s template declares no AWS::CodePipeline::Pipeline")


@check("nested-stack", 2, "Declare the CodeBuild projects in a template of their own, uploaded to the base "
       "stack's bucket, and include it as an AWS::CloudFormation::Stack (TemplateURL); it must complete too.",
       uses=("iac_stacks",))
def nested_stack(session: LabSession) -> str:
    nested = of_type(resources(session, PIPELINE_STACK), "AWS::CloudFormation::Stack")
    if not nested:
        raise Fail(f"{PIPELINE_STACK} declares no AWS::CloudFormation::Stack")
    child = complete_stack(session, nested[0]["PhysicalResourceId"])
    projects = of_type(resources(session, child["StackId"]), "AWS::CodeBuild::Project")
    if not projects:
        raise Fail(f"the nested stack {child['StackName']} declares no AWS::CodeBuild::Project")
    return f"{child['StackName']} holds {len(projects)} CodeBuild projects"


# --- the pipeline stack deployed --------------------------------------------------------------

@check("pipeline-stack", 2, f"Deploy the pipeline template as the stack {PIPELINE_STACK} (a change set, then "
       "execute it); it must reach CREATE_COMPLETE or UPDATE_COMPLETE.", uses=("iac_stacks",))
def pipeline_stack(session: LabSession) -> str:
    found_stack = complete_stack(session, PIPELINE_STACK)
    return f"{PIPELINE_STACK} is {found_stack['StackStatus']}"


@check("imports-base", 2, "Read the bucket, the key and the roles from the base stack with Fn::ImportValue: "
       "ListImports of the base stack's exports must name the pipeline stack.", uses=("iac_stacks",))
def imports_base(session: LabSession) -> str:
    cloudformation = session.client("cloudformation")
    importing: dict[str, list[str]] = {}
    for name in _base_exports(session):
        try:
            pages = cloudformation.get_paginator("list_imports").paginate(ExportName=name)
            importing[name] = [s for page in pages for s in page["Imports"]]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationError":  # "not imported by any stack"
                raise
            importing[name] = []
    used = sorted(name for name, stacks in importing.items() if PIPELINE_STACK in stacks)
    if not used:
        raise Fail(f"{PIPELINE_STACK} imports none of {BASE_STACK}'s exports ({', '.join(sorted(importing)) or 'none'})")
    return f"{PIPELINE_STACK} imports {', '.join(used)}"


@check("pipeline-structure", 3, "The stack's pipeline: a V2 pipeline with the stages Source, Build, Test, "
       "Deploy_Staging, (Approval, in prod), Deploy_Production in that order; Test holds two actions with the "
       "same runOrder; Deploy_Staging updates a staging service the stack declares (lab 04's stays lab 04's); its "
       "artifact store is the base stack's bucket.", uses=("iac_stacks",))
def pipeline_structure(session: LabSession) -> str:
    declaration = stack_pipeline(session)
    if declaration.get("pipelineType", "V1") != "V2":
        raise Fail(f"{declaration['name']} is a {declaration.get('pipelineType', 'V1')} pipeline")
    stages = [s["name"] for s in declaration["stages"]]
    wanted = [s for s in STAGES if s not in OPTIONAL_STAGES or s in stages]
    if stages != wanted:
        raise Fail(f"the stages are {' → '.join(stages)}, not {' → '.join(wanted)}")
    tests = _stage(declaration, "Test")["actions"]
    if len(tests) < 2 or len({a.get("runOrder", 1) for a in tests}) != 1:
        raise Fail(f"the Test stage runs {[(a['name'], a.get('runOrder', 1)) for a in tests]}: two actions, one runOrder")
    staging = _stage(declaration, "Deploy_Staging")["actions"][0].get("configuration", {}).get("ServiceName")
    own = {r["PhysicalResourceId"].rsplit("/", 1)[-1]
           for r in of_type(resources(session, PIPELINE_STACK), "AWS::ECS::Service")}
    if staging not in own:
        raise Fail(f"Deploy_Staging updates {staging}, not a service of the stack's own ({', '.join(sorted(own)) or 'none'})")
    bucket = one(session, BASE_STACK, "AWS::S3::Bucket")
    if declaration.get("artifactStore", {}).get("location") != bucket:
        raise Fail(f"its artifacts go to {declaration.get('artifactStore', {}).get('location')}, not the base stack's {bucket}")
    return f"{declaration['name']}: {' → '.join(stages)}"


def _lint_project(session: LabSession) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Test action whose CodeBuild project runs cfn-lint, and that project (Fail when none does)."""
    declaration = stack_pipeline(session)
    codebuild = session.client("codebuild")
    source = _stage(declaration, "Source")["actions"][0].get("configuration", {})
    for action in _stage(declaration, "Test")["actions"]:
        if action["actionTypeId"]["provider"] != "CodeBuild":
            continue
        projects = codebuild.batch_get_projects(names=[action["configuration"]["ProjectName"]])["projects"]
        if projects and "cfn-lint" in _buildspec(session, projects[0], source):
            return action, projects[0]
    raise Fail("no Test action runs a CodeBuild project whose buildspec runs cfn-lint")


def _buildspec(session: LabSession, project: dict[str, Any], source: dict[str, str]) -> str:
    """A project's buildspec: inline, or the file it names as the pipeline's branch holds it."""
    spec = project["source"].get("buildspec") or "buildspec.yml"
    if "\n" in spec or spec.lstrip().startswith("version"):
        return str(spec)
    try:
        return session.client("codecommit").get_file(
            repositoryName=source.get("RepositoryName", lab01.REPOSITORY), commitSpecifier=source.get("BranchName", BRANCH),
            filePath=spec)["fileContent"].decode()
    except ClientError:
        return ""


@check("lint-action", 2, "One Test action runs cfn-lint on your templates (a CodeBuild project whose buildspec "
       "runs `cfn-lint`, e.g. buildspec-lint.yml on the pipeline's branch); an error must fail the build, so do "
       "not swallow cfn-lint's exit code (`|| true`, `--non-zero-exit-code none`).", uses=("iac_stacks",))
def lint_action(session: LabSession) -> str:
    action, project = _lint_project(session)
    source = _stage(stack_pipeline(session), "Source")["actions"][0].get("configuration", {})
    lines = [line for line in _buildspec(session, project, source).splitlines() if "cfn-lint" in line]
    swallowed = [line.strip().removeprefix("- ") for line in lines if any(s in line for s in LINT_SWALLOWED)]
    if swallowed:
        raise Fail(f"{project['name']} runs {swallowed[0]}: an error in a template would not fail the build")
    return f"{action['name']} runs cfn-lint ({project['name']})"


@check("change-set", 1, "Create the pipeline stack through a change set (create_change_set with ChangeSetType "
       "CREATE, read what it will do, then execute_change_set), not with create_stack directly.",
       hidden=True, uses=("iac_stacks",))
def change_set(session: LabSession) -> str:
    found_stack = stack(session, PIPELINE_STACK)
    if not found_stack.get("ChangeSetId"):  # DescribeStacks names the change set that made or last updated it
        raise Fail(f"{PIPELINE_STACK} was made without a change set (DescribeStacks names no ChangeSetId)")
    return f"{PIPELINE_STACK} was deployed by the change set {found_stack['ChangeSetId'].split(':changeSet/')[-1]}"


@check("bluegreen-group", 2, "The stack's CodeDeploy deployment group deploys blue/green with traffic control, "
       "stops on an alarm (AlarmConfiguration enabled, an alarm that exists) and rolls back automatically on "
       "DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM.", hidden=True, uses=("iac_stacks",))
def bluegreen_group(session: LabSession) -> str:
    listed = resources(session, PIPELINE_STACK)
    apps, groups = of_type(listed, "AWS::CodeDeploy::Application"), of_type(listed, "AWS::CodeDeploy::DeploymentGroup")
    if not apps or not groups:
        raise Fail(f"{PIPELINE_STACK} declares no CodeDeploy application and deployment group")
    application = apps[0]["PhysicalResourceId"]
    group = found(lambda: session.client("codedeploy").get_deployment_group(
        applicationName=application, deploymentGroupName=groups[0]["PhysicalResourceId"]),
        f"the stack's deployment group {groups[0]['PhysicalResourceId']} does not exist")["deploymentGroupInfo"]
    style = group.get("deploymentStyle", {})
    if (style.get("deploymentType"), style.get("deploymentOption")) != ("BLUE_GREEN", "WITH_TRAFFIC_CONTROL"):
        raise Fail(f"{group['deploymentGroupName']} deploys {style.get('deploymentType')} {style.get('deploymentOption')}")
    alarms = group.get("alarmConfiguration", {})
    named = [a["name"] for a in alarms.get("alarms", [])]
    if not alarms.get("enabled") or not named:
        raise Fail(f"{group['deploymentGroupName']} stops on no alarm")
    existing = session.client("cloudwatch").describe_alarms(AlarmNames=named)["MetricAlarms"]
    if not existing:
        raise Fail(f"the alarms it stops on ({', '.join(named)}) do not exist")
    rollback = group.get("autoRollbackConfiguration", {})
    missing = set(lab03.ROLLBACK_EVENTS) - set(rollback.get("events", []))
    if not rollback.get("enabled") or missing:
        raise Fail(f"{group['deploymentGroupName']} does not roll back on {', '.join(sorted(missing)) or 'anything'}")
    return f"{application}/{group['deploymentGroupName']}: blue/green, stops on {', '.join(named)}, rolls back"


@check("push-rule", 1, "The stack's EventBridge rule is enabled, matches pushes to the pipeline's branch of the "
       "repository, and targets the stack's pipeline with the base stack's events role.", hidden=True, uses=("iac_stacks",))
def push_rule(session: LabSession) -> str:
    rule_name = one(session, PIPELINE_STACK, "AWS::Events::Rule")
    events = session.client("events")
    rule = events.describe_rule(Name=rule_name.split("|")[-1])
    declaration = stack_pipeline(session)
    arn = f"arn:aws:codepipeline:{session.region}:{session.account}:{declaration['name']}"
    targets = [t for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"] if t["Arn"] == arn]
    if rule.get("State") != "ENABLED" or not targets:
        raise Fail(f"{rule['Name']} is {rule.get('State')} and targets {'it' if targets else 'not'} {declaration['name']}")
    if not targets[0].get("RoleArn"):
        raise Fail(f"{rule['Name']} starts {declaration['name']} as no role")
    branch = _stage(declaration, "Source")["actions"][0].get("configuration", {}).get("BranchName")
    pattern = json.loads(rule.get("EventPattern") or "{}")
    if branch not in ((pattern.get("detail") or {}).get("referenceName") or []):
        raise Fail(f"{rule['Name']}'s pattern does not match pushes to {branch}")
    return f"a push to {branch} fires {rule['Name']} → {declaration['name']}"


# --- it ran -----------------------------------------------------------------------------------

def _succeeded_runs(session: LabSession, pipeline_name: str) -> dict[str, list[dict[str, Any]]]:
    """The pipeline's succeeded action executions by pipeline execution id."""
    pages = session.client("codepipeline").get_paginator("list_action_executions").paginate(pipelineName=pipeline_name)
    runs: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        for detail in page["actionExecutionDetails"]:
            if detail["status"] == "Succeeded":
                runs.setdefault(detail["pipelineExecutionId"], []).append(detail)
    return runs


@check("pipeline-ran", 3, "The pipeline CloudFormation made really runs: creating it starts an execution "
       "(a push to its branch starts another); wait until its Build and both Test actions succeeded.",
       uses=("iac_stacks",), runs=True)
def pipeline_ran(session: LabSession) -> str:
    declaration = stack_pipeline(session)
    wanted = {("Build", a["name"]) for a in _stage(declaration, "Build")["actions"]}
    wanted |= {("Test", a["name"]) for a in _stage(declaration, "Test")["actions"]}
    for execution, done in _succeeded_runs(session, declaration["name"]).items():
        if wanted <= {(d["stageName"], d["actionName"]) for d in done}:
            return f"execution {execution[:8]} built and passed {', '.join(sorted(a for _, a in wanted))}"
    raise Fail(f"no execution of {declaration['name']} got through Build and Test yet")


@check("lint-ran", 1, "The Lint action's build really ran cfn-lint on the templates of the pipeline's branch: "
       "push them (infra/*.yaml) with buildspec-lint.yml before the stack starts its first execution.",
       hidden=True, uses=("iac_stacks",), runs=True)
def lint_ran(session: LabSession) -> str:
    action, project = _lint_project(session)
    pipeline_name = stack_pipeline(session)["name"]
    runs = [d for done in _succeeded_runs(session, pipeline_name).values() for d in done
            if (d["stageName"], d["actionName"]) == ("Test", action["name"])]
    codebuild, logs = session.client("codebuild"), session.client("logs")
    for run in runs:
        build_id = run.get("output", {}).get("executionResult", {}).get("externalExecutionId")
        builds = codebuild.batch_get_builds(ids=[build_id])["builds"] if build_id else []
        where = builds[0].get("logs", {}) if builds else {}
        if not where.get("groupName"):
            continue
        events = logs.get_log_events(logGroupName=where["groupName"], logStreamName=where["streamName"], startFromHead=True)
        linted = [e["message"] for e in events["events"] if "cfn-lint" in e["message"] and ".yaml" in e["message"]]
        if linted:
            return f"{project['name']}'s build {build_id.rsplit(':', 1)[-1][:8]} ran: {linted[0].strip()[:100]}"
    raise Fail(f"no succeeded build of {project['name']} ran cfn-lint on a template (.yaml) yet")


# --- the CDK app and self-mutation (section 8) ------------------------------------------------

CDK_STACK = "cicd-lab-cdk-pipeline"
CDK_BRANCH = "pipeline-as-cdk"
CDK_TEMPLATE = f"infra/cdk.out/{CDK_STACK}.template.json"  # where the branch holds the synthesized template


def cdk_pipeline(session: LabSession) -> dict[str, Any]:
    """The declaration of the pipeline the CDK stack made."""
    name = one(session, CDK_STACK, "AWS::CodePipeline::Pipeline")
    return dict(found(lambda: session.client("codepipeline").get_pipeline(name=name),
                      f"the CDK stack's pipeline {name} does not exist any more")["pipeline"])


def self_mutating_stage(declaration: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(stage name, replace action, execute action) of the stage that deploys the pipeline's own stack through a
    change set: CloudFormation CHANGE_SET_REPLACE, then CHANGE_SET_EXECUTE of the same change set in a later runOrder."""
    for stage in declaration["stages"]:
        modes = {a.get("configuration", {}).get("ActionMode"): a for a in stage["actions"]
                 if a["actionTypeId"]["provider"] == "CloudFormation"
                 and a.get("configuration", {}).get("StackName") == CDK_STACK}
        replace, execute = modes.get("CHANGE_SET_REPLACE"), modes.get("CHANGE_SET_EXECUTE")
        if replace and execute and replace["configuration"].get("ChangeSetName") == execute["configuration"].get("ChangeSetName") \
                and replace.get("runOrder", 1) < execute.get("runOrder", 1):
            return stage["name"], replace, execute
    raise Fail(f"no stage of {declaration['name']} makes a change set of {CDK_STACK} (CloudFormation CHANGE_SET_REPLACE) "
               "and then executes it (CHANGE_SET_EXECUTE, a later runOrder)")


@check("cdk-stack", 2, f"Synthesize your CDK app offline (app.synth() with a BootstraplessSynthesizer: no cdk bootstrap) "
       f"and deploy its template as the stack {CDK_STACK} through a change set; it must reach CREATE_COMPLETE or "
       "UPDATE_COMPLETE and hold a V2 pipeline.", uses=("cdk_stack",))
def cdk_stack(session: LabSession) -> str:
    found_stack = complete_stack(session, CDK_STACK)
    body = template(session, CDK_STACK)
    made = [k for k, r in body.get("Resources", {}).items() if "aws:cdk:path" in (r.get("Metadata") or {})]
    if not made:
        raise Fail(f"{CDK_STACK}'s template was not synthesized by the CDK (no resource has aws:cdk:path metadata)")
    if "BootstrapVersion" in body.get("Parameters", {}):
        raise Fail(f"{CDK_STACK}'s template asks for a bootstrap stack (its BootstrapVersion parameter): "
                   "synthesize with the BootstraplessSynthesizer")
    declaration = cdk_pipeline(session)
    if declaration.get("pipelineType", "V1") != "V2":
        raise Fail(f"{declaration['name']} is a {declaration.get('pipelineType', 'V1')} pipeline")
    return f"{CDK_STACK} is {found_stack['StackStatus']}: {len(made)} resources from the CDK, the V2 pipeline {declaration['name']}"


@check("cdk-self-mutating", 2, "The CDK pipeline deploys its own stack: a stage (right after Source) with a "
       "CloudFormation action CHANGE_SET_REPLACE of the stack from the template in the source artifact (runOrder 1) "
       "and CHANGE_SET_EXECUTE of the same change set (runOrder 2), and restart_execution_on_update.",
       hidden=True, uses=("cdk_stack",))
def cdk_self_mutating(session: LabSession) -> str:
    declaration = cdk_pipeline(session)
    stage, replace, _ = self_mutating_stage(declaration)
    path = replace["configuration"].get("TemplatePath", "")
    sources = {o["name"] for s in declaration["stages"] for a in s["actions"] if a["actionTypeId"]["category"] == "Source"
               for o in a.get("outputArtifacts", [])}
    if path.split("::")[0] not in sources:
        raise Fail(f"{stage} reads its template from {path or 'nothing'}, not from the source artifact")
    restart = [r for r in template(session, CDK_STACK).get("Resources", {}).values()
               if r.get("Type") == "AWS::CodePipeline::Pipeline"][0].get("Properties", {}).get("RestartExecutionOnUpdate")
    if str(restart).lower() != "true":
        raise Fail(f"{declaration['name']} does not restart after an update (RestartExecutionOnUpdate): the execution "
                   "that changed it ends Cancelled and nothing runs the new structure")
    return f"{declaration['name']}'s stage {stage} updates {CDK_STACK} from {path}"


@check("cdk-mutated", 2, f"Change the pipeline in your CDK app (e.g. one more Test action), synthesize, commit the "
       f"template ({CDK_TEMPLATE}) on {CDK_BRANCH} and push: the pipeline updates itself, the execution that did it "
       "ends Cancelled, and the next one runs the new structure.", uses=("cdk_stack",), runs=True)
def cdk_mutated(session: LabSession) -> str:
    declaration = cdk_pipeline(session)
    stage, _, execute = self_mutating_stage(declaration)
    codepipeline = session.client("codepipeline")
    pages = codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=declaration["name"])
    runs = [e for page in pages for e in page["pipelineExecutionSummaries"]]
    executed = {d["pipelineExecutionId"] for done in _succeeded_runs(session, declaration["name"]).values() for d in done
                if (d["stageName"], d["actionName"]) == (stage, execute["name"])}
    for mutating in (r for r in runs if r["status"] == "Cancelled" and r["pipelineExecutionId"] in executed):
        version = codepipeline.get_pipeline_execution(pipelineName=declaration["name"], pipelineExecutionId=
                                                      mutating["pipelineExecutionId"])["pipelineExecution"]["pipelineVersion"]
        later = [r for r in runs if r["startTime"] > mutating["startTime"] and r["status"] in ("InProgress", "Succeeded")]
        for run in later:
            ran = codepipeline.get_pipeline_execution(pipelineName=declaration["name"],
                                                      pipelineExecutionId=run["pipelineExecutionId"])["pipelineExecution"]
            if ran["pipelineVersion"] > version:
                return (f"execution {mutating['pipelineExecutionId'][:8]} updated {declaration['name']} to version "
                        f"{ran['pipelineVersion']} and ended Cancelled; {run['pipelineExecutionId'][:8]} runs it")
    raise Fail(f"{declaration['name']} has not updated itself yet: no execution whose {stage} executed a change set "
               "ended Cancelled with a later one on a newer version")
