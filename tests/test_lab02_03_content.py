"""Labs 02 and 03's notebooks agree with their checks (every check graded once, in the right kind of
block, for the points its cell is worth), give nothing away once released, and keep the names that
labs 04–06 build on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grader import checks, grading, notebooks
from grader.checks import lab02, lab03
from tests.support.grading import graded_cells
from tests.test_lab01_content import called, sources

GIVEAWAYS = {
    2: ("create_repository(", "put_role_policy(", "create_project(", "start_build(", '["testCases"]',
        "startFromHead=True)[", '"IMAGE_TAG"]', 'Decimal("0.08")\'))', '"reports-recorded"',
        '"is not authorized to perform" in line', "PolicyName=names.login_policy", '"build-role-least-privilege"'),
    3: ("create_stack(", 'SMOKE_TEST_SOURCE = """', "status=status)", "create_deployment_group(",
        'git("apply"', "register_task_definition(", "create_deployment(", "def new_version_share(", '"group-role"',
        "set_test_url(BROKEN_TEST_URL)", '["rollbackDeploymentId"]', '"smoke-test-restored"'),
}
TASKS = {2: 10, 3: 9}  # solution cells, each a `raise NotImplementedError()` for the learner
POINTS = {2: 29, 3: 28}


@pytest.mark.parametrize("number", sorted(GIVEAWAYS))
def test_each_graded_cell_is_worth_the_points_of_the_checks_it_calls(number: int) -> None:
    by_id = {c.id: c for c in checks.lab_module(number).CHECKS}
    seen: list[str] = []
    for grade_id, cell in graded_cells(notebooks.solution(number)).items():
        source = "".join(cell["source"])
        visible = called(grading.HIDDEN_TESTS.sub("", source))
        hidden = called("".join(grading.HIDDEN_TESTS.findall(source)))
        assert visible and not any(by_id[i].hidden for i in visible), grade_id
        assert all(by_id[i].hidden for i in hidden), grade_id
        assert cell["metadata"]["nbgrader"]["points"] == sum(by_id[i].points for i in visible + hidden), grade_id
        seen += visible + hidden
    assert sorted(seen) == sorted(by_id)  # every check graded, none twice
    assert sum(c.points for c in by_id.values()) == POINTS[number]


@pytest.mark.parametrize("number", sorted(GIVEAWAYS))
def test_the_released_lab_holds_no_solution_and_no_hidden_test(number: int) -> None:
    giveaways = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", *GIVEAWAYS[number])
    assert [g for g in giveaways if g not in sources(notebooks.solution(number))] == []
    released = sources(notebooks.released(number))
    assert [g for g in giveaways if g in released] == []
    assert released.count("raise NotImplementedError()") == TASKS[number]
    assert all(c["metadata"]["nbgrader"]["locked"] for c in graded_cells(notebooks.released(number)).values())


@pytest.mark.parametrize("number", sorted(GIVEAWAYS))
def test_the_lab_catches_up_waits_under_a_bar_and_says_where_labstack_differs(number: int) -> None:
    source = sources(notebooks.solution(number))
    assert f"lab = grader.Lab({number})" in source and "lab.catch_up()" in source
    assert "Estimated time" in source and "labstack vs AWS" in source and "Where labstack differed from AWS" in source
    assert "time.sleep(" not in source and ("lab.wait(" in source or "views.watch_" in source)  # waits show a bar


def test_the_names_later_labs_build_on() -> None:
    session = SimpleNamespace(account="123456789012", region="us-east-1")  # names need no call to a backend
    two, three = lab02.names(session), lab03.names(session)
    assert (two["ecr_repository"], two["project"], two["repository_uri"]) == (
        "sample-app", "cicd-lab-build", "123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app")
    assert {k: three[k] for k in ("stack", "cluster", "service", "application", "group", "smoke_test")} == {
        "stack": "sample-app-base", "cluster": "sample-app", "service": "sample-app", "application": "sample-app",
        "group": "production", "smoke_test": "sample-app-smoke-test"}
    assert two.items() <= three.items()


def test_the_smoke_test_is_the_hook_the_app_names() -> None:
    appspec = (notebooks.ROOT / "infra" / "sample-app" / "appspec.yaml").read_text()
    assert f'AfterAllowTestTraffic: "{lab03.SMOKE_TEST}"' in appspec
    assert lab03.HOOK == "AfterAllowTestTraffic"
