"""Lab 03, CodeDeploy: the base stack, the CodeDeploy application and its blue/green canary
deployment group, the AfterAllowTestTraffic smoke test, a release shipped through them, and a drill: the
smoke test pointed nowhere fails a deployment at its hook and the group rolls it back."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from grader.backends import LabSession
from grader.checks import Check, Fail, found, lab01, lab02
from grader.notebooks import ROOT
from grader.checks import check as _check
from grader.policies import allows, role_documents

TITLE = "Lab 03 · CodeDeploy"
NOTEBOOK = "03_codedeploy"

STACK = "sample-app-base"
CLUSTER = SERVICE = "sample-app"
APPLICATION = "sample-app"
GROUP = "production"
CONFIG = "CodeDeployDefault.ECSCanary10Percent5Minutes"
ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")
MAX_TERMINATION_MINUTES = 60
SMOKE_TEST = "sample-app-smoke-test"
SMOKE_TEST_ROLE = "sample-app-smoke-test-role"
HOOK = "AfterAllowTestTraffic"
RELEASE_PATCH = "releases/v2.patch"  # in the app's repository, and in the kit's copy of the app
V2_PATCH = ROOT / "infra" / "sample-app" / RELEASE_PATCH

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 03 asks for (and those of labs 01 and 02 it uses), for this session's account."""
    earlier = lab02.names(session)
    return {**earlier, "stack": STACK, "cluster": CLUSTER, "service": SERVICE, "application": APPLICATION,
            "group": GROUP, "deployment_config": CONFIG, "smoke_test": SMOKE_TEST, "smoke_test_role": SMOKE_TEST_ROLE,
            "codedeploy_role": lab01.ROLES["codedeploy"], "template": "infra/templates/base-stack.yaml",
            "release_patch": RELEASE_PATCH}


def _outputs(session: LabSession) -> dict[str, str]:
    stack = found(lambda: session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0],
                  f"there is no stack {STACK}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _group(session: LabSession) -> dict[str, Any]:
    return dict(found(lambda: session.client("codedeploy").get_deployment_group(
        applicationName=APPLICATION, deploymentGroupName=GROUP)["deploymentGroupInfo"],
        f"there is no deployment group {GROUP} in the CodeDeploy application {APPLICATION}"))


def _role_may(session: LabSession, role: str, action: str, resource: str) -> bool:
    found(lambda: session.client("iam").get_role(RoleName=role), f"there is no role {role}")
    return allows(role_documents(session, role), action, resource)


def _function_arn(session: LabSession) -> str:
    return f"arn:aws:lambda:{session.region}:{session.account}:function:{SMOKE_TEST}"


def _task_definition(revision: dict[str, Any]) -> str | None:
    """The task definition an inline AppSpec (YAML or JSON) deploys; None for other revisions."""
    content = revision.get("appSpecContent", {}).get("content") if revision.get("revisionType") == "AppSpecContent" else None
    try:
        spec = yaml.safe_load(content) if content else None
        return str(spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def _shipped(session: LabSession) -> dict[str, Any]:
    """The newest deployment of the group that succeeded with another task definition than the stack's first."""
    codedeploy = session.client("codedeploy")
    pages = codedeploy.get_paginator("list_deployments").paginate(
        applicationName=APPLICATION, deploymentGroupName=GROUP, includeOnlyStatuses=["Succeeded"])
    ids = found(lambda: [i for page in pages for i in page["deployments"]], f"there is no deployment group {GROUP}")
    first = _outputs(session).get("TaskDefinitionArn")
    for deployment_id in ids:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        task_definition = _task_definition(info.get("revision", {}))
        if task_definition and task_definition != first and info.get("creator") != "codeDeployRollback":
            targets = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
            ecs = codedeploy.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=targets)["deploymentTargets"]
            return {"info": info, "target": ecs[0]["ecsTarget"] if ecs else {}, "taskDefinition": task_definition}
    raise Fail(f"no deployment of {APPLICATION}/{GROUP} has succeeded with a new task definition yet")


def _patched_files(patch: Path) -> list[str]:
    """The paths a git patch changes, in its order."""
    return re.findall(r"^diff --git a/(\S+) b/", patch.read_text(), re.MULTILINE)


def _not_v2(session: LabSession, commit: str) -> list[str]:
    """What keeps ``commit`` of the lab's repository from holding the v2 release: each file the v2 patch
    changes must read as the patch leaves it (``git apply --reverse --check`` takes it back); empty if it does."""
    codecommit = session.client("codecommit")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lab03-v2-") as tree:
        for path in _patched_files(V2_PATCH):
            try:
                content = codecommit.get_file(repositoryName=lab01.REPOSITORY, commitSpecifier=commit,
                                              filePath=path)["fileContent"]
            except codecommit.exceptions.FileDoesNotExistException:
                problems.append(f"{path} is missing")
                continue
            (Path(tree) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(tree) / path).write_bytes(content)
            # Outside a repository git apply works as patch does; the ceiling keeps it from finding one above.
            undone = subprocess.run(["git", "apply", "--check", "--reverse", f"--include={path}", str(V2_PATCH)],
                                    cwd=tree, capture_output=True, text=True, check=False,
                                    env={**os.environ, "GIT_CEILING_DIRECTORIES": str(Path(tree).parent)})
            if undone.returncode != 0:
                problems.append(f"{path} is not as the patch leaves it")
    return problems


def _image_reference(image: str) -> tuple[str, str, str]:
    """(repository, digest, tag) of a container image: by digest (``repo@sha256:…``, no tag) or by tag
    (``repo:tag``, no digest; ``latest`` when none is given)."""
    if "@" in image:
        repository, _, digest = image.partition("@")
        return repository, digest, ""
    if ":" in image.rsplit("/", 1)[-1]:
        repository, _, tag = image.rpartition(":")
        return repository, "", tag
    return image, "", "latest"


def _current_task_definition(session: LabSession) -> str:
    """The task definition of the service's PRIMARY task set (the one production traffic reaches)."""
    services = session.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    primary = [t["taskDefinition"] for s in services for t in s.get("taskSets", []) if t.get("status") == "PRIMARY"]
    if not primary:
        raise Fail(f"the ECS service {SERVICE} runs no primary task set")
    return str(primary[0])


# --- the base stack -------------------------------------------------------------------------------

@check("stack-complete", 2, f"Create the stack {STACK} from the template; IAM roles with names need "
       "CAPABILITY_NAMED_IAM, and the image sample-app:latest must be in ECR first (lab 02).", uses=("stack",))
def stack_complete(session: LabSession) -> str:
    stack = found(lambda: session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0],
                  f"there is no stack {STACK}")
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise Fail(f"{STACK} is {stack['StackStatus']}: {stack.get('StackStatusReason', '')}".rstrip(": "))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    named = {"ClusterName": CLUSTER, "ServiceName": SERVICE}
    wrong = [f"its {key} is {outputs.get(key, 'missing')}, not {value}" for key, value in named.items()
             if outputs.get(key) != value]
    if wrong:
        raise Fail(f"{STACK} is not the lab's stack: {'; '.join(wrong)} (keep the template's parameter defaults)")
    return f"{STACK} is {stack['StackStatus']} with {len(stack.get('Outputs', []))} outputs"


@check("service-code-deploy", 1, "The stack's ECS service must be deployed by CodeDeploy "
       "(DeploymentController CODE_DEPLOY) and run a task set.", hidden=True, uses=("stack",))
def service_code_deploy(session: LabSession) -> str:
    services = session.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    if not services or services[0]["status"] != "ACTIVE":
        raise Fail(f"there is no active ECS service {SERVICE} in the cluster {CLUSTER}")
    service = services[0]
    if service.get("deploymentController", {}).get("type") != "CODE_DEPLOY":
        raise Fail(f"{SERVICE} is deployed by {service.get('deploymentController', {}).get('type', 'ECS')}")
    if not service.get("taskSets"):
        raise Fail(f"{SERVICE} has no task set")
    return f"{SERVICE} is deployed by CodeDeploy"


# --- the smoke test ---------------------------------------------------------------------------------

@check("smoke-test-function", 2, f"Create the Python Lambda function {SMOKE_TEST}, the name the app's "
       "appspec.yaml gives its AfterAllowTestTraffic hook.", uses=("smoke_test",))
def smoke_test_function(session: LabSession) -> str:
    config = found(lambda: session.client("lambda").get_function(FunctionName=SMOKE_TEST)["Configuration"],
                   f"there is no Lambda function {SMOKE_TEST}")
    if not str(config.get("Runtime", "")).startswith("python3"):
        raise Fail(f"{SMOKE_TEST} runs {config.get('Runtime')}, not Python 3")
    return f"{SMOKE_TEST} ({config['Runtime']}, {config['Handler']})"


@check("smoke-test-reports", 1, "A hook function reports its verdict with "
       "codedeploy:PutLifecycleEventHookExecutionStatus: its execution role must allow that.", hidden=True,
       uses=("smoke_test", "smoke_test_role"))
def smoke_test_reports(session: LabSession) -> str:
    config = found(lambda: session.client("lambda").get_function(FunctionName=SMOKE_TEST)["Configuration"],
                   f"there is no Lambda function {SMOKE_TEST}")
    role = config["Role"].rsplit("/", 1)[-1]
    if not _role_may(session, role, "codedeploy:PutLifecycleEventHookExecutionStatus", "*"):
        raise Fail(f"{SMOKE_TEST}'s role {role} may not call codedeploy:PutLifecycleEventHookExecutionStatus")
    return f"{role} may report hook results"


# --- the application and its deployment group -----------------------------------------------------

@check("application-ecs", 1, f"Create the CodeDeploy application {APPLICATION} for the ECS compute platform.",
       uses=("application",))
def application_ecs(session: LabSession) -> str:
    app = found(lambda: session.client("codedeploy").get_application(applicationName=APPLICATION)["application"],
                f"there is no CodeDeploy application {APPLICATION}")
    if app.get("computePlatform") != "ECS":
        raise Fail(f"{APPLICATION} is for {app.get('computePlatform')}, not ECS")
    return f"{APPLICATION} deploys to ECS"


@check("group-blue-green", 2, f"The group {GROUP} does BLUE_GREEN deployments WITH_TRAFFIC_CONTROL of the ECS "
       f"service {SERVICE} in the cluster {CLUSTER}.", uses=("group",))
def group_blue_green(session: LabSession) -> str:
    group = _group(session)
    style = group.get("deploymentStyle", {})
    if (style.get("deploymentType"), style.get("deploymentOption")) != ("BLUE_GREEN", "WITH_TRAFFIC_CONTROL"):
        raise Fail(f"the deployment style is {style.get('deploymentType')} {style.get('deploymentOption')}")
    services = [(s["clusterName"], s["serviceName"]) for s in group.get("ecsServices", [])]
    if services != [(CLUSTER, SERVICE)]:
        raise Fail(f"the group deploys {services or 'no ECS service'}")
    return f"blue/green of {CLUSTER}/{SERVICE}"


@check("group-canary", 1, "Use the predefined canary config that sends 10 % first and the rest 5 minutes later.",
       uses=("group",))
def group_canary(session: LabSession) -> str:
    config = _group(session).get("deploymentConfigName")
    if config != CONFIG:
        raise Fail(f"the group uses {config}")
    return f"the group uses {CONFIG}"


@check("group-rollback", 2, "Turn automatic rollback on for a failed deployment and for one an alarm stopped.",
       uses=("group",))
def group_rollback(session: LabSession) -> str:
    rollback = _group(session).get("autoRollbackConfiguration", {})
    missing = sorted(set(ROLLBACK_EVENTS) - set(rollback.get("events", [])))
    if not rollback.get("enabled") or missing:
        raise Fail(f"auto-rollback is {'on' if rollback.get('enabled') else 'off'}"
                   + (f", without {', '.join(missing)}" if missing else ""))
    return "rolls back on " + " and ".join(ROLLBACK_EVENTS)


@check("group-load-balancer", 2, "Name the stack's blue and green target groups, its production listener as "
       "the production route and its test listener as the test route (see the stack's outputs).", hidden=True,
       uses=("group",))
def group_load_balancer(session: LabSession) -> str:
    pairs = _group(session).get("loadBalancerInfo", {}).get("targetGroupPairInfoList", [])
    if len(pairs) != 1:
        raise Fail(f"the group has {len(pairs)} target group pairs, not 1")
    out = _outputs(session)
    pair = pairs[0]
    groups = sorted(g["name"] for g in pair.get("targetGroups", []))
    expected = sorted([out.get("BlueTargetGroupName", "?"), out.get("GreenTargetGroupName", "?")])
    problems = [] if groups == expected else [f"target groups {groups}, not {expected}"]
    for route, key in (("prodTrafficRoute", "ProductionListenerArn"), ("testTrafficRoute", "TestListenerArn")):
        if pair.get(route, {}).get("listenerArns") != [out.get(key)]:
            problems.append(f"{route} is not the stack's {key}")
    if problems:
        raise Fail("; ".join(problems))
    return "blue/green target groups, production and test listeners of the stack"


@check("group-termination", 1, f"After a success, TERMINATE the original task set after a short wait "
       f"(at most {MAX_TERMINATION_MINUTES} minutes), so a rollback stays instant meanwhile.", hidden=True,
       uses=("group",))
def group_termination(session: LabSession) -> str:
    config = _group(session).get("blueGreenDeploymentConfiguration", {})
    terminate = config.get("terminateBlueInstancesOnDeploymentSuccess", {})
    minutes = terminate.get("terminationWaitTimeInMinutes", 0)
    if terminate.get("action") != "TERMINATE" or not 0 < minutes <= MAX_TERMINATION_MINUTES:
        raise Fail(f"the original is {terminate.get('action', 'kept')} after {minutes} minutes")
    return f"the original task set is terminated {minutes} minutes after success"


@check("group-role", 2, f"Use lab 01's {lab01.ROLES['codedeploy']} and make sure it may invoke {SMOKE_TEST}: "
       "the managed AWSCodeDeployRoleForECSLimited covers only functions named CodeDeployHook_*.", hidden=True,
       uses=("group",))
def group_role(session: LabSession) -> str:
    role = _group(session).get("serviceRoleArn", "").rsplit("/", 1)[-1]
    if role != lab01.ROLES["codedeploy"]:
        raise Fail(f"the group acts as {role}, not {lab01.ROLES['codedeploy']}")
    if not _role_may(session, role, "lambda:InvokeFunction", _function_arn(session)):
        raise Fail(f"{role} may not lambda:InvokeFunction {SMOKE_TEST}")
    return f"{role} may invoke {SMOKE_TEST}"


# --- shipping a release ---------------------------------------------------------------------------

@check("release-shipped", 3, f"Build the new version with lab 02's project, register a task definition revision "
       f"with its image and deploy it with an AppSpec through {APPLICATION}/{GROUP}.", uses=("application", "group"), runs=True)
def release_shipped(session: LabSession) -> str:
    shipped = _shipped(session)
    ecs = session.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=shipped["taskDefinition"])["taskDefinition"]
    current = _current_task_definition(session)
    if current != definition["taskDefinitionArn"]:
        raise Fail(f"deployment {shipped['info']['deploymentId']} shipped {definition['taskDefinitionArn']}, "
                   f"but {SERVICE} now runs {current}")
    image = definition["containerDefinitions"][0]["image"]
    repository, digest, tag = _image_reference(image)
    if repository != lab02.repository_uri(session):
        raise Fail(f"the deployed image {image} is not from {lab02.ECR_REPOSITORY}")
    digests = lab02.image_digests(session)
    digest = digest or digests.get(tag)
    if digest is None:
        raise Fail(f"{lab02.ECR_REPOSITORY} has no image tagged {tag}")
    pushed = [b for b in lab02.builds(session) if b["buildStatus"] == "SUCCEEDED"
              and digests.get(lab02.exported(b).get("IMAGE_TAG", "")) == digest]
    if not pushed:
        raise Fail(f"the deployed image {image} ({digest[:19]}…) was not pushed by a successful build of {lab02.PROJECT}")
    commits = list(dict.fromkeys(b.get("resolvedSourceVersion", "") for b in pushed))
    not_v2: dict[str, list[str]] = {}
    for commit in commits:
        not_v2[commit] = _not_v2(session, commit)
        if not not_v2[commit]:
            return f"deployment {shipped['info']['deploymentId']} shipped {digest[:19]}…, built from v2 at {commit[:7]}"
    raise Fail(f"the deployed image {image} was built from {', '.join(c[:7] for c in commits)}, which does not hold "
               f"{RELEASE_PATCH} ({'; '.join(not_v2[commits[0]])})")


# main-is-v2 grades a push to lab 01's repository, which later labs push to as well: no resource of lab 03's own
# (a name) records who pushed main's head, so it names none.
@check("main-is-v2", 1, f"Apply {RELEASE_PATCH} in your clone, commit and push it to main.")
def main_is_v2(session: LabSession) -> str:
    head = found(lambda: session.client("codecommit").get_branch(repositoryName=lab01.REPOSITORY,
                                                                  branchName=lab01.BRANCH)["branch"]["commitId"],
                 f"{lab01.REPOSITORY} has no branch {lab01.BRANCH}")
    problems = _not_v2(session, head)
    if problems:
        raise Fail(f"{lab01.BRANCH} ({head[:7]}) does not hold {RELEASE_PATCH}: {'; '.join(problems)}")
    return f"{lab01.BRANCH} ({head[:7]}) holds the v2 release"


@check("smoke-test-ran", 2, f"The AppSpec's Hooks name {SMOKE_TEST} for {HOOK}; the function must report "
       "Succeeded for the deployment to go on.", hidden=True, uses=("application", "group"), runs=True)
def smoke_test_ran(session: LabSession) -> str:
    events = {e["lifecycleEventName"]: e["status"] for e in _shipped(session)["target"].get("lifecycleEvents", [])}
    if events.get(HOOK) != "Succeeded":
        raise Fail(f"{HOOK} was {events.get(HOOK, 'not run')} in the shipped deployment")
    return f"{HOOK} Succeeded"


@check("shipped-as-canary", 1, f"Deploy with the group's {CONFIG}: no deploymentConfigName override.", hidden=True,
       uses=("application", "group"), runs=True)
def shipped_as_canary(session: LabSession) -> str:
    config = _shipped(session)["info"].get("deploymentConfigName")
    if config != CONFIG:
        raise Fail(f"the shipped deployment used {config}")
    return f"shipped as {CONFIG}"


# --- troubleshooting: a hook that says no ---------------------------------------------------------
HOOK_FAILURE = "HOOK_EXECUTION_FAILURE"  # CodeDeploy's error code for a deployment a lifecycle hook failed
BROKEN_TEST_URL = "http://127.0.0.1:9"  # the discard port: nothing answers there, neither here nor in a Lambda on AWS


def _hook_failures(session: LabSession) -> list[dict[str, Any]]:
    """The deployments of the group (not CodeDeploy's rollbacks) that a lifecycle hook failed, newest first."""
    codedeploy = session.client("codedeploy")
    pages = codedeploy.get_paginator("list_deployments").paginate(
        applicationName=APPLICATION, deploymentGroupName=GROUP, includeOnlyStatuses=["Failed"])
    ids = found(lambda: [i for page in pages for i in page["deployments"]], f"there is no deployment group {GROUP}")
    infos = [codedeploy.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids]
    failed = [d for d in infos if (d.get("errorInformation") or {}).get("code") == HOOK_FAILURE
              and d.get("creator") != "codeDeployRollback"]
    return sorted(failed, key=lambda d: d["createTime"], reverse=True)


def _lifecycle(session: LabSession, deployment_id: str) -> dict[str, str]:
    """Lifecycle event name -> status, of the deployment's (one) ECS target."""
    codedeploy = session.client("codedeploy")
    targets = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    found_targets = codedeploy.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=targets)["deploymentTargets"] \
        if targets else []
    events = found_targets[0].get("ecsTarget", {}).get("lifecycleEvents", []) if found_targets else []
    return {e["lifecycleEventName"]: e["status"] for e in events}


def listener_test_url(session: LabSession) -> str:
    """Where the stack's test listener answers (:func:`grader.live.listener_url`: on AWS the load balancer's DNS
    name and the listener's port, on labstack the local port it answers on)."""
    from grader.live import listener_url

    elbv2 = session.client("elbv2")
    listener = found(lambda: elbv2.describe_listeners(ListenerArns=[_outputs(session)["TestListenerArn"]])["Listeners"][0],
                     f"{STACK} has no test listener")
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])["LoadBalancers"][0]
    try:
        return listener_url(session, balancer["LoadBalancerName"], listener["Port"])
    except LookupError as exc:
        raise Fail(str(exc)) from None


@check("hook-failure-rolled-back", 3, f"Point {SMOKE_TEST}'s TEST_URL at {BROKEN_TEST_URL}, deploy the release again "
       f"(the same AppSpec) and let its {HOOK} hook fail it: the group's auto-rollback on DEPLOYMENT_FAILURE must roll "
       "it back (no override turning it off), and production must still run the release.",
       uses=("application", "group"), runs=True)
def hook_failure_rolled_back(session: LabSession) -> str:
    failures = _hook_failures(session)
    if not failures:
        raise Fail(f"no deployment of {APPLICATION}/{GROUP} has been failed by a lifecycle hook yet")
    failed = failures[0]
    deployment_id = failed["deploymentId"]
    events = _lifecycle(session, deployment_id)
    if events.get(HOOK) != "Failed":
        where = next((name for name, status in events.items() if status == "Failed"), "another step")
        raise Fail(f"{deployment_id} failed at {where}, not at its {HOOK} hook")
    rollback_id = (failed.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    if not rollback_id:
        reason = (failed.get("rollbackInfo") or {}).get("rollbackMessage") or "auto-rollback was off for it"
        raise Fail(f"{deployment_id} failed at {HOOK} but nothing rolled it back ({reason})")
    rollback = session.client("codedeploy").get_deployment(deploymentId=rollback_id)["deploymentInfo"]
    if rollback.get("status") != "Succeeded":
        raise Fail(f"{deployment_id} failed at {HOOK}; its rollback {rollback_id} is {rollback.get('status')}")
    release, current = _shipped(session)["taskDefinition"], _current_task_definition(session)
    if current != release:
        raise Fail(f"after the rollback {SERVICE} runs {current}, not the release {release}")
    return (f"{deployment_id} failed at {HOOK} and {rollback_id} rolled it back; production still runs "
            f"{release.rsplit('/', 1)[-1]}")


@check("smoke-test-restored", 1, f"After the drill, set {SMOKE_TEST}'s TEST_URL back to the test listener's URL "
       f"(test_url): every later release runs it at {HOOK}.", hidden=True, uses=("smoke_test",))
def smoke_test_restored(session: LabSession) -> str:
    config = found(lambda: session.client("lambda").get_function_configuration(FunctionName=SMOKE_TEST),
                   f"there is no Lambda function {SMOKE_TEST}")
    url = (config.get("Environment") or {}).get("Variables", {}).get("TEST_URL", "")
    expected = listener_test_url(session)
    if url.rstrip("/") != expected.rstrip("/"):
        raise Fail(f"{SMOKE_TEST}'s TEST_URL is {url or 'not set'}, not the test listener's {expected}")
    return f"{SMOKE_TEST} tests {expected} again"
