"""Read a Dockerfile: the instructions labstack builds, and clear errors for the rest."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

SUPPORTED = {"FROM", "WORKDIR", "COPY", "ADD", "ENV", "ARG", "EXPOSE", "USER", "LABEL", "RUN", "CMD",
             "ENTRYPOINT", "HEALTHCHECK"}
# Instructions Docker has and labstack does not build: named in the error.
KNOWN = SUPPORTED | {"VOLUME", "ONBUILD", "STOPSIGNAL", "SHELL", "MAINTAINER"}


class DockerfileError(Exception):
    """A Dockerfile labstack cannot build, with the line and the reason."""


@dataclass(frozen=True)
class Instruction:
    line: int
    name: str
    args: str

    def exec_form(self) -> list[str] | None:
        """The JSON array form (``["python", "app.py"]``), or None for shell form."""
        text = self.args.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                return None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        return None

    def words(self) -> list[str]:
        try:
            return shlex.split(self.args)
        except ValueError as exc:
            raise DockerfileError(f"line {self.line}: {self.name} {self.args!r}: {exc}") from None


def parse(text: str) -> list[Instruction]:
    """Instructions in order; continuation lines joined, comments and blank lines skipped."""
    instructions: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full.lstrip().startswith("#"):
            continue
        match = re.match(r"(\w+)\s*(.*)", full, re.S)
        if match is None:
            raise DockerfileError(f"line {start}: cannot read {full!r}")
        name = match.group(1).upper()
        if name not in KNOWN:
            raise DockerfileError(f"line {start}: {name} is not a Dockerfile instruction")
        if name not in SUPPORTED:
            raise DockerfileError(f"line {start}: labstack's image builder does not support {name}; "
                                  f"it builds {', '.join(sorted(SUPPORTED))}")
        instructions.append(Instruction(start, name, match.group(2)))
    if pending:
        raise DockerfileError("the Dockerfile ends in the middle of a continued line")
    if not instructions or instructions[0].name not in ("FROM", "ARG"):
        raise DockerfileError("a Dockerfile must start with FROM")
    return instructions
