"""ECR keeps what is pushed: layers stored for real, served by URL, manifests checked."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.responses import check_responses
from tests.support.server import LabstackProcess

ACCOUNT = "369036903690"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"print('hello from the image')\n"
        info = tarfile.TarInfo("app/app.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload(ecr: Any, repository: str, blob: bytes, part: int = 40) -> str:
    """What `docker push` does for one blob: initiate, parts in order, complete."""
    upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    for first in range(0, len(blob), part):
        ecr.upload_layer_part(repositoryName=repository, uploadId=upload_id, partFirstByte=first,
                              partLastByte=min(len(blob), first + part) - 1, layerPartBlob=blob[first:first + part])
    return ecr.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest(blob)])["layerDigest"]


@pytest.fixture(scope="module")
def ecr(labstack: LabstackProcess) -> Any:
    client = check_responses(labstack.client("ecr", account=ACCOUNT))
    client.create_repository(repositoryName="app")
    return client


def test_pushed_layers_are_kept_and_served_back(ecr: Any) -> None:
    blob = layer()
    assert upload(ecr, "app", blob) == digest(blob)
    available = ecr.batch_check_layer_availability(repositoryName="app", layerDigests=[digest(blob)])["layers"]
    assert available[0]["layerAvailability"] == "AVAILABLE" and available[0]["layerSize"] == len(blob)
    url = ecr.get_download_url_for_layer(repositoryName="app", layerDigest=digest(blob))["downloadUrl"]
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == blob and response.headers["Docker-Content-Digest"] == digest(blob)


def test_an_image_is_its_manifest_over_uploaded_blobs(ecr: Any) -> None:
    blob = layer()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["python", "app/app.py"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest(blob)]}}).encode()
    upload(ecr, "app", blob)
    upload(ecr, "app", config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(blob), "size": len(blob)}]})
    image = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")["image"]
    assert image["imageId"] == {"imageDigest": digest(manifest.encode()), "imageTag": "v1"}
    described = ecr.describe_images(repositoryName="app")["imageDetails"][0]
    assert described["imageTags"] == ["v1"] and described["imageDigest"] == digest(manifest.encode())
    fetched = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])["images"][0]
    assert json.loads(fetched["imageManifest"])["layers"][0]["digest"] == digest(blob)


def test_a_manifest_naming_missing_layers_is_refused(ecr: Any) -> None:
    ghost = "sha256:" + "0" * 64
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ghost, "size": 1},
                           "layers": []})
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="broken")
    assert info.value.response["Error"]["Code"] == "LayersNotFoundException"
    with pytest.raises(ClientError) as info:
        ecr.get_download_url_for_layer(repositoryName="app", layerDigest=ghost)
    assert info.value.response["Error"]["Code"] == "LayersNotFoundException"


def test_a_digest_that_does_not_match_the_bytes_is_refused(ecr: Any) -> None:
    upload_id = ecr.initiate_layer_upload(repositoryName="app")["uploadId"]
    ecr.upload_layer_part(repositoryName="app", uploadId=upload_id, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
    with pytest.raises(ClientError) as info:
        ecr.complete_layer_upload(repositoryName="app", uploadId=upload_id, layerDigests=[digest(b"xyz")])
    assert info.value.response["Error"]["Code"] == "InvalidLayerException"


def test_a_wrong_image_digest_is_refused(ecr: Any) -> None:
    blob = layer()
    upload(ecr, "app", blob)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(blob), "size": len(blob)}]})
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v9", imageDigest=digest(b"other"))
    assert info.value.response["Error"]["Code"] == "ImageDigestDoesNotMatchException"


def test_unknown_repositories_and_uploads_are_named(ecr: Any) -> None:
    with pytest.raises(ClientError) as info:
        ecr.complete_layer_upload(repositoryName="nope", uploadId=str(uuid.uuid4()), layerDigests=[digest(b"")])
    assert info.value.response["Error"]["Code"] == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as info:
        ecr.complete_layer_upload(repositoryName="app", uploadId=str(uuid.uuid4()), layerDigests=[digest(b"")])
    assert info.value.response["Error"]["Code"] == "UploadNotFoundException"
