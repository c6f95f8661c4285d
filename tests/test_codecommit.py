"""CodeCommit's API: repositories, tags, branches, commits and files, with AWS's errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from labstack import daemon

from tests.support.gitcli import git, new_work_tree
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess, start_labstack


@pytest.fixture
def codecommit(labstack: LabstackProcess):  # type: ignore[no-untyped-def]
    return check_responses(labstack.client("codecommit"))


@pytest.fixture
def name() -> str:
    return f"repo-{uuid.uuid4().hex[:10]}"


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def seeded(codecommit, name: str) -> str:  # type: ignore[no-untyped-def]
    """Create ``name`` with one commit on main (README.md, src/app.py); return the commit id."""
    codecommit.create_repository(repositoryName=name)
    return codecommit.create_commit(
        repositoryName=name, branchName="main", commitMessage="first", authorName="Ada", email="ada@example.com",
        putFiles=[{"filePath": "README.md", "fileContent": b"# demo\n"},
                  {"filePath": "src/app.py", "fileContent": b"print('v1')\n", "fileMode": "EXECUTABLE"}],
    )["commitId"]


# --- repositories -------------------------------------------------------------------
def test_create_get_and_the_clone_url(codecommit, labstack: LabstackProcess, name: str) -> None:
    meta = codecommit.create_repository(repositoryName=name, repositoryDescription="the sample app",
                                        tags={"team": "ci"})["repositoryMetadata"]
    assert meta["cloneUrlHttp"] == f"{labstack.endpoint}/v1/repos/{name}"
    assert meta["Arn"] == f"arn:aws:codecommit:us-east-1:123456789012:{name}"
    assert meta["accountId"] == "123456789012" and "defaultBranch" not in meta
    got = codecommit.get_repository(repositoryName=name)["repositoryMetadata"]
    assert got["repositoryId"] == meta["repositoryId"] and got["repositoryDescription"] == "the sample app"
    assert codecommit.list_tags_for_resource(resourceArn=meta["Arn"])["tags"] == {"team": "ci"}
    with pytest.raises(ClientError) as exc:
        codecommit.create_repository(repositoryName=name)
    assert error_code(exc) == "RepositoryNameExistsException"


def test_the_clone_url_uses_the_address_the_caller_used(labstack: LabstackProcess, name: str) -> None:
    by_name = labstack.endpoint.replace("127.0.0.1", "localhost")  # as a workshop server's learners reach it
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    client = check_responses(session.client("codecommit", endpoint_url=by_name))
    meta = client.create_repository(repositoryName=name)["repositoryMetadata"]
    assert meta["cloneUrlHttp"] == f"{by_name}/v1/repos/{name}"


def test_other_accounts_and_regions_have_their_own_repositories_and_urls(labstack: LabstackProcess, name: str) -> None:
    other = check_responses(labstack.client("codecommit", account="111122223333", region="eu-west-1"))
    meta = other.create_repository(repositoryName=name)["repositoryMetadata"]
    assert meta["cloneUrlHttp"] == f"{labstack.endpoint}/v1/111122223333/eu-west-1/repos/{name}"
    with pytest.raises(ClientError) as exc:
        labstack.client("codecommit").get_repository(repositoryName=name)
    assert error_code(exc) == "RepositoryDoesNotExistException"


@pytest.mark.parametrize("bad", ["ends-with.git", "x" * 101, "my repo", "a/b", "", "naïve"])
def test_invalid_names_are_refused_as_aws_does(labstack: LabstackProcess, bad: str) -> None:
    client = labstack.client("codecommit", validate=False)
    with pytest.raises(ClientError) as exc:
        client.create_repository(repositoryName=bad)
    assert error_code(exc) == "InvalidRepositoryNameException"
    with pytest.raises(ClientError) as exc:
        client.batch_get_repositories(repositoryNames=["fine", bad])
    assert error_code(exc) == "InvalidRepositoryNameException"


def test_list_sorts_by_name_or_date_in_either_order(labstack: LabstackProcess) -> None:
    client = check_responses(labstack.client("codecommit", account="222233334444"))
    for repo in ("bravo", "alpha", "charlie"):
        client.create_repository(repositoryName=repo)

    def names(**kwargs: str) -> list[str]:
        return [r["repositoryName"] for r in client.list_repositories(**kwargs)["repositories"]]

    assert names() == ["alpha", "bravo", "charlie"]
    assert names(sortBy="repositoryName", order="descending") == ["charlie", "bravo", "alpha"]
    assert names(sortBy="lastModifiedDate", order="ascending") == ["bravo", "alpha", "charlie"]
    client.update_repository_description(repositoryName="bravo", repositoryDescription="touched")
    assert names(sortBy="lastModifiedDate", order="descending")[0] == "bravo"
    with pytest.raises(ClientError) as exc:
        client.list_repositories(nextToken="garbage")
    assert error_code(exc) == "InvalidContinuationTokenException"


def test_batch_get_reports_the_missing(codecommit, name: str) -> None:
    codecommit.create_repository(repositoryName=name)
    result = codecommit.batch_get_repositories(repositoryNames=[name, "no-such-repo"])
    assert [r["repositoryName"] for r in result["repositories"]] == [name]
    assert result["repositoriesNotFound"] == ["no-such-repo"]
    with pytest.raises(ClientError) as exc:
        codecommit.batch_get_repositories(repositoryNames=[f"r{i}" for i in range(26)])
    assert error_code(exc) == "MaximumRepositoryNamesExceededException"


def test_rename_keeps_the_history_and_delete_returns_the_id(codecommit, name: str) -> None:
    commit_id = seeded(codecommit, name)
    repo_id = codecommit.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
    codecommit.update_repository_name(oldName=name, newName=name + "-new")
    with pytest.raises(ClientError) as exc:
        codecommit.get_repository(repositoryName=name)
    assert error_code(exc) == "RepositoryDoesNotExistException"
    assert codecommit.get_branch(repositoryName=name + "-new", branchName="main")["branch"]["commitId"] == commit_id
    assert codecommit.delete_repository(repositoryName=name + "-new")["repositoryId"] == repo_id
    assert "repositoryId" not in codecommit.delete_repository(repositoryName=name + "-new")


def test_tags_by_arn(codecommit, name: str) -> None:
    arn = codecommit.create_repository(repositoryName=name)["repositoryMetadata"]["Arn"]
    codecommit.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    codecommit.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert codecommit.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    for bad, code in (("arn:aws:s3:::bucket", "InvalidResourceArnException"),
                      (arn + "-gone", "RepositoryDoesNotExistException")):
        with pytest.raises(ClientError) as exc:
            codecommit.list_tags_for_resource(resourceArn=bad)
        assert error_code(exc) == code
    with pytest.raises(ClientError) as exc:
        codecommit.tag_resource(resourceArn=arn, tags={"aws:x": "1"})
    assert error_code(exc) == "InvalidSystemTagUsageException"


# --- branches -----------------------------------------------------------------------
def test_branches_and_the_default_branch(codecommit, name: str) -> None:
    commit_id = seeded(codecommit, name)
    assert codecommit.get_repository(repositoryName=name)["repositoryMetadata"]["defaultBranch"] == "main"
    codecommit.create_branch(repositoryName=name, branchName="feature/x", commitId=commit_id)
    assert codecommit.list_branches(repositoryName=name)["branches"] == ["feature/x", "main"]
    for kwargs, code in (
        ({"branchName": "feature/x", "commitId": commit_id}, "BranchNameExistsException"),
        ({"branchName": "bad..name", "commitId": commit_id}, "InvalidBranchNameException"),
        ({"branchName": "y", "commitId": "abc"}, "InvalidCommitIdException"),
        ({"branchName": "y", "commitId": "0" * 40}, "CommitDoesNotExistException"),
    ):
        with pytest.raises(ClientError) as exc:
            codecommit.create_branch(repositoryName=name, **kwargs)
        assert error_code(exc) == code
    with pytest.raises(ClientError) as exc:
        codecommit.delete_branch(repositoryName=name, branchName="main")
    assert error_code(exc) == "DefaultBranchCannotBeDeletedException"
    codecommit.update_default_branch(repositoryName=name, defaultBranchName="feature/x")
    deleted = codecommit.delete_branch(repositoryName=name, branchName="main")["deletedBranch"]
    assert deleted == {"branchName": "main", "commitId": commit_id}
    with pytest.raises(ClientError) as exc:
        codecommit.get_branch(repositoryName=name, branchName="main")
    assert error_code(exc) == "BranchDoesNotExistException"
    with pytest.raises(ClientError) as exc:
        codecommit.update_default_branch(repositoryName=name, defaultBranchName="main")
    assert error_code(exc) == "BranchDoesNotExistException"


# --- commits and files --------------------------------------------------------------
def test_commits_files_folders_and_blobs(codecommit, name: str) -> None:
    commit_id = seeded(codecommit, name)
    commit = codecommit.get_commit(repositoryName=name, commitId=commit_id)["commit"]
    assert commit["message"] == "first" and commit["parents"] == []
    assert commit["author"]["name"] == "Ada" and commit["author"]["email"] == "ada@example.com"
    assert commit["author"]["date"].split()[0].isdigit()  # "<epoch seconds> +0000", as AWS gives it
    got = codecommit.get_file(repositoryName=name, filePath="src/app.py")
    assert got["fileContent"] == b"print('v1')\n" and got["fileMode"] == "EXECUTABLE" and got["commitId"] == commit_id
    assert codecommit.get_blob(repositoryName=name, blobId=got["blobId"])["content"] == b"print('v1')\n"
    root = codecommit.get_folder(repositoryName=name, commitSpecifier="main", folderPath="/")
    assert [f["absolutePath"] for f in root["files"]] == ["README.md"]
    assert [f["absolutePath"] for f in root["subFolders"]] == ["src"]
    src = codecommit.get_folder(repositoryName=name, folderPath="src")
    assert src["files"][0]["relativePath"] == "app.py" and src["files"][0]["fileMode"] == "EXECUTABLE"
    batch = codecommit.batch_get_commits(repositoryName=name, commitIds=[commit_id, "f" * 40])
    assert [c["commitId"] for c in batch["commits"]] == [commit_id]
    assert batch["errors"][0]["commitId"] == "f" * 40
    for call, kwargs, code in (
        (codecommit.get_file, {"filePath": "nope.txt"}, "FileDoesNotExistException"),
        (codecommit.get_file, {"filePath": "README.md", "commitSpecifier": "nope"}, "CommitDoesNotExistException"),
        (codecommit.get_folder, {"folderPath": "nope"}, "FolderDoesNotExistException"),
        (codecommit.get_blob, {"blobId": "zz"}, "InvalidBlobIdException"),
        (codecommit.get_blob, {"blobId": "e" * 40}, "BlobIdDoesNotExistException"),
        (codecommit.get_commit, {"commitId": "e" * 40}, "CommitIdDoesNotExistException"),
    ):
        with pytest.raises(ClientError) as exc:
            call(repositoryName=name, **kwargs)
        assert error_code(exc) == code


def test_put_file_checks_the_parent_and_delete_file_removes(codecommit, name: str) -> None:
    first = seeded(codecommit, name)
    put = codecommit.put_file(repositoryName=name, branchName="main", filePath="docs/notes.txt",
                              fileContent=b"notes", parentCommitId=first, commitMessage="notes")
    assert codecommit.get_commit(repositoryName=name, commitId=put["commitId"])["commit"]["parents"] == [first]
    for kwargs, code in (
        ({"parentCommitId": first}, "ParentCommitIdOutdatedException"),
        ({}, "ParentCommitIdRequiredException"),
        ({"parentCommitId": "123"}, "InvalidParentCommitIdException"),
        ({"parentCommitId": "a" * 40}, "ParentCommitDoesNotExistException"),
        ({"parentCommitId": put["commitId"], "filePath": "../x"}, "InvalidPathException"),
        ({"parentCommitId": put["commitId"], "filePath": "README.md/inner"}, "FileNameConflictsWithDirectoryNameException"),
        ({"parentCommitId": put["commitId"], "branchName": "no-such-branch"}, "BranchDoesNotExistException"),
    ):
        args = {"repositoryName": name, "branchName": "main", "filePath": "docs/other.txt", "fileContent": b"x", **kwargs}
        with pytest.raises(ClientError) as exc:
            codecommit.put_file(**args)
        assert error_code(exc) == code
    with pytest.raises(ClientError) as exc:
        codecommit.put_file(repositoryName=name, branchName="main", filePath="docs/notes.txt", fileContent=b"notes",
                            parentCommitId=put["commitId"])
    assert error_code(exc) == "SameFileContentException"
    deleted = codecommit.delete_file(repositoryName=name, branchName="main", filePath="docs/notes.txt",
                                     parentCommitId=put["commitId"])
    assert deleted["blobId"] == put["blobId"]
    with pytest.raises(ClientError) as exc:
        codecommit.get_file(repositoryName=name, filePath="docs/notes.txt")
    assert error_code(exc) == "FileDoesNotExistException"


def test_put_file_over_six_megabytes_is_refused(codecommit, name: str) -> None:
    codecommit.create_repository(repositoryName=name)
    with pytest.raises(ClientError) as exc:
        codecommit.put_file(repositoryName=name, branchName="main", filePath="big.bin",
                            fileContent=b"\0" * (6 * 1024 * 1024 + 1))
    assert error_code(exc) == "FileContentSizeLimitExceededException"
    assert codecommit.list_branches(repositoryName=name)["branches"] == []


def test_create_commit_puts_moves_deletes_and_sets_modes(codecommit, name: str) -> None:
    first = seeded(codecommit, name)
    result = codecommit.create_commit(
        repositoryName=name, branchName="main", parentCommitId=first, commitMessage="reshape",
        putFiles=[{"filePath": "app/main.py", "sourceFile": {"filePath": "src/app.py", "isMove": True}},
                  {"filePath": "VERSION", "fileContent": b"2\n"}],
        deleteFiles=[{"filePath": "README.md"}],
    )
    assert sorted(f["absolutePath"] for f in result["filesAdded"]) == ["VERSION", "app/main.py"]
    assert [f["absolutePath"] for f in result["filesDeleted"]] == ["README.md", "src/app.py"]
    moded = codecommit.create_commit(repositoryName=name, branchName="main", parentCommitId=result["commitId"],
                                     setFileModes=[{"filePath": "app/main.py", "fileMode": "NORMAL"}])
    assert [(f["absolutePath"], f["fileMode"]) for f in moded["filesUpdated"]] == [("app/main.py", "NORMAL")]
    differences = codecommit.get_differences(repositoryName=name, beforeCommitSpecifier=first,
                                             afterCommitSpecifier="main")["differences"]
    kinds = sorted((d["changeType"], (d.get("afterBlob") or d["beforeBlob"])["path"]) for d in differences)
    assert kinds == [("A", "VERSION"), ("A", "app/main.py"), ("D", "README.md"), ("D", "src/app.py")]
    only_app = codecommit.get_differences(repositoryName=name, beforeCommitSpecifier=first, afterCommitSpecifier="main",
                                          afterPath="app")["differences"]
    assert [d["afterBlob"]["path"] for d in only_app] == ["app/main.py"]
    head = moded["commitId"]
    for kwargs, code in (
        ({}, "FileEntryRequiredException"),
        ({"deleteFiles": [{"filePath": "nope"}]}, "FileDoesNotExistException"),
        ({"putFiles": [{"filePath": "VERSION", "fileContent": b"2\n"}]}, "NoChangeException"),
        ({"putFiles": [{"filePath": "a"}]}, "SourceFileOrContentRequiredException"),
        ({"putFiles": [{"filePath": "a", "fileContent": b"1"}], "deleteFiles": [{"filePath": "a"}]}, "SamePathRequestException"),
    ):
        with pytest.raises(ClientError) as exc:
            codecommit.create_commit(repositoryName=name, branchName="main", parentCommitId=head, **kwargs)
        assert error_code(exc) == code


def test_missing_repository_errors(codecommit) -> None:
    for call, kwargs in (
        (codecommit.get_repository, {}),
        (codecommit.list_branches, {}),
        (codecommit.get_file, {"filePath": "a"}),
        (codecommit.update_repository_description, {"repositoryDescription": "x"}),
    ):
        with pytest.raises(ClientError) as exc:
            call(repositoryName="does-not-exist", **kwargs)
        assert error_code(exc) == "RepositoryDoesNotExistException"


def test_reset_empties_repositories_their_git_data_and_the_local_github(tmp_path: Path) -> None:
    server = start_labstack(tmp_path)
    try:
        client = check_responses(server.client("codecommit"))
        seeded(client, "kept-nowhere")
        git(new_work_tree(tmp_path / "work", {"a": "1"}), "push", "--quiet", f"{server.endpoint}/github/org/app.git", "main")
        daemon.get_json(server.endpoint + "/_labstack/reset", timeout=30, method="POST")
        assert client.list_repositories()["repositories"] == []
        assert not (tmp_path / "git" / "123456789012").exists() and not (tmp_path / "github").exists()
        client.create_repository(repositoryName="kept-nowhere")
        assert client.list_branches(repositoryName="kept-nowhere")["branches"] == []
    finally:
        server.stop()
