"""The build cache: LOCAL (a directory per project on this machine) or S3 (a zip in a bucket).

Either way it holds the files under the buildspec's ``cache/paths`` that lie in the source
directory, restored into it in DOWNLOAD_SOURCE and saved in UPLOAD_ARTIFACTS.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from labstack.archives import ArchiveError, extract_zip, write_zip
from labstack.services.codebuild.artifacts import ArtifactError, select, walk
from labstack.services.codebuild.buildspec import Buildspec, FileSet
from labstack.services.codebuild.role import access_denied

if TYPE_CHECKING:
    from labstack.services.codebuild.logs import BuildLog

LOCAL_MODES = {"LOCAL_CUSTOM_CACHE", "LOCAL_SOURCE_CACHE"}


def _s3_place(cache: dict, project: str) -> tuple[str, str]:
    bucket, _, prefix = cache.get("location", "").partition("/")
    name = f"{cache.get('cacheNamespace') or project}-cache.zip"
    return bucket, f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


def _kind(cache: dict) -> str | None:
    if cache.get("type") == "LOCAL" and LOCAL_MODES & set(cache.get("modes") or []):
        return "LOCAL"
    return "S3" if cache.get("type") == "S3" else None


def restore(cache: dict, project: str, store: Path, src: Path, s3: Any, log: BuildLog) -> None:
    """Put the files an earlier build of the project cached back into the source."""
    kind = _kind(cache)
    if kind == "LOCAL" and store.is_dir():
        shutil.copytree(store, src, dirs_exist_ok=True)
        log.container(f"labstack: restored {sum(1 for _ in walk(store))} file(s) from the LOCAL cache")
    elif kind == "S3":
        bucket, key = _s3_place(cache, project)
        try:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:  # no cache yet (or the role may not read it): AWS carries on without it
            denied = access_denied(exc)
            log.container(f"labstack: the cache s3://{bucket}/{key} was not restored: {denied}" if denied
                          else f"labstack: no cache at s3://{bucket}/{key} yet")
            return
        try:
            extract_zip(data, src, f"the cache s3://{bucket}/{key}")
        except ArchiveError as exc:  # a cache is an optimisation: the build goes on without it
            log.container(f"labstack: the cache was not restored: {exc}")
            return
        log.container(f"labstack: restored the cache from s3://{bucket}/{key}")


def save(cache: dict, project: str, spec: Buildspec, store: Path, src: Path, s3: Any, log: BuildLog) -> None:
    """Keep the files under the buildspec's ``cache/paths`` (relative to the source) for the next build; an
    S3 cache the build's role may not write is not kept, and the build goes on (the log says why)."""
    kind = _kind(cache)
    if kind is None or not spec.cache_paths:
        return
    try:
        chosen = select(src, FileSet(files=[p for p in spec.cache_paths if not p.startswith("/")]))
    except ArtifactError:  # a link out of the source: nothing of it is cached
        return
    if kind == "LOCAL":
        if store.exists():
            shutil.rmtree(store)
        for path, rel in chosen:
            target = store / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        return
    data = io.BytesIO()
    bucket, key = _s3_place(cache, project)
    try:
        write_zip(chosen, data, f"the cache s3://{bucket}/{key}")
    except ArchiveError:  # past the zip caps: the next build starts without a cache, as after a miss
        return
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data.getvalue())
    except ClientError as exc:
        log.container(f"labstack: the cache was not saved to s3://{bucket}/{key}: {exc}")


def invalidate(cache: dict, project: str, store: Path, s3: Any) -> None:
    """InvalidateProjectCache: forget what earlier builds kept, so the next build starts cold. The LOCAL
    cache's directory goes; the S3 cache's zip is deleted by CodeBuild itself (``s3`` is labstack's
    client, not the service role's). A project without a cache has nothing to reset."""
    shutil.rmtree(store, ignore_errors=True)
    if _kind(cache) == "S3":
        bucket, key = _s3_place(cache, project)
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        except ClientError:  # no bucket (any more): there is no cache to reset
            pass
