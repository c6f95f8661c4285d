"""How ``make test`` spreads the suite over xdist workers with ``--dist loadgroup`` (a plugin of
tests/conftest.py): a module at a time, as ``--dist loadfile`` does, except that the modules whose
``pytestmark`` holds one ``pytest.mark.xdist_group(name)`` run on one worker, one after another in collection
order. So modules that share a costly per-process fixture (an account catch-up built through lab 6) build it
once, not once a worker.

xdist groups by a suffix its workers add to each test's node id, which pytest 9.2 no longer lets them change
(https://github.com/pytest-dev/pytest-xdist/issues/1386): grouped tests are then spread test by test. So the
controller reads the mark from the module's source itself; a suffix, where xdist still adds one, wins."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest
from xdist.scheduler import LoadGroupScheduling


@cache
def module_group(path: Path) -> str | None:
    """The name in the first ``xdist_group(name)`` mark the module at ``path`` declares, if any."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "xdist_group"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            return node.args[0].value
    return None


class ModulesAndGroups(LoadGroupScheduling):
    """xdist's loadgroup scheduling by whole modules, a module's ``xdist_group`` naming the unit it goes in."""

    def _split_scope(self, nodeid: str) -> str:
        """The group of a grouped test, else the test's module."""
        scope = super()._split_scope(nodeid)
        if scope != nodeid:  # xdist's own suffix
            return scope
        module = nodeid.split("::", 1)[0]
        group = module_group(self.config.rootpath / module)
        return f"group:{group}" if group else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> ModulesAndGroups | None:
    """:class:`ModulesAndGroups` for ``--dist loadgroup``; xdist's own schedulers otherwise."""
    return ModulesAndGroups(config, log) if config.getvalue("dist") == "loadgroup" else None
