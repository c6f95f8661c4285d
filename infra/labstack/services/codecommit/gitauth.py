"""Who is at the other end of a git request in class mode, and whether they may reach the repository.

Git over HTTP asks for credentials only when the server answers 401 with a ``Basic`` challenge;
it then sends them as HTTP Basic auth. CodeCommit accepts two kinds, and so does labstack:

- the AWS CLI's credential helper (``aws codecommit credential-helper``): the user name is the
  access key id (with ``%`` and the session token for temporary credentials), the password
  ``<timestamp>Z<signature>``, a SigV4 signature by the secret key of the request ``GIT <path>``
  to the host (without port), for service ``codecommit`` in the repository's region. labstack
  recomputes it with botocore's signer and refuses a timestamp further from its clock than AWS
  allows (``signatures.MAX_SKEW_SECONDS``);
- IAM's HTTPS Git credentials (``CreateServiceSpecificCredential`` for ``codecommit.amazonaws.com``):
  ``<user>-at-<account>`` and the generated password, while the credential is Active.

The local GitHub takes the helper's password too (signed for any region), or an access key id and
its secret access key as user name and password. No credentials: 401 with the challenge; wrong
ones: 403; a valid caller of another account than the repository's: 403 (the instructor reaches
every account, as ``OrganizationAccountAccessRole`` would let them).
"""

from __future__ import annotations

import base64
import calendar
import functools
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from labstack.keyring import Identity
from labstack.services.iam.provider import IamServiceCredentials
from labstack.services.iam.service_credentials import CODECOMMIT
from labstack.signatures import MAX_SKEW_SECONDS

if TYPE_CHECKING:
    from labstack.instance import Labstack

_HELPER_STAMP = "%Y%m%dT%H%M%S"  # the helper's timestamp, before its "Z"


@dataclass(frozen=True)
class GitCaller:
    """Whoever a git request's credentials prove: an account, and whether it is the instructor."""

    account: str
    name: str
    instructor: bool = False
    identity: Identity | None = None  # the key's holder, when an access key signed
    iam_user: str | None = None  # the IAM user, when HTTPS Git credentials were sent

    def may_reach(self, account: str | None) -> bool:
        """Whether this caller may read and write a repository of ``account`` (None: nobody's yet)."""
        return account is None or self.instructor or account == self.account


class Refusal(Exception):
    """A git request refused: 401 (credentials needed; git asks its helper) or 403 (wrong or not allowed)."""

    def __init__(self, status: int, message: str, realm: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.realm = realm

    def respond(self, start_response: Callable[..., Any]) -> list[bytes]:
        """Answer with the refusal as plain text (git prints nothing of it but the status)."""
        body = (self.message + "\n").encode()
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        if self.status == 401:
            headers.append(("WWW-Authenticate", f'Basic realm="{self.realm}"'))
        start_response("401 Unauthorized" if self.status == 401 else "403 Forbidden", headers)
        return [body]


def basic_credentials(environ: dict) -> tuple[str, str] | None:
    """(user name, password) of an ``Authorization: Basic`` header; None if there is none or it is unreadable."""
    scheme, _, encoded = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def authenticate(labstack: "Labstack", environ: dict, realm: str, repo_path: str, regions: Iterable[str], *,
                 git_credentials: bool = False, key_pairs: bool = False) -> GitCaller:
    """The caller a git request's Basic credentials prove, or :class:`Refusal`.

    ``repo_path`` is the repository's URL path (what the helper signed) and ``regions`` the regions it
    may have signed for; ``git_credentials`` accepts IAM's HTTPS Git credentials, ``key_pairs`` an
    access key id and secret access key.
    """
    given = basic_credentials(environ)
    if given is None:
        accepted = ["the AWS CLI's credential helper (`aws codecommit credential-helper get --ignore-host-check`, "
                    "with credential.UseHttpPath true)"]
        accepted += ["HTTPS Git credentials from IAM"] if git_credentials else []
        accepted += ["your access key id and secret access key"] if key_pairs else []
        raise Refusal(401, f"Git needs credentials for this labstack: {', or '.join(accepted)}", realm)
    user, password = given
    issuer = next((p for p in labstack.providers if isinstance(p, IamServiceCredentials)), None)
    if git_credentials and issuer is not None and "-at-" in user:
        credential = issuer.store.verify(CODECOMMIT, user, password)
        if credential is not None:
            return GitCaller(credential.account, f"{credential.user}-at-{credential.account}", iam_user=credential.user)
    identity = _key_holder(labstack, user)
    if identity is not None:
        if _helper_password_valid(identity, password, environ.get("HTTP_HOST", ""), repo_path, regions):
            return GitCaller(identity.account, identity.name, identity.instructor, identity)
        if key_pairs and hmac.compare_digest(password.encode(), identity.secret_key.encode()):
            return GitCaller(identity.account, identity.name, identity.instructor, identity)
    raise Refusal(403, "The credentials git sent are not valid for this labstack")


def _key_holder(labstack: "Labstack", user: str) -> Identity | None:
    """The active, unexpired identity of ``<key id>`` or ``<key id>%<session token>`` (the helper's user name)."""
    access_key, _, token = user.partition("%")
    identity = labstack.keyring.lookup(access_key) if access_key else None
    if identity is None or not identity.active or identity.expired():
        return None
    if identity.session_token is not None and not hmac.compare_digest(token.encode(), identity.session_token.encode()):
        return None
    if identity.session_token is None and token:
        return None
    return identity


def _helper_password_valid(identity: Identity, password: str, host: str, repo_path: str, regions: Iterable[str]) -> bool:
    """Whether ``password`` is what ``aws codecommit credential-helper`` makes with this identity's keys
    for ``repo_path`` on ``host``, signed for one of ``regions`` within the allowed clock skew."""
    stamp, z, signature = password.partition("Z")
    if not z or len(signature) != 64:
        return False
    try:
        signed_at = calendar.timegm(time.strptime(stamp, _HELPER_STAMP))
    except ValueError:
        return False
    if abs(time.time() - signed_at) > MAX_SKEW_SECONDS:
        return False
    hostname = host.split(":")[0]  # the helper signs the host without its port
    canonical = f"GIT\n{repo_path}\n\nhost:{hostname}\n\nhost\n"  # the helper's canonical request
    request = AWSRequest(method="GIT", url=f"http://{host}{repo_path}")
    request.context["timestamp"] = stamp
    credentials = Credentials(identity.access_key, identity.secret_key, identity.session_token)
    matched = False
    for region in regions:
        signer = SigV4Auth(credentials, "codecommit", region)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        matched = hmac.compare_digest(expected.encode(), signature.encode()) or matched
    return matched


@functools.lru_cache(maxsize=1)
def all_regions() -> tuple[str, ...]:
    """Every region CodeCommit has (botocore's endpoint data): what a helper may sign for off AWS's hosts."""
    return tuple(botocore.session.get_session().get_available_regions("codecommit"))
