"""Test and coverage reports: files a build names in ``reports``, parsed into report groups."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
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


def _case(report_arn: str, path: Path, suite: str, prefix: str, name: str, status: str, seconds: float, message: str = "") -> dict:
    item = {"reportArn": report_arn, "testRawDataPath": str(path), "prefix": prefix, "name": name, "status": status,
            "durationInNanoSeconds": int(seconds * 1e9), "testSuiteName": suite}
    if message:
        item["message"] = message.strip()
    return item


def _local(tag: str) -> str:
    """A tag without its XML namespace (TRX files have one)."""
    return tag.rsplit("}", 1)[-1]


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _seconds(text: str | None) -> float:
    """``1.5`` or ``00:00:01.5000`` as seconds."""
    if not text:
        return 0.0
    if ":" in text:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return float(text)


def parse_tests(path: Path, file_format: str, report_arn: str) -> list[dict]:
    """Test cases of one report file, with AWS's statuses SUCCEEDED, FAILED, ERROR, SKIPPED."""
    if file_format == "CUCUMBERJSON":
        return _cucumber(path, report_arn)
    root = _xml(path)
    cases = []
    if file_format == "JUNITXML":
        for suite in ([root] if _local(root.tag) == "testsuite" else _all(root, "testsuite")):
            for case in (c for c in suite if _local(c.tag) == "testcase"):
                status, message = "SUCCEEDED", ""
                for tag, name in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
                    found = _child(case, tag)
                    if found is not None:
                        status, message = name, found.get("message") or found.text or ""
                        break
                cases.append(_case(report_arn, path, suite.get("name", ""), case.get("classname", ""), case.get("name", ""),
                                   status, _seconds(case.get("time")), message))
    elif file_format == "TESTNG":
        statuses = {"PASS": "SUCCEEDED", "FAIL": "FAILED", "SKIP": "SKIPPED"}
        for suite in _all(root, "suite"):
            for cls in _all(suite, "class"):
                for method in _all(cls, "test-method"):
                    if method.get("is-config") == "true":
                        continue
                    exc = _child(method, "exception")
                    cases.append(_case(report_arn, path, suite.get("name", ""), cls.get("name", ""), method.get("name", ""),
                                       statuses.get(method.get("status", ""), "ERROR"), int(method.get("duration-ms", 0)) / 1000,
                                       exc.get("class", "") if exc is not None else ""))
    elif file_format in ("NUNITXML", "NUNIT3XML"):
        statuses = {"success": "SUCCEEDED", "passed": "SUCCEEDED", "failure": "FAILED", "failed": "FAILED",
                    "error": "ERROR", "ignored": "SKIPPED", "skipped": "SKIPPED", "notrunnable": "SKIPPED", "inconclusive": "SKIPPED"}
        for case in _all(root, "test-case"):
            failure = _child(case, "failure")
            text = failure.findtext("message") if failure is not None else ""
            name = case.get("name", "")
            prefix = case.get("classname") or (case.get("fullname") or name).rsplit(".", 1)[0]
            cases.append(_case(report_arn, path, root.get("name", ""), prefix, name,
                               statuses.get(case.get("result", "").lower(), "ERROR"),
                               _seconds(case.get("duration") or case.get("time")), text or ""))
    elif file_format == "VISUALSTUDIOTRX":
        statuses = {"passed": "SUCCEEDED", "failed": "FAILED", "notexecuted": "SKIPPED", "error": "ERROR"}
        for result in _all(root, "UnitTestResult"):
            message = next((e.text or "" for e in result.iter() if _local(e.tag) == "Message"), "")
            cases.append(_case(report_arn, path, "", "", result.get("testName", ""),
                               statuses.get(result.get("outcome", "").lower(), "ERROR"), _seconds(result.get("duration")), message))
    else:
        raise ReportFormatError(f"labstack does not read {file_format} test reports")
    return cases


def _cucumber(path: Path, report_arn: str) -> list[dict]:
    """Scenarios of a Cucumber JSON report as test cases."""
    features = _json(path)
    if not isinstance(features, list):
        raise ReportFormatError(f"{path.name} is not a Cucumber JSON report (a list of features)")
    cases = []
    for feature in features:
        for scenario in feature.get("elements", []) if isinstance(feature, dict) else []:
            results = [step.get("result", {}) for step in scenario.get("steps", [])]
            kinds = {r.get("status", "passed") for r in results}
            status = "FAILED" if "failed" in kinds else "SKIPPED" if kinds and kinds <= {"skipped", "pending", "undefined"} else "SUCCEEDED"
            message = next((r.get("error_message", "") for r in results if r.get("status") == "failed"), "")
            nanos = sum(int(r.get("duration", 0)) for r in results)
            cases.append(_case(report_arn, path, feature.get("name", ""), feature.get("name", ""), scenario.get("name", ""),
                               status, nanos / 1e9, message))
    return cases


def parse_coverage(path: Path, file_format: str, report_arn: str) -> list[dict]:
    """Per-file line and branch coverage from Cobertura, Clover, JaCoCo or SimpleCov."""
    if file_format == "SIMPLECOV":
        return _simplecov(path, report_arn)
    root = _xml(path)
    files: list[dict] = []
    if file_format == "COBERTURAXML":
        for cls in _all(root, "class"):
            lines = _all(cls, "line")
            covered = sum(1 for ln in lines if int(ln.get("hits", "0")) > 0)
            b_cov = b_all = 0
            for ln in lines:
                cond = ln.get("condition-coverage", "")  # "50% (1/2)"
                if "(" in cond:
                    done, total = cond.split("(")[1].rstrip(")").split("/")
                    b_cov, b_all = b_cov + int(done), b_all + int(total)
            files.append(_coverage(report_arn, cls.get("filename", cls.get("name", "?")), covered, len(lines) - covered, b_cov, b_all - b_cov))
    elif file_format == "CLOVERXML":
        for fl in _all(root, "file"):
            metrics = _child(fl, "metrics")
            if metrics is None:
                continue
            stmts, covered = int(metrics.get("statements", 0)), int(metrics.get("coveredstatements", 0))
            conds, c_cov = int(metrics.get("conditionals", 0)), int(metrics.get("coveredconditionals", 0))
            files.append(_coverage(report_arn, fl.get("path") or fl.get("name", "?"), covered, stmts - covered, c_cov, conds - c_cov))
    elif file_format == "JACOCOXML":
        for package in _all(root, "package"):
            for source in (s for s in package if _local(s.tag) == "sourcefile"):
                counters = {c.get("type"): c for c in source if _local(c.tag) == "counter"}
                line, branch = counters.get("LINE"), counters.get("BRANCH")
                files.append(_coverage(
                    report_arn, f"{package.get('name', '')}/{source.get('name', '?')}".lstrip("/"),
                    int(line.get("covered", 0)) if line is not None else 0, int(line.get("missed", 0)) if line is not None else 0,
                    int(branch.get("covered", 0)) if branch is not None else 0, int(branch.get("missed", 0)) if branch is not None else 0))
    else:
        raise ReportFormatError(f"labstack does not read {file_format} coverage reports")
    return files


def _simplecov(path: Path, report_arn: str) -> list[dict]:
    """SimpleCov's JSON formatter output: ``files[].coverage`` (a list of hits, or ``{"lines": [...]}``)."""
    data = _json(path)
    files = []
    for entry in data.get("files", []) if isinstance(data, dict) else []:
        hits = entry.get("coverage", [])
        hits = hits.get("lines", []) if isinstance(hits, dict) else hits
        relevant = [h for h in hits if h is not None and h != "ignored"]
        covered = sum(1 for h in relevant if int(h) > 0)
        files.append(_coverage(report_arn, entry.get("filename", "?"), covered, len(relevant) - covered, 0, 0))
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


def _check_size(path: Path) -> None:
    if path.stat().st_size > MAX_REPORT_FILE_BYTES:
        raise ReportFormatError(f"{path.name} is larger than {MAX_REPORT_FILE_BYTES} bytes")


def _json(path: Path) -> object:
    _check_size(path)
    try:
        return json.loads(path.read_text(errors="replace"))
    except ValueError as exc:
        raise ReportFormatError(f"{path.name} is not valid JSON: {exc}") from None


def _xml(path: Path) -> ET.Element:
    _check_size(path)
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ReportFormatError(f"{path.name} is not valid XML: {exc}") from None


def summarise_tests(cases: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case["status"]] = counts.get(case["status"], 0) + 1
    return {"total": len(cases), "statusCounts": counts, "durationInNanoSeconds": sum(c["durationInNanoSeconds"] for c in cases)}


def summarise_coverage(files: list[dict]) -> dict:
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

    def publish(self, job: BuildJob, spec: Buildspec, src: Path, log: BuildLog,
                denial: Callable[[str, str], str | None]) -> tuple[list[str], list[str]]:
        """Parse each report the buildspec names; the ARNs of the reports made, and for each report the
        build's role may not make, ``NAME: [error creating report group: <denial>]``. ``denial(action,
        report group ARN)`` is the role's AccessDenied sentence for an action it may not take, or None."""
        arns, refused = [], []
        for declared in spec.reports:
            name = declared.name if declared.name.startswith("arn:") else f"{job.project['name']}-{declared.name}"
            problem = self._refusal(job, name.rsplit("/", 1)[-1], declared.report_type, denial)
            if problem:
                refused.append(f"{declared.name}: [{problem}]")
                continue
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
                        cases += parse_tests(path, declared.file_format, report_arn)
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
                report["testSummary"] = summarise_tests(cases)
            else:
                report["codeCoverageSummary"] = summarise_coverage(coverages)
            with self.lock:
                store = self.store(job.account, job.region)
                store.reports[report_arn] = report
                store.test_cases[report_arn] = cases
                store.coverages[report_arn] = coverages
            log.container(f"Report {group['name']}: {status}")
            arns.append(report_arn)
        return arns, refused

    def _refusal(self, job: BuildJob, group: str, report_type: str, denial: Callable[[str, str], str | None]) -> str | None:
        """What the build's role may not do to report into ``group`` (CodeBuild creates a missing group and
        a report in it, adds the test cases or coverages, then updates the report), in CodeBuild's words."""
        arn = group_arn(job.account, job.region, group)
        with self.lock:
            exists = arn in self.store(job.account, job.region).groups
        puts = "codebuild:BatchPutTestCases" if report_type == "TEST" else "codebuild:BatchPutCodeCoverages"
        steps = [] if exists else [("codebuild:CreateReportGroup", "error creating report group")]
        steps += [("codebuild:CreateReport", "error creating report"), (puts, "error uploading report"),
                  ("codebuild:UpdateReport", "error updating report")]
        for action, what in steps:
            refused = denial(action, arn)
            if refused:
                return f"{what}: AccessDeniedException: {refused}"
        return None
