"""Lab 05, approval: an SNS topic for approval requests, the Approval and Deploy_Production stages
(Manual, then CodeDeployToECS), the permission the first approval request was denied (sns:Publish on the
topic, and only there), a rejection and an approval, production running what was approved, and the
troubleshooting drill of an approval request that expired (a pipeline of its own, then a retry approved)."""

from __future__ import annotations

from functools import partial
from typing import Any

from grader.backends import LabSession
from grader.checks import Check, Fail, lab01, lab03, lab04
from grader.checks import check as _check
from grader.policies import grants_beyond, missing_permissions, role_policies

TITLE = "Lab 05 · Approval"
NOTEBOOK = "05_approval"

TOPIC = "cicd-lab-approvals"
APPROVER = "approver@example.com"
APPLICATION = lab03.APPLICATION
DEPLOYMENT_GROUP = lab03.GROUP
LOAD_BALANCER = "sample-app-alb"  # lab 03's base stack: production listener 80, test listener 8080
IMAGE_PLACEHOLDER = "IMAGE1_NAME"  # taskdef.json's <IMAGE1_NAME>
NOTIFY_POLICY = "approval-notifications"  # the permission the first approval request was denied, added after
DRILL_PIPELINE = "cicd-lab-approval-drill"  # Source -> Approval only: the expiry drill leaves production alone
DRILL_TIMEOUT = 5  # minutes: the shortest timeoutInMinutes a Manual approval takes (5 lab seconds on labstack)

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 05 asks for, for this session's account (with those it uses from labs 01–04)."""
    return {**lab04.names(session), "topic": TOPIC, "approver": APPROVER, "application": APPLICATION,
            "deployment_group": DEPLOYMENT_GROUP, "load_balancer": LOAD_BALANCER, "image_placeholder": IMAGE_PLACEHOLDER,
            "notify_policy": NOTIFY_POLICY, "drill_pipeline": DRILL_PIPELINE, "drill_timeout": DRILL_TIMEOUT}


def topic_arn(session: LabSession) -> str:
    """The ARN of the approvals topic (Fail when there is none)."""
    for page in session.client("sns").get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == TOPIC:
                return str(topic["TopicArn"])
    raise Fail(f"there is no SNS topic {TOPIC}")


def _build_output(declaration: dict[str, Any]) -> str:
    outputs = lab04.stage(declaration, "Build")["actions"][0].get("outputArtifacts", [])
    if not outputs:
        raise Fail("the Build action has no output artifact")
    return str(outputs[0]["name"])


# --- the topic ----------------------------------------------------------------------------------

@check("approval-topic", 1, f"Create the SNS topic {TOPIC}; the Approval action publishes its requests there.",
       uses=("topic",))
def approval_topic(session: LabSession) -> str:
    return f"topic {topic_arn(session)}"


@check("approval-subscription", 2, f"Subscribe the approver ({APPROVER}) to the topic by email (protocol email or "
       "email-json); on labstack the mail lands in the local inbox.", uses=("topic",))
def approval_subscription(session: LabSession) -> str:
    pages = session.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn(session))
    subscribed = [s for page in pages for s in page["Subscriptions"]]
    mail = [s["Endpoint"] for s in subscribed if s["Protocol"] in ("email", "email-json")]
    if not mail:
        raise Fail(f"{TOPIC} has no email subscription ({len(subscribed)} of other kinds)")
    if APPROVER not in mail:
        raise Fail(f"{TOPIC} mails {', '.join(mail)}, not the approver {APPROVER}")
    return f"{', '.join(mail)} receive{'s' if len(mail) == 1 else ''} approval requests"


@check("pipeline-role-publishes", 2, "The Approval action failed: its errorDetails name the action the pipeline's "
       "role was denied, and the resource. Allow exactly that, then retry the stage.", uses=("notify_policy",))
def pipeline_role_publishes(session: LabSession) -> str:
    arn = topic_arn(session)
    missing = missing_permissions(session, lab01.ROLES["codepipeline"], [("sns:Publish", arn)])
    if missing:
        raise Fail(f"{lab01.ROLES['codepipeline']} may not {missing[0]}: the approval request cannot go out")
    return f"{lab01.ROLES['codepipeline']} may publish to {TOPIC}"


@check("pipeline-role-publishes-only", 1, "A pipeline that may publish to every topic (sns:* or Resource *) can "
       "send anyone's notifications: allow sns:Publish on the approvals topic's ARN only.", hidden=True,
       uses=("notify_policy",))
def pipeline_role_publishes_only(session: LabSession) -> str:
    role, arn = lab01.ROLES["codepipeline"], topic_arn(session)
    if missing_permissions(session, role, [("sns:Publish", arn)]):
        raise Fail(f"{role} may not sns:Publish on {arn} yet: grant it first, then this judges how")
    beyond = grants_beyond(role_policies(session, role), [("sns:Publish", arn)])
    if beyond:
        raise Fail(f"{role} allows {'; '.join(beyond)}")
    return f"{role} may publish to {TOPIC} and to no other topic"


# --- the two new stages ---------------------------------------------------------------------------

def _approval(declaration: dict[str, Any]) -> dict[str, Any]:
    return lab04.stage(declaration, "Approval")["actions"][0]


def _production(declaration: dict[str, Any]) -> dict[str, Any]:
    return lab04.stage(declaration, "Deploy_Production")["actions"][0]


@check("approval-stage", 2, "After Deploy_Staging, a stage Approval with one Manual action (category Approval) "
       "whose NotificationArn is the topic.", uses=("pipeline",))
def approval_stage(session: LabSession) -> str:
    declaration = lab04.pipeline(session)
    order = [s["name"] for s in declaration["stages"]]
    if "Approval" not in order or "Deploy_Staging" not in order \
            or order.index("Approval") != order.index("Deploy_Staging") + 1:
        raise Fail(f"the stages are {', '.join(order)}: Approval should follow Deploy_Staging")
    action = _approval(declaration)
    if lab04.provider(action) != "Approval/Manual":
        raise Fail(f"the Approval stage runs {lab04.provider(action)}")
    if action.get("configuration", {}).get("NotificationArn") != topic_arn(session):
        raise Fail(f"the approval notifies {action.get('configuration', {}).get('NotificationArn') or 'nobody'}")
    return f"Approval waits for a person and notifies {TOPIC}"


@check("approval-details", 1, "Tell the approver what to look at: CustomData (a comment) and ExternalEntityLink "
       "(where staging can be reviewed).", hidden=True, uses=("pipeline",))
def approval_details(session: LabSession) -> str:
    config = _approval(lab04.pipeline(session)).get("configuration", {})
    missing = [k for k in ("CustomData", "ExternalEntityLink") if not config.get(k)]
    if missing:
        raise Fail(f"the Manual action has no {' and no '.join(missing)}")
    return "the request says what to review and where"


@check("production-stage", 2, f"After Approval, a stage Deploy_Production with a CodeDeployToECS action on the "
       f"application {APPLICATION} and the deployment group {DEPLOYMENT_GROUP}.", uses=("pipeline",))
def production_stage(session: LabSession) -> str:
    declaration = lab04.pipeline(session)
    order = [s["name"] for s in declaration["stages"]]
    if order[-2:] != ["Approval", "Deploy_Production"]:
        raise Fail(f"the stages are {', '.join(order)}: Deploy_Production should come last, after Approval")
    action = _production(declaration)
    config = action.get("configuration", {})
    if lab04.provider(action) != "Deploy/CodeDeployToECS":
        raise Fail(f"Deploy_Production runs {lab04.provider(action)}")
    if (config.get("ApplicationName"), config.get("DeploymentGroupName")) != (APPLICATION, DEPLOYMENT_GROUP):
        raise Fail(f"it deploys with {config.get('ApplicationName')}/{config.get('DeploymentGroupName')}")
    return f"Deploy_Production deploys with CodeDeploy {APPLICATION}/{DEPLOYMENT_GROUP}"


@check("production-artifacts", 2, "CodeDeployToECS reads taskdef.json, appspec.yaml and imageDetail.json from the "
       "Build action's output: name it in TaskDefinitionTemplateArtifact, AppSpecTemplateArtifact and "
       f"Image1ArtifactName, with Image1ContainerName {IMAGE_PLACEHOLDER}.", hidden=True, uses=("pipeline",))
def production_artifacts(session: LabSession) -> str:
    declaration = lab04.pipeline(session)
    built = _build_output(declaration)
    action = _production(declaration)
    config = action.get("configuration", {})
    wrong = [k for k in ("TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact", "Image1ArtifactName")
             if config.get(k) != built]
    if wrong:
        raise Fail(f"{', '.join(wrong)} should name {built}")
    if config.get("Image1ContainerName") != IMAGE_PLACEHOLDER:
        raise Fail(f"Image1ContainerName is {config.get('Image1ContainerName')}: taskdef.json's placeholder is <{IMAGE_PLACEHOLDER}>")
    if built not in {a["name"] for a in action.get("inputArtifacts", [])}:
        raise Fail(f"the action does not take {built} as an input artifact")
    return f"the templates and the image come from {built}"


@check("pipeline-role-codedeploy", 1, "Deploy_Production acts as the pipeline's role too: it needs codedeploy "
       "(CreateDeployment, GetDeployment, GetDeploymentConfig, GetApplication, RegisterApplicationRevision) and "
       "ecs:RegisterTaskDefinition; no `*` actions.", hidden=True, uses=("pipeline_role",))
def pipeline_role_codedeploy(session: LabSession) -> str:
    region, account = session.region, session.account
    group = f"arn:aws:codedeploy:{region}:{account}:deploymentgroup:{APPLICATION}/{DEPLOYMENT_GROUP}"
    needed = [("codedeploy:CreateDeployment", group), ("codedeploy:GetDeployment", group),
              ("codedeploy:GetApplication", f"arn:aws:codedeploy:{region}:{account}:application:{APPLICATION}"),
              ("codedeploy:RegisterApplicationRevision", f"arn:aws:codedeploy:{region}:{account}:application:{APPLICATION}"),
              ("codedeploy:GetDeploymentConfig", f"arn:aws:codedeploy:{region}:{account}:deploymentconfig:x"),
              ("ecs:RegisterTaskDefinition", "*")]
    missing = missing_permissions(session, lab01.ROLES["codepipeline"], needed)
    if missing:
        raise Fail(f"{lab01.ROLES['codepipeline']} may not: {'; '.join(missing[:3])}")
    excess = lab04.excess_permissions(session, lab01.ROLES["codepipeline"])
    if excess:
        raise Fail(f"{lab01.ROLES['codepipeline']} may also {'; '.join(excess)}: more than its stages need")
    return f"{lab01.ROLES['codepipeline']} may deploy with CodeDeploy, and no more"


@check("manual-release", 2, "Start an execution yourself with start_pipeline_execution (the console's "
       "\"Release change\"): it runs the branch's latest commit.", uses=("pipeline",), runs=True)
def manual_release(session: LabSession) -> str:
    lab04.pipeline(session)
    pages = session.client("codepipeline").get_paginator("list_pipeline_executions").paginate(pipelineName=lab04.PIPELINE)
    started = [e for page in pages for e in page["pipelineExecutionSummaries"]
               if e.get("trigger", {}).get("triggerType") == "StartPipelineExecution"]
    if not started:
        raise Fail(f"no execution of {lab04.PIPELINE} was started with StartPipelineExecution yet")
    return f"execution {started[0]['pipelineExecutionId'][:8]} was started by hand"


# --- rejecting, approving -------------------------------------------------------------------------

@check("rejected-once", 2, "Read the request, then answer it with put_approval_result and status Rejected: the "
       "execution stops at the Approval stage.", uses=("pipeline",), runs=True)
def rejected_once(session: LabSession) -> str:
    lab04.pipeline(session)
    failed = lab04.action_runs(session, "Approval", "Failed")
    rejected = [r for r in failed if _error(r).get("code") != "ConfigurationError"]
    if not rejected:
        unsent = f": {_error(failed[0]).get('message')}; nobody could answer it" if failed else ""
        raise Fail(f"no approval request was rejected yet{unsent}")
    return f"{len(rejected)} approval request{'s' if len(rejected) > 1 else ''} rejected"


def _error(run: dict[str, Any]) -> dict[str, Any]:
    """What an action execution failed with (its executionResult's errorDetails), if anything."""
    return dict(((run.get("output") or {}).get("executionResult") or {}).get("errorDetails") or {})


def _approved_and_deployed(session: LabSession) -> list[dict[str, Any]]:
    approved = {r["pipelineExecutionId"] for r in lab04.action_runs(session, "Approval", "Succeeded")}
    return [r for r in lab04.action_runs(session, "Deploy_Production", "Succeeded") if r["pipelineExecutionId"] in approved]


@check("approved", 3, "Retry the Approval stage (retry_stage_execution, FAILED_ACTIONS), approve the new request "
       "with put_approval_result, and wait until Deploy_Production has succeeded.", uses=("pipeline",), runs=True)
def approved(session: LabSession) -> str:
    lab04.pipeline(session)
    deployed = _approved_and_deployed(session)
    if not deployed:
        raise Fail("no execution was approved and then deployed to production yet")
    return f"execution {deployed[0]['pipelineExecutionId'][:8]} was approved and reached production"


def production_image(session: LabSession) -> str:
    """The image the production service runs: its primary task set's (CodeDeploy), else the service's."""
    ecs = session.client("ecs")
    service = ecs.describe_services(cluster=lab03.CLUSTER, services=[lab03.SERVICE])["services"][0]
    primary = [s for s in service.get("taskSets", []) if s.get("status") == "PRIMARY"]
    arn = primary[0]["taskDefinition"] if primary else service["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return str(next(c["image"] for c in definition["containerDefinitions"] if c["name"] == "app"))


@check("production-runs-approved", 2, "Production should run the image of the last execution that was approved "
       "and deployed (tagged with its commit's first 7 characters).", hidden=True, uses=("pipeline",), runs=True)
def production_runs_approved(session: LabSession) -> str:
    deployed = _approved_and_deployed(session)
    if not deployed:
        raise Fail("nothing approved reached production yet")
    newest = max(deployed, key=lambda r: r["startTime"])
    execution = session.client("codepipeline").get_pipeline_execution(
        pipelineName=lab04.PIPELINE, pipelineExecutionId=newest["pipelineExecutionId"])["pipelineExecution"]
    tag = execution["artifactRevisions"][0]["revisionId"][:7]
    image = production_image(session)
    if not image.endswith(f":{tag}"):
        raise Fail(f"production runs {image}, not the approved image tagged {tag}")
    return f"production runs {image.rsplit('/', 1)[-1]}"


# --- troubleshooting: the request nobody answered ----------------------------------------------------

def _drill(session: LabSession) -> None:
    """Fail unless the drill pipeline exists."""
    pages = session.client("codepipeline").get_paginator("list_pipelines").paginate()
    if DRILL_PIPELINE not in {p["name"] for page in pages for p in page["pipelines"]}:
        raise Fail(f"there is no pipeline {DRILL_PIPELINE}")


def _expired(run: dict[str, Any]) -> bool:
    """An approval that failed because nobody answered in time (not a rejection, not a refused notification)."""
    return "expire" in str(_error(run).get("message", "")).lower()


@check("approval-expired", 2, f"Create the drill pipeline {DRILL_PIPELINE} (Source, then Approval with "
       f"timeoutInMinutes {DRILL_TIMEOUT}), answer nothing, and let its request expire: the action fails by itself.",
       uses=("drill_pipeline",), runs=True)
def approval_expired(session: LabSession) -> str:
    _drill(session)
    failed = lab04.action_runs(session, "Approval", "Failed", DRILL_PIPELINE)
    expired = [r for r in failed if _expired(r)]
    if not expired:
        other = f" (it failed otherwise: {_error(failed[0]).get('message')})" if failed else ""
        raise Fail(f"no approval request of {DRILL_PIPELINE} expired yet{other}")
    return f"{DRILL_PIPELINE}: {_error(expired[0]).get('message')}"


@check("expired-then-approved", 2, "An expired request can no longer be answered: retry the Approval stage "
       "(FAILED_ACTIONS) for a new request, and approve that one in time.", uses=("drill_pipeline",), runs=True)
def expired_then_approved(session: LabSession) -> str:
    _drill(session)
    expired = [r for r in lab04.action_runs(session, "Approval", "Failed", DRILL_PIPELINE) if _expired(r)]
    if not expired:
        raise Fail(f"no approval request of {DRILL_PIPELINE} expired yet")
    first = min(r["startTime"] for r in expired)
    later = [r for r in lab04.action_runs(session, "Approval", "Succeeded", DRILL_PIPELINE) if r["startTime"] > first]
    if not later:
        raise Fail("the request expired, but no later request of the drill pipeline was approved")
    return f"execution {later[0]['pipelineExecutionId'][:8]} was asked again and approved"
