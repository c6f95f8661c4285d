"""A content-addressed blob store (``sha256:<hex>`` → bytes on disk) for image layers."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import uuid
from pathlib import Path
from typing import BinaryIO

DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
MAX_DOCUMENT = 4 * 1024 * 1024  # a manifest or config: registries refuse manifests past 4 MiB


class BlobStore:
    """Blobs under ``root/sha256/<hex>``; written atomically, shared by every account."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if not DIGEST.fullmatch(digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / "sha256" / digest.split(":", 1)[1]

    def has(self, digest: str) -> bool:
        return DIGEST.fullmatch(digest) is not None and self.path(digest).exists()

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its digest (storing the same bytes twice is a no-op)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            staging.write_bytes(data)
            os.replace(staging, target)
        return digest

    def document(self, digest: str) -> bytes:
        """The bytes of a manifest or config blob; ValueError past :data:`MAX_DOCUMENT` (a layer
        named as a manifest is never read whole) or when they are not ``digest``'s."""
        with self.open(digest) as handle:
            data = handle.read(MAX_DOCUMENT + 1)
        if len(data) > MAX_DOCUMENT:
            raise ValueError(f"{digest} is larger than {MAX_DOCUMENT} bytes: no manifest or config is")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(f"{digest}: the stored bytes are not this digest's")
        return data

    def open(self, digest: str) -> BinaryIO:
        """Blob ``digest`` for reading: a regular file reached from the store's folder without following
        a link at any step, so a store that a build writes (labstack pushes from it) cannot hand labstack
        another file."""
        path = self.path(digest)
        folder = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            inner = os.open(path.parent.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            try:
                fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=inner)
            finally:
                os.close(inner)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ValueError(f"{digest}: reached through a link, not a blob") from None
            raise
        finally:
            os.close(folder)
        handle = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            handle.close()
            raise ValueError(f"{digest}: not a regular file")
        return handle

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def clear(self) -> None:
        """Forget every blob (``labstack reset``)."""
        shutil.rmtree(self.root, ignore_errors=True)
