"""Report files in every format a buildspec may name, parsed as CodeBuild reports them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labstack.services.codebuild.reports import (
    ReportFormatError,
    parse_coverage,
    parse_tests,
    summarise_coverage,
    summarise_tests,
)

ARN = "arn:aws:codebuild:us-east-1:123456789012:report/g:1"
TESTS = {
    "TESTNG": """<testng-results><suite name="s"><test name="t"><class name="app.Calc">
<test-method status="PASS" name="adds" duration-ms="20"/><test-method status="FAIL" name="divides" duration-ms="5">
<exception class="java.lang.ArithmeticException"/></test-method><test-method status="SKIP" name="later" duration-ms="0"/>
<test-method status="PASS" name="setUp" is-config="true" duration-ms="1"/></class></test></suite></testng-results>""",
    "NUNITXML": """<test-results name="suite.dll"><test-suite><results>
<test-case name="App.Calc.Adds" executed="True" result="Success" time="0.020"/>
<test-case name="App.Calc.Divides" executed="True" result="Failure" time="0.005"><failure><message>boom</message></failure></test-case>
<test-case name="App.Calc.Later" executed="False" result="Ignored"/></results></test-suite></test-results>""",
    "NUNIT3XML": """<test-run><test-suite name="s"><test-case name="Adds" fullname="App.Calc.Adds" result="Passed" duration="0.02"/>
<test-case name="Divides" fullname="App.Calc.Divides" result="Failed" duration="0.005"><failure><message>boom</message></failure></test-case>
<test-case name="Later" fullname="App.Calc.Later" result="Skipped" duration="0"/></test-suite></test-run>""",
    "VISUALSTUDIOTRX": """<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"><Results>
<UnitTestResult testName="Adds" outcome="Passed" duration="00:00:00.0200000"/>
<UnitTestResult testName="Divides" outcome="Failed" duration="00:00:00.0050000"><Output><ErrorInfo><Message>boom</Message></ErrorInfo></Output></UnitTestResult>
<UnitTestResult testName="Later" outcome="NotExecuted" duration="00:00:00"/></Results></TestRun>""",
    "CUCUMBERJSON": json.dumps([{"name": "Calc", "elements": [
        {"name": "Adds", "steps": [{"result": {"status": "passed", "duration": 20_000_000}}]},
        {"name": "Divides", "steps": [{"result": {"status": "passed", "duration": 1_000_000}},
                                      {"result": {"status": "failed", "duration": 4_000_000, "error_message": "boom"}}]},
        {"name": "Later", "steps": [{"result": {"status": "skipped"}}]}]}]),
}
COVERED = {"JACOCOXML": (6, 2, 3, 1), "SIMPLECOV": (5, 2, 0, 0)}  # lines covered, missed; branches covered, missed
COVERAGE = {
    "JACOCOXML": """<report name="r"><package name="app"><sourcefile name="Calc.java">
<counter type="INSTRUCTION" missed="9" covered="30"/><counter type="LINE" missed="2" covered="6"/>
<counter type="BRANCH" missed="1" covered="3"/></sourcefile></package></report>""",
    "SIMPLECOV": json.dumps({"files": [{"filename": "app/calc.rb", "coverage": {"lines": [1, 1, 0, None, 2, 0, 1, 1, None]}}]}),
}


@pytest.mark.parametrize("file_format", sorted(TESTS))
def test_test_formats_give_the_same_cases(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / "report"
    path.write_text(TESTS[file_format])
    cases = parse_tests(path, file_format, ARN)
    assert [(c["name"].rsplit(".", 1)[-1].lower(), c["status"]) for c in cases] == [
        ("adds", "SUCCEEDED"), ("divides", "FAILED"), ("later", "SKIPPED")]
    summary = summarise_tests(cases)
    assert summary["total"] == 3 and summary["durationInNanoSeconds"] == 25_000_000
    if file_format != "TESTNG":
        assert cases[1]["message"] == "boom"


@pytest.mark.parametrize("file_format", sorted(COVERAGE))
def test_coverage_formats(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / "coverage"
    path.write_text(COVERAGE[file_format])
    files = parse_coverage(path, file_format, ARN)
    summary = summarise_coverage(files)
    assert len(files) == 1 and files[0]["filePath"] in ("app/Calc.java", "app/calc.rb")
    lines, missed, _, _ = COVERED[file_format]
    assert (summary["linesCovered"], summary["linesMissed"], summary["branchesCovered"], summary["branchesMissed"]) == COVERED[file_format]
    assert summary["lineCoveragePercentage"] == round(100 * lines / (lines + missed), 2)


@pytest.mark.parametrize("file_format, text", [("JUNITXML", "<testsuite><unclosed>"), ("CUCUMBERJSON", "{not json"),
                                               ("CUCUMBERJSON", '{"a": 1}'), ("COBERTURAXML", "<<")])
def test_broken_report_files_are_refused(tmp_path: Path, file_format: str, text: str) -> None:
    path = tmp_path / "broken"
    path.write_text(text)
    with pytest.raises(ReportFormatError):
        if file_format == "COBERTURAXML":
            parse_coverage(path, file_format, ARN)
        else:
            parse_tests(path, file_format, ARN)
