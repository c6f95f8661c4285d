"""labstack's own HTTP endpoints: health (also at LocalStack's path), status, endpoints, reset and the console."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode
from typing import TYPE_CHECKING, Any, Callable, Iterable

from labstack import authenticate, console
from labstack.console.app import API as CONSOLE_API
from labstack.jsonbody import BadBody, read_object
from labstack.keyring import Identity
from labstack.sessions import set_cookie
from labstack.signatures import AuthFailure

if TYPE_CHECKING:
    from labstack.instance import Labstack

HEALTH = ("/_labstack/health", "/_localstack/health")  # answered during warm-up too
SIGN_IN = ("/_labstack/signin", "/_labstack/signout", "/_labstack/whoami")  # class mode's console sign-in


def json_response(start_response: Callable[..., Any], status: str, payload: dict, head: bool = False) -> Iterable[bytes]:
    """A JSON answer (no body for HEAD)."""
    body = json.dumps(payload, indent=1).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [] if head else [body]


def handle(labstack: "Labstack", environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Serve ``/_labstack/*`` and ``/_localstack/*``."""
    path = environ.get("PATH_INFO", "").rstrip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    head = method == "HEAD"
    if path in HEALTH and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.health(), head)
    # Everything else answers once warm-up is over: providers register their views meanwhile.
    try:
        labstack.wait_warm()
    except (TimeoutError, RuntimeError) as exc:
        return json_response(start_response, "503 Service Unavailable", {"error": str(exc)}, head)
    only: set[str] | None = None  # the accounts the caller may see (class mode), None for all
    if path in SIGN_IN and not labstack.settings.class_mode:
        return sign_in(labstack, environ, start_response, path, method, None)
    if labstack.settings.class_mode:
        try:
            caller = authenticate.own_caller(labstack, environ)
            if labstack.gate.not_the_learner(caller):  # IAM decides these keys; the console has no policy
                return json_response(start_response, "403 Forbidden", {
                    "error": "AccessDenied", "message": "labstack's own endpoints and the console answer the learner: "
                    "an IAM user's keys, or a build's, task's or function's, reach only the AWS APIs, where IAM decides"})
        except AuthFailure as failure:
            return json_response(start_response, "403 Forbidden", {"error": "SignatureRefused", "message": failure.message})
        if path in SIGN_IN:
            return sign_in(labstack, environ, start_response, path, method, caller)
        only = authenticate.visible_accounts(caller)
        refusal = _class_refusal(path, method, caller, labstack)
        if refusal is not None:
            return json_response(start_response, refusal[0], {"error": refusal[1], "message": refusal[2]}, head)
        if only is not None:
            _pin_account(environ, next(iter(only), None))
        environ["labstack.visible"] = only
    if console.serves(path):
        return console.handle(labstack, environ, start_response)
    if path == "/_labstack/status" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.status(only), head)
    if path == "/_labstack/endpoints" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", {"endpoints": labstack.endpoints(only)}, head)
    if path in labstack.views and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", labstack.views[path](environ), head)
    if path == "/_labstack/reset" and method == "POST":
        labstack.reset()
        return json_response(start_response, "200 OK", {"reset": True})
    known = {*HEALTH, "/_labstack/status", "/_labstack/endpoints", "/_labstack/reset",
             *labstack.views, *SIGN_IN}
    if path in known:
        return json_response(start_response, "405 Method Not Allowed", {"error": f"{method} is not allowed on {path}"})
    return json_response(start_response, "404 Not Found", {"error": f"no labstack endpoint {path}", "endpoints": sorted(known)})


def sign_in(labstack: "Labstack", environ: dict, start_response: Callable[..., Any], path: str, method: str,
            caller: Identity | None) -> Iterable[bytes]:
    """``POST /_labstack/signin {accessKeyId, secretAccessKey}``, ``POST /_labstack/signout``, ``GET /_labstack/whoami``."""
    if path == "/_labstack/whoami" and method in ("GET", "HEAD"):
        return json_response(start_response, "200 OK", _who(labstack, caller), method == "HEAD")
    if method != "POST":
        return json_response(start_response, "405 Method Not Allowed", {"error": f"{method} is not allowed on {path}"})
    if path == "/_labstack/signout":
        labstack.sessions.sign_out(environ)
        start_response("200 OK", [("Content-Type", "application/json"), set_cookie("", 0)])
        return [json.dumps({"signedIn": False}).encode()]
    try:
        body = read_object(environ, 4096)
    except BadBody as exc:
        return json_response(start_response, "400 Bad Request", {"error": "BadRequest", "message": str(exc)})
    key, secret = body.get("accessKeyId"), body.get("secretAccessKey")
    signed = labstack.sessions.sign_in(key, secret) if isinstance(key, str) and isinstance(secret, str) else None
    if signed is None:
        return json_response(start_response, "403 Forbidden", {"error": "SignInFailed",
                                                                "message": "that key id and secret are not a learner's of this class"})
    identity, token = signed
    payload = json.dumps(_who(labstack, identity)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), set_cookie(token)])
    return [payload]


def _who(labstack: "Labstack", caller: Identity | None) -> dict[str, Any]:
    mode = {"classMode": labstack.settings.class_mode}
    if caller is None:
        return {**mode, "signedIn": False}
    return {**mode, "signedIn": True, "name": caller.name, "account": caller.account, "instructor": caller.instructor}


def _class_refusal(path: str, method: str, caller: Identity | None, labstack: "Labstack") -> tuple[str, str, str] | None:
    """Why a class-mode request to labstack's own endpoints is refused, or None: everything but the
    status and the console's page needs a signed-in learner, and a reset needs the instructor."""
    if caller is None and not (path == "/_labstack/status" or console.serves(path) and not path.startswith(CONSOLE_API)):
        return ("401 Unauthorized", "SignInRequired",
                "this labstack serves a class: sign in on the console, or sign the request with your keys")
    if path == "/_labstack/reset" and not (caller is not None and caller.instructor):
        return ("403 Forbidden", "InstructorOnly", "only the instructor may reset a class's labstack")
    return None


def _pin_account(environ: dict, account: str | None) -> None:
    """Make ``?account=`` name ``account`` whatever the request said (views and the console read it)."""
    query = [(k, v) for k, v in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True) if k != "account"]
    if account is not None:
        query.append(("account", account))
    environ["QUERY_STRING"] = urlencode(query)
