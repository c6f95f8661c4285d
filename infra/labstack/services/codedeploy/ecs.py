"""ECS blue/green: a replacement (green) task set behind the second target group, test traffic,
production traffic shifted by the deployment config, then the original (blue) task set goes."""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import ClientError

from labstack.services.codedeploy.appspec import EcsTarget
from labstack.services.codedeploy.configs import traffic_steps
from labstack.services.codedeploy.deployment import ECS_EVENTS, Deployment
from labstack.services.codedeploy.runner import Halt, Runner, error_message

PRIMARY_WAIT_LAB_SECONDS = 300  # a new CODE_DEPLOY service gets its first task set within moments
INSTALL_LAB_SECONDS = 30 * 60  # the replacement task set has this long to run and turn healthy
INSTALL_REAL_SECONDS = 30  # and at least this long in real time: tasks start in real time
FAILED_STARTS = 3  # replacement tasks that stop before CodeDeploy gives up on the install


def ecs_update_error(detail: str) -> Halt:
    return Halt("ECS_UPDATE_ERROR", f"The ECS service cannot be updated due to an unexpected error: {detail}")


class EcsBlueGreen:
    """One ECS blue/green deployment, step by step."""

    def __init__(self, runner: Runner, fetch_s3: Any) -> None:
        self.runner = runner
        self.d: Deployment = runner.deployment
        # What AWSCodeDeployRoleForECS grants, CodeDeploy does as the service role; what it learns of
        # task health and task definitions, ECS and the load balancer tell it (labstack's own clients).
        self.ecs = runner.client("ecs")
        self.elb = runner.client("elbv2")
        self.ecs_view = runner.internal("ecs")
        self.elb_view = runner.internal("elbv2")
        self.fetch_s3 = fetch_s3
        self.cluster = self.service_name = ""
        self.service: dict[str, Any] = {}
        self.blue_set: dict[str, Any] | None = None  # the original (PRIMARY) task set
        self.blue = self.green_group = ""  # target group ARNs: serving now, and the other one
        self.names: dict[str, str] = {}
        self.weights: dict[str, int] = {}
        self.green: str | None = None  # the replacement task set's ARN once created
        self.stale: set[tuple[str, int]] = set()  # targets in the green group before the install
        self.expected = 0  # tasks the replacement must run (the service's desired count)
        self.saved_actions: dict[str, list[dict[str, Any]]] = {}  # listener ARN -> its actions before
        self.swapped = False

    # -- before anything changes ------------------------------------------------------
    def prepare(self) -> None:
        group = self.d.group
        services = group.get("ecsServices") or []
        if not services:
            raise Halt("INVALID_ECS_SERVICE", "The deployment group names no ECS service.")
        self.cluster, self.service_name = services[0]["clusterName"], services[0]["serviceName"]
        spec = self.runner.appspec("ECS", self.fetch_s3)
        assert isinstance(spec.target, EcsTarget)
        self.spec, self.target = spec, spec.target
        self.service = self._service()
        if not self.runner.wait_for(lambda: self._primary() is not None, PRIMARY_WAIT_LAB_SECONDS, 5):
            raise Halt("INVALID_ECS_SERVICE", f"The ECS service {self.service_name} has no PRIMARY task set to replace.")
        self.blue_set = self._primary()
        self._target_groups(group, self.blue_set or {})
        self._check_task_definition()
        self.d.new_target("ECSTarget", {"targetId": f"{self.cluster}:{self.service_name}",
                                        "targetArn": self.service["serviceArn"], "taskSetsInfo": []}, ECS_EVENTS)
        self.weights = {self.blue: 100, self.green_group: 0}
        self._refresh()

    def _service(self) -> dict[str, Any]:
        try:
            found = self.ecs.describe_services(cluster=self.cluster, services=[self.service_name])["services"]
        except ClientError as exc:
            self.runner.refuse(exc)
            raise Halt("INVALID_ECS_SERVICE", f"The ECS service {self.service_name} cannot be read: {error_message(exc)}") from None
        if not found or found[0].get("status") != "ACTIVE":
            raise Halt("INVALID_ECS_SERVICE", f"The ECS service {self.service_name} in cluster {self.cluster} does not exist.")
        return found[0]

    def _task_sets(self) -> list[dict[str, Any]]:
        return self.ecs.describe_services(cluster=self.cluster, services=[self.service_name])["services"][0].get("taskSets") or []

    def _primary(self) -> dict[str, Any] | None:
        return next((ts for ts in self._task_sets() if ts.get("status") == "PRIMARY"), None)

    def _target_groups(self, group: dict[str, Any], blue_set: dict[str, Any]) -> None:
        pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
        if not pairs or len(pairs[0].get("targetGroups") or []) != 2:
            raise Halt("ELASTIC_LOAD_BALANCING_INVALID", "The deployment group needs a target group pair.")
        pair = pairs[0]
        names = [tg["name"] for tg in pair["targetGroups"]]
        try:
            found = self.elb.describe_target_groups(Names=names)["TargetGroups"]
        except ClientError as exc:
            self.runner.refuse(exc)
            raise Halt("ELASTIC_LOAD_BALANCING_INVALID", f"The target groups {', '.join(names)} cannot be read: "
                       f"{error_message(exc)}") from None
        by_arn = {tg["TargetGroupArn"]: tg["TargetGroupName"] for tg in found}
        serving = [lb["targetGroupArn"] for lb in blue_set.get("loadBalancers") or []]
        if not serving or serving[0] not in by_arn:
            raise Halt("ELASTIC_LOAD_BALANCING_INVALID", f"The PRIMARY task set of {self.service_name} is not behind "
                       f"either target group of the deployment group ({', '.join(names)}).")
        self.blue = serving[0]
        self.green_group = next(arn for arn in by_arn if arn != self.blue)
        self.names = by_arn
        self.prod = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
        self.test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
        if not self.prod:
            raise Halt("ELASTIC_LOAD_BALANCING_INVALID", "The deployment group has no production listener.")
        try:
            for listener in self.elb.describe_listeners(ListenerArns=self.prod + self.test)["Listeners"]:
                self.saved_actions[listener["ListenerArn"]] = listener["DefaultActions"]
        except ClientError as exc:
            self.runner.refuse(exc)
            raise Halt("ELASTIC_LOAD_BALANCING_INVALID", f"A listener of the deployment group cannot be read: {error_message(exc)}") from None

    def _check_task_definition(self) -> None:
        try:
            definition = self.ecs_view.describe_task_definition(taskDefinition=self.target.task_definition)["taskDefinition"]
        except ClientError as exc:
            raise ecs_update_error(f"Unable to use task definition {self.target.task_definition}: {error_message(exc)}") from None
        self.task_definition = definition["taskDefinitionArn"]
        container = next((c for c in definition["containerDefinitions"] if c["name"] == self.target.container_name), None)
        if container is None:
            raise ecs_update_error(f"The container {self.target.container_name} does not exist in the task definition "
                                   f"{self.task_definition}.")
        ports = {m.get("containerPort") for m in container.get("portMappings") or []}
        if self.target.container_port not in ports:
            raise ecs_update_error(f"The container {self.target.container_name} did not have a container port "
                                   f"{self.target.container_port} defined.")

    # -- the lifecycle -----------------------------------------------------------------
    def run(self) -> None:
        hooks, runner = self.spec.hooks, self.runner
        runner.hook("BeforeInstall", hooks.get("BeforeInstall"))
        with runner.step("Install"):
            self._install()
        runner.hook("AfterInstall", hooks.get("AfterInstall"))
        with runner.step("AllowTestTraffic"):
            for listener in self.test:
                self._route(listener, 100)
        runner.hook("AfterAllowTestTraffic", hooks.get("AfterAllowTestTraffic"))
        self._ready_wait()
        runner.hook("BeforeAllowTraffic", hooks.get("BeforeAllowTraffic"))
        with runner.step("AllowTraffic"):
            for percent, minutes in traffic_steps(self.d.config):
                for listener in self.prod:
                    self._route(listener, round(percent))
                self._refresh()
                if minutes:
                    runner.wait(minutes * 60)
        runner.hook("AfterAllowTraffic", hooks.get("AfterAllowTraffic"))
        self.ecs.update_service_primary_task_set(cluster=self.cluster, service=self.service_name, primaryTaskSet=self.green)
        self.swapped = True
        self._termination_wait()

    def _install(self) -> None:
        blue = self.blue_set or {}
        extra: dict[str, Any] = {}
        if self.target.capacity_provider_strategy:
            extra["capacityProviderStrategy"] = self.target.capacity_provider_strategy
        else:
            extra["launchType"] = blue.get("launchType") or "FARGATE"
        network = self.target.network_configuration or blue.get("networkConfiguration")
        if network:
            extra["networkConfiguration"] = network
        if self.target.platform_version or blue.get("platformVersion"):
            extra["platformVersion"] = self.target.platform_version or blue["platformVersion"]
        self.stale = {(h["Target"]["Id"], h["Target"]["Port"]) for h in self._health()}
        self.expected = math.ceil(self._service()["desiredCount"])
        try:
            created = self.ecs.create_task_set(
                cluster=self.cluster, service=self.service_name, taskDefinition=self.task_definition, externalId=self.d.id,
                loadBalancers=[{"targetGroupArn": self.green_group, "containerName": self.target.container_name,
                                "containerPort": self.target.container_port}], scale={"value": 100.0, "unit": "PERCENT"},
                **extra)["taskSet"]
            self.green = created["taskSetArn"]
        except ClientError as exc:
            self.runner.refuse(exc)
            raise ecs_update_error(error_message(exc)) from None
        if not self.runner.wait_for(self._green_ready, INSTALL_LAB_SECONDS, INSTALL_REAL_SECONDS):
            raise ecs_update_error("the replacement task set did not reach a steady, healthy state in time.")

    def _green_ready(self) -> bool:
        green = self._refresh().get(self.green or "")
        if green is None:
            return False
        stopped = self.ecs_view.list_tasks(cluster=self.cluster, startedBy=green["id"], desiredStatus="STOPPED")["taskArns"]
        if len(stopped) >= FAILED_STARTS:
            reason = self.ecs_view.describe_tasks(cluster=self.cluster, tasks=stopped[:1])["tasks"][0].get("stoppedReason", "")
            raise ecs_update_error(f"{len(stopped)} tasks of the replacement task set stopped ({reason}).")
        if green.get("stabilityStatus") != "STEADY_STATE" or green.get("runningCount", 0) < self.expected:
            return False
        fresh = [h for h in self._health() if (h["Target"]["Id"], h["Target"]["Port"]) not in self.stale]
        return sum(h["TargetHealth"]["State"] == "healthy" for h in fresh) >= self.expected

    def _health(self) -> list[dict[str, Any]]:
        return self.elb_view.describe_target_health(TargetGroupArn=self.green_group)["TargetHealthDescriptions"]

    def _ready_wait(self) -> None:
        option = (self.d.group.get("blueGreenDeploymentConfiguration") or {}).get("deploymentReadyOption") or {}
        if option.get("actionOnTimeout") != "STOP_DEPLOYMENT":
            return
        d = self.d
        with d.lock:
            d.waiting_for = "READY_WAIT"
        d.target_status("Ready")
        d.set_status("Ready")
        continued = self.runner.wait(float(option.get("waitTimeInMinutes") or 0) * 60, d.ready_continue)
        with d.lock:
            d.waiting_for = None
        if not continued:
            raise Halt("TIMEOUT", "The deployment was stopped because traffic was not rerouted (ContinueDeployment) "
                       "before the end of the deployment ready wait time.", "Stopped", None)
        d.target_status("InProgress")
        d.set_status("InProgress")

    def _termination_wait(self) -> None:
        terminate = (self.d.group.get("blueGreenDeploymentConfiguration") or {}).get(
            "terminateBlueInstancesOnDeploymentSuccess") or {}
        if terminate.get("action") == "KEEP_ALIVE":
            return
        d = self.d
        with d.lock:
            d.info["instanceTerminationWaitTimeStarted"] = True
            d.waiting_for = "TERMINATION_WAIT"
        self.runner.wait(float(terminate.get("terminationWaitTimeInMinutes") or 0) * 60, d.termination_continue)
        with d.lock:
            d.waiting_for = None
        self.ecs.delete_task_set(cluster=self.cluster, service=self.service_name, taskSet=(self.blue_set or {})["taskSetArn"])
        self._refresh()

    # -- traffic and bookkeeping -------------------------------------------------------
    def _route(self, listener: str, green_percent: int) -> None:
        """Weight the listener's forward action; returns once the load balancer applies it."""
        self.elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": self.blue, "Weight": 100 - green_percent},
                             {"TargetGroupArn": self.green_group, "Weight": green_percent}]}}])
        if listener in self.prod:
            self.weights = {self.blue: 100 - green_percent, self.green_group: green_percent}

    def _refresh(self) -> dict[str, dict[str, Any]]:
        """Task sets by ARN; the target's taskSetsInfo brought up to date."""
        sets = {ts["taskSetArn"]: ts for ts in self._task_sets()}
        info = []
        for arn, label, group in (((self.blue_set or {}).get("taskSetArn"), "Blue", self.blue),
                                  (self.green, "Green", self.green_group)):
            ts = sets.get(arn or "")
            if ts is None:
                continue
            info.append({"identifer": ts["id"], "desiredCount": ts.get("computedDesiredCount", 0),
                         "pendingCount": ts.get("pendingCount", 0), "runningCount": ts.get("runningCount", 0),
                         "status": ts.get("status", "ACTIVE"), "trafficWeight": float(self.weights.get(group, 0)),
                         "targetGroup": {"name": self.names[group]}, "taskSetLabel": label})
        with self.d.lock:
            if self.d.target is not None:
                self.d.target["taskSetsInfo"] = info
        return sets

    # -- failure -----------------------------------------------------------------------
    def undo(self) -> bool:
        """Production and test traffic back on the original, the replacement task set gone."""
        for listener, actions in self.saved_actions.items():
            self.elb.modify_listener(ListenerArn=listener, DefaultActions=actions)
        self.weights = {self.blue: 100}
        if self.swapped and self.blue_set is not None:
            self.ecs.update_service_primary_task_set(cluster=self.cluster, service=self.service_name,
                                                     primaryTaskSet=self.blue_set["taskSetArn"])
        if self.green is not None:
            self.ecs.delete_task_set(cluster=self.cluster, service=self.service_name, taskSet=self.green)
        if self.blue_set is not None and self.d.target is not None:
            self._refresh()
        return True

    def rollback_target(self, rollback: Deployment) -> None:
        """The rollback deployment's target: traffic rerouted to the original task set."""
        target = self.d.target_snapshot() or {"targetId": f"{self.cluster}:{self.service_name}",
                                              "targetArn": self.service.get("serviceArn", "")}
        rollback.new_target("ECSTarget", {"targetId": target["targetId"], "targetArn": target["targetArn"],
                                          "taskSetsInfo": target.get("taskSetsInfo", [])}, ("AllowTraffic",))
        rollback.event("AllowTraffic", "InProgress")
