"""What CodeDeploy keeps per account and region, and its ARNs and identifiers."""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

from labstack.services.codedeploy.deployment import Deployment


@dataclass
class RegionState:
    """Applications, deployment groups, custom configs, deployments, revisions and tags."""

    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (application, group) -> info
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    revisions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # application -> key -> RevisionInfo
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # ARN -> tags


def deployment_id() -> str:
    """``d-`` and nine characters, as CodeDeploy's deployment ids look."""
    return "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


def arn(region: str, account: str, kind: str, name: str) -> str:
    """``kind`` is application, deploymentgroup (name ``app/group``) or deploymentconfig."""
    return f"arn:aws:codedeploy:{region}:{account}:{kind}:{name}"


def revision_key(revision: dict[str, Any]) -> str:
    """One revision's identity, whatever its type."""
    return json.dumps(revision, sort_keys=True, default=str)
