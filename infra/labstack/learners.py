"""The class-mode learners file: one row per learner (and the instructor) with their account and keys.

``labstack learners new N --out FILE`` writes it; ``labstack serve --learners FILE`` reads it. Its
header is ``learner,account_id,access_key_id,secret_access_key``.
"""

from __future__ import annotations

import csv
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("learner", "account_id", "access_key_id", "secret_access_key")
INSTRUCTOR = "instructor"
_KEY_ALPHABET = string.ascii_uppercase + "234567"  # the characters of AWS's key ids
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_RESERVED_ACCOUNTS = {"000000000000", "123456789012"}  # LocalStack's and moto's defaults


class LearnersFileError(ValueError):
    """The learners file cannot be used; the message says which line and why."""


@dataclass(frozen=True)
class Learner:
    """One row of the learners file."""

    learner: str
    account_id: str
    access_key_id: str
    secret_access_key: str

    @property
    def instructor(self) -> bool:
        return self.learner == INSTRUCTOR


def _random(alphabet: str, size: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(size))


def generate(count: int, prefix: str = "learner") -> list[Learner]:
    """``count`` learners named ``<prefix>01``… and the instructor, each with a distinct account and keys."""
    if count < 1:
        raise ValueError("a class needs at least one learner")
    width = max(2, len(str(count)))
    names = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)] + [INSTRUCTOR]
    accounts: set[str] = set()
    rows = []
    for name in names:
        account = _random(string.digits, 12)
        while account in accounts or account in _RESERVED_ACCOUNTS or account.startswith("0"):
            account = _random(string.digits, 12)
        accounts.add(account)
        rows.append(Learner(name, account, "AKIA" + _random(_KEY_ALPHABET, 16), _random(_SECRET_ALPHABET, 40)))
    return rows


def write(path: Path, rows: list[Learner]) -> None:
    """Write ``rows`` to ``path``, readable by its owner only (it holds every secret key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file that existed keeps its mode through O_CREAT: set it
    with os.fdopen(descriptor, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for row in rows:
            out.writerow([row.learner, row.account_id, row.access_key_id, row.secret_access_key])


def read(path: Path) -> list[Learner]:
    """The learners of ``path``; raises :class:`LearnersFileError` naming the first problem."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if not set(COLUMNS) <= set(reader.fieldnames or ()):
                raise LearnersFileError(f"{path} needs the header {','.join(COLUMNS)} (it has {reader.fieldnames})")
            rows = [_row(path, reader.line_num, record) for record in reader]
    except OSError as exc:
        raise LearnersFileError(f"cannot read the learners file {path}: {exc.strerror or exc}") from None
    if not rows:
        raise LearnersFileError(f"{path} lists no learners")
    for column in ("learner", "access_key_id"):
        seen: set[str] = set()
        for row in rows:
            value = getattr(row, column)
            if value in seen:
                raise LearnersFileError(f"{path}: {column} {value} appears twice")
            seen.add(value)
    return rows


def _row(path: Path, line: int, record: dict[str, str | None]) -> Learner:
    values = {column: (record.get(column) or "").strip() for column in COLUMNS}
    empty = [column for column, value in values.items() if not value]
    if empty:
        raise LearnersFileError(f"{path} line {line}: {', '.join(empty)} is empty")
    if not (len(values["account_id"]) == 12 and values["account_id"].isdigit()):
        raise LearnersFileError(f"{path} line {line}: account_id {values['account_id']!r} is not 12 digits")
    if len(values["access_key_id"]) < 16:
        raise LearnersFileError(f"{path} line {line}: access_key_id is shorter than 16 characters")
    if len(values["secret_access_key"]) < 16:
        raise LearnersFileError(f"{path} line {line}: secret_access_key is shorter than 16 characters")
    return Learner(**values)
