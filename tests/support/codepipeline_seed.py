"""The seed's pipeline and what it deploys to, for the end-to-end test: the sample app's
three CodeBuild projects, a staging ECS service, a production ECS service behind a load
balancer with a CodeDeploy blue/green group, an SNS topic for approvals, a connection to the
local GitHub; and the pipeline itself as the seed's Terraform declares it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.bluegreen import HOOK, zipped
from tests.support.codepipeline import PipelineLab, action, stage
from tests.support.roles import service_role
from tests.support.sampleapp import app_copy, listener_url, push_app_image
from tests.support.waiting import wait_for

ENVIRONMENT = {"type": "LINUX_CONTAINER", "image": "aws/codebuild/amazonlinux2-x86_64-standard:4.0",
               "computeType": "BUILD_GENERAL1_MEDIUM"}


class SeedWorld:
    """Everything the seed's pipeline deploys to, in ``lab``'s account."""

    def __init__(self, lab: PipelineLab, folder: Path) -> None:
        self.lab = lab
        account = lab.account
        lab.client("ssm").put_parameter(Name="/app/db/password", Value="db-pass", Type="SecureString")
        lab.client("secretsmanager").create_secret(Name="prod/api-key", SecretString=json.dumps({"API_KEY": "key"}))
        lab.client("ecr").create_repository(repositoryName="sample-app")
        self.repository = f"{account}.dkr.ecr.us-east-1.amazonaws.com/sample-app"
        push_app_image(lab.server, account, app_copy(folder / "first"), f"{self.repository}:first")
        iam = lab.client("iam")  # labstack enforces IAM: the builds, deployments, hooks and tasks act as these roles
        self.role = service_role(iam, "seed", "codebuild.amazonaws.com", "codedeploy.amazonaws.com", "lambda.amazonaws.com")
        self.task_role = service_role(iam, "sample-app-task-execution", "ecs-tasks.amazonaws.com")  # taskdef.json's
        self._projects()
        self._network()
        self._staging()
        self._production()
        sns = lab.client("sns")
        self.topic = sns.create_topic(Name="pipeline-approvals")["TopicArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="email", Endpoint="lead@example.com")
        self.connection = lab.client("codestar-connections").create_connection(
            ProviderType="GitHub", ConnectionName="github")["ConnectionArn"]
        self.kms_key = lab.client("kms").create_key()["KeyMetadata"]["Arn"]

    def _projects(self) -> None:
        for name, spec, privileged in (("app-build", "buildspec.yml", True), ("unit-tests", "buildspec-unit.yml", False),
                                       ("security-scan", "buildspec-security.yml", False)):
            variables = [{"name": "ECR_REPO", "value": self.repository}, {"name": "AWS_REGION", "value": "us-east-1"}]
            self.lab.codebuild.create_project(
                name=name, serviceRole=self.role, source={"type": "CODEPIPELINE", "buildspec": spec},
                artifacts={"type": "CODEPIPELINE"}, timeoutInMinutes=30,
                environment={**ENVIRONMENT, "privilegedMode": privileged, "environmentVariables": variables})

    def _network(self) -> None:
        ec2 = self.lab.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
        self.vpc = vpc
        self.subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
                        for i, z in ((1, "a"), (2, "b"))]
        group = ec2.create_security_group(GroupName="seed", Description="seed", VpcId=vpc)["GroupId"]
        self.network = {"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [group]}}
        self.lab.client("logs").create_log_group(logGroupName="/ecs/sample-app")

    def _definition(self, family: str) -> str:
        container = {"name": "app", "image": f"{self.repository}:first", "essential": True,
                     "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}
        return self.lab.client("ecs").register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            executionRoleArn=self.task_role, containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]

    def _staging(self) -> None:
        ecs = self.lab.client("ecs")
        ecs.create_cluster(clusterName="staging")
        ecs.create_service(cluster="staging", serviceName="app-staging", taskDefinition=self._definition("sample-app-staging"),
                           desiredCount=1, launchType="FARGATE", networkConfiguration=self.network)

    def _production(self) -> None:
        lab, elb, ecs = self.lab, self.lab.client("elbv2"), self.lab.client("ecs")
        balancer = elb.create_load_balancer(Name="prod", Subnets=self.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        groups = {c: elb.create_target_group(Name=f"prod-{c}", Protocol="HTTP", Port=8080, VpcId=self.vpc, TargetType="ip",
                                             HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                             HealthyThresholdCount=2)["TargetGroups"][0] for c in ("blue", "green")}
        blue = groups["blue"]
        prod, test = (elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=port, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": blue["TargetGroupArn"]}])["Listeners"][0]["ListenerArn"] for port in (80, 8080))
        ecs.create_cluster(clusterName="production")
        ecs.create_service(cluster="production", serviceName="app-prod", taskDefinition=self._definition("sample-app"),
                           desiredCount=1, launchType="FARGATE", deploymentController={"type": "CODE_DEPLOY"},
                           networkConfiguration=self.network,
                           loadBalancers=[{"targetGroupArn": blue["TargetGroupArn"], "containerName": "app", "containerPort": 8080}])
        lab.client("lambda").create_function(FunctionName="sample-app-smoke-test", Runtime="python3.12", Role=self.role,
                                             Handler="hook.handler", Code={"ZipFile": zipped(HOOK)}, Timeout=30)
        deploy = lab.client("codedeploy")
        deploy.create_application(applicationName="app", computePlatform="ECS")
        deploy.create_deployment_group(
            applicationName="app", deploymentGroupName="prod", serviceRoleArn=self.role,
            deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
            ecsServices=[{"clusterName": "production", "serviceName": "app-prod"}],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 0}},
            loadBalancerInfo={"targetGroupPairInfoList": [{
                "targetGroups": [{"name": "prod-blue"}, {"name": "prod-green"}],
                "prodTrafficRoute": {"listenerArns": [prod]}, "testTrafficRoute": {"listenerArns": [test]}}]})
        self.prod_url = wait_for(lambda: _url(lab, prod))

    def pipeline(self, repo: str) -> dict[str, Any]:
        """The seed's ``aws_codepipeline.app_pipeline`` as a CreatePipeline declaration. One
        addition: Image1ArtifactName/Image1ContainerName, without which CodeDeployToECS leaves
        taskdef.json's ``<IMAGE1_NAME>`` unfilled (on AWS as here)."""
        lab = self.lab
        source = action("GitHub_Source", "Source", "CodeStarSourceConnection",
                        {"ConnectionArn": self.connection, "FullRepositoryId": repo, "BranchName": "main", "DetectChanges": "true"},
                        outputs=("source_output",))
        build = action("Build", "Build", "CodeBuild", {"ProjectName": "app-build"}, inputs=("source_output",),
                       outputs=("build_output",))
        unit = action("UnitTests", "Test", "CodeBuild", {"ProjectName": "unit-tests"}, inputs=("source_output",))
        scan = action("SecurityScan", "Test", "CodeBuild", {"ProjectName": "security-scan"}, inputs=("source_output",))
        staging = action("Deploy", "Deploy", "ECS", {"ClusterName": "staging", "ServiceName": "app-staging",
                                                     "FileName": "imagedefinitions.json"}, inputs=("build_output",))
        approve = action("ManualApproval", "Approval", "Manual",
                         {"NotificationArn": self.topic, "CustomData": "Please review staging deployment before production"})
        production = action("Deploy", "Deploy", "CodeDeployToECS", {
            "ApplicationName": "app", "DeploymentGroupName": "prod", "TaskDefinitionTemplateArtifact": "build_output",
            "TaskDefinitionTemplatePath": "taskdef.json", "AppSpecTemplateArtifact": "build_output",
            "AppSpecTemplatePath": "appspec.yaml", "Image1ArtifactName": "build_output", "Image1ContainerName": "IMAGE1_NAME"},
            inputs=("build_output",))
        return {"name": "app-pipeline", "roleArn": lab.role,
                "artifactStore": {"type": "S3", "location": lab.bucket, "encryptionKey": {"id": self.kms_key, "type": "KMS"}},
                "stages": [stage("Source", source), stage("Build", build), stage("Test", unit, scan),
                           stage("Deploy_Staging", staging), stage("Approval", approve), stage("Deploy_Production", production)]}


def _url(lab: PipelineLab, listener: str) -> str | None:
    try:
        return listener_url(lab.server, listener)
    except StopIteration:
        return None
