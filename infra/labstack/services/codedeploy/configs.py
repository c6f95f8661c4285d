"""Deployment configurations: CodeDeploy's predefined ones and how a config shifts traffic."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

EPOCH = dt.datetime(2014, 10, 6, tzinfo=dt.timezone.utc)  # predefined configs "were created" with the API


def _hosts(kind: str, value: int) -> dict[str, Any]:
    return {"computePlatform": "Server", "minimumHealthyHosts": {"type": kind, "value": value}}


def _canary(platform: str, percent: int, minutes: int) -> dict[str, Any]:
    return {"computePlatform": platform, "trafficRoutingConfig": {
        "type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes}}}


def _linear(platform: str, percent: int, minutes: int) -> dict[str, Any]:
    return {"computePlatform": platform, "trafficRoutingConfig": {
        "type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes}}}


def _all_at_once(platform: str) -> dict[str, Any]:
    return {"computePlatform": platform, "trafficRoutingConfig": {"type": "AllAtOnce"}}


# Every configuration AWS predefines, as GetDeploymentConfig describes it. OneAtATime reports the
# MOST_CONCURRENCY type, which callers cannot use themselves.
PREDEFINED: dict[str, dict[str, Any]] = {
    "CodeDeployDefault.AllAtOnce": _hosts("HOST_COUNT", 0),
    "CodeDeployDefault.HalfAtATime": _hosts("FLEET_PERCENT", 50),
    "CodeDeployDefault.OneAtATime": _hosts("MOST_CONCURRENCY", 1),
    "CodeDeployDefault.LambdaAllAtOnce": _all_at_once("Lambda"),
    **{f"CodeDeployDefault.LambdaCanary10Percent{m}Minutes": _canary("Lambda", 10, m) for m in (5, 10, 15, 30)},
    **{f"CodeDeployDefault.LambdaLinear10PercentEvery{m}Minute{'s' if m > 1 else ''}": _linear("Lambda", 10, m)
       for m in (1, 2, 3, 10)},
    "CodeDeployDefault.ECSAllAtOnce": _all_at_once("ECS"),
    **{f"CodeDeployDefault.ECSCanary10Percent{m}Minutes": _canary("ECS", 10, m) for m in (5, 15)},
    **{f"CodeDeployDefault.ECSLinear10PercentEvery{m}Minutes": _linear("ECS", 10, m) for m in (1, 3)},
}


def predefined_info(name: str) -> dict[str, Any]:
    """A predefined configuration as DeploymentConfigInfo."""
    return {"deploymentConfigId": _config_id(name), "deploymentConfigName": name, "createTime": EPOCH,
            **PREDEFINED[name]}


def _config_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "codedeploy:" + name))


def traffic_steps(config: dict[str, Any]) -> list[tuple[float, float]]:
    """The production traffic shifts a config makes: (percent on the new version, lab minutes to
    wait after it). The last step is always 100% and waits nothing."""
    routing = config.get("trafficRoutingConfig") or {"type": "AllAtOnce"}
    if routing["type"] == "TimeBasedCanary":
        canary = routing["timeBasedCanary"]
        return [(float(canary["canaryPercentage"]), float(canary["canaryInterval"])), (100.0, 0.0)]
    if routing["type"] == "TimeBasedLinear":
        linear = routing["timeBasedLinear"]
        step, steps, percent = float(linear["linearPercentage"]), [], 0.0
        while percent + step < 100:
            percent += step
            steps.append((percent, float(linear["linearInterval"])))
        return [*steps, (100.0, 0.0)]
    return [(100.0, 0.0)]
