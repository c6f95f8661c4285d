"""`labstack localstack up|down|status`: finding a Python for LocalStack, its venv's stamp, the
environment it runs with, and the one-line answers to bad input, with fakes of the machine
(a PATH of fake pythons, an empty pyenv, a port nothing answers on). The last test really
installs (or reuses) the venv and starts LocalStack."""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from labstack.cli import main as labstack_main
from labstack.localstack import LocalStackError, process, python, venv
from labstack.localstack.paths import Paths
from labstack.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def fake_python(folder: Path, name: str, version: str, status: int = 0) -> Path:
    """An executable ``name`` in ``folder`` that answers the version probe as Python ``version`` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho {version.replace('.', ' ')}\nexit {status}\n")
    path.chmod(0o755)
    return path


def machine(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with an empty PATH folder and an empty pyenv: no Python anywhere."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    return {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv"), "HOME": str(tmp_path), **extra}


def test_no_python_313_anywhere_is_one_line_saying_what_to_install(tmp_path: Path) -> None:
    env = machine(tmp_path)
    fake_python(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin", "python3", "3.12.1")
    with pytest.raises(LocalStackError) as raised:
        python.find(env)
    message = str(raised.value)
    assert "\n" not in message and "3.13" in message and "LOCALSTACK_PYTHON" in message


def test_the_newest_suitable_python_is_chosen_and_a_broken_shim_is_passed_over(tmp_path: Path) -> None:
    env = machine(tmp_path)
    fake_python(tmp_path / "bin", "python3.14", "3.14.0", status=127)  # a pyenv shim of an inactive version
    fake_python(tmp_path / "pyenv" / "versions" / "3.11.7" / "bin", "python3", "3.11.7")
    fake_python(tmp_path / "pyenv" / "versions" / "3.13.2" / "bin", "python3", "3.13.2")
    fake_python(tmp_path / "pyenv" / "versions" / "3.13.10" / "bin", "python3", "3.13.10")
    found = python.find(env)
    assert found.version == (3, 13, 10) and found.path.endswith("3.13.10/bin/python3")


def test_python313_on_path_wins_over_pyenv(tmp_path: Path) -> None:
    env = machine(tmp_path)
    on_path = fake_python(tmp_path / "bin", "python3.13", "3.13.1")
    fake_python(tmp_path / "pyenv" / "versions" / "3.14.0" / "bin", "python3", "3.14.0")
    assert python.find(env).path == str(on_path)


@pytest.mark.parametrize(("version", "status", "says"), [("3.11.7", 0, "is Python 3.11.7"), ("3.13.0", 1, "does not run")])
def test_the_wrong_localstack_python_is_named_in_one_line(tmp_path: Path, version: str, status: int, says: str) -> None:
    chosen = fake_python(tmp_path / "elsewhere", "python", version, status)
    env = machine(tmp_path, LOCALSTACK_PYTHON=str(chosen))
    fake_python(tmp_path / "bin", "python3.13", "3.13.0")  # LOCALSTACK_PYTHON is not second-guessed
    with pytest.raises(LocalStackError) as raised:
        python.find(env)
    assert says in str(raised.value) and str(chosen) in str(raised.value) and "\n" not in str(raised.value)


def test_a_suitable_localstack_python_is_taken_as_is(tmp_path: Path) -> None:
    chosen = fake_python(tmp_path / "elsewhere", "python", "3.13.4")
    assert python.find(machine(tmp_path, LOCALSTACK_PYTHON=str(chosen))) == python.Interpreter(str(chosen), (3, 13, 4))


def test_the_stamp_follows_the_pins_and_the_python_but_not_comments(tmp_path: Path) -> None:
    requirements, constraints = tmp_path / "requirements.txt", tmp_path / "constraints.txt"
    requirements.write_text("localstack-core[runtime]==2026.3.0\n-c constraints.txt\n")
    constraints.write_text("# why\ncbor2==5.9.0\n")
    pins = (requirements, constraints)
    first = venv.stamp((3, 13, 0), pins)
    constraints.write_text("# why, said better\ncbor2==5.9.0  # under 6\n")
    assert venv.stamp((3, 13, 0), pins) == first
    assert venv.stamp((3, 13, 1), pins) != first
    constraints.write_text("cbor2==5.8.0\n")
    assert venv.stamp((3, 13, 0), pins) != first


def test_the_shipped_pins_are_exact_and_keep_under_the_releases_caps() -> None:
    lines = [line.split("#")[0].strip() for line in venv.PIN_FILES[1].read_text().splitlines()]
    pins = dict(line.lower().split("==") for line in lines if line)
    assert all(version and "," not in version for version in pins.values())
    caps = {"cbor2": 6, "pyopenssl": 26, "cryptography": 47, "service-identity": 26}
    for name, cap in caps.items():
        assert int(pins[name].split(".")[0]) < cap, name
    assert "localstack-core[runtime]==2026.3.0" in venv.PIN_FILES[0].read_text()


def test_a_venv_is_current_only_with_a_running_python_and_the_same_stamp(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    assert not venv.current(paths)
    fake_python(paths.python.parent, "python", "3.13.0")
    paths.stamp.write_text(venv.stamp((3, 13, 0)) + "\n")
    assert venv.current(paths)
    paths.stamp.write_text(venv.stamp((3, 13, 0)).replace("pins ", "pins 0"))
    assert not venv.current(paths)


def test_a_current_venv_is_reused_without_looking_for_a_python(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    fake_python(paths.python.parent, "python", "3.13.0")
    paths.stamp.write_text(venv.stamp((3, 13, 0)))

    def no_python() -> python.Interpreter:
        raise AssertionError("a current venv needs no interpreter")

    install = venv.ensure(paths, find_python=no_python, say=pytest.fail)
    assert install.reused and install.python == paths.python


def test_a_failed_install_is_one_line_naming_its_log(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    broken = fake_python(tmp_path / "elsewhere", "python3.13", "3.13.0", status=1)
    said: list[str] = []
    with pytest.raises(LocalStackError) as raised:  # the fake cannot make a venv
        venv.ensure(paths, find_python=lambda: python.Interpreter(str(broken), (3, 13, 0)), say=said.append)
    assert len(said) == 1 and said[0].startswith(f"installing LocalStack into {paths.venv} with Python 3.13.0")
    message = str(raised.value)
    assert "could not make a venv" in message and str(paths.install_log) in message and "\n" not in message
    assert not paths.stamp.exists()


def test_localstack_runs_on_loopback_with_hypercorn_no_dns_and_files_under_home(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    env = process.environment(4601, paths, {"PATH": "/bin", "AWS_ENDPOINT_URL": "x", "AWS_ENDPOINT_URL_S3": "y"})
    assert env["GATEWAY_SERVER"] == "hypercorn" and env["GATEWAY_LISTEN"] == "127.0.0.1:4601"
    assert env["DNS_ADDRESS"] == "0" and env["FILESYSTEM_ROOT"] == str(paths.filesystem)
    assert env["OVERRIDE_IN_DOCKER"] == "0" and env["DISABLE_EVENTS"] == "1"
    assert env["LOCALSTACK_HOST"] == "127.0.0.1:4601" and env["SQS_ENDPOINT_STRATEGY"] == "path"
    assert env["PATH"] == "/bin" and not any(key.startswith("AWS_ENDPOINT_URL") for key in env)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = labstack_main(["localstack", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_without_an_install_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LABSTACK_HOME", str(tmp_path))
    code, out, err = run_cli(capsys, "status", "--port", str(free_port()))
    assert code == 3 and out == "" and err.count("\n") == 1 and "labstack localstack up" in err
    assert "not installed" in err


def test_status_with_localstack_down_says_how_to_start_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LABSTACK_HOME", str(tmp_path))
    paths = Paths(tmp_path)
    fake_python(paths.python.parent, "python", "3.13.0")
    paths.stamp.write_text(venv.stamp((3, 13, 0)))
    port = free_port()
    code, out, err = run_cli(capsys, "status", "--port", str(port))
    assert code == 3 and out == "" and err.count("\n") == 1 and f"nothing answers at http://127.0.0.1:{port}" in err


def test_up_without_a_python_is_one_line_and_no_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in machine(tmp_path, LABSTACK_HOME=str(tmp_path / "home")).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCALSTACK_PYTHON", raising=False)
    code, out, err = run_cli(capsys, "up", "--port", str(free_port()))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("labstack localstack: no Python 3.13") and "Traceback" not in err
    assert not (tmp_path / "home" / "localstack-venv").exists()


def test_install_without_a_python_is_one_line_and_a_current_venv_is_reused_without_starting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in machine(tmp_path, LABSTACK_HOME=str(tmp_path / "home")).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCALSTACK_PYTHON", raising=False)
    monkeypatch.delenv("LOCALSTACK_VENV", raising=False)
    code, out, err = run_cli(capsys, "install")
    assert (code, out, err.count("\n")) == (1, "", 1) and err.startswith("labstack localstack: no Python 3.13")
    paths = Paths(tmp_path / "home")
    fake_python(paths.python.parent, "python", "3.13.0")
    paths.stamp.write_text(venv.stamp((3, 13, 0)))
    code, out, err = run_cli(capsys, "install")
    assert (code, err) == (0, "") and out.startswith("LocalStack's venv reused: ")
    assert not paths.pid_file.exists()  # installed, not started


def test_up_on_a_taken_port_names_the_holder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = Paths(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(LocalStackError) as raised:
            process.start(paths, Path(sys.executable), port)
    assert f"port {port} is taken by another program" in str(raised.value) and "--port" in str(raised.value)
    assert not paths.pid_file.exists()


def test_a_process_that_dies_at_start_is_reported_with_its_last_line(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    with pytest.raises(LocalStackError) as raised:  # this Python has no localstack module
        process.start(paths, Path(sys.executable), free_port(), wait=30)
    assert "exited with status 1" in str(raised.value) and "No module named 'localstack'" in str(raised.value)
    assert not paths.pid_file.exists()


def test_down_without_localstack_and_a_stale_pid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LABSTACK_HOME", str(tmp_path))
    Paths(tmp_path).pid_file.write_text(f"{os.getpid()} 4566\n")  # alive, but not LocalStack
    code, out, _err = run_cli(capsys, "down")
    assert code == 0 and out == "LocalStack is not running\n" and not Paths(tmp_path).pid_file.exists()


def test_localstack_venv_places_the_venv_outside_home(tmp_path: Path) -> None:
    assert Paths.from_env(tmp_path, {}).venv == tmp_path / "localstack-venv"
    shared = Paths.from_env(tmp_path, {"LOCALSTACK_VENV": str(tmp_path / "cache" / "venv")})
    assert shared.venv == tmp_path / "cache" / "venv" and shared.python == tmp_path / "cache" / "venv" / "bin" / "python"
    assert shared.log == tmp_path / "localstack.log" and shared.lock == tmp_path / "cache" / "venv.lock"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_up_installs_or_reuses_the_venv_starts_localstack_and_down_stops_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The real thing, with the venv in the kit's own .labstack/ (built once per checkout, and what
    `make lab BACKEND=localstack` uses) and everything else in a home of its own, so a LocalStack
    that `make lab` runs is left alone."""
    try:
        python.find()
    except LocalStackError as exc:
        pytest.skip(f"no Python for LocalStack on this machine: {exc}")
    monkeypatch.setenv("LABSTACK_HOME", str(tmp_path))
    monkeypatch.setenv("LOCALSTACK_VENV", os.environ.get("LOCALSTACK_VENV") or str(ROOT / ".labstack" / "localstack-venv"))
    port = free_port()
    started = time.monotonic()
    code, out, err = run_cli(capsys, "up", "--port", str(port), "--wait", "120")
    with capsys.disabled():
        print(f"\n{out.strip()}\n(up took {time.monotonic() - started:.1f} s in all)")
    assert code == 0, err
    try:
        document = process.health(f"http://127.0.0.1:{port}")
        assert document is not None and document["version"] == "2026.3.0"
        assert {"s3", "sqs", "sns", "iam", "sts", "logs", "events", "ssm", "secretsmanager", "cloudwatch"} <= set(
            document["services"])
        code, out, _err = run_cli(capsys, "status", "--port", str(port))
        assert code == 0 and "LocalStack 2026.3.0 answers" in out
    finally:
        stopping = time.monotonic()
        code, out, _err = run_cli(capsys, "down")
        with capsys.disabled():
            print(f"(down took {time.monotonic() - stopping:.1f} s)")
    assert code == 0 and out.startswith("LocalStack stopped") and f"port {port} is free" in out
    assert process.health(f"http://127.0.0.1:{port}") is None


def test_a_second_up_waits_for_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in machine(tmp_path, LABSTACK_HOME=str(tmp_path / "home")).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCALSTACK_PYTHON", raising=False)
    monkeypatch.delenv("LOCALSTACK_VENV", raising=False)
    paths = Paths(tmp_path / "home")
    paths.home.mkdir()
    codes: list[int] = []
    with open(paths.lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a first `up`, installing
        second = threading.Thread(target=lambda: codes.append(labstack_main(["localstack", "up", "--port", "1"])))
        second.start()
        second.join(0.5)
        assert second.is_alive() and codes == []
    second.join(10)
    assert codes == [1] and "no Python 3.13" in capsys.readouterr().err  # then it goes on (here: no Python)
