"""DOWNLOAD_SOURCE: put a build's source in its workspace and find its buildspec."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BUILDSPEC = "buildspec.yml"


class SourceError(Exception):
    """The source could not be fetched; ``code`` is the phase context's status code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Fetched:
    """What DOWNLOAD_SOURCE learnt: the resolved version (if any)."""

    resolved_version: str | None = None


def fetch(source: dict, version: str | None, dest: Path, s3: Any, pipeline_input: Path | None = None) -> Fetched:
    """Fill ``dest`` from ``source`` (NO_SOURCE, S3, or CODEPIPELINE's handed-in input)."""
    kind = source["type"]
    if kind == "NO_SOURCE":
        return Fetched()
    if kind == "S3":
        return _fetch_s3(source.get("location", ""), version, dest, s3)
    if kind == "CODEPIPELINE":
        if pipeline_input is None:
            raise SourceError("CLIENT_ERROR", "CODEPIPELINE sources are only available to builds a pipeline starts")
        _unpack(pipeline_input, dest) if pipeline_input.is_file() else shutil.copytree(pipeline_input, dest, dirs_exist_ok=True)
        return Fetched()
    raise SourceError("CLIENT_ERROR", f"labstack cannot fetch {kind} sources yet")


def _fetch_s3(location: str, version: str | None, dest: Path, s3: Any) -> Fetched:
    bucket, _, key = location.partition("/")
    if not bucket or not key:
        raise SourceError("CLIENT_ERROR", f"invalid S3 source location {location!r}: expected bucket/key")
    args = {"Bucket": bucket, "Key": key}
    if version:
        args["VersionId"] = version
    try:
        obj = s3.get_object(**args)
    except Exception as exc:  # NoSuchKey, NoSuchBucket, AccessDenied: all a client error for the build
        raise SourceError("CLIENT_ERROR", f"error while downloading source s3://{location}: {exc}") from None
    archive = dest.parent / "source.zip"
    with archive.open("wb") as out:
        shutil.copyfileobj(obj["Body"], out, 1024 * 1024)
    _unpack(archive, dest)
    archive.unlink()
    return Fetched(resolved_version=obj.get("VersionId") or None)


def _unpack(archive: Path, dest: Path) -> None:
    """Extract a zip into ``dest``, refusing members that would land outside it."""
    root = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                target = (root / member.filename).resolve()
                if root != target and root not in target.parents:
                    raise SourceError("CLIENT_ERROR", f"zip member {member.filename!r} points outside the source directory")
                zf.extract(member, root)
                mode = member.external_attr >> 16
                if mode and not member.is_dir():
                    target.chmod(mode & 0o777 or 0o644)
    except zipfile.BadZipFile as exc:
        raise SourceError("CLIENT_ERROR", f"source is not a zip archive: {exc}") from None


def buildspec_text(declared: str | None, src: Path) -> str:
    """The buildspec: inline YAML, or a file in the source (``buildspec.yml`` by default)."""
    if declared and ("\n" in declared or not declared.strip().endswith((".yml", ".yaml"))):
        return declared
    path = (src / (declared or DEFAULT_BUILDSPEC).strip()).resolve()
    if src.resolve() not in path.parents or not path.is_file():
        raise SourceError("YAML_FILE_ERROR", f"YAML file does not exist: {declared or DEFAULT_BUILDSPEC}")
    return path.read_text(errors="replace")
