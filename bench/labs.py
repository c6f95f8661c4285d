"""The six lab solutions run with papermill, in order, in one fresh account of a fresh labstack
(no catch-up needed: each lab finds what the one before it built), beside papermill running a
one-cell notebook six times: the fixed cost of a kernel and papermill, without the lab's work."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from bench.core import Figure, Options
from bench.servers import healthy_labstack
from grader import catchup, checks, notebooks
from grader.backends import Backend, LabSession, fresh_account


def _trivial(folder: Path) -> Path:
    """A notebook with one cell that asks the backend who it is (what every lab's first cell does)."""
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("import boto3\nboto3.client('sts').get_caller_identity()")]
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "trivial.ipynb"
    nbformat.write(book, path)
    return path


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """One run of every lab's solution; its time per lab and in total."""
    per_lab: dict[int, float] = {}
    reference: list[float] = []
    with healthy_labstack() as server, tempfile.TemporaryDirectory() as folder:
        session = LabSession.for_key(Backend("embedded", server.endpoint), fresh_account())
        for number in checks.lab_numbers():
            started = time.perf_counter()
            report = catchup.solve(number, session, Path(folder) / f"{notebooks.slug(number)}.ipynb")
            per_lab[number] = time.perf_counter() - started
            if not report.passed:
                raise RuntimeError(f"lab {number:02d}'s solution ran but its checks fail:\n{report.text()}")
            progress(f"lab {number:02d} solution")
        trivial, env = _trivial(Path(folder)), notebooks.kernel_env(session)
        for number in per_lab:
            started = time.perf_counter()
            notebooks.execute(trivial, Path(folder) / f"trivial-{number}.ipynb", env)
            reference.append(time.perf_counter() - started)
    total = sum(per_lab.values())
    each = ", ".join(f"{n:02d} {s:.1f} s" for n, s in per_lab.items())
    figure = Figure("labs_solutions_total_s", f"all six lab solutions with papermill, in order on a fresh labstack ({each}) "
                    "(reference: papermill running a one-cell notebook as often)", "s", total, sum(reference),
                    target="labstack <= 90 s", detail={"per_lab_s": per_lab, "reference_runs_s": reference})
    figure.met = total <= 90
    return [figure]
