"""What a build can reach: real builds on a real labstack probe the server's environment, its state,
other accounts' workspaces, the learners file and the user's home, and try to write outside their own
workspace. Each probe prints LEAK if it succeeds; the protections make them all print hidden."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab, build_role, buildspec, inline_project, log_lines, phases, wait_build
from labstack import daemon
from tests.support.classmode import ClassLabstack, start_class
from tests.support.roles import service_role
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for
from tests.support.webimage import push_web_image

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
def test_a_build_cannot_make_labstack_write_or_read_for_it(server: LabstackProcess) -> None:
    """labstack writes each command into the build's control folder and reads exported variables back
    from it: a link planted there must lead labstack nowhere."""
    home = server.settings.home
    canary = Path("/var/tmp") / f"labstack-canary-{secrets.token_hex(4)}"
    control = "$CODEBUILD_SRC_DIR/../control"
    lab = Lab(server)
    lab.project("planted", buildspec({"build": {"commands": [
        probe("command link", f"ln -s {canary} {control}/command-2.sh 2>/dev/null"),  # the next command's file
        probe("control moved", f"mv {control} {control}-gone 2>/dev/null"),
        "echo later-commands-run",
        "export LEAKED=plain",
        # labstack reads LEAKED back with `printf %s "$LEAKED" > .../variable-LEAKED`: this printf leaves a link there
        f'printf() {{ if [ "$1" = %s ]; then ln -sfn {home / "labstack.log"} {control}/shell/variable-LEAKED; '
        'else builtin printf "$@"; fi; }',

    ]}}, env={"exported-variables": ["LEAKED"]}))
    build = lab.run("planted")
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert {"hidden command link", "hidden control moved", "later-commands-run"} <= set(lines)
    assert not canary.exists()
    assert build["exportedEnvironmentVariables"][0]["value"] in ("", "plain")  # never the log's text


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
def test_a_push_cannot_carry_off_a_file_the_build_links_into_its_image_store(server: LabstackProcess) -> None:
    """labstack pushes from the build's image store: a layer swapped for a link to its log goes nowhere."""
    lab = Lab(server)
    registry = f"{lab.account}.dkr.ecr.us-east-1.amazonaws.com"
    lab.client("ecr").create_repository(repositoryName="stolen")
    log = server.settings.home / "labstack.log"
    lab.project("thief", buildspec({"build": {"commands": [
        "printf 'FROM python:3.11\\nRUN echo layer > layer.txt\\n' > Dockerfile",
        f"docker build -t {registry}/stolen:1 .",
        f"aws ecr get-login-password | docker login --username AWS --password-stdin {registry}",
        # every layer blob (neither the manifest nor the config, which are JSON) becomes a link to labstack's log
        'for blob in $LABSTACK_IMAGE_STORE/blobs/sha256/*; do grep -q -e schemaVersion -e rootfs $blob '
        f'|| ln -sf {log} $blob; done',
        f"docker push {registry}/stolen:1 || echo push-refused",
    ]}}), environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                       "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": True})
    build = lab.run("thief", timeout=60)
    lines = lab.logs(build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "push-refused" in lines and any("through a link, not a blob" in line for line in lines), "\n".join(lines)
    assert lab.client("ecr").describe_images(repositoryName="stolen")["imageDetails"] == []
    head = log.read_bytes()[:60]
    stored = (server.settings.home / "images" / "blobs" / "sha256").glob("*")
    assert not any(head in blob.read_bytes() for blob in stored)


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


# -- ECS tasks and Lambda functions run learner code too -------------------------------
PROBES = """
import glob, os


def run(readable, writable):
    out = ["token=" + os.environ.get("SECRET_HOST_TOKEN", "")]
    for path in readable:
        try:
            open(path).read()
            out.append("LEAK " + path)
        except OSError:
            out.append("hidden " + path)
    for path in writable:
        try:
            open(path, "w").close()
            out.append("LEAK " + path)
        except OSError:
            out.append("hidden " + path)
    seen = []
    for environ in glob.glob("/proc/*/environ"):
        try:
            if ("hunt" + "er2").encode() in open(environ, "rb").read():
                seen.append(environ)
        except OSError:
            pass
    out.append("proc=" + ",".join(seen))
    try:
        open("/tmp/scratch", "w").close()
        out.append("tmp-ok")
    except OSError:
        out.append("tmp-refused")
    return out
"""


def _targets(server: LabstackProcess, user_home: Path) -> tuple[list[str], list[Path]]:
    """What learner code probes: labstack's log and the user's credentials to read, places outside to write."""
    home = server.settings.home
    writable = [home / f"escape-{secrets.token_hex(4)}", Path("/var/tmp") / f"labstack-escape-{secrets.token_hex(4)}"]
    return [str(home / "labstack.log"), str(user_home / ".aws" / "credentials")], writable


def _judge(lines: list[str], readable: list[str], writable: list[Path]) -> None:
    assert "token=" in lines and "proc=" in lines and "tmp-ok" in lines, lines
    assert {f"hidden {path}" for path in [*readable, *map(str, writable)]} <= set(lines), lines
    assert not [line for line in lines if line.startswith("LEAK") or SECRET in line]
    assert not any(path.exists() for path in writable)


@needs_bwrap
def test_a_lambda_function_is_confined_like_a_build(server: LabstackProcess, user_home: Path) -> None:
    account = Lab(server).account
    role = service_role(server.client("iam", account=account), "fn", "lambda.amazonaws.com")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", PROBES + "\n\ndef handler(event, context):\n"
                         "    return run(event['readable'], event['writable'] + [os.environ['LAMBDA_TASK_ROOT'] + '/in-code'])\n")
    lam = server.client("lambda", account=account)
    lam.create_function(FunctionName="probe", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": package.getvalue()}, Timeout=10)
    readable, writable = _targets(server, user_home)
    event = {"readable": readable, "writable": [*map(str, writable)]}
    answer = lam.invoke(FunctionName="probe", Payload=json.dumps(event).encode())
    lines = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, lines
    _judge(lines, readable, writable)
    assert any(line.startswith("hidden ") and line.endswith("/in-code") for line in lines)  # read-only, as /var/task is


@needs_bwrap
def test_an_ecs_task_is_confined_like_a_build(server: LabstackProcess, user_home: Path, tmp_path: Path) -> None:
    account = Lab(server).account
    image = push_web_image(server, account, tmp_path)
    readable, writable = _targets(server, user_home)
    script = PROBES + f"\nprint('\\n'.join(run({readable!r}, {[str(p) for p in writable] + ['in-image']!r})), flush=True)\n"
    ecs, logs = server.client("ecs", account=account), server.client("logs", account=account)
    logs.create_log_group(logGroupName="/ecs/probe")
    ecs.create_cluster(clusterName="labs")
    execution = service_role(server.client("iam", account=account), "probe-execution", "ecs-tasks.amazonaws.com")
    ecs.register_task_definition(family="probe", executionRoleArn=execution, containerDefinitions=[{
        "name": "probe", "image": image, "essential": True, "memory": 256, "command": ["python", "-c", script],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/probe", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "probe"}}}])
    arn = ecs.run_task(cluster="labs", taskDefinition="probe")["tasks"][0]["taskArn"]
    task = wait_for(lambda: next((t for t in ecs.describe_tasks(cluster="labs", tasks=[arn])["tasks"]
                                  if t["lastStatus"] == "STOPPED"), None), seconds=30)
    assert task["containers"][0]["exitCode"] == 0, task
    stream = f"probe/probe/{arn.rsplit('/', 1)[1]}"


    def logged() -> list[str]:  # the task's output reaches its stream in a batch, shortly after it ends
        try:
            events = logs.get_log_events(logGroupName="/ecs/probe", logStreamName=stream, startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:  # the stream is not written yet
            return []
        lines = [e["message"] for e in events]
        return lines if "tmp-ok" in lines or "tmp-refused" in lines else []

    lines = wait_for(logged)
    _judge(lines, readable, writable)
    assert "hidden in-image" in lines  # the image's files are read-only, as with readonlyRootFilesystem


# -- class mode -----------------------------------------------------------------------


def _class_build(server: ClassLabstack, commands: list[str]) -> tuple[dict, list[str]]:
    """Run ``commands`` in a build of learner01's and return it and its log."""
    codebuild = server.client("codebuild", "learner01")
    inline_project(codebuild, "class", buildspec({"build": {"commands": commands}}), build_role(server.client("iam", "learner01")))
    started = codebuild.start_build(projectName="class")["build"]
    build = wait_build(codebuild, started["id"], timeout=60)
    return build, log_lines(server.client("logs", "learner01"), build)


@needs_bwrap
def test_in_class_mode_a_build_cannot_read_the_learners_file(tmp_path: Path) -> None:
    server = start_class(tmp_path, count=2)
    try:
        build, lines = _class_build(server, [probe("learners", f"grep -q learner02 {server.learners_file}"),
                                             "python3 -c 'import boto3, pytest; print(\"tools-ok\")'",
                                             "aws sts get-caller-identity --query Account --output text"])
    finally:
        daemon.stop(server.settings)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    assert "hidden learners" in lines and "tools-ok" in lines and server.account("learner01") in lines
    assert not any(server.rows["learner02"].secret_access_key in line for line in lines)


def test_in_class_mode_without_bubblewrap_builds_and_functions_are_refused(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    server = start_class(tmp_path, count=1, LABSTACK_BWRAP=str(tmp_path / "no-such-bwrap"))
    try:
        build, lines = _class_build(server, [f"touch {ran}"])
        lam = server.client("lambda", "learner01")
        role = service_role(server.client("iam", "learner01"), "fn", "lambda.amazonaws.com")
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("app.py", f"def handler(event, context):\n    open({str(ran)!r}, 'w').close()\n")
        lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": package.getvalue()})
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName="fn", Payload=b"{}")
    finally:
        daemon.stop(server.settings)
    assert build["buildStatus"] == "FAILED"
    provisioning = phases(build)["PROVISIONING"]
    assert provisioning["phaseStatus"] == "FAILED"
    message = provisioning["contexts"][0]["message"]
    assert "only under bubblewrap in class mode" in message and "apt-get install bubblewrap" in message, message
    assert "BUILD" not in phases(build) and any("only under bubblewrap in class mode" in line for line in lines)
    error = refused.value.response["Error"]
    assert error["Code"] == "ServiceException" and "functions only under bubblewrap in class mode" in error["Message"]
    assert not ran.exists()  # neither the build's command nor the function ran
