"""TemplateURL: where in S3 a template lives, and reading it.

CloudFormation reads templates from Amazon S3 only; the URL names the bucket and key in one of S3's
forms (virtual-hosted ``https://bucket.s3.amazonaws.com/key``, regional ``bucket.s3.REGION.amazonaws.com``
or ``bucket.s3-REGION.amazonaws.com``, path style ``https://s3.amazonaws.com/bucket/key`` and its regional
forms): https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError

from labstack.services.cloudformation.template import URL_LIMIT, TemplateError

_VIRTUAL = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")
_PATH = re.compile(r"^s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")


def s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of a TemplateURL; AWS's ValidationError for a URL that is not an S3 object's."""
    refused = TemplateError("TemplateURL must be a supported URL.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise refused from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise refused
    path = unquote(parts.path.lstrip("/"))
    virtual = _VIRTUAL.match(host)
    if virtual:
        bucket, key = virtual.group("bucket"), path
    elif _PATH.match(host):
        bucket, _, key = path.partition("/")
    else:
        raise refused
    if not bucket or not key:
        raise refused
    return bucket, key


def read(s3: Any, url: str) -> str:
    """The template text at ``url``, read with ``s3`` (a client signed as whoever reads it)."""
    bucket, key = s3_location(url)
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "403"):
            raise TemplateError(f"Access Denied: S3 error: Access Denied reading {url}") from None
        raise TemplateError(f"S3 error: The specified key does not exist. (TemplateURL {url})") from None
    body = answer["Body"].read(URL_LIMIT + 1)
    if len(body) > URL_LIMIT:
        raise TemplateError(f"Template may not exceed {URL_LIMIT} bytes in size.")
    return body.decode("utf-8", "replace")
