"""The seam to moto (``labstack.motobridge``): nothing else imports or patches moto, every patch is
named and fits the installed moto, an untested moto stops labstack at start, and EventBridge delivers
to the pipelines of the labstack whose request fired a rule, with none lost under concurrent PutEvents.

EventBridge sends an event that matches a rule's pattern to each of the rule's targets (up to five):
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import os
import re
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labstack import daemon
from labstack.config import Settings
from labstack.motobridge import PATCHES, SUPPORTED_MOTO, Patch, UNTESTED_ENV, installed_moto, patch_misfits
from labstack.ports import free_port
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.support.codepipeline import PipelineLab, action, s3_source, stage
from tests.support.inprocess import serving
from tests.support.responses import check_responses
from tests.support.server import CHECK_SHAPES, LabstackProcess, server_env

ROOT = Path(__file__).resolve().parents[1]
SEAM = ROOT / "infra" / "labstack" / "motobridge.py"
# Where labstack's code and the code that drives it live. (bench/ runs moto itself, as a reference.)
SCANNED = (ROOT / "infra" / "labstack", ROOT / "grader", ROOT / "tests")
MODULE = re.compile(r"moto(\.\w+)+")  # a moto module's dotted name
# How moto's per-account, per-region stores are reached: the seam's accessors (public before issue 21)
# and moto's BackendDict method. Anything that has one of them can call any backend method it likes.
SEAM_ACCESSORS = frozenset({"backends", "loaded_backends"})
BACKEND_DICT_METHOD = "iter_backends"


def moto_uses(source: str) -> list[str]:
    """What in ``source`` touches moto outside the seam: an import of moto, a moto module's dotted name as a
    string (``importlib``, ``sys.modules``), an assignment to the class of an object (``type(x).a = ...``,
    ``x.__class__.a = ...``, ``setattr(type(x), ...)``), the way a patch would reach a moto class it was
    handed without importing it, or a private name of the seam (``motobridge._backends``, however the seam
    was imported or named) or moto's backend dicts (``backends``, ``iter_backends``), the way a runtime
    would call moto's backends instead of the seam's function for what it does."""
    tree = ast.parse(source)
    seam = _seam_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").rpartition(".")[2] == "motobridge":
            found += [f"line {node.lineno}: imports the seam's {a.name}" for a in node.names if _seam_only(a.name)]
        elif isinstance(node, ast.Attribute) and (node.attr == BACKEND_DICT_METHOD
                                                  or (_seam_only(node.attr) and _is_seam(node.value, seam))):
            found.append(f"line {node.lineno}: uses {node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) > 1 and _is_seam(node.args[0], seam) and isinstance(node.args[1], ast.Constant)
              and _seam_only(str(node.args[1].value))):
            found.append(f"line {node.lineno}: getattr of the seam's {node.args[1].value}")
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "moto"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "moto" and node.level == 0:
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE.fullmatch(node.value):
            found.append(f"line {node.lineno}: names module {node.value!r}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"line {node.lineno}: assigns to a class's attribute" for t in targets if _on_a_class(t)]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
              and node.args and _a_class(node.args[0])):
            found.append(f"line {node.lineno}: setattr on a class")
    return found


def _seam_only(name: str) -> bool:
    """A name of the seam no other module may use: a private one, or a backend dict's accessor."""
    return name in SEAM_ACCESSORS or (name.startswith("_") and not name.startswith("__"))


def _seam_names(tree: ast.AST) -> set[str]:
    """The names ``tree`` gives the seam module (``motobridge``, ``seam`` in ``import ... as seam``)."""
    names = {"motobridge"}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.asname for a in node.names if a.asname and a.name.rpartition(".")[2] == "motobridge"}
    return names


def _is_seam(node: ast.AST, seam: set[str]) -> bool:
    return ((isinstance(node, ast.Name) and node.id in seam)
            or (isinstance(node, ast.Attribute) and node.attr == "motobridge"))


def _a_class(node: ast.AST) -> bool:
    return ((isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type")
            or (isinstance(node, ast.Attribute) and node.attr == "__class__"))


def _on_a_class(target: ast.AST) -> bool:
    return isinstance(target, ast.Attribute) and _a_class(target.value)


def test_the_scan_finds_every_way_of_touching_moto() -> None:
    """The scan below is only as good as what it recognises: each of these is found."""
    hostile = "\n".join([
        "import moto", "import moto.s3.models as m", "from moto.events.models import Rule",
        "importlib.import_module('moto.iam.models')", "sys.modules.get('moto.core.base_backend')",
        "type(rule).send_to_targets = deliver", "rule.__class__.send_to_targets = deliver",
        "setattr(type(bucket), '__init__', init)",
        # moto's backends reached through the seam instead of a function of it named for what it does
        "from labstack.motobridge import _backends", "from labstack.motobridge import loaded_backends",
        "motobridge._loaded_backends('ecs')", "labstack.motobridge.backends('iam')",
        "import labstack.motobridge as seam", "seam._backends('ecr')", "getattr(motobridge, '_backends')('sns')",
        "for account, region, backend in alarms.iter_backends(): pass",
    ])
    assert len(moto_uses(hostile)) == 15
    assert moto_uses("from labstack import motobridge\nrule.targets = []\nlog.info('moto failed')\n"
                     "from labstack.motobridge import ecs_services\nmotobridge.cloudwatch_alarms()\n"
                     "self._backends()\nmotobridge.__name__\n") == []


def test_no_module_but_the_seam_imports_moto_or_patches_it() -> None:
    offenders = {}
    for root in SCANNED:
        for path in sorted(root.rglob("*.py")):
            if path == SEAM or ".venv" in path.parts:
                continue
            uses = moto_uses(path.read_text(encoding="utf-8"))
            if uses:
                offenders[str(path.relative_to(ROOT))] = uses
    assert offenders == {}, f"only {SEAM.relative_to(ROOT)} may import or patch moto: {offenders}"


def test_every_patch_says_what_why_and_against_which_moto_and_fits_the_installed_moto() -> None:
    names = [patch.name for patch in PATCHES]
    assert len(names) == len(set(names))
    for patch in PATCHES:
        assert patch.why and patch.checked and patch.group
        assert all(Version(version) in SpecifierSet(SUPPORTED_MOTO) for version in patch.checked), patch.name
    assert patch_misfits() == []
    misfit = Patch("misfit", "moto.events.models:Rule", ("send_to_targets", "no_such"), "labstack.motobridge:PATCHES",
                   "events", "a patch moto has moved on from")
    assert patch_misfits([misfit]) == ["misfit: moto.events.models:Rule has no no_such",
                                       "misfit: labstack.motobridge:PATCHES is not a function"]


@pytest.mark.skipif(os.environ.get(UNTESTED_ENV) == "1", reason="the newest-moto lane runs a moto nobody checked yet")
def test_the_installed_moto_is_one_every_patch_was_checked_against() -> None:
    assert all(installed_moto() in patch.checked for patch in PATCHES)


def test_pyproject_states_the_supported_moto_range() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    moto = [Requirement(d) for d in dependencies if Requirement(d).name == "moto"]
    assert [(r.extras, r.specifier) for r in moto] == [({"server"}, SpecifierSet(SUPPORTED_MOTO))]


# --- the version guard -----------------------------------------------------------------------------

def _fake_moto(where: Path, version: str) -> str:
    """A directory whose ``moto`` distribution metadata says ``version``; first on PYTHONPATH, it is the
    moto Python finds (the code imported stays the installed one)."""
    info = where / f"moto-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: moto\nVersion: {version}\n")
    return str(where)


@pytest.mark.slow
def test_an_untested_moto_stops_labstack_at_start_unless_the_lane_lets_it(tmp_path: Path) -> None:
    fake = _fake_moto(tmp_path / "site", "99.0.0")
    path = server_env()["PYTHONPATH"]
    settings = Settings(port=free_port(), home=tmp_path / "refused")
    with pytest.raises(daemon.DaemonError) as refused:
        daemon.start(settings, wait=60, env=server_env(PYTHONPATH=f"{fake}:{path}", **{UNTESTED_ENV: ""}))
    message = str(refused.value)
    assert "exited with status 2" in message
    assert f"moto 99.0.0 is installed, but labstack is tested with moto{SUPPORTED_MOTO} only" in message
    assert UNTESTED_ENV in message
    # The newest-moto lane's escape hatch: it starts, says so in its log, and serves.
    settings = Settings(port=free_port(), home=tmp_path / "lane")
    daemon.start(settings, wait=60, env=server_env(PYTHONPATH=f"{fake}:{path}", **{UNTESTED_ENV: "1"}))
    server = LabstackProcess(settings, 0)
    try:
        assert server.client("sqs").create_queue(QueueName="works")["QueueUrl"]
        assert "moto 99.0.0 is installed" in settings.log_file.read_text()
    finally:
        server.stop()


# --- EventBridge targets per labstack ---------------------------------------------------------------

@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LabstackProcess]]:
    """Two labstacks served from threads of this process (they share moto's backends, as any two
    labstacks of one process do)."""
    with contextlib.ExitStack() as stack:
        servers = []
        for name in ("first", "second"):
            settings = Settings(port=free_port(), home=tmp_path_factory.mktemp(f"seam-{name}"),
                                check_shapes=CHECK_SHAPES == "1")
            stack.enter_context(serving(settings))
            servers.append(LabstackProcess(settings, 0))
        yield servers


def _pipeline(lab: PipelineLab, name: str) -> None:
    lab.source({"app.txt": "v1"})
    lab.create(name, stage("Source", s3_source(lab.sources)),
               stage("Deploy", action("Site", "Deploy", "S3", {"BucketName": lab.bucket, "Extract": "true",
                                                               "ObjectKey": name}, inputs=("src",))))


def _by_rule(lab: PipelineLab, name: str) -> list[dict[str, Any]]:
    found = lab.codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    return [e for e in found if e["trigger"]["triggerType"] == "CloudWatchEvent"]


def _settle(lab: PipelineLab, name: str) -> None:
    """Wait until every execution of the pipeline has ended (none outlives the test's labstacks)."""
    for execution in _by_rule(lab, name):
        lab.wait(name, execution["pipelineExecutionId"])


def _rule(lab: PipelineLab, rule: str, source: str, targets: list[dict[str, Any]]) -> None:
    events = lab.client("events")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=targets)


@pytest.mark.slow
def test_a_rule_fired_through_one_labstack_starts_that_labstacks_pipeline_only(two: list[LabstackProcess]) -> None:
    first = PipelineLab(two[0])
    second = copy.copy(first)  # the same account, roles and buckets (moto's), another labstack's pipelines
    second.server = two[1]
    second.codepipeline = check_responses(two[1].client("codepipeline", account=first.account))
    for lab in (first, second):
        _pipeline(lab, "shared-name")
    arn = f"arn:aws:codepipeline:us-east-1:{first.account}:shared-name"
    _rule(first, "release", "my.app", [{"Id": "p", "Arn": arn, "RoleArn": first.role}])
    # A rule delivers to a pipeline while PutEvents is answered: once it has been, all is said.
    for asked, started in ((first, (1, 0)), (second, (1, 1)), (first, (2, 1))):
        answer = asked.client("events").put_events(Entries=[{"Source": "my.app", "DetailType": "go", "Detail": "{}"}])
        assert answer["FailedEntryCount"] == 0
        assert (len(_by_rule(first, "shared-name")), len(_by_rule(second, "shared-name"))) == started
    for lab in (first, second):
        _settle(lab, "shared-name")


@pytest.mark.slow
def test_concurrent_put_events_reach_every_target_of_a_mixed_rule(two: list[LabstackProcess]) -> None:
    lab = PipelineLab(two[0])
    _pipeline(lab, "busy")
    sqs = lab.client("sqs")
    queue = sqs.create_queue(QueueName="told")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pipeline = f"arn:aws:codepipeline:us-east-1:{lab.account}:busy"
    _rule(lab, "busy-rule", "busy.app", [{"Id": "p", "Arn": pipeline, "RoleArn": lab.role}, {"Id": "q", "Arn": queue_arn}])
    count = 16
    errors: list[BaseException] = []

    def put(n: int) -> None:
        try:
            answer = lab.client("events").put_events(
                Entries=[{"Source": "busy.app", "DetailType": "go", "Detail": json.dumps({"n": n})}])
            assert answer["FailedEntryCount"] == 0
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    told: set[int] = set()
    for _ in range(40):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            told.add(json.loads(message["Body"])["detail"]["n"])
        if len(told) == count:
            break
    assert told == set(range(count))  # moto's target got every event, once each
    lab.wait_for_executions("busy", count + 1)
    assert len(_by_rule(lab, "busy")) == count  # and labstack's target too
    # The shared rule still has both targets: no delivery changed it.
    assert {t["Id"] for t in lab.client("events").list_targets_by_rule(Rule="busy-rule")["Targets"]} == {"p", "q"}
    _settle(lab, "busy")
