"""The least-privilege policy of what a role used: ``labstack iam suggest ROLE`` and the console.

From the policy stream's decisions on a role's sessions (allowed or denied: a denial is what the role
still needs), the policy allows exactly the (action, resource) pairs seen:
- a statement per service and set of resources, its actions sorted, so no action gains a resource it
  was not seen on; ``*`` only for an action seen with no resource (``ecr:GetAuthorizationToken``);
- each resource as the ARN seen; a ``*`` or ``?`` in it stays a wildcard (the gate asks for a pattern
  such as ``arn:aws:s3:::bucket/*`` where a call names no single resource), a ``$`` is written ``${$}``
  so that no name becomes a policy variable;
- but a name that one run made, which the next run will not use again, ends in ``*`` instead, so the
  policy still allows the next build or deployment: a log stream (``log-group:G:log-stream:*``, as
  AWS's own examples for CodeBuild and Lambda write it), a last part holding a generated id (a
  UUID, or 16 hex digits or more: a build, a task, an execution), and an object of a pipeline's
  artifact store (CodePipeline's key: ``<pipeline, 20 characters>/<artifact, 10>/<7 random>``).
  ``notes`` names each;
- under IAM's quota for a role's inline policies (10,240 characters, white space not counted): only
  when the exact policy is larger, sibling ARNs are collapsed into their narrowest common wildcard
  (``arn:aws:s3:::bucket/builds/*``), the narrowest first, each collapse named in ``notes``.
A decision an explicit Deny made stays denied whatever this policy allows: ``notes`` says so.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labstack.enforcement.stream import Entry, PolicyStream
from labstack.iampolicy import EXPLICIT_DENY
from labstack.services.iam.documents import INLINE_POLICIES_SIZE, size

QUOTA = INLINE_POLICIES_SIZE["role"]  # IAM: all inline policies of one role together, white space not counted
VERSION = "2012-10-17"
_ESCAPES = str.maketrans({"$": "${$}"})
_SEPARATORS = re.compile(r"[:/]")
_LOG_STREAM = re.compile(r"^(arn:[^:]+:logs:[^:]*:[^:]*:log-group:.+:log-stream:).+$")
_GENERATED = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,}")
_PIPELINE_ARTIFACT = re.compile(r"^(arn:[^:]+:s3:::[^/]+/[^/]{1,20}/[^/]{1,10}/)(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]{7}$")
_LAST = re.compile(r"^(arn:[^:]+:[^:]+:[^:]*:[^:]*:.*[:/])[^:/]+$")


@dataclass(frozen=True, order=True)
class Pattern:
    """A resource as the policy names it: an exact ARN, or a prefix followed by a wildcard."""

    prefix: str
    wildcard: bool = False

    def text(self) -> str:
        """The Resource element: the ARN with ``$`` escaped, then ``*`` for a wildcard."""
        if self.prefix == "" and self.wildcard:
            return "*"
        return self.prefix.translate(_ESCAPES) + ("*" if self.wildcard else "")

    def covers(self, other: Pattern) -> bool:
        """Whether every resource ``other`` names is one this names."""
        if not self.wildcard:
            return self == other
        return other.prefix.startswith(self.prefix)


EVERY = Pattern("", wildcard=True)


@dataclass(frozen=True)
class Suggestion:
    """A least-privilege identity policy for ``role`` and what a reader should know about it."""

    role: str
    document: dict[str, Any]
    used: int  # distinct (action, resource) pairs the role's sessions asked for
    denied: int  # of those, how many were denied in the session
    notes: tuple[str, ...] = field(default_factory=tuple)
    quota: int = QUOTA

    @property
    def size(self) -> int:
        """The document's size as IAM counts it against the quota."""
        return _size(self.document)

    def text(self) -> str:
        """The document as JSON, indented for reading (white space does not count against the quota)."""
        return json.dumps(self.document, indent=2)

    def as_dict(self) -> dict[str, Any]:
        """What the console's API answers: the policy, its size and quota, the counts and the notes."""
        return {"role": self.role, "policy": self.document, "used": self.used, "denied": self.denied,
                "size": self.size, "quota": self.quota, "notes": list(self.notes)}


def role_entries(stream: PolicyStream, account: str, role: str) -> tuple[str | None, list[Entry]]:
    """The role's ARN and the decisions on its sessions in ``account``; ``role`` is its ARN or its name
    (the last part of the ARN, whatever its path). (None, []) when no session of it made a call."""
    if role.startswith("arn:"):
        return (role, found) if (found := stream.entries(account, role=role)) else (None, [])
    every = [e for e in stream.entries(account) if e.role and e.role.rpartition("/")[2] == role]
    arns = sorted({e.role for e in every if e.role})
    if len(arns) > 1:
        raise ValueError(f"{len(arns)} roles are named {role} (under different paths): name one by its ARN, "
                          + ", ".join(arns))
    return (arns[0], every) if arns else (None, [])


def suggest(role: str, entries: Iterable[Entry], quota: int = QUOTA) -> Suggestion:
    """The policy allowing exactly what ``entries`` (the decisions on ``role``'s sessions) asked for,
    collapsed to narrower wildcards only as far as ``quota`` needs."""
    uses: dict[str, dict[str, set[Pattern]]] = defaultdict(lambda: defaultdict(set))
    names: dict[str, str] = {}  # an action as first seen, by its case-insensitive key
    pairs: set[tuple[str, str]] = set()
    runs: dict[Pattern, set[str]] = {}  # a wildcard written for names that one run made
    denials: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        if entry.role != role or ":" not in entry.action:
            continue
        action = names.setdefault(entry.action.lower(), entry.action)
        pattern = _pattern(entry.resource)
        if (per_run := _per_run(pattern)) is not None:
            runs.setdefault(per_run, set()).add(entry.resource)
            pattern = per_run
        uses[action.split(":", 1)[0].lower()][action].add(pattern)
        pairs.add((action.lower(), entry.resource))
        if entry.decision != "allowed":
            denials.setdefault((action.lower(), entry.resource), entry)
    if not uses:
        raise LookupError(f"no call of {role} is in the policy stream")
    for actions in uses.values():
        for action, patterns in actions.items():
            actions[action] = _narrowest(patterns)
    notes = [f"{_count(len(seen), 'name')} one run made (e.g. {min(seen)}) written as {pattern.text()}, so that the "
             "next run is allowed too" for pattern, seen in sorted(runs.items())]
    notes += _collapse(uses, quota)
    notes += [f"{e.action} on {e.resource} was denied by an explicit Deny ({e.explanation}): no Allow overrides it"
              for e in denials.values() if e.decision == EXPLICIT_DENY]
    document = _document(uses)
    if _size(document) > quota:
        notes.append(f"the policy is {_size(document)} characters, over IAM's {quota} even with every resource "
                     "collapsed: split it into managed policies")
    return Suggestion(role, document, len(pairs), len(denials), tuple(notes), quota)


def _pattern(resource: str) -> Pattern:
    if resource in ("", "*"):
        return EVERY
    if resource.endswith("*") and not any(c in resource[:-1] for c in "*?"):
        return Pattern(resource[:-1], wildcard=True)
    return Pattern(resource)


def _per_run(pattern: Pattern) -> Pattern | None:
    """The wildcard for a name that one run made (a log stream, a generated id at its end), or None."""
    if pattern.wildcard:
        return None
    run = _LOG_STREAM.match(pattern.prefix) or _PIPELINE_ARTIFACT.match(pattern.prefix)
    if run:
        return Pattern(run.group(1), wildcard=True)
    last = _LAST.match(pattern.prefix)
    if last and _GENERATED.search(pattern.prefix[len(last.group(1)):]):
        return Pattern(last.group(1), wildcard=True)
    return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _narrowest(patterns: set[Pattern]) -> set[Pattern]:
    """``patterns`` without those another of them covers."""
    return {p for p in patterns if not any(q != p and q.covers(p) for q in patterns)}


def _document(uses: dict[str, dict[str, set[Pattern]]]) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for service in sorted(uses):
        groups: dict[frozenset[Pattern], list[str]] = defaultdict(list)
        for action, patterns in uses[service].items():
            groups[frozenset(patterns)].append(action)
        ordered = sorted((sorted(actions, key=str.lower), sorted(patterns)) for patterns, actions in groups.items())
        base = re.sub(r"[^A-Za-z0-9]", "", service.title()) or "Service"
        for index, (actions, patterns) in enumerate(ordered, start=1):
            resources = [p.text() for p in patterns]
            statements.append({"Sid": base if len(ordered) == 1 else f"{base}{index}", "Effect": "Allow",
                               "Action": _one_or_list(actions), "Resource": _one_or_list(resources)})
    return {"Version": VERSION, "Statement": statements}


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _size(document: dict[str, Any]) -> int:
    return size(json.dumps(document))


def _parents(pattern: Pattern) -> list[Pattern]:
    """The wildcards above ``pattern``, narrowest first: cut after each ``/`` or ``:`` of the ARN's
    resource part, keeping its first name (an S3 bucket; a type and a name elsewhere)."""
    parts = pattern.prefix.split(":", 5)
    if len(parts) < 6:
        return []
    head = len(pattern.prefix) - len(parts[5])
    keep = 1 if parts[2] == "s3" else 2
    found: list[Pattern] = []
    for cut in reversed([m.end() for m in _SEPARATORS.finditer(parts[5])]):
        prefix = pattern.prefix[:head + cut]
        if prefix == pattern.prefix and pattern.wildcard:
            continue
        if len([s for s in _SEPARATORS.split(parts[5][:cut]) if s]) >= keep:
            found.append(Pattern(prefix, wildcard=True))
    return found


def _collapse(uses: dict[str, dict[str, set[Pattern]]], quota: int) -> list[str]:
    """Collapse sibling resources into a common wildcard until the policy fits ``quota``: in each
    service the narrowest wildcard over two or more of its resources, of those the one saving most."""
    notes: list[str] = []
    while _size(_document(uses)) > quota:
        best: tuple[int, str, Pattern, int] | None = None
        for service, actions in uses.items():
            found = _narrowest_parent(actions)
            if found is not None and (best is None or (found[0], service) > best[:2]):
                best = (found[0], service, found[1], found[2])
        if best is None:
            break
        _, service, parent, count = best
        for action, patterns in uses[service].items():
            if any(parent.covers(p) for p in patterns):
                uses[service][action] = _narrowest({parent, *(p for p in patterns if not parent.covers(p))})
        notes.append(f"{count} {service} resources collapsed into {parent.text()} to keep the policy under "
                     f"IAM's {quota} characters")
    return notes


def _narrowest_parent(actions: dict[str, set[Pattern]]) -> tuple[int, Pattern, int] | None:
    """(characters saved, wildcard, resources it covers) for the longest wildcard over two or more of
    the resources ``actions`` name, or None."""
    under: dict[Pattern, set[Pattern]] = defaultdict(set)
    for pattern in {p for patterns in actions.values() for p in patterns}:
        for parent in _parents(pattern):
            under[parent].add(pattern)
    shared = [(len(parent.prefix), parent) for parent, children in under.items() if len(children) > 1]
    if not shared:
        return None
    _, parent = max(shared)
    saved = sum(len(p.text()) for patterns in actions.values() for p in patterns if parent.covers(p))
    return saved, parent, len(under[parent])
