"""Lambda deployments: an alias's traffic moves from CurrentVersion to TargetVersion by the
deployment config's steps, between the BeforeAllowTraffic and AfterAllowTraffic hooks."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from labstack.services.codedeploy.appspec import LambdaTarget
from labstack.services.codedeploy.configs import traffic_steps
from labstack.services.codedeploy.deployment import LAMBDA_EVENTS, Deployment
from labstack.services.codedeploy.runner import Halt, Runner, error_message


class LambdaShift:
    """One Lambda deployment: alias routing weights moved step by step."""

    def __init__(self, runner: Runner, fetch_s3: Any) -> None:
        self.runner = runner
        self.d: Deployment = runner.deployment
        self.lam = runner.client("lambda")  # GetAlias and UpdateAlias, as AWSCodeDeployRoleForLambda grants
        self.lam_view = runner.internal("lambda")  # the versions CodeDeploy checks exist
        self.fetch_s3 = fetch_s3
        self.shifted = False
        self.target: LambdaTarget | None = None
        self.function_arn = ""

    def prepare(self) -> None:
        spec = self.runner.appspec("Lambda", self.fetch_s3)
        assert isinstance(spec.target, LambdaTarget)
        self.spec, self.target = spec, spec.target
        target = spec.target
        try:
            alias = self.lam.get_alias(FunctionName=target.name, Name=target.alias)
            for version in (target.current_version, target.target_version):
                self.lam_view.get_function(FunctionName=target.name, Qualifier=version)
        except ClientError as exc:
            self.runner.refuse(exc)
            raise Halt("INVALID_LAMBDA_FUNCTION", f"The Lambda function, alias or version in the AppSpec cannot be "
                       f"used: {error_message(exc)}") from None
        if alias["FunctionVersion"] != target.current_version:
            raise Halt("INVALID_LAMBDA_CONFIGURATION", f"The alias {target.alias} points to version "
                       f"{alias['FunctionVersion']}, not to the AppSpec's CurrentVersion {target.current_version}.")
        self.function_arn = alias["AliasArn"].rsplit(":", 1)[0]
        self.d.new_target("LambdaTarget", {"targetId": f"{target.name}:{target.alias}", "targetArn": alias["AliasArn"],
                                           "lambdaFunctionInfo": self._info(0.0)}, LAMBDA_EVENTS)

    def _info(self, weight: float) -> dict[str, Any]:
        assert self.target is not None
        return {"functionName": self.target.name, "functionAlias": self.target.alias,
                "currentVersion": self.target.current_version, "targetVersion": self.target.target_version,
                "targetVersionWeight": weight}

    def _shift(self, percent: float) -> None:
        assert self.target is not None
        if percent >= 100:
            self.lam.update_alias(FunctionName=self.target.name, Name=self.target.alias,
                                  FunctionVersion=self.target.target_version, RoutingConfig={"AdditionalVersionWeights": {}})
        else:
            self.lam.update_alias(FunctionName=self.target.name, Name=self.target.alias,
                                  FunctionVersion=self.target.current_version,
                                  RoutingConfig={"AdditionalVersionWeights": {self.target.target_version: percent / 100}})
        self.shifted = True
        with self.d.lock:
            if self.d.target is not None:
                self.d.target["lambdaFunctionInfo"] = self._info(percent / 100)

    def run(self) -> None:
        hooks, runner = self.spec.hooks, self.runner
        runner.hook("BeforeAllowTraffic", hooks.get("BeforeAllowTraffic"))
        with runner.step("AllowTraffic"):
            for percent, minutes in traffic_steps(self.d.config):
                self._shift(percent)
                if minutes:
                    runner.wait(minutes * 60)
        runner.hook("AfterAllowTraffic", hooks.get("AfterAllowTraffic"))

    def undo(self) -> bool:
        """All of the alias's traffic back on CurrentVersion."""
        if self.shifted and self.target is not None:
            self.lam.update_alias(FunctionName=self.target.name, Name=self.target.alias,
                                  FunctionVersion=self.target.current_version, RoutingConfig={"AdditionalVersionWeights": {}})
            with self.d.lock:
                if self.d.target is not None:
                    self.d.target["lambdaFunctionInfo"] = self._info(0.0)
        return True

    def rollback_target(self, rollback: Deployment) -> None:
        target = self.d.target_snapshot()
        if target is None:
            return
        rollback.new_target("LambdaTarget", {"targetId": target["targetId"], "targetArn": target["targetArn"],
                                             "lambdaFunctionInfo": {**target["lambdaFunctionInfo"], "targetVersionWeight": 0.0}},
                            ("AllowTraffic",))
        rollback.event("AllowTraffic", "InProgress")
