"""The console's view of an ECS canary deployment while it runs: lifecycle events, and the
traffic split as task-set weights and as the production listener's weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bluegreen import BlueGreen
from tests.support.browser_console import get
from tests.support.server import LabstackProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
ACCOUNT = "151515151515"


def test_a_canary_shows_its_split_in_task_sets_and_listeners(labstack: LabstackProcess, tmp_path: Path) -> None:
    bg = BlueGreen(labstack, ACCOUNT, tmp_path, name="canary")
    bg.group("CodeDeployDefault.ECSCanary10Percent5Minutes")
    deployment = bg.deploy("v2")

    def weights(listener: dict) -> dict[str, float]:
        return {w["targetGroup"]: w["percent"] for w in listener["weights"]}

    def green(shown: dict) -> float | None:
        sets = [s for t in shown["targets"] for s in t["ecsTarget"].get("taskSetsInfo", []) if s["taskSetLabel"] == "Green"]
        return sets[0]["trafficWeight"] if sets else None

    def canary() -> dict | None:
        """The deployment once both the listener and the target's task sets show the 10 % step."""
        shown = get(labstack.endpoint, f"deployments/{deployment}", ACCOUNT)
        production = next(listener for listener in shown["listeners"] if listener["role"] == "production")
        return shown if weights(production).get("canary-green") == 10.0 and green(shown) == 10.0 else None

    shown = wait_for(canary, seconds=60)
    production, test = sorted(shown["listeners"], key=lambda listener: listener["role"])
    assert (production["role"], production["port"], test["role"], test["port"]) == ("production", 80, "test", 8080)
    assert weights(production) == {"canary-blue": 90.0, "canary-green": 10.0}
    assert weights(test).get("canary-green") == 100.0  # the test listener moved to the replacement first
    (target,) = shown["targets"]
    sets = {s["taskSetLabel"]: s for s in target["ecsTarget"]["taskSetsInfo"]}
    assert (sets["Blue"]["trafficWeight"], sets["Green"]["trafficWeight"]) == (90.0, 10.0)
    assert sets["Green"]["targetGroup"]["name"] == "canary-green"
    events = {e["lifecycleEventName"]: e["status"] for e in target["ecsTarget"]["lifecycleEvents"]}
    assert events["Install"] == "Succeeded" and events["AllowTraffic"] == "InProgress"
    listed = get(labstack.endpoint, "deployments", ACCOUNT)["deployments"]
    assert [(d["deploymentId"], d["status"]) for d in listed] == [(deployment, "InProgress")]
    assert bg.finish(deployment)["status"] == "Succeeded"
    done = get(labstack.endpoint, f"deployments/{deployment}", ACCOUNT)
    production = next(listener for listener in done["listeners"] if listener["role"] == "production")
    assert weights(production).get("canary-green") == 100.0
