"""CodePipeline V2 trigger filters read their glob patterns as AWS documents them:
https://docs.aws.amazon.com/codepipeline/latest/userguide/syntax-glob.html (every rule and example of
that page is a row below) and
https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html (filters on branches,
tags and file paths of a push)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstack.services.codepipeline.globs import matches
from tests.support.codepipeline import PipelineLab
from tests.support.gitcli import commit, git, new_work_tree
from tests.test_codepipeline_triggers import github_pipeline

pytest_plugins = ["tests.support.codepipeline_fixtures"]

# (pattern, text, whether it matches): the page's examples, then one or more rows per rule
DOCUMENTED = [
    ("*.java", "Main.java", True),
    ("*.java", "Main.class", False),
    ("*.*", "notes.txt", True),
    ("*.*", "Makefile", False),
    ("*.{java,class}", "Main.class", True),
    ("*.{java,class}", "Main.java", True),
    ("*.{java,class}", "Main.jar", False),
    ("foo.?", "foo.c", True),
    ("foo.?", "foo.cc", False),
    # * is zero or more characters of one name component
    ("src/*", "src/app.py", True),
    ("src/*.py", "src/a/b.py", False),
    ("*", "a/b", False),
    # ** is zero or more characters crossing directory boundaries
    ("**", "a/b/c.txt", True),
    ("**/*.{py,txt}", "a/b/c.py", True),
    ("**/*.{py,txt}", "notes.txt", True),
    ("**/*.{py,txt}", "a/b/c.md", False),
    ("**.py", "deep/down/x.py", True),
    ("src**", "src/a/b", True),
    ("src**", "srcery", True),
    # ? is one character of a name component
    ("v?.0", "v1.0", True),
    ("v?.0", "v10.0", False),
    ("a?b", "a/b", False),
    # \ escapes a special character
    (r"a\*b", "a*b", True),
    (r"a\*b", "axxb", False),
    (r"file\?", "file?", True),
    (r"file\?", "filex", False),
    (r"\{a,b\}", "{a,b}", True),
    (r"\{a,b\}", "a", False),
    # [ ] is one character out of a set; ! negates; - at the start (or after !) is itself
    ("release-[0-9]*", "release-12", True),
    ("release-[0-9]*", "release-x", False),
    ("[!a]x", "bx", True),
    ("[!a]x", "ax", False),
    ("[-a]x", "-x", True),
    ("[!-a]x", "-x", False),
    ("[a-c]", "/", False),
    # inside brackets *, ? and \ are themselves
    ("[*?]", "*", True),
    ("[*?]", "?", True),
    ("[*?]", "a", False),
    ("[\\]", "\\", True),
    # a file in the root, one in a subdirectory, all files, everything under a directory, its files only
    ("my-file.jar", "my-file.jar", True),
    ("my-file.jar", "lib/my-file.jar", False),
    ("directory/subdirectory/my-file.jar", "directory/subdirectory/my-file.jar", True),
    ("directory/**", "directory/a/b/c", True),
    ("directory/*", "directory/a", True),
    ("directory/*", "directory/a/b", False),
    # { } is a group of sub-patterns separated by ","
    ("{src,test}/**", "test/unit/a.py", True),
    ("{src,test}/**", "docs/a.md", False),
    ("{main}", "main", True),
    ("release-{1..3}", "release-1..3", True),  # a sub-pattern, not a sequence
    ("release-{1..3}", "release-2", False),
    ("{a,b", "{a,b", True),  # an unclosed brace is itself
]


@pytest.mark.parametrize(("pattern", "text", "expected"), DOCUMENTED)
def test_each_documented_rule(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


def test_a_pattern_of_too_many_braces_matches_nothing_and_is_quick() -> None:
    """Braces expand multiplicatively: 40 two-way groups would be 2**40 patterns. Such a pattern
    (AWS allows 255 characters) is refused by the expansion limit and matches nothing."""
    assert matches("{a,b}" * 40, "a" * 40) is False
    assert matches("{a,b}" * 3, "aba") is True


def test_push_filters_with_brackets_and_braces_start_the_pipeline(lab: PipelineLab, tmp_path: Path) -> None:
    """A push to a branch that ``release-[0-9]*`` matches, changing a file that ``**/*.{py,txt}``
    matches, starts the pipeline; a branch or file that the patterns do not match does not.
    https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html"""
    repo = f"org{lab.account}/globs"
    url = f"{lab.server.endpoint}/github/{repo}.git"
    work = new_work_tree(tmp_path / "work", {"README.md": "hi"})
    for branch in ("main", "release-x", "release-2"):
        git(work, "push", "--quiet", url, f"HEAD:{branch}")
    push = [{"branches": {"includes": ["release-[0-9]*"]}, "filePaths": {"includes": ["**/*.{py,txt}"]}}]
    trigger = {"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Code", "push": push}}
    github_pipeline(lab, "globs", repo, pipelineType="V2", triggers=[trigger])
    commit(work, {"docs/guide.md": "words"}, "docs only")
    git(work, "push", "--quiet", url, "HEAD:release-2")
    wanted = commit(work, {"notes.txt": "a note"}, "a text file at the root")
    git(work, "push", "--quiet", url, "HEAD:release-2")
    started = lab.wait_for_executions("globs", 2)
    assert len(started) == 2 and started[0]["trigger"]["triggerType"] == "WebhookV2"
    assert lab.wait("globs", started[0]["pipelineExecutionId"])["artifactRevisions"][0]["revisionId"] == wanted
    commit(work, {"src/app/main.py": "print(1)"}, "code on a branch the filter does not name")
    git(work, "push", "--quiet", url, "HEAD:release-x")
    nested = commit(work, {"src/app/util.py": "x = 1"}, "a python file two directories down")
    git(work, "push", "--quiet", url, "HEAD:release-2")
    found = lab.wait_for_executions("globs", 3)
    assert len(found) == 3
    assert lab.wait("globs", found[0]["pipelineExecutionId"])["artifactRevisions"][0]["revisionId"] == nested
