"""Lab 07's reference templates (infra/pipeline-as-code/): cfn-lint finds nothing in them, they use what the lab
asks for, and the Test stage's Lint build (buildspec-lint.yml, cfn-lint from the kit's build tools) fails on a
template with an error and passes the reference templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint import api, decode

from tests.support.codebuild import Lab, log_lines, run_build
from tests.support.codepipeline import zipped

pytest_plugins = ["tests.support.codebuild_fixtures"]

HERE = Path(__file__).resolve().parents[1] / "infra" / "pipeline-as-code"
TEMPLATES = ("base.yaml", "pipeline.yaml", "build-projects.yaml")


def _template(name: str) -> dict:
    loaded, errors = decode.decode(str(HERE / name))
    assert not errors, errors
    return loaded


@pytest.mark.parametrize("name", TEMPLATES)
def test_cfn_lint_finds_nothing_in_the_reference_templates(name: str) -> None:
    assert [str(m) for m in api.lint_file(HERE / name)] == []


def test_the_pipeline_template_uses_what_the_lab_asks_for() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html,
    .../conditions-section-structure.html, .../aws-resource-cloudformation-stack.html, .../intrinsic-function-reference-importvalue.html"""
    template = _template("pipeline.yaml")
    assert template["Parameters"]["Environment"]["AllowedValues"] == ["dev", "prod"]
    assert set(template["Mappings"]["EnvironmentConfig"]) == {"dev", "prod"}
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    assert [s.get("Name") or "If" for s in stages] == ["Source", "Build", "Test", "Deploy_Staging", "If", "Deploy_Production"]
    assert stages[4]["Fn::If"][0] == "IsProd" and stages[4]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert [a["Name"] for a in stages[2]["Actions"]] == ["UnitTests", "Lint"]
    assert {a["RunOrder"] for a in stages[2]["Actions"]} == {1}
    assert template["Resources"]["Projects"]["Type"] == "AWS::CloudFormation::Stack"
    group = template["Resources"]["DeploymentGroup"]["Properties"]
    assert group["AutoRollbackConfiguration"]["Events"] == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    assert group["DeploymentStyle"]["DeploymentType"] == "BLUE_GREEN" and group["AlarmConfiguration"]["Enabled"]
    text = (HERE / "pipeline.yaml").read_text()
    base_exports = {o["Export"]["Name"]["Fn::Sub"].replace("${Prefix}", "${BasePrefix}")
                    for o in _template("base.yaml")["Outputs"].values() if "Export" in o}
    imported = {name for name in base_exports if name in text}
    assert imported == base_exports  # every export of the base stack is imported


def _lint_build(lab: Lab, files: dict[str, str]) -> tuple[dict, list[str]]:
    """A build of buildspec-lint.yml on a source holding ``files`` (an S3 source, as a pipeline's artifact)."""
    s3 = lab.client("s3")
    bucket = f"lint-{lab.account}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="source.zip", Body=zipped(
        {"buildspec-lint.yml": (HERE / "buildspec-lint.yml").read_text(), **files}))
    lab.codebuild.create_project(
        name="lint", serviceRole=lab.role, artifacts={"type": "NO_ARTIFACTS"},
        source={"type": "S3", "location": f"{bucket}/source.zip", "buildspec": "buildspec-lint.yml"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    build = run_build(lab.codebuild, "lint", timeout=120)
    return build, log_lines(lab.client("logs"), build)


@pytest.mark.slow
def test_the_lint_build_passes_the_reference_templates(codebuild_lab: Lab) -> None:
    build, log = _lint_build(codebuild_lab, {f"infra/{n}": (HERE / n).read_text() for n in TEMPLATES})
    assert build["buildStatus"] == "SUCCEEDED", log
    assert any("Running command cfn-lint --non-zero-exit-code error" in line for line in log), log


@pytest.mark.slow
def test_the_lint_build_fails_on_a_template_with_an_error(codebuild_lab: Lab) -> None:
    """A plausible slip: the pipeline's stages given as ``Stage`` (E3002, an unknown property); cfn-lint's exit
    code is non-zero on an error, so the build fails in BUILD.
    https://github.com/aws-cloudformation/cfn-lint#exit-codes"""
    broken = (HERE / "pipeline.yaml").read_text().replace("      Stages:\n", "      Stage:\n", 1)
    build, log = _lint_build(codebuild_lab, {"infra/pipeline.yaml": broken})
    assert build["buildStatus"] == "FAILED"
    failed = [p for p in build["phases"] if p.get("phaseStatus") == "FAILED"]
    assert [p["phaseType"] for p in failed] == ["BUILD"]
    assert any("E3002" in line and "pipeline.yaml" in line for line in log), log


@pytest.mark.slow
def test_the_lint_build_passes_a_template_with_only_a_warning(codebuild_lab: Lab) -> None:
    """``--non-zero-exit-code error``: a warning (W2001, a parameter no resource uses) is shown, not failed on."""
    warned = (HERE / "build-projects.yaml").read_text().replace(
        "Parameters:\n", "Parameters:\n  Unused:\n    Type: String\n    Default: x\n", 1)
    build, log = _lint_build(codebuild_lab, {"infra/build-projects.yaml": warned})
    assert build["buildStatus"] == "SUCCEEDED", log
    assert any("W2001" in line for line in log), log
