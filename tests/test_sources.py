"""The sources interface the build and pipeline engines use: revision R of source X as a zip,
and the change feed that tells them a source moved. It runs inside labstack, so these tests
serve a labstack from this process."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from labstack import sources
from labstack.errors import AwsError
from labstack.services.codeconnections import github

from tests.support.gitcli import commit, git, new_work_tree
from tests.support.inprocess import client


def files_of(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return {name: zf.read(name) for name in zf.namelist() if not name.endswith("/")}


def test_a_codecommit_revision_and_the_feed(inprocess, tmp_path: Path) -> None:
    seen: list[sources.SourceChange] = []
    feed = sources.change_feed(inprocess)
    feed.subscribe(seen.append)
    try:
        codecommit = client(inprocess, "codecommit")
        url = codecommit.create_repository(repositoryName="app")["repositoryMetadata"]["cloneUrlHttp"]
        work = new_work_tree(tmp_path / "work", {"app.py": "v1\n", "src/lib.py": "lib\n"}, message="first")
        git(work, "push", "--quiet", url, "main")
        first = git(work, "rev-parse", "HEAD").stdout.strip()
        second = commit(work, {"app.py": "v2\n"}, "second")
        git(work, "push", "--quiet", url, "main")
    finally:
        feed.unsubscribe(seen.append)
    assert [(c.provider, c.repository, c.branch, c.old, c.new) for c in seen] == [
        ("CodeCommit", "app", "main", "0" * 40, first), ("CodeCommit", "app", "main", first, second)]
    assert seen[0].account == "123456789012" and seen[0].region == "us-east-1"
    latest = sources.codecommit_revision(inprocess, "123456789012", "us-east-1", "app")
    assert latest.revision == second and latest.metadata["branch"] == "main" and latest.metadata["message"] == "second"
    assert latest.metadata["author"]["name"] == "Learner"
    assert files_of(latest.zip) == {"app.py": b"v2\n", "src/lib.py": b"lib\n"}
    older = sources.codecommit_revision(inprocess, "123456789012", "us-east-1", "app", first)
    assert files_of(older.zip)["app.py"] == b"v1\n" and older.metadata["branch"] is None
    with pytest.raises(AwsError) as exc:
        sources.codecommit_revision(inprocess, "123456789012", "us-east-1", "app", "no-such-branch")
    assert exc.value.code == "CommitDoesNotExistException"


def test_a_github_push_is_in_the_feed_and_a_revision(inprocess, tmp_path: Path) -> None:
    seen: list[sources.SourceChange] = []
    feed = sources.change_feed(inprocess)
    feed.subscribe(seen.append)
    try:
        work = new_work_tree(tmp_path / "work", {"index.html": "<h1>v1</h1>"})
        git(work, "push", "--quiet", github.clone_url(inprocess.settings.endpoint, "myorg/myrepo"), "main")
    finally:
        feed.unsubscribe(seen.append)
    head = git(work, "rev-parse", "HEAD").stdout.strip()
    assert [(c.provider, c.repository, c.branch, c.new, c.account) for c in seen] == [("GitHub", "myorg/myrepo", "main", head, None)]
    revision = sources.github_revision(inprocess, "myorg/myrepo", "main")
    assert revision.revision == head and revision.metadata["fullRepositoryId"] == "myorg/myrepo"
    assert files_of(revision.zip) == {"index.html": b"<h1>v1</h1>"}
    for missing in ("myorg/never-pushed", "not a repository id"):
        with pytest.raises(AwsError):
            sources.github_revision(inprocess, missing, "main")


def test_a_repository_made_ahead_of_its_first_push(tmp_path: Path) -> None:
    repo = github.create_repository(tmp_path, "someone/project")
    assert repo.exists() and repo.branches() == {}
    assert github.create_repository(tmp_path, "someone/project").path == repo.path  # idempotent
    with pytest.raises(ValueError):
        github.create_repository(tmp_path, "no-slash")


def test_an_s3_revision_by_version(inprocess) -> None:
    s3 = client(inprocess, "s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="artifacts", Key="app.zip", Body=b"zip-v1")["VersionId"]
    second = s3.put_object(Bucket="artifacts", Key="app.zip", Body=b"zip-v2")["VersionId"]
    latest = sources.s3_revision(inprocess, "123456789012", "us-east-1", "artifacts", "app.zip")
    assert latest.zip == b"zip-v2" and latest.revision == second and latest.metadata["versionId"] == second
    assert latest.metadata["etag"]
    pinned = sources.s3_revision(inprocess, "123456789012", "us-east-1", "artifacts", "app.zip", first)
    assert pinned.zip == b"zip-v1" and pinned.revision == first
    with pytest.raises(AwsError) as exc:
        sources.s3_revision(inprocess, "123456789012", "us-east-1", "artifacts", "missing.zip")
    assert exc.value.code == "NoSuchKey"
