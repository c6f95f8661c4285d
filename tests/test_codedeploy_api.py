"""CodeDeploy's API: applications, configs, groups, revisions and tags, with AWS's errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.responses import check_responses
from tests.support.roles import service_role
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

ACCOUNT = "161616161616"


@pytest.fixture(scope="module")
def cd(labstack: LabstackProcess) -> Any:
    return check_responses(labstack.client("codedeploy", account=ACCOUNT))


@pytest.fixture(scope="module")
def role(labstack: LabstackProcess) -> str:
    return service_role(labstack.client("iam", account=ACCOUNT), "deployer", "codedeploy.amazonaws.com")


def code(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_applications_are_created_listed_renamed_and_deleted(cd: Any) -> None:
    app_id = cd.create_application(applicationName="shop", computePlatform="ECS")["applicationId"]
    info = cd.get_application(applicationName="shop")["application"]
    assert (info["applicationId"], info["computePlatform"], info["linkedToGitHub"]) == (app_id, "ECS", False)
    assert code(lambda: cd.create_application(applicationName="shop")) == "ApplicationAlreadyExistsException"
    cd.update_application(applicationName="shop", newApplicationName="store")
    assert "store" in cd.list_applications()["applications"]
    assert code(lambda: cd.get_application(applicationName="shop")) == "ApplicationDoesNotExistException"
    assert [a["applicationName"] for a in cd.batch_get_applications(applicationNames=["store"])["applicationsInfo"]] == ["store"]
    cd.delete_application(applicationName="store")
    assert "store" not in cd.list_applications()["applications"]


def test_every_predefined_config_is_there_and_custom_ones_are_checked(labstack: LabstackProcess, cd: Any) -> None:
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    for expected in ("CodeDeployDefault.OneAtATime", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.AllAtOnce",
                     "CodeDeployDefault.ECSAllAtOnce", "CodeDeployDefault.ECSCanary10Percent5Minutes",
                     "CodeDeployDefault.ECSCanary10Percent15Minutes", "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
                     "CodeDeployDefault.ECSLinear10PercentEvery3Minutes", "CodeDeployDefault.LambdaAllAtOnce",
                     "CodeDeployDefault.LambdaCanary10Percent30Minutes", "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
                     "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes"):
        assert expected in names
    # AWS documents MOST_CONCURRENCY for OneAtATime although the model's enum lacks it: not checked against the model.
    raw = labstack.client("codedeploy", account=ACCOUNT)
    one = raw.get_deployment_config(deploymentConfigName="CodeDeployDefault.OneAtATime")["deploymentConfigInfo"]
    assert one["minimumHealthyHosts"] == {"type": "MOST_CONCURRENCY", "value": 1}
    canary = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes")["deploymentConfigInfo"]
    assert canary["trafficRoutingConfig"] == {"type": "TimeBasedCanary",
                                              "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5}}
    cd.create_deployment_config(deploymentConfigName="Canary25", computePlatform="ECS", trafficRoutingConfig={
        "type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 2}})
    assert cd.get_deployment_config(deploymentConfigName="Canary25")["deploymentConfigInfo"]["computePlatform"] == "ECS"
    assert code(lambda: cd.create_deployment_config(deploymentConfigName="Canary25", computePlatform="ECS", trafficRoutingConfig={
        "type": "AllAtOnce"})) == "DeploymentConfigAlreadyExistsException"
    assert code(lambda: cd.create_deployment_config(deploymentConfigName="Bad", computePlatform="ECS", trafficRoutingConfig={
        "type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 0, "linearInterval": 1}})) \
        == "InvalidTrafficRoutingConfigurationException"
    assert code(lambda: cd.create_deployment_config(deploymentConfigName="Hosts", minimumHealthyHosts={
        "type": "FLEET_PERCENT", "value": 100})) == "InvalidMinimumHealthyHostValueException"
    assert code(lambda: cd.delete_deployment_config(deploymentConfigName="CodeDeployDefault.AllAtOnce")) \
        == "InvalidOperationException"
    cd.delete_deployment_config(deploymentConfigName="Canary25")
    assert code(lambda: cd.get_deployment_config(deploymentConfigName="Canary25")) == "DeploymentConfigDoesNotExistException"


def test_deployment_groups_are_checked_as_aws_checks_them(cd: Any, role: str) -> None:
    cd.create_application(applicationName="checks", computePlatform="ECS")
    base = {"applicationName": "checks", "deploymentGroupName": "g", "serviceRoleArn": role,
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "ecsServices": [{"clusterName": "nowhere", "serviceName": "nothing"}]}
    assert code(lambda: cd.create_deployment_group(**base)) == "InvalidECSServiceException"
    assert code(lambda: cd.create_deployment_group(**{**base, "serviceRoleArn": "arn:aws:iam::161616161616:role/ghost"})) \
        == "InvalidRoleException"
    assert code(lambda: cd.create_deployment_group(**{**base, "deploymentConfigName": "CodeDeployDefault.OneAtATime"})) \
        == "InvalidDeploymentConfigNameException"
    assert code(lambda: cd.create_deployment_group(**{**base, "deploymentStyle": {
        "deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}})) == "InvalidDeploymentStyleException"
    assert code(lambda: cd.create_deployment_group(**{**base, "autoRollbackConfiguration": {"enabled": True, "events": []}})) \
        == "InvalidAutoRollbackConfigException"
    assert code(lambda: cd.create_deployment_group(**{**base, "alarmConfiguration": {
        "enabled": True, "alarms": [{"name": f"a{i}"} for i in range(11)]}})) == "AlarmsLimitExceededException"
    assert code(lambda: cd.create_deployment_group(**{**base, "applicationName": "ghost"})) == "ApplicationDoesNotExistException"
    assert code(lambda: cd.get_deployment_group(applicationName="checks", deploymentGroupName="g")) \
        == "DeploymentGroupDoesNotExistException"
    assert cd.list_deployment_groups(applicationName="checks")["deploymentGroups"] == []


def test_server_groups_fail_deployments_honestly(cd: Any, role: str) -> None:
    """No EC2 instance runs a CodeDeploy agent here: a Server deployment ends as AWS ends one with none."""
    cd.create_application(applicationName="servers")
    cd.create_deployment_group(applicationName="servers", deploymentGroupName="fleet", serviceRoleArn=role,
                               ec2TagFilters=[{"Key": "app", "Value": "web", "Type": "KEY_AND_VALUE"}])
    group = cd.get_deployment_group(applicationName="servers", deploymentGroupName="fleet")["deploymentGroupInfo"]
    assert (group["deploymentConfigName"], group["deploymentStyle"]["deploymentType"]) == ("CodeDeployDefault.OneAtATime", "IN_PLACE")
    revision = {"revisionType": "S3", "s3Location": {"bucket": "nope", "key": "app.zip", "bundleType": "zip"}}
    assert code(lambda: cd.create_deployment(applicationName="servers", deploymentGroupName="fleet", revision=revision)) \
        == "RevisionDoesNotExistException"
    assert code(lambda: cd.create_deployment(applicationName="servers", deploymentGroupName="fleet", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0"}})) == "InvalidRevisionException"
    github = {"revisionType": "GitHub", "gitHubLocation": {"repository": "me/app", "commitId": "a" * 40}}
    deployment = cd.create_deployment(applicationName="servers", deploymentGroupName="fleet", revision=github)["deploymentId"]
    info = wait_for(lambda: (d := cd.get_deployment(deploymentId=deployment)["deploymentInfo"])["status"] == "Failed" and d)
    assert info["errorInformation"]["code"] == "NO_INSTANCES"
    assert deployment in cd.list_deployments(applicationName="servers", deploymentGroupName="fleet",
                                             includeOnlyStatuses=["Failed"])["deployments"]
    revisions = cd.list_application_revisions(applicationName="servers")["revisions"]
    assert revisions == [github]
    used = cd.get_application_revision(applicationName="servers", revision=github)["revisionInfo"]
    assert used["deploymentGroups"] == ["fleet"]
    assert code(lambda: cd.stop_deployment(deploymentId=deployment)) == "DeploymentAlreadyCompletedException"
    assert code(lambda: cd.get_deployment(deploymentId="d-NOTTHERE1")) == "DeploymentDoesNotExistException"


def test_tags_and_registered_revisions(cd: Any) -> None:
    cd.create_application(applicationName="tagged", tags=[{"Key": "team", "Value": "blue"}])
    app_arn = "arn:aws:codedeploy:us-east-1:161616161616:application:tagged"
    cd.tag_resource(ResourceArn=app_arn, Tags=[{"Key": "env", "Value": "lab"}])
    cd.untag_resource(ResourceArn=app_arn, TagKeys=["team"])
    assert cd.list_tags_for_resource(ResourceArn=app_arn)["Tags"] == [{"Key": "env", "Value": "lab"}]
    assert code(lambda: cd.list_tags_for_resource(ResourceArn=app_arn.replace("tagged", "ghost"))) \
        == "ApplicationDoesNotExistException"
    revision = {"revisionType": "String", "string": {"content": "version: 0.0\n"}}
    cd.register_application_revision(applicationName="tagged", revision=revision, description="first")
    info = cd.batch_get_application_revisions(applicationName="tagged", revisions=[revision])["revisions"][0]
    assert info["genericRevisionInfo"]["description"] == "first"
    assert cd.list_application_revisions(applicationName="tagged", deployed="exclude")["revisions"] == [revision]
