"""Class mode's figures: what verifying signatures adds to a call, and what a class costs at rest.

1. **Signature verification** — p50 of one signed labstack-owned JSON call (CodeBuild ListProjects,
   replayed as botocore signed it: a signature stays valid for 15 minutes, as on AWS) on a
   class-mode labstack (``--learners``), beside the same call on a labstack without class mode, in
   one run, taking turns. Target: p50 added ≤ 0.3 ms.
2. **A class at rest** (only when ``class_mode_rest`` is named: it runs every learner's six
   solutions first) — ``--learners`` learner accounts on one class-mode labstack, each holding
   lab 06's end state (its solutions run, as the learner would have), then a minute with no
   request: labstack's CPU and RSS, and the same with the tasks and function workers it runs
   (their memory as PSS: the Python they share counted once), beside the same minute of a
   class-mode labstack with the same learners file and nothing built. Targets: ≤ 10 % of one core
   and ≤ 1.5 GiB.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import psutil
from botocore.config import Config

from bench.core import Figure, Options
from bench.measure import interleaved, prepare, summary, timed_sender
from bench.servers import HOST, healthy_labstack
from bench.workshop import work_through
from grader import checks
from grader.backends import Backend
from labstack import learners

TARGET_ADDED_MS = 0.3
REST_SECONDS = 60.0
TARGET_CORE_SHARE = 0.10
TARGET_RSS = 1.5 * 1024**3


def _class_file(folder: Path, count: int) -> tuple[Path, list[learners.Learner]]:
    rows = learners.generate(count)
    path = folder / "learners.csv"
    learners.write(path, rows)
    return path, rows


def _list_projects(endpoint: str, key: str, secret: str):  # type: ignore[no-untyped-def]
    client = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1").client(
        "codebuild", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1}))
    return prepare(client, "list_projects")


def signature_figure(options: Options, progress: Callable[[str], None]) -> Figure:
    """Figure 1: the same signed call with and without class mode."""
    with tempfile.TemporaryDirectory() as tmp:
        path, rows = _class_file(Path(tmp), 2)
        with healthy_labstack() as laptop, healthy_labstack(LABSTACK_LEARNERS=str(path)) as classroom:
            requests = {"laptop": (laptop, _list_projects(laptop.endpoint, "test", "test")),
                        "class": (classroom, _list_projects(classroom.endpoint, rows[0].access_key_id,
                                                            rows[0].secret_access_key))}
            samplers = {name: timed_sender(HOST, server.port, request) for name, (server, request) in requests.items()}
            samples = interleaved(samplers, options.requests, options.warmup)
    ours, reference = summary(samples["class"]), summary(samples["laptop"])
    added_ms = (ours["p50"] - reference["p50"]) * 1000
    progress(f"signed call p50: {ours['p50'] * 1000:.2f} ms in class mode, {reference['p50'] * 1000:.2f} ms without")
    figure = Figure("class_signed_call_p50_ms", "a signed CodeBuild ListProjects, p50, with --learners (signature "
                    "verified) (reference: the same call without class mode)", "ms", ours["p50"] * 1000,
                    reference["p50"] * 1000, target=f"added p50 <= {TARGET_ADDED_MS} ms",
                    detail={"class": ours, "laptop": reference, "added_p50_ms": added_ms})
    figure.met = added_ms <= TARGET_ADDED_MS
    return figure


@dataclass
class Rest:
    """What labstack cost over a minute at rest: its own process, and the tasks and workers it runs."""

    cpu: float  # share of one core, labstack's process
    children_cpu: float
    rss: int  # bytes, labstack's process
    children_rss: int
    tree_pss: int  # labstack and its children, shared pages counted once


def _at_rest(pid: int, seconds: float) -> Rest:
    server = psutil.Process(pid)

    def cpu() -> tuple[float, float]:
        children = 0.0
        for child in server.children(recursive=True):
            try:
                children += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return sum(server.cpu_times()[:2]), children

    (own, theirs), started = cpu(), time.perf_counter()
    time.sleep(seconds)
    (own_after, theirs_after), wall = cpu(), time.perf_counter() - started
    children_rss = tree_pss = 0
    for process in [server, *server.children(recursive=True)]:
        try:
            memory = process.memory_full_info()
        except psutil.Error:
            continue
        tree_pss += memory.pss
        children_rss += memory.rss if process.pid != pid else 0
    # a child that ended during the minute takes its CPU with it: its share is at least what is counted
    return Rest((own_after - own) / wall, max(0.0, theirs_after - theirs) / wall, server.memory_info().rss,
                children_rss, tree_pss)


def rest_figures(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Figure 2: a class of ``options.learners`` at lab 06's end state, at rest, beside the same class with nothing built."""
    numbers = checks.lab_numbers()
    with tempfile.TemporaryDirectory() as tmp:
        path, rows = _class_file(Path(tmp), options.learners)
        keys = {row.learner: (row.access_key_id, row.secret_access_key) for row in rows if not row.instructor}
        with healthy_labstack(LABSTACK_LEARNERS=str(path)) as empty:
            assert empty.proc is not None
            time.sleep(5)  # the organization roles are made at warm-up
            reference = _at_rest(empty.proc.pid, REST_SECONDS)
        with healthy_labstack(LABSTACK_LEARNERS=str(path)) as server:
            assert server.proc is not None
            started = time.perf_counter()
            work_through(Backend("embedded", server.endpoint), keys, numbers)
            progress(f"{len(keys)} learners worked through labs {numbers[0]}-{numbers[-1]} in "
                     f"{time.perf_counter() - started:.0f} s")
            ours = _at_rest(server.proc.pid, REST_SECONDS)
    detail = {"learners": len(keys), "seconds": REST_SECONDS, "class": vars(ours), "nothing_built": vars(reference)}
    who = f"{len(keys)} learner accounts at lab 06's end state, a minute at rest"
    figures = [
        Figure("class_rest_cpu_share", f"{who}: labstack's CPU, share of one core (reference: the same class with "
               "nothing built)", "cores", ours.cpu, reference.cpu, target=f"<= {TARGET_CORE_SHARE:.0%} of one core",
               detail=detail),
        Figure("class_rest_rss_mib", f"{who}: labstack's RSS (reference: the same class with nothing built)", "MiB",
               ours.rss / 2**20, reference.rss / 2**20, target="<= 1536 MiB", detail=detail),
        Figure("class_rest_tree_cpu_share", f"{who}: labstack with the tasks and function workers it runs, CPU "
               "(reference: the same, nothing built)", "cores", ours.cpu + ours.children_cpu,
               reference.cpu + reference.children_cpu, target=f"<= {TARGET_CORE_SHARE:.0%} of one core", detail=detail),
        Figure("class_rest_tree_pss_mib", f"{who}: labstack with the tasks and function workers it runs, PSS "
               "(shared pages once) (reference: the same, nothing built)", "MiB", ours.tree_pss / 2**20,
               reference.tree_pss / 2**20, target="<= 1536 MiB", detail=detail),
    ]
    for figure in figures:
        figure.met = figure.labstack <= (TARGET_CORE_SHARE if figure.unit == "cores" else TARGET_RSS / 2**20)
    return figures


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """The signature figure (the class at rest is :func:`rest_figures`, run when named)."""
    return [signature_figure(options, progress)]
