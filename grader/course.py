"""A course release: what an instructor hands to learners for labs 1..N.

``grader release --course DIR --labs N`` writes the kit as learners get it: the files git tracks
(less the tests, benchmarks and CI), the learner notebooks of labs 1..N, the checks of labs 1..N
with the code of every hidden check left out, and the solutions of the labs before N (catching
up on lab k runs the solutions of labs 1..k-1) without their hidden tests. It goes to a folder,
a zip, or nbgrader's exchange (the kit as one assignment, each lab as another).

A hidden check stays registered (id, points, ``hidden=True``) with a body that fails saying your
instructor grades it; the module lists those checks in ``WITHHELD``, so the notebook API and
catching up run the checks this copy holds and say which ones the instructor grades.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
import subprocess
import tempfile
import tokenize
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from grader import checks, grading, notebooks
from grader.checks import Check

KIT_ASSIGNMENT = "cicd-lab-kit"  # the kit's name as an assignment in nbgrader's exchange
# What git tracks that learners never get: the instructor's tests, benchmarks and CI, and the solutions
# (the release writes those of the labs before N itself, as it writes the learner notebooks of labs 1..N).
LEFT_OUT = ("tests/", "bench/", ".ci/", "solutions/")
WITHHELD_MESSAGE = ("graded by your instructor: this copy of the kit leaves the hidden checks' code out "
                    "(the instructor's copy runs it when grading)")
CHECK_MODULE = re.compile(r"^grader/checks/lab(\d\d)\.py$")


@dataclass(frozen=True)
class Release:
    """What :func:`build` wrote: where it went and what it holds."""

    path: Path  # the folder, the zip, or the course directory released into the exchange
    labs: tuple[str, ...]  # the learner notebooks
    solutions: tuple[str, ...]  # the solutions shipped for catching up
    withheld: tuple[str, ...]  # the hidden checks whose code was left out, ``labNN:id``
    assignments: tuple[str, ...] = ()  # what learners can fetch from the exchange


def withheld(module: ModuleType) -> frozenset[str]:
    """The ids of the hidden checks of a lab's checks module that a course release left out (none in the full kit)."""
    return frozenset(getattr(module, "WITHHELD", ()))


def runnable(module: ModuleType, ids: tuple[str, ...], hidden: bool) -> list[Check]:
    """The checks of ``module`` that :func:`grader.checks.select` picks, less the hidden checks this copy of
    the kit leaves out (unless named in ``ids``, when their body says who grades them)."""
    chosen = checks.select(module.CHECKS, ids, hidden)
    return chosen if ids else [c for c in chosen if c.id not in withheld(module)]


def withheld_note(module: ModuleType) -> str | None:
    """A line for the learner when this copy of the kit leaves out some of ``module``'s hidden checks."""
    held = [c for c in module.CHECKS if c.id in withheld(module)]
    if not held:
        return None
    return (f"{len(held)} hidden checks ({sum(c.points for c in held)} points: {', '.join(c.id for c in held)}) "
            "are graded by your instructor; this copy of the kit leaves their code out.")


# --- the kit's files -----------------------------------------------------------------------

def kit_files(root: Path) -> list[str]:
    """The kit's files as learners get them: what git tracks in ``root`` and exists on disk, less :data:`LEFT_OUT`.

    Untracked files (a learners file, keys, state, virtual environments, build workspaces) are never listed."""
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"], capture_output=True,
                            check=True).stdout.decode().split("\0")
    return sorted(path for path in listed
                  if path and not path.startswith(LEFT_OUT) and (root / path).is_file() and not (root / path).is_symlink())


# --- hidden checks out of the source ---------------------------------------------------------

def _hidden(node: ast.stmt) -> str | None:
    """The id of the check ``node`` registers with ``hidden=True``, if it does."""
    if not isinstance(node, ast.FunctionDef):
        return None
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        if any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in decorator.keywords):
            named = [a for a in decorator.args[:1]] + [k.value for k in decorator.keywords if k.arg == "id"]
            if named and isinstance(named[0], ast.Constant) and isinstance(named[0].value, str):
                return named[0].value
            raise ValueError(f"the hidden check {node.name} (line {node.lineno}) names its id by an expression; "
                             "a course release needs it written out")
    return None


def _offset(lines: list[str], line: int, column: int) -> int:
    """The character offset in the joined ``lines`` of ast's (1-based line, UTF-8 byte column)."""
    return sum(map(len, lines[:line - 1])) + len(lines[line - 1].encode()[:column].decode())


def _cut(source: str, spans: list[tuple[int, int, str]]) -> str:
    """``source`` with each (start, end) character span replaced by its text."""
    for start, end, text in sorted(spans, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def _header_end(source: str, node: ast.FunctionDef) -> int:
    """The line of the colon that ends ``node``'s ``def`` line(s)."""
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.start < (node.lineno, node.col_offset) or token.type != tokenize.OP:
            continue
        depth += (token.string in "([{") - (token.string in ")]}")
        if token.string == ":" and depth == 0:
            return token.start[0]
    raise ValueError(f"no end to the signature of {node.name}")


def _binds_fail(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "Fail" for a in node.names)
               for node in tree.body)


def strip_hidden(sources: dict[str, str], elsewhere: str = "") -> dict[str, tuple[str, tuple[str, ...]]]:
    """Leave the hidden checks' code out of the lab check modules ``sources`` (path -> source text).

    Each check registered with ``hidden=True`` keeps its decorator (id, points, hint) and signature; its
    body becomes one ``raise Fail(...)`` saying the instructor grades it. A module-level function that
    no remaining code in these modules or in ``elsewhere`` (the kit's other Python) names is left out
    too, until none is. Everything else stays as written. Returns path -> (new source, withheld ids)."""
    trees = {path: ast.parse(text) for path, text in sources.items()}
    lines = {path: text.splitlines(keepends=True) for path, text in sources.items()}
    cuts: dict[str, list[tuple[int, int, str]]] = {path: [] for path in sources}
    ids: dict[str, list[str]] = {path: [] for path in sources}
    stub = "raise Fail(INSTRUCTOR_GRADES)"
    for path, tree in trees.items():
        for node in tree.body:
            check_id = _hidden(node)
            if check_id is None:
                continue
            assert isinstance(node, ast.FunctionDef)
            first, last_line = node.body[0], node.end_lineno or node.lineno
            signature = _header_end(sources[path], node)
            stop = _offset(lines[path], last_line, len(lines[path][last_line - 1].rstrip("\n").encode()))
            if first.lineno > signature:  # the whole lines after the signature: comments and docstring too
                start = _offset(lines[path], signature + 1, 0)
                cuts[path].append((start, stop, " " * first.col_offset + stub))
            else:  # a body on the line of its ``def``
                cuts[path].append((_offset(lines[path], first.lineno, first.col_offset), stop, stub))
            ids[path].append(check_id)

    helpers = {path: [n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.decorator_list]
               for path, tree in trees.items()}
    while True:  # a helper left out may leave another unused
        unused = []
        for path, functions in helpers.items():
            for fn in functions:
                start = sum(map(len, lines[path][:fn.lineno - 1]))
                stop = sum(map(len, lines[path][:fn.end_lineno or fn.lineno]))
                while stop < len(sources[path]) and sources[path][stop] == "\n":
                    stop += 1  # the blank lines after it go with it
                rest = elsewhere + "".join(_cut(text, cuts[other] + ([(start, stop, "")] if other == path else []))
                                           for other, text in sources.items())
                if not re.search(rf"\b{re.escape(fn.name)}\b", rest):
                    unused.append((path, fn, (start, stop, "")))
        if not unused:
            break
        for path, fn, span in unused:
            cuts[path].append(span)
            helpers[path].remove(fn)

    result = {}
    for path, text in sources.items():
        stripped = _cut(text, cuts[path])
        if ids[path]:
            stripped = stripped.rstrip("\n") + "\n\n\n"
            if not _binds_fail(trees[path]):
                stripped += "from grader.checks import Fail  # noqa: E402 - the withheld checks' bodies raise it\n"
            stripped += ("# `grader release --course` left out the code of these hidden checks: your instructor grades them.\n"
                         f"WITHHELD = {tuple(ids[path])!r}\nINSTRUCTOR_GRADES = {WITHHELD_MESSAGE!r}\n")
        result[path] = (stripped, tuple(ids[path]))
    return result


# --- the release ---------------------------------------------------------------------------

def _solution_for_learners(source: Path, target: Path) -> None:
    """Copy a solution notebook without its hidden tests and outputs (what catching up runs)."""
    content = json.loads(source.read_text())
    for cell in content["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = grading.HIDDEN_TESTS.sub("", text)
        cell["outputs"], cell["execution_count"] = [], None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")


def _write_kit(dest: Path, last: int) -> Release:
    """Write the kit for labs 1..``last`` into the empty (or new) folder ``dest`` (see the module's docstring)."""
    root = notebooks.ROOT
    numbers = [n for n in checks.lab_numbers() if n <= last]
    slugs = {notebooks.slug(n) for n in checks.lab_numbers()}
    modules: dict[str, str] = {}
    for path in kit_files(root):
        number = CHECK_MODULE.match(path)
        if (number and int(number[1]) > last) or (path.startswith("labs/") and Path(path).stem in slugs):
            continue  # the checks of labs not released yet; learner notebooks, written from the solutions below
        if number:
            modules[path] = (root / path).read_text()
            continue
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, dest / path)
    labs = tuple(grading.release(n, dest / "labs").name for n in numbers)
    solutions = []
    for n in numbers[:-1]:
        target = dest / "solutions" / notebooks.solution(n).name
        _solution_for_learners(notebooks.solution(n), target)
        solutions.append(target.name)
    elsewhere = "".join(p.read_text() for p in sorted(dest.rglob("*")) if p.suffix in (".py", ".ipynb") and p.is_file())
    withheld_ids = []
    for path, (text, ids) in strip_hidden(modules, elsewhere).items():
        module = checks.lab_module(int(CHECK_MODULE.match(path)[1]))  # type: ignore[index]
        hidden = {c.id for c in module.CHECKS if c.hidden}
        if set(ids) != hidden:
            raise ValueError(f"{path}: the hidden checks {', '.join(sorted(hidden - set(ids)))} are not registered "
                             "with @check(..., hidden=True) on a function, so a course release cannot leave them out")
        (dest / path).write_text(text)
        withheld_ids += [f"{module.__name__.rsplit('.', 1)[1]}:{i}" for i in ids]
    return Release(dest, labs, tuple(solutions), tuple(withheld_ids))


def build(dest: Path, last: int, *, archive: bool = False, exchange: Path | None = None,
          course_id: str | None = None) -> Release:
    """Release labs 1..``last`` of this kit to learners, into a new or empty place.

    The kit goes into the folder ``dest``; with ``archive``, into the zip ``dest.zip`` (one top folder)
    instead; with ``exchange``, ``dest`` becomes an nbgrader course directory whose ``release/`` holds the
    kit and each lab's notebook as assignments, which nbgrader's release_assignment puts into the exchange
    at ``exchange`` for course ``course_id``, where learners fetch them."""
    base = dest.with_suffix("") if archive and dest.suffix == ".zip" else dest
    target = base.with_name(base.name + ".zip") if archive else dest
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target} already exists: a course release goes to a new or empty place, so nothing "
                         "of an earlier one (a later lab's solution) comes along")
    if last not in checks.lab_numbers():
        raise ValueError(f"there is no lab {last}; labs with checks: {', '.join(map(str, checks.lab_numbers()))}")
    if exchange is not None and not course_id:
        raise ValueError("releasing into nbgrader's exchange needs the course id (--course-id)")
    if archive:
        with tempfile.TemporaryDirectory(prefix="grader-course-") as tmp:
            release = _write_kit(Path(tmp) / base.name, last)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.make_archive(str(base), "zip", root_dir=tmp, base_dir=base.name)
        return replace(release, path=target)
    if exchange is None:
        dest.mkdir(parents=True, exist_ok=True)
        return _write_kit(dest, last)
    kit = dest / "release" / KIT_ASSIGNMENT
    kit.mkdir(parents=True)
    release = _write_kit(kit, last)
    assignments = [KIT_ASSIGNMENT]
    for lab in release.labs:
        folder = dest / "release" / Path(lab).stem
        folder.mkdir()
        shutil.copy2(kit / "labs" / lab, folder / lab)
        assignments.append(folder.name)
    config = grading.course_config(dest)
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.course_id = course_id
    config.Exchange.root = str(exchange)
    config.ExchangeReleaseAssignment.force = True  # releasing labs 1..N+1 after 1..N replaces the kit
    api = grading._api(config)
    for assignment in assignments:
        grading._succeeded(api.release_assignment(assignment), f"release {assignment} into {exchange}")
    return replace(release, path=dest, assignments=tuple(assignments))
