"""Grades that mean the work was done: ``grader autograde`` scores each graded cell in its own process
from what the learner's account holds, with nbgrader's partial credit, whatever the learner's kernel
printed, patched or killed; and nothing catch-up built counts as the learner's."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest

import grader.checks.lab01
from labstack import sandbox
from grader import catchup, grading, notebooks, provenance, scoring
from grader.backends import LabSession
from tests.support.classmode import needs_bwrap
from tests.support.grading import graded_cells, session_for
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow

# The learner's real work in every notebook below: the repository exists (repo-exists, 1 of
# check_repository's 5 points), nothing else of lab 01 does.
REAL_WORK = 'boto3.client("codecommit").create_repository(repositoryName="cicd-lab-app")\n'


def _with_cell(source: str, tmp_path: Path, name: str = "handed-in.ipynb") -> Path:
    """Lab 01 as released, with one answer cell of the learner's right after the setup cell."""
    notebook = json.loads(notebooks.released(1).read_text())
    at = next(i for i, c in enumerate(notebook["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    notebook["cells"].insert(at + 1, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                      "source": source})
    path = tmp_path / name
    path.write_text(json.dumps(notebook))
    return path


def _holds(session: LabSession) -> dict[str, float]:
    """What each graded cell of lab 01 is worth for what ``session``'s account holds, scored directly."""
    return {grade_id: float(report.earned) for grade_id, report in scoring.score(1, session).items()}


def _grade(notebook: Path, session: LabSession, tmp_path: Path) -> grading.Grade:
    return grading.autograde(notebook, 1, tmp_path / "course", env=notebooks.kernel_env(session))


def test_a_notebook_that_patches_the_grader_and_boto3_scores_what_its_account_holds(
        labstack: LabstackProcess, tmp_path: Path) -> None:
    session = session_for(labstack)
    cheat = _with_cell(REAL_WORK + """
import botocore.client, grader, grader.checks, grader.results
from grader.results import CheckResult, Report
grader.Lab.grade = lambda self, *ids: 9  # every cell full marks, or more
grader.checks.Check.run = lambda self, s: CheckResult(self.id, True, self.points, "looks fine")
botocore.client.BaseClient._make_api_call = lambda self, op, params: {}  # every AWS answer empty and happy
print(Report("Lab 01", (CheckResult("kms-key", True, 1, "a key"), CheckResult("bucket-exists", True, 1, "a bucket"))))
""", tmp_path)
    grade = _grade(cheat, session, tmp_path)
    scores = {c.name: c.score for c in grade.cells}
    assert scores == _holds(session) == {"check_artifact_store": 0, "check_repository": 1,
                                         "check_build_config": 0, "check_service_roles": 0}
    assert (grade.score, grade.max_score) == (1, 30)
    shown = graded_cells(grade.graded)["check_repository"]["outputs"]
    assert "✓ repo-exists" in "".join(shown[0]["data"]["text/plain"]) and "✗ repo-has-main" in "".join(shown[0]["data"]["text/plain"])


def test_partial_credit_is_what_the_gradebook_and_nbgrader_s_own_api_hold(
        labstack: LabstackProcess, tmp_path: Path) -> None:
    """nbgrader scores a test cell whose value is a number with that number (its partial-credit rule);
    formgrader reads the same gradebook through NbGraderAPI."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    session = session_for(labstack)
    grade = _grade(_with_cell(REAL_WORK, tmp_path), session, tmp_path)
    cell = {c.name: c for c in grade.cells}["check_repository"]
    assert (cell.score, cell.max_score) == (1, 5)  # neither 0 nor 5: the points of the check that passed
    config = grading.course_config(tmp_path / "course")
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    with grading._environ(None):
        submission = api.get_submission(grade.notebook, "learner")
        per_cell = api.get_notebook_submissions(grade.notebook, grade.notebook)
    assert (submission["score"], submission["max_score"]) == (1, 30 + grade.written_max_score)  # nbgrader counts the written points too
    assert [(s["student"], s["score"]) for s in per_cell] == [("learner", 1)]
    for grade_id, shown in graded_cells(grade.graded).items():  # the table's total is the cell's score
        value = float("".join(shown["outputs"][-1]["data"]["text/plain"]))
        assert value == {c.name: c.score for c in grade.cells}[grade_id]


def test_a_notebook_that_kills_its_kernel_is_graded_on_its_account(labstack: LabstackProcess, tmp_path: Path) -> None:
    session = session_for(labstack)
    grade = _grade(_with_cell(REAL_WORK + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", tmp_path),
                   session, tmp_path)
    assert (grade.score, grade.max_score) == (1, 30)
    shown = graded_cells(grade.graded)["check_repository"]["outputs"]
    assert "the kernel died while the notebook ran" in "".join(shown[0]["text"])


def test_a_notebook_that_floods_its_output_is_graded(labstack: LabstackProcess, tmp_path: Path) -> None:
    session = session_for(labstack)
    flood = _with_cell(REAL_WORK + "for i in range(200_000):\n    print('spam', i)\n", tmp_path)
    grade = _grade(flood, session, tmp_path)
    assert (grade.score, grade.max_score) == (1, 30)
    assert grade.graded.stat().st_size < 2_000_000  # nbgrader's LimitOutput kept the flood out of the copy


def test_a_notebook_that_has_catch_up_build_its_own_lab_scores_nothing_for_that(
        labstack: LabstackProcess, tmp_path: Path) -> None:
    """Built by catch-up, in the learner's account (``grader solve 1`` before handing in a blank notebook,
    or the notebook itself calling ``catchup.solve(1, …)`` where its kernel could read the solution):
    the account holds all of lab 01, and the notebook scores 0."""
    session = session_for(labstack)
    assert catchup.solve(1, session).passed  # the account holds all of lab 01 ...
    handed_in = _with_cell("import grader.catchup\ngrader.catchup.solve(1, lab.session)\n", tmp_path)
    grade = _grade(handed_in, session, tmp_path)
    assert (grade.score, grade.max_score) == (0, 30)  # ... which catch-up built, not the learner
    shown = "".join(graded_cells(grade.graded)["check_repository"]["outputs"][0]["data"]["text/plain"])
    assert "built by catch-up, not by you: cicd-lab-app (" in shown
    assert scoring.score(1, session, discount_catch_up=False)["check_repository"].earned == 5


@needs_bwrap
def test_the_kernel_that_grades_a_notebook_reaches_nothing_but_its_own_folder(
        labstack: LabstackProcess, tmp_path: Path) -> None:
    """A notebook that tries to rewrite the checks, write the gradebook, read the learners file or the
    grader's home, or leave a process behind that writes later: each attempt fails, and it is graded."""
    checks_file = Path(grader.checks.lab01.__file__)
    before = checks_file.read_bytes()
    learners_file = tmp_path / "class.csv"
    learners_file.write_text("learner,account_id,access_key_id,secret_access_key\nada,123456789012,AKIA,TOPSECRET\n")
    course = tmp_path / "course"
    attack = _with_cell(REAL_WORK + f"""
import json, os, subprocess
tried = {{}}
def attempt(name, action):
    try:
        tried[name] = repr(action())
    except OSError as exc:
        tried[name] = type(exc).__name__
attempt("rewrite the checks", lambda: open({str(checks_file)!r}, "a").write("# mine now"))
attempt("write the gradebook", lambda: open({str(course / "gradebook.db")!r}, "ab").write(b"x"))
attempt("read the learners file", lambda: open({str(learners_file)!r}).read())
attempt("list the grader's home", lambda: os.listdir({str(Path.home())!r}))
attempt("read this lab's solution", lambda: len(open({str(notebooks.solution(1))!r}).read()))
attempt("list the kit's tests", lambda: os.listdir({str(notebooks.ROOT / "tests")!r}))
attempt("write my own folder", lambda: open("mine.txt", "w").write("ok"))
subprocess.Popen(["sh", "-c", "while true; do date +%s%N > alive.txt; sleep 0.2; done"], start_new_session=True)
print("TRIED", json.dumps(tried))
""", tmp_path)
    grade = grading.autograde(attack, 1, course, env=notebooks.kernel_env(session_for(labstack)),
                              hidden=(learners_file,))
    assert (grade.score, grade.max_score) == (1, 30)  # graded on its account, as any notebook
    said = [line for cell in json.loads(grade.graded.read_text())["cells"] for out in cell.get("outputs", [])
            for line in "".join(out.get("text", "")).splitlines() if line.startswith("TRIED ")]
    tried = json.loads(said[0][len("TRIED "):])
    assert (tried["rewrite the checks"], tried["write the gradebook"], tried["write my own folder"]) == (
        "OSError", "OSError", "2")  # a read-only file system, twice; its own folder takes a file
    assert tried["read the learners file"] in ("''", "PermissionError")  # hidden: an empty file or none
    assert (tried["read this lab's solution"], tried["list the kit's tests"]) == ("FileNotFoundError",) * 2
    assert "TOPSECRET" not in grade.graded.read_text()
    shown_home = ast.literal_eval(tried["list the grader's home"])  # only what holds the kernel's own Python
    assert all(any(p.is_relative_to(Path.home() / name) for p in sandbox.runtime_paths()) for name in shown_home)
    assert checks_file.read_bytes() == before
    assert (grade.graded.parent / "mine.txt").read_text() == "ok"
    last_beat = (grade.graded.parent / "alive.txt").read_text()  # the process it left ran while the kernel did ...
    time.sleep(2)
    assert (grade.graded.parent / "alive.txt").read_text() == last_beat  # ... and died with it


def test_what_catch_up_changed_for_a_later_lab_does_not_count_against_an_earlier_one(
        labstack: LabstackProcess) -> None:
    """A learner who did lab 01 and let catch-up build lab 04 keeps lab 01's points, though lab 04's
    catch-up changed lab 01's pipeline role last; catch-up changing it for lab 01 itself takes them."""
    learner = session_for(labstack)
    catchup.run_solution(1, learner)
    role = grader.checks.lab01.ROLES["codepipeline"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": "*"}]})
    provenance.catch_up_session(learner, 4).client("iam").put_role_policy(
        RoleName=role, PolicyName="lab-04", PolicyDocument=policy)
    assert sum(r.earned for r in scoring.score(1, learner).values()) == 30
    provenance.catch_up_session(learner, 1).client("iam").put_role_policy(
        RoleName=role, PolicyName="lab-01", PolicyDocument=policy)
    roles = scoring.score(1, learner)["check_service_roles"]
    assert roles.earned == 0
    assert all(f"built by catch-up, not by you: {role} (PutRolePolicy at " in r.message for r in roles.results)
    assert scoring.score(1, learner)["check_repository"].earned == 5  # the rest is still the learner's
