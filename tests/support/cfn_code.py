"""What the Code* CloudFormation handler tests share: the type names, a build environment, a zip with file
modes, the seed code a repository starts from, and pipeline action declarations in template form."""

from __future__ import annotations

import io
import stat
import zipfile

REPOSITORY, PROJECT, PIPELINE = "AWS::CodeCommit::Repository", "AWS::CodeBuild::Project", "AWS::CodePipeline::Pipeline"
ENVIRONMENT = {"Type": "LINUX_CONTAINER", "Image": "aws/codebuild/standard:7.0", "ComputeType": "BUILD_GENERAL1_SMALL"}
FILE, EXECUTABLE = stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
# The seed: a build of it passes only if check.sh kept its executable bit, the project's GREETING and the
# pipeline's STAGE reached the build, and the nested file was committed.
SEED = {"buildspec.yml": ("version: 0.2\nphases:\n  build:\n    commands:\n      - ./check.sh\n", FILE),
        "check.sh": ('#!/bin/sh\nset -e\ntest "$GREETING" = hello\ntest "$STAGE" = staging\n'
                     "grep -q seeded notes/readme.txt\n", EXECUTABLE),
        "notes/readme.txt": ("seeded from S3\n", FILE)}


def zipped(files: dict[str, tuple[str, int]]) -> bytes:
    """A zip of ``files`` (name -> (text, st_mode))."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def action(name: str, category: str, provider: str, configuration: dict, inputs: tuple = (), outputs: tuple = ()) -> dict:
    """A pipeline action declaration as a template writes it."""
    return {"Name": name, "ActionTypeId": {"Category": category, "Owner": "AWS", "Provider": provider, "Version": "1"},
            "Configuration": configuration, "InputArtifacts": [{"Name": n} for n in inputs],
            "OutputArtifacts": [{"Name": n} for n in outputs], "RunOrder": 1}
