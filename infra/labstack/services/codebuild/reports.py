"""Test and coverage reports: files a build names in ``reports``, parsed into report groups."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labstack.services.codebuild.artifacts import select
from labstack.state import AccountRegionStore

if TYPE_CHECKING:
    from labstack.services.codebuild.buildspec import Buildspec
    from labstack.services.codebuild.logs import BuildLog
    from labstack.services.codebuild.runner import BuildJob

UTC = dt.timezone.utc
MAX_REPORT_FILE_BYTES = 50 * 1024 * 1024


class ReportFormatError(ValueError):
    """A report file that does not parse in its declared format."""


@dataclass
class Store:
    """Report groups, reports, test cases and coverages of one account+region."""

    groups: dict[str, dict] = field(default_factory=dict)        # arn -> ReportGroup
    reports: dict[str, dict] = field(default_factory=dict)       # arn -> Report
    test_cases: dict[str, list[dict]] = field(default_factory=dict)
    coverages: dict[str, list[dict]] = field(default_factory=dict)


def group_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:codebuild:{region}:{account}:report-group/{name}"


def parse_junit(path: Path, report_arn: str) -> list[dict]:
    """JUnit XML test cases (AWS statuses SUCCEEDED, FAILED, ERROR, SKIPPED)."""
    root = _xml(path)
    cases = []
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    for suite in suites:
        for case in suite.findall("testcase"):
            status, message = "SUCCEEDED", ""
            for tag, name in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
                found = case.find(tag)
                if found is not None:
                    status, message = name, (found.get("message") or found.text or "").strip()
                    break
            item = {
                "reportArn": report_arn,
                "testRawDataPath": str(path),
                "prefix": case.get("classname", ""),
                "name": case.get("name", ""),
                "status": status,
                "durationInNanoSeconds": int(float(case.get("time") or 0) * 1e9),
                "testSuiteName": suite.get("name", ""),
            }
            if message:
                item["message"] = message
            cases.append(item)
    return cases


def parse_coverage(path: Path, file_format: str, report_arn: str) -> list[dict]:
    """Per-file line and branch coverage from Cobertura or Clover XML."""
    root = _xml(path)
    files: list[dict] = []
    if file_format == "COBERTURAXML":
        for cls in root.iter("class"):
            lines = cls.findall("./lines/line")
            covered = sum(1 for ln in lines if int(ln.get("hits", "0")) > 0)
            b_cov = b_all = 0
            for ln in lines:
                cond = ln.get("condition-coverage", "")  # "50% (1/2)"
                if "(" in cond:
                    done, total = cond.split("(")[1].rstrip(")").split("/")
                    b_cov, b_all = b_cov + int(done), b_all + int(total)
            files.append(_coverage(report_arn, cls.get("filename", cls.get("name", "?")), covered, len(lines) - covered, b_cov, b_all - b_cov))
    elif file_format == "CLOVERXML":
        for fl in root.iter("file"):
            metrics = fl.find("metrics")
            if metrics is None:
                continue
            stmts, covered = int(metrics.get("statements", 0)), int(metrics.get("coveredstatements", 0))
            conds, c_cov = int(metrics.get("conditionals", 0)), int(metrics.get("coveredconditionals", 0))
            files.append(_coverage(report_arn, fl.get("path") or fl.get("name", "?"), covered, stmts - covered, c_cov, conds - c_cov))
    else:
        raise ReportFormatError(f"labstack does not read {file_format} coverage reports yet")
    return files


def _coverage(report_arn: str, path: str, covered: int, missed: int, b_covered: int, b_missed: int) -> dict:
    lines, branches = covered + missed, b_covered + b_missed
    return {
        "id": str(uuid.uuid4()),
        "reportARN": report_arn,
        "filePath": path,
        "lineCoveragePercentage": round(100.0 * covered / lines, 2) if lines else 0.0,
        "linesCovered": covered,
        "linesMissed": missed,
        "branchCoveragePercentage": round(100.0 * b_covered / branches, 2) if branches else 0.0,
        "branchesCovered": b_covered,
        "branchesMissed": b_missed,
    }


def _xml(path: Path) -> ET.Element:
    if path.stat().st_size > MAX_REPORT_FILE_BYTES:
        raise ReportFormatError(f"{path.name} is larger than {MAX_REPORT_FILE_BYTES} bytes")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ReportFormatError(f"{path.name} is not valid XML: {exc}") from None


def test_summary(cases: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case["status"]] = counts.get(case["status"], 0) + 1
    return {"total": len(cases), "statusCounts": counts, "durationInNanoSeconds": sum(c["durationInNanoSeconds"] for c in cases)}


def coverage_summary(files: list[dict]) -> dict:
    covered = sum(f["linesCovered"] for f in files)
    missed = sum(f["linesMissed"] for f in files)
    b_cov = sum(f["branchesCovered"] for f in files)
    b_miss = sum(f["branchesMissed"] for f in files)
    return {
        "lineCoveragePercentage": round(100.0 * covered / (covered + missed), 2) if covered + missed else 0.0,
        "linesCovered": covered, "linesMissed": missed,
        "branchCoveragePercentage": round(100.0 * b_cov / (b_cov + b_miss), 2) if b_cov + b_miss else 0.0,
        "branchesCovered": b_cov, "branchesMissed": b_miss,
    }


class ReportSink:
    """Report state of every account+region, and the build-side step that fills it."""

    def __init__(self) -> None:
        self.stores: AccountRegionStore[Store] = AccountRegionStore(Store)
        self.lock = threading.RLock()

    def store(self, account: str, region: str) -> Store:
        return self.stores.get(account, region)

    def ensure_group(self, account: str, region: str, name: str, report_type: str) -> dict:
        """The report group ``name``, created (as a build creates it) if missing."""
        arn = group_arn(account, region, name)
        with self.lock:
            groups = self.store(account, region).groups
            if arn not in groups:
                now = dt.datetime.now(UTC)
                groups[arn] = {"arn": arn, "name": name, "type": report_type, "status": "ACTIVE",
                               "exportConfig": {"exportConfigType": "NO_EXPORT"}, "created": now, "lastModified": now}
            return groups[arn]

    def publish(self, job: "BuildJob", spec: "Buildspec", src: Path, log: "BuildLog") -> list[str]:
        """Parse each report the buildspec names; the ARNs of the reports made."""
        arns = []
        for declared in spec.reports:
            name = declared.name if declared.name.startswith("arn:") else f"{job.project['name']}-{declared.name}"
            group = self.ensure_group(job.account, job.region, name.rsplit("/", 1)[-1], declared.report_type)
            report_arn = f"arn:aws:codebuild:{job.region}:{job.account}:report/{group['name']}:{job.uuid}"
            report: dict[str, Any] = {
                "arn": report_arn, "type": declared.report_type, "name": group["name"], "reportGroupArn": group["arn"],
                "executionId": job.record["arn"], "created": dt.datetime.now(UTC),
                "exportConfig": {"exportConfigType": "NO_EXPORT"}, "truncated": False,
            }
            cases: list[dict] = []
            coverages: list[dict] = []
            status = "SUCCEEDED"
            chosen = select(src, declared.files)
            try:
                for path, _ in chosen:
                    if declared.report_type == "TEST":
                        if declared.file_format != "JUNITXML":
                            raise ReportFormatError(f"labstack does not read {declared.file_format} test reports yet")
                        cases += parse_junit(path, report_arn)
                    else:
                        coverages += parse_coverage(path, declared.file_format, report_arn)
            except ReportFormatError as exc:
                status = "FAILED"
                log.container(f"Error processing report {declared.name}: {exc}")
            if not chosen:
                status = "FAILED"
                log.container(f"Report {declared.name}: no report files found for {', '.join(declared.files.files)}")
            elif status == "SUCCEEDED" and declared.report_type == "TEST" and any(c["status"] in ("FAILED", "ERROR") for c in cases):
                status = "FAILED"
            report["status"] = status
            if declared.report_type == "TEST":
                report["testSummary"] = test_summary(cases)
            else:
                report["codeCoverageSummary"] = coverage_summary(coverages)
            with self.lock:
                store = self.store(job.account, job.region)
                store.reports[report_arn] = report
                store.test_cases[report_arn] = cases
                store.coverages[report_arn] = coverages
            log.container(f"Report {group['name']}: {status}")
            arns.append(report_arn)
        return arns
