"""CodeDeploy: applications, deployment groups, configs, revisions, and deployments that really
shift traffic (ECS blue/green through task sets and listener weights, Lambda through alias
weights), with lifecycle hooks, alarm watching and automatic rollback."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.paging import page
from labstack.protocol.provider import Provider
from labstack.services.codedeploy import groups as checks
from labstack.services.codedeploy import notify
from labstack.services.codedeploy.appspec import AppSpecError
from labstack.services.codedeploy.configs import PREDEFINED, predefined_info
from labstack.services.codedeploy.deployment import DONE, Deployment, now
from labstack.services.codedeploy.runner import Runner, error_message, is_denial
from labstack.services.codedeploy.store import (
    RegionState,
    arn,
    deployment_id,
    revision_key,
)
from labstack.state import AccountRegionStore

PAGE = 100
GROUP_FIELDS = ("deploymentConfigName", "ec2TagFilters", "onPremisesInstanceTagFilters", "serviceRoleArn",
                "triggerConfigurations", "alarmConfiguration", "autoRollbackConfiguration", "outdatedInstancesStrategy",
                "deploymentStyle", "blueGreenDeploymentConfiguration", "loadBalancerInfo", "ec2TagSet", "ecsServices",
                "onPremisesTagSet", "terminationHookEnabled")


class CodeDeployProvider(Provider):
    """The CodeDeploy API; each deployment runs in a :class:`Runner` thread."""

    service = "codedeploy"

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.state: AccountRegionStore[RegionState] = AccountRegionStore(RegionState)
        self.closing = threading.Event()
        labstack.hooks.on_reset(self.reset)
        labstack.hooks.on_shutdown(self.close)

    def close(self) -> None:
        """Shutdown: running deployments end where they are. The Event is looked up now, not when the hook
        was added: a reset replaces it, and the deployments started since then watch the new one."""
        self.closing.set()

    def reset(self) -> None:
        """Running deployments end where they are (labstack's other state is being reset too); each runner
        keeps the Event it started with, so one that outlives the wait below still ends."""
        self.closing.set()
        for st in self.state.values():
            for d in list(st.deployments.values()):
                d.done.wait(2)
        self.state.reset()
        self.closing = threading.Event()

    def _st(self, ctx: RequestContext) -> RegionState:
        return self.state.get(ctx.account, ctx.region)

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (account, _), st in self.state.items():
            counts[account] = counts.get(account, 0) + len(st.applications) + len(st.groups)
        return counts

    def activity_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for (account, _), st in self.state.items():
            running = sum(not d.done.is_set() for d in st.deployments.values())
            if running:
                counts.setdefault(account, {})["deployments"] = counts.get(account, {}).get("deployments", 0) + running
        return counts

    # -- applications -------------------------------------------------------------------
    def _application(self, st: RegionState, name: str) -> dict[str, Any]:
        if name not in st.applications:
            raise AwsError("ApplicationDoesNotExistException", f"No application found for name: {name}")
        return st.applications[name]

    def create_application(self, ctx: RequestContext, request: dict) -> dict:
        st, name = self._st(ctx), request["applicationName"]
        with self.state.lock:
            if name in st.applications:
                raise AwsError("ApplicationAlreadyExistsException", f"{name} already exists in your account")
            app_id = str(uuid.uuid4())
            st.applications[name] = {"applicationId": app_id, "applicationName": name, "createTime": now(),
                                     "linkedToGitHub": False, "computePlatform": request.get("computePlatform", "Server")}
            self._tag(st, arn(ctx.region, ctx.account, "application", name), request.get("tags"))
        return {"applicationId": app_id}

    def get_application(self, ctx: RequestContext, request: dict) -> dict:
        return {"application": dict(self._application(self._st(ctx), request["applicationName"]))}

    def batch_get_applications(self, ctx: RequestContext, request: dict) -> dict:
        st = self._st(ctx)
        return {"applicationsInfo": [dict(self._application(st, name)) for name in request["applicationNames"]]}

    def list_applications(self, ctx: RequestContext, request: dict) -> dict:
        names, token = page(sorted(self._st(ctx).applications), request.get("nextToken"), PAGE)
        return {"applications": names, **({"nextToken": token} if token else {})}

    def update_application(self, ctx: RequestContext, request: dict) -> dict:
        st = self._st(ctx)
        old, new = request.get("applicationName"), request.get("newApplicationName")
        if not old:
            raise AwsError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
        with self.state.lock:
            app = self._application(st, old)
            if new and new != old:
                if new in st.applications:
                    raise AwsError("ApplicationAlreadyExistsException", f"{new} already exists in your account")
                st.applications[new] = {**st.applications.pop(old), "applicationName": new}
                for (app_name, group_name) in [k for k in st.groups if k[0] == old]:
                    st.groups[(new, group_name)] = {**st.groups.pop((old, group_name)), "applicationName": new}
                if old in st.revisions:
                    st.revisions[new] = st.revisions.pop(old)
            del app
        return {}

    def delete_application(self, ctx: RequestContext, request: dict) -> dict:
        st, name = self._st(ctx), request["applicationName"]
        with self.state.lock:
            st.applications.pop(name, None)
            for key in [k for k in st.groups if k[0] == name]:
                del st.groups[key]
            st.revisions.pop(name, None)
            st.tags.pop(arn(ctx.region, ctx.account, "application", name), None)
        return {}

    # -- deployment configs ---------------------------------------------------------------
    def _config(self, st: RegionState, name: str) -> dict[str, Any]:
        if name in PREDEFINED:
            return predefined_info(name)
        if name not in st.configs:
            raise AwsError("DeploymentConfigDoesNotExistException", f"No deployment configuration found for name: {name}")
        return st.configs[name]

    def create_deployment_config(self, ctx: RequestContext, request: dict) -> dict:
        st, name = self._st(ctx), request["deploymentConfigName"]
        platform = request.get("computePlatform", "Server")
        if name.startswith("CodeDeployDefault."):
            raise AwsError("InvalidDeploymentConfigNameException", "Deployment configuration names cannot start with CodeDeployDefault.")
        info: dict[str, Any] = {"deploymentConfigId": str(uuid.uuid4()), "deploymentConfigName": name,
                                "createTime": now(), "computePlatform": platform}
        if platform == "Server":
            hosts = request.get("minimumHealthyHosts")
            if not hosts or hosts.get("type") not in ("HOST_COUNT", "FLEET_PERCENT") or hosts.get("value") is None \
                    or hosts["value"] < 0 or (hosts["type"] == "FLEET_PERCENT" and hosts["value"] > 99):
                raise AwsError("InvalidMinimumHealthyHostValueException",
                               "minimumHealthyHosts needs type HOST_COUNT or FLEET_PERCENT and a value (0-99 for FLEET_PERCENT).")
            info["minimumHealthyHosts"] = hosts
        else:
            info["trafficRoutingConfig"] = _routing(request.get("trafficRoutingConfig"))
        with self.state.lock:
            if name in st.configs:
                raise AwsError("DeploymentConfigAlreadyExistsException", f"A deployment configuration named {name} already exists.")
            st.configs[name] = info
        return {"deploymentConfigId": info["deploymentConfigId"]}

    def get_deployment_config(self, ctx: RequestContext, request: dict) -> dict:
        return {"deploymentConfigInfo": dict(self._config(self._st(ctx), request["deploymentConfigName"]))}

    def list_deployment_configs(self, ctx: RequestContext, request: dict) -> dict:
        names, token = page([*PREDEFINED, *sorted(self._st(ctx).configs)], request.get("nextToken"), PAGE)
        return {"deploymentConfigsList": names, **({"nextToken": token} if token else {})}

    def delete_deployment_config(self, ctx: RequestContext, request: dict) -> dict:
        st, name = self._st(ctx), request["deploymentConfigName"]
        if name in PREDEFINED:
            raise AwsError("InvalidOperationException", "A predefined deployment configuration cannot be deleted.")
        with self.state.lock:
            if any(g.get("deploymentConfigName") == name for g in st.groups.values()):
                raise AwsError("DeploymentConfigInUseException", f"The deployment configuration {name} is used by a deployment group.")
            st.configs.pop(name, None)
        return {}

    # -- deployment groups ----------------------------------------------------------------
    def _group(self, st: RegionState, app: str, name: str) -> dict[str, Any]:
        self._application(st, app)
        if (app, name) not in st.groups:
            raise AwsError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
        return st.groups[(app, name)]

    def _check_group(self, ctx: RequestContext, st: RegionState, platform: str, group: dict[str, Any],
                     others: list[dict[str, Any]]) -> None:
        config = self._config(st, group["deploymentConfigName"])
        if config.get("computePlatform") != platform:
            raise AwsError("InvalidDeploymentConfigNameException", f"The deployment configuration "
                           f"{group['deploymentConfigName']} is for the {config.get('computePlatform')} compute platform, "
                           f"not {platform}.")
        checks.check_role(self.labstack, ctx.account, ctx.region, group["serviceRoleArn"],
                          arn(ctx.region, ctx.account, "deploymentgroup",
                              f"{group['applicationName']}/{group['deploymentGroupName']}"))
        checks.check_alarms(group.get("alarmConfiguration"))
        checks.check_rollback(group.get("autoRollbackConfiguration"))
        checks.check_triggers(self.labstack.clients, ctx.account, ctx.region, group.get("triggerConfigurations"))
        checks.check_style_for_platform(platform, group)
        if platform == "ECS":
            checks.check_ecs(self.labstack.clients, ctx.account, ctx.region, group, others)

    def create_deployment_group(self, ctx: RequestContext, request: dict) -> dict:
        st, app_name, name = self._st(ctx), request["applicationName"], request["deploymentGroupName"]
        app = self._application(st, app_name)
        platform = app["computePlatform"]
        group: dict[str, Any] = {k: request[k] for k in GROUP_FIELDS if k in request}
        group.setdefault("deploymentConfigName", checks.DEFAULT_CONFIGS[platform])
        group["autoScalingGroups"] = [{"name": n} for n in request.get("autoScalingGroups") or []]
        group.update(applicationName=app_name, deploymentGroupName=name, deploymentGroupId=str(uuid.uuid4()),
                     computePlatform=platform)
        group.setdefault("outdatedInstancesStrategy", "UPDATE")
        group.setdefault("terminationHookEnabled", False)
        with self.state.lock:
            if (app_name, name) in st.groups:
                raise AwsError("DeploymentGroupAlreadyExistsException", f"A deployment group named {name} already exists "
                               f"for application {app_name}.")
            self._check_group(ctx, st, platform, group, list(st.groups.values()))
            st.groups[(app_name, name)] = group
            self._tag(st, arn(ctx.region, ctx.account, "deploymentgroup", f"{app_name}/{name}"), request.get("tags"))
        return {"deploymentGroupId": group["deploymentGroupId"]}

    def get_deployment_group(self, ctx: RequestContext, request: dict) -> dict:
        st = self._st(ctx)
        return {"deploymentGroupInfo": copy.deepcopy(self._group(st, request["applicationName"], request["deploymentGroupName"]))}

    def batch_get_deployment_groups(self, ctx: RequestContext, request: dict) -> dict:
        st, app = self._st(ctx), request["applicationName"]
        self._application(st, app)
        found = [copy.deepcopy(st.groups[(app, n)]) for n in request["deploymentGroupNames"] if (app, n) in st.groups]
        missing = [n for n in request["deploymentGroupNames"] if (app, n) not in st.groups]
        answer: dict[str, Any] = {"deploymentGroupsInfo": found}
        if missing:
            answer["errorMessage"] = f"Deployment groups not found: {', '.join(missing)}"
        return answer

    def list_deployment_groups(self, ctx: RequestContext, request: dict) -> dict:
        st, app = self._st(ctx), request["applicationName"]
        self._application(st, app)
        names, token = page(sorted(n for a, n in st.groups if a == app), request.get("nextToken"), PAGE)
        return {"applicationName": app, "deploymentGroups": names, **({"nextToken": token} if token else {})}

    def update_deployment_group(self, ctx: RequestContext, request: dict) -> dict:
        st, app = self._st(ctx), request["applicationName"]
        current, new = request["currentDeploymentGroupName"], request.get("newDeploymentGroupName")
        with self.state.lock:
            group = self._group(st, app, current)
            changed = {**group, **{k: request[k] for k in GROUP_FIELDS if k in request}}
            if "autoScalingGroups" in request:
                changed["autoScalingGroups"] = [{"name": n} for n in request["autoScalingGroups"]]
            if new and new != current:
                if (app, new) in st.groups:
                    raise AwsError("DeploymentGroupAlreadyExistsException", f"A deployment group named {new} already exists "
                                   f"for application {app}.")
                changed["deploymentGroupName"] = new
            others = [g for k, g in st.groups.items() if k != (app, current)]
            self._check_group(ctx, st, changed["computePlatform"], changed, others)
            del st.groups[(app, current)]
            st.groups[(app, changed["deploymentGroupName"])] = changed
        return {"hooksNotCleanedUp": []}

    def delete_deployment_group(self, ctx: RequestContext, request: dict) -> dict:
        """A deployment in progress notices at its next step and fails (DEPLOYMENT_GROUP_MISSING)."""
        st, app, name = self._st(ctx), request["applicationName"], request["deploymentGroupName"]
        with self.state.lock:
            if st.groups.pop((app, name), None) is not None:
                st.tags.pop(arn(ctx.region, ctx.account, "deploymentgroup", f"{app}/{name}"), None)
        return {"hooksNotCleanedUp": []}

    def group_exists(self, d: Deployment) -> bool:
        """Whether the group ``d`` deploys to still exists (the same group, not a new one of that name)."""
        return self._live_group(self.state.get(d.account, d.region), d) is not None

    # -- revisions ------------------------------------------------------------------------
    def _note_revision(self, st: RegionState, app: str, revision: dict[str, Any], description: str | None = None,
                       group: str | None = None) -> dict[str, Any]:
        revisions = st.revisions.setdefault(app, {})
        info = revisions.setdefault(revision_key(revision), {"revisionLocation": revision, "genericRevisionInfo": {
            "registerTime": now(), "deploymentGroups": []}})
        generic = info["genericRevisionInfo"]
        if description is not None:
            generic["description"] = description
        if group is not None:
            generic.setdefault("firstUsedTime", now())
            generic["lastUsedTime"] = now()
            if group not in generic["deploymentGroups"]:
                generic["deploymentGroups"].append(group)
        return info

    def register_application_revision(self, ctx: RequestContext, request: dict) -> dict:
        st = self._st(ctx)
        with self.state.lock:
            self._application(st, request["applicationName"])
            self._note_revision(st, request["applicationName"], request["revision"], request.get("description"))
        return {}

    def _revision_info(self, st: RegionState, app: str, revision: dict[str, Any]) -> dict[str, Any]:
        info = st.revisions.get(app, {}).get(revision_key(revision))
        if info is None:
            raise AwsError("RevisionDoesNotExistException", "The revision is not registered with the application.")
        return info

    def get_application_revision(self, ctx: RequestContext, request: dict) -> dict:
        st, app = self._st(ctx), request["applicationName"]
        self._application(st, app)
        info = self._revision_info(st, app, request["revision"])
        return {"applicationName": app, "revision": info["revisionLocation"],
                "revisionInfo": copy.deepcopy(info["genericRevisionInfo"])}

    def batch_get_application_revisions(self, ctx: RequestContext, request: dict) -> dict:
        st, app = self._st(ctx), request["applicationName"]
        self._application(st, app)
        infos = [self._revision_info(st, app, r) for r in request["revisions"]]
        return {"applicationName": app, "revisions": [copy.deepcopy(i) for i in infos]}

    def list_application_revisions(self, ctx: RequestContext, request: dict) -> dict:
        st, app = self._st(ctx), request["applicationName"]
        self._application(st, app)
        items = list(st.revisions.get(app, {}).values())
        if request.get("s3Bucket"):
            items = [i for i in items if (i["revisionLocation"].get("s3Location") or {}).get("bucket") == request["s3Bucket"]]
        if request.get("s3KeyPrefix"):
            items = [i for i in items if (i["revisionLocation"].get("s3Location") or {}).get("key", "").startswith(request["s3KeyPrefix"])]
        deployed = request.get("deployed", "ignore")
        if deployed != "ignore":
            items = [i for i in items if bool(i["genericRevisionInfo"]["deploymentGroups"]) == (deployed == "include")]
        sort_by = {"registerTime": "registerTime", "firstUsedTime": "firstUsedTime", "lastUsedTime": "lastUsedTime"}.get(
            request.get("sortBy", "registerTime"), "registerTime")
        items.sort(key=lambda i: i["genericRevisionInfo"].get(sort_by) or i["genericRevisionInfo"]["registerTime"],
                   reverse=request.get("sortOrder") == "descending")
        chunk, token = page([i["revisionLocation"] for i in items], request.get("nextToken"), PAGE)
        return {"revisions": chunk, **({"nextToken": token} if token else {})}

    # -- deployments ----------------------------------------------------------------------
    def _deployment(self, st: RegionState, deployment_id_: str) -> Deployment:
        if deployment_id_ not in st.deployments:
            raise AwsError("DeploymentDoesNotExistException", f"The deployment {deployment_id_} could not be found.")
        return st.deployments[deployment_id_]

    def create_deployment(self, ctx: RequestContext, request: dict) -> dict:
        st, app_name = self._st(ctx), request["applicationName"]
        group_name = request.get("deploymentGroupName")
        if not group_name:
            raise AwsError("DeploymentGroupNameRequiredException", "The deployment group name was not specified.")
        with self.state.lock:
            app = self._application(st, app_name)
            group = self._group(st, app_name, group_name)
            platform = app["computePlatform"]
            revision = request.get("revision") or group.get("targetRevision")
            if not revision:
                raise AwsError("RevisionRequiredException", "The revision ID was not specified.")
            self._check_revision(ctx, platform, revision)
            config = self._config(st, request.get("deploymentConfigName") or group["deploymentConfigName"])
            if config.get("computePlatform") != platform:
                raise AwsError("InvalidDeploymentConfigNameException", f"The deployment configuration "
                               f"{config['deploymentConfigName']} is not for the {platform} compute platform.")
            running = [d for d in st.deployments.values() if not d.done.is_set()
                       and (d.info["applicationName"], d.info["deploymentGroupName"]) == (app_name, group_name)]
            if running:
                raise AwsError("DeploymentLimitExceededException", f"The Deployment Group '{group_name}' already has an "
                               f"active Deployment '{running[0].id}'")
            d = self._new_deployment(ctx.account, ctx.region, st, group, config, revision, request, "user")
            self._note_revision(st, app_name, revision, group=group_name)
        Runner(self, d).start()
        return {"deploymentId": d.id}

    def _check_revision(self, ctx: RequestContext, platform: str, revision: dict[str, Any]) -> None:
        kind = revision.get("revisionType")
        allowed = ("S3", "AppSpecContent", "String") if platform != "Server" else ("S3", "GitHub")
        if kind not in allowed:
            raise AwsError("InvalidRevisionException", f"A revision of type {kind} cannot be deployed to the {platform} "
                           f"compute platform; use {' or '.join(allowed)}.")
        if kind == "S3":
            location = revision.get("s3Location") or {}
            if not location.get("bucket") or not location.get("key"):
                raise AwsError("InvalidRevisionException", "An S3 revision needs a bucket and a key.")
            try:
                _s3_object(self.labstack.clients.get("s3", ctx.account, ctx.region), location)
            except ClientError:
                raise AwsError("RevisionDoesNotExistException", f"The revision s3://{location['bucket']}/{location['key']} "
                               "does not exist.") from None

    def fetch_s3(self, d: Deployment) -> Callable[[dict[str, Any]], bytes]:
        """How ``d``'s platform reads an S3 revision: as the service role (s3:GetObject). An unreadable
        object is an invalid revision; the role's denial goes on to fail the deployment as one."""
        def fetch(location: dict[str, Any]) -> bytes:
            try:
                return _s3_object(self.labstack.clients.as_identity("s3", d.session, d.region), location)
            except ClientError as exc:
                if is_denial(exc):
                    raise
                raise AppSpecError(f"s3://{location.get('bucket')}/{location.get('key')} cannot be read: "
                                   f"{error_message(exc)}") from None
        return fetch

    def _new_deployment(self, account: str, region: str, st: RegionState, group: dict[str, Any], config: dict[str, Any],
                        revision: dict[str, Any], request: dict[str, Any], creator: str) -> Deployment:
        info: dict[str, Any] = {
            "applicationName": group["applicationName"], "deploymentGroupName": group["deploymentGroupName"],
            "deploymentConfigName": config["deploymentConfigName"], "deploymentId": deployment_id(),
            "revision": revision, "status": "Created", "createTime": now(), "creator": creator,
            "ignoreApplicationStopFailures": bool(request.get("ignoreApplicationStopFailures")),
            "autoRollbackConfiguration": request.get("autoRollbackConfiguration") or group.get("autoRollbackConfiguration")
            or {"enabled": False}, "updateOutdatedInstancesOnly": bool(request.get("updateOutdatedInstancesOnly")),
            "deploymentStyle": group.get("deploymentStyle"), "instanceTerminationWaitTimeStarted": False,
            "computePlatform": group["computePlatform"], "fileExistsBehavior": request.get("fileExistsBehavior", "DISALLOW"),
            "deploymentStatusMessages": [],
        }
        for key in ("blueGreenDeploymentConfiguration", "loadBalancerInfo"):
            if group.get(key):
                info[key] = group[key]
        if request.get("description"):
            info["description"] = request["description"]
        if group.get("targetRevision"):
            info["previousRevision"] = group["targetRevision"]
        snapshot = dict(group)
        if request.get("overrideAlarmConfiguration"):
            info["overrideAlarmConfiguration"] = request["overrideAlarmConfiguration"]
            snapshot["alarmConfiguration"] = request["overrideAlarmConfiguration"]
        d = Deployment(account, region, info, snapshot, config, on_status=self._announce)
        d.set_status("Created")
        st.deployments[d.id] = d
        live = self._live_group(st, d)  # ``group`` is a running deployment's snapshot when this is its rollback
        if live is not None:
            live["lastAttemptedDeployment"] = {"deploymentId": d.id, "status": "Created", "createTime": info["createTime"]}
        return d

    @staticmethod
    def _live_group(st: RegionState, d: Deployment) -> dict[str, Any] | None:
        """The stored deployment group ``d`` belongs to; None once it was deleted (or replaced by a namesake)."""
        group = st.groups.get((d.info["applicationName"], d.info["deploymentGroupName"]))
        return group if group is not None and group["deploymentGroupId"] == d.group["deploymentGroupId"] else None

    def _announce(self, d: Deployment, status: str) -> None:
        if status in notify.CHANGES:
            notify.announce(self.labstack.clients, d, notify.CHANGES[status][0], status)

    def rollback_for(self, d: Deployment) -> Deployment:
        """The deployment that rolls ``d`` back (creator codeDeployRollback, linked by rollbackInfo)."""
        st = self.state.get(d.account, d.region)
        with self.state.lock:
            revision = d.info.get("previousRevision") or d.info["revision"]
            redo = self._new_deployment(d.account, d.region, st, d.group, d.config, revision,
                                        {"autoRollbackConfiguration": {"enabled": False}}, "codeDeployRollback")
            redo.info["rollbackInfo"] = {"rollbackTriggeringDeploymentId": d.id,
                                         "rollbackMessage": f"Rolling back deployment {d.id}."}
        notify.announce(self.labstack.clients, d, "DeploymentRollback", d.info["status"])
        return redo

    def end(self, d: Deployment, status: str) -> None:
        """End ``d`` with final ``status`` and record it on its group in one step under the store's lock, so
        no caller sees it ended while CreateDeployment still counts it active; then announce the change."""
        st = self.state.get(d.account, d.region)
        with self.state.lock:
            changed = d.change_status(status)
            group = self._live_group(st, d)
            if group is not None:
                self._record(group, d)
        if changed:
            self._announce(d, status)

    @staticmethod
    def _record(group: dict[str, Any], d: Deployment) -> None:
        """The group's last attempted deployment (when ``d`` is still the newest: a rollback deployment made
        while ``d`` ended is newer), last successful one and target revision."""
        last = {"deploymentId": d.id, "status": d.info["status"], "createTime": d.info["createTime"],
                "endTime": d.info.get("completeTime", now())}
        if (group.get("lastAttemptedDeployment") or {}).get("deploymentId") == d.id:
            group["lastAttemptedDeployment"] = last
        if d.info["status"] == "Succeeded":
            group["lastSuccessfulDeployment"] = last
            if d.info["creator"] != "codeDeployRollback":
                group["targetRevision"] = d.info["revision"]

    def get_deployment(self, ctx: RequestContext, request: dict) -> dict:
        return {"deploymentInfo": self._deployment(self._st(ctx), request["deploymentId"]).snapshot()}

    def batch_get_deployments(self, ctx: RequestContext, request: dict) -> dict:
        st = self._st(ctx)
        return {"deploymentsInfo": [st.deployments[i].snapshot() for i in request["deploymentIds"] if i in st.deployments]}

    def list_deployments(self, ctx: RequestContext, request: dict) -> dict:
        st = self._st(ctx)
        app, group = request.get("applicationName"), request.get("deploymentGroupName")
        if group and not app:
            raise AwsError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
        if app and group:
            self._group(st, app, group)
        elif app:
            self._application(st, app)
        items = sorted(st.deployments.values(), key=lambda d: d.info["createTime"], reverse=True)
        statuses = request.get("includeOnlyStatuses")
        window = request.get("createTimeRange") or {}
        chosen = [d.id for d in items
                  if (not app or d.info["applicationName"] == app) and (not group or d.info["deploymentGroupName"] == group)
                  and (not statuses or d.info["status"] in statuses)
                  and (not window.get("start") or d.info["createTime"] >= window["start"])
                  and (not window.get("end") or d.info["createTime"] <= window["end"])
                  and (not request.get("externalId") or d.info.get("externalId") == request["externalId"])]
        ids, token = page(chosen, request.get("nextToken"), PAGE)
        return {"deployments": ids, **({"nextToken": token} if token else {})}

    def stop_deployment(self, ctx: RequestContext, request: dict) -> dict:
        d = self._deployment(self._st(ctx), request["deploymentId"])
        with d.lock:
            if d.info["status"] in DONE:
                raise AwsError("DeploymentAlreadyCompletedException", f"The deployment {d.id} has already completed.")
            if "autoRollbackEnabled" in request:
                d.stop_rollback = request["autoRollbackEnabled"]
            d.stop.set()
        return {"status": "Pending", "statusMessage": "Stopping Active Deployment"}

    def continue_deployment(self, ctx: RequestContext, request: dict) -> dict:
        d = self._deployment(self._st(ctx), request["deploymentId"])
        wait = request.get("deploymentWaitType", "READY_WAIT")
        with d.lock:  # the platform first: a Lambda deployment never waits, whatever its status
            if d.info["computePlatform"] != "ECS":
                raise AwsError("UnsupportedActionForDeploymentTypeException",
                               "ContinueDeployment applies to blue/green deployments that wait (ECS).")
            if d.info["status"] in DONE:
                raise AwsError("DeploymentAlreadyCompletedException", f"The deployment {d.id} has already completed.")
            if d.waiting_for != wait:
                if wait == "READY_WAIT":
                    raise AwsError("DeploymentIsNotInReadyStateException", f"The deployment {d.id} is not in the Ready state.")
                raise AwsError("InvalidDeploymentStatusException", f"The deployment {d.id} is not waiting to terminate "
                               "the original task set.")
            (d.ready_continue if wait == "READY_WAIT" else d.termination_continue).set()
        return {}

    def put_lifecycle_event_hook_execution_status(self, ctx: RequestContext, request: dict) -> dict:
        deployment_id_ = request.get("deploymentId")
        if not deployment_id_:
            raise AwsError("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        d = self._deployment(self._st(ctx), deployment_id_)
        status = request.get("status")
        if status not in ("Succeeded", "Failed"):
            raise AwsError("InvalidLifecycleEventHookExecutionStatusException",
                           f"The status {status} is not valid: report Succeeded or Failed.")
        with d.lock:
            hook = d.hooks.get(request.get("lifecycleEventHookExecutionId") or "")
            if hook is None:
                raise AwsError("InvalidLifecycleEventHookExecutionIdException",
                               "The lifecycle event hook execution ID is not valid for this deployment.")
            if hook.reported.is_set():
                raise AwsError("LifecycleEventAlreadyCompletedException",
                               f"The lifecycle event {hook.event} has already completed.")
            hook.status = status
            hook.reported.set()
        return {"lifecycleEventHookExecutionId": hook.execution_id}

    # -- deployment targets ---------------------------------------------------------------
    def _target(self, ctx: RequestContext, deployment_id_: str) -> tuple[Deployment, dict[str, Any]]:
        d = self._deployment(self._st(ctx), deployment_id_)
        target = d.target_snapshot()
        if target is None:
            raise AwsError("DeploymentNotStartedException", f"The deployment {d.id} has not started yet.")
        return d, target

    def list_deployment_targets(self, ctx: RequestContext, request: dict) -> dict:
        _, target = self._target(ctx, request["deploymentId"])
        statuses = (request.get("targetFilters") or {}).get("TargetStatus")
        ids = [target["targetId"]] if not statuses or target["status"] in statuses else []
        return {"targetIds": ids}

    def batch_get_deployment_targets(self, ctx: RequestContext, request: dict) -> dict:
        d, target = self._target(ctx, request["deploymentId"])
        wanted = request.get("targetIds") or []
        if len(wanted) > 25:
            raise AwsError("DeploymentTargetListSizeExceededException", "At most 25 target IDs can be given.")
        for target_id in wanted:
            if target_id != target["targetId"]:
                raise AwsError("DeploymentTargetDoesNotExistException", f"The target {target_id} is not part of deployment {d.id}.")
        return {"deploymentTargets": [_wrap(d.target_type, target) for _ in wanted[:1]]}

    def get_deployment_target(self, ctx: RequestContext, request: dict) -> dict:
        d, target = self._target(ctx, request["deploymentId"])
        if request.get("targetId") != target["targetId"]:
            raise AwsError("DeploymentTargetDoesNotExistException", f"The target {request.get('targetId')} is not part "
                           f"of deployment {d.id}.")
        return {"deploymentTarget": _wrap(d.target_type, target)}

    # -- tags -----------------------------------------------------------------------------
    def _tag(self, st: RegionState, resource: str, tags: list[dict[str, str]] | None) -> None:
        if tags:
            st.tags.setdefault(resource, {}).update({t["Key"]: t.get("Value", "") for t in tags})

    def _tagged(self, ctx: RequestContext, resource: str) -> None:
        prefix = f"arn:aws:codedeploy:{ctx.region}:{ctx.account}:"
        if not resource.startswith(prefix):
            raise AwsError("InvalidArnException", f"The ARN {resource} is not a CodeDeploy ARN of this account and region.")
        kind, _, name = resource[len(prefix):].partition(":")
        st = self._st(ctx)
        if kind == "application":
            self._application(st, name)
        elif kind == "deploymentgroup":
            app, _, group = name.partition("/")
            self._group(st, app, group)
        elif kind == "deploymentconfig":
            self._config(st, name)
        else:
            raise AwsError("ArnNotSupportedException", f"Tags cannot be set on {resource}.")

    def tag_resource(self, ctx: RequestContext, request: dict) -> dict:
        self._tagged(ctx, request["ResourceArn"])
        with self.state.lock:
            self._tag(self._st(ctx), request["ResourceArn"], request["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict) -> dict:
        self._tagged(ctx, request["ResourceArn"])
        with self.state.lock:
            tags = self._st(ctx).tags.get(request["ResourceArn"], {})
            for key in request["TagKeys"]:
                tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, request: dict) -> dict:
        self._tagged(ctx, request["ResourceArn"])
        tags = self._st(ctx).tags.get(request["ResourceArn"], {})
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}


def _s3_object(s3: Any, location: dict[str, Any]) -> bytes:
    args = {"Bucket": location["bucket"], "Key": location["key"]}
    if location.get("version"):
        args["VersionId"] = location["version"]
    return s3.get_object(**args)["Body"].read()


def _routing(routing: dict[str, Any] | None) -> dict[str, Any]:
    """Check a custom trafficRoutingConfig as CodeDeploy does."""
    if not routing or routing.get("type") not in ("TimeBasedCanary", "TimeBasedLinear", "AllAtOnce"):
        raise AwsError("InvalidTrafficRoutingConfigurationException",
                       "trafficRoutingConfig needs type TimeBasedCanary, TimeBasedLinear or AllAtOnce.")
    key, percent, interval = {"TimeBasedCanary": ("timeBasedCanary", "canaryPercentage", "canaryInterval"),
                              "TimeBasedLinear": ("timeBasedLinear", "linearPercentage", "linearInterval")}.get(
        routing["type"], (None, None, None))
    if key is not None:
        body = routing.get(key) or {}
        if not 1 <= (body.get(percent) or 0) <= 99 or (body.get(interval) or 0) < 1:
            raise AwsError("InvalidTrafficRoutingConfigurationException",
                           f"{key} needs {percent} between 1 and 99 and {interval} of at least 1 minute.")
        return {"type": routing["type"], key: body}
    return {"type": "AllAtOnce"}


def _wrap(target_type: str, target: dict[str, Any]) -> dict[str, Any]:
    field_name = {"ECSTarget": "ecsTarget", "LambdaTarget": "lambdaTarget"}[target_type]
    return {"deploymentTargetType": target_type, field_name: target}



PROVIDER = CodeDeployProvider
