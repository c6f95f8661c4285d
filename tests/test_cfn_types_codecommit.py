"""AWS::CodeCommit::Repository, AWS::CodeBuild::ReportGroup and AWS::CodeStarConnections::Connection handlers
against a real labstack: in-place updates keep the resource; a hostile zip in Code.S3 is refused and leaves no
repository; deletes of what is already gone succeed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from labstack import archives
from labstack.services.cloudformation.resource import HandlerError

from tests.support.cfn_code import FILE, PIPELINE, REPOSITORY, action, zipped
from tests.support.cfn_handlers import context, of
from tests.support.codepipeline import PipelineLab
from tests.support.gitcli import commit, git, new_work_tree

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def test_a_repository_renames_and_retriggers_in_place(pipeline_lab: PipelineLab) -> None:
    """RepositoryName, RepositoryDescription, Triggers and Tags update with no interruption: the ID (Ref)
    stays and Fn::GetAtt Name follows the new name
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codecommit-repository.html);
    a later change to Code is not applied ("Information about code is only used in resource creation")."""
    lab = pipeline_lab
    topic = lab.client("sns").create_topic(Name="pushes")["TopicArn"]
    codecommit = lab.client("codecommit")
    handler, ctx = of(REPOSITORY), context(lab.server, lab.account, "Repo")
    props = {"RepositoryName": "before", "RepositoryDescription": "one", "Tags": [{"Key": "team", "Value": "a"}],
             "Triggers": [{"Name": "all", "DestinationArn": topic, "Events": ["all"], "Branches": [], "CustomData": "x"}]}
    made = handler.create(ctx, props)
    assert handler.read(ctx, made.physical_id, props) == props

    lab.s3.put_object(Bucket=lab.sources, Key="later.zip", Body=zipped({"late.txt": ("late", FILE)}))
    changed = {"RepositoryName": "after", "RepositoryDescription": "two", "Tags": [{"Key": "cost", "Value": "lab"}],
               "Triggers": [{"Name": "main", "DestinationArn": topic, "Events": ["updateReference"], "Branches": ["main"]}],
               "Code": {"S3": {"Bucket": lab.sources, "Key": "later.zip"}}}
    updated = handler.update(ctx, made.physical_id, props, changed)
    assert (updated.physical_id, updated.attributes["Name"]) == (made.physical_id, "after")
    meta = codecommit.get_repository(repositoryName="after")["repositoryMetadata"]
    assert (meta["repositoryId"], meta["repositoryDescription"]) == (made.physical_id, "two")
    assert codecommit.list_tags_for_resource(resourceArn=meta["Arn"])["tags"] == {"cost": "lab"}
    assert [t["name"] for t in codecommit.get_repository_triggers(repositoryName="after")["triggers"]] == ["main"]
    assert codecommit.list_branches(repositoryName="after")["branches"] == []  # Code is for creation only
    assert handler.read(ctx, made.physical_id, changed) == changed

    handler.delete(ctx, made.physical_id, changed)
    handler.delete(ctx, made.physical_id, changed)
    assert handler.read(ctx, made.physical_id, changed) is None
    assert codecommit.list_repositories()["repositories"] == []


@pytest.mark.parametrize(("files", "named"), [
    ({"../escape.txt": ("out", FILE)}, "climbs out"),
    ({"/etc/cron.d/x": ("out", FILE)}, "absolute name"),
    ({"link": ("/etc/passwd", stat.S_IFLNK | 0o777)}, "symbolic link"),
])
def test_a_hostile_code_zip_is_refused_and_leaves_no_repository(pipeline_lab: PipelineLab, files: dict,
                                                                named: str) -> None:
    """A Code.S3 zip whose members climb out of the tree, are absolute or are links is refused with a
    message naming the member; the repository just made is deleted again."""
    lab = pipeline_lab
    lab.s3.put_object(Bucket=lab.sources, Key="bad.zip", Body=zipped({"ok.txt": ("fine", FILE), **files}))
    with pytest.raises(HandlerError, match=named):
        of(REPOSITORY).create(context(lab.server, lab.account, "Repo"), {
            "RepositoryName": "target", "Code": {"S3": {"Bucket": lab.sources, "Key": "bad.zip"}}})
    assert lab.client("codecommit").list_repositories()["repositories"] == []


def test_a_repository_property_labstack_cannot_honour_is_refused(pipeline_lab: PipelineLab) -> None:
    """KmsKeyId would be ignored by labstack's CodeCommit: the handler refuses it before making anything."""
    lab = pipeline_lab
    with pytest.raises(HandlerError, match="KmsKeyId"):
        of(REPOSITORY).create(context(lab.server, lab.account, "Repo"), {"RepositoryName": "x", "KmsKeyId": "alias/k"})
    assert lab.client("codecommit").list_repositories()["repositories"] == []


def test_a_report_group_updates_in_place_and_deletes_with_its_reports(pipeline_lab: PipelineLab) -> None:
    """Ref and Fn::GetAtt Arn are the report group's ARN; ExportConfig and Tags change with no interruption;
    DeleteReports lets the delete take the group's reports
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codebuild-reportgroup.html)."""
    lab = pipeline_lab
    handler, ctx = of("AWS::CodeBuild::ReportGroup"), context(lab.server, lab.account, "Reports")
    props = {"Type": "TEST", "ExportConfig": {"ExportConfigType": "NO_EXPORT"}, "DeleteReports": True,
             "Tags": [{"Key": "team", "Value": "a"}]}
    made = handler.create(ctx, props)
    group = lab.codebuild.batch_get_report_groups(reportGroupArns=[made.physical_id])["reportGroups"][0]
    assert made.ref_value == made.attributes["Arn"] == group["arn"] and group["name"].startswith("Shop-Reports-")
    changed = {**props, "ExportConfig": {"ExportConfigType": "S3", "S3Destination": {"Bucket": lab.bucket, "Packaging": "NONE"}}}
    assert handler.update(ctx, made.physical_id, props, changed).physical_id == made.physical_id
    assert handler.read(ctx, made.physical_id, changed) == {k: v for k, v in changed.items() if k != "DeleteReports"}
    handler.delete(ctx, made.physical_id, changed)
    handler.delete(ctx, made.physical_id, changed)
    assert handler.read(ctx, made.physical_id, changed) is None


@pytest.mark.parametrize("type_name", ["AWS::CodeStarConnections::Connection", "AWS::CodeConnections::Connection"])
def test_a_connection_retags_in_place_and_goes(pipeline_lab: PipelineLab, type_name: str) -> None:
    """Ref is the connection's ARN; Fn::GetAtt ConnectionArn, ConnectionStatus, OwnerAccountId
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codestarconnections-connection.html);
    Tags change in place; a delete of a connection already gone succeeds."""
    lab = pipeline_lab
    handler, ctx = of(type_name), context(lab.server, lab.account, "Connection")
    props = {"ConnectionName": "github", "ProviderType": "GitHub", "Tags": [{"Key": "team", "Value": "a"}]}
    made = handler.create(ctx, props)
    assert made.ref_value == made.attributes["ConnectionArn"]
    assert (made.attributes["ConnectionStatus"], made.attributes["OwnerAccountId"]) == ("AVAILABLE", lab.account)
    changed = {**props, "Tags": [{"Key": "team", "Value": "b"}]}
    assert handler.update(ctx, made.physical_id, props, changed).physical_id == made.physical_id
    assert handler.read(ctx, made.physical_id, changed) == changed
    handler.delete(ctx, made.physical_id, changed)
    handler.delete(ctx, made.physical_id, changed)
    assert handler.read(ctx, made.physical_id, changed) is None


@pytest.mark.slow
def test_a_v2_pipelines_template_triggers_start_it_on_a_matching_push(pipeline_lab: PipelineLab, tmp_path: Path) -> None:
    """A V2 pipeline whose source is the template's connection and whose Triggers filter pushes by branch and
    file path (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codepipeline-pipeline-pipelinetriggerdeclaration.html)
    reads back as its template, and a push to the local GitHub starts it only when the push passes the filter."""
    lab = pipeline_lab
    repo = f"cfn{lab.account}/shop"
    url = f"{lab.server.endpoint}/github/{repo}.git"
    work = new_work_tree(tmp_path / "work", {"src/app.py": "v1\n", "docs/guide.md": "hi\n"})
    git(work, "push", "--quiet", url, "main")
    connection = of("AWS::CodeStarConnections::Connection").create(
        context(lab.server, lab.account, "Connection"), {"ConnectionName": "github"})
    lab.project("check", ["test -f src/app.py"])
    source = action("Source", "Source", "CodeStarSourceConnection", {
        "ConnectionArn": connection.ref_value, "FullRepositoryId": repo, "BranchName": "main"}, outputs=("src",))
    pipeline = {"RoleArn": lab.role, "PipelineType": "V2", "ArtifactStore": {"Type": "S3", "Location": lab.bucket},
                "Stages": [{"Name": "Source", "Actions": [source]},
                           {"Name": "Check", "Actions": [action("Check", "Test", "CodeBuild", {"ProjectName": "check"},
                                                                inputs=("src",))]}],
                "Triggers": [{"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {
                    "SourceActionName": "Source",
                    "Push": [{"Branches": {"Includes": ["main"]}, "FilePaths": {"Excludes": ["docs/**"]}}]}}]}
    handler, ctx = of(PIPELINE), context(lab.server, lab.account, "Pipeline")
    name = handler.create(ctx, pipeline).ref_value
    assert handler.read(ctx, name, pipeline) == pipeline
    assert lab.wait(name, lab.wait_for_executions(name, 1)[0]["pipelineExecutionId"])["status"] == "Succeeded"

    commit(work, {"docs/guide.md": "docs only\n"}, "docs")
    git(work, "push", "--quiet", url, "main")
    code = commit(work, {"src/app.py": "v2\n"}, "code")
    git(work, "push", "--quiet", url, "main")
    started = lab.wait_for_executions(name, 2)
    assert len(started) == 2 and started[0]["trigger"]["triggerType"] == "WebhookV2"
    done = lab.wait(name, started[0]["pipelineExecutionId"])
    assert (done["status"], done["artifactRevisions"][0]["revisionId"]) == ("Succeeded", code)


@pytest.mark.slow
def test_code_from_another_accounts_bucket_is_read_as_the_stack_and_refused(pipeline_lab: PipelineLab) -> None:
    """Code.S3 is fetched as the stack's principal, so a template cannot seed a repository with another
    account's private code: S3 refuses the read, the resource fails and no repository is left."""
    lab, victim = pipeline_lab, PipelineLab(pipeline_lab.server)
    victim.s3.put_object(Bucket=victim.sources, Key="secret.zip", Body=zipped({"key.pem": ("private", FILE)}))
    with pytest.raises(ClientError) as refused:
        of(REPOSITORY).create(context(lab.server, lab.account, "Repo"), {
            "RepositoryName": "loot", "Code": {"S3": {"Bucket": victim.sources, "Key": "secret.zip"}}})
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert lab.client("codecommit").list_repositories()["repositories"] == []


def test_a_repository_renamed_outside_the_stack_is_still_found_by_its_id(pipeline_lab: PipelineLab) -> None:
    """The physical id is the repository ID (Ref), so a rename outside the stack is drift, not a lost
    resource: read() finds it by its ID and shows the new name, and delete removes it."""
    lab = pipeline_lab
    handler, ctx = of(REPOSITORY), context(lab.server, lab.account, "Repo")
    props = {"RepositoryName": "named"}
    made = handler.create(ctx, props)
    codecommit = lab.client("codecommit")
    codecommit.update_repository_name(oldName="named", newName="renamed")
    assert handler.read(ctx, made.physical_id, props) == {"RepositoryName": "renamed"}
    handler.delete(ctx, made.physical_id, props)
    assert codecommit.list_repositories()["repositories"] == []


def test_a_code_object_over_the_zip_cap_is_refused_before_it_is_read(pipeline_lab: PipelineLab,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Code.S3 larger than labstack's zip cap (AWS allows 20 GB compressed,
    https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html) is refused from its size alone: a
    large object cannot make labstack read it into memory. Here the cap is lowered and the object is no zip
    at all, so only the size check can be what refuses it."""
    lab = pipeline_lab
    monkeypatch.setattr(archives, "ZIP_MAX_BYTES", archives.Cap("LABSTACK_ZIP_MAX_BYTES", 1000, "bytes"))
    lab.s3.put_object(Bucket=lab.sources, Key="big.zip", Body=b"x" * 5000)
    with pytest.raises(HandlerError, match="5000 bytes, more than labstack's cap of 1000 .LABSTACK_ZIP_MAX_BYTES"):
        of(REPOSITORY).create(context(lab.server, lab.account, "Repo"), {
            "RepositoryName": "big", "Code": {"S3": {"Bucket": lab.sources, "Key": "big.zip"}}})
    assert lab.client("codecommit").list_repositories()["repositories"] == []


def test_code_objectversion_seeds_the_repository_from_that_version(pipeline_lab: PipelineLab) -> None:
    """Code.S3.ObjectVersion picks the zip's version in a versioned bucket
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codecommit-repository-s3.html)."""
    lab = pipeline_lab
    first = lab.s3.put_object(Bucket=lab.sources, Key="seed.zip", Body=zipped({"app.txt": ("v1\n", FILE)}))["VersionId"]
    lab.s3.put_object(Bucket=lab.sources, Key="seed.zip", Body=zipped({"app.txt": ("v2\n", FILE)}))
    of(REPOSITORY).create(context(lab.server, lab.account, "Repo"), {"RepositoryName": "pinned", "Code": {
        "BranchName": "release", "S3": {"Bucket": lab.sources, "Key": "seed.zip", "ObjectVersion": first}}})
    codecommit = lab.client("codecommit")
    assert codecommit.get_repository(repositoryName="pinned")["repositoryMetadata"]["defaultBranch"] == "release"
    assert codecommit.get_file(repositoryName="pinned", filePath="app.txt")["fileContent"] == b"v1\n"
