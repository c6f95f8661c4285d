"""docs/fidelity.md is what labstack's providers and botocore's models say now (regenerate it with
``python -m labstack.fidelity`` from infra/, or ``.venv/bin/python -m labstack.fidelity``)."""

from __future__ import annotations

from pathlib import Path

from botocore import xform_name

from labstack import cli, fidelity
from labstack.differences import DIFFERENCES
from labstack.services.codedeploy.provider import CodeDeployProvider


def test_the_committed_table_is_what_the_code_says() -> None:
    """An operation added to (or removed from) a provider without regenerating the table fails here."""
    expected = fidelity.render(fidelity.builtin())
    assert fidelity.TABLE.read_text(encoding="utf-8") == expected, f"docs/fidelity.md is stale: run {fidelity.COMMAND}"


def test_a_provider_that_gains_or_loses_an_operation_changes_the_table() -> None:
    """A provider with one more operation, and one with one fewer, each render differently, in the count and lists."""
    before = fidelity.coverage(CodeDeployProvider)
    gained_op, lost_op = before.missing[0], before.implemented[0]

    def answer(self: CodeDeployProvider, ctx: object, request: dict) -> dict:
        return {}

    gained = type("Gained", (CodeDeployProvider,), {xform_name(gained_op): answer})
    lost = type("Lost", (CodeDeployProvider,), {xform_name(lost_op): None})
    assert fidelity.coverage(gained).implemented == tuple(sorted((*before.implemented, gained_op)))
    assert lost_op in fidelity.coverage(lost).missing
    original = fidelity.render([CodeDeployProvider])
    with_more, with_fewer = fidelity.render([gained]), fidelity.render([lost])
    assert original != with_more and original != with_fewer
    assert f"| {len(before.implemented) + 1} of {before.total} |" in with_more
    assert f"| {len(before.implemented) - 1} of {before.total} |" in with_fewer


def test_every_known_difference_is_in_the_table() -> None:
    text = fidelity.render([CodeDeployProvider])
    assert all(f"- {d.text}" in text for d in DIFFERENCES)
    assert text.index("## Known differences from AWS") > text.index("## Services labstack serves itself")


def test_the_check_command_fails_on_a_stale_file_and_passes_once_written(tmp_path: Path) -> None:
    table = tmp_path / "fidelity.md"
    table.write_text("# an old table\n", encoding="utf-8")
    assert fidelity.main(["--check", "--output", str(table)]) == 1
    assert cli.main(["fidelity", "--output", str(table)]) == 0  # labstack fidelity is the same command
    assert fidelity.main(["--check", "--output", str(table)]) == 0
