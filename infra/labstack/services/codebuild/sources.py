"""DOWNLOAD_SOURCE: put a build's source in its workspace and find its buildspec.

The revisions themselves come from labstack's shared ``labstack.sources`` (S3 objects,
CodeCommit and local-GitHub repositories), the same place the pipeline engine reads them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

from labstack import sources as shared
from labstack.archives import ArchiveError, extract_zip
from labstack.errors import AwsError

if TYPE_CHECKING:
    from labstack.instance import Labstack
    from labstack.services.codebuild.role import RoleSession

DEFAULT_BUILDSPEC = "buildspec.yml"
_CODECOMMIT_URL = re.compile(r"^https://git-codecommit\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/v1/repos/([^/]+?)/?$")
_GITHUB_URL = re.compile(r"^https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$")
# What the pipeline engine hands a build as its CODEPIPELINE source: the input itself (a zip or a folder), or
# a reader of the input artifact the build calls with its role session in DOWNLOAD_SOURCE (as CodeBuild
# downloads it from the artifact store with the project's service role); the reader raises SourceError.
PipelineInput = Union[Path, Callable[["RoleSession"], bytes]]


class SourceError(Exception):
    """The source could not be fetched; ``code`` is the phase context's status code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Fetched:
    """What DOWNLOAD_SOURCE learnt: the resolved version (commit id, S3 version id), if any."""

    resolved_version: str | None = None


def fetch(labstack: Labstack, account: str, region: str, source: dict, version: str | None, dest: Path,
          role: RoleSession, pipeline_input: PipelineInput | None = None) -> Fetched:
    """Fill ``dest`` from ``source``: NO_SOURCE, S3, CODECOMMIT, GITHUB (the local GitHub) or
    CODEPIPELINE (the input the pipeline engine handed in, or read with its reader, at the revision ``version``
    it names). An S3 object is read, a CodeCommit repository pulled and a pipeline's artifact read as the
    build's ``role`` session."""
    kind, location = source["type"], source.get("location", "")
    if kind == "NO_SOURCE":
        return Fetched()
    if kind == "CODEPIPELINE":
        if pipeline_input is None:
            raise SourceError("CLIENT_ERROR", "CODEPIPELINE sources are only available to builds a pipeline starts")
        if callable(pipeline_input):
            _unpack(pipeline_input(role), dest)
        elif pipeline_input.is_file():
            _unpack(pipeline_input.read_bytes(), dest)
        else:
            shutil.copytree(pipeline_input, dest, dirs_exist_ok=True, symlinks=True)  # links stay links, never followed out
        return Fetched(resolved_version=version)  # the source revision the pipeline handed over, if any
    try:
        if kind == "S3":
            bucket, _, key = location.partition("/")
            if not bucket or not key:
                raise SourceError("CLIENT_ERROR", f"invalid S3 source location {location!r}: expected bucket/key")
            revision = shared.s3_revision(labstack, account, region, bucket, key, version, role.client("s3"))
            resolved = revision.metadata.get("versionId")
            resolved = None if resolved in (None, "null") else resolved
        elif kind == "CODECOMMIT":
            match = _CODECOMMIT_URL.match(location)
            repository = match.group(1) if match else location.rsplit("/", 1)[-1]
            refused = role.denial("codecommit:GitPull", f"arn:aws:codecommit:{region}:{account}:{repository}",
                                  "codebuild.DOWNLOAD_SOURCE")
            if refused:
                raise SourceError("CLIENT_ERROR", f"Error while downloading source {location}: git fetch failed: "
                                  f"unable to access '{location}/': The requested URL returned error: 403: {refused}")
            revision = shared.codecommit_revision(labstack, account, region, repository, _git_spec(version))
            resolved = revision.revision
        elif kind == "GITHUB":
            full_id = github_repository(location)
            if full_id is None:
                raise SourceError("CLIENT_ERROR", f"invalid GitHub source location {location!r}: expected https://github.com/owner/repo")
            revision = shared.github_revision(labstack, full_id, _git_spec(version) or "HEAD", account)
            resolved = revision.revision
        else:
            raise SourceError("CLIENT_ERROR", f"labstack cannot fetch {kind} sources")
    except AwsError as exc:
        raise SourceError("CLIENT_ERROR", f"error while downloading source {location}: {exc.code}: {exc.message}") from None
    _unpack(revision.zip, dest)
    return Fetched(resolved_version=resolved)


def github_repository(location: str) -> str | None:
    """``owner/repo`` of a GitHub source location (``https://github.com/owner/repo[.git]``), or None."""
    match = _GITHUB_URL.match(location)
    return match.group(1) if match else None


def _git_spec(version: str | None) -> str | None:
    """A git sourceVersion (commit id, branch, tag, ``refs/...``; ``pr/N`` is not served)."""
    if not version:
        return None
    return version.split("^{", 1)[0]


def _unpack(data: bytes, dest: Path) -> None:
    """Extract a source zip into ``dest``, within the zip caps and confined to it."""
    try:
        extract_zip(data, dest, "the source zip")
    except ArchiveError as exc:
        raise SourceError("CLIENT_ERROR", str(exc)) from None


def buildspec_text(declared: str | None, src: Path) -> str:
    """The buildspec: inline YAML, or a file in the source (``buildspec.yml`` by default)."""
    if declared and ("\n" in declared or not declared.strip().endswith((".yml", ".yaml"))):
        return declared
    path = (src / (declared or DEFAULT_BUILDSPEC).strip()).resolve()
    if src.resolve() not in path.parents or not path.is_file():
        raise SourceError("YAML_FILE_ERROR", f"YAML file does not exist: {declared or DEFAULT_BUILDSPEC}")
    return path.read_text(errors="replace")
