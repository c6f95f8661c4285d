"""The notebook-side API: ``lab = grader.Lab(1)``, then ``lab.session``, ``lab.check()`` and friends."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from grader import catchup, checks, course, live, progress
from grader.backends import Backend, LabSession
from grader.grading import IN_PLACE
from grader.notebooks import ROOT
from grader.results import Report

T = TypeVar("T")


def _show(report: Report) -> None:
    """Display ``report`` as HTML under a Jupyter cell, as text anywhere else."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(report.text())
        return
    if get_ipython() is None:
        print(report.text())
    else:
        display(report)


class Lab:
    """One lab, bound to a backend (``LAB_BACKEND``, or ``backend=``) and the account its credentials pick.

    Creating it points plain ``boto3`` in this process at the same backend, so learner code
    and checks always see the same resources.
    """

    def __init__(self, number: int, backend: str | None = None) -> None:
        self.number = number
        self.module = checks.lab_module(number)
        chosen = Backend.named(backend) if backend else Backend.from_env()
        chosen.export()
        self.backend = chosen
        self.session = LabSession(chosen)
        self.kit_root = ROOT
        try:
            self.session.account  # noqa: B018 - asks the backend who we are, once
        except (BotoCoreError, ClientError) as exc:
            if chosen.name == "localstack":
                offer = "  Start LocalStack and labstack in a terminal with `make lab BACKEND=localstack`,\n"
            elif self._local_labstack():
                offer = "  Run `lab.start_labstack()` in a cell to start it here, or `labstack up` in a terminal,\n"
            else:
                offer = "  Start labstack in a terminal with `labstack up` (or `make lab`),\n"
            print(f"✗ nothing usable answers at {chosen.endpoint_for('sts') or 'AWS'}: {exc}\n{offer}"
                  "  then run this cell again.")

    def _local_labstack(self) -> int | None:
        """The port of the labstack this lab talks to, when it is one this machine can start."""
        url = urlsplit(self.backend.endpoint or "")
        if self.backend.name != "embedded" or url.hostname not in ("127.0.0.1", "localhost"):
            return None
        return url.port or 80

    def start_labstack(self) -> None:
        """Start the labstack this lab talks to (``labstack up`` on its port), if it is down."""
        port = self._local_labstack()
        if port is None:
            print(f"✗ {self.backend.endpoint or 'AWS'} is not a labstack on this machine; start it where it runs.")
            return
        done = subprocess.run([sys.executable, "-m", "labstack", "up", "--port", str(port)], capture_output=True,
                              text=True, cwd=self.kit_root, check=False)
        print((done.stdout + done.stderr).strip())
        if done.returncode == 0:
            self.session = LabSession(self.backend)
            print(f"✓ labstack answers at {self.backend.endpoint}; go on with the next cell.")

    def __repr__(self) -> str:
        return f"<{self.module.TITLE} on {self.backend.name} ({self.backend.endpoint or 'AWS'})>"

    @property
    def names(self) -> SimpleNamespace:
        """The names this lab asks for, for your account (``lab.names.bucket`` …)."""
        return SimpleNamespace(**self.module.names(self.session))

    def report(self, *ids: str, hidden: bool = False) -> Report:
        """Run this lab's checks (the named ones, or all visible ones) and return their results. Hidden
        checks whose code this copy of the kit leaves out (a course release) run only when named."""
        return checks.run(self.module.TITLE, self.session, course.runnable(self.module, ids, hidden))

    def check(self, *ids: str, hidden: bool = False) -> None:
        """Run this lab's checks (the named ones, or all visible ones) and show the ✓/✗ table with hints;
        with ``hidden``, a line names the hidden checks your instructor grades, if this copy leaves them out."""
        _show(self.report(*ids, hidden=hidden))
        note = course.withheld_note(self.module) if hidden and not ids else None
        if note:
            print(note)

    def grade(self, *ids: str) -> int:
        """Show the named checks' table and return the points they earned: a graded cell's last value,
        which nbgrader takes as the cell's partial credit. (When ``grader autograde`` grades, the
        grader itself runs the cell's checks against your account, outside this kernel, and its
        table and points replace what this cell showed.)"""
        report = self.report(*ids)
        _show(report)
        return report.earned

    def catch_up(self, rebuild: bool = False) -> list[int]:
        """Build the known-good state of every earlier lab in this account; return the labs it built. An
        earlier lab you began is rebuilt only with ``rebuild=True``: grading gives no points for what
        catch-up builds. While a class is graded in place (``grader autograde --accounts``) it builds nothing."""
        if os.environ.get(IN_PLACE):
            print("grading in place: your account is graded as you left it, so nothing is caught up")
            return []
        return catchup.catch_up(self.number, self.session, rebuild=rebuild)

    def labstack(self, path: str, service: str = "elbv2") -> dict[str, Any]:
        """The JSON of one of labstack's own endpoints (``/_labstack/endpoints``, ``/_labstack/status``) at
        the labstack serving ``service``, asked with this lab's keys: a labstack that serves a class
        answers each learner about their own account."""
        endpoint = self.backend.endpoint_for(service)
        if endpoint is None:
            raise LookupError(f"no labstack serves {service} on the {self.backend.name} backend")
        return live.labstack_json(self.session, endpoint.rstrip("/") + path)

    def wait(self, condition: Callable[[], T], *, timeout: float = 120, every: float = progress.EVERY,
             label: str = "waiting") -> T:
        """Poll ``condition`` under a progress bar until it returns something truthy; return that."""
        return progress.wait(condition, timeout=timeout, every=every, label=label)
