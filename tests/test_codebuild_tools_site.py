"""The kit's build tools a build's Python sees: their closure and the site of links to them."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from labstack.services.codebuild import environment


def test_the_closure_of_a_tool_holds_its_requirements_and_nothing_else() -> None:
    closure = environment.tool_distributions(["PyTest"])
    assert {"pytest", "pluggy", "iniconfig", "packaging"} <= set(closure)
    assert "nbgrader" not in closure and "pytest-xdist" not in closure
    assert "pytest" in closure and "no-such-dist" not in environment.tool_distributions(["no_such.dist", "pytest"])


def test_builds_starting_together_share_one_whole_tools_site(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        sites = set(pool.map(lambda _: environment.tools_site(tmp_path), range(4)))
    assert len(sites) == 1
    site = sites.pop()
    assert [p.name for p in (tmp_path / "tools-site").iterdir()] == [site.name]  # no draft left behind
    assert all(link.exists() for link in site.iterdir())
    assert {"pytest", "_pytest", "coverage", "bandit", "boto3", "pip", "setuptools"} <= {p.name for p in site.iterdir()}
    assert not (site / "nbgrader").exists() and not (site / "xdist").exists()
    assert environment.tools_site(tmp_path) == site


def test_a_build_python_sees_the_tools_site_and_its_own_installs(tmp_path: Path) -> None:
    bin_dir = environment.build_python(tmp_path / "build", environment.tools_site(tmp_path))
    probe = "import pytest, importlib.util as u; print(pytest.__file__, u.find_spec('nbgrader'))"
    out = subprocess.run([bin_dir / "python3", "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.startswith(str(tmp_path / "tools-site")) and out.endswith(" None\n")
    listed = subprocess.run([bin_dir / "pip", "list"], capture_output=True, text=True, check=True).stdout
    assert "pytest" in listed and "nbgrader" not in listed


def test_a_distribution_without_a_record_is_found_by_its_top_level_names(tmp_path: Path) -> None:
    info = tmp_path / "Lab_Tool-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-tool\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("lab_tool\n_lab_tool_speedups\n")
    for name in ("lab_tool", "_lab_tool_speedups.cpython-311-x86_64-linux-gnu.so", "other.py", "other-2.0.dist-info"):
        (tmp_path / name).touch()
    entries = environment._site_entries(metadata.PathDistribution(info))
    assert entries == {"Lab_Tool-1.0.dist-info", "lab_tool", "_lab_tool_speedups.cpython-311-x86_64-linux-gnu.so"}
