"""CodeConnections: connections to the local GitHub, AVAILABLE as soon as they are made.
CodeStar Connections, the same API under its older name, is served by a subclass
(``services/codestar_connections/``) over the same connections.

On AWS a new connection waits (PENDING) for someone to finish the handshake with GitHub in
the console; labstack's GitHub is local, so there is nothing to wait for. The local GitHub
itself is served here too, under ``/github/`` (see ``github.py``), and its pull request API
under ``/github/api/v3/`` (``github_api.py``).
"""

from __future__ import annotations

import re
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
from labstack.services.codecommit.githttp import (
    GitHttp,
    RefUpdate,
    Target,
    created_branches,
)
from labstack.services.codecommit import gitauth
from labstack.services.codeconnections import github, github_api, pulls
from labstack.sources import SourceChange, change_feed
from labstack.state import AccountRegionStore

MAX_CONNECTIONS = 250  # AWS's quota per account and region
MAX_TAGS = 50
_ARN = re.compile(r"^arn:aws[\w-]*:(codestar-connections|codeconnections):([\w-]+):(\d{12}):connection/([\w-]+)$")


@dataclass
class Connection:
    """One connection; ``service`` is the API that made it (its ARN says so)."""

    name: str
    provider_type: str
    account: str
    region: str
    service: str
    connection_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tags: dict[str, str] = field(default_factory=dict)
    host_arn: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:{self.service}:{self.region}:{self.account}:connection/{self.connection_id}"

    def describe(self) -> dict:
        """The ``Connection`` shape."""
        data = {"ConnectionName": self.name, "ConnectionArn": self.arn, "ProviderType": self.provider_type,
                "OwnerAccountId": self.account, "ConnectionStatus": "AVAILABLE"}
        if self.host_arn:
            data["HostArn"] = self.host_arn
        return data


_stores: weakref.WeakKeyDictionary[Any, AccountRegionStore[dict[str, Connection]]] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def connections_of(labstack: Any) -> AccountRegionStore[dict[str, Connection]]:
    """The connections of one labstack, shared by the CodeConnections and CodeStar Connections APIs."""
    with _stores_lock:
        store = _stores.get(labstack)
        if store is None:
            store = _stores[labstack] = AccountRegionStore(dict)
        return store


def tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class ForeignRepository(gitauth.Refusal):
    """A class-mode request for a repository another account owns (or a write under a name kept for one)."""


class CodeConnectionsProvider(Provider):
    """Connections (create, get, list, delete, tags) and the local GitHub's git server."""

    service = "codeconnections"

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.connections = connections_of(labstack)
        labstack.hooks.on_reset(self.connections.reset)
        if self.service == CodeConnectionsProvider.service:  # the older API's subclass shares it
            self.home = labstack.settings.home
            labstack.hooks.on_reset(lambda: github.remove_all(self.home))
            self.git_http = GitHttp(lambda environ: github.locate(self.home, environ), self._pushed,
                                    labstack.settings.home / "git-hooks", guard=self._guard)
            labstack.routes.add(github.PREFIX, self.git_http)
            labstack.routes.add(github_api.PREFIX, github_api.PullsApi(self.home, self._api_caller, self._publish))

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (account, _region), connections in self.connections.items():
            counts[account] = counts.get(account, 0) + len(connections)
        return counts

    def _guard(self, environ: dict) -> None:
        """Git requests: see :meth:`_admit`."""
        parsed = github.parse_path(environ)
        if parsed is None:
            return  # no repository: 404
        full_id, base, _suffix, pushing = parsed
        self._admit(environ, full_id, base, pushing)

    def _admit(self, environ: dict, full_id: str, base: str, writing: bool) -> gitauth.GitCaller | None:
        """In class mode: a learner's keys (or the CodeCommit helper's password for the repository's URL path
        ``base``); a write claims a repository nobody owns; another account's repository is refused (the
        instructor's not). The caller, or None on a laptop (anyone may)."""
        if not self.labstack.settings.class_mode:
            return None
        caller = gitauth.authenticate(self.labstack, environ, "GitHub", base, gitauth.all_regions(), key_pairs=True)
        if self.labstack.gate.not_the_learner(caller.identity):  # may not push what the account's pipelines build
            raise gitauth.Refusal(403, "GitHub takes a learner's own keys or a role session they assumed, not an IAM "
                                       "user's keys or those a build, task or function runs with")
        kept = github.reserved_for(full_id)
        if writing and kept is not None and not caller.may_reach(kept):  # nobody squats another learner's name
            raise ForeignRepository(403, f"{full_id} is kept for account {kept}'s repositories")
        owner = (github.claim(self.home, full_id, caller.account) if writing
                 else github.owner_of(github.repository(self.home, full_id)))
        if not caller.may_reach(owner):
            raise ForeignRepository(403, f"{full_id} belongs to another account")
        return caller

    def _api_caller(self, environ: dict, full_id: str, writing: bool) -> str:
        """The pull request API's caller, admitted as git's (:meth:`_admit`): their login (on a laptop, the owner's).
        Another account's repository answers 404, as GitHub answers for a private repository one cannot see, so
        the API does not tell which names other learners use."""
        try:
            caller = self._admit(environ, full_id, f"{github.PREFIX}{full_id}.git", writing)
        except ForeignRepository:
            raise pulls.PullError(404, "Not Found") from None
        return caller.name if caller is not None else full_id.partition("/")[0]

    def _publish(self, changes: list[SourceChange]) -> None:
        feed = change_feed(self.labstack)
        for change in changes:
            feed.publish(change)

    def _pushed(self, target: Target, updates: list[RefUpdate]) -> None:
        """A push to the local GitHub: default branch, then the change feed pipelines watch (the push, then
        what it did to pull requests)."""
        target.repo.settle_default(target.repo.head_branch(), created_branches(updates))
        self._publish([SourceChange("GitHub", target.owner, u.ref, u.old, u.new) for u in updates])
        self._publish(pulls.pushed(target.repo, target.owner, updates))

    def find(self, ctx: RequestContext, arn: str) -> Connection:
        """The connection ``arn`` names in the caller's account and region."""
        match = _ARN.match(arn or "")
        connection = None
        if match and (match.group(2), match.group(3)) == (ctx.region, ctx.account):
            connection = self.connections.get(ctx.account, ctx.region).get(match.group(4))
        if connection is None:
            raise AwsError("ResourceNotFoundException", f"Connection {arn} does not exist")
        return connection

    def create_connection(self, ctx: RequestContext, request: dict) -> dict:
        provider_type = request.get("ProviderType") or "GitHub"
        if provider_type != "GitHub" or request.get("HostArn"):
            raise AwsError("ResourceUnavailableException",
                           f"labstack connects to its local GitHub only, not to {request.get('HostArn') or provider_type}")
        tags = {t["Key"]: t["Value"] for t in request.get("Tags") or []}
        with self.connections.lock:
            connections = self.connections.get(ctx.account, ctx.region)
            if len(connections) >= MAX_CONNECTIONS:
                raise AwsError("LimitExceededException", f"An account can have at most {MAX_CONNECTIONS} connections per region")
            connection = Connection(request["ConnectionName"], provider_type, ctx.account, ctx.region, self.service, tags=tags)
            connections[connection.connection_id] = connection
        result: dict = {"ConnectionArn": connection.arn}
        if tags:
            result["Tags"] = tag_list(tags)
        return result

    def get_connection(self, ctx: RequestContext, request: dict) -> dict:
        return {"Connection": self.find(ctx, request["ConnectionArn"]).describe()}

    def list_connections(self, ctx: RequestContext, request: dict) -> dict:
        wanted = request.get("ProviderTypeFilter")
        items = [c.describe() for c in self.connections.get(ctx.account, ctx.region).values()
                 if wanted in (None, c.provider_type) and request.get("HostArnFilter") in (None, c.host_arn)]
        start = int(request["NextToken"]) if (request.get("NextToken") or "").isdigit() else 0
        size = request.get("MaxResults") or 100
        result: dict = {"Connections": items[start:start + size]}
        if start + size < len(items):
            result["NextToken"] = str(start + size)
        return result

    def delete_connection(self, ctx: RequestContext, request: dict) -> dict:
        with self.connections.lock:
            connection = self.find(ctx, request["ConnectionArn"])
            del self.connections.get(ctx.account, ctx.region)[connection.connection_id]
        return {}

    def tag_resource(self, ctx: RequestContext, request: dict) -> dict:
        with self.connections.lock:
            connection = self.find(ctx, request["ResourceArn"])
            merged = {**connection.tags, **{t["Key"]: t["Value"] for t in request["Tags"]}}
            if len(merged) > MAX_TAGS:
                raise AwsError("LimitExceededException", f"A resource can have at most {MAX_TAGS} tags")
            connection.tags = merged
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict) -> dict:
        with self.connections.lock:
            connection = self.find(ctx, request["ResourceArn"])
            for key in request["TagKeys"]:
                connection.tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, request: dict) -> dict:
        return {"Tags": tag_list(self.find(ctx, request["ResourceArn"]).tags)}


PROVIDER = CodeConnectionsProvider
