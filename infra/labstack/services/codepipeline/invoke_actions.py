"""Actions run by someone else through the job worker API: Invoke Lambda (the function gets
the job in its event and answers with PutJobSuccessResult or PutJobFailureResult) and custom
action types (a worker polls for the job)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from labstack.services.codepipeline import acting
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed, ActionJob
from labstack.services.codepipeline.action_types import type_key
from labstack.services.codepipeline.artifacts import object_key
from labstack.services.codepipeline.jobs import Job

JOB_TIMEOUT_LAB_SECONDS = 3600  # a job nobody answers fails after an hour
TICK = 0.05


def job_data(job: ActionJob, continuation: str | None = None) -> dict[str, Any]:
    """The ``JobData`` of one action execution."""
    decl = job.declaration
    store = job.store

    def artifact(name: str, where: dict | None) -> dict:
        shown: dict[str, Any] = {"name": name}
        if where:
            shown["location"] = {"type": "S3", "s3Location": {"bucketName": where["bucket"], "objectKey": where["key"]}}
            if where.get("revision"):
                shown["revision"] = where["revision"]
        return shown

    outputs = [artifact(name, {"bucket": store["location"], "key": object_key(job.pipeline.name, name)})
               for name in job.output_names()]
    data: dict[str, Any] = {
        "actionTypeId": dict(decl["actionTypeId"]),
        "actionConfiguration": {"configuration": dict(job.configuration)},
        "pipelineContext": {"pipelineName": job.pipeline.name, "stage": {"name": job.run.stage},
                            "action": {"name": job.run.name, "actionExecutionId": job.run.action_execution_id},
                            "pipelineArn": job.pipeline.arn, "pipelineExecutionId": job.execution.execution_id},
        "inputArtifacts": [artifact(n, job.execution.artifacts.get(n)) for n in job.input_names()],
        "outputArtifacts": outputs,
        "artifactCredentials": _artifact_credentials(job),
    }
    if store.get("encryptionKey"):
        data["encryptionKey"] = dict(store["encryptionKey"])
    if continuation:
        data["continuationToken"] = continuation
    return data


def _artifact_credentials(job: ActionJob) -> dict[str, str]:
    """Temporary keys for the artifact store, as CodePipeline hands a job them: a session of the
    pipeline's role, ended with the action."""
    issued = acting.worker_session(job, job.run.action_execution_id)
    return {"accessKeyId": issued.access_key, "secretAccessKey": issued.secret_key, "sessionToken": issued.session_token or ""}


def _await(job: ActionJob, worker_job: Job) -> dict[str, str]:
    """Wait for the worker's answer; the output variables of a success."""
    deadline = job.labstack.clock.deadline(JOB_TIMEOUT_LAB_SECONDS)
    while not worker_job.done.wait(TICK):
        if job.cancel.is_set():
            raise Abandoned()
        if deadline.expired():
            job.provider.jobs.expire(worker_job)
            raise ActionFailed(f"Job {worker_job.job_id} timed out: no worker answered within an hour")
    result = worker_job.result
    details = result.get("executionDetails") or {}
    job.update(summary=details.get("summary"), external_id=details.get("externalExecutionId") or job.run.external_id,
               percent=details.get("percentComplete"))
    if worker_job.status != "Succeeded":
        failure = result.get("failureDetails", {})
        raise ActionFailed(failure.get("message", "The job failed"), failure.get("type", "JobFailed"))
    for artifact in worker_job.data["outputArtifacts"]:
        where = artifact["location"]["s3Location"]
        with job.pipeline.cond:
            job.execution.artifacts[artifact["name"]] = {"bucket": where["bucketName"], "key": where["objectKey"], "revision": None}
            job.run.output_artifacts.append({"name": artifact["name"],
                                             "s3location": {"bucket": where["bucketName"], "key": where["objectKey"]}})
    return dict(result.get("outputVariables") or {})


def _run_jobs(job: ActionJob, dispatch: Any) -> dict[str, str]:
    """Create jobs until one ends without a continuation token."""
    continuation = None
    while True:
        worker_job = job.provider.jobs.add(job.region, Job(job.account, type_key(job.declaration["actionTypeId"]),
                                                          job_data(job, continuation)))
        if job.run.external_id is None:
            job.update(external_id=worker_job.job_id)
        dispatch(worker_job)
        variables = _await(job, worker_job)
        continuation = worker_job.result.get("continuationToken")
        if not continuation:
            return variables


def lambda_function(job: ActionJob) -> dict[str, str]:
    """Invoke the function asynchronously with the ``CodePipeline.job`` event."""
    function = job.configuration["FunctionName"]

    def invoke(worker_job: Job) -> None:
        event = {"CodePipeline.job": {"id": worker_job.job_id, "accountId": job.account, "data": worker_job.data}}
        if job.configuration.get("UserParameters"):
            event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = job.configuration["UserParameters"]
        try:
            job.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
        except ClientError as exc:
            denied = acting.refused(exc, "AWS Lambda")
            if denied is not None:
                raise denied from None
            error = exc.response.get("Error", {})
            raise ActionFailed(f"Error invoking Lambda function {function}: {error.get('Code')}: {error.get('Message')}",
                               "ConfigurationError") from None
        job.update(external_url=f"https://{job.region}.console.aws.amazon.com/lambda/home?region={job.region}#/functions/{function}")

    return _run_jobs(job, invoke)


def custom(job: ActionJob) -> dict[str, str]:
    """Queue the job for a worker that polls for this action type."""
    return _run_jobs(job, lambda worker_job: None)
