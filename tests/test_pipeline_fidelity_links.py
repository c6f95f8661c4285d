"""GetPipelineState's ``entityUrl`` for every action: AWS fills it with a link to the thing the action
works on (its console's CodeBuild project, CodeDeploy deployment group or S3 pages, or a custom action
type's ``entityUrlTemplate``); labstack links to its own console or repositories instead.
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionState.html,
https://docs.aws.amazon.com/cli/latest/reference/codepipeline/get-pipeline-state.html (the example's
entityUrl of an S3 source and of a CodeDeploy action),
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionTypeSettings.html
(entityUrlTemplate, with {Config:name} as in
https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-custom-action.html)."""

from __future__ import annotations

import urllib.request

from tests.support.codepipeline import PipelineLab, action, s3_source, stage

pytest_plugins = ["tests.support.codepipeline_fixtures"]


def test_every_action_state_carries_an_entity_url(lab: PipelineLab) -> None:
    cp = lab.codepipeline
    custom = {"category": "Test", "owner": "Custom", "provider": "Checker", "version": "1"}
    cp.create_custom_action_type(category="Test", provider="Checker", version="1",
                                 settings={"entityUrlTemplate": "https://ci.example.com/job/{Config:Job}/"},
                                 configurationProperties=[{"name": "Job", "required": True, "key": True, "secret": False}],
                                 inputArtifactDetails={"minimumCount": 0, "maximumCount": 1},
                                 outputArtifactDetails={"minimumCount": 0, "maximumCount": 0})
    connection = f"arn:aws:codestar-connections:us-east-1:{lab.account}:connection/none"
    lab.codepipeline.create_pipeline(pipeline=lab.declaration(
        "linked",
        stage("Source", s3_source(lab.sources),
              action("Repo", "Source", "CodeCommit", {"RepositoryName": "app", "BranchName": "main"}, outputs=("repo",)),
              action("Hub", "Source", "CodeStarSourceConnection",
                     {"ConnectionArn": connection, "FullRepositoryId": "org/app", "BranchName": "main"}, outputs=("hub",))),
        stage("Build", action("Build", "Build", "CodeBuild", {"ProjectName": "none"}, inputs=("src",)),
              {"name": "Check", "actionTypeId": custom, "configuration": {"Job": "nightly checks"}}),
        stage("Ship", action("Approve", "Approval", "Manual"),
              action("Deploy", "Deploy", "CodeDeploy", {"ApplicationName": "a", "DeploymentGroupName": "g"},
                     inputs=("src",), run_order=2))))
    execution = lab.wait_for_executions("linked", 1)[0]["pipelineExecutionId"]
    base = lab.server.endpoint
    console = f"{base}/_labstack/console?account={lab.account}&region=us-east-1#/"
    found = {a["actionName"]: a["entityUrl"] for s in cp.get_pipeline_state(name="linked")["stageStates"]
             for a in s["actionStates"]}
    assert found == {
        "Source": console + "pipelines/linked",  # AWS: its S3 console; labstack has no S3 page
        "Repo": f"{base}/v1/{lab.account}/us-east-1/repos/app",
        "Hub": f"{base}/github/org/app.git",
        "Build": console + "builds",
        "Check": "https://ci.example.com/job/nightly%20checks/",
        "Approve": console + "pipelines/linked",
        "Deploy": console + "deployments",
    }
    with urllib.request.urlopen(found["Build"], timeout=10) as page:  # the console answers at the link
        assert page.status == 200 and b"labstack" in page.read()
    lab.wait("linked", execution)  # its Source stage fails (no repository app), so no action is left waiting
