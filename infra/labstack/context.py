"""Who is asking, where: the account, region and service of one request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from labstack import motobridge
from labstack.config import DEFAULT_REGION
from labstack.errors import AwsError, new_request_id

DEFAULT_ACCOUNT = "123456789012"  # moto's default, so ARNs from labstack and moto agree
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")


@dataclass(frozen=True)
class Credential:
    """The parts of a SigV4 credential scope labstack uses."""

    access_key: str
    region: str
    service: str


@dataclass
class RequestContext:
    """Per-request facts handed to providers."""

    account: str
    region: str
    service: str | None = None
    access_key: str | None = None
    operation: str | None = None
    request_id: str = field(default_factory=new_request_id)
    host: str | None = None  # the Host header: how this client reaches labstack (for URLs handed back)

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region.startswith("cn-") else "aws"

    def arn(self, service: str, resource: str) -> str:
        """An ARN in this request's account and region."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


def credential_from(environ: dict) -> Credential | None:
    """The SigV4 credential of a request (header or presigned query), None if unsigned.

    Raises ``IncompleteSignature`` when an Authorization header is present but unreadable.
    """
    auth = environ.get("HTTP_AUTHORIZATION")
    if auth and auth.startswith("AWS ") and ":" in auth:  # S3's older signature (SigV2)
        return Credential(auth[4:].partition(":")[0].strip(), DEFAULT_REGION, "s3")
    if auth:
        match = _CREDENTIAL.search(auth)
        if not auth.startswith("AWS4-HMAC-SHA256 ") or match is None or "Signature=" not in auth:
            raise AwsError(
                "IncompleteSignature",
                "Authorization header must be AWS4-HMAC-SHA256 with Credential=<key>/<date>/<region>/<service>/aws4_request, "
                "SignedHeaders and Signature",
                400,
            )
        return _checked(Credential(match.group(1), match.group(3), match.group(4)))
    query = environ.get("QUERY_STRING", "")
    if "AWSAccessKeyId=" in query and "Signature=" in query:  # an S3 URL presigned with SigV2
        key = parse_qs(query).get("AWSAccessKeyId", [""])[0]
        if key:
            return Credential(key, DEFAULT_REGION, "s3")
    if "X-Amz-Credential" in query:
        scope = parse_qs(query).get("X-Amz-Credential", [""])[0].split("/")
        if len(scope) == 5:
            return _checked(Credential(scope[0], scope[2], scope[3]))
    return None


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _checked(credential: Credential) -> Credential:
    """A credential whose region and service are names AWS could have signed (they become folder names
    and pick the service): ``IncompleteSignature`` otherwise."""
    if not _REGION.match(credential.region) or not _SERVICE.match(credential.service):
        raise AwsError("IncompleteSignature", f"the credential scope's region {credential.region!r} and service "
                                              f"{credential.service!r} must be lowercase AWS names", 400)
    return credential


def account_for(access_key: str | None, default: str = DEFAULT_ACCOUNT) -> str:
    """The account an access key id belongs to.

    A 12-digit key id names its account (LocalStack's convention, so one labstack can
    serve many learners); keys that IAM or STS issued belong to their account (moto's
    rule); anything else is the ``default`` account (moto's, or LocalStack's upstream).
    """
    if not access_key:
        return default
    if len(access_key) == 12 and access_key.isdigit():
        return access_key
    found = motobridge.key_account(access_key)
    return default if found is None or found == DEFAULT_ACCOUNT else found


def context_for(environ: dict, credential: Credential | None, default_account: str = DEFAULT_ACCOUNT,
                known_account: str | None = None) -> RequestContext:
    """Build the request context from the environ and its (optional) credential; a key that
    names no account acts in ``default_account``. ``known_account`` is the account of a key
    labstack knows (a learner's, or one it issued), which wins over the key id's reading."""
    host = environ.get("HTTP_HOST") or None
    if credential is None:
        return RequestContext(account=default_account, region=DEFAULT_REGION, host=host)
    return RequestContext(
        account=known_account or account_for(credential.access_key, default_account),
        region=credential.region or DEFAULT_REGION,
        service=credential.service,
        access_key=credential.access_key,
        host=host,
    )
