"""An ECS deployment that ends at BeforeInstall is not rolled back: AWS's ECS hooks list says of BeforeInstall
"A rollback is not possible at this point"
(https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html, "List of
lifecycle event hooks for an Amazon ECS deployment"), while a failure at AfterInstall "can trigger a rollback"."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.bluegreen import SILENT_HOOK, BlueGreen
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
ACCOUNT = "212121212121"


@pytest.fixture(scope="module")
def bg(labstack: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> BlueGreen:
    blue_green = BlueGreen(labstack, ACCOUNT, tmp_path_factory.mktemp("before-install"), name="bi")
    blue_green.group()  # automatic rollback on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM
    return blue_green


def rollbacks(bg: BlueGreen) -> list[dict[str, Any]]:
    """The group's deployments that CodeDeploy created to roll another back."""
    ids = bg.cd.list_deployments(applicationName=bg.name, deploymentGroupName=bg.name)["deployments"]
    found = bg.cd.batch_get_deployments(deploymentIds=ids)["deploymentsInfo"] if ids else []
    return [d for d in found if d["creator"] == "codeDeployRollback"]


def events(bg: BlueGreen, deployment: str) -> dict[str, str]:
    return {e["lifecycleEventName"]: e["status"] for e in bg.target(deployment)["lifecycleEvents"]}


def test_a_failed_before_install_hook_fails_the_deployment_without_a_rollback(bg: BlueGreen) -> None:
    """The hook reports Failed: the deployment fails with the hook's error, the group's automatic rollback on
    DEPLOYMENT_FAILURE makes no rollback deployment, rollbackInfo says why, the original serves on untouched."""
    before = len(rollbacks(bg))
    hook = bg.hook_function("before-install-says-no", verdict="Failed")
    info = bg.finish(bg.deploy("v2", hooks={"BeforeInstall": hook}))
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert info["errorInformation"]["message"].startswith("Lifecycle event BeforeInstall failed")
    assert "rollbackDeploymentId" not in info["rollbackInfo"]
    assert "a rollback is not possible" in info["rollbackInfo"]["rollbackMessage"]
    assert len(rollbacks(bg)) == before
    assert events(bg, info["deploymentId"])["BeforeInstall"] == "Failed"
    assert events(bg, info["deploymentId"])["Install"] != "Succeeded"
    assert len(bg.task_sets()) == 1 and bg.serving() == {"v1"}


def test_a_stop_during_before_install_is_not_rolled_back_either(bg: BlueGreen) -> None:
    """StopDeployment with autoRollbackEnabled while BeforeInstall's hook runs: stopped, nothing to roll back."""
    before = len(rollbacks(bg))
    hook = bg.hook_function("before-install-silent", source=SILENT_HOOK)
    deployment = bg.deploy("v2", hooks={"BeforeInstall": hook})

    def in_before_install() -> bool:
        try:
            return events(bg, deployment).get("BeforeInstall") == "InProgress"
        except ClientError:  # DeploymentNotStartedException until it has a target
            return False

    wait_for(in_before_install)
    bg.cd.stop_deployment(deploymentId=deployment, autoRollbackEnabled=True)
    info = bg.finish(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert "rollbackDeploymentId" not in info["rollbackInfo"] and len(rollbacks(bg)) == before
    assert bg.serving() == {"v1"}


def test_the_same_failure_at_after_install_is_rolled_back(bg: BlueGreen) -> None:
    """The contrast AWS draws: at AfterInstall a failed hook "can trigger a rollback", and does."""
    before = len(rollbacks(bg))
    hook = bg.hook_function("after-install-says-no", verdict="Failed")
    info = bg.finish(bg.deploy("v2", hooks={"AfterInstall": hook}))
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    redo = bg.deployment(info["rollbackInfo"]["rollbackDeploymentId"])
    assert redo["creator"] == "codeDeployRollback" and redo["status"] == "Succeeded"
    assert len(rollbacks(bg)) == before + 1
    bg.settle()
    assert bg.serving() == {"v1"}
