"""Source actions: CodeCommit, CodeStarSourceConnection (the local GitHub), S3 and ECR.

Each fetches one revision (the one the execution was started for, or the latest) through
labstack's shared ``labstack.sources``, stores it as the output artifact and answers the
output variables AWS documents for its provider.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile

from botocore.exceptions import ClientError

from labstack import sources as shared
from labstack.errors import AwsError
from labstack.services.codepipeline import acting
from labstack.services.codepipeline.action_job import ActionFailed, ActionJob
from labstack.services.codepipeline.model import now

_CONNECTION = re.compile(r"^arn:aws[\w-]*:(?:codestar-connections|codeconnections):([\w-]+):(\d{12}):connection/([\w-]+)$")


def _pinned(job: ActionJob, kinds: tuple[str, ...]) -> str | None:
    """The revision the execution was started for (sourceRevisions or its trigger), if any."""
    pinned = job.execution.pinned.get(job.run.name)
    if pinned is None or pinned[0] not in kinds:
        return None
    return pinned[1]


def _record(job: ActionJob, revision: str, summary: str, url: str) -> None:
    """The execution's artifact revision and source revision for this source action."""
    artifact = job.output_names()[0]
    described = {"revisionSummary": summary[:2048]} if summary else {}
    with job.pipeline.cond:
        job.execution.revisions.append({"name": artifact, "revisionId": revision, "revisionChangeIdentifier": revision,
                                        "created": now(), "revisionUrl": url, **described})
        job.execution.source_revisions.append({"actionName": job.run.name, "revisionId": revision, "revisionUrl": url,
                                               **described})


def _iso(git_date: str) -> str:
    """A git date (``<epoch> <offset>``) as AWS writes dates in variables."""
    seconds = git_date.split(" ", 1)[0]
    if not seconds.isdigit():
        return ""
    return dt.datetime.fromtimestamp(int(seconds), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git_variables(revision: shared.SourceRevision, branch: str) -> dict[str, str]:
    meta = revision.metadata
    author = meta.get("author") or {}
    return {"CommitId": revision.revision, "CommitMessage": meta.get("message", ""), "BranchName": branch,
            "AuthorDate": _iso(str(author.get("date", ""))), "CommitterDate": _iso(str(author.get("date", "")))}


def _codecommit_allowed(job: ActionJob, name: str) -> None:
    """What the action does in CodeCommit as its role: the branch, the commit, and the archive of it."""
    def failure(sentence: str) -> ActionFailed:
        return ActionFailed(f"The service role or action role doesn't have the permissions required to access the AWS "
                            f"CodeCommit repository named {name}. Update the IAM role permissions, and then try again. "
                            f"Error: {sentence}")

    arn = f"arn:aws:codecommit:{job.region}:{job.account}:{name}"
    for operation in ("GetBranch", "GetCommit", "UploadArchive", "GetUploadArchiveStatus"):
        acting.authorize(job, "codecommit", operation, {"repositoryName": name}, failure, resource=arn)


def codecommit(job: ActionJob) -> dict[str, str]:
    """A CodeCommit repository at the pinned commit or its branch's head."""
    config = job.configuration
    name, branch = config["RepositoryName"], config["BranchName"]
    _codecommit_allowed(job, name)
    try:
        revision = shared.codecommit_revision(job.labstack, job.account, job.region, name,
                                              _pinned(job, ("COMMIT_ID",)) or branch)
    except AwsError as exc:
        raise ActionFailed(f"Could not fetch revision of {branch} from repository {name}: {exc.message}",
                           "ConfigurationError") from None
    url = (f"https://{job.region}.console.aws.amazon.com/codesuite/codecommit/repositories/{name}/commit/"
           f"{revision.revision}?region={job.region}")
    job.output(job.output_names()[0], revision.zip, revision.revision)
    _record(job, revision.revision, revision.metadata.get("message", ""), url)
    job.update(external_id=revision.revision, external_url=url, summary=revision.metadata.get("message") or None)
    return {**_git_variables(revision, branch), "RepositoryName": name}


def connection(job: ActionJob) -> dict[str, str]:
    """A repository of the local GitHub, through a CodeStar connection of the account."""
    from labstack.services.codeconnections.provider import connections_of

    config = job.configuration
    arn, repo, branch = config["ConnectionArn"], config["FullRepositoryId"], config["BranchName"]
    match = _CONNECTION.match(arn)
    found = (match and match.group(2) == job.account
             and connections_of(job.labstack).get(match.group(2), match.group(1)).get(match.group(3)))
    if not found:
        raise ActionFailed(f"Connection {arn} does not exist or is not available", "ConfigurationError")
    acting.authorize(job, arn.split(":")[2], "UseConnection", {"ConnectionArn": arn},
                     lambda sentence: ActionFailed(f"Unable to use Connection: {arn}. The provided role does not have "
                                                   f"sufficient permissions: {sentence}"),
                     resource=arn, context={f"{arn.split(':')[2]}:FullRepositoryId": repo})
    try:
        revision = shared.github_revision(job.labstack, repo, _pinned(job, ("COMMIT_ID",)) or branch, job.account)
    except AwsError as exc:
        raise ActionFailed(f"Could not fetch revision of {branch} from {repo}: {exc.message}", "ConfigurationError") from None
    url = f"https://github.com/{repo}/commit/{revision.revision}"
    message = revision.metadata.get("message", "")
    job.output(job.output_names()[0], revision.zip, revision.revision)
    _record(job, revision.revision, json.dumps({"ProviderType": "GitHub", "CommitMessage": message}), url)
    job.update(external_id=revision.revision, external_url=url, summary=message or None)
    return {**_git_variables(revision, branch), "ConnectionArn": arn, "FullRepositoryName": repo, "ProviderType": "GitHub"}


def s3(job: ActionJob) -> dict[str, str]:
    """A zip in a versioned S3 bucket, at the pinned version or its latest."""
    config = job.configuration
    bucket, key = config["S3Bucket"], config["S3ObjectKey"]
    override = _pinned(job, ("S3_OBJECT_KEY",))
    if override:
        if config.get("AllowOverrideForS3ObjectKey", "false").lower() != "true":
            raise ActionFailed("The S3 object key cannot be overridden unless AllowOverrideForS3ObjectKey is true",
                               "ConfigurationError")
        key = override
    version = _pinned(job, ("S3_OBJECT_VERSION_ID",))
    acting.authorize(job, "s3", "GetBucketVersioning", {"Bucket": bucket}, acting.artifact_store)
    acting.authorize(job, "s3", "GetObject", {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})},
                     acting.artifact_store)
    try:
        revision = shared.s3_revision(job.labstack, job.account, job.region, bucket, key, version)
    except AwsError as exc:
        raise ActionFailed(f"Could not read s3://{bucket}/{key}: {exc.message}", "ConfigurationError") from None
    url = f"https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={key}"
    job.output(job.output_names()[0], revision.zip, revision.revision)
    _record(job, revision.revision, f"Amazon S3 version id: {revision.metadata['versionId']}", url)
    job.update(external_id=revision.revision, external_url=url)
    return {"ETag": revision.metadata["etag"], "VersionId": revision.metadata["versionId"], "ObjectKey": key}


def ecr(job: ActionJob) -> dict[str, str]:
    """An image of an ECR repository (the pinned digest, or the one its tag names) as an
    artifact holding imageDetail.json."""
    config = job.configuration
    repository, tag = config["RepositoryName"], config.get("ImageTag") or "latest"
    digest = _pinned(job, ("IMAGE_DIGEST",))
    wanted = {"imageDigest": digest} if digest else {"imageTag": tag}
    try:
        image = job.client("ecr").describe_images(repositoryName=repository, imageIds=[wanted])["imageDetails"][0]
    except ClientError as exc:
        denied = acting.refused(exc, "Amazon ECR")
        if denied is not None:
            raise denied from None
        error = exc.response.get("Error", {})
        raise ActionFailed(f"Could not find image {wanted} in repository {repository}: {error.get('Code')}: "
                           f"{error.get('Message')}", "ConfigurationError") from None
    uri = f"{image['registryId']}.dkr.ecr.{job.region}.amazonaws.com/{repository}@{image['imageDigest']}"
    detail = {"ImageSizeInBytes": str(image.get("imageSizeInBytes", 0)), "ImageDigest": image["imageDigest"], "Version": "1.0",
              "ImagePushedAt": image["imagePushedAt"].strftime("%a %b %d %H:%M:%S UTC %Y") if image.get("imagePushedAt") else "",
              "RegistryId": image["registryId"], "RepositoryName": repository, "ImageURI": uri,
              "ImageTags": image.get("imageTags", [])}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("imageDetail.json", json.dumps(detail))
    job.output(job.output_names()[0], buffer.getvalue(), image["imageDigest"])
    _record(job, image["imageDigest"], f"Image {repository}:{tag}",
            f"https://{job.region}.console.aws.amazon.com/ecr/repositories/private/{image['registryId']}/{repository}")
    job.update(external_id=image["imageDigest"])
    return {"RegistryId": image["registryId"], "RepositoryName": repository, "ImageTag": tag,
            "ImageDigest": image["imageDigest"], "ImageURI": uri}
