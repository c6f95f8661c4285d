"""Who built what: catch-up acts as a role session of its own, and grading asks CloudTrail who last
changed each resource a check grades.

``lab.catch_up()`` and ``grader solve`` run the solutions through an assumed-role session named
``lab-kit-catch-up`` in the learner's own account (the role ``lab-kit-catch-up``, made on first
use). Every call they make is then recorded under that session name, by labstack as by AWS, and a
check whose resources that session created or last changed earns nothing: the learner did not
build them. Calls an AWS service makes on the learner's behalf (a pipeline starting a build, a
deployment updating a service) are recorded with the service as source and judge nobody.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from grader.backends import LabSession

CATCH_UP = "lab-kit-catch-up"  # the role and its session name
# Who commits what catch-up pushes: labstack serves git on a laptop without asking for credentials, so
# git sends none and a push's event names nobody; the commits it pushed name their committer.
COMMITTER = {"GIT_COMMITTER_NAME": CATCH_UP, "GIT_COMMITTER_EMAIL": f"{CATCH_UP}@example.com"}
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
SESSION_SECONDS = 3600  # AWS's limit for a chained role session, which catch-up within catch-up is
# Calls that only label a resource: they neither build nor change what a check grades.
LABELS_ONLY = ("TagResource", "UntagResource", "TagRole", "UntagRole", "TagPolicy", "UntagPolicy",
               "PutBucketTagging", "DeleteBucketTagging", "AddTagsToResource", "RemoveTagsFromResource",
               "AddTags", "RemoveTags", "TagQueue", "UntagQueue", "TagLogGroup", "UntagLogGroup")


def is_catch_up(session: LabSession) -> bool:
    """True when ``session`` already acts as catch-up's role session."""
    arn = str(session.client("sts").get_caller_identity()["Arn"])
    return ":assumed-role/" in arn and arn.rsplit("/", 1)[-1] == CATCH_UP


def catch_up_session(session: LabSession) -> LabSession:
    """A session in ``session``'s account acting as catch-up's role session (the role is made on first
    use, trusting the account, with AWS's AdministratorAccess). LocalStack's backend keeps the learner's
    own session: labstack cannot verify keys LocalStack issues, and records no calls made there."""
    if session.backend.name == "localstack" or is_catch_up(session):
        return session
    iam, account = session.client("iam"), session.account
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    try:
        iam.get_role(RoleName=CATCH_UP)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        iam.create_role(RoleName=CATCH_UP, AssumeRolePolicyDocument=json.dumps(trust),
                        Description="The CI/CD Lab Kit's catch-up: builds earlier labs from their solutions",
                        Tags=[{"Key": "lab-kit:owner", "Value": account}])
        iam.attach_role_policy(RoleName=CATCH_UP, PolicyArn=ADMINISTRATOR)
    creds = session.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{CATCH_UP}",
                                              RoleSessionName=CATCH_UP, DurationSeconds=SESSION_SECONDS)["Credentials"]
    return LabSession(session.backend, boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], region_name=session.region))


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


def _events(session: LabSession, resource: str) -> Iterator[dict[str, Any]]:
    """CloudTrail's events naming ``resource``, newest first, every page."""
    trail = session.client("cloudtrail")
    request: dict[str, Any] = {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource}]}
    while True:
        page = trail.lookup_events(**request)
        yield from page.get("Events", [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _changes(event: dict[str, Any]) -> bool:
    """True for a successful call by a person (not a service on their behalf) that builds or changes."""
    record = json.loads(event.get("CloudTrailEvent") or "{}")
    return (str(record.get("readOnly", event.get("ReadOnly", "true"))).lower() != "true"
            and not record.get("errorCode")
            and not str(record.get("sourceIPAddress", "")).endswith(".amazonaws.com")
            and event.get("EventName") not in LABELS_ONLY)


def _head_committed_by_catch_up(session: LabSession, repository: str) -> bool:
    """True when the head of ``repository``'s default branch was committed by catch-up."""
    codecommit = session.client("codecommit")
    try:
        branch = codecommit.get_repository(repositoryName=repository)["repositoryMetadata"].get("defaultBranch")
        head = codecommit.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"]
        return codecommit.get_commit(repositoryName=repository, commitId=head)["commit"]["committer"]["name"] == CATCH_UP
    except (ClientError, KeyError, TypeError):
        return False


def _by_catch_up(session: LabSession, event: dict[str, Any]) -> bool:
    """True when catch-up's role session made ``event`` (for a push that names nobody: committed it)."""
    record = json.loads(event.get("CloudTrailEvent") or "{}")
    identity = record.get("userIdentity", {})
    if event.get("EventName") == "GitPush" and identity.get("type") == "Unknown":
        return _head_committed_by_catch_up(session, str(record.get("requestParameters", {}).get("repositoryName")))
    return identity.get("type") == "AssumedRole" and str(identity.get("arn", "")).rsplit("/", 1)[-1] == CATCH_UP


def last_change(session: LabSession, resource: str) -> Change | None:
    """The latest call that created or changed ``resource`` (by name), or None when none is recorded."""
    latest = max((e for e in _events(session, resource) if _changes(e)), key=lambda e: e["EventTime"], default=None)
    if latest is None:
        return None
    return Change(resource, str(latest["EventName"]), latest["EventTime"], _by_catch_up(session, latest))


def built_by_catch_up(session: LabSession, resources: list[str]) -> list[Change]:
    """The changes among the latest of each of ``resources`` that catch-up made. CloudTrail that does
    not answer (another backend, no permission) leaves the judgement to the checks alone."""
    try:
        changes = [last_change(session, name) for name in resources]
    except (ClientError, BotoCoreError):
        return []
    return [c for c in changes if c is not None and c.by_catch_up]
