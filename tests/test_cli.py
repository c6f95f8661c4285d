"""The labstack command as a learner uses it: up, status, logs, reset, down, and what goes wrong."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from labstack.ports import free_port, port_is_free

from tests.support.server import server_env

pytestmark = pytest.mark.slow


def labstack_cmd(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env(LABSTACK_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "labstack", *args], env=env, capture_output=True, text=True, timeout=90)


def test_up_status_logs_reset_down(tmp_path: Path) -> None:
    port = str(free_port())
    up = labstack_cmd(tmp_path, "up", "--port", port)
    assert up.returncode == 0, up.stderr
    assert f"labstack is running at http://127.0.0.1:{port}" in up.stdout
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in up.stdout
    assert "export AWS_ACCESS_KEY_ID=test" in up.stdout and "AWS_DEFAULT_REGION=us-east-1" in up.stdout

    again = labstack_cmd(tmp_path, "up", "--port", port)
    assert again.returncode == 0 and "already running" in again.stdout

    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket="status-bucket")
    status = labstack_cmd(tmp_path, "status")
    assert status.returncode == 0
    assert f"endpoint   http://127.0.0.1:{port}" in status.stdout
    assert "account 123456789012: 1 resources (s3 1); running: 0 builds, 0 deployments, 0 tasks" in status.stdout

    logs = labstack_cmd(tmp_path, "logs", "-n", "60")
    assert "listening on" in logs.stdout

    reset = labstack_cmd(tmp_path, "reset")
    assert reset.returncode == 0
    assert s3.list_buckets()["Buckets"] == []

    down = labstack_cmd(tmp_path, "down")
    assert down.returncode == 0 and f"port {port} is free" in down.stdout
    assert port_is_free("127.0.0.1", int(port))
    assert not (tmp_path / "labstack.pid").exists()
    assert "not running" in labstack_cmd(tmp_path, "down").stdout
    gone = labstack_cmd(tmp_path, "status", "--port", port)
    assert gone.returncode == 3 and "not running" in gone.stdout


def test_a_port_in_use_is_one_line_naming_port_and_holder(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = labstack_cmd(tmp_path, "up", "--port", str(port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} is already in use, held by pid {os.getpid()}" in lines[0]


def test_a_stale_pid_file_is_cleaned_and_labstack_starts(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    port = free_port()
    (tmp_path / "labstack.pid").write_text(f"{dead.pid}\n{port}\n")
    up = labstack_cmd(tmp_path, "up", "--port", str(port))
    try:
        assert up.returncode == 0, up.stderr
        assert "removed a stale pid file" in up.stdout
        assert (tmp_path / "labstack.pid").read_text().split()[0] != str(dead.pid)
    finally:
        labstack_cmd(tmp_path, "down")


def test_serve_in_the_foreground_reports_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        result = labstack_cmd(tmp_path, "serve", "--port", str(holder.getsockname()[1]))
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1" in result.stderr


def test_a_bad_time_scale_is_refused_clearly(tmp_path: Path) -> None:
    env = server_env(LABSTACK_HOME=str(tmp_path), LABSTACK_TIME_SCALE="fast")
    result = subprocess.run([sys.executable, "-m", "labstack", "serve", "--port", str(free_port())],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "LABSTACK_TIME_SCALE='fast' is not a number" in result.stderr


def test_github_create_makes_a_repository_git_can_clone(tmp_path: Path) -> None:
    port = str(free_port())
    assert labstack_cmd(tmp_path, "up", "--port", port).returncode == 0
    try:
        created = labstack_cmd(tmp_path, "github", "create", "myorg/myrepo", "--port", port)
        assert created.returncode == 0, created.stderr
        url = f"http://127.0.0.1:{port}/github/myorg/myrepo.git"
        assert url in created.stdout
        clone = subprocess.run(["git", "clone", url, str(tmp_path / "clone")], capture_output=True, text=True, timeout=60)
        assert clone.returncode == 0, clone.stderr
        bad = labstack_cmd(tmp_path, "github", "create", "not a repo")
        assert bad.returncode == 2 and "is not a GitHub owner/repository name" in bad.stderr
    finally:
        labstack_cmd(tmp_path, "down")


def test_a_class_from_the_command_line(tmp_path: Path) -> None:
    """labstack learners new, up --learners, then status and reset as a learner and as the instructor
    (the CLI signs its requests with the environment's keys)."""
    from labstack import learners

    made = labstack_cmd(tmp_path, "learners", "new", "2", "--out", str(tmp_path / "class.csv"))
    assert made.returncode == 0, made.stderr
    rows = {row.learner: row for row in learners.read(tmp_path / "class.csv")}
    port = str(free_port())
    up = labstack_cmd(tmp_path, "up", "--port", port, "--learners", str(tmp_path / "class.csv"))
    assert up.returncode == 0, up.stderr
    assert "class mode" in up.stdout and "AWS_ACCESS_KEY_ID=test" not in up.stdout

    def as_(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = server_env(LABSTACK_HOME=str(tmp_path), AWS_ACCESS_KEY_ID=rows[who].access_key_id,
                         AWS_SECRET_ACCESS_KEY=rows[who].secret_access_key)
        return subprocess.run([sys.executable, "-m", "labstack", *args], env=env, capture_output=True, text=True,
                              timeout=90)

    try:
        import boto3

        for who in ("learner01", "learner02"):
            boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                         aws_access_key_id=rows[who].access_key_id,
                         aws_secret_access_key=rows[who].secret_access_key).create_queue(QueueName=f"q-{who}")
        mine = as_("learner01", "status")
        assert f"account {rows['learner01'].account_id}:" in mine.stdout
        assert rows["learner02"].account_id not in mine.stdout
        everyone = as_("instructor", "status")
        assert f"account {rows['learner01'].account_id}:" in everyone.stdout
        assert f"account {rows['learner02'].account_id}:" in everyone.stdout
        refused = as_("learner01", "reset")
        assert refused.returncode == 1 and "InstructorOnly" in refused.stderr
        assert f"account {rows['learner02'].account_id}:" in as_("instructor", "status").stdout  # nothing was reset
        assert as_("instructor", "reset").returncode == 0
        after = as_("instructor", "status").stdout
        assert "sqs" not in after
        # the instructor's way into each learner account is there again, as on a fresh start
        assert f"account {rows['learner01'].account_id}: 1 resources (iam 1)" in after
    finally:
        labstack_cmd(tmp_path, "down")
