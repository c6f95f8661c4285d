"""Checks: one module per lab (``labNN.py``), each check a small function of the lab's session.

A check body returns the message of a pass or raises :class:`Fail` with what it found; the
:func:`check` decorator adds the id, points and hint and turns any other error (a missing
resource, an endpoint that does not answer) into a ✗ with a readable message.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

from grader.backends import LabSession
from grader.results import CheckResult, Report

T = TypeVar("T")

# Error codes with which AWS APIs say "no such thing".
NOT_FOUND = {"404", "NoSuchBucket", "NoSuchEntity", "NotFoundException", "NotFound", "ParameterNotFound",
             "ResourceNotFoundException", "RepositoryNotFoundException", "RepositoryDoesNotExistException",
             "BranchDoesNotExistException", "FileDoesNotExistException", "CommitDoesNotExistException",
             "ServerSideEncryptionConfigurationNotFoundError"}


UNREACHABLE_HINT = ("Is the backend running? `labstack up` (or `make lab`) starts labstack, "
                    "`make lab BACKEND=localstack` LocalStack beside it; `grader doctor` says what answers where.")


class Fail(Exception):
    """Raised by a check body: the message says what was found instead of what was expected."""


def found(call: Callable[[], T], missing: str) -> T:
    """``call()``, with AWS's "not found" errors turned into :class:`Fail` with ``missing``."""
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            raise Fail(missing) from None
        raise


@dataclass(frozen=True)
class Check:
    """A check of one lab: ``run(session)`` never raises and returns a :class:`CheckResult`."""

    id: str
    points: int
    hint: str
    hidden: bool
    body: Callable[[LabSession], str]
    # Keys of the lab's ``names(session)`` whose resources this check grades: what the learner must have
    # created or last changed themselves (grading in place gives no points for what catch-up built).
    uses: tuple[str, ...] = ()
    # The check grades runs of those resources (a build, an execution, a deployment), so starting one is
    # the learner's work too; otherwise only what configures them counts.
    runs: bool = False

    def run(self, session: LabSession) -> CheckResult:
        """Run the check; every failure, expected or not, becomes a ✗ with a message."""
        try:
            return CheckResult(self.id, True, self.points, self.body(session))
        except Fail as exc:
            message = str(exc)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = f"{exc.operation_name} answered {error.get('Code', 'an error')}: {error.get('Message', '')}".rstrip(": ")
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            return CheckResult(self.id, False, self.points, f"could not reach the backend: {exc}", UNREACHABLE_HINT)
        except BotoCoreError as exc:
            message = f"the AWS SDK failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - a check reports, it never crashes the learner's cell
            message = f"the check itself failed ({type(exc).__name__}: {exc})"
        return CheckResult(self.id, False, self.points, message, self.hint)


def check(registry: list[Check], id: str, points: int, hint: str, hidden: bool = False,
          uses: tuple[str, ...] = (), runs: bool = False) -> Callable[[Callable[[LabSession], str]], Check]:
    """Register the decorated body in ``registry`` as a check grading the resources ``uses`` names (and
    their runs, when ``runs``)."""
    def wrap(body: Callable[[LabSession], str]) -> Check:
        found = Check(id, points, hint, hidden, body, uses, runs)
        registry.append(found)
        return found
    return wrap


def lab_module(number: int) -> ModuleType:
    """The checks module of lab ``number``; ValueError names the labs that exist."""
    try:
        return importlib.import_module(f"grader.checks.lab{number:02d}")
    except ModuleNotFoundError:
        raise ValueError(f"there is no lab {number}; labs with checks: {', '.join(map(str, lab_numbers()))}") from None


def lab_numbers() -> list[int]:
    """The numbers of every lab that has a checks module."""
    import grader.checks as package
    return sorted(int(m.name[3:]) for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("lab"))


def select(checks: list[Check], ids: tuple[str, ...], hidden: bool) -> list[Check]:
    """The checks named by ``ids`` in that order (all, visible ones unless ``hidden``, when none named)."""
    if not ids:
        return [c for c in checks if hidden or not c.hidden]
    by_id = {c.id: c for c in checks}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ValueError(f"no check called {', '.join(unknown)}; this lab has: {', '.join(by_id)}")
    return [by_id[i] for i in ids]


def run(title: str, session: LabSession, checks: list[Check]) -> Report:
    """Run ``checks`` in order against ``session``; once the backend is unreachable, the rest say so too."""
    results: list[CheckResult] = []
    for c in checks:
        if results and results[-1].hint == UNREACHABLE_HINT:
            results.append(CheckResult(c.id, False, c.points, results[-1].message, UNREACHABLE_HINT))
        else:
            results.append(c.run(session))
    return Report(title, tuple(results))
