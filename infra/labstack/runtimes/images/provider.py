"""The ECR overlay: layer bytes are kept (moto keeps only sizes), served by URL, and
PutImage checks that every layer the manifest names was uploaded, as ECR does."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Iterable

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.images.blobs import DIGEST, BlobStore
from labstack import motobridge
from labstack.protocol.provider import Provider
from labstack.runtimes.images import engine

ROUTE = "/ecr-layers/"


def _layers(ctx: RequestContext, request: dict) -> frozenset[str]:
    return _moto(lambda: motobridge.ecr_layers(ctx.account, ctx.region, request["repositoryName"],
                                               request.get("registryId")))


def _moto(call: Callable[[], Any]) -> Any:
    """Run a moto ECR call, turning its errors into labstack's."""
    try:
        return call()
    except motobridge.service_errors() as exc:
        raise AwsError(exc.code, exc.message) from None  # type: ignore[attr-defined]


class ImageRuntime(Provider):
    """ECR with real layers: what `docker push` uploads is what a task later runs."""

    service = "ecr"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.blobs = BlobStore(labstack.settings.home / "images" / "blobs")
        labstack.routes.add(ROUTE, self.serve_blob)
        labstack.routes.add(engine.ROUTE, lambda environ, start_response: engine.serve(labstack, environ, start_response))
        labstack.hooks.on_reset(self.blobs.clear)

    def complete_layer_upload(self, ctx: RequestContext, request: dict) -> dict:
        uploaded = _moto(lambda: motobridge.ecr_upload(ctx.account, ctx.region, request["repositoryName"],
                                                       request.get("registryId"), request["uploadId"]))
        if uploaded is None:
            raise AwsError("UploadNotFoundException", f"The upload with id '{request['uploadId']}' does not exist "
                           f"in the repository '{request['repositoryName']}'")
        digest = self.blobs.put(uploaded)
        expected = request["layerDigests"][0]
        if expected != digest:
            raise AwsError("InvalidLayerException", f"The layer digest {expected} does not match the uploaded layer {digest}")
        return _moto(lambda: motobridge.ecr_complete_layer_upload(
            ctx.account, ctx.region, request["repositoryName"], request["uploadId"], request["layerDigests"],
            request.get("registryId")))

    def get_download_url_for_layer(self, ctx: RequestContext, request: dict) -> dict:
        layers = _layers(ctx, request)
        digest = request["layerDigest"]
        if digest not in layers or not self.blobs.has(digest):
            raise AwsError("LayersNotFoundException", f"The image layer {digest} does not exist in the repository "
                           f"'{request['repositoryName']}'")
        return {"downloadUrl": f"{self.labstack.settings.endpoint}{ROUTE}{digest}", "layerDigest": digest}

    def put_image(self, ctx: RequestContext, request: dict) -> dict:
        try:
            manifest = json.loads(request["imageManifest"])
        except ValueError:
            raise AwsError("InvalidParameterException", "Invalid parameter at 'imageManifest' failed to satisfy "
                           "constraint: 'Invalid JSON syntax'") from None
        layers = _layers(ctx, request)
        referenced = [manifest.get("config", {})] + list(manifest.get("layers", []))
        missing = [d["digest"] for d in referenced if d.get("digest") and d["digest"] not in layers]
        if missing:
            raise AwsError("LayersNotFoundException", f"Layers {missing} not found in the repository "
                           f"'{request['repositoryName']}'")
        # ECR's image digest is the SHA-256 of the manifest exactly as it was sent.
        computed = "sha256:" + hashlib.sha256(request["imageManifest"].encode()).hexdigest()
        if request.get("imageDigest") not in (None, computed):
            raise AwsError("ImageDigestDoesNotMatchException", f"Invalid parameter at 'imageDigest': "
                           f"{request['imageDigest']} does not match the manifest's digest {computed}")
        image = _moto(lambda: motobridge.ecr_put_image(
            ctx.account, ctx.region, request["repositoryName"], request["imageManifest"], request.get("imageTag"),
            request.get("imageManifestMediaType"), computed))
        return {"image": {"registryId": image["registryId"], "repositoryName": image["repositoryName"],
                          "imageId": {"imageDigest": image["imageDigest"], "imageTag": request.get("imageTag")},
                          "imageManifest": image["imageManifest"],
                          "imageManifestMediaType": image["imageManifestMediaType"]}}

    def serve_blob(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        """GET /ecr-layers/sha256:<hex>: a layer's bytes (what a download URL points at)."""
        digest = environ.get("PATH_INFO", "")[len(ROUTE):]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or not DIGEST.fullmatch(digest) or not self.blobs.has(digest):
            body = b'{"message": "no such layer"}'
            start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        size = self.blobs.size(digest)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size)),
                                  ("Docker-Content-Digest", digest)])
        if environ["REQUEST_METHOD"] == "HEAD":
            return []
        return _chunks(self.blobs.path(digest))


def _chunks(path: Any, size: int = 1024 * 1024) -> Iterable[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk


PROVIDER = ImageRuntime
