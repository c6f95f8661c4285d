"""UPLOAD_ARTIFACTS: pick files by the buildspec's globs, package them, upload them."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from labstack.archives import ArchiveError, inside, write_zip
from labstack.services.codebuild.buildspec import Buildspec, FileSet

if TYPE_CHECKING:
    from labstack.services.codebuild.logs import BuildLog
    from labstack.services.codebuild.role import RoleSession
    from labstack.services.codebuild.runner import BuildJob


class ArtifactError(Exception):
    """Artifacts could not be produced (fails UPLOAD_ARTIFACTS with CLIENT_ERROR)."""


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A buildspec path glob as a regex: ``**`` spans directories, ``*`` and ``?`` do not."""
    out, i = [], 0
    pattern = pattern.removeprefix("./")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def walk(base: Path) -> Iterator[str]:
    """Paths of every file under ``base``, relative to it, in a stable order."""
    for root, dirs, files in os.walk(base):
        dirs.sort()
        rel = os.path.relpath(root, base)
        for name in sorted(files):
            yield name if rel == "." else f"{rel}/{name}"


def _resolved(src: Path, path: Path, shown: str) -> Path:
    """``path`` with its links resolved; ArtifactError if they lead out of the source directory."""
    if not inside(src, path):
        raise ArtifactError(f"{shown} is a symbolic link that leads out of the source directory")
    return Path(os.path.realpath(path))


def select(src: Path, files: FileSet) -> list[tuple[Path, str]]:
    """(file, name in the artifact) for every file the globs pick, in a stable order. A file
    reached by a symbolic link is its target, which must lie in the source directory."""
    base = (src / files.base_directory) if files.base_directory else src
    if not base.is_dir():
        return []
    base = _resolved(src, base, f"base-directory {files.base_directory}")
    include = [_glob_regex(p) for p in files.files]
    exclude = [_glob_regex(p) for p in files.exclude]
    picked: dict[str, Path] = {}
    for rel in walk(base):
        if any(r.match(rel) for r in include) and not any(r.match(rel) for r in exclude):
            name = rel.rsplit("/", 1)[-1] if files.discard_paths else rel
            path = base / rel
            if path.is_symlink():
                path = _resolved(src, path, rel)
                if not path.is_file():
                    continue  # a dangling link, or one to a folder: no file to ship
            picked.setdefault(name, path)
    return [(path, name) for name, path in picked.items()]


def package_zip(chosen: list[tuple[Path, str]], target: Path) -> Path:
    """Zip ``chosen`` into ``target``, within the zip caps."""
    try:
        write_zip(chosen, target, "the artifact")
    except ArchiveError as exc:
        raise ArtifactError(str(exc)) from None
    return target


def pipeline_artifact(src: Path, files: FileSet, target: Path) -> Path:
    """For CodePipeline (handed in by the pipeline engine): the artifact as one zip at ``target``."""
    chosen = select(src, files)
    if not chosen:
        raise ArtifactError("no matching artifact paths found")
    return package_zip(chosen, target)


def _digest(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _upload_one(job: BuildJob, declared: dict, files: FileSet, src: Path, role: RoleSession, log: BuildLog) -> dict[str, Any]:
    """Upload one artifact as ``declared`` (project artifacts) says, as the build's ``role``; its BuildArtifacts record."""
    record: dict[str, Any] = {}
    if declared.get("artifactIdentifier"):
        record["artifactIdentifier"] = declared["artifactIdentifier"]
    kind = declared["type"]
    if kind == "NO_ARTIFACTS":
        return record
    chosen = select(src, files)
    if not chosen:
        raise ArtifactError("no matching artifact paths found")
    if kind == "CODEPIPELINE":
        if job.pipeline_output is None:
            raise ArtifactError("CODEPIPELINE artifacts are only available to builds a pipeline starts")
        target = job.workspace / f"artifact-{declared.get('artifactIdentifier') or 'primary'}.zip"
        job.pipeline_output(declared.get("artifactIdentifier"), package_zip(chosen, target), role)
        return record
    bucket, s3 = declared.get("location", ""), role.client("s3")
    name = declared.get("name") or job.project["name"]
    if declared.get("overrideArtifactName") and files.name:
        name = files.name
    parts = [declared.get("path", "").strip("/")]
    if declared.get("namespaceType") == "BUILD_ID":
        parts.append(job.uuid)
    parts.append(name)
    key = "/".join(p for p in parts if p)
    try:
        if declared.get("packaging") == "ZIP":
            with tempfile.TemporaryDirectory(dir=job.workspace) as tmp:
                archive = package_zip(chosen, Path(tmp) / "artifact.zip")
                sha, md5 = _digest(archive)
                s3.upload_file(str(archive), bucket, key)
            record.update(sha256sum=sha, md5sum=md5)
        else:
            for path, rel in chosen:
                s3.upload_file(str(path), bucket, f"{key}/{rel}")
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        raise ArtifactError(f"error while uploading artifacts to s3://{bucket}/{key}: {exc}") from None
    log.container(f"Uploading {len(chosen)} artifact file(s) to s3://{bucket}/{key}")
    record["location"] = f"arn:aws:s3:::{bucket}/{key}"
    record["encryptionDisabled"] = bool(declared.get("encryptionDisabled", False))
    if declared.get("overrideArtifactName") is not None:
        record["overrideArtifactName"] = declared["overrideArtifactName"]
    return record


def upload(job: BuildJob, spec: Buildspec, src: Path, role: RoleSession, log: BuildLog) -> tuple[dict, list[dict]]:
    """Primary and secondary artifacts of a build, uploaded as its ``role``: their BuildArtifacts records."""
    declared = job.artifacts or {"type": "NO_ARTIFACTS"}
    primary: dict[str, Any] = {}
    if declared["type"] != "NO_ARTIFACTS":
        if spec.artifacts is None:
            raise ArtifactError("no artifacts section in the buildspec, but the project declares artifacts")
        primary = _upload_one(job, declared, spec.artifacts, src, role, log)
    secondary = []
    for extra in job.secondary_artifacts:
        ident = extra.get("artifactIdentifier", "")
        files = spec.secondary_artifacts.get(ident)
        if files is None:
            raise ArtifactError(f"secondary artifact {ident} is not in the buildspec's secondary-artifacts")
        secondary.append(_upload_one(job, extra, files, src, role, log))
    return primary, secondary
