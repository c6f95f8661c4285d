"""The console's IAM pages: the policy stream of an account (each principal, every action it used,
on which resource, with the decision and what decided it) and a role's least-privilege policy.

Read from labstack's policy stream (``labstack.enforcement.stream``), in the one account the request
names: in class mode labstack pins that to the learner's own (the instructor may name any)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from labstack.console.views import Where
from labstack.enforcement.stream import Entry
from labstack.enforcement.suggest import role_entries, suggest

CALLS = 500  # distinct (action, resource, decision, explanation) rows a principal's page lists, latest first


def stream(labstack: Any, where: Where) -> dict[str, Any]:
    """Every principal with decisions in the account, latest first: its role, how many calls, how many
    denied (and of those, let through in ``report`` mode), and when last."""
    by_principal: dict[str, list[Entry]] = {}
    for entry in labstack.policy_stream.entries(where.account):
        by_principal.setdefault(entry.principal, []).append(entry)
    found = [{"principal": arn, "role": entries[-1].role, "calls": len(entries),
              "denied": sum(e.decision != "allowed" for e in entries),
              "reported": sum(e.decision != "allowed" and not e.enforced for e in entries),
              "lastCall": _iso(entries[-1].time)} for arn, entries in by_principal.items()]
    found.sort(key=lambda p: p["lastCall"], reverse=True)
    return {"account": where.account, "principals": found}


def principal(labstack: Any, where: Where, arn: str) -> dict[str, Any]:
    """One principal's actions (each action, resource and decision once, with how often and when last),
    and, for a role's session, the least-privilege policy of everything that role's sessions used."""
    entries = labstack.policy_stream.entries(where.account, principal=arn)
    if not entries:
        raise LookupError(f"no call of {arn} is in the policy stream of {where.account}")
    calls = _grouped(entries)
    role = entries[-1].role
    answer: dict[str, Any] = {"principal": arn, "role": role, "calls": calls[:CALLS], "total": len(calls)}
    if role is not None:
        answer["suggestion"] = suggestion(labstack, where, role)
    return answer


def suggestion(labstack: Any, where: Where, role: str) -> dict[str, Any]:
    """The least-privilege policy of role ``role`` (its name or ARN) from its sessions' calls."""
    arn, entries = role_entries(labstack.policy_stream, where.account, role)
    if arn is None:
        raise LookupError(f"no session of role {role} made a call in {where.account} since labstack started or was reset")
    return suggest(arn, entries).as_dict()


def _grouped(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (entry.action, entry.resource, entry.decision, entry.explanation)
        row = rows.pop(key, None) or {"action": entry.action, "resource": entry.resource, "decision": entry.decision,
                                       "explanation": entry.explanation, "count": 0, "sources": []}
        row["count"] += 1
        row["lastCall"] = _iso(entry.time)
        row["enforced"] = entry.enforced
        if entry.source not in row["sources"]:
            row["sources"].append(entry.source)
        rows[key] = row  # re-inserted: the dict ends with the latest use
    return list(reversed(rows.values()))


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()
