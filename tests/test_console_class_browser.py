"""The console of a class-mode labstack in a real browser (Debian's headless chromium): a learner signs in
with their key id and secret, sees their own account only, and the session cookie is out of the page's
reach. Screenshots are saved in the test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import Browser
from tests.support.classmode import ClassLabstack

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.browser_fixtures", "tests.support.classmode_fixtures"]  # `browser`, `classroom`


def test_a_learner_signs_in_and_sees_their_own_account(classroom: ClassLabstack, browser: Browser,
                                                       tmp_path: Path) -> None:
    row, other = classroom.rows["learner01"], classroom.rows["learner02"]
    browser.open(f"{classroom.endpoint}/_labstack/?account={other.account_id}#/pipelines")
    browser.wait_for("!!document.getElementById('signin')", "the sign-in form")
    assert browser.evaluate("getComputedStyle(document.getElementById('where')).display") == "none"
    browser.screenshot(tmp_path / "sign-in.png")
    browser.click("#key-id")
    browser.type(row.access_key_id)
    browser.click("#secret")
    browser.type("not-the-secret")
    browser.click("#signin button")
    browser.wait_for("document.getElementById('signin-error').textContent.length > 0", "the refusal")
    assert "not a learner's" in browser.text("#signin-error")
    browser.evaluate("document.getElementById('secret').value = ''")
    browser.click("#secret")
    browser.type(row.secret_access_key)
    browser.click("#signin button")
    browser.wait_for("!!document.querySelector('.who')", "the signed-in learner")
    assert f"learner01 · account {row.account_id}" in browser.text(".who")
    browser.wait_for("document.getElementById('updated').textContent.startsWith('Updated')", "the first answer")
    assert browser.evaluate("document.getElementById('account').value") == row.account_id  # not the other's
    assert browser.evaluate("document.getElementById('account').readOnly") is True
    assert "labstack_session" not in browser.evaluate("document.cookie")  # HttpOnly
    browser.screenshot(tmp_path / "signed-in.png")
    browser.click("#signout")
    browser.wait_for("!!document.getElementById('signin')", "the sign-in form again")
    # the one error the page met is the refused sign-in itself
    assert browser.errors == ["Failed to load resource: the server responded with a status of 403 (Forbidden)"]
