"""Class mode: a learner's request may not name another learner's account.

moto resolves an ARN in whatever account the ARN names (an SNS topic, an event bus, an alarm's
action), and labstack's own engines follow ARNs and image URIs too (a rule's pipeline target, a task
definition's image). AWS lets such calls through only where a resource policy of the other account
grants them; labstack evaluates none yet, so in class mode a request that names an account other
than the caller's, in an ARN, an ECR image URI or a ``registryId``, is refused before anything runs.
"""

from __future__ import annotations

import io
import re
from urllib.parse import unquote_plus

from labstack.errors import JSON, REST_JSON, AwsError
from labstack.keyring import Identity

_NAMED_ACCOUNTS = (
    re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):"),  # any ARN with an account
    re.compile(r"(\d{12})\.dkr\.ecr\."),  # an ECR image URI
    re.compile(r"""["']?registryId["']?\s*[:=]\s*["']?(\d{12})"""),  # ECR's registryId (JSON, or a query)
)
# Services whose requests may rightly name other accounts: IAM (trust and resource policies are the
# account's own documents), STS (AssumeRole checks the role's trust policy itself, services/sts), and
# S3 (its bodies are learners' files; another account's bucket already answers AccessDenied), and
# CloudFormation (a template is the learner's file; the engine makes, reads and resolves everything with calls
# signed as the learner or the stack's role, which this check refuses in turn, and a role of another account is
# refused as AWS refuses it).
_EXEMPT = frozenset({"iam", "sts", "s3", "cloudformation"})
MAX_SCANNED = 2 * 1024 * 1024


def check(environ: dict, service: str | None, account: str, identity: Identity, protocol: str) -> None:
    """Raise AccessDenied when the request names an account other than ``account`` (class mode; the
    instructor and labstack's own engines may)."""
    if identity.instructor or identity.internal or service in _EXEMPT:
        return
    stream = environ.get("wsgi.input")
    body = stream.getvalue()[:MAX_SCANNED] if isinstance(stream, io.BytesIO) else b""
    where = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    text = "\n".join((unquote_plus(where), unquote_plus(environ.get("QUERY_STRING", "")),
                      unquote_plus(body.decode("utf-8", "replace"))))
    for pattern in _NAMED_ACCOUNTS:
        for found in pattern.finditer(text):
            if found.group(1) != account:
                code = "AccessDeniedException" if protocol in (JSON, REST_JSON) else "AccessDenied"
                raise AwsError(code, f"User: arn:aws:iam::{account}:root is not authorized to act on a resource of "
                                     f"account {found.group(1)}: this labstack serves a class, and accounts are "
                                     "kept apart", 403)
