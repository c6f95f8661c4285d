"""The ``batch`` section of a buildspec: the builds one batch build runs.

AWS's "Batch build buildspec reference": ``batch/build-list`` (builds that run in parallel),
``batch/build-matrix`` (one build per combination of the ``dynamic`` values, ``static`` settings
shared) and ``batch/build-graph`` (builds that wait for the builds they ``depend-on``), and
``batch/fast-fail``. Each entry may override the buildspec and the environment (``env``:
``compute-type``, ``image``, ``privileged-mode``, ``type``, ``variables``) and may ``ignore-failure``.

Every way a batch can be too big or impossible is refused here, before a build starts: more
builds than the project's ``maximumBuildsAllowed`` or labstack's own ceiling (counted before a
matrix is expanded), duplicate identifiers, a ``depend-on`` naming no build, a dependency cycle.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from labstack.services.codebuild.buildspec import BuildspecError, _mapping, _scalar, _strings, _yes, load

KINDS = ("build-list", "build-matrix", "build-graph")
# The most builds labstack runs in one batch, whatever maximumBuildsAllowed says: each is a real build.
CEILING = int(os.environ.get("LABSTACK_CODEBUILD_BATCH_MAX_BUILDS") or 100)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,128}$")
SOURCE_GROUP = "DOWNLOAD_SOURCE"  # the batch's own first build, which downloads the source
_ENV_OVERRIDES = {"compute-type": "computeTypeOverride", "image": "imageOverride", "type": "environmentTypeOverride"}
_ENTRY_KEYS = {"identifier", "buildspec", "debug-session", "depend-on", "env", "ignore-failure"}
_ENV_KEYS = {*_ENV_OVERRIDES, "privileged-mode", "variables"}


class BatchLimitError(BuildspecError):
    """The batch asks for more than it may: too many builds, or a compute type it may not use."""


@dataclass(frozen=True)
class Task:
    """One build of the batch: its identifier and what it overrides of the batch's build."""

    identifier: str
    buildspec: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # StartBuild's computeTypeOverride, imageOverride…
    variables: dict[str, str] = field(default_factory=dict)
    depend_on: tuple[str, ...] = ()
    ignore_failure: bool = False


@dataclass
class BatchSpec:
    """The checked ``batch`` section: its kind, fast-fail, and its builds in dependency order."""

    kind: str
    fast_fail: bool
    tasks: list[Task]


def read(text: str, allowed: int | None) -> BatchSpec:
    """The batch of buildspec ``text``; at most ``allowed`` builds (the project's maximumBuildsAllowed, None when
    it sets none) and labstack's :data:`CEILING`. Raises :class:`BuildspecError` saying what is wrong."""
    doc = load(text)
    batch = _mapping(doc, "batch")
    if "build-fanout" in batch:
        raise BuildspecError("batch/build-fanout (a test run split across builds) is not emulated by labstack; use "
                             "batch/build-list, batch/build-matrix or batch/build-graph")
    kinds = [k for k in KINDS if k in batch]
    if len(kinds) != 1:
        raise BuildspecError("a batch build needs a batch section with exactly one of batch/build-list, "
                             f"batch/build-matrix or batch/build-graph (found {', '.join(kinds) or 'none'})")
    unknown = set(batch) - {*KINDS, "fast-fail"}
    if unknown:
        raise BuildspecError(f"unknown batch setting(s): {', '.join(sorted(map(str, unknown)))}")
    kind = kinds[0]
    limit = min(allowed, CEILING) if allowed else CEILING
    if kind == "build-matrix":
        tasks = _matrix(_mapping(batch, "build-matrix", "batch"), allowed, limit)
    else:
        entries = batch[kind]
        if not isinstance(entries, list) or not entries:
            raise BuildspecError(f"batch/{kind} must be a non-empty list of builds")
        _check_count(len(entries), allowed, limit)
        tasks = [_entry(kind, index, body) for index, body in enumerate(entries, start=1)]
        tasks = _ordered(tasks) if kind == "build-graph" else _unique(tasks)
    return BatchSpec(kind, _yes(batch.get("fast-fail")), tasks)


def _check_count(count: int, allowed: int | None, limit: int) -> None:
    if count <= limit:
        return
    if allowed and count > allowed:
        raise BatchLimitError(f"Batch build has {count} builds; the project's buildBatchConfig allows at most "
                              f"{allowed} (restrictions/maximumBuildsAllowed)")
    raise BatchLimitError(f"Batch build has {count} builds; labstack runs at most {CEILING} builds in one batch")


def _entry(kind: str, index: int, body: Any) -> Task:
    where = f"batch/{kind}[{index}]"
    if not isinstance(body, dict):
        raise BuildspecError(f"{where} must be a mapping")
    unknown = set(body) - _ENTRY_KEYS
    if unknown:
        raise BuildspecError(f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    if body.get("identifier") is None:
        raise BuildspecError(f"{where}: identifier is required")
    identifier = _scalar(body["identifier"])
    if not IDENTIFIER.match(identifier):
        raise BuildspecError(f"{where}: identifier {identifier[:64]!r} must be 1 to 128 letters, digits or underscores")
    if identifier == SOURCE_GROUP:
        raise BuildspecError(f"{where}: identifier {SOURCE_GROUP} is the batch's own first build")
    overrides, variables = _env(f"{where}/env", _mapping(body, "env", where))
    depend_on = tuple(_strings(body.get("depend-on"), f"{where}/depend-on")) if kind == "build-graph" else ()
    if kind != "build-graph" and "depend-on" in body:
        raise BuildspecError(f"{where}: depend-on is only allowed in a build graph")
    return Task(identifier, _buildspec(body.get("buildspec"), where), overrides, variables, depend_on,
                _yes(body.get("ignore-failure")))


def _buildspec(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise BuildspecError(f"{where}/buildspec must be a path or an inline buildspec")
    return _scalar(value)


def _env(where: str, env: dict) -> tuple[dict[str, Any], dict[str, str]]:
    unknown = set(env) - _ENV_KEYS
    if "fleet" in unknown:
        raise BuildspecError(f"{where}/fleet: labstack has no reserved-capacity fleets; builds run on demand")
    if unknown:
        raise BuildspecError(f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    overrides: dict[str, Any] = {}
    for key, member in _ENV_OVERRIDES.items():
        if env.get(key) is not None:
            overrides[member] = _scalar(env[key])
    if "privileged-mode" in env:
        overrides["privilegedModeOverride"] = _yes(env["privileged-mode"])
    variables = {}
    for name, value in _mapping(env, "variables", where).items():
        if isinstance(value, (dict, list)):
            raise BuildspecError(f"{where}/variables/{name} must be a string")
        variables[str(name)] = _scalar(value)
    return overrides, variables


def _unique(tasks: list[Task]) -> list[Task]:
    seen: set[str] = set()
    for task in tasks:
        if task.identifier in seen:
            raise BuildspecError(f"build identifier {task.identifier} is used twice in the batch")
        seen.add(task.identifier)
    return tasks


def _ordered(tasks: list[Task]) -> list[Task]:
    """The graph's builds, each after the builds it depends on (Kahn's algorithm, no recursion, so a deep
    graph costs no stack); a depend-on naming no build, or a cycle, is refused."""
    by_id = {t.identifier: t for t in _unique(tasks)}
    waiting: dict[str, set[str]] = {}
    for task in tasks:
        for dep in task.depend_on:
            if dep == task.identifier:
                raise BuildspecError(f"build-graph: build {dep} depends on itself")
            if dep not in by_id:
                raise BuildspecError(f"build-graph: build {task.identifier} depends on {dep}, which is not a build "
                                     "of the graph")
        waiting[task.identifier] = set(task.depend_on)
    dependents: dict[str, list[str]] = {t.identifier: [] for t in tasks}
    for task in tasks:
        for dep in set(task.depend_on):
            dependents[dep].append(task.identifier)
    ready = [t.identifier for t in tasks if not waiting[t.identifier]]
    order: list[Task] = []
    while ready:
        ident = ready.pop(0)
        order.append(by_id[ident])
        for after in dependents[ident]:
            waiting[after].discard(ident)
            if not waiting[after]:
                ready.append(after)
    if len(order) < len(tasks):
        stuck = sorted(i for i, deps in waiting.items() if deps)
        shown = ", ".join(stuck[:10]) + (f" and {len(stuck) - 10} more" if len(stuck) > 10 else "")
        raise BuildspecError(f"build-graph has a dependency cycle: these builds wait on each other: {shown}")
    return order


def _values(value: Any, where: str) -> list[str]:
    values = _strings(value, where)
    if not values:
        raise BuildspecError(f"{where} must list at least one value")
    return values


def _matrix(matrix: dict, allowed: int | None, limit: int) -> list[Task]:
    """One build per combination of the dynamic values (buildspec, image, compute-type, then each variable, the
    first varying slowest, as AWS's examples list them), each with the static settings."""
    unknown = set(matrix) - {"static", "dynamic"}
    if unknown:
        raise BuildspecError(f"batch/build-matrix: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    static = _mapping(matrix, "static", "batch/build-matrix")
    if set(static) - {"ignore-failure", "env"}:
        raise BuildspecError("batch/build-matrix/static takes ignore-failure and env")
    base_overrides, base_variables = _env("batch/build-matrix/static/env", _mapping(static, "env", "batch/build-matrix/static"))
    dynamic = _mapping(matrix, "dynamic", "batch/build-matrix")
    if set(dynamic) - {"buildspec", "env"}:
        raise BuildspecError("batch/build-matrix/dynamic takes buildspec and env")
    env = _mapping(dynamic, "env", "batch/build-matrix/dynamic")
    if set(env) - {"compute-type", "image", "variables"}:
        raise BuildspecError("batch/build-matrix/dynamic/env takes compute-type, image and variables")
    axes: list[tuple[str, list[str]]] = []
    if dynamic.get("buildspec") is not None:
        axes.append(("buildspec", _values(dynamic["buildspec"], "batch/build-matrix/dynamic/buildspec")))
    for key in ("image", "compute-type"):
        if env.get(key) is not None:
            axes.append((_ENV_OVERRIDES[key], _values(env[key], f"batch/build-matrix/dynamic/env/{key}")))
    for name, values in _mapping(env, "variables", "batch/build-matrix/dynamic/env").items():
        axes.append((f"variable:{name}", _values(values, f"batch/build-matrix/dynamic/env/variables/{name}")))
    if not axes:
        raise BuildspecError("batch/build-matrix/dynamic must vary the buildspec, an image, a compute type or a variable")
    _check_count(math.prod(len(values) for _, values in axes), allowed, limit)  # before a combination is made
    combos: list[list[tuple[str, str]]] = [[]]
    for key, values in axes:
        combos = [[*combo, (key, value)] for combo in combos for value in values]
    tasks = []
    for index, combo in enumerate(combos, start=1):
        overrides, variables, spec = dict(base_overrides), dict(base_variables), None
        for key, value in combo:
            if key == "buildspec":
                spec = value
            elif key.startswith("variable:"):
                variables[key.split(":", 1)[1]] = value
            else:
                overrides[key] = value
        tasks.append(Task(f"build_matrix_{index}", spec, overrides, variables, (), _yes(static.get("ignore-failure"))))
    return tasks
