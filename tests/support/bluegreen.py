"""An ECS blue/green set-up in one account: image, cluster, load balancer with production and test
listeners, blue and green target groups, a CODE_DEPLOY service, and a CodeDeploy group over them."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

from labstack.endpoints import listener_url

from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for
from tests.support.webapp import fetch
from tests.support.webimage import push_web_image

HOOK = """\
import os
import boto3


def handler(event, context):
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"], lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=os.environ.get("VERDICT", "Succeeded"))
"""
ENDED = ("Succeeded", "Failed", "Stopped")  # a deployment's final statuses
SILENT_HOOK = "def handler(event, context):\n    return 'never reports'\n"


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hook.py", source)
    return buffer.getvalue()


def appspec(task_definition: str, container: str = "web", port: int = 8080, hooks: dict[str, str] | None = None) -> str:
    """An ECS AppSpec, in YAML, as the seed writes it."""
    lines = ["version: 0.0", "Resources:", "  - TargetService:", "      Type: AWS::ECS::Service", "      Properties:",
             f"        TaskDefinition: \"{task_definition}\"", "        LoadBalancerInfo:",
             f"          ContainerName: \"{container}\"", f"          ContainerPort: {port}",
             "        PlatformVersion: \"LATEST\""]
    if hooks:
        lines.append("Hooks:")
        lines += [f"  - {event}: \"{function}\"" for event, function in hooks.items()]
    return "\n".join(lines) + "\n"


def _url(balancer: str, port: int, endpoint: str) -> str | None:
    try:
        return listener_url(balancer, port, endpoint)
    except LookupError:
        return None


class BlueGreen:
    """Everything a blue/green deployment needs, in ``account``; ``versions`` are task definition ARNs."""

    def __init__(self, labstack: LabstackProcess, account: str, folder: Path, name: str = "bg") -> None:
        self.labstack, self.account, self.name = labstack, account, name
        self.ecs = labstack.client("ecs", account=account)
        self.elb = labstack.client("elbv2", account=account)
        self.cd = check_responses(labstack.client("codedeploy", account=account))
        self.lam = labstack.client("lambda", account=account)
        self.cw = labstack.client("cloudwatch", account=account)
        self.iam = labstack.client("iam", account=account)
        uri = push_web_image(labstack, account, folder, repository=f"{name}-web")
        ec2 = labstack.client("ec2", account=account)
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
                   for i, z in ((1, "a"), (2, "b"))]
        group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        self.network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}}
        self.balancer = self.elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
        self.blue, self.green = (self.elb.create_target_group(
            Name=f"{name}-{color}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", HealthCheckPath="/",
            HealthCheckIntervalSeconds=5, HealthyThresholdCount=2)["TargetGroups"][0] for color in ("blue", "green"))
        self.prod, self.test = (self.elb.create_listener(
            LoadBalancerArn=self.balancer["LoadBalancerArn"], Protocol="HTTP", Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.blue["TargetGroupArn"]}])["Listeners"][0]["ListenerArn"]
            for port in (80, 8080))
        self.ecs.create_cluster(clusterName=name)
        self.execution_role = service_role(self.iam, f"{name}-task-execution", "ecs-tasks.amazonaws.com")
        container = {"name": "web", "image": uri, "essential": True, "memory": 256,
                     "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}
        self.versions = {version: self.ecs.register_task_definition(
            family=f"{name}-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            executionRoleArn=self.execution_role, containerDefinitions=[{**container, "environment": env}])["taskDefinition"]["taskDefinitionArn"]
            for version, env in (("v1", [{"name": "VERSION", "value": "v1"}]), ("v2", [{"name": "VERSION", "value": "v2"}]),
                                 ("v3", [{"name": "VERSION", "value": "v3"}, {"name": "FAIL_PERCENT", "value": "50"}]))}
        self.ecs.create_service(cluster=name, serviceName=name, taskDefinition=self.versions["v1"], desiredCount=1,
                                launchType="FARGATE", deploymentController={"type": "CODE_DEPLOY"},
                                networkConfiguration=self.network,
                                loadBalancers=[{"targetGroupArn": self.blue["TargetGroupArn"], "containerName": "web",
                                                "containerPort": 8080}])
        self.role = service_role(self.iam, f"{name}-codedeploy", "codedeploy.amazonaws.com")  # the deployment group's
        self.hook_role = service_role(self.iam, f"{name}-hooks", "lambda.amazonaws.com")  # the hook functions'
        self.cd.create_application(applicationName=name, computePlatform="ECS")
        self.prod_url, self.test_url = (wait_for(lambda port=port: _url(self.balancer["LoadBalancerArn"], port, labstack.endpoint))
                                        for port in (80, 8080))
        wait_for(lambda: fetch(self.prod_url)[1].startswith("v1"), seconds=30)

    def group(self, config: str = "CodeDeployDefault.ECSAllAtOnce", termination_minutes: int = 0,
              alarms: list[str] | None = None, ready: dict[str, Any] | None = None, role: str | None = None,
              **extra: Any) -> str:
        """(Re)create the deployment group ``name`` (its service role ``role``, else one allowed everything)."""
        for active in self.cd.list_deployments(applicationName=self.name, includeOnlyStatuses=[
                "Created", "Queued", "InProgress", "Ready", "Baking"])["deployments"]:
            self.finish(active)  # what an earlier test left running ends first
        self.cd.delete_deployment_group(applicationName=self.name, deploymentGroupName=self.name)  # fine when absent
        self.cd.create_deployment_group(
            applicationName=self.name, deploymentGroupName=self.name, serviceRoleArn=role or self.role,
            deploymentConfigName=config,
            ecsServices=[{"clusterName": self.name, "serviceName": self.name}],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "deploymentReadyOption": ready or {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                              "terminationWaitTimeInMinutes": termination_minutes}},
            loadBalancerInfo={"targetGroupPairInfoList": [{
                "targetGroups": [{"name": self.blue["TargetGroupName"]}, {"name": self.green["TargetGroupName"]}],
                "prodTrafficRoute": {"listenerArns": [self.prod]}, "testTrafficRoute": {"listenerArns": [self.test]}}]},
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
            **({"alarmConfiguration": {"enabled": True, "alarms": [{"name": a} for a in alarms]}} if alarms else {}),
            **extra)
        return self.name

    def hook_function(self, name: str, source: str = HOOK, verdict: str = "Succeeded") -> str:
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=self.hook_role, Handler="hook.handler",
                                 Code={"ZipFile": zipped(source)}, Timeout=30,
                                 Environment={"Variables": {"VERDICT": verdict}})
        return name

    def deploy(self, version: str, **spec: Any) -> str:
        content = appspec(self.versions.get(version, version), **spec)
        return self.cd.create_deployment(applicationName=self.name, deploymentGroupName=self.name,
                                         revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}
                                         )["deploymentId"]

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return self.cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]

    def finish(self, deployment_id: str, seconds: float = 60) -> dict[str, Any]:
        """The deployment once it ended (and its rollback deployment, if one was made)."""
        info = wait_for(lambda: (d := self.deployment(deployment_id))["status"] in ENDED and d,
                        seconds=seconds)
        rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        if rollback:
            self.finish(rollback, seconds)
        return info

    def target(self, deployment_id: str) -> dict[str, Any]:
        ids = self.cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
        return self.cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=ids)["deploymentTargets"][0]["ecsTarget"]

    def weights(self, listener: str | None = None) -> dict[str, int]:
        """Target group name -> weight of the listener's forward action."""
        action = self.elb.describe_listeners(ListenerArns=[listener or self.prod])["Listeners"][0]["DefaultActions"][0]
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        names = {tg["TargetGroupArn"]: tg["TargetGroupName"] for tg in (self.blue, self.green)}
        return {names[g["TargetGroupArn"]]: g.get("Weight", 1) for g in groups if g.get("Weight", 1)}

    def serving(self, url: str | None = None, requests: int = 10) -> set[str]:
        """The versions answering through a listener."""
        return {fetch(url or self.prod_url)[1].split(" ")[0] for _ in range(requests)}

    def task_sets(self) -> list[dict[str, Any]]:
        return self.ecs.describe_services(cluster=self.name, services=[self.name])["services"][0]["taskSets"]

    def settle(self) -> None:
        """Wait for one task set and its target group to serve alone again."""
        wait_for(lambda: len(self.task_sets()) == 1, seconds=30)
        time.sleep(0.2)
