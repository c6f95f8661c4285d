"""A CodeBuild action's artifacts, moved as CodeBuild moves them: by the build, as the project's service role.

CodePipeline itself only starts and watches the build (codebuild:StartBuild and BatchGetBuilds as the action's
role). CodeBuild downloads the input artifact from the artifact store in DOWNLOAD_SOURCE and uploads the
output artifacts in UPLOAD_ARTIFACTS with the build's session of the project's service role, so it is that role
that needs s3:GetObject and s3:PutObject on the store and kms:Decrypt and kms:GenerateDataKey on its key; a
refusal fails the build in that phase, and the action with the build.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from labstack.services.codebuild.artifacts import ArtifactError
from labstack.services.codebuild.sources import SourceError
from labstack.services.codepipeline.action_job import ActionFailed, ActionJob

if TYPE_CHECKING:
    from labstack.services.codebuild.role import RoleSession

Reader = Callable[["RoleSession"], bytes]
Writer = Callable[[str | None, Path, "RoleSession"], None]


def _said(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"


def reader(job: ActionJob, name: str) -> Reader:
    """The build's CODEPIPELINE source: input artifact ``name``, read by the build with its role session (a
    refusal fails DOWNLOAD_SOURCE with CLIENT_ERROR, in CodeBuild's words)."""
    def read(role: "RoleSession") -> bytes:
        where = job.execution.artifacts[name]
        version = f"arn:aws:s3:::{where['bucket']}/{where['key']}"

        def refused(sentence: str) -> SourceError:
            return SourceError("CLIENT_ERROR", f"AccessDenied: {sentence} for primary source and source version {version}")
        try:
            return job.read_artifact(name, role.identity, role.client("s3"), refused)
        except ClientError as exc:
            raise SourceError("CLIENT_ERROR", f"{_said(exc)} for primary source and source version {version}") from None
        except ActionFailed as exc:  # the store's key cannot be used at all
            raise SourceError("CLIENT_ERROR", exc.message) from None
    return read


def writer(job: ActionJob, stored: dict[str, dict[str, str]], name_of: Callable[[str | None], str]) -> Writer:
    """The build's CODEPIPELINE artifacts: each stored in the artifact store by the build with its role session, as
    output artifact ``name_of(artifact identifier)``, its location kept in ``stored`` (a refusal fails
    UPLOAD_ARTIFACTS with CLIENT_ERROR)."""
    def write(ident: str | None, path: Path, role: "RoleSession") -> None:
        name = name_of(ident)
        where = f"output artifact {name} to s3://{job.store['location']}"

        def refused(sentence: str) -> ArtifactError:
            return ArtifactError(f"error while uploading {where}: AccessDenied: {sentence}")
        try:
            stored[name] = job.store_artifact(name, path.read_bytes(), role.identity, role.client("s3"), refused)
        except ClientError as exc:
            raise ArtifactError(f"error while uploading {where}: {_said(exc)}") from None
        except ActionFailed as exc:
            raise ArtifactError(exc.message) from None
    return write


def hand_on(job: ActionJob, stored: dict[str, dict[str, str]], missing: str) -> None:
    """After the build succeeded: its stored artifacts become the action's output artifacts, for later actions;
    an output artifact it did not produce fails the action (``missing``, formatted with the name)."""
    for name in job.output_names():
        if name not in stored:
            raise ActionFailed(missing.format(name=name))
    for name in job.output_names():
        job.record_output(name, stored[name])
