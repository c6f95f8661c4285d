"""Grading a class in place (`grader autograde --accounts`): each notebook's setup and test cells run
in the account its learner worked in, and nothing else runs or is built there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader import catchup, classroom, grading, notebooks
from grader.backends import Backend
from grader.cli import main
from labstack import learners
from tests.support.classmode import ClassLabstack
from tests.support.grading import session_for
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.classmode_fixtures"]


def _hand_in(folder: Path, learner: str, notebook: Path) -> None:
    (folder / learner).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, folder / learner / notebook.name)


def test_a_class_is_graded_where_it_worked_and_nothing_is_built(labstack: LabstackProcess, tmp_path: Path) -> None:
    ada, bob = session_for(labstack), session_for(labstack)
    catchup.run_solution(1, ada)  # ada did lab 01 herself; bob had `grader solve 1` do it for him
    assert catchup.solve(1, bob).passed
    submitted = tmp_path / "submitted"
    for learner in ("ada", "bob", "cy"):  # all hand in lab 01's solution and lab 02 unanswered
        _hand_in(submitted, learner, notebooks.solution(1))
        _hand_in(submitted, learner, notebooks.released(2))
    keys = {name: (session.credentials_env()["AWS_ACCESS_KEY_ID"], "test") for name, session in (("ada", ada), ("bob", bob))}
    rows = classroom.grade_class(submitted, [1, 2], tmp_path / "out", Backend("embedded", labstack.endpoint),
                                 workers=2, accounts=keys)
    assert [(r.learner, r.lab, r.score, r.max_score, r.status) for r in rows] == [
        ("ada", "01_repo_setup", 30, 30, "graded"), ("ada", "02_codebuild", 0, 29, "graded"),
        ("bob", "01_repo_setup", 0, 30, "graded"), ("bob", "02_codebuild", 0, 29, "graded"),
        ("cy", "01_repo_setup", 0, 0, "error"), ("cy", "02_codebuild", 0, 0, "error")]
    assert rows[-1].message == "no account for this learner in the accounts file"
    assert catchup.lab_report(1, bob).passed  # bob's account holds lab 01, but catch-up built it
    page = (tmp_path / "out" / "feedback" / "bob" / "01_repo_setup.html").read_text()
    assert "built by catch-up, not by you" in page
    # nothing ran or was built while grading: lab 02's catch-up built nothing in ada's account
    assert ada.client("codebuild").list_projects().get("projects", []) == []
    page = (tmp_path / "out" / "feedback" / "ada" / "02_codebuild.html").read_text()
    assert "grading in place: your account is graded as you left it" in page


def test_only_the_setup_and_test_cells_are_left_to_run(tmp_path: Path) -> None:
    notebook = tmp_path / "mine.ipynb"
    content = json.loads(notebooks.solution(3).read_text())
    content["cells"].append({"cell_type": "code", "metadata": {}, "source": "print('my own cell')",
                             "outputs": [], "execution_count": None})
    notebook.write_text(json.dumps(content))
    grading.checks_only(notebook)
    running = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "code" and grading.SKIP not in cell["metadata"].get("tags", []):
            meta = cell["metadata"]["nbgrader"]
            running.append(meta["grade_id"] if meta["grade_id"] == "setup" else f"{meta['grade_id']} ({meta['points']})")
    assert running == ["setup", "check_stack (3)", "check_smoke_test (3)", "check_deployment_group (11)",
                       "check_release (7)", "check_drill (4)"]


def test_a_bad_accounts_file_is_one_line(labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", labstack.endpoint)
    _hand_in(tmp_path / "in", "ada", notebooks.released(1))
    (tmp_path / "keys.csv").write_text("name,key\nada,123456789012\n")
    assert main(["autograde", str(tmp_path / "in"), "--lab", "1", "--accounts", str(tmp_path / "keys.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"✗ {tmp_path / 'keys.csv'} needs the columns learner,access_key_id,secret_access_key (labstack's learners "
        f"file) or learner,access_key (it has ['name', 'key'])")
    (tmp_path / "keys.csv").write_text("learner,access_key\nada,\n")
    assert main(["autograde", str(tmp_path / "in"), "--lab", "1", "--accounts", str(tmp_path / "keys.csv")]) == 2
    assert capsys.readouterr().err.strip() == f"✗ {tmp_path / 'keys.csv'}, line 2: a learner and an access key, please"
    assert main(["autograde", str(tmp_path / "in"), "--lab", "1", "--accounts", str(tmp_path / "none.csv")]) == 2
    assert "cannot read the accounts file" in capsys.readouterr().err
    assert not (tmp_path / "graded-lab01").exists()  # nothing was graded


def test_the_learners_file_of_a_class_gives_each_learner_their_key_and_secret(tmp_path: Path) -> None:
    from labstack import learners

    rows = learners.generate(2)
    learners.write(tmp_path / "class.csv", rows)
    assert classroom.read_accounts(tmp_path / "class.csv") == {
        row.learner: (row.access_key_id, row.secret_access_key) for row in rows if not row.instructor}
    (tmp_path / "keys.csv").write_text("learner,access_key\nada,123456789012\n")
    assert classroom.read_accounts(tmp_path / "keys.csv") == {"ada": ("123456789012", "test")}


def test_a_learners_file_this_labstack_does_not_know_stops_before_anything_runs(
        classroom: ClassLabstack, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", classroom.endpoint)
    stranger = [r for r in learners.generate(1, prefix="stranger") if not r.instructor]  # keys never issued here
    learners.write(tmp_path / "other.csv", stranger + [classroom.rows["learner01"]])
    for learner in (stranger[0].learner, "learner01"):
        _hand_in(tmp_path / "in", learner, notebooks.released(1))
    assert main(["autograde", str(tmp_path / "in"), "--lab", "1", "--accounts", str(tmp_path / "other.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"✗ {classroom.endpoint} knows no account for {stranger[0].learner} (InvalidClientTokenId): is this the "
        "labstack and the learners file of this class? Nothing was graded")
    assert not (tmp_path / "graded-lab01").exists()
    (tmp_path / "keys.csv").write_text("learner,access_key\nada,AKIAIOSFODNN7EXAMPLE\n")
    assert main(["autograde", str(tmp_path / "in"), "--lab", "1", "--accounts", str(tmp_path / "keys.csv")]) == 2
    assert "'AKIAIOSFODNN7EXAMPLE' is no account" in capsys.readouterr().err
