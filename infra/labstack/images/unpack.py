"""Unpack an image's layers into a folder, once per image: the filesystem its tasks run in."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from labstack.images.blobs import BlobStore


def unpack(manifest: dict[str, Any], digest: str, blobs: BlobStore, root: Path) -> Path:
    """The image's files under ``root/<digest hex>`` (applied layer by layer, whiteouts honoured)."""
    target = root / digest.split(":", 1)[1]
    if target.exists():
        return target
    staging = root / f".{target.name}.{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    for layer in manifest.get("layers", []):
        data = blobs.path(layer["digest"]).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                name = PurePosixPath(member.name)
                if name.name.startswith(".wh."):
                    doomed = staging / name.parent / name.name[4:]
                    if doomed.is_dir() and not doomed.is_symlink():
                        shutil.rmtree(doomed, ignore_errors=True)
                    elif doomed.exists() or doomed.is_symlink():
                        doomed.unlink()
                    continue
                archive.extract(member, staging, filter="data")
    try:
        os.rename(staging, target)
    except OSError:  # another task unpacked the same image first
        shutil.rmtree(staging, ignore_errors=True)
    return target
