"""The interface the CodePipeline engine uses: a build whose input and output artifacts it
hands over itself. It lives inside labstack, so this test serves a labstack from this process."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.support.codebuild import ENVIRONMENT, build_role, buildspec
from tests.support.inprocess import client


def test_a_pipeline_build_takes_its_input_and_hands_back_its_artifact(inprocess, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    codebuild = client(inprocess, "codebuild")
    codebuild.create_project(name="piped", source={"type": "CODEPIPELINE"}, artifacts={"type": "CODEPIPELINE"},
                             environment=ENVIRONMENT, serviceRole=build_role(client(inprocess, "iam")))
    source = tmp_path / "source.zip"
    with zipfile.ZipFile(source, "w") as zf:
        zf.writestr("buildspec.yml", buildspec({"build": {"commands": ["mkdir -p out && cp app.txt out/app.txt",
                                                                       "echo by=$CODEBUILD_INITIATOR"]}},
                                               artifacts={"files": ["out/*"], "discard-paths": "yes"}))
        zf.writestr("app.txt", "the app")
    handed: list[tuple[str | None, bytes]] = []
    provider = next(p for p in inprocess.providers if p.service == "codebuild")
    job = provider.start_pipeline_build("123456789012", "us-east-1", "piped", "my-pipeline", source,
                                        lambda ident, path, role: handed.append((ident, path.read_bytes())))
    assert job.done.wait(30)
    build = job.snapshot()
    assert build["buildStatus"] == "SUCCEEDED" and build["initiator"] == "codepipeline/my-pipeline"
    assert [ident for ident, _ in handed] == [None]
    assert zipfile.ZipFile(io.BytesIO(handed[0][1])).read("app.txt") == b"the app"
    listed = codebuild.batch_get_builds(ids=[build["id"]])["builds"][0]
    assert listed["buildStatus"] == "SUCCEEDED"
