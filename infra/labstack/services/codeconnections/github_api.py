"""The local GitHub's REST API for pull requests, at ``<endpoint>/github/api/v3`` (the base URL GitHub
Enterprise Server gives its API, so a client that takes a base URL reaches it).

The calls are GitHub's, with GitHub's JSON for a pull request (the members the labs and pipelines use)
and GitHub's errors (``{"message": ..., "errors": [...]}``; 422 ``Validation Failed``)::

    GET   /repos/{owner}/{repo}/pulls[?state=open|closed|all&head=&base=&per_page=&page=]
    POST  /repos/{owner}/{repo}/pulls            {"title", "head", "base", "body"}
    GET   /repos/{owner}/{repo}/pulls/{number}
    PATCH /repos/{owner}/{repo}/pulls/{number}   {"title", "body", "state", "base"}
    GET   /repos/{owner}/{repo}/pulls/{number}/merge   204 merged, 404 not
    PUT   /repos/{owner}/{repo}/pulls/{number}/merge   {"merge_method", "commit_title", "commit_message", "sha"}

Who may call is decided as for the local GitHub's git requests (``admit``): anyone on a laptop; in
class mode the repository's owner account (and the instructor), with a learner's own access key id and
secret as HTTP Basic credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from labstack.jsonbody import BadBody, read_object
from labstack.services.codecommit.gitauth import Refusal
from labstack.services.codecommit.repos import BareRepo
from labstack.services.codeconnections import github, pulls
from labstack.sources import SourceChange

PREFIX = "/github/api/v3/"
MAX_REQUEST_BYTES = 256 * 1024  # a pull request's longest title and body fit with room to spare
_PATH = re.compile(r"^repos/([^/]+)/([^/]+)/pulls(?:/(\d{1,9})(/merge)?)?/?$")
_STATUS = {200: "200 OK", 201: "201 Created", 204: "204 No Content", 400: "400 Bad Request", 401: "401 Unauthorized",
           403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed", 409: "409 Conflict",
           422: "422 Unprocessable Entity"}

# (environ, owner/repo, whether the call writes) -> the caller's login; raises Refusal
Admit = Callable[[dict, str, bool], str]
Publish = Callable[[list[SourceChange]], None]


class PullsApi:
    """A WSGI app serving the pull request calls of the repositories under ``home``."""

    def __init__(self, home: Path, admit: Admit, publish: Publish) -> None:
        self.home = home
        self.admit = admit
        self.publish = publish

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, payload = self._serve(environ)
        except pulls.PullError as error:
            status, payload = error.status, _error(error.message, error.errors)
        except Refusal as refusal:
            headers = [("WWW-Authenticate", f'Basic realm="{refusal.realm}"')] if refusal.status == 401 else []
            return _send(start_response, refusal.status, _error(refusal.message), headers)
        return _send(start_response, status, payload)

    def _serve(self, environ: dict) -> tuple[int, Any]:
        method = environ.get("REQUEST_METHOD", "GET")
        match = _PATH.match(environ.get("PATH_INFO", "")[len(PREFIX):])
        try:
            full_id = "/".join(github.split_id(f"{match.group(1)}/{match.group(2)}")) if match else None
        except ValueError:
            full_id = None
        if match is None or full_id is None:
            raise pulls.PullError(404, "Not Found")
        number = int(match.group(3)) if match.group(3) else None
        merging = bool(match.group(4))
        allowed = ("GET", "PUT") if merging else ("GET", "PATCH") if number is not None else ("GET", "POST")
        if method not in allowed:
            raise pulls.PullError(404, "Not Found")
        repo = github.repository(self.home, full_id)
        user = self.admit(environ, full_id, method != "GET" and repo.exists())
        if not repo.exists():
            raise pulls.PullError(404, "Not Found")
        endpoint = _endpoint(environ)
        if method == "GET":
            return self._read(environ, repo, full_id, number, merging, endpoint)
        request = _body(environ)
        if method == "POST":
            pull, events = pulls.create(repo, full_id, request, user)
            self.publish(events)
            return 201, describe(repo, full_id, pull, endpoint, detail=True)
        assert number is not None
        if method == "PATCH":
            pull, events = pulls.edit(repo, full_id, number, request)
            self.publish(events)
            return 200, describe(repo, full_id, pull, endpoint, detail=True)
        pull, events = pulls.merge(repo, full_id, number, request, user)
        self.publish(events)
        return 200, {"sha": pull.merge_commit_sha, "merged": True, "message": "Pull Request successfully merged"}

    def _read(self, environ: dict, repo: BareRepo, full_id: str, number: int | None, merging: bool,
              endpoint: str) -> tuple[int, Any]:
        if number is None:
            query = _query(environ)
            state = query.get("state", "open")
            if state not in ("open", "closed", "all"):
                raise pulls.invalid("state", "state must be open, closed or all")
            size = min(max(_int(query.get("per_page"), 30), 1), 100)
            start = (max(_int(query.get("page"), 1), 1) - 1) * size
            found = pulls.listing(repo, state, query.get("head"), query.get("base"))[start:start + size]
            branches = repo.branches()
            return 200, [describe(repo, full_id, p, endpoint, branches) for p in found]
        pull = pulls.get(repo, number)
        if merging:
            if not pull.merged:
                raise pulls.PullError(404, "Not Found")
            return 204, None
        return 200, describe(repo, full_id, pull, endpoint, detail=True)


def describe(repo: BareRepo, full_id: str, pull: pulls.Pull, endpoint: str, branches: dict[str, str] | None = None,
             detail: bool = False) -> dict:
    """GitHub's JSON for a pull request (``branches``: the repository's, if already read); ``detail`` (one pull
    request) adds ``mergeable`` and ``merged_by``, as GitHub's does."""
    owner = full_id.partition("/")[0]
    branches = repo.branches() if branches is None else branches

    def side(branch: str, sha: str) -> dict:
        return {"label": f"{owner}:{branch}", "ref": branch, "sha": sha, "user": {"login": owner},
                "repo": {"full_name": full_id, "clone_url": github.clone_url(endpoint, full_id)}}

    data = {
        "url": f"{endpoint}{PREFIX}repos/{full_id}/pulls/{pull.number}",
        "id": pull.number, "number": pull.number, "state": pull.state, "locked": False, "draft": False,
        "title": pull.title, "body": pull.body or None, "user": {"login": pull.user},
        "created_at": pull.created_at, "updated_at": pull.updated_at, "closed_at": pull.closed_at,
        "merged_at": pull.merged_at, "merge_commit_sha": pull.merge_commit_sha,
        "head": side(pull.head, pull.head_sha), "base": side(pull.base, branches.get(pull.base, pull.base_sha)),
        "merged": pull.merged,
    }
    if detail:
        data["merged_by"] = {"login": pull.merged_by} if pull.merged_by else None
        data["mergeable"] = pulls.mergeable(repo, pull)
    return data


def _error(message: str, errors: list[dict] | None = None) -> dict:
    return {"message": message, **({"errors": errors} if errors else {})}


def _send(start_response: Callable[..., Any], status: int, payload: Any,
          extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = b"" if status == 204 else json.dumps(payload).encode()
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))), *(extra or [])]
    start_response(_STATUS[status], headers)
    return [body]


def _endpoint(environ: dict) -> str:
    """The address the caller used (its Host header), which the URLs in the answer name."""
    return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST') or environ.get('SERVER_NAME', '127.0.0.1')}"


def _query(environ: dict) -> dict[str, str]:
    return dict(parse_qsl(environ.get("QUERY_STRING", ""))[:20])


def _int(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() and len(value) < 7 else default


def _body(environ: dict) -> dict:
    """The request's JSON object (none sent: ``{}``), as application/json of at most MAX_REQUEST_BYTES; 400 if not."""
    if environ.get("CONTENT_LENGTH") in (None, "", "0") and not environ.get("wsgi.input_terminated"):
        return {}
    try:
        return read_object(environ, MAX_REQUEST_BYTES)
    except BadBody as bad:
        raise pulls.PullError(400, f"Problems parsing JSON: {bad}") from None
