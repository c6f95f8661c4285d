"""A pipeline's CodeBuild action with BatchEnabled runs a batch build, its output artifacts named as AWS's
"CodePipeline integration with CodeBuild and batch builds" sample names them
(https://docs.aws.amazon.com/codebuild/latest/userguide/sample-pipeline-batch.html), and the action's
BatchEnabled/CombineArtifacts as the CodeBuild action reference describes them
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html)."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.support.codebuild import ENVIRONMENT, buildspec
from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.roles import service_role

pytest_plugins = ["tests.support.codepipeline_fixtures"]

# The sample's buildspec: a build list of build1 and build2, each writing output_file, as the primary artifact and
# as the secondary artifacts artifact1 and artifact2.
SAMPLE = buildspec({"build": {"commands": ["echo \"from $CODEBUILD_BATCH_BUILD_IDENTIFIER\" > output_file"]}},
                   batch={"build-list": [{"identifier": "build1", "env": {"compute-type": "BUILD_GENERAL1_SMALL"}},
                                         {"identifier": "build2", "env": {"compute-type": "BUILD_GENERAL1_MEDIUM"}}]},
                   artifacts={"files": ["output_file"],
                              "secondary-artifacts": {"artifact1": {"files": ["output_file"]},
                                                      "artifact2": {"files": ["output_file"]}}})


def batch_project(lab: PipelineLab, name: str) -> None:
    """A pipeline project whose buildspec (in the source) has the sample's batch section, batch builds enabled."""
    role = service_role(lab.client("iam"), "batch-role", "codebuild.amazonaws.com")
    lab.codebuild.create_project(name=name, source={"type": "CODEPIPELINE"}, artifacts={"type": "CODEPIPELINE"},
                                 environment=ENVIRONMENT, serviceRole=lab.build_role,
                                 buildBatchConfig={"serviceRole": role})


def batch_action(project: str, outputs: tuple, **config: str) -> dict:
    return action("Build", "Build", "CodeBuild", {"ProjectName": project, "BatchEnabled": "true", **config},
                  inputs=("src",), outputs=outputs)


def artifact(lab: PipelineLab, run: dict, name: str) -> zipfile.ZipFile:
    """An output artifact of an action execution, as the zip the artifact store holds."""
    stored = next(a for a in run["output"]["outputArtifacts"] if a["name"] == name)["s3location"]
    body = lab.s3.get_object(Bucket=stored["bucket"], Key=stored["key"])["Body"].read()
    return zipfile.ZipFile(io.BytesIO(body))


@pytest.mark.slow
def test_batch_enabled_hands_each_builds_artifacts_to_the_outputs_named_for_them(lab: PipelineLab) -> None:
    """"Batch build with individual artifacts": output build1 is build1's primary artifact, build1_artifact1 its
    secondary artifact artifact1, build2 build2's primary artifact."""
    lab.source({"buildspec.yml": SAMPLE})
    batch_project(lab, "batched")
    lab.create("batch-pipe", stage("Source", s3_source(lab.sources)),
               stage("Build", batch_action("batched", ("build1", "build1_artifact1", "build2"))))
    done = lab.run("batch-pipe", timeout=90)
    assert done["status"] == "Succeeded"
    run = lab.actions("batch-pipe", done["pipelineExecutionId"])["Build"]
    batch_id = run["output"]["executionResult"]["externalExecutionId"]
    assert batch_id.startswith("batched:")
    batch = lab.codebuild.batch_get_build_batches(ids=[batch_id])["buildBatches"][0]
    assert batch["buildBatchStatus"] == "SUCCEEDED" and batch["initiator"] == "codepipeline/batch-pipe"
    assert artifact(lab, run, "build1").read("output_file") == b"from build1\n"
    assert artifact(lab, run, "build1_artifact1").read("output_file") == b"from build1\n"
    assert artifact(lab, run, "build2").read("output_file") == b"from build2\n"


@pytest.mark.slow
def test_combine_artifacts_makes_one_artifact_of_every_build(lab: PipelineLab) -> None:
    """"Batch build with combined artifacts": one output artifact, the primary artifacts of all the builds in one
    zip; the batch records a COMBINE_ARTIFACTS phase."""
    lab.source({"buildspec.yml": SAMPLE})
    batch_project(lab, "combined")
    lab.create("combine-pipe", stage("Source", s3_source(lab.sources)),
               stage("Build", batch_action("combined", ("output1",), CombineArtifacts="true")))
    done = lab.run("combine-pipe", timeout=90)
    assert done["status"] == "Succeeded"
    run = lab.actions("combine-pipe", done["pipelineExecutionId"])["Build"]
    combined = artifact(lab, run, "output1")
    assert sorted(combined.namelist()) == ["build1/output_file", "build2/output_file"]
    assert combined.read("build2/output_file") == b"from build2\n"
    batch = lab.codebuild.batch_get_build_batches(ids=[run["output"]["executionResult"]["externalExecutionId"]])
    assert "COMBINE_ARTIFACTS" in [p["phaseType"] for p in batch["buildBatches"][0]["phases"]]


@pytest.mark.slow
def test_a_failed_batch_fails_the_action_and_combine_takes_one_output(lab: PipelineLab) -> None:
    """A batch that fails fails the action with the batch's reason; CombineArtifacts with two outputs is a
    configuration error (one output is allowed)."""
    failing = buildspec({"build": {"commands": ["exit 2"]}}, batch={"build-list": [{"identifier": "only"}]})
    lab.source({"buildspec.yml": failing})
    batch_project(lab, "broken")
    lab.create("broken-pipe", stage("Source", s3_source(lab.sources)),
               stage("Build", batch_action("broken", ())))
    done = lab.run("broken-pipe", timeout=60)
    assert done["status"] == "Failed"
    details = lab.actions("broken-pipe", done["pipelineExecutionId"])["Build"]
    assert "Build batch terminated with state: FAILED" in details["output"]["executionResult"]["externalExecutionSummary"]
    lab.create("two-outputs", stage("Source", s3_source(lab.sources)),
               stage("Build", batch_action("broken", ("a", "b"), CombineArtifacts="true")))
    refused = lab.actions("two-outputs", lab.wait_for_executions("two-outputs", 1)[0]["pipelineExecutionId"])["Build"]
    assert "one output artifact" in refused["output"]["executionResult"]["externalExecutionSummary"]
