"""AWS::CodeDeploy::Application, DeploymentGroup and DeploymentConfig handlers against a real labstack: an ECS
blue/green group they make deploys a revision that really moves traffic, updates in place, and goes."""

from __future__ import annotations

from pathlib import Path

import pytest
from labstack.services.cloudformation.resource import NeedsReplacement

from tests.support.bluegreen import BlueGreen, appspec
from tests.support.cfn_handlers import context, of
from tests.support.codebuild import new_account
from tests.support.roles import service_role
from tests.support.server import LabstackProcess

pytest_plugins = ["tests.support.codepipeline_fixtures"]

APPLICATION, GROUP, CONFIG = ("AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup",
                              "AWS::CodeDeploy::DeploymentConfig")


@pytest.mark.slow
def test_an_ecs_blue_green_group_deploys_its_revision_and_updates_in_place(pipeline_labstack: LabstackProcess,
                                                                           tmp_path: Path) -> None:
    """An ECS application, a canary DeploymentConfig (TrafficRoutingConfig) and a blue/green group
    (DeploymentStyle, BlueGreenDeploymentConfiguration, LoadBalancerInfo's TargetGroupPairInfoList, ECSServices,
    AutoRollbackConfiguration, AlarmConfiguration). Ref of each is its name
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codedeploy-application.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codedeploy-deploymentgroup.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codedeploy-deploymentconfig.html).
    The group's properties change with no interruption; its Deployment (a revision) "is deployed as soon as
    the provisioning process is complete"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codedeploy-deploymentgroup-deployment.html)
    and moves production traffic to v2."""
    account = new_account()
    bg = BlueGreen(pipeline_labstack, account, tmp_path, name="cfnbg")
    ctx = context(pipeline_labstack, account, "Deploy")
    app = of(APPLICATION).create(ctx, {"ComputePlatform": "ECS", "Tags": [{"Key": "team", "Value": "a"}]})
    assert bg.cd.get_application(applicationName=app.ref_value)["application"]["computePlatform"] == "ECS"
    canary = {"ComputePlatform": "ECS", "TrafficRoutingConfig": {
        "Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": 20, "CanaryInterval": 1}}}
    config = of(CONFIG).create(ctx, canary)
    assert of(CONFIG).read(ctx, config.physical_id, canary) == canary
    with pytest.raises(NeedsReplacement):  # every DeploymentConfig property: "Update requires: Replacement"
        of(CONFIG).update(ctx, config.physical_id, canary, {**canary, "ComputePlatform": "Server"})

    props = {
        "ApplicationName": app.ref_value, "ServiceRoleArn": bg.role, "DeploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
        "DeploymentStyle": {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"},
        "BlueGreenDeploymentConfiguration": {
            "DeploymentReadyOption": {"ActionOnTimeout": "CONTINUE_DEPLOYMENT", "WaitTimeInMinutes": 0},
            "TerminateBlueInstancesOnDeploymentSuccess": {"Action": "TERMINATE", "TerminationWaitTimeInMinutes": 0}},
        "LoadBalancerInfo": {"TargetGroupPairInfoList": [{
            "TargetGroups": [{"Name": bg.blue["TargetGroupName"]}, {"Name": bg.green["TargetGroupName"]}],
            "ProdTrafficRoute": {"ListenerArns": [bg.prod]}, "TestTrafficRoute": {"ListenerArns": [bg.test]}}]},
        "ECSServices": [{"ClusterName": "cfnbg", "ServiceName": "cfnbg"}],
        "AutoRollbackConfiguration": {"Enabled": True, "Events": ["DEPLOYMENT_FAILURE"]}}
    groups = of(GROUP)
    group = groups.create(ctx, props)
    assert groups.read(ctx, group.physical_id, props) == props

    bg.cw.put_metric_alarm(AlarmName="cfnbg-errors", Namespace="Shop", MetricName="Errors", Statistic="Sum", Period=60,
                           EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    release = {"Description": "v2 from the template", "Revision": {
        "RevisionType": "AppSpecContent", "AppSpecContent": {"Content": appspec(bg.versions["v2"])}}}
    changed = {**props, "DeploymentConfigName": config.ref_value,
               "AlarmConfiguration": {"Enabled": True, "Alarms": [{"Name": "cfnbg-errors"}]},
               "AutoRollbackConfiguration": {"Enabled": True, "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
               "Deployment": release}
    assert groups.update(ctx, group.physical_id, props, changed).physical_id == group.physical_id
    assert groups.read(ctx, group.physical_id, changed) == changed
    deployments = bg.cd.list_deployments(applicationName=app.ref_value, deploymentGroupName=group.ref_value)["deployments"]
    assert len(deployments) == 1
    info = bg.finish(deployments[0])
    assert (info["status"], info["deploymentConfigName"], info["description"]) == \
        ("Succeeded", config.ref_value, "v2 from the template"), info.get("errorInformation")
    assert bg.serving() == {"v2"}

    for handler, made, declared in ((groups, group, changed), (of(CONFIG), config, canary), (of(APPLICATION), app, {})):
        handler.delete(ctx, made.physical_id, declared)
        handler.delete(ctx, made.physical_id, declared)  # already gone: success
        assert handler.read(ctx, made.physical_id, declared) is None


@pytest.mark.slow
def test_a_server_group_keeps_its_tag_sets_and_tags(pipeline_labstack: LabstackProcess) -> None:
    """Ec2TagSet and OnPremisesTagSet (lists of tag groups, each a list of filters) go to CodeDeploy as its
    lists of lists and read back in template form
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codedeploy-deploymentgroup-ec2tagset.html);
    a MinimumHealthyHosts configuration; Tags change in place; a property the template drops goes back to
    CodeDeploy's default (the configuration CodeDeployDefault.OneAtATime)."""
    account = new_account()
    role = service_role(pipeline_labstack.client("iam", account=account), "deployer", "codedeploy.amazonaws.com")
    ctx = context(pipeline_labstack, account, "Servers")
    app = of(APPLICATION).create(ctx, {"ApplicationName": "fleet", "ComputePlatform": "Server"})
    config_props = {"ComputePlatform": "Server", "MinimumHealthyHosts": {"Type": "FLEET_PERCENT", "Value": 75}}
    config = of(CONFIG).create(ctx, config_props)
    assert of(CONFIG).read(ctx, config.physical_id, config_props) == config_props
    props = {"ApplicationName": app.ref_value, "DeploymentGroupName": "web", "ServiceRoleArn": role,
             "DeploymentConfigName": config.ref_value, "Tags": [{"Key": "team", "Value": "a"}],
             "Ec2TagSet": {"Ec2TagSetList": [{"Ec2TagGroup": [{"Key": "app", "Value": "shop", "Type": "KEY_AND_VALUE"}]},
                                             {"Ec2TagGroup": [{"Key": "tier", "Value": "web", "Type": "KEY_AND_VALUE"}]}]},
             "OnPremisesTagSet": {"OnPremisesTagSetList": [{"OnPremisesTagGroup": [{"Key": "rack", "Type": "KEY_ONLY"}]}]}}
    groups = of(GROUP)
    group = groups.create(ctx, props)
    assert group.ref_value == "web"
    assert groups.read(ctx, "web", props) == props
    changed = {**props, "Tags": [{"Key": "cost", "Value": "lab"}],
               "Ec2TagSet": {"Ec2TagSetList": [{"Ec2TagGroup": [{"Key": "app", "Value": "shop", "Type": "KEY_AND_VALUE"}]}]}}
    groups.update(ctx, "web", props, changed)
    assert groups.read(ctx, "web", changed) == changed
    plain = {k: v for k, v in changed.items() if k not in ("DeploymentConfigName", "OnPremisesTagSet")}
    groups.update(ctx, "web", changed, plain)  # what the template drops goes back to CodeDeploy's default
    info = pipeline_labstack.client("codedeploy", account=account).get_deployment_group(
        applicationName="fleet", deploymentGroupName="web")["deploymentGroupInfo"]
    assert info["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert not (info.get("onPremisesTagSet") or {}).get("onPremisesTagSetList")
    of(CONFIG).delete(ctx, config.physical_id, config_props)  # no longer in use
    app_props = {"ApplicationName": "fleet", "ComputePlatform": "Server", "Tags": [{"Key": "team", "Value": "b"}]}
    of(APPLICATION).update(ctx, app.physical_id, {"ApplicationName": "fleet", "ComputePlatform": "Server"}, app_props)
    assert of(APPLICATION).read(ctx, app.physical_id, app_props) == app_props
