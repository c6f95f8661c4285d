"""EC2/on-premises deployments: labstack runs no instances with a CodeDeploy agent, so such a
deployment ends the way AWS ends one that finds no instance able to take it."""

from __future__ import annotations

from typing import Any

from labstack.services.codedeploy.deployment import Deployment
from labstack.services.codedeploy.runner import Halt, Runner


class ServerDeployment:
    """Counts the instances the group's tags select, then fails honestly."""

    def __init__(self, runner: Runner, fetch_s3: Any) -> None:
        self.runner = runner

    def prepare(self) -> None:
        group = self.runner.deployment.group
        filters = group.get("ec2TagFilters") or [f for tag_set in (group.get("ec2TagSet") or {}).get("ec2TagSetList", [])
                                                  for f in tag_set]
        ec2_filters = [{"Name": f"tag:{f['Key']}", "Values": [f["Value"]]} for f in filters
                       if f.get("Type", "KEY_AND_VALUE") == "KEY_AND_VALUE" and f.get("Key") and f.get("Value")]
        found = 0
        if ec2_filters:
            reservations = self.runner.client("ec2").describe_instances(
                Filters=[*ec2_filters, {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
            found = sum(len(r["Instances"]) for r in reservations)
        if not found:
            raise Halt("NO_INSTANCES", "The deployment failed because no instances were found for your deployment "
                       "group. Check that the group's tags or Auto Scaling groups select the instances to deploy to.")
        raise Halt("AGENT_ISSUE", f"{found} instance(s) match the deployment group, but none runs a CodeDeploy agent: "
                   "labstack emulates the ECS and Lambda compute platforms only.")

    def run(self) -> None:
        """Nothing to run: :meth:`prepare` has already ended the deployment."""

    def undo(self) -> bool:
        return True

    def rollback_target(self, rollback: Deployment) -> None:
        return None
