"""The local image store: blobs by digest plus named references (``repo:tag`` → manifest)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from labstack.images.blobs import BlobStore

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def default_root() -> Path:
    """``LABSTACK_IMAGE_STORE``, else ``<LABSTACK_HOME>/images/local``."""
    explicit = os.environ.get("LABSTACK_IMAGE_STORE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("LABSTACK_HOME") or ".labstack") / "images" / "local"


def normalise(reference: str) -> str:
    """``name`` → ``name:latest``; a reference with a tag or digest is kept as it is."""
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last or "@" in last else f"{reference}:latest"


class LocalImages:
    """Images built or pulled on this machine."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()
        self.blobs = BlobStore(self.root / "blobs")
        self._index = self.root / "index.json"
        self._lock = threading.Lock()

    def refs(self) -> dict[str, str]:
        try:
            return json.loads(self._index.read_text())
        except (OSError, ValueError):
            return {}

    def tag(self, reference: str, manifest_digest: str) -> None:
        with self._lock:
            refs = self.refs()
            refs[normalise(reference)] = manifest_digest
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self._index.with_suffix(".tmp")
            staging.write_text(json.dumps(refs, indent=1, sort_keys=True))
            os.replace(staging, self._index)

    def resolve(self, reference: str) -> str:
        """The manifest digest of ``reference``; raises KeyError naming it if unknown."""
        refs = self.refs()
        if reference.startswith("sha256:") and self.blobs.has(reference):
            return reference
        found = refs.get(normalise(reference))
        if found is None:
            raise KeyError(f"no such image: {reference}")
        return found

    def manifest(self, digest: str) -> dict[str, Any]:
        return json.loads(self.blobs.document(digest))

    def config(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return json.loads(self.blobs.document(manifest["config"]["digest"]))
