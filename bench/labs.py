"""The lab solutions run with papermill, in order, in one fresh account of a fresh labstack (no catch-up
needed: each lab finds what the one before it built), beside papermill running a one-cell notebook as often:
the fixed cost of a kernel and papermill, without the lab's work. From the same run, lab 07's solution (the
pipeline as code: CloudFormation templates through a change set, then the CDK app and its self-mutation)
beside lab 04's (the same pipeline built call by call with boto3).

Each executed notebook's cell times (papermill's ``duration`` in every code cell's metadata) are summed
per section (the notebook's ``## `` headings) into the figures' detail, so a run also says where each lab
spends its time."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import psutil

from bench.core import Figure, Options
from bench.servers import healthy_labstack
from grader import catchup, checks, notebooks
from grader.backends import Backend, LabSession, fresh_account

TARGET_TOTAL_S = 120.0
AS_CODE, BY_HAND = 7, 4  # lab 07 builds lab 04's pipeline from templates; lab 04 builds it with boto3


def _trivial(folder: Path) -> Path:
    """A notebook with one cell that asks the backend who it is (what every lab's first cell does)."""
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("import boto3\nboto3.client('sts').get_caller_identity()")]
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "trivial.ipynb"
    nbformat.write(book, path)
    return path


def section_times(executed: Path) -> dict[str, float]:
    """Seconds papermill spent in the code cells of ``executed``, summed per ``## `` section, in order
    (the cells before the first heading count as "setup")."""
    sections: dict[str, float] = {}
    heading = "setup"
    for cell in nbformat.read(executed, as_version=4).cells:
        if cell.cell_type == "markdown":
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            if first.startswith("## "):
                heading = first[3:].strip()
            continue
        duration = cell.metadata.get("papermill", {}).get("duration") or 0.0
        sections[heading] = round(sections.get(heading, 0.0) + duration, 2)
    return sections


def _rounded(per_lab: dict[int, float]) -> dict[int, float]:
    return {number: round(seconds, 1) for number, seconds in per_lab.items()}


def _cpu(process: psutil.Process) -> dict[str, float]:
    """CPU seconds so far: labstack's (its reaped children included), papermill's and its kernels' (this
    process's reaped children), and this process's own (the checks catch-up runs after each solution)."""
    server = process.cpu_times()
    kernels, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return {"labstack": server.user + server.system + server.children_user + server.children_system,
            "kernel": kernels.ru_utime + kernels.ru_stime, "checks": own.ru_utime + own.ru_stime}


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """One run of every lab's solution; its time per lab and in total; lab 07's beside lab 04's."""
    per_lab: dict[int, float] = {}
    sections: dict[int, dict[str, float]] = {}
    cpu: dict[int, dict[str, float]] = {}
    reference: list[float] = []
    load_before = os.getloadavg()
    with healthy_labstack() as server, tempfile.TemporaryDirectory() as folder:
        session = LabSession.for_key(Backend("embedded", server.endpoint), fresh_account())
        labstack = psutil.Process(server.proc.pid)
        for number in checks.lab_numbers():
            executed = Path(folder) / f"{notebooks.slug(number)}.ipynb"
            cpu_before, started = _cpu(labstack), time.perf_counter()
            try:
                report = catchup.solve(number, session, executed)
            except notebooks.NotebookFailed as exc:  # say where the run was and where the lab's time went
                raise RuntimeError(f"{exc}\nafter {time.perf_counter() - started:.1f} s; the labs before it: "
                                   f"{_rounded(per_lab)}; its sections' seconds so far: "
                                   f"{section_times(executed) if executed.exists() else 'none written'}") from exc
            per_lab[number] = time.perf_counter() - started
            cpu[number] = {k: round(v - cpu_before[k], 2) for k, v in _cpu(labstack).items()}
            if not report.passed:
                raise RuntimeError(f"lab {number:02d}'s solution ran but its checks fail:\n{report.text()}")
            sections[number] = section_times(executed)
            progress(f"lab {number:02d} solution ({per_lab[number]:.1f} s; CPU s: "
                     f"{', '.join(f'{k} {v:.1f}' for k, v in cpu[number].items())})")
        trivial, env = _trivial(Path(folder)), notebooks.kernel_env(session)
        for number in per_lab:
            started = time.perf_counter()
            notebooks.execute(trivial, Path(folder) / f"trivial-{number}.ipynb", env)
            reference.append(time.perf_counter() - started)
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    total = sum(per_lab.values())
    each = ", ".join(f"{n:02d} {s:.1f} s" for n, s in per_lab.items())
    figure = Figure("labs_solutions_total_s", f"all {len(per_lab)} lab solutions with papermill, in order on a fresh "
                    f"labstack ({each}) (reference: papermill running a one-cell notebook as often)", "s", total,
                    sum(reference), target=f"labstack <= {TARGET_TOTAL_S:g} s",
                    detail={"per_lab_s": per_lab, "reference_runs_s": reference, "sections_s": sections,
                            "cpu_s": cpu,
                            "load_average": load, "cpus": os.cpu_count()})
    figure.met = total <= TARGET_TOTAL_S
    figures = [figure]
    if AS_CODE in per_lab and BY_HAND in per_lab:
        figures.append(Figure(
            "lab07_beside_lab04_s", f"lab {AS_CODE:02d}'s solution with papermill (the pipeline as code: templates, change "
            f"set, CDK, self-mutation) (reference: lab {BY_HAND:02d}'s, the same pipeline built by boto3, same run)", "s",
            per_lab[AS_CODE], per_lab[BY_HAND],
            detail={f"lab{AS_CODE:02d}_sections_s": sections[AS_CODE], f"lab{BY_HAND:02d}_sections_s": sections[BY_HAND],
                    "cpu_s": {AS_CODE: cpu[AS_CODE], BY_HAND: cpu[BY_HAND]},
                    "load_average": load}))
    return figures
