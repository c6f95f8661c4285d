"""CodeBuild projects: create, update, delete, batch get, list; AWS's errors and checks."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import ENVIRONMENT, Lab, buildspec

SPEC = buildspec({"build": {"commands": ["echo hi"]}})

pytest_plugins = ["tests.support.codebuild_fixtures"]


def _error(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def test_create_fills_in_aws_defaults(lab: Lab) -> None:
    project = lab.project("app-build", SPEC, description="builds the app")
    assert project["arn"] == f"arn:aws:codebuild:us-east-1:{lab.account}:project/app-build"
    assert project["timeoutInMinutes"] == 60 and project["queuedTimeoutInMinutes"] == 480
    assert project["cache"] == {"type": "NO_CACHE"}
    assert project["logsConfig"]["cloudWatchLogs"] == {"status": "ENABLED"}
    assert project["environment"]["privilegedMode"] is False
    assert project["badge"] == {"badgeEnabled": False}
    assert project["encryptionKey"] == f"arn:aws:kms:us-east-1:{lab.account}:alias/aws/s3"


def test_duplicate_name_is_refused(lab: Lab) -> None:
    lab.project("twice", SPEC)
    with pytest.raises(ClientError) as excinfo:
        lab.project("twice", SPEC)
    code, message = _error(excinfo)
    assert code == "ResourceAlreadyExistsException"
    assert "twice" in message


@pytest.mark.parametrize("role", ["codebuild-role", "arn:aws:iam::12345:role/x", "arn:aws:s3:::bucket"])
def test_service_role_must_be_a_role_arn(lab: Lab, role: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        lab.project("bad-role", SPEC, role=role)
    code, message = _error(excinfo)
    assert code == "InvalidInputException" and "service role" in message


def test_service_role_of_another_account_is_refused(lab: Lab) -> None:
    with pytest.raises(ClientError) as excinfo:
        lab.project("other-role", SPEC, role="arn:aws:iam::999999999999:role/r")
    assert "does not match" in _error(excinfo)[1]


def test_model_validation_answers_before_the_provider(lab: Lab) -> None:
    client = lab.server.client("codebuild", account=lab.account, validate=False)
    with pytest.raises(ClientError) as excinfo:
        client.create_project(name="x", source={"type": "NO_SOURCE"}, artifacts={"type": "NO_ARTIFACTS"},
                              environment=ENVIRONMENT, serviceRole=lab.role)
    assert _error(excinfo)[0] == "ValidationException"


def test_no_source_needs_a_buildspec_and_pipeline_needs_both_sides(lab: Lab) -> None:
    with pytest.raises(ClientError) as excinfo:
        lab.project("empty", "")
    assert _error(excinfo)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as excinfo:
        lab.codebuild.create_project(name="half-pipeline", source={"type": "CODEPIPELINE"}, artifacts={"type": "NO_ARTIFACTS"},
                                     environment=ENVIRONMENT, serviceRole=lab.role)
    assert "CodePipeline" in _error(excinfo)[1]


def test_update_changes_members_and_last_modified(lab: Lab) -> None:
    created = lab.project("upd", SPEC)
    time.sleep(0.01)
    updated = lab.codebuild.update_project(name="upd", timeoutInMinutes=15, badgeEnabled=True)["project"]
    assert updated["timeoutInMinutes"] == 15 and updated["badge"] == {"badgeEnabled": True}
    assert updated["lastModified"] > created["lastModified"] and updated["created"] == created["created"]
    with pytest.raises(ClientError) as excinfo:
        lab.codebuild.update_project(name="nope", timeoutInMinutes=15)
    assert _error(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        lab.codebuild.update_project(name="upd", serviceRole="not-a-role")
    assert _error(excinfo)[0] == "InvalidInputException"


def test_batch_get_by_name_or_arn_and_not_found(lab: Lab) -> None:
    project = lab.project("getme", SPEC)
    got = lab.codebuild.batch_get_projects(names=["getme", project["arn"], "missing"])
    assert [p["name"] for p in got["projects"]] == ["getme", "getme"]
    assert got["projectsNotFound"] == ["missing"]


def test_list_sorts_and_delete_is_idempotent(lab: Lab) -> None:
    for name in ("bravo", "alpha", "charlie"):
        lab.project(name, SPEC)
        time.sleep(0.01)
    cb = lab.codebuild
    assert cb.list_projects()["projects"] == ["alpha", "bravo", "charlie"]
    assert cb.list_projects(sortBy="NAME", sortOrder="DESCENDING")["projects"] == ["charlie", "bravo", "alpha"]
    assert cb.list_projects(sortBy="CREATED_TIME")["projects"] == ["bravo", "alpha", "charlie"]
    cb.delete_project(name="alpha")
    cb.delete_project(name="alpha")
    assert cb.list_projects()["projects"] == ["bravo", "charlie"]


def test_projects_are_per_account_and_region(lab: Lab) -> None:
    lab.project("mine", SPEC)
    other = Lab(lab.server)
    assert "projects" not in other.codebuild.list_projects()
    west = lab.server.client("codebuild", account=lab.account, region="us-west-2")
    assert west.batch_get_projects(names=["mine"])["projectsNotFound"] == ["mine"]


def test_unknown_project_cannot_build(lab: Lab) -> None:
    with pytest.raises(ClientError) as excinfo:
        lab.codebuild.start_build(projectName="ghost")
    code, message = _error(excinfo)
    assert code == "ResourceNotFoundException" and "ghost" in message


def test_status_counts_projects(lab: Lab) -> None:
    import json
    import urllib.request

    lab.project("counted", SPEC)
    with urllib.request.urlopen(lab.server.endpoint + "/_labstack/status") as reply:
        status = json.load(reply)
    assert status["accounts"][lab.account]["resources"]["codebuild"] == 1


def test_curated_environment_images(lab: Lab) -> None:
    platforms = lab.codebuild.list_curated_environment_images()["platforms"]
    names = [i["name"] for p in platforms for lang in p["languages"] for i in lang["images"]]
    assert "aws/codebuild/standard:7.0" in names
