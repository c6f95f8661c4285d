"""What a check says, and the ✓/✗ table a set of them renders to (HTML in Jupyter, text elsewhere)."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: ``points`` counts only when ``passed``; ``hint`` helps after a ✗."""

    id: str
    passed: bool
    points: int
    message: str
    hint: str = ""

    @property
    def earned(self) -> int:
        """Points this result earns."""
        return self.points if self.passed else 0


@dataclass(frozen=True)
class Report:
    """The results of one run of checks, rendered as a table wherever it is shown."""

    title: str
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(r.passed for r in self.results)

    @property
    def earned(self) -> int:
        """Points earned."""
        return sum(r.earned for r in self.results)

    @property
    def possible(self) -> int:
        """Points available."""
        return sum(r.points for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """The results that did not pass."""
        return [r for r in self.results if not r.passed]

    def text(self) -> str:
        """The table as plain text, hints indented under each ✗."""
        width = max((len(r.id) for r in self.results), default=0)
        lines = [f"{self.title}: {self.earned}/{self.possible} points"]
        for r in self.results:
            mark = "✓" if r.passed else "✗"
            lines.append(f"  {mark} {r.id:<{width}}  {r.earned}/{r.points}  {r.message}")
            if not r.passed and r.hint:
                lines.append(f"      hint: {r.hint}")
        return "\n".join(lines)

    def html(self) -> str:
        """The table as HTML for Jupyter."""
        rows = []
        for r in self.results:
            mark, colour = ("✓", "#1a7f37") if r.passed else ("✗", "#cf222e")
            hint = f"<br><small>💡 {html.escape(r.hint)}</small>" if not r.passed and r.hint else ""
            rows.append(
                f"<tr><td style='color:{colour};font-weight:bold'>{mark}</td>"
                f"<td style='text-align:left'><code>{html.escape(r.id)}</code></td>"
                f"<td>{r.earned}/{r.points}</td>"
                f"<td style='text-align:left'>{html.escape(r.message)}{hint}</td></tr>"
            )
        return (
            f"<div><strong>{html.escape(self.title)}</strong>: {self.earned}/{self.possible} points"
            "<table><thead><tr><th></th><th style='text-align:left'>check</th><th>points</th>"
            "<th style='text-align:left'>result</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
        )

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # type: ignore[no-untyped-def]
        printer.text(self.text())

    def _repr_html_(self) -> str:
        return self.html()
