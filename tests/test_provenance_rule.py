"""Which change decides who built a resource (grader.provenance), on CloudTrail events as labstack and
AWS record them: the latest by a person or by catch-up, passing over services, labels, runs (unless the
check grades runs), other services' resources of the same name, and catch-up of later labs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from grader import checks, provenance, scoring

ACCOUNT = "123456789012"
LEARNER = f"arn:aws:iam::{ACCOUNT}:root"
START = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def catch_up(lab: int) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{provenance.role_name(lab)}/{provenance.CATCH_UP}"


def event(minute: int, name: str, who: str, source: str = "codebuild", read_only: bool = False,
          error: str | None = None, ip: str = "127.0.0.1") -> dict:
    identity = {"type": "AssumedRole" if ":assumed-role/" in who else "Root", "arn": who}
    record = {"eventName": name, "readOnly": read_only, "userIdentity": identity, "sourceIPAddress": ip,
              **({"errorCode": error} if error else {})}
    return {"EventName": name, "EventTime": START + timedelta(minutes=minute), "EventSource": f"{source}.amazonaws.com",
            "ReadOnly": str(read_only).lower(), "CloudTrailEvent": json.dumps(record)}


class Recorded(provenance.History):
    """A history whose events are given, newest first as LookupEvents returns them."""

    def __init__(self, events: list[dict]) -> None:
        self._named = {"cicd-lab-build": sorted(events, key=lambda e: e["EventTime"], reverse=True)}


def decides(events: list[dict], lab: int = 2, runs: bool = False, source: str = "codebuild") -> tuple[str, bool] | None:
    change = provenance.last_change(Recorded(events), "cicd-lab-build", lab, source, runs)
    return None if change is None else (change.event, change.by_catch_up)


def test_the_latest_change_decides() -> None:
    assert decides([event(0, "CreateProject", catch_up(2)), event(5, "UpdateProject", LEARNER)]) == ("UpdateProject", False)
    assert decides([event(0, "CreateProject", LEARNER), event(5, "UpdateProject", catch_up(2))]) == ("UpdateProject", True)
    assert decides([]) is None


def test_reads_failures_services_and_labels_decide_nothing() -> None:
    built = event(0, "CreateProject", catch_up(2))
    assert decides([built, event(1, "BatchGetProjects", LEARNER, read_only=True),
                    event(2, "UpdateProject", LEARNER, error="InvalidInputException"),
                    event(3, "UpdateProject", LEARNER, ip="codepipeline.amazonaws.com"),
                    event(4, "TagResource", LEARNER)]) == ("CreateProject", True)


def test_running_what_catch_up_built_counts_only_for_checks_of_runs() -> None:
    history = [event(0, "CreateProject", catch_up(2)), event(5, "StartBuild", LEARNER)]
    assert decides(history) == ("CreateProject", True)  # the project's settings: catch-up's
    assert decides(history, runs=True) == ("StartBuild", False)  # a build that ran: the learner's


def test_a_resource_of_another_service_with_the_same_name_decides_nothing() -> None:
    assert decides([event(0, "CreateProject", catch_up(2)), event(5, "CreateLogGroup", LEARNER, source="logs")]) == (
        "CreateProject", True)


def test_catch_up_of_a_later_lab_is_passed_over_unless_it_did_everything() -> None:
    assert decides([event(0, "CreateProject", LEARNER), event(5, "UpdateProject", catch_up(4))]) == ("CreateProject", False)
    assert decides([event(0, "CreateProject", catch_up(1)), event(5, "UpdateProject", catch_up(4))]) == ("CreateProject", True)
    assert decides([event(0, "CreateProject", catch_up(4))]) == ("CreateProject", True)


def test_only_catch_up_s_own_roles_are_catch_up() -> None:
    assert provenance.built_lab(catch_up(3)) == 3
    for other in (f"arn:aws:sts::{ACCOUNT}:assumed-role/{provenance.CATCH_UP}-lab03/someone-else",
                  f"arn:aws:sts::{ACCOUNT}:assumed-role/my-lab-kit-catch-up-lab03/{provenance.CATCH_UP}x", LEARNER):
        assert provenance.built_lab(other) is None


def test_every_resource_a_check_grades_is_judged_by_its_own_service() -> None:
    used = {key for n in checks.lab_numbers() for c in checks.lab_module(n).CHECKS for key in c.uses}
    assert used <= set(scoring.SOURCES)


# The resources of earlier labs that a lab's own tasks change (the push of lab 04, the approval stage and
# its role's policy of lab 05, the group's alarm and the fix forward of lab 06): its checks may name them.
CHANGED_FROM_EARLIER = {4: {"repository"}, 5: {"pipeline", "pipeline_role"}, 6: {"deployment_group", "pipeline", "repository"}}


def test_a_lab_s_checks_name_its_own_resources_and_only_the_earlier_ones_it_changes() -> None:
    """A check naming an earlier lab's resource its own lab leaves alone would lose its points whenever
    catch-up rebuilt that earlier lab; each such name is deliberate and listed above."""
    context = SimpleNamespace(account=ACCOUNT, region="us-east-1")
    earlier: set[str] = set()
    for number in checks.lab_numbers():
        module = checks.lab_module(number)
        used = {key for c in module.CHECKS for key in c.uses}
        assert used & earlier == CHANGED_FROM_EARLIER.get(number, set()), number
        earlier |= set(module.names(context))
