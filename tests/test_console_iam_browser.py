"""The console's IAM page in a real browser (Debian's headless chromium): a role session's calls listed
with their decisions, a denial naming the statement that decided it or saying none allowed it, and the
least-privilege policy of what the role used. Screenshots are saved in the test's tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.browser import Browser
from tests.support.codebuild import new_account
from tests.support.policystream import denied, policy, role, session
from tests.support.server import LabstackProcess

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.support.browser_fixtures"]  # the `browser` fixture

ACCOUNT = new_account()


def test_the_iam_page_explains_each_decision_and_suggests_a_policy(labstack: LabstackProcess, browser: Browser,
                                                                   tmp_path: Path) -> None:
    arn = role(labstack.client("iam", account=ACCOUNT), ACCOUNT, "publisher", policy(
        {"Sid": "Topics", "Effect": "Allow", "Action": ["sns:CreateTopic", "sns:Publish"], "Resource": "*"},
        {"Sid": "KeepTopics", "Effect": "Deny", "Action": "sns:DeleteTopic", "Resource": "*"}))
    keys = session(labstack.client("sts", account=ACCOUNT), arn, "release-7")
    sns = keys.client(labstack, "sns")
    topic = sns.create_topic(Name="releases")["TopicArn"]
    sns.publish(TopicArn=topic, Message="v7 is out")
    assert denied(lambda: sns.delete_topic(TopicArn=topic)) == "AccessDenied"
    assert denied(lambda: keys.client(labstack, "sqs").list_queues()) == "AccessDeniedException"

    browser.open(f"{labstack.endpoint}/_labstack/?account={ACCOUNT}#/iam")
    browser.wait_for("!!document.querySelector('#view table a')", "the principals")
    assert browser.evaluate("document.querySelector('nav a[aria-current=page]').textContent") == "IAM"
    assert keys.arn in browser.text("#view") and arn in browser.text("#view")
    browser.screenshot(tmp_path / "iam-principals.png")
    browser.click("#view table a")
    browser.wait_for("!!document.querySelector('pre.policy')", "the principal's calls and the suggested policy")
    assert browser.evaluate("document.getElementById('title').textContent") == keys.arn
    rows = browser.evaluate("[...document.querySelectorAll('#view tbody tr')].map((r) => [...r.cells].map((c) => c.innerText))")
    by_action = {row[0]: row for row in rows}
    assert by_action["sns:DeleteTopic"][2].endswith("Denied: explicit deny")
    assert by_action["sns:DeleteTopic"][3].startswith('statement "KeepTopics" of identity-based policy inline policy stream-test denies')
    assert by_action["sqs:ListQueues"][2].endswith("Denied: no statement allows it")
    assert "because no identity-based policy allows the sqs:ListQueues action" in by_action["sqs:ListQueues"][3]
    assert by_action["sns:Publish"][1] == topic and by_action["sns:Publish"][2].endswith("Allowed")
    suggested = json.loads(browser.text("pre.policy"))
    assert {a for s in suggested["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} == {
        "sns:CreateTopic", "sns:Publish", "sns:DeleteTopic", "sqs:ListQueues"}
    assert "labstack iam suggest publisher" in browser.text("#view")
    browser.screenshot(tmp_path / "iam-principal.png")
    assert browser.errors == []  # nothing blocked by the page's own-origin-only policy, no script errors
