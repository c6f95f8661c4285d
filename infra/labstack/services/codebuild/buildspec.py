"""Parse and check a buildspec (version 0.2), as CodeBuild reads it in DOWNLOAD_SOURCE."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from labstack.services.codebuild.patterns import PatternError, compile_pattern

PHASES = ("install", "pre_build", "build", "post_build")
SHELLS = ("bash", "sh")
REPORT_FORMATS = {
    "JUNITXML": "TEST", "CUCUMBERJSON": "TEST", "TESTNG": "TEST", "NUNITXML": "TEST", "NUNIT3XML": "TEST",
    "VISUALSTUDIOTRX": "TEST", "CLOVERXML": "CODE_COVERAGE", "COBERTURAXML": "CODE_COVERAGE",
    "JACOCOXML": "CODE_COVERAGE", "SIMPLECOV": "CODE_COVERAGE",
}
MAX_BUILDSPEC_BYTES = 255 * 1024  # larger inline buildspecs are refused before parsing


class BuildspecError(ValueError):
    """A buildspec CodeBuild would refuse; the message is the parser's or the rule broken."""


@dataclass(frozen=True)
class Retry:
    """``on-failure: RETRY[-count][-regex]``: run the failed phase again, up to ``count`` more times,
    while its failure message matches ``pattern``."""

    count: int = 3
    pattern: str = ".*"


@dataclass
class Phase:
    """One of install, pre_build, build, post_build."""

    name: str
    commands: list[str] = field(default_factory=list)
    finally_commands: list[str] = field(default_factory=list)
    on_failure: str | Retry | None = None  # None: the build phase transitions decide
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass
class FileSet:
    """The ``files``/``base-directory``/``discard-paths``/``name`` of an artifact or cache."""

    files: list[str] = field(default_factory=list)
    base_directory: str = ""
    discard_paths: bool = False
    name: str = ""
    exclude: list[str] = field(default_factory=list)


@dataclass
class Report:
    """A ``reports`` entry: files read after the build, in one format."""

    name: str
    files: FileSet
    file_format: str = "JUNITXML"

    @property
    def report_type(self) -> str:
        return REPORT_FORMATS[self.file_format]


@dataclass
class Buildspec:
    """A checked buildspec."""

    shell: str = "bash"
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: list[str] = field(default_factory=list)
    phases: dict[str, Phase] = field(default_factory=dict)
    artifacts: FileSet | None = None
    secondary_artifacts: dict[str, FileSet] = field(default_factory=dict)
    cache_paths: list[str] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)


def load(text: str) -> dict:
    """``text`` as a buildspec 0.2 document (a mapping), before its sections are read; raise
    :class:`BuildspecError` saying what is wrong. A batch build reads its ``batch`` section from it."""
    if len(text.encode()) > MAX_BUILDSPEC_BYTES:
        raise BuildspecError(f"buildspec is {len(text.encode())} bytes; the limit is {MAX_BUILDSPEC_BYTES} bytes")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildspecError(f"YAML file does not parse: {exc}".replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise BuildspecError("YAML file does not have a mapping at its top level")
    version = str(doc.get("version", ""))
    if version != "0.2":
        raise BuildspecError(f"invalid buildspec version {version or '(none)'}: labstack runs version 0.2")
    return doc


def parse(text: str) -> Buildspec:
    """Read ``text`` as a buildspec 0.2; raise :class:`BuildspecError` saying what is wrong."""
    doc = load(text)
    spec = Buildspec()
    _read_env(spec, _mapping(doc, "env"))
    phases = _mapping(doc, "phases")
    for name, body in phases.items():
        if name not in PHASES:
            raise BuildspecError(f"unknown phase {name!r}; phases are {', '.join(PHASES)}")
        spec.phases[name] = _phase(name, body or {})
    artifacts = _mapping(doc, "artifacts")
    if artifacts:
        spec.artifacts = _file_set("artifacts", artifacts)
        for ident, body in _mapping(artifacts, "secondary-artifacts", "artifacts").items():
            spec.secondary_artifacts[str(ident)] = _file_set(f"artifacts/secondary-artifacts/{ident}", body)
    spec.cache_paths = _strings(_mapping(doc, "cache").get("paths"), "cache/paths")
    for name, body in _mapping(doc, "reports").items():
        if not isinstance(body, dict):
            raise BuildspecError(f"reports/{name} must be a mapping")
        file_format = str(body.get("file-format", "JUNITXML")).upper()
        if file_format not in REPORT_FORMATS:
            raise BuildspecError(f"reports/{name}: unknown file-format {file_format}; one of {', '.join(REPORT_FORMATS)}")
        spec.reports.append(Report(str(name), _file_set(f"reports/{name}", body), file_format))
    return spec


def _mapping(doc: dict, key: str, where: str = "") -> dict:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BuildspecError(f"{where + '/' if where else ''}{key} must be a mapping")
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int, float)):
        return [_scalar(value)]
    if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
        raise BuildspecError(f"{where} must be a list of strings")
    return [_scalar(v) for v in value]


def _yes(value: Any) -> bool:
    return value is True or _scalar(value).lower() in ("yes", "true")


def _read_env(spec: Buildspec, env: dict) -> None:
    shell = _scalar(env.get("shell") or "bash")
    if shell not in SHELLS:
        raise BuildspecError(f"env/shell {shell!r} is not supported on Linux; use bash or sh")
    spec.shell = shell
    for key, target in (("variables", spec.variables), ("parameter-store", spec.parameter_store),
                        ("secrets-manager", spec.secrets_manager)):
        for name, value in _mapping(env, key, "env").items():
            if isinstance(value, (dict, list)):
                raise BuildspecError(f"env/{key}/{name} must be a string")
            target[str(name)] = _scalar(value)
    spec.exported_variables = _strings(env.get("exported-variables"), "env/exported-variables")


def _phase(name: str, body: Any) -> Phase:
    if not isinstance(body, dict):
        raise BuildspecError(f"phases/{name} must be a mapping")
    on_failure = _on_failure(name, body.get("on-failure"))
    runtimes = body.get("runtime-versions") or {}
    if runtimes and name != "install":
        raise BuildspecError(f"runtime-versions is only allowed in the install phase, not {name}")
    if not isinstance(runtimes, dict):
        raise BuildspecError("phases/install/runtime-versions must be a mapping")
    finally_body = body.get("finally")
    if isinstance(finally_body, dict):  # `finally: {commands: [...]}` is accepted as well as a list
        finally_body = finally_body.get("commands")
    return Phase(
        name,
        _strings(body.get("commands"), f"phases/{name}/commands"),
        _strings(finally_body, f"phases/{name}/finally"),
        on_failure,
        {str(k): _scalar(v) for k, v in runtimes.items()},
    )


_RETRY_COUNT = re.compile(r"(\d+)(?:-(.*))?", re.S)


def _on_failure(name: str, value: Any) -> str | Retry | None:
    """``ABORT``, ``CONTINUE``, a :class:`Retry` (``RETRY``, ``RETRY-count``, ``RETRY-regex``,
    ``RETRY-count-regex``), or None when unset."""
    if value is None:
        return None
    text = _scalar(value).strip()
    if text.upper() in ("ABORT", "CONTINUE"):
        return text.upper()
    if text[:5].upper() != "RETRY" or (len(text) > 5 and text[5] != "-"):
        raise BuildspecError(f"phases/{name}/on-failure must be ABORT, CONTINUE, RETRY, RETRY-count, RETRY-regex "
                             f"or RETRY-count-regex, not {text}")
    rest = text[6:]
    counted = _RETRY_COUNT.fullmatch(rest)
    count, pattern = (int(counted.group(1)), counted.group(2) or ".*") if counted else (3, rest or ".*")
    if not 0 <= count <= 100:
        raise BuildspecError(f"phases/{name}/on-failure: the retry count must be between 0 and 100, not {count}")
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise BuildspecError(f"phases/{name}/on-failure: {exc}") from None
    return Retry(count, pattern)


def _file_set(where: str, body: dict) -> FileSet:
    files = _strings(body.get("files"), f"{where}/files")
    if not files:
        raise BuildspecError(f"{where}/files must name at least one file")
    return FileSet(
        files=files,
        base_directory=_scalar(body.get("base-directory")).strip("/"),
        discard_paths=_yes(body.get("discard-paths")),
        name=_scalar(body.get("name")),
        exclude=_strings(body.get("exclude-paths"), f"{where}/exclude-paths"),
    )
