"""Who holds which key: the learners file, the temporary keys labstack hands out, and moto's IAM/STS keys.

In class mode (``labstack serve --learners FILE``) every AWS request must be signed by a key
this ring knows, and the key's identity decides the account. Builds, tasks, functions and
labstack's own engines get temporary keys with a session token, as STS hands them out.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass

from labstack import motobridge
from labstack.learners import Learner

TEMPORARY_SECONDS = 12 * 3600  # as long as the longest role session AWS allows
MAX_RETIRED = 100_000  # ended temporary keys remembered, so they are refused rather than read as a root key
INTERNAL = "labstack"  # the name of the keys labstack's own engines call with
_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class Identity:
    """The holder of one access key."""

    access_key: str
    secret_key: str
    account: str
    name: str  # the learner, "instructor", or what labstack issued the key to
    session_token: str | None = None
    expires: float | None = None  # epoch seconds; None for long-term keys
    instructor: bool = False
    active: bool = True
    role_arn: str | None = None  # a role session labstack issued for a service acting as the role
    session_name: str | None = None

    @property
    def session_arn(self) -> str | None:
        """``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` for a role session labstack issued, else None."""
        if self.role_arn is None:
            return None
        partition, account = self.role_arn.split(":")[1], self.role_arn.split(":")[4]
        return f"arn:{partition}:sts::{account}:assumed-role/{self.role_arn.rpartition('/')[2]}/{self.session_name}"

    @property
    def internal(self) -> bool:
        """True for the keys labstack's own engines use (never handed to learner code)."""
        return self.name == INTERNAL and self.session_token is not None and self.expires is None

    def environment(self) -> dict[str, str]:
        """The variables that hand these credentials to a process (AWS_ACCESS_KEY_ID…)."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def expired(self, now: float | None = None) -> bool:
        return self.expires is not None and (now or time.time()) >= self.expires


class KeyRing:
    """Every key labstack can verify, safe to use from any thread."""

    def __init__(self, learners: list[Learner] | None = None) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Identity] = {}
        self._internal: dict[str, Identity] = {}
        self._retired: dict[str, None] = {}  # temporary keys that ended (revoked or expired), oldest first
        for row in learners or ():
            self._keys[row.access_key_id] = Identity(row.access_key_id, row.secret_access_key, row.account_id,
                                                     row.learner, instructor=row.instructor)
        self.learners = {identity.account: identity for identity in self._keys.values()}

    @property
    def instructor(self) -> Identity | None:
        return next((i for i in self.learners.values() if i.instructor), None)

    def learner(self, access_key: str) -> Identity | None:
        """The learner (or instructor) whose long-term key this is; None for any other key."""
        found = self._keys.get(access_key)
        return found if found is not None and found.session_token is None else None

    def lookup(self, access_key: str) -> Identity | None:
        """The identity of ``access_key``: a learner's, one labstack issued, or one moto's IAM/STS issued."""
        with self._lock:
            found = self._keys.get(access_key)
        if found is not None:
            return found
        issued = motobridge.issued_key(access_key)
        if issued is None:
            return None
        account, secret, token, active, expires = issued
        return Identity(access_key, secret, account, "iam", token, expires, active=active)

    def issue(self, account: str, name: str, seconds: float | None = TEMPORARY_SECONDS, *,
              role_arn: str | None = None, session_name: str | None = None) -> Identity:
        """New temporary credentials in ``account`` (an ``ASIA`` key id, a secret and a session token),
        valid for ``seconds`` (None: until labstack stops); with ``role_arn`` they are a session of that
        role (``session_name``), as a service gets when it assumes its service role."""
        identity = Identity("ASIA" + "".join(secrets.choice(_ALPHABET) for _ in range(16)), secrets.token_urlsafe(30),
                            account, name, secrets.token_urlsafe(48), None if seconds is None else time.time() + seconds,
                            role_arn=role_arn, session_name=session_name or (name.replace(":", "-")[:64] if role_arn else None))
        with self._lock:
            self._drop_expired()
            self._keys[identity.access_key] = identity
        return identity

    def internal(self, account: str) -> Identity:
        """The credentials labstack's own engines use in ``account`` (made once; they never expire, as its
        clients keep them)."""
        with self._lock:
            found = self._internal.get(account)
        if found is not None:
            return found
        identity = self.issue(account, INTERNAL, seconds=None)
        with self._lock:
            return self._internal.setdefault(account, identity)

    def revoke(self, access_key: str) -> None:
        """Forget temporary credentials (a build or task that ended); they are refused from now on."""
        with self._lock:
            found = self._keys.get(access_key)
            if found is not None and found.session_token is not None:
                del self._keys[access_key]
                self._retire(access_key)

    def retired(self, access_key: str) -> bool:
        """True for temporary keys labstack issued that were revoked or expired."""
        with self._lock:
            return access_key in self._retired

    def _retire(self, access_key: str) -> None:
        self._retired[access_key] = None
        while len(self._retired) > MAX_RETIRED:
            del self._retired[next(iter(self._retired))]

    def _drop_expired(self) -> None:
        now = time.time()
        for key in [k for k, v in self._keys.items() if v.expired(now)]:
            del self._keys[key]
            self._retire(key)
