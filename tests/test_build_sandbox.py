"""What a build can reach: real builds on a real labstack probe the server's environment, its state,
other accounts' workspaces, the learners file and the user's home, and try to write outside their own
workspace. Each probe prints LEAK if it succeeds; the protections make them all print hidden."""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab, buildspec, inline_project, log_lines, phases, role_arn, wait_build
from tests.support.server import LabstackProcess, start_labstack

SECRET = "hunter2"
SECRET_PATTERN = "'hunt''er2'"  # the shell's word for it, which the log's "Running command" line does not spell out
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)")
pytestmark = pytest.mark.slow


def probe(what: str, command: str) -> str:
    """A shell line that prints ``LEAK <what>`` if ``command`` succeeds, ``hidden <what>`` if not."""
    return f"if {command}; then echo 'LEAK {what}'; else echo 'hidden {what}'; fi"


@pytest.fixture(scope="module")
def user_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home folder of labstack's user, with the credentials a user keeps there."""
    home = tmp_path_factory.mktemp("user-home")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(f"[default]\naws_secret_access_key = {SECRET}\n")
    return home


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, user_home: Path) -> Iterator[LabstackProcess]:
    """A laptop-mode labstack started with a secret in its environment and a user home holding credentials."""
    home = tmp_path_factory.mktemp("sandbox-home")
    started = start_labstack(home, LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT,
                             SECRET_HOST_TOKEN=SECRET, HOME=str(user_home), LANG="C.UTF-8",
                             PIP_NO_INDEX="1", LABSTACK_BUILD_PASSENV="PIP_NO_INDEX")
    yield started
    started.stop()


def test_a_build_gets_none_of_labstacks_environment_but_its_own_variables(server: LabstackProcess) -> None:
    lab = Lab(server)
    lab.project("env", buildspec({"build": {"commands": [
        'echo "token=$SECRET_HOST_TOKEN"',
        probe("env", f"env | grep -q {SECRET_PATTERN}"),
        'echo "project=$FROM_PROJECT override=$FROM_OVERRIDE spec=$FROM_SPEC lang=$LANG pip=$PIP_NO_INDEX"',
        'echo "build=$CODEBUILD_BUILD_ID"',
        "command -v aws >/dev/null && echo aws-on-path",
    ]}}, env={"variables": {"FROM_SPEC": "s"}}), environment={
        "type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL",
        "environmentVariables": [{"name": "FROM_PROJECT", "value": "p"}]})
    build = lab.run("env", environmentVariablesOverride=[{"name": "FROM_OVERRIDE", "value": "o"}])
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "token=" in lines and "hidden env" in lines
    assert "project=p override=o spec=s lang=C.UTF-8 pip=1" in lines  # and LABSTACK_BUILD_PASSENV lets PIP_NO_INDEX in
    assert f"build={build['id']}" in lines and "aws-on-path" in lines
    assert not any(SECRET in line for line in lines)


def _running_build(lab: Lab, name: str, commands: list[str]) -> dict[str, Any]:
    """Start a build that runs ``commands`` then waits, and return it once the commands are done."""
    lab.project(name, buildspec({"build": {"commands": [*commands, "echo ready", "sleep 60"]}}))
    started = lab.codebuild.start_build(projectName=name)["build"]
    deadline = time.monotonic() + 20
    while True:
        running = lab.codebuild.batch_get_builds(ids=[started["id"]])["builds"][0]
        if running.get("currentPhase") == "BUILD":
            try:
                if "ready" in lab.logs(running):
                    return running
            except lab.client("logs").exceptions.ResourceNotFoundException:
                pass
        assert time.monotonic() < deadline and not running["buildComplete"], running
        time.sleep(0.1)


@needs_bwrap
def test_a_build_cannot_read_labstacks_state_another_account_or_the_users_home(
        server: LabstackProcess, user_home: Path) -> None:
    home = server.settings.home
    other = Lab(server)
    running = _running_build(other, "victim", ["echo secret-of-the-other-account > $CODEBUILD_SRC_DIR/mine.txt"])
    try:
        theirs = home / "builds" / other.account / "us-east-1" / running["id"].split(":")[1] / "src" / "mine.txt"
        assert theirs.read_text().strip() == "secret-of-the-other-account"  # there, on this machine
        assert (home / "labstack.log").stat().st_size > 0
        lab = Lab(server)
        lab.project("probe", buildspec({"build": {"commands": [
            probe("workspace", f"cat {theirs}"),
            probe("account", f"ls {home / 'builds' / other.account} | grep -q us-east-1"),
            probe("log", f"test -s {home / 'labstack.log'}"),
            probe("state", f"ls {home} | grep -q labstack"),  # its pid and log; only the way down to the build stays
            probe("credentials", f"cat {user_home / '.aws' / 'credentials'}"),
            probe("proc", f"cat /proc/*/environ 2>/dev/null | grep -aq {SECRET_PATTERN}"),
            probe("unmounted", f"umount -l {home} 2>/dev/null; test -s {home / 'labstack.log'}"),  # works as root with caps
        ]}}))
        build = lab.run("probe")
    finally:
        other.codebuild.stop_build(id=running["id"])
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    for what in ("workspace", "account", "log", "state", "credentials", "proc", "unmounted"):
        assert f"hidden {what}" in lines, lines
    assert not any(line.startswith("LEAK") or "secret-of-the-other-account" in line or SECRET in line for line in lines)


@needs_bwrap
def test_a_build_writes_only_its_workspace_and_tmp_and_still_reaches_labstack(
        server: LabstackProcess, user_home: Path) -> None:
    home = server.settings.home
    outside = [Path("/etc/labstack-escape"), Path("/var/tmp") / f"labstack-escape-{secrets.token_hex(4)}", home / "escape", home / "builds" / "escape", user_home / "escape",
               Path(sys.prefix) / "escape"]
    lab = Lab(server)
    lab.project("writes", buildspec({"build": {"commands": [
        "touch $CODEBUILD_SRC_DIR/ok /tmp/ok $HOME/ok && echo inside-ok",
        *(probe(f"write {path}", f"touch {path} 2>/dev/null") for path in outside),
        probe("write parent", "touch $CODEBUILD_SRC_DIR/../../escape 2>/dev/null"),
        "aws sts get-caller-identity --query Account --output text",
    ]}}))
    build = lab.run("writes")
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "inside-ok" in lines and lab.account in lines  # the network is shared: labstack answers on loopback
    assert any("runs under bubblewrap" in line for line in lines)
    assert not [line for line in lines if line.startswith("LEAK")]
    assert not any(path.exists() for path in outside)
    assert not list((home / "builds" / lab.account).glob("*/escape"))


@needs_bwrap
def test_a_dockerfile_run_step_in_a_build_is_confined_too(server: LabstackProcess) -> None:
    lab = Lab(server)
    dockerfile = "\n".join([
        "FROM python:3.11",
        "RUN echo run-token=$SECRET_HOST_TOKEN && touch /etc/labstack-run-escape || echo run-read-only",
        "RUN echo hi > made-in-image && python -c 'print(\"python-ok\")'",
    ])
    lab.project("image", buildspec({"build": {"commands": [
        f"cat > Dockerfile <<'EOF'\n{dockerfile}\nEOF", "docker build -t sandboxed:1 ."]}}),
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": True})
    build = lab.run("image", timeout=60)
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "run-token=" in lines and "run-read-only" in lines and "python-ok" in lines
    assert not Path("/etc/labstack-run-escape").exists()


@needs_bwrap
def test_labstack_image_build_runs_each_run_step_under_bubblewrap(tmp_path: Path) -> None:
    """``labstack image build`` run by hand: RUN sees none of the caller's environment, state or home."""
    state, home, context = tmp_path / "state", tmp_path / "user", tmp_path / "context"
    escape = Path("/var/tmp") / f"labstack-run-escape-{secrets.token_hex(4)}"  # writable by anyone on the host
    for folder in (state, home, context):
        folder.mkdir()
    (state / "labstack.log").write_text(SECRET)
    (home / ".netrc").write_text(SECRET)
    (context / "Dockerfile").write_text("\n".join([
        "FROM python:3.11",
        f"RUN echo token=$SECRET_HOST_TOKEN; {probe('state', f'cat {state}/labstack.log')}; "
        f"{probe('home', f'cat {home}/.netrc')}; {probe('write', f'touch {escape}')}",
        "RUN echo built > app.txt",
    ]) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABSTACK_", "AWS_"))}
    env.update(SECRET_HOST_TOKEN=SECRET, HOME=str(home), LABSTACK_HOME=str(state),
               LABSTACK_IMAGE_STORE=str(tmp_path / "store"), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run([sys.executable, "-m", "labstack", "image", "build", "-t", "probe:1", str(context)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    out = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "token=" in out and {"hidden state", "hidden home", "hidden write"} <= set(out), out
    assert SECRET not in done.stdout and not escape.exists()


# -- class mode -----------------------------------------------------------------------


def _learners(folder: Path) -> tuple[Path, list[dict[str, str]]]:
    """A learners file of two learners and the instructor, written by ``labstack learners new``; its rows."""
    path = folder / "learners.csv"
    subprocess.run([sys.executable, "-m", "labstack", "learners", "new", "2", "--out", str(path)],
                   check=True, capture_output=True, timeout=60)
    with path.open(newline="") as handle:
        return path, list(csv.DictReader(handle))


def _client(server: LabstackProcess, service: str, learner: dict[str, str]) -> Any:
    session = boto3.session.Session(aws_access_key_id=learner["access_key_id"],
                                    aws_secret_access_key=learner["secret_access_key"], region_name="us-east-1")
    return session.client(service, endpoint_url=server.endpoint,
                          config=Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5))


def _class_build(server: LabstackProcess, learner: dict[str, str], commands: list[str]) -> tuple[dict, list[str]]:
    codebuild = _client(server, "codebuild", learner)
    inline_project(codebuild, "class", buildspec({"build": {"commands": commands}}), role_arn(learner["account_id"]))
    started = codebuild.start_build(projectName="class")["build"]
    build = wait_build(codebuild, started["id"], timeout=60)
    return build, log_lines(_client(server, "logs", learner), build)


@needs_bwrap
def test_in_class_mode_a_build_cannot_read_the_learners_file(tmp_path: Path) -> None:
    learners, rows = _learners(tmp_path)
    server = start_labstack(tmp_path / "home", LABSTACK_PROVIDERS="", LABSTACK_LEARNERS=str(learners))
    try:
        build, lines = _class_build(server, rows[0], [probe("learners", f"grep -q learner02 {learners}"),
                                                      "python3 -c 'import boto3, pytest; print(\"tools-ok\")'"])
    finally:
        server.stop()
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "hidden learners" in lines and "tools-ok" in lines and not any(rows[1]["secret_access_key"] in line for line in lines)


def test_in_class_mode_without_bubblewrap_a_build_is_refused_and_never_runs(tmp_path: Path) -> None:
    learners, rows = _learners(tmp_path)
    ran = tmp_path / "ran"
    server = start_labstack(tmp_path / "home", LABSTACK_PROVIDERS="", LABSTACK_LEARNERS=str(learners),
                            LABSTACK_BWRAP=str(tmp_path / "no-such-bwrap"))
    try:
        build, lines = _class_build(server, rows[0], [f"touch {ran}"])
    finally:
        server.stop()
    assert build["buildStatus"] == "FAILED"
    provisioning = phases(build)["PROVISIONING"]
    assert provisioning["phaseStatus"] == "FAILED"
    message = provisioning["contexts"][0]["message"]
    assert "only under bubblewrap in class mode" in message and "apt-get install bubblewrap" in message, message
    assert "BUILD" not in phases(build) and not ran.exists()
