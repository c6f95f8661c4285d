"""The console's WSGI side: static files, the JSON API's routes, and their errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.exceptions import BotoCoreError, ClientError

from labstack.console import approvals, iam, views
from labstack.console.views import Where
from labstack.jsonbody import read_object

ROOT = "/_labstack"
PAGES = "/_labstack/console"
API = "/_labstack/api/"
STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
MAX_BODY = 16_384
MAX_NAME = 2048  # an ARN in the query
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# Everything the page loads comes from labstack itself.
_CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'")
_SECURITY = [("Content-Security-Policy", _CSP),
             ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-cache")]
StartResponse = Callable[..., Any]


class BadRequest(ValueError):
    """The request names no valid account, region or body."""


class _NotFound(LookupError):
    """No such API route."""


def serves(path: str) -> bool:
    """Whether ``path`` (without its trailing slash) belongs to the console."""
    return path == ROOT or path == PAGES or path.startswith((PAGES + "/", API))


def handle(labstack: Any, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """Serve a console page, asset or API call."""
    path = environ.get("PATH_INFO", "").rstrip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    if path.startswith(API):
        return _api(labstack, environ, start_response, path[len(API):], method)
    if method not in ("GET", "HEAD"):
        return _json(start_response, "405 Method Not Allowed", {"error": "MethodNotAllowed", "message": f"{method} on {path}"})
    name = "index.html" if path in (ROOT, PAGES) else path[len(PAGES) + 1:]
    asset = STATIC / name
    if "/" in name or not asset.is_file() or asset.suffix not in _TYPES:
        return _json(start_response, "404 Not Found", {"error": "NotFound", "message": f"no console file {name}"})
    body = asset.read_bytes()
    start_response("200 OK", [("Content-Type", _TYPES[asset.suffix]), ("Content-Length", str(len(body))), *_SECURITY])
    return [] if method == "HEAD" else [body]


def _query(environ: dict) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _where(environ: dict) -> Where:
    query = _query(environ)
    account = query.get("account", DEFAULT_ACCOUNT)
    region = query.get("region", DEFAULT_REGION)
    if not _ACCOUNT.match(account):
        raise BadRequest(f"account must be 12 digits, not {account!r}")
    if not _REGION.match(region):
        raise BadRequest(f"region {region!r} does not look like us-east-1")
    return Where(account, region)


def _route(labstack: Any, environ: dict, route: str, method: str) -> dict[str, Any]:
    parts = [unquote(p) for p in route.split("/")]
    if method == "POST" and parts == ["approvals"]:
        where = _where(environ)
        return approvals.answer(labstack.clients.get("codepipeline", where.account, where.region), read_object(environ, MAX_BODY))
    if method not in ("GET", "HEAD"):
        raise _NotFound(f"no {method} {API}{route}")
    if parts == ["accounts"]:
        return views.accounts(labstack, environ.get("labstack.visible"))
    if parts[0] == "iam" and len(parts) <= 2:
        return _iam(labstack, environ, parts[1:])
    lists = {"pipelines": views.pipelines, "builds": views.builds, "deployments": views.deployments, "inbox": views.inbox}
    details = {"pipelines": views.pipeline, "builds": views.build, "deployments": views.deployment}
    if len(parts) == 1 and parts[0] in lists:
        return lists[parts[0]](labstack, _where(environ))
    if len(parts) == 2 and parts[0] in details and parts[1]:
        return details[parts[0]](labstack, _where(environ), parts[1])
    raise _NotFound(f"no console API {API}{route}")


def _iam(labstack: Any, environ: dict, parts: list[str]) -> dict[str, Any]:
    """``iam`` (the account's principals), ``iam/principal?principal=ARN``, ``iam/policy?role=NAME|ARN``."""
    where = _where(environ)
    if not parts:
        return iam.stream(labstack, where)
    name = {"principal": "principal", "policy": "role"}.get(parts[0])
    if name is None:
        raise _NotFound(f"no console API {API}iam/{parts[0]}")
    value = _query(environ).get(name, "")
    if not value or len(value) > MAX_NAME:
        raise BadRequest(f"iam/{parts[0]} needs ?{name}= (up to {MAX_NAME} characters)")
    return iam.principal(labstack, where, value) if name == "principal" else iam.suggestion(labstack, where, value)


def _api(labstack: Any, environ: dict, start_response: StartResponse, route: str, method: str) -> Iterable[bytes]:
    try:
        answer = _route(labstack, environ, route, method)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        code = "404 Not Found" if status == 404 or error.get("Code", "").endswith("NotFoundException") else "400 Bad Request"
        return _json(start_response, code, {"error": error.get("Code", "Error"), "message": error.get("Message", str(exc))})
    except ValueError as exc:  # BadRequest, or an approval missing its names
        return _json(start_response, "400 Bad Request", {"error": "BadRequest", "message": str(exc)})
    except LookupError as exc:
        return _json(start_response, "404 Not Found", {"error": "NotFound", "message": str(exc)})
    except BotoCoreError as exc:
        return _json(start_response, "502 Bad Gateway", {"error": "Unreachable", "message": str(exc)})
    return _json(start_response, "200 OK", answer, head=method == "HEAD")


def _encode(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(start_response: StartResponse, status: str, payload: dict[str, Any], head: bool = False) -> Iterable[bytes]:
    body = json.dumps(payload, default=_encode).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *_SECURITY])
    return [] if head else [body]
