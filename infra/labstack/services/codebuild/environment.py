"""What a build's environment is made of: labstack's allowlisted environment with the kit's tools on
PATH, a Python of the build's own that sees only the kit's build tools (:data:`BUILD_TOOLS`),
variables resolved from Parameter Store and Secrets Manager, the runtimes a buildspec's
``runtime-versions`` may ask for, and the sandbox it runs in. (The runner adds AWS's CODEBUILD_* variables.)"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import venv
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from labstack import sandbox
from labstack.services.codebuild.session import shell_dir

_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")
KIT_TOOLS = ("aws",)
# What a build image offers from the kit's environment (builds have no internet): pip (the venv
# is made without it), setuptools (``pip install --no-build-isolation ./pkg``), the sample app's
# test and scan tools, boto3 for build scripts that call AWS, and cfn-lint for a pipeline's template
# checks (lab 07's Test stage). Their dependencies come along.
BUILD_TOOLS = ("pip", "setuptools", "pytest", "coverage", "bandit", "boto3", "cfn-lint")
# ``docker`` in a build: labstack's daemonless image tool with privileged mode, and the
# error a daemon-less CodeBuild host gives without it.
DOCKER = f"""#!/bin/sh
if [ "$LABSTACK_PRIVILEGED" != "1" ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running? (CodeBuild runs docker only in privileged mode)" >&2
  exit 1
fi
exec "{sys.executable}" -m labstack image "$@"
"""


PARAMETERS_ERROR = "Decrypted Variables Error"
SECRETS_ERROR = "Secrets Manager Error"


class VariableError(Exception):
    """A parameter or secret could not be resolved (fails DOWNLOAD_SOURCE); ``code`` is the phase context's
    status code (``Decrypted Variables Error`` for Parameter Store, ``Secrets Manager Error``)."""

    def __init__(self, message: str, code: str = PARAMETERS_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _error(exc: ClientError) -> str:
    """A service's error as CodeBuild's phase context quotes it: ``CODE: message``."""
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '')}"


def tools_dir(root: Path) -> Path:
    """A directory of the kit's build tools, to put first on PATH: the ``aws`` CLI, and a
    ``docker`` that is labstack's image tool in privileged mode (a host's docker client never stands in).

    Linking the tools one by one, rather than putting the kit's venv on PATH, keeps a build's
    ``pip install`` away from labstack's own environment (see :func:`build_python`).
    """
    tools = root / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    for name in KIT_TOOLS:
        source, link = Path(sys.executable).parent / name, tools / name
        if source.exists() and not link.exists():
            try:
                link.symlink_to(source)
            except FileExistsError:  # another build made it meanwhile
                pass
    docker = tools / "docker"
    if not docker.exists() or docker.read_text() != DOCKER:  # written aside and renamed: never half a file
        draft = tools / f".docker-{os.getpid()}-{threading.get_ident()}"
        draft.write_text(DOCKER)
        draft.chmod(0o755)
        os.replace(draft, docker)
    return tools


def tool_distributions(names: Iterable[str]) -> dict[str, metadata.Distribution]:
    """The kit's distributions that ``names`` are made of, by normalised name: those named and,
    recursively, what they require (markers evaluated; an extra only when a requirement asks for it).
    A name the kit does not have is left out."""
    found: dict[str, metadata.Distribution] = {}
    todo, seen = [(name, "") for name in names], set()
    while todo:
        name, extra = todo.pop()
        key = (canonicalize_name(name), extra)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = found.get(key[0]) or metadata.distribution(key[0])
        except metadata.PackageNotFoundError:
            continue
        found[key[0]] = dist
        for line in dist.requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo += [(requirement.name, wanted) for wanted in ("", *requirement.extras)]
    return found


def _site_entries(dist: metadata.Distribution) -> set[str]:
    """What ``dist`` installed at the top of its site-packages: packages, modules, ``.pth`` files
    and its ``.dist-info``. Without a RECORD, the entries named like its ``top_level.txt`` or itself."""
    if dist.files is not None:
        return {path.parts[0] for path in dist.files
                if not path.is_absolute() and path.parts[0] not in ("..", "__pycache__")}
    wanted = {canonicalize_name(name) for name in (dist.read_text("top_level.txt") or "").split()}
    wanted.add(canonicalize_name(dist.metadata["Name"]))
    return {entry.name for entry in Path(dist.locate_file("")).iterdir()
            if canonicalize_name(re.split(r"[.-]", entry.name)[0]) in wanted}


def tools_site(root: Path) -> Path:
    """A site directory of links to :data:`BUILD_TOOLS` and their dependencies in the kit's
    site-packages, made once per labstack home (beside :func:`tools_dir`) for every build's Python.

    It is named for the kit's versions of them, so upgrading the kit makes a new one; it is filled
    aside and renamed into place, so builds starting together never see half of it."""
    dists = tool_distributions(BUILD_TOOLS)
    stamp = "\n".join(sorted(f"{name}=={dist.version} {dist.locate_file('')}" for name, dist in dists.items()))
    sites = root / "tools-site"
    site_dir = sites / hashlib.sha256(stamp.encode()).hexdigest()[:16]
    if site_dir.is_dir():
        return site_dir
    sites.mkdir(parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=".draft-", dir=sites))
    for dist in dists.values():
        for name in _site_entries(dist):
            if not (draft / name).is_symlink():
                (draft / name).symlink_to(dist.locate_file(name))
    try:
        draft.rename(site_dir)
    except OSError:  # another build made it meanwhile
        shutil.rmtree(draft)
    return site_dir


def build_python(workspace: Path, tools: Path) -> Path:
    """The ``bin`` of a virtual environment the build has to itself, over labstack's Python.

    Like a CodeBuild image, it has the build tools but not the rest of the kit: it sees the site
    ``tools`` (see :func:`tools_site`), so pytest, coverage, bandit or boto3 are there without a
    download while the kit's other packages and pytest plugins are not. ``pip install`` lands in
    it: never in the kit's environment, and never in a system Python that refuses it (PEP 668).
    The tools' commands (``pip``, ``pytest``, ``coverage``…) run this Python. One per build, as
    each CodeBuild build gets a fresh container."""
    home = workspace / "python"
    bin_dir = home / "bin"
    if (bin_dir / "python3").exists():
        return bin_dir
    venv.EnvBuilder(with_pip=False, symlinks=True).create(home)
    site_packages = next((home / "lib").glob("python*/site-packages"))
    (site_packages / "_labstack_tools.pth").write_text(f"import site; site.addsitedir({str(tools)!r})\n")
    for dist in metadata.distributions(path=[str(tools)]):
        for command in dist.entry_points.select(group="console_scripts"):
            script = bin_dir / command.name
            script.write_text(f'#!/bin/sh\nexec "{bin_dir / "python3"}" -c "import sys, {command.module} as m; '
                              f'sys.argv[0] = {command.name!r}; sys.exit(m.{command.attr}())" "$@"\n')
            script.chmod(0o755)
    return bin_dir


def base_environment(tools: Path, python_bin: Path | None = None) -> dict[str, str]:
    """What a build starts from: labstack's allowlisted environment (see :func:`labstack.sandbox.environment`),
    with the kit's tools first on PATH, then the build's own Python (``python_bin``) when given."""
    return sandbox.environment([tools, *([python_bin] if python_bin else [])])


def resolve_parameter(name: str, ssm: Any) -> str:
    """A parameter-store value (decrypted), read as CodeBuild reads it: ``ssm:GetParameters`` with the
    build's role session."""
    try:
        found = ssm.get_parameters(Names=[name], WithDecryption=True)
    except ClientError as exc:
        raise VariableError(_error(exc)) from None
    if not found.get("Parameters"):
        raise VariableError(f"parameter does not exist: {name}")
    return found["Parameters"][0]["Value"]


def secret_arn(secret_id: str, secretsmanager: Any) -> str:
    """The full ARN (with its random suffix) of the secret a name or ARN names, which AWS authorizes a
    GetSecretValue on; ``secret_id`` itself when there is no such secret. ``secretsmanager`` is CodeBuild's
    own client: finding the secret is the service's business, reading it the role's."""
    try:
        return secretsmanager.describe_secret(SecretId=secret_id)["ARN"]
    except ClientError:
        return secret_id


def resolve_secret(reference: str, secretsmanager: Any, arn_of: Callable[[str], str] = str) -> str:
    """A secrets-manager value for ``secret-id:json-key:version-stage:version-id``, read with
    ``secretsmanager`` (the build's role session) by the ARN ``arn_of`` gives (see :func:`secret_arn`)."""
    if reference.startswith("arn:"):
        parts = reference.split(":")
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, *rest = reference.split(":")
    json_key, stage, version_id = (rest + ["", "", ""])[:3]
    args: dict[str, str] = {"SecretId": arn_of(secret_id)}
    if stage:
        args["VersionStage"] = stage
    if version_id:
        args["VersionId"] = version_id
    try:
        value = secretsmanager.get_secret_value(**args).get("SecretString", "")
    except ClientError as exc:
        raise VariableError(_error(exc), SECRETS_ERROR) from None
    if not json_key:
        return value
    try:
        data = json.loads(value)
    except ValueError:
        raise VariableError(f"secret {secret_id} is not a JSON object, so it has no key {json_key}", SECRETS_ERROR) from None
    if not isinstance(data, dict) or json_key not in data:
        raise VariableError(f"secret {secret_id} has no JSON key {json_key}", SECRETS_ERROR)
    item = data[json_key]
    return item if isinstance(item, str) else json.dumps(item)


def resolve_variables(declared: list[dict], ssm: Callable[[], Any], secrets: Callable[[], Any],
                      arn_of: Callable[[str], str] = str) -> tuple[dict[str, str], list[str]]:
    """Values of project-style variables (PLAINTEXT, PARAMETER_STORE, SECRETS_MANAGER); and the secret values."""
    values: dict[str, str] = {}
    hidden: list[str] = []
    for var in declared:
        kind = var.get("type", "PLAINTEXT")
        if kind == "PARAMETER_STORE":
            values[var["name"]] = resolve_parameter(var["value"], ssm())
            hidden.append(values[var["name"]])
        elif kind == "SECRETS_MANAGER":
            values[var["name"]] = resolve_secret(var["value"], secrets(), arn_of)
            hidden.append(values[var["name"]])
        else:
            values[var["name"]] = var["value"]
    return values, hidden


def runtime_problem(runtime: str, wanted: str) -> str | None:
    """Why the build environment cannot give ``runtime`` ``wanted``, or None if it can."""
    probes = {"python": ["python3", "--version"], "nodejs": ["node", "--version"]}
    probe = probes.get(runtime)
    if probe is None:
        return f"Unknown runtime named '{runtime}'. This build image has the following runtimes: {', '.join(probes)}"
    found = _probe(tuple(probe))
    if found is None:
        return f"Unknown runtime version named '{wanted}' of {runtime}: {probe[0]} is not installed"
    if wanted.lower() == "latest":
        return None
    want, have = _VERSION.match(wanted), _VERSION.search(found)
    if want is None or have is None:
        return f"Unknown runtime version named '{wanted}' of {runtime}"
    if want.group(1) != have.group(1) or (want.group(2) is not None and want.group(2) != have.group(2)):
        return (f"Unknown runtime version named '{wanted}' of {runtime}. "
                f"This build image has the following versions: {have.group(0)}")
    return None


_probed: dict[tuple[str, ...], str | None] = {}


def _probe(argv: tuple[str, ...]) -> str | None:
    if argv not in _probed:
        if shutil.which(argv[0]) is None:
            _probed[argv] = None
        else:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
                _probed[argv] = (done.stdout + done.stderr).strip()
            except (OSError, subprocess.TimeoutExpired):
                _probed[argv] = None
    return _probed[argv]


def jail(workspace: Path, control: Path, root: Path, settings: Any) -> sandbox.Jail:
    """The sandbox a build's shell runs in: only its ``workspace`` (and a /tmp inside it) writable, but
    for the ``control`` folder where labstack writes its commands (the shell's own part of it stays
    writable); labstack's home (``root`` is its builds folder), the learners file and the user's home
    hidden, except the kit's build tools (:func:`tools_dir`, :func:`tools_site`) and Python, shown read-only."""
    for folder in (workspace / "tmp", shell_dir(control)):
        folder.mkdir(parents=True, exist_ok=True)
    return sandbox.Jail.hiding(settings.home, settings.learners,
                               readable=(root / "bin", root / "tools-site", control.resolve()),
                               writable=(workspace.resolve(), shell_dir(control).resolve()), tmp=workspace / "tmp")
