"""A course release (`grader release --course DIR --labs N`): what learners get for labs 1..N, and what
they never get (the hidden checks' code, later solutions, hidden tests, secrets, the kit's state)."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from grader import catchup, checks, course, notebooks
from grader.cli import main
from tests.support.grading import session_for
from tests.support.server import LabstackProcess

LABS = checks.lab_numbers()

# What the released copy reports about its own checks, from a process that imports that copy.
DESCRIBE = textwrap.dedent("""
    import builtins, dis, hashlib, json, sys, grader
    from grader import checks

    def digest(code):
        parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
        for const in code.co_consts:
            parts.append(digest(const).encode() if hasattr(const, "co_code") else repr(const).encode())
        return hashlib.sha256(b"|".join(parts)).hexdigest()

    def globals_read(code):
        names = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
        for const in code.co_consts:
            if hasattr(const, "co_code"):
                names |= globals_read(const)
        return names

    out = {"file": grader.__file__, "labs": checks.lab_numbers(), "modules": {}}
    for number in checks.lab_numbers():
        module = checks.lab_module(number)
        functions = [v for v in vars(module).values() if callable(v) and getattr(v, "__module__", "") == module.__name__]
        bodies = [c.body for c in module.CHECKS] + [f for f in functions if hasattr(f, "__code__")]
        unresolved = set().union(*(globals_read(b.__code__) for b in bodies)) - set(vars(module)) - set(dir(builtins))
        out["modules"][number] = {
            "checks": [[c.id, c.points, c.hint, c.hidden, list(c.uses), digest(c.body.__code__)] for c in module.CHECKS],
            "withheld": sorted(getattr(module, "WITHHELD", ())), "unresolved": sorted(unresolved)}
    json.dump(out, sys.stdout)
""")


def _in_copy(kit: Path, code: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python whose ``grader`` is the released copy at ``kit``."""
    env = {**(env or os.environ), "PYTHONPATH": str(kit)}
    return subprocess.run([sys.executable, "-c", code], cwd=kit, env=env, capture_output=True, text=True, check=check)


def _described(kit: Path) -> dict:
    return json.loads(_in_copy(kit, DESCRIBE).stdout)


def _body_lines(check: checks.Check) -> list[str]:
    """The substantial lines of a check's body, as its module spells them (the signature and decorator left out)."""
    source = inspect.getsource(check.body.__code__)
    body = source.split(") -> str:\n", 1)[1]
    return [line.strip() for line in body.splitlines() if len(line.strip()) > 24]


def _distinctive(number: int) -> list[str]:
    """The lines of lab ``number``'s hidden checks' bodies that no other code of the kit has."""
    grader_code = "".join(p.read_text() for folder in ("grader", "infra") for p in sorted((notebooks.ROOT / folder).rglob("*.py")))
    hidden = [line for n in LABS for c in checks.lab_module(n).CHECKS if c.hidden for line in _body_lines(c)]
    module = checks.lab_module(number)
    return [line for c in module.CHECKS if c.hidden for line in _body_lines(c)
            if grader_code.count(line) == hidden.count(line)]


HOSTILE_MODULE = textwrap.dedent('''
    from functools import partial
    from grader.checks import check as _check

    CHECKS = []
    check = partial(_check, CHECKS)


    def _shared(session):
        return "shared"


    def _only_hidden(session):
        return _only_hidden_too(session) + "-secret-helper"


    def _only_hidden_too(session):
        return "secret-inner"


    @check("deep", 2, "a hint stays", hidden=True)
    def deep(
        session: dict = {"k": 1},
    ) -> str:
        """secret-docstring"""
        # secret-comment
        return _only_hidden(session) + _shared(session)  # secret-trailing


    @check("quick", 1, "h", hidden=True)
    def quick(session): return "secret-one-liner"


    @check("seen", 1, "h")
    def seen(session) -> str:
        return _shared(session)
''')


def test_a_hidden_body_goes_whole_and_the_helpers_only_it_used_with_it(tmp_path: Path) -> None:
    stripped, ids = course.strip_hidden({"labXX.py": HOSTILE_MODULE})["labXX.py"]
    assert ids == ("deep", "quick") and "secret" not in stripped and "_only_hidden" not in stripped
    before, after = HOSTILE_MODULE.index("def _only_hidden("), HOSTILE_MODULE.index("@check(")
    body, tail = HOSTILE_MODULE.index('    """secret-docstring'), HOSTILE_MODULE.index("\n\n\n@check(\"quick\"")
    assert stripped.startswith(HOSTILE_MODULE[:before] + HOSTILE_MODULE[after:body]  # the rest as written
                               + "    raise Fail(INSTRUCTOR_GRADES)" + HOSTILE_MODULE[tail:].replace(
                                   'return "secret-one-liner"', "raise Fail(INSTRUCTOR_GRADES)"))
    space: dict = {}
    exec(compile(stripped, "labXX.py", "exec"), space)  # noqa: S102 - the stripped module, as the copy imports it
    results = {c.id: c.run(None) for c in space["CHECKS"]}  # type: ignore[arg-type]
    assert [(c.id, c.points, c.hint, c.hidden) for c in space["CHECKS"]] == [
        ("deep", 2, "a hint stays", True), ("quick", 1, "h", True), ("seen", 1, "h", False)]
    assert results["seen"].passed and results["seen"].message == "shared"
    assert not results["deep"].passed and "graded by your instructor" in results["deep"].message
    assert space["WITHHELD"] == ("deep", "quick")
    with pytest.raises(ValueError, match="names its id by an expression"):
        course.strip_hidden({"m.py": HOSTILE_MODULE.replace('@check("quick"', "@check(NAME")})


def test_each_hidden_check_keeps_its_id_and_points_but_not_its_code(tmp_path: Path) -> None:
    made = course.build(tmp_path / "kit", LABS[-1])
    copy, instructor = _described(made.path), _described(notebooks.ROOT)
    assert copy["file"] == str(made.path / "grader" / "__init__.py")  # the copy, not the instructor's install
    for number in LABS:
        module = checks.lab_module(number)
        # the whole repository (a self-paced learner, the instructor) runs every check, as before
        assert course.runnable(module, (), True) == module.CHECKS and course.withheld_note(module) is None
        seen = copy["modules"][str(number)]
        full = {c.id: c for c in module.CHECKS}
        assert [row[:5] for row in seen["checks"]] == [[c.id, c.points, c.hint, c.hidden, list(c.uses)] for c in module.CHECKS]
        assert seen["withheld"] == sorted(c.id for c in module.CHECKS if c.hidden) != []
        assert seen["unresolved"] == []  # every name the remaining code reads is still there
        for row, original in zip(seen["checks"], instructor["modules"][str(number)]["checks"]):
            # a visible check's code is the instructor's, to the bytecode; a hidden one's is not
            assert (row[5] == original[5]) is (not full[row[0]].hidden), row[0]
        text = (made.path / "grader" / "checks" / f"lab{number:02d}.py").read_text()
        lines = _distinctive(number)
        assert len(lines) >= len(seen["withheld"])
        assert [line for line in lines if line in text] == []
    assert sorted(made.withheld) == sorted(f"lab{n:02d}:{c.id}" for n in LABS for c in checks.lab_module(n).CHECKS
                                           if c.hidden)


def _learner_env(labstack: LabstackProcess, session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A learner's environment: the kit's variables gone, labstack and ``session``'s keys in."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_"))},
            "AWS_ENDPOINT_URL": labstack.endpoint, "AWS_DEFAULT_REGION": "us-east-1", **session.credentials_env()}


def test_the_released_visible_checks_judge_as_the_instructors_do(labstack: LabstackProcess, tmp_path: Path) -> None:
    kit = course.build(tmp_path / "kit", LABS[-1]).path
    session = session_for(labstack)  # an empty account: every check runs until it finds what is missing
    seen = json.loads(_in_copy(kit, textwrap.dedent("""
        import json, grader
        print(json.dumps({n: [[r.id, r.passed, r.message] for r in grader.Lab(n).report().results]
                          for n in grader.checks.lab_numbers()}))
    """), _learner_env(labstack, session)).stdout.splitlines()[-1])
    for number in LABS:
        module = checks.lab_module(number)
        expected = checks.run(module.TITLE, session, checks.select(module.CHECKS, (), hidden=False))
        assert seen[str(number)] == [[r.id, r.passed, r.message] for r in expected.results]
        assert not [m for _, _, m in seen[str(number)] if "the check itself failed" in m]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


def test_only_what_git_tracks_goes_out_never_a_learners_file_state_or_environments(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    for path in ("Makefile", "grader/x.py", "tests/test_x.py", "bench/b.py", ".ci/run", "solutions/01_a.ipynb"):
        (kit / path).parent.mkdir(parents=True, exist_ok=True)
        (kit / path).write_text("tracked\n")
    _git(kit, "init", "-q")
    _git(kit, "add", ".")
    _git(kit, "commit", "-q", "-m", "kit")
    # what an instructor's checkout also holds: the class's keys, labstack's state and builds, a venv, caches
    subprocess.run([sys.executable, "-m", "labstack", "learners", "new", "2", "--out", str(kit / "class.csv")], check=True,
                   capture_output=True)
    for path in (".venv/bin/python", ".labstack/builds/b-1/src/app.py", ".labstack/git/repo.git/HEAD",
                 "grader/__pycache__/x.cpython-311.pyc", "notes.txt"):
        (kit / path).parent.mkdir(parents=True, exist_ok=True)
        (kit / path).write_text("untracked\n")
    (kit / "leak").symlink_to(kit / "class.csv")
    _git(kit, "add", "leak")  # even a tracked link to it: a link is not a file of the kit
    assert course.kit_files(kit) == ["Makefile", "grader/x.py"]


def _member_text(archive: zipfile.ZipFile, name: str) -> str:
    return archive.read(name).decode(errors="replace")


def test_a_zipped_course_holds_labs_1_to_n_and_nothing_it_must_not(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    last = 3
    assert main(["release", "--course", str(tmp_path / "course"), "--labs", str(last), "--zip"]) == 0
    said = capsys.readouterr().out
    assert "solutions, for catching up: 01_repo_setup.ipynb, 02_codebuild.ipynb" in said
    with zipfile.ZipFile(tmp_path / "course.zip") as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        assert all(n.startswith("course/") for n in archive.namelist())
        files = {n.removeprefix("course/") for n in names}
        parts = {part for name in files for part in Path(name).parts}
        assert parts.isdisjoint({".git", ".venv", ".labstack", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"})
        assert {Path(name).parts[0] for name in files}.isdisjoint({"tests", "bench", ".ci", "build", "dist"})
        assert not [n for n in files if n.endswith((".pyc", ".csv")) or ".egg-info" in n]
        assert sorted(n for n in files if n.startswith("labs/")) == [
            "labs/00_start_here.ipynb", *(f"labs/{notebooks.slug(n)}.ipynb" for n in range(1, last + 1))]
        assert sorted(n for n in files if n.startswith("solutions/")) == [
            f"solutions/{notebooks.slug(n)}.ipynb" for n in range(1, last)]  # none of lab N or later
        assert sorted(n for n in files if n.startswith("grader/checks/lab")) == [
            f"grader/checks/lab{n:02d}.py" for n in range(1, last + 1)]
        assert {"Makefile", "pyproject.toml", "requirements.lock", "grader/cli.py", "infra/labstack/server.py",
                "infra/sample-app/buildspec.yml"} <= files
        texts = {name: _member_text(archive, "course/" + name) for name in files}
    hidden_code = [line for n in LABS for line in _distinctive(n)]
    leaks = [(name, line) for name, text in texts.items() for line in hidden_code if line in text]
    assert leaks == []
    hidden_ids = [c.id for n in LABS for c in checks.lab_module(n).CHECKS if c.hidden]
    for name, text in texts.items():
        if name.endswith(".ipynb"):
            assert "HIDDEN TESTS" not in text and not [i for i in hidden_ids if f'"{i}"' in text or f"'{i}'" in text], name
    assert not [name for name, text in texts.items() if text.startswith("learner,account_id,")]
    for number in range(1, last):  # the shipped solutions still solve: their solution regions are there
        cells = json.loads(texts[f"solutions/{notebooks.slug(number)}.ipynb"])["cells"]
        assert any("### BEGIN SOLUTION" in "".join(c["source"]) for c in cells)
        assert all(c.get("outputs", []) == [] for c in cells if c["cell_type"] == "code")


def test_a_course_never_goes_over_an_earlier_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["release", "--course", str(tmp_path / "course"), "--labs", "3"]) == 0
    capsys.readouterr()
    assert main(["release", "--course", str(tmp_path / "course"), "--labs", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "course" / "solutions" / "02_codebuild.ipynb").exists()  # untouched, not mixed in
    assert main(["release", "--course", str(tmp_path / "other"), "--labs", "9"]) == 2
    assert "there is no lab 9" in capsys.readouterr().err and not (tmp_path / "other").exists()
    assert main(["release", "--course", str(tmp_path / "other"), "--labs", "2", "--exchange", str(tmp_path / "x")]) == 2
    assert "--course-id" in capsys.readouterr().err and not (tmp_path / "other").exists()


def test_learners_fetch_the_kit_and_each_lab_from_nbgraders_exchange(tmp_path: Path) -> None:
    exchange, learner = tmp_path / "exchange", tmp_path / "home" / "ada"
    assert main(["release", "--course", str(tmp_path / "course"), "--labs", "2", "--exchange", str(exchange),
                 "--course-id", "cicd101"]) == 0
    learner.mkdir(parents=True)
    (learner / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'cicd101'\n")
    for assignment in (course.KIT_ASSIGNMENT, "01_repo_setup", "02_codebuild"):
        fetched = subprocess.run([sys.executable, "-m", "nbgrader", "fetch_assignment", assignment], cwd=learner,
                                 capture_output=True, text=True)
        assert fetched.returncode == 0, fetched.stderr
    missing = subprocess.run([sys.executable, "-m", "nbgrader", "fetch_assignment", "03_codedeploy"], cwd=learner,
                             capture_output=True, text=True)
    assert missing.returncode != 0  # lab 03 is not released yet
    kit = learner / course.KIT_ASSIGNMENT
    assert sorted(p.name for p in (kit / "solutions").iterdir()) == ["01_repo_setup.ipynb"]
    assert (learner / "02_codebuild" / "02_codebuild.ipynb").read_bytes() == (kit / "labs" / "02_codebuild.ipynb").read_bytes()
    copy = _described(kit)
    assert copy["labs"] == [1, 2] and copy["modules"]["1"]["withheld"]
    for number in (1, 2):
        text = (kit / "grader" / "checks" / f"lab{number:02d}.py").read_text()
        assert [line for line in _distinctive(number) if line in text] == []


@pytest.mark.slow
def test_the_released_kit_catches_up_on_lab_02_and_checks_what_it_holds(labstack: LabstackProcess,
                                                                        tmp_path: Path) -> None:
    kit = course.build(tmp_path / "kit", 2).path
    session = session_for(labstack)
    env = _learner_env(labstack, session)
    learner = _in_copy(kit, textwrap.dedent("""
        import grader
        lab = grader.Lab(2)
        print("built", lab.catch_up())
        print("again", lab.catch_up())
        grader.Lab(1).check(hidden=True)
    """), env, check=False)
    assert learner.returncode == 0, learner.stderr
    out = learner.stdout
    assert "built [1]" in out and "✓ lab 01 is already done" in out and "again []" in out
    lab01 = checks.lab_module(1)
    hidden = [c for c in lab01.CHECKS if c.hidden]
    assert f"{len(hidden)} hidden checks ({sum(c.points for c in hidden)} points" in out
    assert "graded by your instructor" in out and "✗" not in out
    assert "Traceback" not in learner.stderr
    check = subprocess.run([sys.executable, "-m", "grader", "check", "1"], cwd=kit, capture_output=True, text=True,
                           env={**env, "PYTHONPATH": str(kit)})
    assert check.returncode == 0, check.stdout + check.stderr  # the visible checks pass from the released copy
    # the instructor's full copy grades the hidden checks, with their own code, in the same account
    full = catchup.lab_report(1, session)
    assert {r.id for r in full.results} >= {c.id for c in hidden}
    assert full.passed, full.text()
    assert not [r for r in full.results if "graded by your instructor" in r.message]
