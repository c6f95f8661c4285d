"""The notebook API (grader.Lab), the backends, catching up and the `grader` command, against labstack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import grader
from grader import catchup, checks, ci, classroom, notebooks, provenance
from grader.backends import (
    LOCALSTACK_SERVICES,
    THROUGH_LABSTACK,
    Backend,
    endpoint_variable,
)
from grader.cli import main
from grader.results import CheckResult, Report
from tests.support.grading import point_env_at, session_for
from tests.support.server import LabstackProcess


@pytest.fixture
def lab(labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch) -> grader.Lab:
    """Lab 01 in a fresh account, the process environment pointed at the test labstack."""
    point_env_at(monkeypatch, session_for(labstack))
    return grader.Lab(1)


def test_a_lab_checks_the_account_its_environment_names(lab: grader.Lab) -> None:
    account = os.environ["AWS_ACCESS_KEY_ID"]
    assert lab.session.account == account and lab.names.bucket == f"cicd-lab-artifacts-{account}"
    report = lab.report()
    assert report.possible == 18 and not report.passed  # the visible checks only
    assert lab.report(hidden=True).possible == 30
    assert repr(lab) == f"<Lab 01 · Repo setup on embedded ({os.environ['AWS_ENDPOINT_URL']})>"


def test_grade_prints_the_table_and_returns_the_points_earned(lab: grader.Lab, capsys: pytest.CaptureFixture) -> None:
    assert lab.grade("repo-exists", "repo-has-main") == 0
    assert "✗ repo-exists" in capsys.readouterr().out
    lab.session.client("codecommit").create_repository(repositoryName="cicd-lab-app")
    assert lab.grade("repo-exists", "repo-has-main") == 1  # partial credit: the 1 point of repo-exists, not the 2 of repo-has-main
    shown = capsys.readouterr().out
    assert "✓ repo-exists" in shown and "✗ repo-has-main" in shown


def test_the_first_lab_has_nothing_to_catch_up(lab: grader.Lab, capsys: pytest.CaptureFixture) -> None:
    assert lab.catch_up() == []
    assert capsys.readouterr().out == "lab 01 is the first lab: there is nothing to catch up on\n"


def test_catching_up_solves_an_unfinished_lab_and_stops_if_its_solution_falls_short(
        labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    solved: list[int] = []

    def solve(number, session, output=None):  # type: ignore[no-untyped-def]
        solved.append(number)
        return Report("lab", (CheckResult("x", passed, 1, "m"),))

    monkeypatch.setattr(catchup, "solve", solve)
    passed = True
    said: list[str] = []
    assert catchup.catch_up(2, session_for(labstack), say=said.append) == [1]
    assert said == ["… building lab 01 from its solution", "✓ lab 01 built"] and solved == [1]
    passed = False
    with pytest.raises(RuntimeError, match="lab 01's solution ran but its checks still fail"):
        catchup.catch_up(2, session_for(labstack), say=said.append)
    begun = session_for(labstack)  # lab 01 partly done: its repository, no more
    begun.client("codecommit").create_repository(repositoryName="cicd-lab-app")
    solved.clear()
    with pytest.raises(catchup.PartlyDone, match=r"lab 01 \(1/30 points\) is partly done: catching up would build"):
        catchup.catch_up(2, begun, say=said.append)
    assert solved == []  # nothing was built over the learner's work
    passed = True
    assert catchup.catch_up(2, begun, say=said.append, rebuild=True) == [1] and solved == [1]


def test_catch_up_acts_as_a_role_session_of_its_own_for_each_lab(labstack: LabstackProcess) -> None:
    learner = session_for(labstack)
    acting = provenance.catch_up_session(learner, 4)
    arn = acting.client("sts").get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{learner.account}:assumed-role/lab-kit-catch-up-lab04/lab-kit-catch-up"
    assert provenance.built_lab(arn) == 4 and provenance.is_catch_up(acting) and not provenance.is_catch_up(learner)
    assert provenance.catch_up_session(acting, 5) is acting  # catch-up's own kernel catches up as itself


def test_backends_route_services() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "http://stale"}
    Backend.named("aws", env).export(env)
    assert "AWS_ENDPOINT_URL" not in env and "AWS_ENDPOINT_URL_S3" not in env
    side = Backend.named("localstack", {"LOCALSTACK_ENDPOINT": "http://ls:4566", "LABSTACK_ENDPOINT": "http://lab:4577"})
    assert side.endpoint_for("s3") == "http://ls:4566" and side.endpoint_for("codebuild") == "http://lab:4577"
    side.export(env)
    assert env["AWS_ENDPOINT_URL"] == "http://lab:4577"
    assert {k for k in env if k.startswith("AWS_ENDPOINT_URL_")} == {
        endpoint_variable(s) for s in LOCALSTACK_SERVICES if s not in THROUGH_LABSTACK}
    with pytest.raises(ValueError, match="unknown backend 'cloud'"):
        Backend.named("cloud", {})


def test_grader_check_prints_hints_and_fails(labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", labstack.endpoint)
    assert main(["check", "1", "--all", "--account", session_for(labstack).boto.get_credentials().access_key]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Lab 01 · Repo setup: 0/30 points\n") and out.count("hint:") == 18
    assert main(["check", "8"]) == 2
    assert "there is no lab 8" in capsys.readouterr().err


def test_grader_ci_refuses_an_unknown_lane_and_a_silent_backend_in_one_line(
        labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("LAB_BACKEND", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", labstack.endpoint)
    assert main(["ci", "--lane", "in-order", "--lane", "alone-01"]) == 2
    assert capsys.readouterr().err == ("✗ no lane alone-01: the lanes are in-order, alone-07, alone-06, alone-05, "
                                       "alone-04, alone-03, alone-02, solutions, unanswered\n")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert main(["ci"]) == 2
    assert capsys.readouterr().err.startswith("✗ labstack does not answer at http://127.0.0.1:9: start it with `labstack up")


def test_labs_are_released_from_the_current_solutions() -> None:
    assert ci.stale_labs() == [], "run `grader release` and commit labs/"


def test_a_lab_whose_backend_is_down_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("LAB_BACKEND", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, os.environ.get(name, "test"))
    lab = grader.Lab(1)
    out = capsys.readouterr().out
    assert out.startswith("✗ nothing usable answers at http://127.0.0.1:9") and "`labstack up`" in out
    assert lab.report().failures[0].hint == checks.UNREACHABLE_HINT
    lab.check("kms-key")  # shows the table (as text outside Jupyter)
    assert "hint: Is the backend running?" in capsys.readouterr().out


def test_grader_release_writes_the_learner_notebooks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["release", "--into", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "".join(f"✓ {tmp_path / notebooks.released(n).name}\n" for n in checks.lab_numbers())
    assert (tmp_path / "01_repo_setup.ipynb").read_text() == notebooks.released(1).read_text()


def test_submissions_are_found_in_nbgraders_layout_or_flat(tmp_path: Path) -> None:
    for learner in ("ada", "bob"):
        nested = tmp_path / "submitted" / learner / "01_repo_setup"
        nested.mkdir(parents=True)
        (nested / "01_repo_setup.ipynb").write_text("{}")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "cy.ipynb").write_text("{}")
    assert [(s.learner, s.notebook.relative_to(tmp_path).as_posix()) for s in
            classroom.find_submissions(tmp_path / "submitted", 1)] == [
        ("ada", "submitted/ada/01_repo_setup/01_repo_setup.ipynb"),
        ("bob", "submitted/bob/01_repo_setup/01_repo_setup.ipynb")]
    assert [s.learner for s in classroom.find_submissions(tmp_path / "flat", 1)] == ["cy"]
    assert classroom.find_submissions(tmp_path / "flat", 1, flat=False) == []  # a class of several labs
    (tmp_path / "folders" / "dee").mkdir(parents=True)
    (tmp_path / "folders" / "dee" / "02_codebuild.ipynb").write_text("{}")
    assert [(s.learner, s.notebook.name) for s in classroom.find_submissions(tmp_path / "folders", 2)] == [
        ("dee", "02_codebuild.ipynb")]
    assert classroom.find_submissions(tmp_path / "folders", 1) == []


def test_grader_autograde_reports_an_unreadable_submission_and_fails(
        labstack: LabstackProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", labstack.endpoint)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "eve.ipynb").write_text("not a notebook")
    assert main(["autograde", str(tmp_path / "in"), "--lab", "1", "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        "eve                      01_repo_setup        0/0  (error: not a readable notebook (NotJSONError))")
    assert (tmp_path / "out" / "scores.csv").read_text().splitlines()[1] == (
        "eve,01_repo_setup,0,0,error,not a readable notebook (NotJSONError)")
    assert main(["autograde", str(tmp_path / "out"), "--lab", "1"]) == 2  # no notebooks there
