"""Deploy actions: ECS (standard rolling update from imagedefinitions.json), CodeDeployToECS
(a blue/green deployment from taskdef.json and appspec.yaml), CodeDeploy (the input artifact
as an S3 revision) and S3 (files into a bucket)."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from labstack.archives import ArchiveError, read_zip, zip_files
from labstack.services.codepipeline import acting
from labstack.services.codepipeline.action_job import ActionFailed, ActionJob

POLL_LAB_SECONDS = 3  # how often (lab time) a deploy action looks at the deployment it started
_TASK_DEFINITION_FIELDS = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                           "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                           "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform")


def _read(job: ActionJob, artifact: str | None, path: str) -> bytes:
    name = artifact or job.input_names()[0]
    try:
        return read_zip(job.input(artifact), path.lstrip("/"), f"Input artifact {name}")
    except KeyError:
        raise ActionFailed(f"The file {path} was not found in input artifact {name}", "ConfigurationError") from None
    except ArchiveError as exc:
        raise ActionFailed(str(exc)) from None


def _register(ecs: Any, definition: dict) -> str:
    """Register ``definition`` as a new revision of its family; its ARN."""
    args = {k: definition[k] for k in _TASK_DEFINITION_FIELDS if definition.get(k) not in (None, [], {})}
    return ecs.register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]


def ecs(job: ActionJob) -> dict[str, str]:
    """New task definition revision with the images of imagedefinitions.json, then a rolling
    update of the service; succeeds when the service's deployment completes."""
    config = job.configuration
    cluster, service = config["ClusterName"], config["ServiceName"]
    try:
        images = json.loads(_read(job, None, config.get("FileName") or "imagedefinitions.json"))
        wanted = {entry["name"]: entry["imageUri"] for entry in images}
    except (ValueError, TypeError, KeyError):
        raise ActionFailed("The image definitions file must be a JSON list of objects with name and imageUri",
                           "ConfigurationError") from None
    client = job.client("ecs")
    try:
        found = client.describe_services(cluster=cluster, services=[service])["services"]
        if not found or found[0].get("status") != "ACTIVE":
            raise ActionFailed(f"The ECS service {service} does not exist in cluster {cluster}", "ConfigurationError")
        current = client.describe_task_definition(taskDefinition=found[0]["taskDefinition"])["taskDefinition"]
        containers = {c["name"] for c in current["containerDefinitions"]}
        for name in wanted:
            if name not in containers:
                raise ActionFailed(f"The container {name} does not exist in the task definition {current['family']}",
                                   "ConfigurationError")
        for container in current["containerDefinitions"]:
            container["image"] = wanted.get(container["name"], container["image"])
        arn = _register(client, current)
        client.update_service(cluster=cluster, service=service, taskDefinition=arn)
    except ClientError as exc:
        raise acting.failed_call(exc, "Amazon ECS", "Error deploying to ECS") from None
    job.update(external_id=arn, summary=f"Deploying {arn.rsplit('/', 1)[-1]} to {service}",
               external_url=f"https://{job.region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/services/{service}/deployments")
    deadline = job.labstack.clock.deadline(int(config.get("DeploymentTimeout") or 60) * 60)
    while not deadline.expired():
        try:
            deployment = _deployment_of(client, cluster, service, arn)
        except ClientError as exc:
            raise acting.failed_call(exc, "Amazon ECS", f"Could not describe the ECS service {service}") from None
        state = (deployment or {}).get("rolloutState")
        if state == "COMPLETED":
            job.update(summary=f"Deployed {arn.rsplit('/', 1)[-1]} to {service}")
            return {}
        if state == "FAILED":
            raise ActionFailed(f"The ECS deployment failed: {deployment.get('rolloutStateReason', '')}")
        job.wait(POLL_LAB_SECONDS)
    raise ActionFailed(f"The ECS service {service} did not reach a steady state within {config.get('DeploymentTimeout') or 60} minutes")


def _deployment_of(client: Any, cluster: str, service: str, task_definition: str) -> dict | None:
    described = client.describe_services(cluster=cluster, services=[service])["services"]
    for deployment in (described[0].get("deployments", []) if described else []):
        if deployment.get("taskDefinition") == task_definition:
            return deployment
    return None


def codedeploy_ecs(job: ActionJob) -> dict[str, str]:
    """Register taskdef.json (image placeholders filled), put its ARN into appspec.yaml at
    ``<TASK_DEFINITION>``, create a CodeDeploy deployment and wait for it to end."""
    config = job.configuration
    taskdef = _read(job, config["TaskDefinitionTemplateArtifact"], config.get("TaskDefinitionTemplatePath") or "taskdef.json").decode()
    appspec = _read(job, config["AppSpecTemplateArtifact"], config.get("AppSpecTemplatePath") or "appspec.yaml").decode()
    for index in range(1, 5):
        artifact = config.get(f"Image{index}ArtifactName")
        if not artifact:
            continue
        placeholder = config.get(f"Image{index}ContainerName") or f"IMAGE{index}_NAME"
        try:
            uri = json.loads(_read(job, artifact, "imageDetail.json"))["ImageURI"]
        except (ValueError, KeyError, TypeError):
            raise ActionFailed(f"imageDetail.json in {artifact} must be a JSON object with ImageURI", "ConfigurationError") from None
        taskdef = taskdef.replace(f"<{placeholder}>", uri)
    left = sorted(set(re.findall(r"<(IMAGE\d_NAME)>", taskdef)))
    if left:
        raise ActionFailed(f"The task definition still holds the placeholder <{left[0]}>: name the input artifact with "
                           f"imageDetail.json in Image1ArtifactName and the placeholder ({left[0]}) in Image1ContainerName",
                           "ConfigurationError")
    try:
        definition = json.loads(taskdef)
    except ValueError as exc:
        raise ActionFailed(f"The task definition file is not valid JSON: {exc}", "ConfigurationError") from None
    try:
        arn = _register(job.client("ecs"), definition)
    except ClientError as exc:
        raise acting.failed_call(exc, "Amazon ECS", "Error registering the task definition") from None
    appspec = appspec.replace("<TASK_DEFINITION>", arn)
    revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}}
    return _follow(job, _deploy(job, revision))


def _deploy(job: ActionJob, revision: dict, register: bool = False) -> str:
    """As the action's role: the application, the revision (registered when ``register``), a new
    deployment of it to the deployment group; its id."""
    config = job.configuration
    deploy = job.client("codedeploy")
    application, group = config["ApplicationName"], config["DeploymentGroupName"]
    try:
        deploy.get_application(applicationName=application)
        if register:
            deploy.register_application_revision(applicationName=application, revision=revision)
        return deploy.create_deployment(applicationName=application, deploymentGroupName=group,
                                        revision=revision)["deploymentId"]
    except ClientError as exc:
        raise acting.failed_call(exc, "CodeDeploy", "Error calling CodeDeploy") from None


def _follow(job: ActionJob, deployment_id: str) -> dict[str, str]:
    """Wait for a CodeDeploy deployment to end; fail the action unless it succeeded. CodePipeline reads
    it as the action's role (GetDeployment on its deployment group, GetDeploymentConfig on its config);
    labstack reads the state for it."""
    job.update(external_id=deployment_id,
               external_url=f"https://{job.region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}")
    named = {"deploymentId": deployment_id, "applicationName": job.configuration["ApplicationName"],
             "deploymentGroupName": job.configuration["DeploymentGroupName"]}
    failure = acting.insufficient("CodeDeploy")
    acting.authorize(job, "codedeploy", "GetDeployment", named, failure)
    deploy = job.own_client("codedeploy")
    info = deploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    acting.authorize(job, "codedeploy", "GetDeploymentConfig", {"deploymentConfigName": info.get("deploymentConfigName")},
                     failure)
    while True:
        info = deploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        status = info.get("status")
        if status in ("Succeeded", "Failed", "Stopped"):
            acting.authorize(job, "codedeploy", "GetDeployment", named, failure)
        if status == "Succeeded":
            job.update(summary=f"Deployment {deployment_id} succeeded")
            return {}
        if status in ("Failed", "Stopped"):
            reason = (info.get("errorInformation") or {}).get("message", "")
            raise ActionFailed(f"Deployment {deployment_id} {status.lower()}: {reason}".rstrip(": "))
        job.wait(POLL_LAB_SECONDS)


def codedeploy(job: ActionJob) -> dict[str, str]:
    """Deploy the input artifact (a zip in the artifact store) as an S3 revision to a deployment group."""
    where = job.execution.artifacts[job.input_names()[0]]
    revision = {"revisionType": "S3", "s3Location": {"bucket": where["bucket"], "key": where["key"], "bundleType": "zip"}}
    return _follow(job, _deploy(job, revision, register=True))


def s3(job: ActionJob) -> dict[str, str]:
    """Copy the input artifact into a bucket: extracted file by file, or as the zip itself."""
    config = job.configuration
    bucket, key = config["BucketName"], config.get("ObjectKey", "")
    data = job.input()
    client = job.client("s3")
    extra: dict[str, str] = {}
    if config.get("KMSEncryptionKeyARN"):
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config["KMSEncryptionKeyARN"]}
        acting.authorize(job, "kms", "GenerateDataKey", {"KeyId": config["KMSEncryptionKeyARN"]}, acting.artifact_store,
                         context={"kms:ViaService": f"s3.{job.region}.amazonaws.com"})
    if config.get("CannedACL"):
        extra["ACL"] = config["CannedACL"]
    if config.get("CacheControl"):
        extra["CacheControl"] = config["CacheControl"]
    try:
        if config["Extract"].lower() == "true":
            for name, body in zip_files(data, f"Input artifact {job.input_names()[0]}"):
                target = f"{key.strip('/')}/{name}" if key.strip("/") else name
                client.put_object(Bucket=bucket, Key=target, Body=body, **extra)
        else:
            if not key:
                raise ActionFailed("ObjectKey is required when Extract is false", "ConfigurationError")
            client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    except ClientError as exc:
        raise acting.failed_call(exc, "Amazon S3", f"Error writing to s3://{bucket}", acting.artifact_store) from None
    except ArchiveError as exc:
        raise ActionFailed(f"{exc}, so it cannot be extracted") from None
    job.update(summary=f"Deployed to s3://{bucket}/{key}".rstrip("/"))
    return {}
