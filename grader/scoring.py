"""Scores decided outside the learner's kernel.

When ``grader autograde`` (and ``grader ci``) grade a notebook, nbgrader runs it in a kernel, but
what its test cells showed does not count: a preprocessor in the grader's own process, between
nbgrader's Execute and SaveAutoGrades, runs each graded cell's checks against the learner's account
and writes their table and points into the cell. nbgrader's partial-credit rule (a test cell whose
value is a number scores that number) then turns them into the cell's score, so the gradebook, the
feedback page and formgrader all hold the same points. The check ids come from the instructor's
copy of each cell (``solutions/``), never from the submission.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from grader import checks, notebooks, provenance
from grader.backends import Backend, LabSession
from grader.kernels import KERNEL_DIED
from grader.results import CheckResult, Report

GRADE_CALL = "grade"  # lab.grade(...) in a test cell
CATCH_UP_HINT = ("Catch-up builds the labs before this one so you can start it; this lab's own resources "
                 "count when you build them. Run your cells again (they may change what catch-up made), then check.")


def cell_checks(number: int) -> dict[str, tuple[str, ...]]:
    """Each graded cell of lab ``number`` (grade id) and the check ids its ``lab.grade(...)`` calls name,
    hidden ones included, read from the instructor's notebook."""
    cells: dict[str, tuple[str, ...]] = {}
    for cell in json.loads(notebooks.solution(number).read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("grade"):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cells[meta["grade_id"]] = tuple(
            arg.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == GRADE_CALL
            for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return cells


def _strings(value: Any) -> Iterable[str]:
    """The names a value of a lab's ``names()`` holds: itself, or those of a dict's values or a list."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, (list, tuple, set)):
        for inner in value:
            yield from _strings(inner)


# The service whose calls change the resource each key of the labs' names() holds, for provenance: a name
# alone is ambiguous (sample-app is an ECR repository, an ECS cluster and service, and a CodeDeploy
# application; a log group may be called production like a deployment group).
SOURCES = {"key_alias": "kms", "bucket": "s3", "repository": "codecommit", "db_password_parameter": "ssm",
           "api_key_secret": "secretsmanager", "roles": "iam", "build_policy": "iam", "login_policy": "iam",
           "notify_policy": "iam", "events_role": "iam",
           "pipeline_role": "iam", "smoke_test_role": "iam", "ecr_repository": "ecr", "project": "codebuild",
           "unit_tests_project": "codebuild", "security_scan_project": "codebuild", "stack": "cloudformation",
           "iac_stacks": "cloudformation", "cdk_stack": "cloudformation",
           "smoke_test": "lambda", "application": "codedeploy", "group": "codedeploy", "deployment_group": "codedeploy",
           "cluster": "ecs", "service": "ecs", "staging_service": "ecs", "production_service": "ecs",
           "pipeline": "codepipeline", "drill_pipeline": "codepipeline", "trigger_rule": "events", "topic": "sns", "alarm": "monitoring"}


def resources(number: int, session: LabSession, check: checks.Check) -> list[tuple[str, str]]:
    """The resources ``check`` grades (its ``uses`` keys of the lab's ``names()``): each name, and the
    service whose calls change it."""
    named = checks.lab_module(number).names(session)
    return sorted({(name, SOURCES[key]) for key in check.uses for name in _strings(named[key])})


def _discounted(result: CheckResult, number: int, history: provenance.History, check: checks.Check) -> CheckResult:
    """``result``, but failed when catch-up made the decisive change to a resource the check grades (see
    :mod:`grader.provenance`); kept, and saying so, when who made it cannot be told."""
    if not result.passed or not check.uses:
        return result
    try:
        made = provenance.built_by_catch_up(history, resources(number, history.session, check), number, check.runs)
    except (provenance.Unknown, ClientError, BotoCoreError) as exc:
        return CheckResult(result.id, True, result.points, f"{result.message} ({exc})", result.hint)
    if not made:
        return result
    what = "; ".join(f"{c.resource} ({c.describe()})" for c in made)
    return CheckResult(result.id, False, result.points, f"built by catch-up, not by you: {what}", CATCH_UP_HINT)


def score(number: int, session: LabSession, discount_catch_up: bool = True) -> dict[str, Report]:
    """Each graded cell of lab ``number`` and the report of its checks against ``session``'s account."""
    module = checks.lab_module(number)
    by_id = {c.id: c for c in module.CHECKS}
    cells = cell_checks(number)
    wanted = [by_id[i] for ids in cells.values() for i in ids]
    report = checks.run(module.TITLE, session, wanted)
    history = provenance.History(session)
    results = {r.id: (_discounted(r, number, history, by_id[r.id]) if discount_catch_up else r) for r in report.results}
    return {grade_id: Report(module.TITLE, tuple(results[i] for i in ids)) for grade_id, ids in cells.items()}


def session_from(environ: Mapping[str, str]) -> LabSession:
    """The learner's session as a kernel started in ``environ`` would have it."""
    return LabSession(Backend.from_env(dict(environ)), boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"), aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"), region_name=environ.get("AWS_DEFAULT_REGION", "us-east-1")))


def trusted_outputs(report: Report, note: str = "") -> list[NotebookNode]:
    """A graded cell's outputs: a note if any (on stdout: nbgrader scores a cell with stderr 0), the
    table, then the points as the cell's value (nbgrader's partial credit)."""
    shown = [NotebookNode(output_type="stream", name="stdout", text=note + "\n")] if note else []
    return shown + [NotebookNode(output_type="display_data", metadata={},
                                 data={"text/plain": report.text(), "text/html": report.html()}),
                    NotebookNode(output_type="execute_result", metadata={}, execution_count=None,
                                 data={"text/plain": str(report.earned)})]


class ChecksOutsideKernel(NbGraderPreprocessor):
    """Replace every graded cell's outputs with the table and points of its checks, run here against
    the account the kernel's environment names (this process's while nbgrader grades), with no points
    for what catch-up built."""

    lab = Integer(0, help="The lab whose checks grade the notebook.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        """Score each graded cell of ``nb`` from the account, not from what the kernel printed."""
        reports = score(self.lab, session_from(os.environ))
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.get("cell_type") == "code" and grade_id in reports:
                cell.outputs = trusted_outputs(reports[grade_id], resources.get(KERNEL_DIED, ""))
        return nb, resources

