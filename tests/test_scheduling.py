"""The suite's xdist scheduling (tests/support/scheduling.py), on a small suite of its own: each module
stays on one worker, and the modules that name one xdist_group share a worker."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from tests.support.server import ROOT

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow  # three xdist workers start


def test_modules_stay_whole_and_a_group_shares_one_worker(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the plugin under test: tests.support.scheduling
    grouped = 'import pytest\npytestmark = pytest.mark.xdist_group("shared")\n'
    for name, head in (("a", ""), ("b", grouped), ("c", ""), ("d", grouped), ("e", "")):
        pytester.makepyfile(**{f"test_{name}": head + "".join(f"def test_{i}():\n    pass\n" for i in range(4))})
    result = pytester.runpytest_subprocess("-p", "tests.support.scheduling", "-n", "3", "--dist", "loadgroup", "-v",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=20)
    workers: dict[str, set[str]] = defaultdict(set)
    for line in result.outlines:
        found = re.match(r"\[(gw\d)\] .*PASSED test_(\w)\.py::", line)
        if found:
            workers[found.group(2)].add(found.group(1))
    assert sorted(workers) == ["a", "b", "c", "d", "e"], result.outlines
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers  # a module on one worker
    assert workers["b"] == workers["d"], workers  # the group on one worker
