"""Children a labstack started in sessions of their own (build shells, Lambda workers, task containers) do not
outlive it when it is killed: they are recorded under LABSTACK_HOME and ended at the next start, and nothing that
is not theirs is ever killed for a record (labstack.orphans)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from labstack import daemon

from tests.support.codebuild import buildspec, inline_project
from tests.support.roles import service_role
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for
from tests.support.webimage import push_web_image

ACCOUNT = "123456789012"  # the account of the key "test"

# Tells the test it runs (and its pid), then keeps its worker busy: an idle worker ends by itself when labstack
# dies (its stdin closes), a busy one only when its handler returns.
WORKER = """\
import os, socket, time

def handler(event, context):
    with socket.create_connection(("127.0.0.1", event["port"])) as test:
        test.sendall(str(os.getpid()).encode())
    time.sleep(300)
"""


def _alive(pid: int, started: float) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (a zombie is not alive)."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _recorded(home: Path) -> dict[int, float]:
    """The children a labstack recorded in ``home``: pid -> start time."""
    folder = home / "children"
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.exists() else []
    return {r["pid"]: r["started"] for r in records}


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("worker.py", source)
    return buffer.getvalue()


def _kill(labstack: LabstackProcess) -> None:
    """SIGKILL a labstack process: no shutdown hook runs."""
    os.kill(labstack.pid, signal.SIGKILL)
    try:
        os.waitpid(labstack.pid, 0)  # the test process started it
    except ChildProcessError:
        wait_for(lambda: not psutil.pid_exists(labstack.pid) or psutil.Process(labstack.pid).status() == psutil.STATUS_ZOMBIE)


@pytest.fixture
def bystanders() -> Iterator[list[subprocess.Popen]]:
    """Processes of this user that are nobody's children of labstack's; killed at the end."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _bystander(bystanders: list[subprocess.Popen], own_session: bool) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=own_session)
    bystanders.append(proc)
    return proc


def _hostile_records(home: Path, bystanders: list[subprocess.Popen]) -> dict[str, psutil.Process]:
    """Records a labstack did not write, or whose pid is no longer its child; returns the processes they name."""
    folder = home / "children"
    gone = subprocess.Popen(["true"])
    gone.wait()  # a labstack that is dead: the owner of the records below
    dead_owner = {"owner": gone.pid, "owner_started": 1.0}
    recycled = psutil.Process(_bystander(bystanders, own_session=True).pid)  # leads its session, as our children do
    not_a_leader = psutil.Process(_bystander(bystanders, own_session=False).pid)
    live_owner = psutil.Process(_bystander(bystanders, own_session=True).pid)
    me = psutil.Process(os.getpid())
    records: dict[str, Any] = {
        # the pid is someone else's now: its start time is not the one recorded
        "recycled": {"pid": recycled.pid, "started": recycled.create_time() - 1000.0, **dead_owner},
        # the start time is right but the process leads no group of its own: not one labstack started
        "not-a-leader": {"pid": not_a_leader.pid, "started": not_a_leader.create_time(), **dead_owner},
        # its labstack still runs (here: this test process), so it is that labstack's to end
        "live-owner": {"pid": live_owner.pid, "started": live_owner.create_time(), "owner": me.pid,
                       "owner_started": me.create_time()},
        "everyone": {"pid": -1, "started": 1.0, **dead_owner},
        "init": {"pid": 1, "started": psutil.Process(1).create_time(), **dead_owner},
        "words": {"pid": "1", "started": "now", **dead_owner},
        "list": [recycled.pid],
    }
    for name, record in records.items():
        (folder / f"{name}.json").write_text(json.dumps(record))
    (folder / "garbage.json").write_bytes(b"\x00\xff{not json")
    (folder / "huge.json").write_text(json.dumps({**records["recycled"], "pad": "x" * 100_000}))
    (folder / "link.json").symlink_to("/etc/passwd")
    return {"recycled": recycled, "not-a-leader": not_a_leader, "live-owner": live_owner}


def _busy_worker(labstack: LabstackProcess) -> int:
    """A function invoked (asynchronously) whose handler is running; the pid its worker sees as its own."""
    role = service_role(labstack.client("iam"), "worker-role", "lambda.amazonaws.com")
    lam = labstack.client("lambda")
    lam.create_function(FunctionName="busy", Runtime="python3.12", Role=role, Handler="worker.handler",
                        Code={"ZipFile": _zip(WORKER)}, Timeout=900)
    wait_for(lambda: lam.get_function(FunctionName="busy")["Configuration"]["State"] == "Active")
    with socket.create_server(("127.0.0.1", 0)) as listening:
        listening.settimeout(60)
        lam.invoke(FunctionName="busy", InvocationType="Event",
                   Payload=json.dumps({"port": listening.getsockname()[1]}).encode())
        connection, _ = listening.accept()
        with connection:
            return int(connection.recv(64))


def _group(pgid: int) -> list[psutil.Process]:
    """The processes of process group ``pgid``."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except OSError:
            pass
    return members


@pytest.mark.slow
def test_a_sandboxed_worker_of_a_killed_labstack_is_ended_with_its_sandbox(tmp_path: Path) -> None:
    """Under bubblewrap the worker runs in a pid namespace of its own, bubblewrap's process outside it; the
    recorded group is all of them, and the next start ends them all."""
    from labstack import sandbox

    try:
        sandbox.bwrap()
    except sandbox.Unavailable as exc:
        pytest.skip(f"no sandbox here: {exc}")
    home = tmp_path / "home"
    first = start_labstack(home)
    members: list[psutil.Process] = []
    try:
        _busy_worker(first)
        (leader,) = wait_for(lambda: list(_recorded(home)) or None)
        members = _group(leader)
        assert any("lambdas.worker" in " ".join(m.cmdline()) for m in members) and len(members) >= 2, members
        _kill(first)
        assert all(m.is_running() and m.status() != psutil.STATUS_ZOMBIE for m in members)
        start_labstack(home).stop()
        wait_for(lambda: not any(m.is_running() and m.status() != psutil.STATUS_ZOMBIE for m in members))
    finally:
        for member in members:
            if member.is_running():
                member.kill()
        if psutil.pid_exists(first.pid):
            first.stop()


def _sleeping_build(labstack: LabstackProcess) -> None:
    """A build in its BUILD phase, whose command is ``sleep 300``."""
    codebuild = labstack.client("codebuild")
    inline_project(codebuild, "sleeper", buildspec({"build": {"commands": ["sleep 300"]}}),
                   service_role(labstack.client("iam"), "build-role", "codebuild.amazonaws.com"))
    build = codebuild.start_build(projectName="sleeper")["build"]["id"]
    wait_for(lambda: codebuild.batch_get_builds(ids=[build])["builds"][0]["currentPhase"] == "BUILD")


def _shell(children: dict[int, float]) -> int:
    """Of recorded children, the build's shell."""
    return next(pid for pid in children if "bash" in " ".join(psutil.Process(pid).cmdline()))


def _running_task(labstack: LabstackProcess, folder: Path) -> int:
    """A task of the web image, RUNNING; the pid of its container's process."""
    iam, ecs = labstack.client("iam"), labstack.client("ecs")
    (folder / "image").mkdir()
    image = push_web_image(labstack, ACCOUNT, folder / "image")
    execution = service_role(iam, "task-execution", "ecs-tasks.amazonaws.com")
    ecs.create_cluster(clusterName="orphans")
    ecs.register_task_definition(family="web", executionRoleArn=execution, containerDefinitions=[
        {"name": "web", "image": image, "essential": True, "memory": 128, "portMappings": [{"containerPort": 8080}]}])
    arn = ecs.run_task(cluster="orphans", taskDefinition="web")["tasks"][0]["taskArn"]
    task = wait_for(lambda: (t := ecs.describe_tasks(cluster="orphans", tasks=[arn])["tasks"][0])["lastStatus"] == "RUNNING" and t)
    return int(task["containers"][0]["runtimeId"])


@pytest.mark.slow
def test_children_of_a_killed_labstack_are_ended_at_its_next_start(tmp_path: Path, bystanders: list[subprocess.Popen]) -> None:
    """A build whose command sleeps, a busy Lambda worker and a task's container survive a labstack killed with
    SIGKILL (each leads a session of its own, and no sandbox ties them to labstack: LABSTACK_BWRAP names no
    bubblewrap here); the next labstack started on the same home ends them, and kills nothing a bad or stale
    record names."""
    home = tmp_path / "home"
    first = start_labstack(home, LABSTACK_BWRAP=str(tmp_path / "no-bwrap"))
    children: dict[int, float] = {}
    try:
        worker = _busy_worker(first)
        container = _running_task(first, tmp_path)
        _sleeping_build(first)
        children = wait_for(lambda: (found := _recorded(home)) and len(found) == 3 and found)
        shell = _shell(children)
        sleeper = wait_for(lambda: [c for c in psutil.Process(shell).children(recursive=True) if c.name() == "sleep"])[0]
        assert set(children) == {shell, worker, container}
        _kill(first)
        assert all(_alive(pid, started) for pid, started in children.items()), "the children died with labstack"
        assert sleeper.is_running()
        hostile = _hostile_records(home, bystanders)

        second = start_labstack(home)
        try:
            wait_for(lambda: not any(_alive(pid, started) for pid, started in children.items()))
            wait_for(lambda: not sleeper.is_running() or sleeper.status() == psutil.STATUS_ZOMBIE)
            for name, process in hostile.items():
                assert process.is_running() and process.status() != psutil.STATUS_ZOMBIE, f"{name}: killed"
            left = sorted(p.name for p in (home / "children").iterdir())
            assert left == ["live-owner.json"], left  # the rest was read (or refused) and dropped
            assert second.client("sts").get_caller_identity()["Account"]  # and labstack serves
        finally:
            second.stop()
    finally:
        for pid, started in children.items():  # never leave them behind, whatever failed
            if _alive(pid, started):
                os.killpg(pid, signal.SIGKILL)
        if psutil.pid_exists(first.pid):
            first.stop()


def test_a_record_is_written_when_a_child_starts_and_dropped_when_it_is_reaped(tmp_path: Path) -> None:
    """The record's life follows the child's: written at start, gone once labstack has waited for it."""
    from labstack.orphans import Children

    children = Children(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                            start_new_session=True)
    children.track(proc)
    record = json.loads((tmp_path / "children" / f"{proc.pid}.json").read_text())
    assert record["pid"] == proc.pid and record["started"] == psutil.Process(proc.pid).create_time()
    assert record["owner"] == os.getpid()
    assert children.reap() == []  # its owner (this process) is alive: not ended
    assert proc.poll() is None
    proc.stdin.close()  # type: ignore[union-attr]
    proc.wait()
    wait_for(lambda: not (tmp_path / "children" / f"{proc.pid}.json").exists())


@pytest.mark.slow
def test_labstack_stop_ends_the_children_of_a_labstack_it_had_to_kill(tmp_path: Path) -> None:
    """``labstack stop`` kills a labstack that does not stop within its wait (here one frozen with SIGSTOP, so
    it cannot act on SIGTERM), and then the children it started in sessions of their own, which the kill of
    its process group does not reach."""
    home = tmp_path / "home"
    running = start_labstack(home, LABSTACK_BWRAP=str(tmp_path / "no-bwrap"))
    children: dict[int, float] = {}
    try:
        _sleeping_build(running)
        children = wait_for(lambda: _recorded(home) or None)
        shell = _shell(children)
        os.kill(running.pid, signal.SIGSTOP)
        daemon.stop(running.settings, wait=0.5)
        assert not daemon.is_labstack(running.pid)
        wait_for(lambda: not _alive(shell, children[shell]))
    finally:
        for pid, started in children.items():
            if _alive(pid, started):
                os.killpg(pid, signal.SIGKILL)
        if daemon.is_labstack(running.pid):
            os.kill(running.pid, signal.SIGKILL)
