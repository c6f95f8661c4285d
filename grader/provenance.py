"""Who built what: catch-up acts as a role session of its own, and grading asks CloudTrail who last
changed each resource a check grades.

``lab.catch_up()`` and ``grader solve`` build lab k from its solution as an assumed-role session named
``lab-kit-catch-up`` of the role ``lab-kit-catch-up-labNN`` (made on first use) in the learner's own
account. Every call it makes is then recorded under that session, by labstack as by AWS, with the lab
it was building. A check of lab N earns nothing when catch-up building lab N or an earlier one made
the last change to a resource it grades: the learner did not build it. Changes catch-up made while
building a *later* lab (lab 04's catch-up updates lab 01's pipeline role) do not count against lab N;
the change before them decides. Calls an AWS service makes on the learner's behalf (a pipeline
starting a build, a deployment updating a service) are recorded with the service as source and judge
nobody.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from grader.backends import LabSession

CATCH_UP = "lab-kit-catch-up"  # the session name, and the start of each lab's role name
_ROLE = re.compile(rf":assumed-role/{CATCH_UP}-lab(\d+)/{CATCH_UP}$")
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
SESSION_SECONDS = 3600  # AWS's limit for a chained role session, which catch-up within catch-up is
# Calls that run a resource rather than configure it: a build, an execution, a deployment, an approval.
RUNS = re.compile(r"^(?:Start|Stop|Retry|Rollback|Invoke|RunTask|PutApprovalResult|CreateDeployment|ContinueDeployment)")
# Calls that only label a resource: they neither build nor change what a check grades.
LABELS_ONLY = ("TagResource", "UntagResource", "TagRole", "UntagRole", "TagPolicy", "UntagPolicy",
               "PutBucketTagging", "DeleteBucketTagging", "AddTagsToResource", "RemoveTagsFromResource",
               "AddTags", "RemoveTags", "TagQueue", "UntagQueue", "TagLogGroup", "UntagLogGroup")


def role_name(lab: int) -> str:
    """The role catch-up assumes to build ``lab``."""
    return f"{CATCH_UP}-lab{lab:02d}"


def built_lab(arn: str) -> int | None:
    """The lab catch-up was building when it called as ``arn`` (an assumed role's), or None: not catch-up."""
    found = _ROLE.search(arn)
    return int(found.group(1)) if found else None


def is_catch_up(session: LabSession) -> bool:
    """True when ``session`` already acts as one of catch-up's role sessions."""
    return built_lab(str(session.client("sts").get_caller_identity()["Arn"])) is not None


def catch_up_session(session: LabSession, lab: int) -> LabSession:
    """A session in ``session``'s account acting as catch-up building ``lab`` (its role is made on first
    use, trusting the account, with AWS's AdministratorAccess). LocalStack's backend keeps the learner's
    own session: labstack cannot verify keys LocalStack issues, and records no calls made there."""
    if session.backend.name == "localstack" or is_catch_up(session):
        return session
    iam, account, role = session.client("iam"), session.account, role_name(lab)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    try:
        iam.get_role(RoleName=role)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust),
                        Description=f"The CI/CD Lab Kit's catch-up: builds lab {lab:02d} from its solution",
                        Tags=[{"Key": "lab-kit:owner", "Value": account}])
        iam.attach_role_policy(RoleName=role, PolicyArn=ADMINISTRATOR)
    creds = session.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                              RoleSessionName=CATCH_UP, DurationSeconds=SESSION_SECONDS)["Credentials"]
    return LabSession(session.backend, boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], region_name=session.region))


def _asks_git_for_credentials(endpoint: str) -> bool:
    """True when the git server at ``endpoint`` asks for credentials (401) before it says whether a
    repository exists: a labstack in class mode, or one that cannot be reached (nothing is sent to it)."""
    try:
        urllib.request.urlopen(f"{endpoint.rstrip('/')}/v1/repos/{CATCH_UP}-probe/info/refs?service=git-upload-pack",
                               timeout=5).close()
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return True
    return False


def git_signs_in(session: LabSession) -> dict[str, str]:
    """Environment that makes git send ``session``'s keys with every request to a labstack that never asks
    for them (on a laptop), so a push names its caller: git sends none unasked. Nothing where the server
    asks (AWS, a class-mode labstack): the AWS CLI's credential helper then answers with a signature,
    which names the caller just as well, and a secret never travels."""
    creds = session.boto.get_credentials()
    endpoint = session.backend.endpoint_for("codecommit")
    if endpoint is None or creds is None or _asks_git_for_credentials(endpoint):
        return {}
    frozen = creds.get_frozen_credentials()
    user = frozen.access_key + (f"%{frozen.token}" if frozen.token else "")
    basic = base64.b64encode(f"{user}:{frozen.secret_key}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


@dataclass(frozen=True)
class Change:
    """The latest call that built or changed a resource, as CloudTrail recorded it."""

    resource: str
    event: str
    time: datetime
    by_catch_up: bool

    def describe(self) -> str:
        """``CreateProject at 12:01:02``: what the change was and when."""
        return f"{self.event} at {self.time:%H:%M:%S}"


class History:
    """CloudTrail's event history of one account, asked once per resource name (every page, through
    botocore's paginator) however many checks grade that resource."""

    def __init__(self, session: LabSession) -> None:
        self.session = session
        self._named: dict[str, list[dict[str, Any]]] = {}

    def naming(self, resource: str) -> list[dict[str, Any]]:
        """The events that name ``resource``."""
        if resource not in self._named:
            pages = self.session.client("cloudtrail").get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": resource}])
            self._named[resource] = [event for page in pages for event in page.get("Events", [])]
        return self._named[resource]


def _record(event: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(event.get("CloudTrailEvent") or "{}"))


def _changes(event: dict[str, Any], source: str | None, runs: bool) -> bool:
    """True for a successful call of ``source`` (any, when None) by a person, not a service on their
    behalf, that builds or changes a resource (or, with ``runs``, runs it)."""
    record = _record(event)
    name = str(event.get("EventName", ""))
    return (str(record.get("readOnly", event.get("ReadOnly", "true"))).lower() != "true"
            and not record.get("errorCode")
            and not str(record.get("sourceIPAddress", "")).endswith(".amazonaws.com")
            and name not in LABELS_ONLY and (runs or not RUNS.match(name))
            and (source is None or event.get("EventSource") == f"{source}.amazonaws.com"))


def _building(event: dict[str, Any]) -> int | None:
    """The lab catch-up was building when it made ``event``, or None when a person made it."""
    return built_lab(str(_record(event).get("userIdentity", {}).get("arn", "")))


def last_change(history: History, resource: str, lab: int, source: str | None = None,
                runs: bool = False) -> Change | None:
    """The change that decides who built ``resource`` (by name; of the service ``source``) for a check of
    ``lab`` (of its runs too, with ``runs``): the latest, passing over what catch-up did while building
    later labs. None when nothing changed it; catch-up's when only catch-up of later labs did."""
    changes = [e for e in history.naming(resource) if _changes(e, source, runs)]
    if not changes:
        return None
    earlier = [e for e in changes if (_building(e) or 0) <= lab]
    latest = max(earlier or changes, key=lambda e: e["EventTime"])
    return Change(resource, str(latest["EventName"]), latest["EventTime"], _building(latest) is not None)


def built_by_catch_up(history: History, resources: list[tuple[str, str]], lab: int,
                      runs: bool = False) -> list[Change]:
    """Of ``resources`` (name, service), the decisive changes that catch-up made (see :func:`last_change`).
    Raises :class:`Unknown` when CloudTrail does not answer."""
    try:
        changes = [last_change(history, name, lab, source, runs) for name, source in resources]
    except (ClientError, BotoCoreError) as exc:
        raise Unknown(f"who built it is not known: CloudTrail's event history did not answer ({exc})") from exc
    return [c for c in changes if c is not None and c.by_catch_up]


class Unknown(Exception):
    """CloudTrail's event history could not be read: who built a resource is not known."""
