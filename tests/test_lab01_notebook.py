"""Lab 01 end to end: papermill runs the solution against labstack; nbgrader grades a class (the
executed solution full marks, a broken or endless notebook stopped alone);
tampered test cells are restored and graded."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tqdm import tqdm

from grader import catchup, ci, classroom, grading, notebooks
from grader.backends import Backend, LabSession
from grader.cli import main
from tests.support.grading import graded_cells, session_for
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow

GRADED = {"check_artifact_store": 9, "check_repository": 5, "check_build_config": 5, "check_service_roles": 11}


@pytest.fixture(scope="module")
def solved(labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[LabSession, Path]:
    """A fresh account in which `grader solve 1` ran solutions/01 with papermill, pushing an app of
    the test's own (the APP_SOURCE parameter); the executed notebook."""
    session = session_for(labstack)
    folder = tmp_path_factory.mktemp("solved")
    app = folder / "app"
    app.mkdir()
    (app / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n")
    (app / "marker.txt").write_text("pushed by the test\n")
    executed = folder / "01_repo_setup.ipynb"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", labstack.endpoint)
        assert main(["solve", "1", "--account", session.credentials_env()["AWS_ACCESS_KEY_ID"],
                     "--output", str(executed), "-p", f"APP_SOURCE={app}"]) == 0
    return session, executed


def test_the_solution_runs_end_to_end_and_passes_every_check(solved: tuple[LabSession, Path]) -> None:
    session, executed = solved
    outputs = [o for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    report = catchup.lab_report(1, session)
    assert report.passed and report.earned == 30, report.text()
    pushed = session.client("codecommit").get_file(repositoryName="cicd-lab-app", filePath="marker.txt")
    assert pushed["fileContent"] == b"pushed by the test\n"


def test_a_class_is_graded_in_parallel_and_a_broken_notebook_stops_nobody(
        labstack: LabstackProcess, solved: tuple[LabSession, Path], tmp_path: Path) -> None:
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    # The solution as papermill ran it, but pushing the kit's sample app as a learner's does: the grading kernel is
    # confined and sees the kit, not the test's own app folder that papermill's injected APP_SOURCE names.
    ran = json.loads(solved[1].read_text())
    ran["cells"] = [c for c in ran["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    (submitted / "ada.ipynb").write_text(json.dumps(ran))
    (submitted / "eve.ipynb").write_text("this is not a notebook")
    backend = Backend("embedded", labstack.endpoint)
    rows = classroom.grade_class(submitted, 1, tmp_path / "out", backend, workers=2)
    assert [(r.learner, r.lab, r.score, r.max_score, r.status) for r in rows] == [
        ("ada", "01_repo_setup", 30, 30, "graded"), ("eve", "01_repo_setup", 0, 0, "error")]
    assert rows[1].message == "not a readable notebook (NotJSONError)"
    scores = (tmp_path / "out" / "scores.csv").read_text().splitlines()
    assert scores[:2] == ["learner,lab,score,max_score,status,message", "ada,01_repo_setup,30.0,30.0,graded,"]
    page = (tmp_path / "out" / "feedback" / "ada" / "01_repo_setup.html").read_text()
    assert "the bucket encrypts with the key behind" in page and "hidden tests ran here" in page and "BEGIN HIDDEN TESTS" not in page
    assert not (tmp_path / "out" / "feedback" / "eve").exists()


def test_a_notebook_that_never_ends_is_stopped_at_the_timeout_and_the_next_one_is_graded(
        labstack: LabstackProcess, tmp_path: Path) -> None:
    notebook = json.loads(notebooks.released(1).read_text())
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "artifact_store":
            cell["source"] = "while True:\n    pass"
    (tmp_path / "mal.ipynb").write_text(json.dumps(notebook))
    for cell in notebook["cells"]:  # some real work (repo-exists, 1 point) before it hangs
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "artifact_store":
            cell["source"] = 'boto3.client("codecommit").create_repository(repositoryName="cicd-lab-app")\n' + cell["source"]
    (tmp_path / "work" / "worked.ipynb").parent.mkdir()
    (tmp_path / "work" / "worked.ipynb").write_text(json.dumps(notebook))
    rows = classroom.grade_class(tmp_path, 1, tmp_path / "out", Backend("embedded", labstack.endpoint), timeout=3)
    assert [(r.learner, r.status, r.score, r.max_score, r.message) for r in rows] == [
        ("mal", "timeout", 0, 30, "stopped after 3 s; scored on what the account holds")]
    # one child grades a learner's notebooks one after another: after a timeout a new one takes the rest
    source = grading.prepare(1, tmp_path / "source")
    jobs = [classroom.Job(classroom.Submission("mal", path), 1, tmp_path / "jobs" / name, source,
                          notebooks.kernel_env(session_for(labstack)))
            for name, path in (("endless", tmp_path / "work" / "worked.ipynb"), ("blank", notebooks.released(1)))]
    with tqdm(total=2, file=io.StringIO()) as bar:
        rows = classroom._run_jobs(jobs, 20, bar)
    assert [(r.status, r.score, r.max_score, r.message) for r in rows] == [
        ("timeout", 1, 30, "stopped after 20 s; scored on what the account holds"), ("graded", 0, 30, "")]
    assert bar.n == 2


def test_deleted_and_edited_test_cells_are_restored_and_graded(labstack: LabstackProcess, tmp_path: Path) -> None:
    notebook = json.loads(notebooks.released(1).read_text())
    cells = notebook["cells"]
    notebook["cells"] = [c for c in cells
                         if c["metadata"].get("nbgrader", {}).get("grade_id") != "check_service_roles"]
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "check_artifact_store":
            cell["source"] = "print('all good, trust me')"
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "names":  # a locked cell, not graded
            cell["source"] = "names = None"
    tampered = tmp_path / "tampered.ipynb"
    tampered.write_text(json.dumps(notebook))
    grade = grading.autograde(tampered, 1, tmp_path / "course", env=notebooks.kernel_env(session_for(labstack)))
    assert {c.name: c.score for c in grade.cells} == dict.fromkeys(GRADED, 0.0)
    assert grade.restored == ("check_artifact_store", "check_service_roles", "names")  # nbgrader's log says so
    restored = graded_cells(grade.graded)
    assert set(restored) == set(GRADED)
    assert "lab.grade(" in "".join(restored["check_artifact_store"]["source"])
    for grade_id, cell in restored.items():  # each shows the grader's table with hints, then its points: 0
        assert [o["output_type"] for o in cell["outputs"]] == ["display_data", "execute_result"], grade_id
        assert "".join(cell["outputs"][1]["data"]["text/plain"]) == "0"
    assert ci.cells_without_hints(grade.graded) == []


def test_catching_up_leaves_a_finished_lab_alone(solved: tuple[LabSession, Path]) -> None:
    said: list[str] = []
    assert catchup.catch_up(2, solved[0], say=said.append) == []
    assert said == ["✓ lab 01 is already done"]

