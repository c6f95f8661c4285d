"""Archives nobody vouched for: zips and tars, read within caps and unpacked inside their folder.

Every zip labstack reads (Lambda code, build sources, caches and artifacts, CodeDeploy bundles,
pipeline artifacts) and every tar it unpacks (image layers, a Dockerfile's ``ADD`` of a tarball)
goes through here. What an archive may do:

- hold at most a capped number of entries and unpack to at most a capped number of bytes, both
  checked before anything is written (a zip's central directory, a tar member's header), and a
  tar's decompressed stream is counted as it is read, so a bomb stops at the cap;
- name members only inside the folder it is unpacked into: no absolute names, no ``..``, no
  path through a symbolic link that leads out; links (symbolic and hard) point inside it too,
  as tarfile's ``data`` filter has it;
- never write through what is already there: a member replaces a file or link in its way.

The caps are named constants, each changed by the environment variable it names.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Cap:
    """One limit on what an archive may hold; ``setting`` is the environment variable that changes it."""

    setting: str
    limit: int
    unit: str


def _cap(setting: str, default: int, unit: str) -> Cap:
    raw = os.environ.get(setting, "")
    if not raw:
        return Cap(setting, default, unit)
    if not raw.isdigit() or int(raw) <= 0:
        raise SystemExit(f"labstack: {setting}={raw!r} must be a whole number greater than 0")
    return Cap(setting, int(raw), unit)


# Lambda's own limit on a function's unzipped code; the labs' zips are a few MB.
ZIP_MAX_BYTES = _cap("LABSTACK_ZIP_MAX_BYTES", 262_144_000, "bytes")
ZIP_MAX_ENTRIES = _cap("LABSTACK_ZIP_MAX_ENTRIES", 20_000, "entries")
# An image's layers together; the labs' images (the host's Python plus an app) are a few MB.
IMAGE_MAX_BYTES = _cap("LABSTACK_IMAGE_MAX_BYTES", 2 * 1024**3, "bytes")
IMAGE_MAX_ENTRIES = _cap("LABSTACK_IMAGE_MAX_ENTRIES", 100_000, "entries")
MAX_TAR_HEADER = 1024 * 1024  # a pax header or GNU long name larger than this is no real archive's


class ArchiveError(ValueError):
    """An archive labstack will not read or unpack; the message names the member or the cap."""

    def __init__(self, message: str, cap: Cap | None = None) -> None:
        super().__init__(message)
        self.cap = cap


class Budget:
    """What one archive (or one image's layers together) may still hold."""

    def __init__(self, what: str, max_bytes: Cap, max_entries: Cap) -> None:
        self.what = what
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.bytes = 0
        self.entries = 0

    def entry(self, count: int = 1) -> None:
        """Count ``count`` more entries."""
        self.entries += count
        if self.entries > self.max_entries.limit:
            raise self._over(self.max_entries)

    def take(self, size: int) -> None:
        """Count ``size`` more bytes."""
        self.bytes += size
        if self.bytes > self.max_bytes.limit:
            raise self._over(self.max_bytes)

    def expect(self, size: int = 0, entries: int = 0) -> None:
        """Refuse, before reading them, ``size`` bytes or ``entries`` entries that would not fit."""
        if self.bytes + size > self.max_bytes.limit:
            raise self._over(self.max_bytes)
        if self.entries + entries > self.max_entries.limit:
            raise self._over(self.max_entries)

    def _over(self, cap: Cap) -> ArchiveError:
        verb = "unpacks to" if cap.unit == "bytes" else "holds"
        return ArchiveError(f"{self.what} {verb} more than {cap.limit} {cap.unit}, labstack's cap "
                            f"({cap.setting} raises it)", cap)


def zip_budget(what: str) -> Budget:
    """A budget with the zip caps."""
    return Budget(what, ZIP_MAX_BYTES, ZIP_MAX_ENTRIES)


def image_budget(what: str) -> Budget:
    """A budget with the image caps (every layer of one image counts against it)."""
    return Budget(what, IMAGE_MAX_BYTES, IMAGE_MAX_ENTRIES)


# -- names ---------------------------------------------------------------------------------
def relative_name(name: str, what: str) -> str:
    """A member name as a clean relative path ('' for the archive's root); ArchiveError if it
    is absolute or climbs with ``..``."""
    if name.startswith("/"):
        raise ArchiveError(f"{what}: member {name!r} has an absolute name")
    if "\x00" in name:
        raise ArchiveError(f"{what}: member {name!r} has a NUL byte in its name")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{what}: member {name!r} climbs out of its folder with '..'")
    return "/".join(parts)


def inside(root: Path | str, path: Path | str) -> bool:
    """Whether ``path``, its symbolic links followed, lies in ``root`` (or is it)."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def member_path(root: Path, relative: str, what: str) -> Path:
    """Where ``relative`` (from :func:`relative_name`) lands under ``root``; ArchiveError when a
    symbolic link already unpacked on the way leads out of ``root``."""
    target = root.joinpath(*relative.split("/")) if relative else root
    if not inside(root, target.parent if relative else target):
        raise ArchiveError(f"{what}: member {relative!r} would be written through a link that leads out of its folder")
    return target


def clear_way(target: Path, for_directory: bool) -> None:
    """Remove what stands where a member goes: a file or link, or a folder unless a folder comes."""
    try:
        found = target.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(found.st_mode):
        if not for_directory:
            shutil.rmtree(target)
    else:
        target.unlink()


# -- zips ----------------------------------------------------------------------------------
def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """``data`` as a zip whose entry count and unzipped size fit the zip caps.

    The sizes checked are the ones the central directory declares; zipfile never hands out
    more than a member declares (a member that inflates to more fails its CRC check), so a
    zip that passes cannot unpack to more than the cap.
    """
    budget = zip_budget(what)
    # The count the end record declares, checked before zipfile builds an object for every entry
    # (read by zipfile's own reader of that record; a zip that lies about it is counted again below).
    end = zipfile._EndRecData(io.BytesIO(data))  # type: ignore[attr-defined]
    budget.expect(entries=end[zipfile._ECD_ENTRIES_TOTAL] if end else 0)  # type: ignore[attr-defined]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveError(f"{what} is not a zip archive: {exc}") from None
    budget.entry(len(members))
    budget.take(sum(member.file_size for member in members))
    return archive


def check_zip(data: bytes, what: str) -> None:
    """Raise ArchiveError unless ``data`` is a zip :func:`extract_zip` would unpack: within the
    caps, its names and links inside the folder it goes to."""
    with open_zip(data, what) as archive:
        for member in archive.infolist():
            relative = relative_name(member.filename, what)
            if stat.S_ISLNK(member.external_attr >> 16):
                _link_target(archive, member, relative, what)


def read_zip(data: bytes, name: str, what: str) -> bytes:
    """One member of a zip within the caps; KeyError if it has none of that name."""
    with open_zip(data, what) as archive:
        return _read_member(archive, archive.getinfo(name), what)


def zip_files(data: bytes, what: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file (not folder) of a zip within the caps."""
    with open_zip(data, what) as archive:
        for member in archive.infolist():
            if not member.is_dir():
                yield member.filename, _read_member(archive, member, what)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, what: str) -> bytes:
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError) as exc:
        raise ArchiveError(f"{what}: member {member.filename!r} cannot be read: {exc}") from None


def extract_zip(data: bytes, dest: Path, what: str) -> None:
    """Unpack a zip within the caps into ``dest``: folders, files with their permission bits,
    and symbolic links that point inside ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with open_zip(data, what) as archive:
        names = [relative_name(member.filename, what) for member in archive.infolist()]  # all, before writing
        for member, relative in zip(archive.infolist(), names):
            if relative:
                try:
                    _extract_zip_member(archive, member, dest, relative, what)
                except OSError as exc:
                    raise ArchiveError(f"{what}: member {relative!r} cannot be written: {exc.strerror or exc}") from None


def _extract_zip_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, relative: str, what: str) -> None:
    target = member_path(dest, relative, what)
    mode = member.external_attr >> 16
    if member.is_dir():
        clear_way(target, for_directory=True)
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    clear_way(target, for_directory=False)
    if stat.S_ISLNK(mode):
        link = _link_target(archive, member, relative, what)
        if not inside(dest, target.parent / link):
            raise ArchiveError(f"{what}: member {relative!r} is a link to {link!r}, outside its folder")
        target.symlink_to(link)
        return
    try:
        with archive.open(member) as source, open(target, "xb") as sink:
            shutil.copyfileobj(source, sink)
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise ArchiveError(f"{what}: member {member.filename!r} cannot be read: {exc}") from None
    target.chmod((mode & 0o755 | 0o600) if mode & 0o777 else 0o644)  # never setuid, never writable by others


def _link_target(archive: zipfile.ZipFile, member: zipfile.ZipInfo, relative: str, what: str) -> str:
    """What a symbolic link member points at; ArchiveError if that is absolute or up past its folder."""
    link = _read_member(archive, member, what).decode("utf-8", "surrogateescape")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(relative), link))
    if link.startswith("/") or "\x00" in link or resolved == ".." or resolved.startswith("../"):
        raise ArchiveError(f"{what}: member {relative!r} is a link to {link!r}, outside its folder")
    return link


def write_zip(files: Iterable[tuple[Path, str]], sink: Path | IO[bytes], what: str) -> None:
    """Zip regular files (path, name in the zip) into ``sink``, within the zip caps: an
    archive labstack writes is one it will read back. Symbolic links are refused, not followed."""
    budget = zip_budget(what)
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            found = path.lstat()
            if not stat.S_ISREG(found.st_mode):
                raise ArchiveError(f"{what}: {name} is not a regular file")
            budget.entry()
            budget.take(found.st_size)
            archive.write(path, name)


# -- tars ----------------------------------------------------------------------------------
class _HeaderTooLarge(Exception):
    """An extended tar header larger than :data:`MAX_TAR_HEADER`."""


class _BoundedTarInfo(tarfile.TarInfo):
    """A member header whose extended headers (pax, GNU long names) are read only when small:
    tarfile reads such a header whole into memory."""

    _EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                 tarfile.SOLARIS_XHDTYPE)

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in self._EXTENDED and self.size > MAX_TAR_HEADER:
            raise _HeaderTooLarge(f"a tar header of {self.size} bytes (labstack reads headers up to {MAX_TAR_HEADER})")
        return super()._proc_member(archive)  # type: ignore[misc]


class _Counted(io.RawIOBase):
    """A stream whose bytes are counted against a budget as they are read."""

    def __init__(self, source: IO[bytes], budget: Budget) -> None:
        self.source = source
        self.budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        self.budget.take(len(data))
        buffer[:len(data)] = data
        return len(data)


def _decompressed(raw: io.BufferedReader, what: str) -> IO[bytes]:
    """``raw`` decompressed by what its first bytes say (gzip, bzip2, xz) or as it is."""
    head = raw.peek(6)[:6]
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise ArchiveError(f"{what} is zstd-compressed: labstack reads gzip, bzip2, xz or plain tars")
    return raw


# What a broken stream raises on the way (truncated, corrupt, not a tar at all) or a failing write.
_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, RecursionError)


@contextlib.contextmanager
def tar_stream(raw: io.BufferedReader, budget: Budget, what: str) -> Iterator[tarfile.TarFile]:
    """A tar read as a stream, never whole in memory; its decompressed bytes count against ``budget``."""
    try:
        stream = io.BufferedReader(_Counted(_decompressed(raw, what), budget), buffer_size=64 * 1024)
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as archive:
            yield archive
    except _HeaderTooLarge as exc:
        raise ArchiveError(f"{what}: {exc}") from None
    except _READ_ERRORS as exc:
        raise ArchiveError(f"{what} cannot be unpacked: {exc}") from None


def extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo, root: Path, budget: Budget, what: str) -> str | None:
    """Unpack one member of a tar read by :func:`tar_stream` under ``root``, replacing what is in
    its way; its clean relative name, or None for the root entry itself."""
    budget.entry()
    budget.expect(member.size)
    relative = relative_name(member.name, what)
    if not relative:
        return None
    target = member_path(root, relative, what)
    clear_way(target, for_directory=member.isdir())
    member = member.replace(name=relative, deep=False)
    try:
        archive.extract(member, root, filter="data")
    except tarfile.FilterError as exc:
        raise ArchiveError(f"{what}: member {relative!r}: {exc}") from None
    return relative


def extract_tar(path: Path, dest: Path, what: str) -> None:
    """Unpack a tarball (gzip, bzip2, xz or plain) into ``dest`` within the image caps."""
    budget = image_budget(what)
    dest.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as raw, tar_stream(raw, budget, what) as archive:
        for member in archive:
            extract_member(archive, member, dest, budget, what)


def is_tar(path: Path) -> bool:
    """Whether ``path`` opens as a tar (compressed or not), reading only its first member's header."""
    try:
        with open(path, "rb") as raw, tar_stream(raw, image_budget(str(path)), str(path)) as archive:
            return archive.next() is not None
    except ArchiveError:
        return False

