"""Unpack an image's layers into a folder, once per image: the filesystem its tasks run in.

Each layer is read as a stream (never whole in memory) and applied as the OCI image spec's
layer rules say: a ``.wh.NAME`` entry removes NAME of the layers below, a ``.wh..wh..opq``
entry empties its folder of what the layers below put there, and neither touches what the same
layer adds. Every member and every whiteout stays inside the image's folder, and the image's
layers together stay within the image caps (``labstack.archives``). An image that breaks a rule
is not unpacked at all: no half folder is left, and the error names the layer and the rule.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from labstack.archives import ArchiveError, Budget, extract_member, image_budget, member_path, relative_name, tar_stream
from labstack.images.blobs import BlobStore

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def unpack(manifest: dict[str, Any], digest: str, blobs: BlobStore, root: Path) -> Path:
    """The image's files under ``root/<digest hex>``; ArchiveError (nothing left behind) if a
    layer is unreadable, reaches outside the folder or passes the image caps."""
    target = root / digest.split(":", 1)[1]
    if target.exists():
        return target
    staging = root / f".{target.name}.{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    budget = image_budget(f"image {digest}")
    try:
        for layer in manifest.get("layers", []):
            layer_digest = layer.get("digest") if isinstance(layer, dict) else None
            try:
                path = blobs.path(str(layer_digest))
            except ValueError:
                raise ArchiveError(f"image {digest}: the manifest names a layer without a sha256 digest") from None
            _apply(path, staging, budget, f"image {digest}, layer {layer_digest}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        os.rename(staging, target)
    except OSError:  # another task unpacked the same image first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _apply(layer: Path, root: Path, budget: Budget, what: str) -> None:
    """Apply one layer on top of ``root``."""
    added: set[str] = set()  # what this layer wrote: its own whiteouts leave it alone
    above: set[str] = set()  # folders holding something this layer wrote
    with open(layer, "rb") as raw, tar_stream(raw, budget, what) as archive:
        for member in archive:
            relative = relative_name(member.name, what)
            folder, _, name = relative.rpartition("/")
            if name.startswith(WHITEOUT):
                budget.entry()
                budget.expect(member.size)
                doomed = name[len(WHITEOUT):] if name != OPAQUE else ""
                if doomed in (".", ".."):
                    raise ArchiveError(f"{what}: whiteout {member.name!r} names no file of its folder")
                _whiteout(root, folder, doomed, added, above, what)
                continue
            written = extract_member(archive, member, root, budget, what)
            if written:
                added.add(written)
                parts = written.split("/")
                above.update("/".join(parts[:i]) for i in range(1, len(parts)))


def _whiteout(root: Path, folder: str, doomed: str, added: set[str], above: set[str], what: str) -> None:
    """Remove ``folder/doomed`` (or, for an opaque whiteout, every entry of ``folder``) as the
    layers below left it."""
    relative = f"{folder}/{doomed}".strip("/") if doomed else folder
    path = member_path(root, relative, what)
    if doomed:
        _remove_lower(path, relative, added, above)
    elif path.is_dir() and not path.is_symlink():
        for child in list(path.iterdir()):
            _remove_lower(child, f"{relative}/{child.name}".lstrip("/"), added, above)


def _remove_lower(path: Path, relative: str, added: set[str], above: set[str]) -> None:
    """Remove ``path`` except what the current layer wrote there."""
    if relative in added:
        return
    if relative in above and path.is_dir() and not path.is_symlink():
        for child in list(path.iterdir()):
            _remove_lower(child, f"{relative}/{child.name}", added, above)
    elif path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
