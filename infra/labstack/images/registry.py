"""Login and push: an image from the local store into an ECR repository, through the ECR API."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Callable

from labstack.images.layout import OCI_MANIFEST, LocalImages, normalise

_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$")
PART_SIZE = 10 * 1024 * 1024


class RegistryError(Exception):
    """A login or push that cannot happen; the message says what to do."""


def parse_reference(reference: str) -> tuple[str, str, str, str]:
    """(account, region, repository, tag) of an ECR image reference; a reference by digest
    (``<repository>@sha256:…``) gives the digest in place of the tag."""
    match = _ECR.match(normalise(reference))
    if match is None:
        raise RegistryError(f"{reference}: labstack pushes to ECR repositories only "
                            f"(<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag])")
    account, region, rest = match.groups()
    repository, _, tag = rest.partition("@") if "@" in rest else rest.rpartition(":")
    return account, region, repository, tag


def _auth_file(images: LocalImages) -> Any:
    return images.root / "auth.json"


def login(images: LocalImages, registry: str, username: str, password: str) -> None:
    """Remember a registry's credentials (what ``docker login`` stores)."""
    if not password.strip():
        raise RegistryError("Error: Cannot perform an interactive login from a non TTY device (no password given)")
    path = _auth_file(images)
    try:
        auths = json.loads(path.read_text())
    except (OSError, ValueError):
        auths = {}
    auths[registry.split("/")[0]] = {"username": username, "password": password.strip()}
    images.root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(auths))
    path.chmod(0o600)


def _logged_in(images: LocalImages, registry: str) -> bool:
    try:
        return registry in json.loads(_auth_file(images).read_text())
    except (OSError, ValueError):
        return False


def endpoint() -> str:
    """Where labstack's ECR answers: ``AWS_ENDPOINT_URL``, else ``LABSTACK_ENDPOINT``, else port 4566."""
    return os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("LABSTACK_ENDPOINT") or "http://127.0.0.1:4566"


def ecr_client(region: str) -> Any:
    """An ECR client for labstack (:func:`endpoint`), with the caller's credentials."""
    import boto3

    return boto3.session.Session(region_name=region).client("ecr", endpoint_url=endpoint())


def push(images: LocalImages, reference: str, log: Callable[[str], None] = print, client: Any = None) -> str:
    """Upload the image's blobs that ECR lacks, then its manifest; returns the image digest."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _push(images, reference, log, client)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise RegistryError(f"push {reference}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise RegistryError(f"push {reference}: {exc}") from None


def _push(images: LocalImages, reference: str, log: Callable[[str], None], client: Any) -> str:
    account, region, repository, tag = parse_reference(reference)
    registry = normalise(reference).split("/")[0]
    if not _logged_in(images, registry):
        raise RegistryError(f"no basic auth credentials for {registry}: run "
                            f"aws ecr get-login-password | docker login --username AWS --password-stdin {registry}")
    try:
        digest = images.resolve(reference)
    except KeyError as exc:
        raise RegistryError(f"An image does not exist locally with the tag: {normalise(reference).rsplit(':', 1)[0]}") from exc
    ecr = client or ecr_client(region)
    try:
        manifest_bytes = images.blobs.document(digest)
    except ValueError as exc:
        raise RegistryError(f"push {reference}: {exc}") from None
    manifest = json.loads(manifest_bytes)
    log(f"The push refers to repository [{normalise(reference).rsplit(':', 1)[0]}]")
    blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    known = ecr.batch_check_layer_availability(registryId=account, repositoryName=repository, layerDigests=blobs)
    available = {layer["layerDigest"] for layer in known.get("layers", []) if layer.get("layerAvailability") == "AVAILABLE"}
    for blob in blobs:
        if blob in available:
            log(f"{blob[7:19]}: Layer already exists")
            continue
        upload_id = ecr.initiate_layer_upload(registryId=account, repositoryName=repository)["uploadId"]
        sent = hashlib.sha256()
        try:
            with images.blobs.open(blob) as data:  # part by part: a layer is never whole in memory
                first = 0
                while (part := data.read(PART_SIZE)) or first == 0:  # an empty blob is one empty part
                    sent.update(part)
                    ecr.upload_layer_part(registryId=account, repositoryName=repository, uploadId=upload_id,
                                          partFirstByte=first, partLastByte=first + max(len(part), 1) - 1, layerPartBlob=part)
                    first += max(len(part), 1)
        except ValueError as exc:
            raise RegistryError(f"push {reference}: {exc}") from None
        if "sha256:" + sent.hexdigest() != blob:  # the store changed under the image (a build writes it): never completed
            raise RegistryError(f"push {reference}: {blob[7:19]}: the local store's bytes are not this layer's; nothing was pushed")
        ecr.complete_layer_upload(registryId=account, repositoryName=repository, uploadId=upload_id, layerDigests=[blob])
        log(f"{blob[7:19]}: Pushed")
    try:
        ecr.put_image(registryId=account, repositoryName=repository, imageManifest=manifest_bytes.decode(),
                      imageManifestMediaType=manifest.get("mediaType", OCI_MANIFEST), imageTag=tag)
    except ecr.exceptions.ImageAlreadyExistsException:
        log(f"{tag}: the repository already has this image under this tag")
    log(f"{tag}: digest: {digest} size: {len(manifest_bytes)}")
    return digest
