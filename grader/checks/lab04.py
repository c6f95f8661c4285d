"""Lab 04, the pipeline: Source → Build → Test (UnitTests ‖ SecurityScan) → Deploy_Staging, a KMS-encrypted
artifact store, a push that starts it through EventBridge, and variables handed between actions."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from grader.backends import LabSession
from grader.checks import Check, Fail, found, lab01, lab02, lab03
from grader.checks import check as _check
from grader.policies import document, missing_permissions, trusted_services

TITLE = "Lab 04 · Pipeline"
NOTEBOOK = "04_pipeline"

PIPELINE = "cicd-lab-pipeline"
UNIT_TESTS = "cicd-lab-unit-tests"
SECURITY_SCAN = "cicd-lab-security-scan"
BUILD_PROJECT = lab02.PROJECT
CLUSTER = lab03.CLUSTER
STAGING_SERVICE = "sample-app-staging"
TRIGGER_RULE = "cicd-lab-pipeline-on-push"
EVENTS_ROLE = "cicd-lab-events-role"
STAGES = ["Source", "Build", "Test", "Deploy_Staging"]
VARIABLES = ("#{SourceVariables.CommitId}", "#{BuildVariables.IMAGE_TAG}")
TRIGGER_EVENT = "CodeCommit Repository State Change"
PAGE_SIZE = 100  # ListActionExecutions' default page; every page is read

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 04 asks for, for this session's account (with those it uses from labs 01–03)."""
    earlier = lab01.names(session)
    return {"bucket": earlier["bucket"], "key_alias": earlier["key_alias"], "repository": earlier["repository"],
            "branch": earlier["branch"], "pipeline_role": earlier["roles"]["codepipeline"],
            "codebuild_role": earlier["roles"]["codebuild"], "build_project": BUILD_PROJECT,
            "ecr_repository": lab02.ECR_REPOSITORY,
            "unit_tests_project": UNIT_TESTS, "security_scan_project": SECURITY_SCAN, "cluster": CLUSTER,
            "production_service": lab03.SERVICE, "staging_service": STAGING_SERVICE, "pipeline": PIPELINE,
            "trigger_rule": TRIGGER_RULE, "events_role": EVENTS_ROLE}


def pipeline(session: LabSession) -> dict[str, Any]:
    """The declaration of the lab's pipeline (Fail when it does not exist)."""
    return found(lambda: session.client("codepipeline").get_pipeline(name=PIPELINE),
                 f"there is no pipeline {PIPELINE}")["pipeline"]


def stage(declaration: dict[str, Any], name: str) -> dict[str, Any]:
    """The stage ``name`` of a pipeline declaration (Fail when it has none)."""
    for candidate in declaration["stages"]:
        if candidate["name"] == name:
            return candidate
    raise Fail(f"{PIPELINE} has no stage {name}")


def provider(action: dict[str, Any]) -> str:
    """An action's category/provider, as in ``Deploy/ECS``."""
    return f"{action['actionTypeId']['category']}/{action['actionTypeId']['provider']}"


def _project(session: LabSession, name: str) -> dict[str, Any]:
    projects = session.client("codebuild").batch_get_projects(names=[name])["projects"]
    if not projects:
        raise Fail(f"there is no CodeBuild project {name}")
    return projects[0]


def _source_artifact(declaration: dict[str, Any]) -> str:
    outputs = stage(declaration, "Source")["actions"][0].get("outputArtifacts", [])
    if not outputs:
        raise Fail("the Source action has no output artifact")
    return str(outputs[0]["name"])


def action_runs(session: LabSession, stage_name: str, status: str, pipeline: str = PIPELINE) -> list[dict[str, Any]]:
    """The pipeline's executions of ``stage_name``'s actions that ended in ``status``, newest first, from every page."""
    pages = session.client("codepipeline").get_paginator("list_action_executions").paginate(
        pipelineName=pipeline, PaginationConfig={"PageSize": PAGE_SIZE})
    return [d for page in pages for d in page["actionExecutionDetails"]
            if d["stageName"] == stage_name and d["status"] == status]


def _staging_deploys(session: LabSession) -> list[dict[str, Any]]:
    """Successful Deploy_Staging action executions, newest first."""
    return action_runs(session, "Deploy_Staging", "Succeeded")


# --- the Test stage's projects --------------------------------------------------------------

def _test_project_check(name: str, key: str, spec: str) -> None:
    @check(f"{name.removeprefix('cicd-lab-')}-project", 2, f"A CodeBuild project {name} whose source and artifacts "
           f"come from CodePipeline (type CODEPIPELINE) and whose buildspec is the app's {spec}.", uses=(key,))
    def test_project(session: LabSession) -> str:
        project = _project(session, name)
        source = project["source"]
        if source["type"] != "CODEPIPELINE":
            raise Fail(f"{name}'s source is {source['type']}, not CODEPIPELINE")
        if source.get("buildspec") != spec:
            raise Fail(f"{name} runs the buildspec {source.get('buildspec') or 'buildspec.yml (the default)'}, not {spec}")
        return f"{name} runs {spec} on what the pipeline hands it"


_test_project_check(UNIT_TESTS, "unit_tests_project", "buildspec-unit.yml")
_test_project_check(SECURITY_SCAN, "security_scan_project", "buildspec-security.yml")


@check("test-projects-setup", 1, "Both Test projects act as the lab's CodeBuild role, hand nothing on "
       "(artifacts CODEPIPELINE) and need no Docker (privileged mode off); the role may write their logs "
       "(CodeBuild's default group /aws/codebuild/<project>) and their reports (<project>-* report groups).",
       hidden=True, uses=("unit_tests_project", "security_scan_project"))
def test_projects_setup(session: LabSession) -> str:
    role = f":role/{lab01.ROLES['codebuild']}"
    where = f"{session.region}:{session.account}"
    needed = []
    for name in (UNIT_TESTS, SECURITY_SCAN):
        project = _project(session, name)
        if not project["serviceRole"].endswith(role):
            raise Fail(f"{name} acts as {project['serviceRole']}, not {lab01.ROLES['codebuild']}")
        if project["artifacts"]["type"] != "CODEPIPELINE":
            raise Fail(f"{name}'s artifacts are {project['artifacts']['type']}, not CODEPIPELINE")
        if project["environment"].get("privilegedMode"):
            raise Fail(f"{name} runs privileged; only a build that runs Docker needs that")
        needed += [("logs:PutLogEvents", f"arn:aws:logs:{where}:log-group:/aws/codebuild/{name}:log-stream:any"),
                   ("codebuild:BatchPutTestCases", f"arn:aws:codebuild:{where}:report-group/{name}-reports")]
    missing = missing_permissions(session, lab01.ROLES["codebuild"], needed)
    if missing:
        raise Fail(f"{lab01.ROLES['codebuild']} may not {'; '.join(missing)}")
    return "both Test projects use the lab's build role without privileges, and it may write their logs and reports"


# --- the staging service --------------------------------------------------------------------

def _staging(session: LabSession) -> dict[str, Any]:
    services = session.client("ecs").describe_services(cluster=CLUSTER, services=[STAGING_SERVICE])["services"]
    if not services or services[0]["status"] != "ACTIVE":
        raise Fail(f"cluster {CLUSTER} has no active service {STAGING_SERVICE}")
    return services[0]


@check("staging-service", 2, f"Create the ECS service {STAGING_SERVICE} in the cluster {CLUSTER} with one task, "
       "from a task definition of the app (container app), in the same subnets as production.",
       uses=("staging_service",))
def staging_service(session: LabSession) -> str:
    service = _staging(session)
    if service["desiredCount"] < 1:
        raise Fail(f"{STAGING_SERVICE} wants {service['desiredCount']} tasks")
    production = session.client("ecs").describe_services(cluster=CLUSTER, services=[lab03.SERVICE])["services"]
    wanted, subnets = (set(_subnets(s)) for s in (production[0] if production else {}, service))
    if not subnets or not subnets <= wanted:
        raise Fail(f"{STAGING_SERVICE} runs in the subnets {sorted(subnets)}, not in production's {sorted(wanted)}")
    return f"{STAGING_SERVICE} runs {service['runningCount']}/{service['desiredCount']} tasks"


def _subnets(service: dict[str, Any]) -> list[str]:
    return list(service.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets", []))


@check("staging-rolling", 1, "The pipeline's ECS deploy action updates a service that ECS itself deploys "
       "(a rolling update): the ECS deployment controller, not CODE_DEPLOY.", hidden=True,
       uses=("staging_service",))
def staging_rolling(session: LabSession) -> str:
    service = _staging(session)
    controller = service.get("deploymentController", {}).get("type", "ECS")
    if controller != "ECS":
        raise Fail(f"{STAGING_SERVICE} is deployed by {controller}")
    definition = session.client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    if "app" not in {c["name"] for c in definition["containerDefinitions"]}:
        raise Fail("its task definition has no container named app, the name imagedefinitions.json uses")
    return f"{STAGING_SERVICE} rolls out new task definitions itself"


# --- the pipeline ---------------------------------------------------------------------------

@check("pipeline-exists", 1, f"Create the pipeline {PIPELINE} (pipelineType V2) acting as the lab's CodePipeline role.",
       uses=("pipeline",))
def pipeline_exists(session: LabSession) -> str:
    declaration = pipeline(session)
    if declaration.get("pipelineType", "V1") != "V2":
        raise Fail(f"{PIPELINE} is a {declaration.get('pipelineType', 'V1')} pipeline")
    if not declaration["roleArn"].endswith(f":role/{lab01.ROLES['codepipeline']}"):
        raise Fail(f"{PIPELINE} acts as {declaration['roleArn']}, not {lab01.ROLES['codepipeline']}")
    return f"{PIPELINE} (V2) acts as {lab01.ROLES['codepipeline']}"


@check("pipeline-artifact-store", 2, "The artifact store is lab 01's bucket, with lab 01's KMS key as its "
       "encryption key (type KMS).", uses=("pipeline",))
def pipeline_artifact_store(session: LabSession) -> str:
    store = pipeline(session).get("artifactStore", {})
    bucket = lab01.bucket_name(session.account)
    if store.get("location") != bucket:
        raise Fail(f"artifacts go to {store.get('location')}, not {bucket}")
    key = store.get("encryptionKey", {}).get("id")
    if not key:
        raise Fail("the artifact store names no encryption key, so CodePipeline uses aws/s3")
    kms = session.client("kms")
    used = found(lambda: kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"], f"KMS does not know the key {key}")
    if used != kms.describe_key(KeyId=lab01.KEY_ALIAS)["KeyMetadata"]["KeyId"]:
        raise Fail(f"the artifact store encrypts with {key}, not the key behind {lab01.KEY_ALIAS}")
    return f"artifacts go to {bucket}, encrypted with {lab01.KEY_ALIAS}"


@check("pipeline-stages", 2, f"The stages, in order: {', '.join(STAGES)}; Source reads CodeCommit's "
       f"{lab01.REPOSITORY} at {lab01.BRANCH}, Build runs {BUILD_PROJECT}.", uses=("pipeline",))
def pipeline_stages(session: LabSession) -> str:
    declaration = pipeline(session)
    found_stages = [s["name"] for s in declaration["stages"]]
    if found_stages[:len(STAGES)] != STAGES:
        raise Fail(f"the stages are {', '.join(found_stages)}")
    source = stage(declaration, "Source")["actions"][0]
    config = source.get("configuration", {})
    if provider(source) != "Source/CodeCommit" or config.get("RepositoryName") != lab01.REPOSITORY \
            or config.get("BranchName") != lab01.BRANCH:
        raise Fail(f"Source is {provider(source)} on {config.get('RepositoryName')}@{config.get('BranchName')}")
    build = stage(declaration, "Build")["actions"][0]
    if provider(build) != "Build/CodeBuild" or build.get("configuration", {}).get("ProjectName") != BUILD_PROJECT:
        raise Fail(f"Build is {provider(build)} running {build.get('configuration', {}).get('ProjectName')}")
    return " → ".join(found_stages)


@check("test-stage-parallel", 2, "Two Test actions, UnitTests and SecurityScan, each a CodeBuild project reading "
       "the source artifact; the same runOrder makes them run side by side.", uses=("pipeline",))
def test_stage_parallel(session: LabSession) -> str:
    declaration = pipeline(session)
    actions = {a["name"]: a for a in stage(declaration, "Test")["actions"]}
    wanted = {"UnitTests": UNIT_TESTS, "SecurityScan": SECURITY_SCAN}
    missing = [n for n in wanted if n not in actions]
    if missing:
        raise Fail(f"the Test stage has no action {', '.join(missing)}")
    source = _source_artifact(declaration)
    for name, project in wanted.items():
        action = actions[name]
        if provider(action) != "Test/CodeBuild" or action.get("configuration", {}).get("ProjectName") != project:
            raise Fail(f"{name} is {provider(action)} running {action.get('configuration', {}).get('ProjectName')}")
        if [a["name"] for a in action.get("inputArtifacts", [])] != [source]:
            raise Fail(f"{name} reads {[a['name'] for a in action.get('inputArtifacts', [])]}, not the source artifact")
    orders = {actions[n].get("runOrder", 1) for n in wanted}
    if len(orders) != 1:
        raise Fail("UnitTests and SecurityScan have different runOrders, so one waits for the other")
    return "UnitTests ‖ SecurityScan, same runOrder"


@check("staging-deploy-action", 2, f"Deploy_Staging: an ECS deploy action on {CLUSTER}/{STAGING_SERVICE} that "
       "reads imagedefinitions.json from the Build action's output artifact.", hidden=True, uses=("pipeline",))
def staging_deploy_action(session: LabSession) -> str:
    declaration = pipeline(session)
    build_outputs = {a["name"] for a in stage(declaration, "Build")["actions"][0].get("outputArtifacts", [])}
    action = stage(declaration, "Deploy_Staging")["actions"][0]
    config = action.get("configuration", {})
    if provider(action) != "Deploy/ECS":
        raise Fail(f"Deploy_Staging runs {provider(action)}")
    if (config.get("ClusterName"), config.get("ServiceName")) != (CLUSTER, STAGING_SERVICE):
        raise Fail(f"it deploys to {config.get('ClusterName')}/{config.get('ServiceName')}")
    if config.get("FileName", "imagedefinitions.json") != "imagedefinitions.json":
        raise Fail(f"it reads {config.get('FileName')}")
    if not {a["name"] for a in action.get("inputArtifacts", [])} & build_outputs:
        raise Fail("its input is not the Build action's output artifact")
    return f"Deploy_Staging rolls {STAGING_SERVICE} out from imagedefinitions.json"


@check("variables", 2, "Give the Source action the namespace SourceVariables and the Build action BuildVariables, "
       "then pass #{SourceVariables.CommitId} and #{BuildVariables.IMAGE_TAG} to the Test actions as "
       "EnvironmentVariables.", hidden=True, uses=("pipeline",))
def variables(session: LabSession) -> str:
    declaration = pipeline(session)
    spaces = (stage(declaration, "Source")["actions"][0].get("namespace"), stage(declaration, "Build")["actions"][0].get("namespace"))
    if spaces != ("SourceVariables", "BuildVariables"):
        raise Fail(f"the Source and Build namespaces are {spaces}")
    passed: set[str] = set()
    for action in stage(declaration, "Test")["actions"]:
        raw = action.get("configuration", {}).get("EnvironmentVariables")
        try:
            listed = json.loads(raw) if raw else []
            passed.update(str(v["value"]) for v in listed)
        except (ValueError, TypeError, KeyError):
            raise Fail(f"{action['name']}'s EnvironmentVariables is not a JSON list of name/value/type objects: {raw}") from None
    missing = [v for v in VARIABLES if v not in passed]
    if missing:
        raise Fail(f"no Test action receives {', '.join(missing)}")
    return "the Test actions receive the commit and the image tag"


# --- what starts it -------------------------------------------------------------------------

def _rule_targets_pipeline(session: LabSession) -> dict[str, Any]:
    events = session.client("events")
    rule = found(lambda: events.describe_rule(Name=TRIGGER_RULE), f"there is no EventBridge rule {TRIGGER_RULE}")
    arn = f"arn:aws:codepipeline:{session.region}:{session.account}:{PIPELINE}"
    targets = events.list_targets_by_rule(Rule=TRIGGER_RULE)["Targets"]
    target = next((t for t in targets if t["Arn"] == arn), None)
    if target is None:
        raise Fail(f"{TRIGGER_RULE} does not target {PIPELINE}")
    return {"rule": rule, "target": target}


@check("push-trigger", 2, "Turn polling off (PollForSourceChanges false) and let an enabled EventBridge rule on the "
       f"repository's `{TRIGGER_EVENT}` (source aws.codecommit, resources the repository's ARN, referenceName main) "
       "start the pipeline.", uses=("pipeline", "trigger_rule"))
def push_trigger(session: LabSession) -> str:
    source = stage(pipeline(session), "Source")["actions"][0]
    if source.get("configuration", {}).get("PollForSourceChanges", "true").lower() != "false":
        raise Fail("the Source action still polls (PollForSourceChanges is not false)")
    rule = _rule_targets_pipeline(session)["rule"]
    if rule.get("State") != "ENABLED":
        raise Fail(f"{TRIGGER_RULE} is {rule.get('State')}: a disabled rule starts nothing")
    pattern = json.loads(rule.get("EventPattern") or "{}")
    repository = f"arn:aws:codecommit:{session.region}:{session.account}:{lab01.REPOSITORY}"
    detail = pattern.get("detail") or {}
    wanted = {"source": "aws.codecommit", "detail-type": TRIGGER_EVENT}
    wrong = [f"{field} {pattern.get(field)}" for field, value in wanted.items() if value not in (pattern.get(field) or [])]
    if repository not in (pattern.get("resources") or []) and lab01.REPOSITORY not in (detail.get("repositoryName") or []):
        wrong.append(f"resources {pattern.get('resources')}")
    if lab01.BRANCH not in (detail.get("referenceName") or []):
        wrong.append(f"detail.referenceName {detail.get('referenceName')}")
    if wrong:
        raise Fail(f"{TRIGGER_RULE}'s pattern does not match pushes to {lab01.REPOSITORY}@{lab01.BRANCH}: {'; '.join(wrong)}")
    return f"a push to {lab01.BRANCH} fires {TRIGGER_RULE} → {PIPELINE}"


@check("events-role", 1, f"EventBridge starts the pipeline as a role ({EVENTS_ROLE}) that trusts events.amazonaws.com "
       "and may codepipeline:StartPipelineExecution on that pipeline.", hidden=True,
       uses=("trigger_rule", "events_role"))
def events_role(session: LabSession) -> str:
    target = _rule_targets_pipeline(session)["target"]
    if not target.get("RoleArn", "").endswith(f":role/{EVENTS_ROLE}"):
        raise Fail(f"the rule's target acts as {target.get('RoleArn') or 'no role'}, not {EVENTS_ROLE}")
    role = found(lambda: session.client("iam").get_role(RoleName=EVENTS_ROLE)["Role"], f"there is no role {EVENTS_ROLE}")
    if "events.amazonaws.com" not in trusted_services(document(role["AssumeRolePolicyDocument"])):
        raise Fail(f"{EVENTS_ROLE} does not trust events.amazonaws.com")
    if missing_permissions(session, EVENTS_ROLE, [("codepipeline:StartPipelineExecution", target["Arn"])]):
        raise Fail(f"{EVENTS_ROLE} may not codepipeline:StartPipelineExecution on {PIPELINE}")
    return f"EventBridge starts {PIPELINE} as {EVENTS_ROLE}"


@check("pipeline-role-permissions", 2, "The pipeline's role needs the artifact bucket (s3:GetObject/PutObject), the "
       "key (kms:GenerateDataKey, kms:Decrypt), the repository, CodeBuild (StartBuild, BatchGetBuilds) and "
       "ECS (UpdateService, RegisterTaskDefinition, iam:PassRole for the tasks' role only), and no more: "
       "no `*` actions.", hidden=True, uses=("pipeline_role",))
def pipeline_role_permissions(session: LabSession) -> str:
    account, region = session.account, session.region
    bucket = lab01.bucket_name(account)
    key = session.client("kms").describe_key(KeyId=lab01.KEY_ALIAS)["KeyMetadata"]["Arn"]
    needed = [("s3:PutObject", f"arn:aws:s3:::{bucket}/{PIPELINE}/x"), ("s3:GetObject", f"arn:aws:s3:::{bucket}/{PIPELINE}/x"),
              ("kms:GenerateDataKey", key), ("kms:Decrypt", key),
              ("codecommit:GetBranch", f"arn:aws:codecommit:{region}:{account}:{lab01.REPOSITORY}"),
              ("codecommit:UploadArchive", f"arn:aws:codecommit:{region}:{account}:{lab01.REPOSITORY}")]
    needed += [(action, f"arn:aws:codebuild:{region}:{account}:project/{project}")
               for project in (BUILD_PROJECT, UNIT_TESTS, SECURITY_SCAN)
               for action in ("codebuild:StartBuild", "codebuild:BatchGetBuilds")]
    needed += [("ecs:UpdateService", f"arn:aws:ecs:{region}:{account}:service/{CLUSTER}/{STAGING_SERVICE}"),
               ("ecs:RegisterTaskDefinition", "*"), ("iam:PassRole", f"arn:aws:iam::{account}:role/sample-app-task-execution")]
    missing = missing_permissions(session, lab01.ROLES["codepipeline"], needed)
    if missing:
        raise Fail(f"{lab01.ROLES['codepipeline']} may not: {'; '.join(missing[:4])}")
    excess = excess_permissions(session, lab01.ROLES["codepipeline"])
    if excess:
        raise Fail(f"{lab01.ROLES['codepipeline']} may also {'; '.join(excess)}: more than its stages need")
    return f"{lab01.ROLES['codepipeline']} may do what the four stages need, and no more"


def excess_permissions(session: LabSession, role: str) -> list[str]:
    """What a pipeline's role never needs but ``role`` may do: pass any other role, delete the bucket or
    the repository, change IAM (what ``*`` actions or resources give away)."""
    account, region = session.account, session.region
    never = [("iam:PassRole", f"arn:aws:iam::{account}:role/{role}"),
             ("iam:PutRolePolicy", f"arn:aws:iam::{account}:role/{role}"),
             ("s3:DeleteBucket", f"arn:aws:s3:::{lab01.bucket_name(account)}"),
             ("codecommit:DeleteRepository", f"arn:aws:codecommit:{region}:{account}:{lab01.REPOSITORY}")]
    return [f"{action} on {resource}" for action, resource in never
            if not missing_permissions(session, role, [(action, resource)])]


@check("push-ran-pipeline", 3, "Commit a change, `git push` it to main, and wait: the rule starts an execution "
       "(trigger CloudWatchEvent) that must get through Deploy_Staging.", uses=("repository", "pipeline"), runs=True)
def push_ran_pipeline(session: LabSession) -> str:
    pipeline(session)
    client = session.client("codepipeline")
    for deploy in _staging_deploys(session):
        execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=deploy["pipelineExecutionId"])
        trigger = execution["pipelineExecution"].get("trigger", {}).get("triggerType")
        if trigger == "CloudWatchEvent":
            revision = execution["pipelineExecution"]["artifactRevisions"][0]["revisionId"]
            return f"push {revision[:7]} went through to staging"
    raise Fail("no execution started by a push (trigger CloudWatchEvent) got through Deploy_Staging yet")


@check("staging-runs-commit", 2, "The build tags the image with the commit's first 7 characters; the staging "
       "service should run the image of the last commit staging received.", hidden=True, uses=("pipeline",), runs=True)
def staging_runs_commit(session: LabSession) -> str:
    deploys = _staging_deploys(session)
    if not deploys:
        raise Fail("Deploy_Staging never succeeded")
    newest = max(deploys, key=lambda d: d["startTime"])
    execution = session.client("codepipeline").get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=newest["pipelineExecutionId"])["pipelineExecution"]
    tag = execution["artifactRevisions"][0]["revisionId"][:7]
    ecs = session.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=_staging(session)["taskDefinition"])["taskDefinition"]
    image = next(c["image"] for c in definition["containerDefinitions"] if c["name"] == "app")
    if not image.endswith(f":{tag}"):
        raise Fail(f"staging runs {image}, not the image tagged {tag}")
    return f"staging runs {image.rsplit('/', 1)[-1]}"
