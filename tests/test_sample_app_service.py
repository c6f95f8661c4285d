"""The sample app end to end on labstack: its buildspec builds and pushes the image on
CodeBuild (privileged mode), the image runs as an ECS service behind a listener, and v3
really fails a share of its requests."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from labstack.traffic import one

from tests.support.codebuild import Lab
from tests.support.sampleapp import (
    answer,
    app_copy,
    listener_url,
    push_app_image,
    source_project,
)
from tests.support.roles import service_role
from tests.support.waiting import wait_for

pytest_plugins = ["tests.support.sampleapp_fixtures"]


def _build_v1(lab: Lab, folder: Path) -> dict[str, Any]:
    """Run the app's buildspec.yml as the seed's project does; the build record."""
    lab.client("ssm").put_parameter(Name="/app/db/password", Value="db-pass-123", Type="SecureString")
    lab.client("secretsmanager").create_secret(Name="prod/api-key", SecretString=json.dumps({"API_KEY": "key-456"}))
    lab.client("s3").create_bucket(Bucket=f"out-{lab.account}")
    lab.client("ecr").create_repository(repositoryName="sample-app")
    repository = f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/sample-app"
    source_project(lab, "app-build", "buildspec.yml", folder,
                   environment={"privilegedMode": True, "environmentVariables": [{"name": "ECR_REPO", "value": repository}]},
                   artifacts={"type": "S3", "location": f"out-{lab.account}", "name": "build_output", "packaging": "ZIP"},
                   cache={"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]})
    return lab.run("app-build", timeout=120)


def _service_behind_listener(lab: Lab, definition: dict[str, Any]) -> tuple[Any, str]:
    """A cluster and a one-task service of ``definition`` behind a listener; (ecs client, listener URL)."""
    ec2, elb, ecs = lab.client("ec2"), lab.client("elbv2"), lab.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    group = elb.create_target_group(Name="sample-app", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                    HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                    HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    balancer = elb.create_load_balancer(Name="sample-app", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"]
    lab.client("logs").create_log_group(logGroupName="/ecs/sample-app")
    service_role(lab.client("iam"), "sample-app-task-execution", "ecs-tasks.amazonaws.com")  # the taskdef's
    ecs.create_cluster(clusterName="labs")
    arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="labs", serviceName="sample-app", taskDefinition=arn, desiredCount=1, launchType="FARGATE",
                       loadBalancers=[{"targetGroupArn": group, "containerName": "app", "containerPort": 8080}])
    return ecs, listener_url(lab.server, listener)


@pytest.mark.slow
def test_the_built_image_serves_v1_and_v3_fails_a_third_of_requests(lab: Lab, tmp_path: Path) -> None:
    build = _build_v1(lab, app_copy(tmp_path / "v1"))
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "Building sample-app with database password *** and API key ***" in lines
    assert not any("db-pass-123" in line or "key-456" in line for line in lines)
    assert {"name": "IMAGE_TAG", "value": "latest"} in build["exportedEnvironmentVariables"]
    reports = lab.codebuild.batch_get_reports(reportArns=build["reportArns"])["reports"]
    assert sorted(r["name"] for r in reports) == ["app-build-coverage", "app-build-unit-tests"]
    images = lab.client("ecr").describe_images(repositoryName="sample-app")["imageDetails"]
    assert [i.get("imageTags") for i in images] == [["latest"]]

    body = lab.client("s3").get_object(Bucket=f"out-{lab.account}", Key="build_output")["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["appspec.yaml", "imageDetail.json", "imagedefinitions.json", "taskdef.json"]
    image = json.loads(archive.read("imagedefinitions.json"))[0]
    assert json.loads(archive.read("imageDetail.json")) == {"ImageURI": image["imageUri"]}
    assert image == {"name": "app", "imageUri": f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/sample-app:latest"}
    taskdef = archive.read("taskdef.json").decode()
    assert f"arn:aws:iam::{lab.account}:role/sample-app-task-execution" in taskdef and "<AWS_REGION>" not in taskdef
    # What CodePipeline's CodeDeployToECS action does with the template: the image for <IMAGE1_NAME>.
    definition = json.loads(taskdef.replace("<IMAGE1_NAME>", image["imageUri"]))
    ecs, url = _service_behind_listener(lab, definition)
    assert wait_for(lambda: answer(url), seconds=30) == (200, "v1")

    v3_uri = image["imageUri"].replace(":latest", ":v3")
    push_app_image(lab.server, lab.account, app_copy(tmp_path / "v3", "v3"), v3_uri)
    definition["containerDefinitions"][0]["image"] = v3_uri
    v3 = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="labs", service="sample-app", taskDefinition=v3)

    def rolled_out() -> bool:
        service = ecs.describe_services(cluster="labs", services=["sample-app"])["services"][0]
        return len(service["deployments"]) == 1 and service["deployments"][0]["rolloutState"] == "COMPLETED" \
            and service["runningCount"] == 1 and all((answer(url) or (0, ""))[1] == "v3" for _ in range(3))

    wait_for(rolled_out, seconds=30)
    answers = Counter(one(url + "/") for _ in range(30))
    assert answers == {(200, "v3"): 20, (500, "v3"): 10}
    ecs.update_service(cluster="labs", service="sample-app", desiredCount=0)
