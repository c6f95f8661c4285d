"""The ✓/✗ table, the one-line failure of a graded cell, the wait bar and the policy reading checks rely on."""

from __future__ import annotations

import pytest

from grader import policies
from grader.progress import WaitTimedOut, wait
from grader.results import CheckResult, Report

REPORT = Report("Lab 01", (
    CheckResult("bucket-exists", True, 1, "bucket b exists"),
    CheckResult("bucket-versioning", False, 2, "versioning of b is Suspended", "turn <it> on"),
))


def test_the_table_in_text_shows_marks_points_and_hints_under_failures() -> None:
    assert REPORT.text().splitlines() == [
        "Lab 01: 1/3 points",
        "  ✓ bucket-exists      1/1  bucket b exists",
        "  ✗ bucket-versioning  0/2  versioning of b is Suspended",
        "      hint: turn <it> on",
    ]
    assert (REPORT.passed, REPORT.earned, REPORT.possible) == (False, 1, 3)


def test_the_table_in_html_escapes_what_it_shows() -> None:
    page = REPORT._repr_html_()
    assert "1/3 points" in page and "turn &lt;it&gt; on" in page and "<it>" not in page
    assert page.count("<tr>") == 3  # header and two checks


def test_wait_returns_the_first_truthy_value_and_times_out_readably() -> None:
    answers = iter([None, 0, "ready"])
    assert wait(lambda: next(answers), timeout=10, every=0.01, label="thing") == "ready"
    with pytest.raises(WaitTimedOut, match="never: still not done after 0 s") as caught:
        wait(lambda: None, timeout=0, every=0.01, label="never")
    assert caught.value._render_traceback_() == ["✗ never: still not done after 0 s"]


def test_trust_policies_are_read_for_services_and_other_principals() -> None:
    doc = {"Statement": {"Effect": "Allow", "Action": ["sts:AssumeRole"],
                         "Principal": {"Service": "codebuild.amazonaws.com", "AWS": "*"}}}
    assert policies.trusted_services(doc) == {"codebuild.amazonaws.com"}
    assert policies.other_principals(doc) == ["everyone (*)"]
    assert policies.trusted_services({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                      "Principal": {"Service": "x"}}]}) == set()


def test_allows_matches_wildcards_and_lets_a_deny_win() -> None:
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password"
    allow = {"Statement": [{"Effect": "Allow", "Action": "ssm:Get*", "Resource": "arn:aws:ssm:*:*:parameter/app/*"}]}
    assert policies.allows([allow], "ssm:GetParameters", arn)
    assert not policies.allows([allow], "ssm:PutParameter", arn)
    assert not policies.allows([allow], "ssm:GetParameters", arn.replace("/app/", "/other/"))
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert not policies.allows([allow, deny], "ssm:GetParameters", arn)
    assert policies.document('{"Statement": []}') == {"Statement": []}
