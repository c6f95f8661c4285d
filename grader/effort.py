"""How long a lab takes a newcomer to boto3: the estimate each lab states under its title.

A newcomer's path through a lab, counted from the instructor's notebook: reading (the text at 150–250
words a minute, the code given in locked cells at half that, links left out), writing (each boto3 call
new in the lab 2–3 minutes: find it in the reference, write its arguments, run it, fix it; each other
line of the solution 15–30 seconds), 4–6 minutes per written answer, plus what the solution's cells
take to run on labstack (measured: ``bench/labs.py`` or a papermill run of the solution). The title
states the range and its middle, rounded to 5 minutes; ``tests/test_lab_effort.py`` keeps them in step.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CLIENTS = ("kms", "s3", "iam", "ssm", "secretsmanager", "codecommit", "ecr", "codebuild", "logs", "cloudformation",
           "lam", "codedeploy", "ecs", "elbv2", "connections", "codepipeline", "sns", "cloudwatch", "events", "lambda_")
_CALL = re.compile(r"\b(?:" + "|".join(CLIENTS) + r")\.\w+\(")
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)
_HIDDEN = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END (SOLUTION|HIDDEN TESTS)", re.DOTALL)
_LINK = re.compile(r"\(https?://\S+?\)")
STATED = re.compile(r"\*\*Estimated time: about (?P<middle>\d+) minutes\*\* \((?P<low>\d+)–(?P<high>\d+)\)")
RUN = re.compile(r"on labstack \((?P<seconds>\d+) s\)")


@dataclass(frozen=True)
class Effort:
    """What a lab asks of a newcomer, and the minutes it takes (low, high)."""

    words: int
    code_words: int
    calls: int
    other_lines: int
    written: int

    def minutes(self, run_seconds: float = 0.0) -> tuple[int, int]:
        """(low, high) minutes, each rounded to 5, with the solution's run time added."""
        run = run_seconds / 60
        low = self.words / 250 + self.code_words / 125 + 2 * self.calls + 0.25 * self.other_lines + 4 * self.written
        high = self.words / 150 + self.code_words / 75 + 3 * self.calls + 0.5 * self.other_lines + 6 * self.written
        return _round5(low + run), _round5(high + run)


def _round5(minutes: float) -> int:
    return int(5 * round(minutes / 5))


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def effort(notebook: Path) -> Effort:
    """Count what the instructor's ``notebook`` asks a learner to read and write."""
    words = code_words = other = written = 0
    calls: set[str] = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        source = _text(cell)
        if cell["cell_type"] == "markdown":
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                written += 1
            else:
                words += len(_LINK.sub("", source).split())
            continue
        code_words += len(_HIDDEN.sub("", source).split())
        for line in "".join(_SOLUTION.findall(source)).splitlines():
            if not line.strip() or line.strip().startswith("#"):
                continue
            new = set(_CALL.findall(line)) - calls
            calls |= new
            other += 0 if new else 1
    return Effort(words, code_words, len(calls), other, written)


@dataclass(frozen=True)
class Stated:
    """What a lab's first cell states: minutes (middle, low, high) and its solution's run time on labstack."""

    middle: int
    low: int
    high: int
    run_seconds: int


def stated(notebook: Path) -> Stated | None:
    """What the first cell of ``notebook`` states, None when it states no estimate in the kit's form."""
    first = _text(json.loads(notebook.read_text())["cells"][0])
    found, run = STATED.search(first), RUN.search(first)
    if not found or not run:
        return None
    return Stated(int(found["middle"]), int(found["low"]), int(found["high"]), int(run["seconds"]))
