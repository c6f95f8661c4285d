"""Each lab's stated time is the estimate of grader.effort for its notebook as it is now: a task added or
removed changes the model's figure, and this test asks for the title to follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import effort, notebooks

LABS_WITH_ESTIMATES = (1, 2, 3, 4, 5, 6)  # the labs whose title states grader.effort's estimate


@pytest.mark.parametrize("number", LABS_WITH_ESTIMATES)
def test_the_stated_time_is_the_models_estimate(number: int) -> None:
    notebook = notebooks.solution(number)
    stated = effort.stated(notebook)
    assert stated is not None
    assert (stated.low, stated.high) == effort.effort(notebook).minutes(stated.run_seconds)
    assert abs(stated.middle - (stated.low + stated.high) / 2) <= 5


def test_one_more_call_to_write_is_counted(tmp_path: Path) -> None:
    content = json.loads(notebooks.solution(1).read_text())
    before = effort.effort(notebooks.solution(1))
    cell = next(c for c in content["cells"] if "### END SOLUTION" in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace("### END SOLUTION", "iam.tag_role(RoleName='x', Tags=[])\n### END SOLUTION")
    longer = tmp_path / "longer.ipynb"
    longer.write_text(json.dumps(content))
    after = effort.effort(longer)
    assert (after.calls, after.other_lines) == (before.calls + 1, before.other_lines)
