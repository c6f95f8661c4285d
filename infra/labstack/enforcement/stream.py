"""The policy stream: every decision on an IAM principal's call, per account and principal.

The console lists it per principal (action, resource, decision, the statement that decided), and
``labstack iam suggest ROLE`` writes the least-privilege policy of what a role used. Bounded: each
principal keeps its latest ``PER_PRINCIPAL`` decisions, each account its latest ``PER_ACCOUNT``
principals; emptied by labstack's reset.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from typing import Any

PER_PRINCIPAL = 2000
PER_ACCOUNT = 200


@dataclass(frozen=True)
class Entry:
    """One decision: who asked for what, and what decided it."""

    time: float
    principal: str  # the caller's ARN (a role session's ARN)
    role: str | None  # a session's role ARN (what ``suggest`` groups by)
    action: str
    resource: str
    decision: str  # allowed | explicitDeny | implicitDeny
    enforced: bool  # False in LABSTACK_IAM=report: a denial was let through
    explanation: str
    source: str  # the API call: "codebuild.StartBuild"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class PolicyStream:
    """Decisions per account and principal, safe to use from any thread."""

    def __init__(self, per_principal: int = PER_PRINCIPAL, per_account: int = PER_ACCOUNT) -> None:
        self._lock = threading.Lock()
        self._per_principal = per_principal
        self._per_account = per_account
        self._accounts: dict[str, OrderedDict[str, deque[Entry]]] = {}

    def add(self, account: str, entry: Entry) -> None:
        with self._lock:
            principals = self._accounts.setdefault(account, OrderedDict())
            found = principals.get(entry.principal)
            if found is None:
                found = principals[entry.principal] = deque(maxlen=self._per_principal)
                while len(principals) > self._per_account:
                    principals.popitem(last=False)
            else:
                principals.move_to_end(entry.principal)
            found.append(entry)

    def record(self, account: str, **fields: Any) -> None:
        """Add one decision (the fields of :class:`Entry` but ``time``)."""
        self.add(account, Entry(time=time.time(), **fields))

    def principals(self, account: str) -> list[str]:
        """The principals with decisions in ``account``, most recent last."""
        with self._lock:
            return list(self._accounts.get(account, {}))

    def entries(self, account: str, principal: str | None = None, role: str | None = None) -> list[Entry]:
        """The decisions of one principal, of every session of one role, or of the whole account, oldest first."""
        with self._lock:
            groups = list(self._accounts.get(account, {}).values())
            found = [e for group in groups for e in group
                     if (principal is None or e.principal == principal) and (role is None or e.role == role)]
        return sorted(found, key=lambda e: e.time)

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()
