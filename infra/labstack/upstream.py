"""LocalStack as labstack's upstream: which services it serves, and the reverse proxy to it.

With ``labstack serve --upstream URL`` the services LocalStack's free runtime serves are
consumed from there: labstack's engines call them through ``InternalClients`` (which points
their clients at the upstream), and requests for them that reach labstack's gateway are
forwarded unchanged, signature headers and body included, so a client with one endpoint works.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

import urllib3

from labstack.errors import AwsError
from labstack.protocol.models import metadata

log = logging.getLogger("labstack.upstream")

# botocore's names of the services consumed from the upstream (issue #10). Not CloudWatch: LocalStack's
# free CloudWatch does not evaluate metric math alarms, labstack's alarms runtime does.
SERVICES = frozenset({
    "s3", "iam", "sts", "sns", "sqs", "logs", "events", "ssm", "secretsmanager",
})
# Of those, the ones labstack serves in part in front of the upstream (an overlay that forwards the rest):
# EventBridge, whose free LocalStack refuses a CodePipeline target, which labstack keeps (runtimes/eventbus).
FRONTED = frozenset({"events"})
# The account LocalStack puts a key in that names none (``test``); labstack follows it upstream.
LOCALSTACK_DEFAULT_ACCOUNT = "000000000000"
# Hop-by-hop headers (RFC 9110 §7.6.1).
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade",
})
# What the WSGI server adds to every answer itself.
_NOT_ANSWERED = _HOP_BY_HOP | {"server", "date"}
# What a client says to labstack alone: hop-by-hop headers, an Expect the server has already
# answered, and labstack's own marker.
_NOT_FORWARDED = _HOP_BY_HOP | {"expect", "x-labstack-direct"}
_KEY_IN_AUTH = re.compile(r"(Credential=)([^/,\s]+)")
_CHUNK = 64 * 1024


@functools.lru_cache(maxsize=1)
def signing_names() -> frozenset[str]:
    """The SigV4 service names of :data:`SERVICES` (what the gateway reads from a request's credential scope)."""
    names = set()
    for service in SERVICES:
        meta = metadata(service)
        names.add(meta.get("signingName") or meta["endpointPrefix"])
    return frozenset(names)


def unreachable(upstream: str, service: str | None, reason: object) -> AwsError:
    """The error a client gets while LocalStack does not answer: AWS's 503, saying what to do."""
    what = service or "S3, IAM, Logs and more"
    return AwsError(
        "ServiceUnavailable",
        f"LocalStack at {upstream}, which serves {what} for labstack, does not answer ({reason}); "
        "start it again (`labstack localstack up`) and retry",
        503,
        sender_fault=False,
    )


def account_key(access_key: str) -> bool:
    """True when LocalStack reads the same account from ``access_key`` as labstack does:
    a 12-digit key names its account, and LSIA/LKIA keys are LocalStack's own."""
    return (len(access_key) == 12 and access_key.isdigit()) or access_key.startswith(("LSIA", "LKIA"))


class Proxy:
    """Forwards gateway requests to the upstream and streams its answer back."""

    def __init__(self, upstream: str, timeout: float) -> None:
        self.upstream = upstream
        self._pool = urllib3.PoolManager(
            maxsize=32, block=False, retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=max(timeout, 60.0)),
        )

    def forward(self, environ: dict, start_response: Callable[..., Any], service: str | None,
                access_key: str | None, account: str) -> Iterable[bytes]:
        """Send the request as it came and answer with the upstream's status, headers and body.

        A key LocalStack would read as another account (``test`` is LocalStack's 000000000000
        but labstack's default account) is replaced by labstack's account id, so both agree.
        """
        headers = _request_headers(environ)
        query = environ.get("QUERY_STRING", "")
        if access_key and not account_key(access_key):
            if "Authorization" in headers:
                headers["Authorization"] = _KEY_IN_AUTH.sub(lambda m: m.group(1) + account, headers["Authorization"], count=1)
            query = query.replace(f"X-Amz-Credential={quote(access_key, safe='')}", f"X-Amz-Credential={account}", 1)
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")  # the path as the client encoded it
        url = self.upstream + (raw.split("?", 1)[0] if raw else quote(environ.get("PATH_INFO", "/")))
        if query:
            url += "?" + query
        length = headers.get("Content-Length")
        body: Any = environ["wsgi.input"] if length not in (None, "0") else (environ["wsgi.input"].read() or None)
        try:
            answer = self._pool.urlopen(
                environ.get("REQUEST_METHOD", "GET"), url, body=body, headers=headers,
                redirect=False, preload_content=False, decode_content=False, assert_same_host=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            log.warning("upstream %s did not answer %s %s: %s", self.upstream, environ.get("REQUEST_METHOD"), url, exc)
            raise unreachable(self.upstream, service, _reason(exc)) from None
        start_response(f"{answer.status} {answer.reason or ''}".rstrip(),
                       [(k, v) for k, v in answer.headers.items() if k.lower() not in _NOT_ANSWERED])
        return _stream(answer)


def _request_headers(environ: dict) -> dict[str, str]:
    """The client's end-to-end headers from a WSGI environ (the Host included: S3 reads buckets from it)."""
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
               if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _NOT_FORWARDED}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = environ[key]
    return headers


def _stream(answer: Any) -> Iterator[bytes]:
    try:
        yield from answer.stream(_CHUNK, decode_content=False)
    except urllib3.exceptions.HTTPError as exc:  # the upstream went away mid-answer: the client sees a cut body
        log.warning("upstream answer cut short: %s", exc)
    finally:
        answer.release_conn()


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    return "connection refused" if "refused" in text.lower() else text.split(": ", 1)[-1][:200]
