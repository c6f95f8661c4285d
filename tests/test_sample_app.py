"""The sample app: its own tests and reports, its releases, and its Test stage's buildspecs
on labstack's CodeBuild."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.codebuild import Lab
from tests.support.sampleapp import app_copy, source_project

pytest_plugins = ["tests.support.sampleapp_fixtures"]


def _run(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=folder, capture_output=True, text=True, timeout=120, check=False)


def _unit_tests(folder: Path) -> ET.Element:
    """Run the app's tests under coverage as its buildspec does; the JUnit XML's root."""
    tested = _run(folder, "coverage", "run", "--source=app", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "--junitxml=reports/junit.xml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert _run(folder, "coverage", "xml", "-o", "reports/coverage.xml").returncode == 0
    return ET.parse(folder / "reports" / "junit.xml").getroot()


def test_the_apps_tests_pass_with_junit_and_coverage_reports(tmp_path: Path) -> None:
    folder = app_copy(tmp_path / "app")
    suite = _unit_tests(folder).find("testsuite")
    assert suite is not None and int(suite.get("tests", 0)) >= 20
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    coverage = ET.parse(folder / "reports" / "coverage.xml").getroot()
    assert float(coverage.get("line-rate", 0)) >= 0.8
    assert {c.get("filename") for c in coverage.iter("class")} >= {"app/pricing.py", "app/server.py"}


@pytest.mark.parametrize("release", ["v2", "v3"])
def test_each_release_is_a_commit_whose_tests_pass(tmp_path: Path, release: str) -> None:
    folder = app_copy(tmp_path / "app", release)
    assert f'VERSION = "{release}"' in (folder / "app" / "version.py").read_text()
    _unit_tests(folder)


@pytest.mark.parametrize(("release", "statuses"), [("v2", "200 200 200 200 200 200"), ("v3", "200 200 500 200 200 500")])
def test_v3_fails_every_third_request_to_the_index(tmp_path: Path, release: str, statuses: str) -> None:
    folder = app_copy(tmp_path / "app", release)
    probe = "from app.server import respond; print(*[respond('/')[0] for _ in range(6)])"
    answered = subprocess.run([sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True, timeout=30, check=False)
    assert answered.stdout.split() == statuses.split()
    assert answered.stderr.count("KeyError('verison')") == statuses.count("500")


def _reports(lab: Lab, build: dict) -> dict[str, dict]:
    reports = lab.codebuild.batch_get_reports(reportArns=build["reportArns"])["reports"]
    return {r["name"].removeprefix(build["projectName"] + "-"): r for r in reports}


def test_the_unit_test_buildspec_reports_tests_and_coverage(lab: Lab, tmp_path: Path) -> None:
    source_project(lab, "unit", "buildspec-unit.yml", app_copy(tmp_path / "app"))
    build = lab.run("unit", timeout=60)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lab.logs(build))
    reports = _reports(lab, build)
    assert set(reports) == {"unit-tests", "coverage"}
    counts = reports["unit-tests"]["testSummary"]["statusCounts"]
    assert counts.get("SUCCEEDED", 0) >= 20 and counts.get("FAILED", 0) == 0
    assert reports["coverage"]["codeCoverageSummary"]["lineCoveragePercentage"] >= 80.0


def test_the_security_scan_passes_the_app_and_fails_a_finding(lab: Lab, tmp_path: Path) -> None:
    source_project(lab, "scan", "buildspec-security.yml", app_copy(tmp_path / "clean"))
    build = lab.run("scan", timeout=60)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lab.logs(build))
    assert "security-reports" in _reports(lab, build)
    risky = app_copy(tmp_path / "risky")
    (risky / "app" / "admin.py").write_text("import subprocess\n\n\ndef run(command):\n"
                                           "    return subprocess.call(command, shell=True)\n")
    source_project(lab, "scan-risky", "buildspec-security.yml", risky)
    build = lab.run("scan-risky", timeout=60)
    assert build["buildStatus"] == "FAILED"
    assert any("B602" in line for line in lab.logs(build))
    report = _reports(lab, build)["security-reports"]
    assert report["testSummary"]["statusCounts"].get("FAILED", 0) + report["testSummary"]["statusCounts"].get("ERROR", 0) >= 1
