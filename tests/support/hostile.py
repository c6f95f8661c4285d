"""Hostile archives, built in the test: tar layers and zips whose members try to get out."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Member:
    """One archive member: a file (``data``), a folder, or a link (``link``, symbolic or hard)."""

    name: str
    data: bytes = b""
    kind: str = "file"  # file, dir, symlink, hardlink
    link: str = ""


def file(name: str, data: bytes = b"x") -> Member:
    return Member(name, data)


def folder(name: str) -> Member:
    return Member(name, kind="dir")


def symlink(name: str, target: str) -> Member:
    return Member(name, kind="symlink", link=target)


def hardlink(name: str, target: str) -> Member:
    return Member(name, kind="hardlink", link=target)


def tar_layer(*members: Member, pax: dict[str, str] | None = None) -> bytes:
    """A gzipped tar of ``members`` (in order; names kept exactly as given)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers=pax or {}) as archive:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.mode = 0o755 if member.kind == "dir" else 0o644
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "hardlink": tarfile.LNKTYPE}[member.kind]
            info.linkname = member.link
            info.size = len(member.data) if member.kind == "file" else 0
            archive.addfile(info, io.BytesIO(member.data) if member.kind == "file" else None)
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def zip_of(*members: Member) -> bytes:
    """A deflated zip of ``members``; a symlink is stored as zip tools store one (mode bits, target as data)."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name + ("/" if member.kind == "dir" and not member.name.endswith("/") else ""))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = {"file": 0o100644, "dir": 0o040755, "symlink": 0o120777}[member.kind]
            info.external_attr = mode << 16
            archive.writestr(info, member.link.encode() if member.kind == "symlink" else member.data)
    return raw.getvalue()


def zeros_zip(name: str, size: int) -> bytes:
    """A zip bomb: one member of ``size`` zero bytes, written in chunks (a few KB on the wire)."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w", force_zip64=True) as sink:
        chunk = bytes(1024 * 1024)
        for _ in range(size // len(chunk)):
            sink.write(chunk)
    return raw.getvalue()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _diff_id(layer: bytes) -> str:
    """The digest of the layer's tar (of the bytes as they are, for a layer that is no gzip)."""
    try:
        return digest(gzip.decompress(layer))
    except (OSError, EOFError):
        return digest(layer)


def push_image(ecr: Any, account: str, repository: str, tag: str, layers: list[bytes], cmd: list[str]) -> str:
    """Push an image of ``layers`` with ECR's own calls (the blobs, then PutImage); its URI."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd, "WorkingDir": "/"},
                         "rootfs": {"type": "layers", "diff_ids": [_diff_id(layer) for layer in layers]}}).encode()
    for blob in [config, *layers]:
        upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        ecr.upload_layer_part(repositoryName=repository, uploadId=upload_id, partFirstByte=0,
                              partLastByte=max(len(blob), 1) - 1, layerPartBlob=blob)
        ecr.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest(blob)])
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": digest(layer), "size": len(layer)} for layer in layers]}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return f"{account}.dkr.ecr.us-east-1.amazonaws.com/{repository}:{tag}"
