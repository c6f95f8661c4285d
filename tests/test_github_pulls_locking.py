"""A slow merge of one learner's pull request holds up nobody else: each bare repository has its own lock,
and the merge's git work runs outside even that lock (the base branch moves by compare-and-swap)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from labstack.services.codeconnections import pulls
from labstack.services.codecommit.repos import BareRepo

from tests.support.gitcli import commit, git, new_work_tree

HELD = 60  # seconds a blocked call may take before the test calls it stuck (a deadlock guard, not a timing assert)


def repo_with_branch(tmp_path: Path, name: str) -> BareRepo:
    """A bare repository with ``main`` and a ``feature`` branch one commit ahead of it."""
    bare = BareRepo(tmp_path / f"{name}.git")
    bare.init()
    work = new_work_tree(tmp_path / f"{name}-work", {"README": "hello\n"})
    git(work, "checkout", "--quiet", "-b", "feature")
    commit(work, {"feature.txt": "more\n"}, "feature")
    git(work, "push", "--quiet", str(bare.path), "main", "feature")
    return bare


def test_a_held_merge_blocks_no_pull_request_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow, other = repo_with_branch(tmp_path, "slow"), repo_with_branch(tmp_path, "other")
    pull, _ = pulls.create(slow, "alice/slow", {"title": "t", "head": "feature", "base": "main"}, "alice")
    entered, release = threading.Event(), threading.Event()
    real = pulls._merged_tree

    def held(repo: BareRepo, base: str, head: str) -> str | None:  # a merge-tree as slow as a learner can make it
        if repo.path == slow.path:
            entered.set()
            release.wait(HELD)
        return real(repo, base, head)

    monkeypatch.setattr(pulls, "_merged_tree", held)
    outcome: list[object] = []
    merging = threading.Thread(target=lambda: outcome.append(pulls.merge(slow, "alice/slow", pull.number, {}, "alice")))
    merging.start()
    try:
        assert entered.wait(HELD)
        done = threading.Event()

        def elsewhere() -> None:  # another learner's repository, and a read of the slow one
            pulls.create(other, "bob/other", {"title": "t", "head": "feature", "base": "main"}, "bob")
            assert pulls.get(slow, pull.number).state == "open"
            done.set()

        threading.Thread(target=elsewhere, daemon=True).start()
        assert done.wait(HELD), "a pull request call waited for another repository's merge"
        assert [p.title for p in pulls.listing(other)] == ["t"]
    finally:
        release.set()
        merging.join(HELD)
    merged = outcome[0][0]  # type: ignore[index]
    assert merged.merged and slow.branches()["main"] == merged.merge_commit_sha
