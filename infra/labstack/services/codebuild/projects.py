"""Build projects: AWS's checks on create/update and the defaults AWS fills in."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from labstack.context import RequestContext
from labstack.errors import AwsError

ROLE_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
# Request members that are not Project members, or are spelt differently on the project.
_NOT_STORED = {"badgeEnabled"}


def invalid(message: str) -> AwsError:
    return AwsError("InvalidInputException", message)


def check_role(ctx: RequestContext, role: str) -> None:
    """A service role must be an IAM role ARN (a role name alone is resolved in the caller's account)."""
    match = ROLE_ARN.match(role)
    if match is None:
        raise invalid(f"Invalid service role: {role} is not a valid IAM role ARN "
                      "(arn:aws:iam::<account-id>:role/<role-name>)")
    if match.group(1) != ctx.account:
        raise invalid(f"Invalid service role: Service role account ID does not match caller's account: {role}")


def check(ctx: RequestContext, project: dict[str, Any]) -> None:
    """AWS's cross-field rules for a project (after defaults and updates are applied)."""
    check_role(ctx, project["serviceRole"])
    source, artifacts = project["source"], project["artifacts"]
    if source["type"] == "NO_SOURCE" and not source.get("buildspec"):
        raise invalid("Project source buildspec cannot be empty when source type is NO_SOURCE")
    if source["type"] in ("S3", "CODECOMMIT", "GITHUB", "BITBUCKET", "GITHUB_ENTERPRISE", "GITLAB") and not source.get("location"):
        raise invalid(f"Project source location is required for source type {source['type']}")
    if (source["type"] == "CODEPIPELINE") != (artifacts["type"] == "CODEPIPELINE"):
        raise invalid("Both source and artifacts must be set to CodePipeline")
    for declared in [artifacts, *project.get("secondaryArtifacts", [])]:
        if declared["type"] == "S3" and not declared.get("location"):
            raise invalid("Project artifacts location is required for artifacts type S3")
    for declared in project.get("secondaryArtifacts", []):
        if not declared.get("artifactIdentifier"):
            raise invalid("Secondary artifacts must have an artifactIdentifier")
    for var in project["environment"].get("environmentVariables", []):
        if var["name"].startswith("CODEBUILD_"):
            raise invalid(f"Invalid environment variable name {var['name']}: names starting with CODEBUILD_ are reserved")
    cache = project.get("cache", {})
    if cache.get("type") == "S3" and not cache.get("location"):
        raise invalid("Project cache location is required for cache type S3")
    check_batch_config(ctx, project.get("buildBatchConfig"))


def check_batch_config(ctx: RequestContext, config: dict[str, Any] | None) -> None:
    """AWS's rules for a buildBatchConfig (the project's, or StartBuildBatch's override)."""
    if not config:
        return
    if config.get("serviceRole"):
        check_role(ctx, config["serviceRole"])
    restrictions = config.get("restrictions") or {}
    if restrictions.get("maximumBuildsAllowed") is not None and restrictions["maximumBuildsAllowed"] < 1:
        raise invalid("buildBatchConfig.restrictions.maximumBuildsAllowed must be at least 1")
    if config.get("timeoutInMins") is not None and config["timeoutInMins"] < 1:
        raise invalid("buildBatchConfig.timeoutInMins must be at least 1")


def new(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A project from a CreateProject request, with AWS's defaults."""
    now = dt.datetime.now(dt.timezone.utc)
    project = {k: v for k, v in request.items() if k not in _NOT_STORED}
    project.update(
        arn=ctx.arn("codebuild", f"project/{request['name']}"),
        created=now,
        lastModified=now,
        badge={"badgeEnabled": bool(request.get("badgeEnabled", False))},
        projectVisibility="PRIVATE",
    )
    project.setdefault("timeoutInMinutes", 60)
    project.setdefault("queuedTimeoutInMinutes", 480)
    project.setdefault("encryptionKey", ctx.arn("kms", "alias/aws/s3"))
    project.setdefault("cache", {"type": "NO_CACHE"})
    project.setdefault("logsConfig", {})
    _fill_defaults(project)
    return project


def update(project: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """``project`` with the members ``request`` sets replaced (as UpdateProject does)."""
    changed = {**project, **{k: v for k, v in request.items() if k not in _NOT_STORED and k != "name"}}
    if "badgeEnabled" in request:
        changed["badge"] = {"badgeEnabled": request["badgeEnabled"]}
    changed["lastModified"] = dt.datetime.now(dt.timezone.utc)
    _fill_defaults(changed)
    return changed


def _fill_defaults(project: dict[str, Any]) -> None:
    env = project["environment"]
    env.setdefault("privilegedMode", False)
    env.setdefault("imagePullCredentialsType", "CODEBUILD")
    env.setdefault("environmentVariables", [])
    for var in env["environmentVariables"]:
        var.setdefault("type", "PLAINTEXT")
    project["source"].setdefault("insecureSsl", False)
    logs = project["logsConfig"]
    logs.setdefault("cloudWatchLogs", {"status": "ENABLED"})
    logs.setdefault("s3Logs", {"status": "DISABLED", "encryptionDisabled": False})
