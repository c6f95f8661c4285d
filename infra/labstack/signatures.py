"""SigV4 verification: recompute a request's signature with botocore's own signer and compare.

labstack checks signatures in class mode (``labstack serve --learners FILE``). The canonical
request, string to sign and signing key all come from ``botocore.auth``; this module only
rebuilds the request as the client signed it (its raw path and query, the headers it named in
``SignedHeaders``, its payload hash) and maps each failure to the error AWS answers with.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from email.utils import mktime_tz, parsedate_tz
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from labstack.errors import JSON, REST_JSON, AwsError
from labstack.keyring import Identity

MAX_SKEW_SECONDS = 15 * 60  # AWS refuses a request dated more than 15 minutes from its clock
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # X-Amz-Expires may be at most 7 days
_HEX = frozenset("0123456789abcdef")


class AuthFailure(Exception):
    """Why a request's credentials were refused: ``kind`` picks AWS's error, ``message`` explains."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# kind -> (S3's code, status, message), (query/XML services'), (JSON services')
_ERRORS: dict[str, tuple[tuple[str, int, str], ...]] = {
    "missing": (("AccessDenied", 403, "Anonymous access is not allowed on this labstack: sign your requests"),
                ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
                ("MissingAuthenticationTokenException", 403, "Missing Authentication Token")),
    "unknown": (("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
                ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
                ("UnrecognizedClientException", 403, "The security token included in the request is invalid.")),
    "token": (("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
              ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
              ("UnrecognizedClientException", 403, "The security token included in the request is invalid.")),
    "expired-token": (("ExpiredToken", 400, "The provided token has expired."),
                      ("ExpiredToken", 403, "The security token included in the request is expired"),
                      ("ExpiredTokenException", 403, "The security token included in the request is expired")),
    "signature": (("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature "
                                                 "you provided. Check your key and signing method."),
                  ("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature "
                                                "you provided. Check your AWS Secret Access Key and signing method."),
                  ("InvalidSignatureException", 403, "The request signature we calculated does not match the "
                                                     "signature you provided. Check your AWS Secret Access Key and "
                                                     "signing method.")),
    "skew": (("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."),
             ("SignatureDoesNotMatch", 403, "Signature expired"),
             ("InvalidSignatureException", 403, "Signature expired")),
    "presign-expired": (("AccessDenied", 403, "Request has expired"),
                        ("SignatureDoesNotMatch", 403, "Signature expired"),
                        ("InvalidSignatureException", 403, "Signature expired")),
    "payload": (("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what "
                                                   "was computed."),
                ("SignatureDoesNotMatch", 403, "The request body does not match its signed hash."),
                ("InvalidSignatureException", 403, "The request body does not match its signed hash.")),
}


def aws_error(failure: AuthFailure, service: str | None, protocol: str) -> AwsError:
    """The error AWS answers ``failure`` with, in the shape of ``service`` and its ``protocol``."""
    family = 0 if service == "s3" else 2 if protocol in (JSON, REST_JSON) else 1
    code, status, text = _ERRORS[failure.kind][family]
    message = failure.message if failure.kind in ("skew", "presign-expired") and family else text
    return AwsError(code, message, status)


def presigned(environ: dict) -> bool:
    """True when the request carries its signature in the query string."""
    return "X-Amz-Signature=" in environ.get("QUERY_STRING", "")


def payload_hash(environ: dict) -> str | None:
    """The signed payload hash the client sent (``x-amz-content-sha256``), if any."""
    return environ.get("HTTP_X_AMZ_CONTENT_SHA256")


def is_digest(value: str) -> bool:
    """True for a hex SHA-256 (rather than a literal such as UNSIGNED-PAYLOAD)."""
    return len(value) == 64 and set(value) <= _HEX


def check_payload(expected: str, body: bytes) -> None:
    """Raise when ``body`` does not hash to the hex digest the client signed."""
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), expected):
        raise AuthFailure("payload", "the body does not match x-amz-content-sha256")


def verify(environ: dict, identity: Identity, service: str, region: str, body: bytes, now: float | None = None) -> None:
    """Raise :class:`AuthFailure` unless ``identity`` signed this request as it arrived.

    ``body`` is the request body, read whole (for a request that did not sign a payload hash
    in a header); ``service`` and ``region`` come from the credential scope.
    """
    now = time.time() if now is None else now
    query = presigned(environ) or _presigned_v2(environ)
    params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)) if query else {}
    if identity.expired(now):
        raise AuthFailure("expired-token", "the security token has expired")
    if identity.session_token is not None:
        token = params.get("X-Amz-Security-Token") if query else environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        if not token or not _same(token, identity.session_token):
            raise AuthFailure("token", "the session token does not belong to this access key")
    if service == "s3" and (_presigned_v2(environ) or environ.get("HTTP_AUTHORIZATION", "").startswith("AWS ")):
        _verify_v2(environ, identity, params, now)
        return
    if query:
        signed_names, signature, stamp = params.get("X-Amz-SignedHeaders", ""), params.get("X-Amz-Signature", ""), params.get("X-Amz-Date", "")
    else:
        fields = _authorization_fields(environ.get("HTTP_AUTHORIZATION", ""))
        signed_names, signature, stamp = fields.get("SignedHeaders", ""), fields.get("Signature", ""), _stamp(environ)
    signed_at = _parse_stamp(stamp)
    _check_time(signed_at, now, params.get("X-Amz-Expires") if query else None)
    headers = HTTPHeaders()
    for name in filter(None, signed_names.lower().split(";")):
        headers[name] = _header(environ, name)
    signer_class = (S3SigV4QueryAuth if query else S3SigV4Auth) if service == "s3" else (SigV4QueryAuth if query else SigV4Auth)
    signer = _EXACT[signer_class](Credentials(identity.access_key, identity.secret_key, identity.session_token),
                                          service, region)
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=_url(environ, query), headers=headers,
                         data=body)
    request.context["timestamp"] = stamp
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not _same(expected, signature):
        raise AuthFailure("signature", "signature mismatch")


def _presigned_v2(environ: dict) -> bool:
    query = environ.get("QUERY_STRING", "")
    return "AWSAccessKeyId=" in query and "Signature=" in query


def _verify_v2(environ: dict, identity: Identity, params: dict[str, str], now: float) -> None:
    """S3's older signature (in an Authorization header, or a URL presigned with Expires), by botocore's HmacV1Auth."""
    if params:
        signature, date = params.get("Signature", ""), params.get("Expires", "")
        if not _number(date):
            raise AuthFailure("signature", "Expires must be a number of seconds since the epoch")
        if now > int(date):
            raise AuthFailure("presign-expired", f"Request has expired (at {date})")
    else:
        signature = environ.get("HTTP_AUTHORIZATION", "").partition(":")[2].strip()
        date = environ.get("HTTP_DATE", "")
        stamp = environ.get("HTTP_X_AMZ_DATE") or date
        _check_time(_http_date(stamp), now, None)
    headers = HTTPHeaders()
    for name in ("content-md5", "content-type"):
        if _header(environ, name):
            headers[name] = _header(environ, name)
    for key, value in environ.items():
        if key.startswith("HTTP_X_AMZ_"):
            headers[key[5:].lower().replace("_", "-")] = value
    signer = _VerifyHmacV1(Credentials(identity.access_key, identity.secret_key, identity.session_token), date)
    split = urlsplit(_url(environ, False))
    # S3's canonical resource names a bucket as /bucket/ (path style), however the URL ends.
    auth_path = split.path + "/" if split.path.count("/") == 1 and len(split.path) > 1 else split.path
    expected = signer.sign_string(signer.canonical_string(environ.get("REQUEST_METHOD", "GET"), split, headers,
                                                          auth_path=auth_path))
    if not _same(expected, signature):
        raise AuthFailure("signature", "signature mismatch")


def _number(value: str) -> bool:
    """Digits only (ASCII), and few enough to be a time: what ``int`` reads without trouble."""
    return value.isascii() and value.isdigit() and len(value) <= 12


def _http_date(value: str) -> float:
    """Seconds since the epoch of an HTTP date; :class:`AuthFailure` for anything unreadable."""
    parsed = parsedate_tz(value)
    try:
        seconds = float(mktime_tz(parsed)) if parsed else _unreadable(value)
    except (OverflowError, ValueError):
        return _unreadable(value)
    return seconds if 0 <= seconds < 2**33 else _unreadable(value)  # years 1970 to 2242


def _unreadable(value: str) -> float:
    raise AuthFailure("signature", f"the request date {value[:40]!r} is not a date")


def _same(expected: str, given: str) -> bool:
    """A constant-time comparison of two header values (any characters)."""
    return hmac.compare_digest(expected.encode(), given.encode())


class _VerifyHmacV1(HmacV1Auth):
    """botocore's SigV2 signer with the request's own date (or Expires) instead of now."""

    def __init__(self, credentials: Credentials, date: str) -> None:
        super().__init__(credentials)
        self._date = date

    def _get_date(self) -> str:
        return self._date


def _given_headers(self: Any, request: AWSRequest) -> HTTPHeaders:
    return request.headers


# botocore's SigV4 signers, each signing exactly the headers the request carries (the client's
# SignedHeaders) rather than choosing them as a client does.
_EXACT: dict[type, type] = {base: type(f"Verify{base.__name__}", (base,), {"headers_to_sign": _given_headers})
                            for base in (SigV4Auth, SigV4QueryAuth, S3SigV4Auth, S3SigV4QueryAuth)}


def _authorization_fields(header: str) -> dict[str, str]:
    _, _, rest = header.partition(" ")
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    return fields


def _stamp(environ: dict) -> str:
    stamp = environ.get("HTTP_X_AMZ_DATE", "")
    if stamp:
        return stamp
    return time.strftime(SIGV4_TIMESTAMP, time.gmtime(_http_date(environ["HTTP_DATE"]))) if environ.get("HTTP_DATE") else ""


def _parse_stamp(stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp, SIGV4_TIMESTAMP)))
    except ValueError:
        raise AuthFailure("signature", f"the request date {stamp!r} is not in the form 20260101T000000Z") from None


def _check_time(signed_at: float, now: float, expires: str | None) -> None:
    stamp = time.strftime(SIGV4_TIMESTAMP, time.gmtime(signed_at))
    if expires is not None:
        if not _number(expires) or not 1 <= int(expires) <= MAX_PRESIGN_SECONDS:
            raise AuthFailure("signature", "X-Amz-Expires must be a number of seconds from 1 to 604800")
        if now > signed_at + int(expires):
            raise AuthFailure("presign-expired", f"Signature expired: {stamp} is now earlier than "
                                                 f"{time.strftime(SIGV4_TIMESTAMP, time.gmtime(now - int(expires)))}")
        if signed_at - now > MAX_SKEW_SECONDS:
            raise AuthFailure("skew", f"Signature not yet current: {stamp} is still later than "
                                      f"{time.strftime(SIGV4_TIMESTAMP, time.gmtime(now + MAX_SKEW_SECONDS))}")
        return
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        limit = time.strftime(SIGV4_TIMESTAMP, time.gmtime(now - MAX_SKEW_SECONDS))
        raise AuthFailure("skew", f"Signature expired: {stamp} is now earlier than {limit} "
                                  f"({time.strftime(SIGV4_TIMESTAMP, time.gmtime(now))} - 15 min.)"
                          if signed_at < now else f"Signature not yet current: {stamp} is still later than "
                                                  f"{time.strftime(SIGV4_TIMESTAMP, time.gmtime(now + MAX_SKEW_SECONDS))}")


def _header(environ: dict, name: str) -> str:
    if name == "content-type":
        return environ.get("CONTENT_TYPE", "")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH", "")
    return environ.get("HTTP_" + name.upper().replace("-", "_"), "")


def _url(environ: dict, query: bool) -> str:
    """The URL as the client sent it: raw path, and the raw query (less the signature when presigned)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path, _, raw_query = raw.partition("?")
    if not raw_query:
        raw_query = environ.get("QUERY_STRING", "")
    if query:
        raw_query = "&".join(p for p in raw_query.split("&") if not p.startswith("X-Amz-Signature="))
    return f"http://{environ.get('HTTP_HOST', '')}{path}" + (f"?{raw_query}" if raw_query else "")

