"""The console in a real browser (Debian's headless chromium): approving a waiting approval with
a click lets the pipeline go on, and the pages work with the keyboard alone. Screenshots are
saved in each test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import Browser
from tests.support.browser_console import PIPELINE, gated_pipeline
from tests.support.codepipeline import PipelineLab
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.browser_fixtures"]  # the `browser` fixture


@pytest.fixture(scope="module")
def lab(labstack: LabstackProcess) -> PipelineLab:
    return PipelineLab(labstack)


def console(lab: PipelineLab, page: str) -> str:
    return f"{lab.server.endpoint}/_labstack/?account={lab.account}#/{page}"


def test_clicking_approve_in_the_inbox_lets_the_pipeline_go_on(lab: PipelineLab, browser: Browser, tmp_path: Path) -> None:
    execution = gated_pipeline(lab)
    browser.open(console(lab, "inbox"))
    browser.wait_for("!!document.querySelector('fieldset.approval button.approve')", "the approval's Approve button")
    assert "APPROVAL NEEDED: AWS CodePipeline gated for action Review" in browser.text("#view")
    browser.screenshot(tmp_path / "inbox-waiting.png")
    browser.click("fieldset.approval textarea")
    browser.type("staging looks right")
    browser.click("fieldset.approval button.approve")
    browser.wait_for("document.getElementById('live').textContent.startsWith('Approved')", "the approval to be announced")
    assert lab.wait(PIPELINE, execution)["status"] == "Succeeded"
    review = lab.actions(PIPELINE, execution)["Review"]
    assert review["output"]["executionResult"]["externalExecutionSummary"] == "staging looks right"
    browser.wait_for("document.querySelector('.mail .badge')?.innerText.includes('Answered')", "the inbox to show it answered")
    browser.open(console(lab, f"pipelines/{PIPELINE}"))
    browser.wait_for("document.querySelector('#stage-2 .badge')?.innerText.includes('Succeeded')",
                     "the Approve stage to show Succeeded")
    assert "fieldset" not in browser.evaluate("document.getElementById('view').innerHTML")
    browser.screenshot(tmp_path / "pipeline-approved.png")
    assert browser.errors == []  # nothing blocked by the page's own-origin-only policy, no script errors


def test_the_console_works_with_the_keyboard(lab: PipelineLab, browser: Browser, tmp_path: Path) -> None:
    browser.open(console(lab, "pipelines"))
    browser.wait_for("document.getElementById('updated').textContent.startsWith('Updated')", "the first answer")
    browser.press("Tab", 9)
    assert browser.evaluate("document.activeElement.className") == "skip"
    browser.press("Tab", 9)
    browser.press("Tab", 9)
    assert browser.evaluate("document.activeElement.textContent") == "Builds"
    browser.press("Enter", 13)
    browser.wait_for("location.hash === '#/builds' && document.activeElement.id === 'title'", "Builds to open and take the focus")
    assert browser.evaluate("document.querySelector('nav a[aria-current=page]').textContent") == "Builds"
    assert browser.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"  # the focus is visible
    browser.evaluate("document.querySelector('.skip').focus()")
    browser.press("Enter", 13)
    assert browser.evaluate("document.activeElement.id") == "title" and browser.evaluate("location.hash") == "#/builds"
    browser.wait_for("document.getElementById('updated').textContent.startsWith('Updated')", "the builds")
    browser.screenshot(tmp_path / "builds-by-keyboard.png")
    assert browser.errors == []
