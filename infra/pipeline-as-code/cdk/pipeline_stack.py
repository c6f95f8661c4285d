"""Lab 07's pipeline in the CDK: the stack of ``pipeline.yaml`` (with ``base.yaml``'s bucket, key and roles
folded in), written with constructs of the three levels.

* **L1** (``Cfn*``, one CloudFormation resource each, property for property): the staging service, the production
  target groups, listeners and CODE_DEPLOY service, and the 5xx alarm (:class:`BlueGreenProduction`).
* **L2** (curated, with defaults and ``grant*`` methods that write the IAM policies): the KMS key, the
  artifact bucket, the CodeBuild projects, the CodeDeploy application and group, the pipeline and its actions
  (the CodeCommit source action makes the EventBridge rule and its role).
* **L3** (a pattern: several resources wired together behind one construct): :class:`BlueGreenProduction`,
  the whole blue/green production of lab 03 in one call. ``aws_ecs_patterns`` are AWS's own L3 constructs;
  they make their own VPC and load balancer, where this lab reuses lab 03's.

The stage ``UpdatePipeline`` makes the pipeline self-mutating: a change set of this very stack from the
template committed in the repository (CHANGE_SET_REPLACE, then CHANGE_SET_EXECUTE), so a pushed change to
the pipeline changes the pipeline; the execution that updated it ends Cancelled and
``restart_execution_on_update`` starts the next one on the new structure.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct
from settings import Settings

IMAGE = codebuild.LinuxBuildImage.from_code_build_image_id("aws/codebuild/amazonlinux2-x86_64-standard:5.0")


def network(s: Settings) -> dict:
    """An ECS service's network configuration in lab 03's subnets and security group (L1 property form)."""
    return {"awsvpcConfiguration": {"assignPublicIp": "ENABLED", "subnets": list(s.subnets),
                                    "securityGroups": [s.security_group]}}


class BlueGreenProduction(Construct):
    """L3, a pattern of our own: a service CodeDeploy swaps between two target groups behind a production and
    a test listener on an existing load balancer, a 5xx alarm, and the CodeDeploy application and blue/green
    group that stops and rolls back on the alarm or a failure. Built from L1 resources, exposed as L2."""

    def __init__(self, scope: Construct, id: str, settings: Settings, cluster: ecs.ICluster) -> None:
        super().__init__(scope, id)
        s = settings
        groups = [elbv2.CfnTargetGroup(self, f"{color.title()}TargetGroup", name=f"{s.prefix}-{s.environment}-{color}",
                                       target_type="ip", protocol="HTTP", port=s.container_port, vpc_id=s.vpc_id,
                                       health_check_path="/health", health_check_interval_seconds=10,
                                       healthy_threshold_count=2)
                  for color in ("blue", "green")]
        blue, green = groups
        listeners = [elbv2.CfnListener(self, f"{kind}Listener", load_balancer_arn=s.load_balancer_arn, protocol="HTTP",
                                       port=port, default_actions=[{"type": "forward", "targetGroupArn": blue.ref}])
                     for kind, port in (("Production", s.production_port), ("Test", s.test_port))]
        service = ecs.CfnService(
            self, "Service", service_name=f"{s.prefix}-{s.environment}", cluster=s.cluster,
            task_definition=s.task_definition, desired_count=1, launch_type="FARGATE",
            deployment_controller={"type": "CODE_DEPLOY"},
            load_balancers=[{"containerName": s.container_name, "containerPort": s.container_port, "targetGroupArn": blue.ref}],
            network_configuration=network(s))
        for listener in listeners:
            service.node.add_dependency(listener)
        alarm = cloudwatch.CfnAlarm(
            self, "ErrorAlarm", alarm_name=f"{s.prefix}-{s.environment}-5xx", namespace="AWS/ApplicationELB",
            metric_name="HTTPCode_Target_5XX_Count", statistic="Sum", period=60, evaluation_periods=1, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
            dimensions=[{"name": "LoadBalancer", "value": s.load_balancer_arn.split(":loadbalancer/")[-1]},
                        {"name": "TargetGroup", "value": blue.attr_target_group_full_name}])
        # The L1 resources seen through L2 interfaces, so the L2 deployment group can take them.
        imported = {g: elbv2.ApplicationTargetGroup.from_target_group_attributes(self, f"{g}Ref", target_group_arn=t.ref)
                    for g, t in (("Blue", blue), ("Green", green))}
        production, test = (elbv2.ApplicationListener.from_application_listener_attributes(
            self, f"{kind}ListenerRef", listener_arn=listener.ref,
            security_group=ec2.SecurityGroup.from_security_group_id(self, f"{kind}Sg", s.security_group))
            for kind, listener in (("Production", listeners[0]), ("Test", listeners[1])))
        self.service = ecs.FargateService.from_fargate_service_attributes(
            self, "ServiceRef", cluster=cluster, service_name=service.attr_name)
        self.application = codedeploy.EcsApplication(self, "Application", application_name=f"{s.prefix}-{s.environment}")
        self.group = codedeploy.EcsDeploymentGroup(
            self, "DeploymentGroup", application=self.application, deployment_group_name="production",
            service=self.service,
            deployment_config=(codedeploy.EcsDeploymentConfig.CANARY_10_PERCENT_5_MINUTES if s.environment == "prod"
                               else codedeploy.EcsDeploymentConfig.ALL_AT_ONCE),
            blue_green_deployment_config=codedeploy.EcsBlueGreenDeploymentConfig(
                blue_target_group=imported["Blue"], green_target_group=imported["Green"], listener=production,
                test_listener=test, termination_wait_time=Duration.minutes(60 if s.environment == "prod" else 0)),
            alarms=[cloudwatch.Alarm.from_alarm_name(self, "ErrorAlarmRef", alarm.ref)],
            auto_rollback=codedeploy.AutoRollbackConfig(failed_deployment=True, deployment_in_alarm=True))
        self.group.node.add_dependency(service)


class PipelineStack(Stack):
    """The pipeline of labs 04–06 (Source → UpdatePipeline → Build → Test (UnitTests ‖ Lint) → Deploy_Staging
    → [Approval, in prod] → Deploy_Production) with what it needs."""

    def __init__(self, scope: Construct, id: str, settings: Settings, **kwargs: object) -> None:
        super().__init__(scope, id, stack_name=settings.stack_name, **kwargs)
        s = settings
        # --- L2: the artifact store, a versioned bucket encrypted with a key of its own ---
        key = kms.Key(self, "ArtifactKey", enable_key_rotation=True, alias=f"alias/{s.prefix}-artifacts",
                      description=f"Encrypts the artifacts of the {s.prefix} pipeline",
                      removal_policy=RemovalPolicy.DESTROY)
        bucket = s3.Bucket(self, "ArtifactBucket", bucket_name=f"{s.prefix}-artifacts-{self.account}", versioned=True,
                           encryption=s3.BucketEncryption.KMS, encryption_key=key,
                           removal_policy=RemovalPolicy.RETAIN)

        # --- L2: the CodeBuild projects (each makes its role; the pipeline's grants fill their policies) ---
        ecr_repo = f"{self.account}.dkr.ecr.{self.region}.{self.url_suffix}/{s.ecr_repository}"
        build = self._project("Build", s, "buildspec.yml", privileged=True,
                              env={"ECR_REPO": codebuild.BuildEnvironmentVariable(value=ecr_repo)})
        build.add_to_role_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        build.add_to_role_policy(iam.PolicyStatement(
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                     "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"],
            resources=[self.format_arn(service="ecr", resource="repository", resource_name=s.ecr_repository)]))
        build.add_to_role_policy(iam.PolicyStatement(
            actions=["ssm:GetParameters"], resources=[self.format_arn(service="ssm", resource="parameter",
                                                                      resource_name="app/db/password")]))
        build.add_to_role_policy(iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"],
            resources=[f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:prod/api-key-*"]))
        tests = {name: self._project(name, s, buildspec) for name, buildspec in s.tests}
        # --- L2: the pipeline; use_pipeline_role_for_actions: its actions act as its role, as in labs 04-06 ---
        pipeline = codepipeline.Pipeline(
            self, "Pipeline", pipeline_name=f"{s.prefix}-{s.environment}", pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=bucket, use_pipeline_role_for_actions=True, restart_execution_on_update=True)
        source, built = codepipeline.Artifact("SourceArtifact"), codepipeline.Artifact("BuildArtifact")
        repository = codecommit.Repository.from_repository_name(self, "Repository", s.repository)
        # trigger EVENTS (the default): the L2 action adds the EventBridge rule on pushes to the branch
        pipeline.add_stage(stage_name="Source", actions=[actions.CodeCommitSourceAction(
            action_name="Source", repository=repository, branch=s.branch, output=source,
            variables_namespace="SourceVariables")])
        # self-mutation, right after Source (the template is in the source: nothing to build first), so the rest
        # of a run always has the structure the branch declares: a change set of this stack, then its execution
        change_set = f"{s.stack_name}-changes"
        pipeline.add_stage(stage_name="UpdatePipeline", actions=[
            actions.CloudFormationCreateReplaceChangeSetAction(
                action_name="PrepareChanges", stack_name=s.stack_name, change_set_name=change_set,
                template_path=source.at_path(s.template_path), admin_permissions=True, run_order=1),
            actions.CloudFormationExecuteChangeSetAction(
                action_name="ExecuteChanges", stack_name=s.stack_name, change_set_name=change_set, run_order=2)])
        pipeline.add_stage(stage_name="Build", actions=[actions.CodeBuildAction(
            action_name="Build", project=build, input=source, outputs=[built], variables_namespace="BuildVariables")])
        pipeline.add_stage(stage_name="Test", actions=[
            actions.CodeBuildAction(action_name=name, project=project, input=source, type=actions.CodeBuildActionType.TEST,
                                    run_order=1)
            for name, project in tests.items()])
        cluster = ecs.Cluster.from_cluster_arn(self, "Cluster", self.format_arn(service="ecs", resource="cluster",
                                                                              resource_name=s.cluster))
        if not s.production:
            return
        # --- L1: staging, a service of the stack's own that ECS rolls out (lab 04's stays lab 04's) ---
        staging_service = ecs.CfnService(
            self, "StagingService", service_name=f"{s.prefix}-{s.environment}-staging", cluster=s.cluster,
            task_definition=s.task_definition, desired_count=1, launch_type="FARGATE", network_configuration=network(s))
        staging = ecs.FargateService.from_fargate_service_attributes(self, "Staging", cluster=cluster,
                                                                     service_name=staging_service.attr_name)
        pipeline.add_stage(stage_name="Deploy_Staging", actions=[actions.EcsDeployAction(
            action_name="Deploy", service=staging, image_file=built.at_path("imagedefinitions.json"))])
        pipeline.role.add_to_principal_policy(iam.PolicyStatement(  # the ECS deploy registers a task definition
            actions=["iam:PassRole"], resources=[self.format_arn(
                service="iam", region="", resource="role", resource_name=s.task_execution_role)]))
        production = BlueGreenProduction(self, "Production", s, cluster)
        if s.environment == "prod":
            pipeline.add_stage(stage_name="Approval", actions=[actions.ManualApprovalAction(
                action_name="ManualApproval", additional_information="Please review staging before production")])
        pipeline.add_stage(stage_name="Deploy_Production", actions=[actions.CodeDeployEcsDeployAction(
            action_name="Deploy", deployment_group=production.group,
            task_definition_template_file=built.at_path("taskdef.json"),
            app_spec_template_file=built.at_path("appspec.yaml"),
            container_image_inputs=[actions.CodeDeployEcsContainerImageInput(
                input=built, task_definition_placeholder="IMAGE1_NAME")])])

    def _project(self, name: str, s: Settings, buildspec: str, privileged: bool = False,
                 env: dict[str, codebuild.BuildEnvironmentVariable] | None = None) -> codebuild.PipelineProject:
        """A CodeBuild project of the pipeline (L2), reading ``buildspec`` from the source."""
        return codebuild.PipelineProject(
            self, f"{name}Project", project_name=f"{s.prefix}-{s.environment}-{name.lower()}",
            build_spec=codebuild.BuildSpec.from_source_filename(buildspec), timeout=Duration.minutes(30),
            environment=codebuild.BuildEnvironment(build_image=IMAGE, compute_type=codebuild.ComputeType.SMALL,
                                                   privileged=privileged),
            environment_variables=env)
