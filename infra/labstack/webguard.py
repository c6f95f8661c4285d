"""What a web page in the learner's browser may not make labstack do: the Host and Origin rules.

Every page the learner opens can send requests to ``127.0.0.1:4566``. Three rules, in every mode
and on every path (AWS APIs, git, labstack's own endpoints), keep such pages out:

- **DNS rebinding**: a page on ``evil.example`` whose name is made to resolve to 127.0.0.1 reaches
  labstack as a same-origin page, but its requests say ``Host: evil.example``. Only loopback names
  (``localhost`` and ``*.localhost``, which browsers never ask DNS about), IP literals, the bound
  address and the names given with ``--allowed-host`` are answered. An IP literal is safe to accept:
  the browser sends it only to a page whose own origin is that address and port, which is labstack.
- **Cross-origin requests**: browsers mark a request from another page with ``Origin`` (on every
  POST, form or ``fetch(..., {mode: 'no-cors'})`` alike) and ``Sec-Fetch-Site``; SDKs, the AWS CLI
  and git send neither. A foreign Origin, or a request that is cross-site or same-site (another
  port of this host), is refused. Only a top-level navigation to a labstack page (a link to the
  console) may come from elsewhere: those are GETs of read-only views, and the linking page
  cannot read the answer.
- **CSRF on labstack's own endpoints**: a state-changing ``/_labstack/*`` request (anything but
  GET and HEAD) must be ``application/json`` or carry the ``X-Labstack-Request`` header. A page
  can send neither across origins without a CORS preflight, which labstack never grants; this
  also covers browsers that omit ``Origin`` on form posts.

A refusal is a 403: AWS-shaped on AWS paths, JSON on labstack's own, plain text on git and
other plain routes.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import urlsplit

from labstack import internal
from labstack.config import Settings
from labstack.context import credential_from
from labstack.errors import JSON, REST_JSON, AwsError, new_request_id, render

if TYPE_CHECKING:
    from labstack.instance import Labstack

CSRF_HEADER = "X-Labstack-Request"
_CSRF_KEY = "HTTP_X_LABSTACK_REQUEST"  # CSRF_HEADER in a WSGI environ
_OWN = ("/_labstack", "/_localstack")
_SAFE_METHODS = ("GET", "HEAD")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def host_name(host: str) -> str:
    """The name or address of a ``Host`` header, without port, brackets or a final dot, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:4566
        end = host.find("]")
        return host[1:end] if end > 0 else host
    name, colon, port = host.rpartition(":")
    return (name if colon and port.isdigit() else host).removesuffix(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str | None, settings: Settings) -> bool:
    """Whether a request with this ``Host`` header may be answered (see the module's docstring)."""
    if not host:  # an HTTP/1.0 client; browsers always send Host
        return True
    name = host_name(host)
    if _is_ip(name) or name == "localhost" or name.endswith(".localhost"):
        return True
    return bool(name) and name in {host_name(h) for h in (settings.host, *settings.allowed_hosts)}


def same_origin(origin: str, host: str | None) -> bool:
    """Whether an ``Origin`` header names the scheme-default or explicit port of ``host`` (the Host header)."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or not host:
        return False  # "null" (a sandboxed frame, a file: page) among them
    default = ":" + _DEFAULT_PORTS[parts.scheme]
    return parts.netloc.removesuffix(default) == host.strip().lower().removesuffix(default)


def refusal(environ: dict, settings: Settings) -> str | None:
    """Why a browser-borne request must be refused, or None when it may go on."""
    host = environ.get("HTTP_HOST")
    if not host_allowed(host, settings):
        name = host_name(host or "")[:100]
        return (f"labstack does not answer requests for host {name!r} (a protection against DNS rebinding): "
                f"use 127.0.0.1 or localhost, or start labstack with --allowed-host {name}")
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    own = path.startswith(_OWN)
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and not same_origin(origin, host):
        return f"labstack refuses requests from web pages of another origin ({origin.strip()[:100]})"
    site = environ.get("HTTP_SEC_FETCH_SITE", "").lower()
    navigation = environ.get("HTTP_SEC_FETCH_MODE", "").lower() == "navigate" and method in _SAFE_METHODS
    if site in ("cross-site", "same-site") and not (own and navigation):
        return "labstack refuses requests that web pages of other sites send (Sec-Fetch-Site: " + site + ")"
    if own and method not in _SAFE_METHODS and not (
            environ.get("CONTENT_TYPE", "").lower().startswith("application/json")
            or _CSRF_KEY in environ):
        return (f"{method} {path} changes labstack's state: send it as application/json or with an "
                f"{CSRF_HEADER} header (a web page cannot, so it cannot make the change for you)")
    return None


def screen(labstack: "Labstack", environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes] | None:
    """Answer 403 to a request a web page may have forged; None when it may be served."""
    reason = refusal(environ, labstack.settings)
    if reason is None:
        return None
    path = environ.get("PATH_INFO", "")
    if path.startswith(_OWN):
        return internal.json_response(start_response, "403 Forbidden", {"error": "Forbidden", "message": reason})
    if labstack.routes.match(path) is not None:  # git, the image engine: plain HTTP clients
        body = (reason + "\n").encode()
        start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
    protocol = _protocol(environ)
    code = "AccessDeniedException" if protocol in (JSON, REST_JSON) else "AccessDenied"
    status, headers, body = render(AwsError(code, reason, 403), protocol, new_request_id())
    start_response(f"{status} Forbidden", headers)
    return [body]


def _protocol(environ: dict) -> str:
    """The wire format of the AWS request, as the gateway guesses it for its own errors."""
    from labstack.gateway import guess_protocol  # noqa: PLC0415 - the gateway imports this module

    try:
        credential = credential_from(environ)
    except AwsError:
        credential = None
    return guess_protocol(environ, credential.service if credential else None)
