"""AWS::CodeCommit::Repository, made through CodeCommit's own API.

Ref is the repository's ID (its physical id); Fn::GetAtt Arn, CloneUrlHttp, CloneUrlSsh and Name.
``Code.S3`` names a zip in S3: it is read as the stack's principal, unpacked within labstack's archive
caps (no absolute names, no ``..``, links inside the tree) and committed as the repository's first commit
on ``Code.BranchName`` (default ``main``) with one CreateCommit, so the commit is the API's own (events,
change feed, triggers). As AWS documents, Code is used at creation only: later changes to it are not
applied. ``Triggers`` are PutRepositoryTriggers'. A RepositoryName change renames in place
(UpdateRepositoryName: the ID, and so Ref, stays).
"""

from __future__ import annotations

import stat
from typing import Any

from botocore.exceptions import ClientError

from labstack import archives
from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result
from labstack.services.cloudformation.types.common import gone, refuse, tag_changes

DEFAULT_BRANCH = "main"
INITIAL_MESSAGE = "Initial commit"
_NOT_REPOSITORY = ("Code", "Triggers", "KmsKeyId")
_UNSUPPORTED = ("KmsKeyId",)  # labstack's CodeCommit keeps repositories on disk unencrypted, with no KMS key
_GONE = ("RepositoryDoesNotExistException",)


class Repository(ResourceType):
    """AWS::CodeCommit::Repository."""

    type_name = "AWS::CodeCommit::Repository"

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, _UNSUPPORTED)
        codecommit = ctx.client("codecommit")
        request = to_api("codecommit", "CreateRepository", props, drop=_NOT_REPOSITORY)
        meta = codecommit.create_repository(**request)["repositoryMetadata"]
        name = meta["repositoryName"]
        try:
            if props.get("Code"):
                _initial_commit(ctx, name, props["Code"])
            if props.get("Triggers"):
                codecommit.put_repository_triggers(repositoryName=name, triggers=_triggers(props["Triggers"]))
        except (ClientError, HandlerError):
            codecommit.delete_repository(repositoryName=name)  # the stack does not know it yet: leave nothing
            raise
        return _result(ctx, meta)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        refuse(self.type_name, new, _UNSUPPORTED)
        codecommit = ctx.client("codecommit")
        name = old["RepositoryName"]
        if new["RepositoryName"] != name:
            codecommit.update_repository_name(oldName=name, newName=new["RepositoryName"])
            name = new["RepositoryName"]
        if old.get("RepositoryDescription") != new.get("RepositoryDescription"):
            codecommit.update_repository_description(repositoryName=name,
                                                     repositoryDescription=new.get("RepositoryDescription") or "")
        if old.get("Triggers") != new.get("Triggers"):
            codecommit.put_repository_triggers(repositoryName=name, triggers=_triggers(new.get("Triggers") or []))
        meta = codecommit.get_repository(repositoryName=name)["repositoryMetadata"]
        tags, removed = tag_changes(old, new)
        if tags:
            codecommit.tag_resource(resourceArn=meta["Arn"], tags={t["Key"]: t["Value"] for t in tags})
        if removed:
            codecommit.untag_resource(resourceArn=meta["Arn"], tagKeys=removed)
        return _result(ctx, meta)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        meta = _live(ctx, physical_id, props)
        if meta is not None:
            ctx.client("codecommit").delete_repository(repositoryName=meta["repositoryName"])

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        meta = _live(ctx, physical_id, props)
        if meta is None:
            return None
        codecommit = ctx.client("codecommit")
        live = from_api("codecommit", "RepositoryMetadata", meta,
                        {k: v for k, v in props.items() if k not in ("Code", "Triggers", "Tags")})
        if "RepositoryDescription" in props and "RepositoryDescription" not in live:
            live["RepositoryDescription"] = ""
        if "Triggers" in props:
            triggers = codecommit.get_repository_triggers(repositoryName=meta["repositoryName"]).get("triggers", [])
            live["Triggers"] = from_api("codecommit", "GetRepositoryTriggersOutput", {"triggers": triggers},
                                        {"Triggers": props["Triggers"]})["Triggers"]
        if "Tags" in props:
            tags = codecommit.list_tags_for_resource(resourceArn=meta["Arn"]).get("tags", {})
            live["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if "Code" in props:  # write-only: used at creation, never read back
            live["Code"] = props["Code"]
        return live


def _result(ctx: Context, meta: dict) -> Result:
    name = meta["repositoryName"]
    ssh = meta.get("cloneUrlSsh") or f"ssh://git-codecommit.{ctx.region}.amazonaws.com/v1/repos/{name}"
    return Result(meta["repositoryId"], {"Arn": meta["Arn"], "CloneUrlHttp": meta["cloneUrlHttp"],
                                         "CloneUrlSsh": ssh, "Name": name})


def _live(ctx: Context, physical_id: str, props: dict) -> dict | None:
    """The metadata of the repository whose ID is ``physical_id``: the one the template names, else (renamed
    outside the stack) the one listed with that ID; None when it no longer exists."""
    codecommit = ctx.client("codecommit")
    meta = _metadata(codecommit, props.get("RepositoryName"))
    if meta is not None and meta["repositoryId"] == physical_id:
        return meta
    for page in codecommit.get_paginator("list_repositories").paginate():
        for listed in page.get("repositories", []):
            if listed.get("repositoryId") == physical_id:
                return _metadata(codecommit, listed["repositoryName"])
    return None


def _metadata(codecommit: Any, name: str | None) -> dict | None:
    """GetRepository's metadata of ``name``, None when there is no such repository."""
    if not name:
        return None
    try:
        return codecommit.get_repository(repositoryName=name)["repositoryMetadata"]
    except ClientError as error:
        if gone(error, *_GONE):
            return None
        raise


def _triggers(triggers: list[dict]) -> list[dict]:
    return to_api("codecommit", "PutRepositoryTriggers", {"Triggers": triggers})["triggers"]


def _initial_commit(ctx: Context, name: str, code: dict) -> None:
    """Commit the zip ``Code.S3`` names as the repository's first commit on ``Code.BranchName``."""
    s3 = code.get("S3") or {}
    if not s3.get("Bucket") or not s3.get("Key"):
        raise HandlerError("Code.S3 needs Bucket and Key: the zip of the repository's initial code")
    where = f"Code.S3 (s3://{s3['Bucket']}/{s3['Key']})"
    request: dict[str, Any] = {"Bucket": s3["Bucket"], "Key": s3["Key"]}
    if s3.get("ObjectVersion"):
        request["VersionId"] = s3["ObjectVersion"]
    answer = ctx.client("s3").get_object(**request)
    cap = archives.ZIP_MAX_BYTES  # the zip itself may be no larger than what it may unpack to
    if answer["ContentLength"] > cap.limit:
        answer["Body"].close()
        raise HandlerError(f"{where} is {answer['ContentLength']} bytes, more than labstack's cap of {cap.limit} "
                           f"({cap.setting} raises it)")
    data = answer["Body"].read(cap.limit + 1)
    try:
        files = _zip_entries(data, where)
    except archives.ArchiveError as error:
        raise HandlerError(str(error)) from None
    if not files:
        raise HandlerError(f"{where} holds no files to commit")
    ctx.client("codecommit").create_commit(repositoryName=name, branchName=code.get("BranchName") or DEFAULT_BRANCH,
                                           commitMessage=INITIAL_MESSAGE, putFiles=files)


def _zip_entries(data: bytes, what: str) -> list[dict]:
    """The files of a zip as CreateCommit ``putFiles`` (mode from each member's permission bits)."""
    with archives.open_zip(data, what) as archive:
        modes = {m.filename: m.external_attr >> 16 for m in archive.infolist()}
    entries = []
    for member, content in archives.zip_files(data, what):
        path = archives.relative_name(member, what)
        if not path:
            continue
        mode = modes.get(member, 0)
        if stat.S_ISLNK(mode):
            raise archives.ArchiveError(f"{what}: member {path!r} is a symbolic link; the initial commit takes files only")
        kind = "EXECUTABLE" if mode & 0o111 else "NORMAL"
        entries.append({"filePath": path, "fileContent": content, "fileMode": kind})
    return entries


TYPES: list[ResourceType] = [Repository()]
