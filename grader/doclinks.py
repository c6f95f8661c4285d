"""Documentation links for the calls a lab task needs, built from botocore's own service models.

Each task of a lab ends with a line such as::

    📖 [`kms.create_key`](boto3 reference) · [CreateKey](AWS API reference) · ...

:func:`docs_line` writes it: the boto3 page of each client method (boto3's reference URL scheme) and
the AWS API reference page of its operation, through AWS's stable ``goto/WebAPI/<uid>/<Operation>``
address (the one botocore's own documentation links to), so no URL is typed by hand and a renamed
or misspelt method fails at once. :func:`broken_links` checks the links a notebook holds the same way.
User-guide pages (concepts, not calls) are added by hand after the line.
"""

from __future__ import annotations

import re
from functools import cache

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import ServiceModel

BOTO3 = "https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services/{service}/client/{method}.html"
WEB_API = "https://docs.aws.amazon.com/goto/WebAPI/{uid}/{operation}"
_BOTO3_LINK = re.compile(r"https://boto3\.amazonaws\.com/v1/documentation/api/latest/reference/services/"
                         r"(?P<service>[\w-]+)/client/(?P<method>\w+)\.html")
_WEB_API_LINK = re.compile(r"https://docs\.aws\.amazon\.com/goto/WebAPI/(?P<uid>[\w.-]+?-\d{4}-\d{2}-\d{2})/(?P<operation>\w+)")


class UnknownCall(ValueError):
    """A service or client method that boto3 does not have."""


@cache
def _model(service: str) -> ServiceModel:
    try:
        return botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        raise UnknownCall(f"boto3 has no service {service!r}") from None


@cache
def _operations(service: str) -> dict[str, str]:
    """Client method name -> operation name, for ``service``."""
    from botocore import xform_name

    return {xform_name(op): op for op in _model(service).operation_names}


def call_links(call: str) -> str:
    """``"kms.create_key"`` -> the markdown links to its boto3 page and its AWS API reference page."""
    service, _, method = call.partition(".")
    operation = _operations(service).get(method)
    if operation is None:
        raise UnknownCall(f"the boto3 client {service!r} has no method {method!r}")
    boto3 = BOTO3.format(service=service, method=method)
    api = WEB_API.format(uid=_model(service).metadata["uid"], operation=operation)
    return f"[`{call}`]({boto3}) ([{operation}]({api}))"


def docs_line(*calls: str) -> str:
    """The "📖" line of a task: the links of each call (``"service.method"``), in order."""
    return "📖 " + " · ".join(call_links(call) for call in calls)


def broken_links(text: str) -> list[str]:
    """The boto3 and AWS API reference links in ``text`` that name no real client method or operation.

    An API reference link's uid is looked up among the services the text's boto3 links name (and the
    service its uid starts with), not among all of botocore's: loading every model takes seconds."""
    broken, uids = [], {}
    for link in _BOTO3_LINK.finditer(text):
        try:
            if link["method"] not in _operations(link["service"]):
                broken.append(link[0])
            uids[_model(link["service"]).metadata.get("uid", "")] = link["service"]
        except UnknownCall:
            broken.append(link[0])
    for link in _WEB_API_LINK.finditer(text):
        service = uids.get(link["uid"]) or link["uid"].rsplit("-", 3)[0]
        try:
            known = _model(service).metadata.get("uid") == link["uid"] and link["operation"] in _operations(service).values()
        except UnknownCall:
            known = False
        if not known:
            broken.append(link[0])
    return broken
