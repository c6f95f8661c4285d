"""The ``entityUrl`` of an action in GetPipelineState: where to learn more about what the action
works on. AWS links to its console (a CodeBuild project, a CodeDeploy deployment group, the S3
console) or, for a custom action type, fills the type's ``entityUrlTemplate``. labstack links to
its own console where it has a page for the thing (builds, deployments), to the local repository
for a CodeCommit or GitHub source, to the template's URL for custom types, and otherwise to the
pipeline's page of its console, which shows every action's state.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from labstack.services.codecommit.provider import clone_url
from labstack.services.codeconnections import github
from labstack.services.codepipeline.action_types import ActionType

CONSOLE = "/_labstack/console"
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_CONFIG = re.compile(r"\{Config:([A-Za-z0-9_ .\-]+)\}")
# which page of labstack's console stands for what AWS's console would show, by action provider
_PAGES = {"CodeBuild": "builds", "CodeDeploy": "deployments", "CodeDeployToECS": "deployments"}


def base_url(host: str | None, fallback: str) -> str:
    """labstack's URL as a caller reaches it: ``http://`` and its Host header when that is a plain
    host[:port], else ``fallback``."""
    return f"http://{host}" if host and _HOST.match(host) else fallback


def console(base: str, account: str, region: str, page: str) -> str:
    """A page of labstack's console for ``account`` and ``region``."""
    return f"{base}{CONSOLE}?{urlencode({'account': account, 'region': region})}#/{page}"


def entity_url(base: str, account: str, region: str, pipeline: str, action: dict,
               action_type: ActionType | None) -> str:
    """The ``entityUrl`` of ``action`` of ``pipeline`` (see the module's docstring)."""
    provider = action["actionTypeId"]["provider"]
    config = action.get("configuration", {})
    template = (action_type.settings.get("entityUrlTemplate") if action_type is not None else None)
    if template:
        return _CONFIG.sub(lambda m: quote(config.get(m.group(1), ""), safe=""), template)[:2048]
    if provider in _PAGES:
        return console(base, account, region, _PAGES[provider])
    if provider == "CodeCommit" and config.get("RepositoryName"):
        return clone_url(base, account, region, config["RepositoryName"])
    if provider == "CodeStarSourceConnection" and config.get("FullRepositoryId", "").count("/") == 1:
        return github.clone_url(base, config["FullRepositoryId"])
    return console(base, account, region, f"pipelines/{quote(pipeline, safe='')}")
