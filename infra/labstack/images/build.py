"""Build an OCI image from a Dockerfile, without a daemon.

``FROM python:<version>`` stands for the host's Python (the image records which base it
named and which interpreter runs it). Each COPY, ADD and RUN adds a real layer: a gzipped
tar of what changed in the image's filesystem. RUN executes on this machine with the
image's directory as its working directory, under bubblewrap when it works here (only the
image's files writable); ``pip install`` installs into the image.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gzip
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from labstack import sandbox
from labstack.archives import ArchiveError, extract_tar, is_tar
from labstack.config import Settings
from labstack.images.dockerfile import DockerfileError, Instruction, parse
from labstack.images.layout import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, LocalImages

SITE_PACKAGES = "/usr/local/lib/python3/site-packages"  # where `pip install` puts packages, in the image
_BASE = re.compile(r"^(?:(?:docker\.io/)?library/|public\.ecr\.aws/docker/library/)?python(?::([\w.\-]+))?$")
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


class BuildError(Exception):
    """The build failed; the message says where and why."""


@dataclass
class _State:
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    exposed: dict[str, dict] = field(default_factory=dict)
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None
    layers: list[tuple[str, str, int]] = field(default_factory=list)  # digest, diff id, size
    history: list[dict[str, Any]] = field(default_factory=list)

    def path(self, container_path: str) -> Path:
        """Where a path of the image lives on disk."""
        posix = PurePosixPath(self.workdir) / container_path
        parts = [p for p in posix.parts if p not in ("/", "..", ".")]
        return self.root.joinpath(*parts)


def _substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return values.get(name, match.group(2) or "")

    return _VARIABLE.sub(one, text)


def _pairs(instruction: Instruction) -> dict[str, str]:
    """``K=V K2="V 2"`` (or the legacy ``K V``) as a dict."""
    words = instruction.words()
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    pairs = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise DockerfileError(f"line {instruction.line}: {instruction.name} expects KEY=VALUE, got {word!r}")
        pairs[key] = value
    return pairs


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, stat.st_mode)
    return found


def _layer(root: Path, changed: list[str], deleted: list[str]) -> tuple[bytes, str]:
    """A gzipped tar of ``changed`` paths plus whiteouts for ``deleted``; returns it and its diff id."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for relative in sorted(changed):
            info = archive.gettarinfo(str(root / relative), arcname=relative)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isfile():
                with open(root / relative, "rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
        for relative in sorted(deleted):
            whiteout = str(PurePosixPath(relative).parent / f".wh.{PurePosixPath(relative).name}")
            archive.addfile(tarfile.TarInfo(whiteout.lstrip("./") or whiteout))
    tar_bytes = raw.getvalue()
    compressed = gzip.compress(tar_bytes, mtime=0)
    return compressed, "sha256:" + hashlib.sha256(tar_bytes).hexdigest()


class Builder:
    """One build: a Dockerfile, a context folder, and where the image goes."""

    def __init__(self, context: Path, dockerfile: Path, images: LocalImages,
                 build_args: dict[str, str] | None = None, log: Callable[[str], None] = print) -> None:
        self.context = context.resolve()
        self.dockerfile = dockerfile
        self.images = images
        self.build_args = build_args or {}
        self.log = log
        self.ignore = self._dockerignore()

    def build(self, tags: list[str]) -> str:
        """Build, store and tag the image; returns its manifest digest."""
        try:
            instructions = parse(self.dockerfile.read_text())
        except OSError as exc:
            raise BuildError(f"cannot read {self.dockerfile}: {exc.strerror}") from None
        except DockerfileError as exc:
            raise BuildError(f"{self.dockerfile.name}: {exc}") from None
        with tempfile.TemporaryDirectory(prefix="labstack-build-") as folder:
            state = _State(Path(folder) / "rootfs")
            state.root.mkdir()
            total = len(instructions)
            for step, instruction in enumerate(instructions, start=1):
                self.log(f"Step {step}/{total} : {instruction.name} {instruction.args}")
                try:
                    getattr(self, f"_{instruction.name.lower()}")(state, instruction)
                except DockerfileError as exc:
                    raise BuildError(f"{self.dockerfile.name}: {exc}") from None
            digest = self._write(state)
        for tag in tags:
            self.images.tag(tag, digest)
            self.log(f"Successfully tagged {tag}")
        self.log(f"Successfully built {digest}")
        return digest

    # -- instructions ---------------------------------------------------------------
    def _from(self, state: _State, ins: Instruction) -> None:
        words = _substitute(ins.args, {**state.args}).split()
        if state.history:
            raise DockerfileError(f"line {ins.line}: a second FROM (multi-stage builds) is not supported")
        if len(words) > 1:
            raise DockerfileError(f"line {ins.line}: FROM {' '.join(words[1:])} (flags and multi-stage names) is not supported")
        match = _BASE.match(words[0]) if words else None
        if match is None:
            raise DockerfileError(f"line {ins.line}: FROM {words[0] if words else ''}: labstack builds images "
                                  f"FROM python:<version> only (they run on this machine's Python)")
        tag = match.group(1) or "latest"
        state.env.update({"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                          "PYTHONPATH": SITE_PACKAGES})
        state.cmd = ["python3"]
        host = platform.python_version()
        state.labels.update({"dev.labstack.base": f"python:{tag}", "dev.labstack.interpreter": host})
        self.log(f" ---> python:{tag} is this machine's Python {host} (labstack runs images as local processes)")
        state.history.append({"created_by": f"FROM python:{tag}", "empty_layer": True})

    def _workdir(self, state: _State, ins: Instruction) -> None:
        state.workdir = str(PurePosixPath(state.workdir) / self._sub(state, ins.args.strip()))
        state.path(".").mkdir(parents=True, exist_ok=True)
        self._commit(state, ins, empty=True)

    def _env(self, state: _State, ins: Instruction) -> None:
        for key, value in _pairs(ins).items():
            state.env[key] = self._sub(state, value)
        self._commit(state, ins, empty=True)

    def _arg(self, state: _State, ins: Instruction) -> None:
        name, _, default = ins.args.strip().partition("=")
        state.args[name] = self.build_args.get(name, default)
        if state.history:
            self._commit(state, ins, empty=True)

    def _label(self, state: _State, ins: Instruction) -> None:
        state.labels.update({k: self._sub(state, v) for k, v in _pairs(ins).items()})
        self._commit(state, ins, empty=True)

    def _expose(self, state: _State, ins: Instruction) -> None:
        for port in self._sub(state, ins.args).split():
            state.exposed[port if "/" in port else f"{port}/tcp"] = {}
        self._commit(state, ins, empty=True)

    def _user(self, state: _State, ins: Instruction) -> None:
        state.user = self._sub(state, ins.args.strip())
        self._commit(state, ins, empty=True)

    def _cmd(self, state: _State, ins: Instruction) -> None:
        state.cmd = ins.exec_form() or ["/bin/sh", "-c", ins.args]
        self._commit(state, ins, empty=True)

    def _entrypoint(self, state: _State, ins: Instruction) -> None:
        state.entrypoint = ins.exec_form() or ["/bin/sh", "-c", ins.args]
        self._commit(state, ins, empty=True)

    def _healthcheck(self, state: _State, ins: Instruction) -> None:
        words = ins.args.split()
        if words and words[0].upper() == "NONE":
            state.healthcheck = {"Test": ["NONE"]}
        else:
            options: dict[str, Any] = {}
            while words and words[0].startswith("--"):
                flag, _, value = words.pop(0)[2:].partition("=")
                keys = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod", "retries": "Retries"}
                if flag not in keys:
                    raise DockerfileError(f"line {ins.line}: HEALTHCHECK --{flag} is not supported")
                options[keys[flag]] = int(value) if flag == "retries" else _nanoseconds(value, ins)
            if not words or words[0].upper() != "CMD":
                raise DockerfileError(f"line {ins.line}: HEALTHCHECK needs CMD or NONE")
            rest = ins.args[ins.args.upper().index("CMD") + 3:].strip()
            try:
                test = json.loads(rest) if rest.startswith("[") else None
            except ValueError:
                test = None
            state.healthcheck = {"Test": ["CMD", *test] if isinstance(test, list) else ["CMD-SHELL", rest], **options}
        self._commit(state, ins, empty=True)

    def _copy(self, state: _State, ins: Instruction, extract: bool = False) -> None:
        words = [self._sub(state, w) for w in ins.words()]
        while words and words[0].startswith("--"):
            flag = words.pop(0)
            if not flag.startswith(("--chown=", "--chmod=")):
                raise DockerfileError(f"line {ins.line}: {ins.name} {flag.split('=')[0]} is not supported")
        if len(words) < 2:
            raise DockerfileError(f"line {ins.line}: {ins.name} needs a source and a destination")
        *sources, dest = words
        before = _snapshot(state.root)
        sources_found = [p for s in sources for p in self._context_matches(s, ins)]
        target = state.path(dest)
        into_dir = dest.endswith("/") or len(sources_found) > 1 or target.is_dir()
        for source in sources_found:
            if extract and source.is_file() and is_tar(source):
                try:
                    extract_tar(source, target, f"ADD {source.name}")
                except ArchiveError as exc:
                    raise DockerfileError(f"line {ins.line}: {exc}") from None
            elif source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True, ignore=self._ignored_in(source))
            else:
                destination = target / source.name if into_dir else target
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
        self._commit(state, ins, before=before)

    def _add(self, state: _State, ins: Instruction) -> None:
        if re.search(r"\bhttps?://", ins.args):
            raise DockerfileError(f"line {ins.line}: ADD from a URL is not supported (labstack builds offline)")
        self._copy(state, ins, extract=True)

    def _run(self, state: _State, ins: Instruction) -> None:
        command = ins.exec_form() or ["/bin/sh", "-c", ins.args]
        before = _snapshot(state.root)
        cwd = state.path(".")
        cwd.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="labstack-shims-") as shims:
            env = self._run_env(state, Path(shims))
            self.log(f" ---> running in {cwd}")
            jail = self._jail(state, Path(shims))
            proc = subprocess.run([*jail, *command], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            self.log(line)
        if proc.returncode != 0:
            raise BuildError(f"{self.dockerfile.name} line {ins.line}: The command '{' '.join(command)}' "
                             f"returned a non-zero code: {proc.returncode}")
        self._commit(state, ins, before=before)

    # -- helpers ---------------------------------------------------------------------
    def _jail(self, state: _State, shims: Path) -> list[str]:
        """The bubblewrap a RUN step runs under, as a build's shell does (see :mod:`labstack.sandbox`):
        only the image's files writable, /tmp its own, labstack's state and the user's home hidden.
        Inside a sandboxed build the step is confined by the build's sandbox already (a second one
        cannot be made there when labstack runs as root: the build has no capabilities). Without a
        working bubblewrap, the step runs as a plain process and says so (in class mode a build never
        gets this far without one)."""
        if os.environ.get(sandbox.INSIDE) == "1":
            return []
        try:
            program = sandbox.bwrap()
        except sandbox.Unavailable as exc:
            self.log(f" ---> without a sandbox: {exc}")
            return []
        settings = Settings.from_env()
        return sandbox.Jail.hiding(settings.home, settings.learners, readable=(shims,),
                                   writable=(state.root.resolve(),)).argv(program)

    def _run_env(self, state: _State, shims: Path) -> dict[str, str]:
        """RUN's environment: the image's variables, python and pip that write into the image."""
        site = state.root / SITE_PACKAGES.lstrip("/")
        site.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        (shims / "python").write_text(f'#!/bin/sh\nexport PYTHONPATH="{site}${{PYTHONPATH:+:$PYTHONPATH}}"\nexec "{python}" "$@"\n')
        (shims / "pip").write_text(
            "#!/bin/sh\n"
            f'if [ "$1" = install ]; then case " $* " in *" --target"*|*" -t "*|*" --prefix"*|*" --user "*) ;; '
            f'*) shift; exec "{python}" -m pip install --target "{site}" "$@";; esac; fi\n'
            f'exec "{python}" -m pip "$@"\n')
        for name in ("python3", "pip3"):
            shutil.copy(shims / name.rstrip("3"), shims / name)
        for script in shims.iterdir():
            script.chmod(0o755)
        env = sandbox.environment([shims])
        env.update({k: v for k, v in state.env.items() if k not in ("PATH", "PYTHONPATH")})
        env.update(state.args)
        env["HOME"] = str(state.root / "root")
        env["IMAGE_ROOT"] = str(state.root)
        return env

    def _sub(self, state: _State, text: str) -> str:
        return _substitute(text, {**state.args, **state.env})

    def _context_matches(self, source: str, ins: Instruction) -> list[Path]:
        if source.startswith("/") or ".." in PurePosixPath(source).parts:
            raise DockerfileError(f"line {ins.line}: {ins.name} {source}: sources must be inside the build context")
        matches = sorted(p for p in self.context.glob(source) if not self._is_ignored(p)) if any(c in source for c in "*?[") \
            else [self.context / source]
        found = [p for p in matches if p.exists()]
        if not found:
            raise DockerfileError(f"line {ins.line}: {ins.name} {source}: no such file or directory in the build context")
        return found

    def _dockerignore(self) -> list[str]:
        try:
            lines = (self.context / ".dockerignore").read_text().splitlines()
        except OSError:
            return []
        return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]

    def _is_ignored(self, path: Path) -> bool:
        relative = str(path.relative_to(self.context))
        return any(fnmatch.fnmatch(relative, pattern) or relative.startswith(pattern + "/") for pattern in self.ignore)

    def _ignored_in(self, folder: Path) -> Callable[[str, list[str]], set[str]]:
        def ignore(directory: str, names: list[str]) -> set[str]:
            return {n for n in names if self._is_ignored(Path(directory) / n)}

        return ignore

    def _commit(self, state: _State, ins: Instruction, empty: bool = False, before: dict | None = None) -> None:
        entry: dict[str, Any] = {"created_by": f"{ins.name} {ins.args}"}
        if empty or before is None:
            entry["empty_layer"] = True
        else:
            after = _snapshot(state.root)
            changed = [p for p, meta in after.items() if before.get(p) != meta]
            deleted = [p for p in before if p not in after]
            blob, diff_id = _layer(state.root, changed, deleted)
            state.layers.append((self.images.blobs.put(blob), diff_id, len(blob)))
            self.log(f" ---> layer {state.layers[-1][0][:19]} ({len(changed)} paths)")
        state.history.append(entry)

    def _write(self, state: _State) -> str:
        if not state.layers:
            blob, diff_id = _layer(state.root, [], [])
            state.layers.append((self.images.blobs.put(blob), diff_id, len(blob)))
        config = {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
            "os": "linux",
            "config": {k: v for k, v in {
                "Env": [f"{k}={v}" for k, v in state.env.items()], "Cmd": state.cmd, "Entrypoint": state.entrypoint,
                "WorkingDir": state.workdir, "ExposedPorts": state.exposed or None, "User": state.user or None,
                "Labels": state.labels, "Healthcheck": state.healthcheck}.items() if v is not None},
            "rootfs": {"type": "layers", "diff_ids": [diff for _, diff, _ in state.layers]},
            "history": state.history,
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = self.images.blobs.put(config_bytes)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                    "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, _, s in state.layers]}
        return self.images.blobs.put(json.dumps(manifest, sort_keys=True).encode())


def _nanoseconds(text: str, ins: Instruction) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise DockerfileError(f"line {ins.line}: HEALTHCHECK duration {text!r} is not like 30s or 1m")
    scale = {"ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}[match.group(2)]
    return int(float(match.group(1)) * scale)
