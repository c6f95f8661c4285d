"""AppSpec files for the ECS and Lambda platforms: read from a revision and checked."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from labstack.archives import ArchiveError, read_zip

ECS_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
LAMBDA_HOOKS = ("BeforeAllowTraffic", "AfterAllowTraffic")


class AppSpecError(ValueError):
    """The revision's AppSpec cannot be used; the message says why (INVALID_REVISION)."""


@dataclass
class EcsTarget:
    """``Resources[0].TargetService`` of an ECS AppSpec."""

    task_definition: str
    container_name: str
    container_port: int
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    capacity_provider_strategy: list[dict[str, Any]] | None = None


@dataclass
class LambdaTarget:
    """The function and alias of a Lambda AppSpec, and the versions to move between."""

    name: str
    alias: str
    current_version: str
    target_version: str


@dataclass
class AppSpec:
    """What a deployment needs from the AppSpec: the target and the hook functions by event."""

    target: EcsTarget | LambdaTarget
    hooks: dict[str, str] = field(default_factory=dict)


def revision_text(revision: dict[str, Any], fetch_s3: Callable[[dict[str, Any]], bytes]) -> str:
    """The AppSpec text of a revision: inline (AppSpecContent or String) or an S3 object
    (a YAML/JSON file, or a zip holding appspec.yaml/appspec.yml/appspec.json)."""
    kind = revision.get("revisionType")
    if kind == "AppSpecContent":
        content = revision.get("appSpecContent") or {}
        return _checked(content.get("content"), content.get("sha256"))
    if kind == "String":
        content = revision.get("string") or {}
        return _checked(content.get("content"), content.get("sha256"))
    if kind == "S3":
        location = revision.get("s3Location") or {}
        body = fetch_s3(location)
        if location.get("bundleType") in ("zip", None) and body[:2] == b"PK":
            for name in ("appspec.yaml", "appspec.yml", "appspec.json"):
                try:
                    return read_zip(body, name, "the revision's bundle").decode()
                except KeyError:
                    continue
                except ArchiveError as exc:
                    raise AppSpecError(f"{exc}.") from None
            raise AppSpecError("The revision's bundle has no appspec.yaml, appspec.yml or appspec.json at its root.")
        return body.decode()
    raise AppSpecError(f"A revision of type {kind} cannot be deployed to this compute platform.")


def _checked(content: str | None, sha256: str | None) -> str:
    if not content:
        raise AppSpecError("The AppSpec content is empty.")
    if sha256 and hashlib.sha256(content.encode()).hexdigest() != sha256.lower():
        raise AppSpecError("The SHA256 hash of the AppSpec content does not match the sha256 given with it.")
    return content


def parse(text: str, platform: str) -> AppSpec:
    """Read an AppSpec (YAML or JSON) for ``platform`` (ECS or Lambda)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AppSpecError(f"The AppSpec is not valid YAML or JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise AppSpecError("The AppSpec must be a mapping with 'version' and 'Resources'.")
    if str(doc.get("version")) not in ("0.0", "0"):
        raise AppSpecError("The AppSpec 'version' must be 0.0.")
    resources = doc.get("Resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], dict) or len(resources[0]) != 1:
        raise AppSpecError("The AppSpec 'Resources' must list exactly one resource.")
    ((_, resource),) = resources[0].items()
    if not isinstance(resource, dict) or not isinstance(resource.get("Properties"), dict):
        raise AppSpecError("The AppSpec resource needs 'Type' and 'Properties'.")
    allowed = ECS_HOOKS if platform == "ECS" else LAMBDA_HOOKS
    return AppSpec(_ecs(resource) if platform == "ECS" else _lambda(resource), _hooks(doc.get("Hooks"), allowed))


def _ecs(resource: dict[str, Any]) -> EcsTarget:
    if resource.get("Type") != "AWS::ECS::Service":
        raise AppSpecError("The AppSpec resource of an ECS deployment must have Type AWS::ECS::Service.")
    props = resource["Properties"]
    info = props.get("LoadBalancerInfo")
    if not props.get("TaskDefinition") or not isinstance(info, dict):
        raise AppSpecError("The AppSpec's TargetService needs TaskDefinition and LoadBalancerInfo.")
    if not info.get("ContainerName") or info.get("ContainerPort") is None:
        raise AppSpecError("The AppSpec's LoadBalancerInfo needs ContainerName and ContainerPort.")
    try:
        port = int(info["ContainerPort"])
    except (TypeError, ValueError):
        raise AppSpecError(f"ContainerPort must be a number, not {info['ContainerPort']!r}.") from None
    network = props.get("NetworkConfiguration")
    return EcsTarget(str(props["TaskDefinition"]), str(info["ContainerName"]), port,
                     props.get("PlatformVersion"), _network(network) if network else None,
                     [_lower_keys(item) for item in props.get("CapacityProviderStrategy") or []] or None)


def _network(network: dict[str, Any]) -> dict[str, Any]:
    """The AppSpec's NetworkConfiguration in ECS's API spelling."""
    vpc = network.get("AwsvpcConfiguration") or network.get("awsvpcConfiguration") or {}
    return {"awsvpcConfiguration": _lower_keys(vpc)}


def _lower_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {key[:1].lower() + key[1:]: value for key, value in item.items()}


def _lambda(resource: dict[str, Any]) -> LambdaTarget:
    if resource.get("Type") != "AWS::Lambda::Function":
        raise AppSpecError("The AppSpec resource of a Lambda deployment must have Type AWS::Lambda::Function.")
    props = resource["Properties"]
    missing = [k for k in ("Name", "Alias", "CurrentVersion", "TargetVersion") if props.get(k) in (None, "")]
    if missing:
        raise AppSpecError(f"The AppSpec's Lambda function properties lack {', '.join(missing)}.")
    return LambdaTarget(str(props["Name"]), str(props["Alias"]), str(props["CurrentVersion"]), str(props["TargetVersion"]))


def _hooks(hooks: Any, allowed: tuple[str, ...]) -> dict[str, str]:
    if hooks is None:
        return {}
    if not isinstance(hooks, list) or not all(isinstance(h, dict) and len(h) == 1 for h in hooks):
        raise AppSpecError("The AppSpec 'Hooks' must be a list of single 'Event: function' entries.")
    found: dict[str, str] = {}
    for hook in hooks:
        ((event, function),) = hook.items()
        if event not in allowed:
            raise AppSpecError(f"{event} is not a lifecycle event hook of this platform; use {', '.join(allowed)}.")
        found[event] = str(function)
    return found

