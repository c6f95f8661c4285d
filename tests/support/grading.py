"""Helpers for the grader's tests: sessions on the test labstack, each in an account of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import grading, notebooks
from grader.backends import Backend, LabSession, fresh_account
from tests.support.server import LabstackProcess


def session_for(labstack: LabstackProcess, account: str | None = None) -> LabSession:
    """A session on ``labstack`` in ``account`` (a new, empty account unless given)."""
    return LabSession.for_key(Backend("embedded", labstack.endpoint), account or fresh_account())


def point_env_at(monkeypatch: pytest.MonkeyPatch, session: LabSession) -> None:
    """Make this process's environment (as a notebook's would be) reach ``session``'s account."""
    monkeypatch.delenv("LAB_BACKEND", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(session.backend.endpoint))
    for name, value in session.credentials_env().items():
        monkeypatch.setenv(name, value)


def graded_cells(notebook: Path) -> dict[str, dict]:
    """The autograded (code) cells of a notebook by grade id; the written answers, graded by hand, are not among them."""
    cells = json.loads(notebook.read_text())["cells"]
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in cells
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade")}



def written_note(number: int) -> str:
    """What ``grader ci`` adds after lab ``number``'s score for its written answers (graded by hand), or nothing."""
    cells = json.loads(notebooks.solution(number).read_text())["cells"]
    points = sum(c["metadata"]["nbgrader"]["points"] for c in cells
                 if c["cell_type"] == grading.WRITTEN and c["metadata"].get("nbgrader", {}).get("grade"))
    return f" (+{points:g} written points to grade by hand)" if points else ""
