"""The sample app (infra/sample-app) in tests: a copy at any release, CodeBuild projects that
build it from its own buildspecs, its image pushed to ECR, and its answers behind a listener."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from labstack.images.build import Builder
from labstack.images.layout import LocalImages
from labstack.images.registry import login, push
from labstack.traffic import one

from tests.support.codebuild import ENVIRONMENT, Lab
from tests.support.server import ROOT, LabstackProcess

APP = ROOT / "infra" / "sample-app"
RELEASES = ("v1", "v2", "v3")
_LEFTOVERS = shutil.ignore_patterns("__pycache__", ".coverage", "reports", ".pytest_cache")


def app_copy(folder: Path, release: str = "v1") -> Path:
    """The sample app copied to ``folder``, with the release patches up to ``release`` applied
    (as a lab ships them: ``git apply releases/vN.patch``)."""
    shutil.copytree(APP, folder, ignore=_LEFTOVERS)
    for patch in RELEASES[1:RELEASES.index(release) + 1]:
        subprocess.run(["git", "apply", f"releases/{patch}.patch"], cwd=folder, check=True, capture_output=True)
    return folder


def zipped(folder: Path) -> bytes:
    """``folder``'s files as a zip, the way a source bucket holds them."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return data.getvalue()


def push_app_image(labstack: LabstackProcess, account: str, folder: Path, uri: str) -> str:
    """Build the app in ``folder`` with its Dockerfile and push it to ``uri`` (its repository
    must exist); returns the image digest."""
    images = LocalImages(folder.parent / f"{folder.name}-images")
    Builder(folder, folder / "Dockerfile", images, log=lambda line: None).build([uri])
    login(images, uri.split("/")[0], "AWS", "token")
    return push(images, uri, log=lambda line: None, client=labstack.client("ecr", account=account))


def source_project(lab: Lab, name: str, spec: str, folder: Path, environment: dict[str, Any] | None = None,
                   artifacts: dict[str, Any] | None = None, **extra: Any) -> None:
    """A project building ``folder`` (zipped in S3) with its buildspec file ``spec``; ``environment``
    adds to a standard Linux one, and there are no artifacts unless ``artifacts`` says so."""
    s3 = lab.client("s3")
    bucket = f"src-{lab.account}"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{name}.zip", Body=zipped(folder))
    lab.codebuild.create_project(name=name, serviceRole=lab.role, source={"type": "S3", "location": f"{bucket}/{name}.zip", "buildspec": spec},
                                 environment={**ENVIRONMENT, **(environment or {})},
                                 artifacts=artifacts or {"type": "NO_ARTIFACTS"}, **extra)


def listener_url(labstack: LabstackProcess, listener_arn: str) -> str:
    """The local URL a load-balancer listener answers on."""
    with urllib.request.urlopen(labstack.endpoint + "/_labstack/endpoints", timeout=10) as answer:
        endpoints = json.loads(answer.read())["endpoints"]
    return next(e["url"] for e in endpoints if e["listenerArn"] == listener_arn)


def answer(url: str) -> tuple[int, str] | None:
    """(status, version) of ``GET url/``; None while nothing answers or no target is healthy (503)."""
    try:
        status, version = one(url + "/")
    except OSError:
        return None
    return None if status == 503 else (status, version)
