"""CodeBuild artifacts in S3, the LOCAL cache, test and coverage reports, and the seed's buildspec."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import Lab, buildspec, inline_project, phases

MAKE_FILES = ["mkdir -p dist/sub docs", "echo a > dist/a.txt", "echo b > dist/sub/b.txt", "echo c > docs/c.md", "echo top > top.txt"]
JUNIT = """<testsuites><testsuite name="unit">
<testcase classname="app.tests" name="test_ok" time="0.5"/>
<testcase classname="app.tests" name="test_bad" time="0.25"><failure message="assert 1 == 2">trace</failure></testcase>
<testcase classname="app.tests" name="test_skip" time="0"><skipped/></testcase>
</testsuite></testsuites>"""
COBERTURA = """<coverage line-rate="0.75"><packages><package name="app"><classes>
<class name="main" filename="app/main.py"><lines>
<line number="1" hits="1"/><line number="2" hits="1"/><line number="3" hits="0"/>
<line number="4" hits="2" branch="true" condition-coverage="50% (1/2)"/>
</lines></class></classes></package></packages></coverage>"""
CLOVER = """<coverage><project><file name="index.js" path="src/index.js">
<metrics statements="10" coveredstatements="8" conditionals="4" coveredconditionals="1"/></file></project></coverage>"""

pytest_plugins = ["tests.support.codebuild_fixtures"]


def _artifact_project(lab: Lab, project: str, spec: str, **artifacts: object) -> None:
    lab.client("s3").create_bucket(Bucket=f"out-{lab.account}")
    lab.project(project, spec, artifacts={"type": "S3", "location": f"out-{lab.account}", **artifacts})


def _keys(lab: Lab) -> list[str]:
    listed = lab.client("s3").list_objects_v2(Bucket=f"out-{lab.account}")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_zip_artifact_with_globs_base_directory_and_build_id_namespace(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": MAKE_FILES}}, artifacts={"files": ["**/*"], "base-directory": "dist"})
    _artifact_project(lab, "zipped", spec, packaging="ZIP", name="app.zip", path="builds", namespaceType="BUILD_ID")
    build = lab.run("zipped")
    assert build["buildStatus"] == "SUCCEEDED", lab.logs(build)
    key = f"builds/{build['id'].split(':')[1]}/app.zip"
    assert build["artifacts"]["location"] == f"arn:aws:s3:::out-{lab.account}/{key}"
    assert len(build["artifacts"]["sha256sum"]) == 64
    body = lab.client("s3").get_object(Bucket=f"out-{lab.account}", Key=key)["Body"].read()
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist()) == ["a.txt", "sub/b.txt"]


def test_unzipped_artifact_with_discard_paths_and_secondary_artifacts(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": MAKE_FILES}}, artifacts={
        "files": ["dist/**/*", "top.txt"], "discard-paths": "yes",
        "secondary-artifacts": {"docs": {"files": ["docs/*.md"]}}})
    _artifact_project(lab, "flat", spec, name="flat", packaging="NONE")
    lab.codebuild.update_project(name="flat", secondaryArtifacts=[
        {"type": "S3", "location": f"out-{lab.account}", "name": "docs-out", "artifactIdentifier": "docs"}])
    build = lab.run("flat")
    assert build["buildStatus"] == "SUCCEEDED", lab.logs(build)
    assert _keys(lab) == ["docs-out/docs/c.md", "flat/a.txt", "flat/b.txt", "flat/top.txt"]
    assert build["secondaryArtifacts"][0]["artifactIdentifier"] == "docs"


def test_a_missing_bucket_fails_upload_artifacts(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": ["echo x > out.txt"]}}, artifacts={"files": ["out.txt"]})
    lab.project("nobucket", spec, artifacts={"type": "S3", "location": "no-such-bucket", "name": "out"})
    build = lab.run("nobucket")
    context = phases(build)["UPLOAD_ARTIFACTS"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and context["statusCode"] == "CLIENT_ERROR"
    assert "s3://no-such-bucket/out" in context["message"]


def test_no_matching_artifact_fails_upload_artifacts(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": ["true"]}}, artifacts={"files": ["nothing-here/*"]})
    _artifact_project(lab, "empty-art", spec)
    build = lab.run("empty-art")
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["UPLOAD_ARTIFACTS"]["contexts"] == [{"statusCode": "CLIENT_ERROR", "message": "no matching artifact paths found"}]


@pytest.mark.parametrize("kind", ["LOCAL", "S3"])
def test_cache_keeps_paths_between_builds(lab: Lab, kind: str) -> None:
    spec = buildspec({"build": {"commands": ["cat deps/cached.txt || echo cache-miss", "mkdir -p deps && echo cache-hit > deps/cached.txt"]}},
                     cache={"paths": ["deps/**/*"]})
    lab.client("s3").create_bucket(Bucket=f"cache-{lab.account}")
    declared = {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]} if kind == "LOCAL" else {"type": "S3", "location": f"cache-{lab.account}/ci"}
    lab.project("cached", spec, cache=declared)
    assert "cache-miss" in lab.logs(lab.run("cached"))
    assert "cache-hit" in lab.logs(lab.run("cached"))


def test_reports_create_groups_test_cases_and_coverage(lab: Lab) -> None:
    spec = buildspec(
        {"build": {"commands": [f"cat > junit.xml <<'EOF'\n{JUNIT}\nEOF", f"cat > cobertura.xml <<'EOF'\n{COBERTURA}\nEOF",
                                f"mkdir -p coverage && cat > coverage/clover.xml <<'EOF'\n{CLOVER}\nEOF"]}},
        reports={"unit": {"files": ["junit.xml"], "file-format": "JUNITXML"},
                 "cov": {"files": ["cobertura.xml"], "file-format": "COBERTURAXML"},
                 "clover": {"files": ["coverage/clover.xml"], "file-format": "CLOVERXML"}})
    lab.project("reported", spec)
    build = lab.run("reported")
    assert len(build["reportArns"]) == 3
    cb = lab.codebuild
    groups = cb.list_report_groups(sortBy="NAME")["reportGroups"]
    assert [g.rsplit("/", 1)[1] for g in groups] == ["reported-clover", "reported-cov", "reported-unit"]
    reports = {r["name"]: r for r in cb.batch_get_reports(reportArns=build["reportArns"])["reports"]}
    unit = reports["reported-unit"]
    assert unit["status"] == "FAILED" and unit["executionId"] == build["arn"]
    assert unit["testSummary"]["statusCounts"] == {"SUCCEEDED": 1, "FAILED": 1, "SKIPPED": 1}
    assert unit["testSummary"]["durationInNanoSeconds"] == 750_000_000
    failed = cb.describe_test_cases(reportArn=unit["arn"], filter={"status": "FAILED"})["testCases"]
    assert [(c["name"], c["message"]) for c in failed] == [("test_bad", "assert 1 == 2")]
    cov = reports["reported-cov"]["codeCoverageSummary"]
    assert cov["linesCovered"] == 3 and cov["linesMissed"] == 1 and cov["branchesCovered"] == 1
    clover = cb.describe_code_coverages(reportArn=reports["reported-clover"]["arn"])["codeCoverages"]
    assert clover[0]["filePath"] == "src/index.js" and clover[0]["lineCoveragePercentage"] == 80.0
    trend = cb.get_report_group_trend(reportGroupArn=unit["reportGroupArn"], trendField="TOTAL")
    assert trend["stats"] == {"average": "3", "max": "3", "min": "3"}
    assert cb.list_reports_for_report_group(reportGroupArn=unit["reportGroupArn"])["reports"] == [unit["arn"]]


def test_report_group_api(lab: Lab) -> None:
    cb = lab.codebuild
    group = cb.create_report_group(name="manual", type="TEST", exportConfig={"exportConfigType": "NO_EXPORT"})["reportGroup"]
    with pytest.raises(ClientError) as excinfo:
        cb.create_report_group(name="manual", type="TEST", exportConfig={"exportConfigType": "NO_EXPORT"})
    assert excinfo.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    updated = cb.update_report_group(arn=group["arn"], tags=[{"key": "team", "value": "ci"}])["reportGroup"]
    assert updated["tags"] == [{"key": "team", "value": "ci"}]
    assert cb.batch_get_report_groups(reportGroupArns=[group["arn"], group["arn"] + "x"])["reportGroupsNotFound"] == [group["arn"] + "x"]
    cb.delete_report_group(arn=group["arn"])
    assert "reportGroups" not in cb.list_report_groups()
    with pytest.raises(ClientError) as excinfo:
        cb.describe_test_cases(reportArn=group["arn"].replace("report-group", "report") + ":x")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


SEED_APP = {
    "app/__init__.py": "",
    "app/main.py": "def add(a, b):\n    return a + b\n",
    "tests/test_main.py": "from app.main import add\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "taskdef.json": json.dumps({"family": "app"}),
    "appspec.yaml": "version: 0.0\n",
    "requirements.txt": "",
    "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY app/ ./app/\nCMD [\"python\", \"-m\", \"app.main\"]\n",
    # what jest and trivy would leave behind, in the formats the seed's reports section names
    "scripts/reports.py": (
        "import json, pathlib\n"
        "pathlib.Path('coverage').mkdir(exist_ok=True)\n"
        "pathlib.Path('coverage/clover.xml').write_text('<coverage><project><file name=\"main.py\" path=\"app/main.py\">'\n"
        "    '<metrics statements=\"2\" coveredstatements=\"2\" conditionals=\"0\" coveredconditionals=\"0\"/></file></project></coverage>')\n"
        "scan = [{'name': 'image scan', 'elements': [{'name': 'no critical vulnerabilities', 'steps': [{'result': {'status': 'passed', 'duration': 1000}}]}]}]\n"
        "pathlib.Path('trivy-results.json').write_text(json.dumps(scan))\n"
    ),
}


@pytest.mark.slow
def test_the_seed_buildspec_runs_as_written(lab: Lab) -> None:
    """The course's buildspec as written, npm swapped for Python tooling; docker is labstack's image tool."""
    seed = """version: 0.2

env:
  variables:
    NODE_ENV: production
  parameter-store:
    DB_PASSWORD: /app/db/password
  secrets-manager:
    API_KEY: prod/api-key:API_KEY

phases:
  install:
    runtime-versions:
      python: latest
    commands:
      - echo Installing dependencies...
      - pip install --quiet --disable-pip-version-check -r requirements.txt
  pre_build:
    commands:
      - echo Logging into ECR...
      - aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin $ECR_REPO
      - COMMIT_HASH=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c 1-7)
      - IMAGE_TAG=${COMMIT_HASH:-latest}
  build:
    commands:
      - echo Building application... with $DB_PASSWORD and $API_KEY
      - python3 -m pytest -q -p no:cacheprovider tests && python3 scripts/reports.py
      - echo Building Docker image...
      - docker build -t $ECR_REPO:$IMAGE_TAG .
      - docker tag $ECR_REPO:$IMAGE_TAG $ECR_REPO:latest
  post_build:
    commands:
      - echo Pushing Docker image...
      - docker push $ECR_REPO:$IMAGE_TAG
      - docker push $ECR_REPO:latest
      - echo Creating image definitions file...
      - printf '[{"name":"app","imageUri":"%s"}]' $ECR_REPO:$IMAGE_TAG > imagedefinitions.json

artifacts:
  files:
    - imagedefinitions.json
    - taskdef.json
    - appspec.yaml
  discard-paths: yes

cache:
  paths:
    - node_modules/**/*
    - /root/.npm/**/*

reports:
  jest-reports:
    files:
      - 'coverage/clover.xml'
    file-format: CLOVERXML

  security-reports:
    files:
      - 'trivy-results.json'
    file-format: CUCUMBERJSON
"""
    lab.client("ssm").put_parameter(Name="/app/db/password", Value="db-pass-123", Type="SecureString")
    lab.client("secretsmanager").create_secret(Name="prod/api-key", SecretString=json.dumps({"API_KEY": "key-456"}))
    s3 = lab.client("s3")
    s3.create_bucket(Bucket=f"src-{lab.account}")
    s3.create_bucket(Bucket=f"out-{lab.account}")
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        for name, text in {**SEED_APP, "buildspec.yml": seed}.items():
            zf.writestr(name, text)
    s3.put_object(Bucket=f"src-{lab.account}", Key="app.zip", Body=data.getvalue())
    lab.client("ecr").create_repository(repositoryName="app")
    lab.codebuild.create_project(
        name="app-build", serviceRole=lab.role, timeoutInMinutes=30,
        source={"type": "S3", "location": f"src-{lab.account}/app.zip"},
        artifacts={"type": "S3", "location": f"out-{lab.account}", "name": "build_output", "packaging": "ZIP"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/amazonlinux2-x86_64-standard:4.0",
                     "computeType": "BUILD_GENERAL1_MEDIUM", "privilegedMode": True,
                     "environmentVariables": [{"name": "ECR_REPO", "value": f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/app"}]},
        cache={"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]},
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/codebuild/app-build", "streamName": "build-logs"}},
    )
    build = lab.run("app-build", timeout=120)
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "Building application... with *** and ***" in lines
    assert not any("db-pass-123" in line or "key-456" in line for line in lines)
    assert any("Login Succeeded" in line for line in lines)
    images = lab.client("ecr").describe_images(repositoryName="app")["imageDetails"]
    assert [sorted(i.get("imageTags", [])) for i in images] == [["latest"]]
    assert images[0]["imageDigest"].startswith("sha256:") and images[0]["imageSizeInBytes"] > 0
    body = s3.get_object(Bucket=f"out-{lab.account}", Key="build_output")["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["appspec.yaml", "imagedefinitions.json", "taskdef.json"]
    assert json.loads(archive.read("imagedefinitions.json")) == [
        {"name": "app", "imageUri": f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com/app:latest"}]
    reports = {r["name"]: r for r in lab.codebuild.batch_get_reports(reportArns=build["reportArns"])["reports"]}
    assert reports["app-build-jest-reports"]["codeCoverageSummary"]["lineCoveragePercentage"] == 100.0
    assert reports["app-build-security-reports"]["testSummary"]["statusCounts"] == {"SUCCEEDED": 1}


def test_docker_without_privileged_mode_has_no_daemon(lab: Lab) -> None:
    spec = buildspec({"build": {"commands": ["docker build -t app ."]}})
    inline_project(lab.codebuild, "no-daemon", spec, lab.role)
    build = lab.run("no-daemon")
    assert build["buildStatus"] == "FAILED"
    assert any("Cannot connect to the Docker daemon" in line for line in lab.logs(build))
