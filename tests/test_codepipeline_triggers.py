"""What starts a pipeline: pushes to CodeCommit and to the local GitHub (V2 trigger filters on
branches, tags and file paths), EventBridge rules, and new versions of an S3 source."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.gitcli import commit, git, new_work_tree

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def deploy(lab: PipelineLab, key: str) -> dict:
    return action("Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true", "ObjectKey": key}, inputs=("src",))


def codecommit_source(**config: str) -> dict:
    return action("Source", "Source", "CodeCommit", {"RepositoryName": "app", "BranchName": "main", **config},
                  outputs=("src",), namespace="SourceVariables")


def put(lab: PipelineLab, branch: str, text: str, parent: str | None = None) -> str:
    extra = {"parentCommitId": parent} if parent else {}
    return lab.client("codecommit").put_file(repositoryName="app", branchName=branch, fileContent=text.encode(),
                                             filePath="app.txt", **extra)["commitId"]


def test_a_codecommit_push_starts_the_pipeline_at_that_commit(lab: PipelineLab) -> None:
    lab.client("codecommit").create_repository(repositoryName="app")
    first = put(lab, "main", "v1")
    lab.create("cc", stage("Source", codecommit_source()), stage("Deploy", deploy(lab, "cc/#{SourceVariables.CommitId}")))
    second = put(lab, "main", "v2", first)
    lab.client("codecommit").create_branch(repositoryName="app", branchName="other", commitId=second)
    put(lab, "other", "elsewhere", second)  # another branch: no execution
    started = lab.wait_for_executions("cc", 2)
    assert len(started) == 2 and started[0]["trigger"]["triggerType"] == "PollForSourceChanges"
    assert started[0]["trigger"]["triggerDetail"] == f"arn:aws:codecommit:us-east-1:{lab.account}:app"
    done = lab.wait("cc", started[0]["pipelineExecutionId"])
    assert done["status"] == "Succeeded" and done["artifactRevisions"][0]["revisionId"] == second
    variables = lab.actions("cc", done["pipelineExecutionId"])["Source"]["output"]["outputVariables"]
    assert (variables["CommitId"], variables["BranchName"], variables["RepositoryName"]) == (second, "main", "app")
    assert lab.s3.get_object(Bucket=lab.bucket, Key=f"cc/{second}/app.txt")["Body"].read() == b"v2"


def test_without_polling_only_an_eventbridge_rule_starts_it(lab: PipelineLab) -> None:
    lab.client("codecommit").create_repository(repositoryName="app")
    first = put(lab, "main", "v1")
    lab.create("quiet", stage("Source", codecommit_source(PollForSourceChanges="false")), stage("Deploy", deploy(lab, "q")))
    second = put(lab, "main", "v2", first)
    events = lab.client("events")
    events.put_rule(Name="on-push", EventPattern=json.dumps({"source": ["aws.codecommit"]}))
    events.put_targets(Rule="on-push", Targets=[{"Id": "p", "Arn": f"arn:aws:codepipeline:us-east-1:{lab.account}:quiet",
                                                 "RoleArn": lab.role}])
    third = put(lab, "main", "v3", second)
    started = lab.wait_for_revision("quiet", third)
    assert started["trigger"] == {"triggerType": "CloudWatchEvent",
                                  "triggerDetail": f"arn:aws:events:us-east-1:{lab.account}:rule/on-push"}
    assert lab.wait("quiet", started["pipelineExecutionId"])["artifactRevisions"][0]["revisionId"] == third
    # The creation's execution, this one and, on a loaded machine, one for v2's event if it came
    # after the rule; events are delivered in order, so none of v2's can come now.
    runs = len(lab.client("codepipeline").list_pipeline_executions(pipelineName="quiet")["pipelineExecutionSummaries"])
    assert runs in (2, 3)
    # A disabled rule, or one whose pattern does not match, starts nothing (as on AWS).
    # (put_rule enables the rule again: an event of v4 delivered late meets the pattern that cannot match)
    events.disable_rule(Name="on-push")
    fourth = put(lab, "main", "v4", third)
    time.sleep(1)
    assert len(lab.client("codepipeline").list_pipeline_executions(pipelineName="quiet")["pipelineExecutionSummaries"]) == runs
    events.put_rule(Name="on-push", EventPattern=json.dumps({"source": ["aws.codecommit"],
                                                             "detail": {"referenceName": ["release"]}}))
    assert events.describe_rule(Name="on-push")["State"] == "ENABLED"
    put(lab, "main", "v5", fourth)
    time.sleep(1)
    assert len(lab.client("codepipeline").list_pipeline_executions(pipelineName="quiet")["pipelineExecutionSummaries"]) == runs
    # Any matching event starts it, and PutEvents still reaches the rule's other targets.
    sqs = lab.client("sqs")
    queue = sqs.create_queue(QueueName="also-told")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="custom", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="custom", Targets=[{"Id": "p", "Arn": f"arn:aws:codepipeline:us-east-1:{lab.account}:quiet",
                                                "RoleArn": lab.role}, {"Id": "q", "Arn": queue_arn}])
    answer = events.put_events(Entries=[{"Source": "my.app", "DetailType": "release", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 0
    assert lab.wait_for_executions("quiet", runs + 1)[0]["trigger"]["triggerDetail"].endswith(":rule/custom")
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]


def github_pipeline(lab: PipelineLab, name: str, repo: str, **extra: object) -> None:
    arn = lab.client("codestar-connections").create_connection(ProviderType="GitHub", ConnectionName=name)["ConnectionArn"]
    source = action("Code", "Source", "CodeStarSourceConnection",
                    {"ConnectionArn": arn, "FullRepositoryId": repo, "BranchName": "main"}, outputs=("src",), namespace="Src")
    lab.create(name, stage("Source", source), stage("Deploy", deploy(lab, f"{name}/#{{Src.CommitId}}")), **extra)


def test_a_git_push_to_the_local_github_starts_a_v1_pipeline(lab: PipelineLab, tmp_path: Path) -> None:
    repo = f"org{lab.account}/app"
    url = f"{lab.server.endpoint}/github/{repo}.git"
    work = new_work_tree(tmp_path / "work", {"app.txt": "v1"})
    git(work, "push", "--quiet", url, "main")
    github_pipeline(lab, "gh", repo)
    pushed = commit(work, {"app.txt": "v2"}, "second")
    git(work, "push", "--quiet", url, "main")
    started = lab.wait_for_executions("gh", 2)[0]
    assert started["trigger"]["triggerType"] == "Webhook"
    done = lab.wait("gh", started["pipelineExecutionId"])
    assert done["status"] == "Succeeded" and done["artifactRevisions"][0]["revisionId"] == pushed
    assert json.loads(done["artifactRevisions"][0]["revisionSummary"]) == {"ProviderType": "GitHub", "CommitMessage": "second"}
    variables = lab.actions("gh", done["pipelineExecutionId"])["Code"]["output"]["outputVariables"]
    assert variables["FullRepositoryName"] == repo and variables["CommitMessage"] == "second"
    assert lab.s3.get_object(Bucket=lab.bucket, Key=f"gh/{pushed}/app.txt")["Body"].read() == b"v2"


def test_v2_push_filters_choose_the_pushes_that_start_it(lab: PipelineLab, tmp_path: Path) -> None:
    repo = f"org{lab.account}/filtered"
    url = f"{lab.server.endpoint}/github/{repo}.git"
    work = new_work_tree(tmp_path / "work", {"src/app.py": "v1", "README.md": "hi"})
    git(work, "push", "--quiet", url, "main")
    push = [{"branches": {"includes": ["main", "release/**"]},
             "filePaths": {"includes": ["src/**"], "excludes": ["src/docs/**"]}},
            {"tags": {"includes": ["v*"], "excludes": ["v0*"]}}]
    trigger = {"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Code", "push": push}}
    github_pipeline(lab, "filtered", repo, pipelineType="V2", triggers=[trigger])
    commit(work, {"README.md": "docs only"}, "readme")
    git(work, "push", "--quiet", url, "main")
    commit(work, {"src/docs/guide.md": "excluded"}, "guide")
    git(work, "push", "--quiet", url, "main")
    git(work, "tag", "v0.9")
    git(work, "push", "--quiet", url, "v0.9")
    code_change = commit(work, {"src/app.py": "v2"}, "code")
    git(work, "push", "--quiet", url, "main")
    started = lab.wait_for_executions("filtered", 2)
    assert len(started) == 2 and started[0]["trigger"]["triggerType"] == "WebhookV2"
    assert lab.wait("filtered", started[0]["pipelineExecutionId"])["artifactRevisions"][0]["revisionId"] == code_change
    git(work, "tag", "v1.0")
    git(work, "push", "--quiet", url, "v1.0")
    tagged = lab.wait_for_executions("filtered", 3)
    assert len(tagged) == 3
    assert lab.wait("filtered", tagged[0]["pipelineExecutionId"])["artifactRevisions"][0]["revisionId"] == code_change


def test_a_new_version_of_an_s3_source_starts_a_polling_pipeline(lab: PipelineLab) -> None:
    lab.source({"app.txt": "v1"})
    lab.create("polled", stage("Source", s3_source(lab.sources, PollForSourceChanges="true")), stage("Deploy", deploy(lab, "polled")))
    version = lab.source({"app.txt": "v2"})
    started = lab.wait_for_executions("polled", 2)[0]
    assert started["trigger"]["triggerType"] == "PollForSourceChanges"
    assert lab.wait("polled", started["pipelineExecutionId"])["artifactRevisions"][0]["revisionId"] == version
